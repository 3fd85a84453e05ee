//! replica_reads: a read-heavy storefront load on a primary and a streaming replica through
//! `domain::replica::Router`.
//!
//! The replica is found or made the way CI makes it: `BENCH_REPLICA_URL` when set, otherwise
//! `.ci/replica.sh up` (a second Debian cluster on port 5433, streaming from the primary of
//! `BENCH_DATABASE_URL`) and its URL for the bench's database. The replica is left running
//! (`.ci/replica.sh down` removes it). Without Postgres the router has no replica and every
//! read goes to the primary (`replica_share=0.000`).
//!
//! One run: `REPLICA_READS` operations by `CONCURRENCY` tasks on the import's products; each
//! is `products::get` of a random product through `Router::read`, except every
//! `WRITE_EVERY`-th, which renames a product on the primary, takes the write's mark and reads
//! the product back through `Router::read_after` (a read-your-writes cycle: the title read must
//! be the one written, checked). The line adds `replica_share=<statements answered by the
//! replica / all statements of read connections>`.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use domain::Config;
use domain::StoreScope;
use domain::products::{self, ProductPatch};
use domain::replica::{ReplicaConfig, Router};
use uuid::Uuid;

use crate::data::{Rng, share};
use crate::report::{Impl, Report, Timer};
use crate::run::concurrently;
use crate::{BenchResult, Settings, context};

/// Operations of one run.
pub const REPLICA_READS: usize = 20_000;
/// One operation in this many is a write followed by a read with its mark.
pub const WRITE_EVERY: usize = 20;
/// Tasks sharing the router.
pub const CONCURRENCY: usize = 8;

/// The replica's URL: `BENCH_REPLICA_URL`, or the one `.ci/replica.sh` sets up (Postgres only).
///
/// # Errors
/// When the script fails.
pub fn find_replica(settings: &Settings) -> BenchResult<Option<String>> {
    if let Ok(url) = std::env::var("BENCH_REPLICA_URL")
        && !url.trim().is_empty()
    {
        return Ok(Some(url));
    }
    if !settings.postgres {
        return Ok(None);
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.ci/replica.sh");
    let up = Command::new("bash")
        .arg(&script)
        .arg("up")
        .output()
        .map_err(context(".ci/replica.sh up"))?;
    if !up.status.success() {
        return Err(format!(
            ".ci/replica.sh up failed: {}",
            String::from_utf8_lossy(&up.stderr).trim()
        ));
    }
    let database = settings
        .database_url
        .split('?')
        .next()
        .and_then(|base| base.rsplit('/').next())
        .unwrap_or("postgres");
    let url = Command::new("bash")
        .arg(&script)
        .args(["url", database])
        .output()
        .map_err(context(".ci/replica.sh url"))?;
    let url = String::from_utf8_lossy(&url.stdout).trim().to_owned();
    println!("# replica: {url} (made by .ci/replica.sh up; `.ci/replica.sh down` removes it)");
    Ok(Some(url))
}

/// A router on the bench's database and `replica`, waiting (up to 30 s) until the replica is
/// in use.
///
/// # Errors
/// When the primary cannot be reached.
pub async fn router(settings: &Settings, replica: Option<String>) -> BenchResult<Router> {
    let config = Config {
        pool_size: 10,
        ..Config::new(settings.database_url.clone())
    };
    let replicas = ReplicaConfig {
        urls: replica.into_iter().collect(),
        ..ReplicaConfig::default()
    };
    let router = Router::connect(&config, &replicas)
        .await
        .map_err(context("router"))?;
    for _ in 0..300 {
        if router.replicas().iter().all(|r| r.usable) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    if router.replicas().iter().any(|r| !r.usable) {
        println!(
            "# replica_reads: the replica is not in use: {:?}",
            router.replicas()
        );
    }
    Ok(router)
}

/// One run of the workload; prints its line and the stale-read check.
///
/// # Errors
/// The first error of a read or write.
pub async fn run(
    router: &Router,
    scope: StoreScope,
    ids: Arc<Vec<Uuid>>,
    seed: u64,
    report: &mut Report,
) -> BenchResult<()> {
    // The import just wrote a lot: let the replica replay it first, so that the run measures
    // steady reads rather than catching up.
    if let Some(lsn) = router.mark().await.map_err(context("mark"))?.lsn() {
        for _ in 0..300 {
            if router
                .replicas()
                .iter()
                .all(|r| r.usable && r.replay_lsn.is_some_and(|r| r >= lsn))
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    let before = router.stats();
    let timer = Timer::start();
    let stale: usize = concurrently(CONCURRENCY, |task| {
        let (router, ids) = (router.clone(), Arc::clone(&ids));
        async move {
            let mut rng = Rng::new(seed + task as u64);
            let mut stale = 0;
            for n in 0..share(REPLICA_READS, CONCURRENCY, task) {
                let id = ids[rng.below(ids.len())];
                if n % WRITE_EVERY == WRITE_EVERY - 1 {
                    let title = format!("renamed {seed} {task} {n}");
                    let patch = ProductPatch {
                        title: Some(title.clone()),
                        ..ProductPatch::default()
                    };
                    products::update(router.primary(), &scope, id, patch)
                        .await
                        .map_err(context("products::patch"))?;
                    let mark = router.mark().await.map_err(context("mark"))?;
                    let db = router.read_after(Some(&mark)).await;
                    let product = products::get(&db, &scope, id)
                        .await
                        .map_err(context("products::get after the write"))?;
                    if product.title != title {
                        stale += 1;
                    }
                } else {
                    products::get(&router.read(), &scope, id)
                        .await
                        .map_err(context("products::get"))?;
                }
            }
            Ok(stale)
        }
    })
    .await?
    .into_iter()
    .sum();
    let m = timer.measurement("replica_reads", Impl::Domain, REPLICA_READS as u64);
    let after = router.stats();
    let replica = after.replica - before.replica;
    let primary = after.primary - before.primary;
    let share = domain::replica::ReadStats {
        replica,
        primary,
        fallbacks: after.fallbacks - before.fallbacks,
    }
    .replica_share();
    report.record_with(m, &format!(" replica_share={share:.3}"));
    println!(
        "# replica_reads: statements on the replica {replica}, on the primary {primary}, \
         fallbacks {}",
        after.fallbacks - before.fallbacks
    );
    report.check(
        "replica_reads",
        stale == 0,
        &format!(
            "reads after a write with its mark that missed the write: {stale} of {}",
            REPLICA_READS / WRITE_EVERY
        ),
    );
    Ok(())
}
