//! The read router (`domain::replica`) against a real streaming replica on Postgres
//! (`TEST_REPLICA_URL`, made by `.ci/replica.sh up`), and against a plain primary on SQLite and
//! MariaDB, where every read must come from the primary.
//!
//! The replica is one server for the whole test process, and some tests change it (lag, a stop),
//! so the tests that use it take turns (`REPLICA_TURN`).

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use domain::StoreScope;
use domain::replica::{ReadConnection, ReplicaConfig, Router, ServedBy, WriteMark};
use domain::stores::{self, StorePatch};
use sea_orm::{ConnectionTrait, Database};

use super::*;

/// Taken by every test that uses the replica server, for its whole run.
static REPLICA_TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Write-then-read cycles of the read-your-writes test, on every backend.
const CYCLES: usize = 10_000;
/// Tasks that share them (each with its own store, so writes do not wait on each other).
const TASKS: usize = 8;

fn required() -> bool {
    matches!(
        std::env::var("ZYENTA_TEST_REQUIRE_BACKENDS").as_deref(),
        Ok("1" | "true" | "yes")
    )
}

/// The replica's URL for this test's database, or `None` (skip) when `TEST_REPLICA_URL` is
/// not set; with `ZYENTA_TEST_REQUIRE_BACKENDS` a missing replica fails the test.
fn replica_url(t: &TestDb) -> Option<String> {
    let Ok(server) = std::env::var("TEST_REPLICA_URL") else {
        assert!(
            !required(),
            "the replica is required (ZYENTA_TEST_REQUIRE_BACKENDS) but TEST_REPLICA_URL is not set: run .ci/replica.sh up"
        );
        eprintln!("skipped the replica part on Postgres: TEST_REPLICA_URL is not set");
        return None;
    };
    let database = t
        .config
        .database_url
        .rsplit('/')
        .next()
        .and_then(|tail| tail.split('?').next())
        .expect("the test database has a name");
    Some(with_database(&server, database))
}

/// `scheme://server/anything` → `scheme://server/<database>`.
fn with_database(url: &str, database: &str) -> String {
    let base = url.split('?').next().unwrap_or(url);
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let server = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    format!("{server}/{database}")
}

/// What the router is given on a backend without replicas: a "replica" that is not one (a
/// database that does not exist). Were it used, reads would fail.
fn not_a_replica(t: &TestDb) -> String {
    match t.backend {
        Backend::Sqlite => "sqlite:///nonexistent-zyenta-dir/replica.db".to_owned(),
        _ => with_database(&t.config.database_url, "zyenta_replica_absent"),
    }
}

fn replica_config(url: String) -> ReplicaConfig {
    ReplicaConfig {
        urls: vec![url],
        ..ReplicaConfig::default()
    }
}

/// A router for the test: the real replica on Postgres, the "not a replica" elsewhere. On
/// Postgres it waits until the replica is in use (it must first replay the test database's
/// creation).
async fn router_for(t: &TestDb, config: ReplicaConfig) -> Router {
    let router = Router::connect(&t.config, &config).await.expect("router");
    if t.backend == Backend::Postgres {
        wait_until(Duration::from_secs(30), || router.replicas()[0].usable)
            .await
            .expect("the replica comes into use");
    } else {
        assert!(router.replicas().is_empty(), "{:?}", router.replicas());
    }
    router
}

async fn wait_until(limit: Duration, check: impl Fn() -> bool) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if check() {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

/// Waits until the replica (if any) has replayed every write so far.
async fn caught_up(router: &Router) {
    if let Some(lsn) = router.mark().await.expect("mark").lsn() {
        wait_until(Duration::from_secs(30), || {
            router.replicas()[0].replay_lsn.is_some_and(|r| r >= lsn)
        })
        .await
        .expect("the replica catches up");
    }
}

/// Runs `.ci/replica.sh <command>`.
fn replica_script(command: &str) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../.ci/replica.sh");
    let status = Command::new("bash")
        .arg(script)
        .arg(command)
        .status()
        .expect("run .ci/replica.sh");
    assert!(status.success(), ".ci/replica.sh {command}: {status}");
}

/// Sets `recovery_min_apply_delay` on the replica (ALTER SYSTEM + reload), and resets it when
/// dropped, even when the test fails.
struct ApplyDelay {
    admin_url: String,
}

impl ApplyDelay {
    async fn set(replica_url: &str, delay: Duration) -> ApplyDelay {
        let admin_url = with_database(replica_url, "postgres");
        set_apply_delay(&admin_url, delay).await.expect("set delay");
        ApplyDelay { admin_url }
    }
}

async fn set_apply_delay(admin_url: &str, delay: Duration) -> Result<(), sea_orm::DbErr> {
    let admin = Database::connect(admin_url).await?;
    if delay.is_zero() {
        admin
            .execute_unprepared("ALTER SYSTEM RESET recovery_min_apply_delay")
            .await?;
    } else {
        admin
            .execute_unprepared(&format!(
                "ALTER SYSTEM SET recovery_min_apply_delay = '{}ms'",
                delay.as_millis()
            ))
            .await?;
    }
    admin.execute_unprepared("SELECT pg_reload_conf()").await?;
    admin.close().await
}

impl Drop for ApplyDelay {
    fn drop(&mut self) {
        let url = self.admin_url.clone();
        let reset = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(set_apply_delay(&url, Duration::ZERO))
        })
        .join();
        if !matches!(reset, Ok(Ok(()))) {
            eprintln!("could not reset recovery_min_apply_delay: {reset:?}");
        }
    }
}

/// Starts the replica again when dropped, so that a failed outage test leaves it running.
struct RestartOnDrop;

impl Drop for RestartOnDrop {
    fn drop(&mut self) {
        replica_script("start");
    }
}

/// `TASKS` stores with their scopes.
async fn stores_for(t: &TestDb) -> Vec<StoreScope> {
    let mut scopes = Vec::new();
    for _ in 0..TASKS {
        let (owner, store) = user_with_store(&t.db).await;
        scopes.push(
            StoreScope::obtain(&t.db, owner.id, store.id)
                .await
                .expect("scope"),
        );
    }
    scopes
}

async fn rename(router: &Router, scope: &StoreScope, name: &str) {
    stores::update(
        router.primary(),
        scope,
        StorePatch {
            name: Some(name.to_owned()),
            ..StorePatch::default()
        },
    )
    .await
    .expect("write on the primary");
}

async fn name_seen(db: &ReadConnection, scope: &StoreScope) -> String {
    stores::get(db, scope).await.expect("read").name
}

#[derive(Debug, Default)]
struct Cycles {
    stale: usize,
    by_replica: usize,
    by_primary: usize,
}

/// `cycles` write-then-read cycles over the stores, `TASKS` at a time; the read carries the
/// write's mark when `carry_mark`.
async fn write_then_read(
    router: &Router,
    scopes: &[StoreScope],
    cycles: usize,
    carry_mark: bool,
) -> Cycles {
    let mut tasks = tokio::task::JoinSet::new();
    for (task, scope) in scopes.iter().enumerate() {
        let (router, scope) = (router.clone(), *scope);
        let share = cycles / scopes.len() + usize::from(task < cycles % scopes.len());
        tasks.spawn(async move {
            let mut seen = Cycles::default();
            for n in 0..share {
                let name = format!("store {task} write {n}");
                rename(&router, &scope, &name).await;
                let mark = router.mark().await.expect("mark");
                let db = if carry_mark {
                    router.read_after(Some(&mark)).await
                } else {
                    router.read()
                };
                // Before the replica has the store at all, a stale read is "not found".
                match stores::get(&db, &scope).await {
                    Ok(store) if store.name == name => {}
                    Ok(_) | Err(domain::Error::NotFound { .. }) => seen.stale += 1,
                    Err(err) => panic!("read: {err:?}"),
                }
                match db.served_by() {
                    ServedBy::Replica(_) => seen.by_replica += 1,
                    ServedBy::Primary => seen.by_primary += 1,
                }
            }
            seen
        });
    }
    let mut total = Cycles::default();
    while let Some(seen) = tasks.join_next().await {
        let seen = seen.expect("task");
        total.stale += seen.stale;
        total.by_replica += seen.by_replica;
        total.by_primary += seen.by_primary;
    }
    total
}

backend_test!(
    async fn reads_carrying_the_write_mark_are_never_stale_with_500_ms_of_replication_lag(
        t: &TestDb,
    ) {
        let _turn = REPLICA_TURN.lock().await;
        let url = match t.backend {
            Backend::Postgres => match replica_url(t) {
                Some(url) => url,
                None => return,
            },
            _ => not_a_replica(t),
        };
        let router = router_for(t, replica_config(url.clone())).await;
        let scopes = stores_for(t).await;
        caught_up(&router).await;
        let _delay = if t.backend == Backend::Postgres {
            Some(ApplyDelay::set(&url, Duration::from_millis(500)).await)
        } else {
            None
        };

        if t.backend == Backend::Postgres {
            // The lag is real: a read without the mark, right after the write, is stale on the
            // replica (first lagging writes, so the router has measured a lag below max_lag).
            let unmarked = write_then_read(&router, &scopes, 1_000, false).await;
            eprintln!("without the mark: {unmarked:?}");
            assert!(unmarked.by_replica > 0, "{unmarked:?}");
            assert!(unmarked.stale > 0, "the lag was not injected: {unmarked:?}");
            let lag = router.replicas()[0].lag.expect("measured");
            assert!(lag >= Duration::from_millis(300), "lag {lag:?}");
        }

        let started = Instant::now();
        let marked = write_then_read(&router, &scopes, CYCLES, true).await;
        let took = started.elapsed();
        eprintln!(
            "{:?}: {CYCLES} cycles with the mark in {took:?}: {marked:?}",
            t.backend
        );
        assert_eq!(marked.stale, 0, "{marked:?}");
        assert_eq!(marked.by_replica + marked.by_primary, CYCLES);
        if t.backend != Backend::Postgres {
            assert_eq!(marked.by_replica, 0, "{marked:?}");
            assert_eq!(router.stats().replica, 0);
            assert_eq!(router.mark().await.expect("mark"), WriteMark::PRIMARY);
        }
    }
);

backend_test!(
    async fn without_a_mark_and_no_recent_write_reads_go_to_the_replica(t: &TestDb) {
        let _turn = REPLICA_TURN.lock().await;
        let url = match t.backend {
            Backend::Postgres => match replica_url(t) {
                Some(url) => url,
                None => return,
            },
            _ => not_a_replica(t),
        };
        let router = router_for(t, replica_config(url)).await;
        let scopes = stores_for(t).await;
        if t.backend == Backend::Postgres {
            // A replica that is down at start-up is no error: reads go to the primary. Debug
            // output names it without its password.
            let down = Router::connect(
                &t.config,
                &replica_config("postgres://app:s3cret-pw@127.0.0.1:1/none".into()),
            )
            .await
            .expect("a replica that is down is not an error");
            assert!(!down.replicas()[0].usable);
            let db = down.read();
            stores::get(&db, &scopes[0])
                .await
                .expect("read on the primary");
            assert_eq!(db.served_by(), ServedBy::Primary);
            let shown = format!("{down:?} {db:?}");
            assert!(!shown.contains("s3cret-pw"), "{shown}");
            assert!(shown.contains("app:***@127.0.0.1:1"), "{shown}");
        }
        for (i, scope) in scopes.iter().enumerate() {
            rename(&router, scope, &format!("settled {i}")).await;
        }
        // No recent write: wait until the replica has replayed them.
        let mark = router.mark().await.expect("mark");
        if let Some(lsn) = mark.lsn() {
            wait_until(Duration::from_secs(10), || {
                router.replicas()[0].replay_lsn.is_some_and(|r| r >= lsn)
            })
            .await
            .expect("the replica catches up");
        }
        let before = router.stats();
        let reads = 2_000;
        let mut tasks = tokio::task::JoinSet::new();
        for (i, scope) in scopes.iter().enumerate() {
            let (router, scope) = (router.clone(), *scope);
            tasks.spawn(async move {
                for _ in 0..reads / TASKS {
                    assert_eq!(
                        name_seen(&router.read(), &scope).await,
                        format!("settled {i}")
                    );
                }
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.expect("reader");
        }
        let after = router.stats();
        let (replica, primary) = (
            after.replica - before.replica,
            after.primary - before.primary,
        );
        #[expect(clippy::cast_precision_loss, reason = "small counts")]
        let share = replica as f64 / (replica + primary) as f64;
        eprintln!(
            "{:?}: {replica} reads on the replica, {primary} on the primary",
            t.backend
        );
        assert_eq!(replica + primary, reads as u64);
        if t.backend == Backend::Postgres {
            assert!(share >= 0.9, "replica share {share}");
            assert_eq!(after.fallbacks, 0);
        } else {
            assert_eq!(replica, 0);
        }

        // An old mark (the replica is past it) does not keep reads off the replica.
        let db = router.read_after(Some(&mark)).await;
        assert_eq!(name_seen(&db, &scopes[0]).await, "settled 0");
        if t.backend == Backend::Postgres {
            assert_eq!(db.served_by(), ServedBy::Replica(0));
        } else {
            assert_eq!(db.served_by(), ServedBy::Primary);
        }

        // Writes then reads with the mark and no injected lag: never stale, and the replica
        // serves those it has replayed in time (the router waits up to ReplicaConfig::wait).
        let fresh = write_then_read(&router, &scopes, 1_000, true).await;
        eprintln!("{:?}: with the mark, no injected lag: {fresh:?}", t.backend);
        assert_eq!(fresh.stale, 0, "{fresh:?}");
        if t.backend == Backend::Postgres {
            assert!(fresh.by_replica > 0, "{fresh:?}");
        } else {
            assert_eq!(fresh.by_replica, 0, "{fresh:?}");
        }

        // A statement that is wrong everywhere: the caller gets the primary's error, and the
        // replica is not set aside for it.
        let fallbacks = router.stats().fallbacks;
        let wrong = router
            .read()
            .query_one_raw(sea_orm::Statement::from_string(
                t.db_backend(),
                "SELECT no_such_column FROM stores",
            ))
            .await;
        assert!(wrong.is_err(), "{wrong:?}");
        if t.backend == Backend::Postgres {
            assert_eq!(router.stats().fallbacks, fallbacks + 1);
            assert!(router.replicas()[0].usable);
            assert_eq!(router.read().served_by(), ServedBy::Replica(0));
        }

        // A write through a read connection still lands, on the primary.
        let db = router.read();
        stores::update(
            &db,
            &scopes[0],
            StorePatch {
                name: Some("written through a read connection".into()),
                ..StorePatch::default()
            },
        )
        .await
        .expect("the write goes to the primary");
        let fresh = router
            .read_after(Some(&router.mark().await.expect("mark")))
            .await;
        assert_eq!(
            name_seen(&fresh, &scopes[0]).await,
            "written through a read connection"
        );
    }
);

backend_test!(
    async fn a_stopped_replica_sends_reads_to_the_primary_within_a_second_and_they_come_back(
        t: &TestDb,
    ) {
        let _turn = REPLICA_TURN.lock().await;
        let url = match t.backend {
            Backend::Postgres => match replica_url(t) {
                Some(url) => url,
                None => return,
            },
            _ => not_a_replica(t),
        };
        let router = router_for(t, replica_config(url)).await;
        let scopes = stores_for(t).await;
        let mark = router.mark().await.expect("mark");
        if let Some(lsn) = mark.lsn() {
            wait_until(Duration::from_secs(10), || {
                router.replicas()[0].replay_lsn.is_some_and(|r| r >= lsn)
            })
            .await
            .expect("the replica catches up");
        }

        // Readers run through the whole outage; each read records when it ended, how long it
        // took and who answered it. Any error fails the test.
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let origin = Instant::now();
        let mut readers = tokio::task::JoinSet::new();
        for &scope in &scopes {
            let (router, stop) = (router.clone(), Arc::clone(&stop));
            readers.spawn(async move {
                let mut log = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let started = Instant::now();
                    let db = router.read();
                    stores::get(&db, &scope).await.expect("no read fails");
                    log.push((started.elapsed(), origin.elapsed(), db.served_by()));
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                log
            });
        }

        tokio::time::sleep(Duration::from_secs(1)).await;
        let (stopping, stopped, restarting) = if t.backend == Backend::Postgres {
            let restart = RestartOnDrop;
            let stopping = origin.elapsed();
            tokio::task::spawn_blocking(|| replica_script("stop"))
                .await
                .expect("stop");
            let stopped = origin.elapsed();
            tokio::time::sleep(Duration::from_secs(2)).await;
            assert!(!router.replicas()[0].usable);
            let restarting = origin.elapsed();
            tokio::task::spawn_blocking(move || drop(restart))
                .await
                .expect("start");
            let restarted = origin.elapsed();
            let back = wait_until(Duration::from_secs(15), || router.replicas()[0].usable)
                .await
                .expect("the replica comes back into use");
            eprintln!(
                "replica stop began {stopping:?}, done {stopped:?}; restart began {restarting:?}, done {restarted:?}, in use again {back:?} later"
            );
            (stopping, stopped, restarting)
        } else {
            let now = origin.elapsed();
            (now, now, now)
        };
        tokio::time::sleep(Duration::from_secs(2)).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut log = Vec::new();
        while let Some(part) = readers.join_next().await {
            log.extend(part.expect("reader"));
        }
        log.sort_by_key(|(_, ended, _)| *ended);

        let slowest = log.iter().map(|(took, _, _)| *took).max().expect("reads");
        eprintln!("{:?}: {} reads, slowest {slowest:?}", t.backend, log.len());
        assert!(slowest < Duration::from_secs(1), "a read took {slowest:?}");
        if t.backend != Backend::Postgres {
            assert!(log.iter().all(|(_, _, by)| *by == ServedBy::Primary));
            return;
        }
        // Before the stop: the replica. The last read the replica answered before it went
        // down, then the first read on the primary: less than a second apart. From the end of
        // the stop until the restart: every read on the primary, and reads went on (no gap of
        // a second or more).
        let replica_before = log
            .iter()
            .filter(|(_, ended, by)| *ended < stopping && *by != ServedBy::Primary)
            .count();
        assert!(replica_before > 0);
        let last_on_replica = log
            .iter()
            .filter(|(_, ended, by)| *ended < stopped && *by != ServedBy::Primary)
            .map(|(_, ended, _)| *ended)
            .max()
            .expect("reads on the replica");
        let first_on_primary = log
            .iter()
            .find(|(_, ended, by)| *ended > last_on_replica && *by == ServedBy::Primary)
            .map(|(_, ended, _)| *ended)
            .expect("reads went to the primary");
        let switch = first_on_primary - last_on_replica;
        eprintln!(
            "last read on the replica at {last_on_replica:?}, first on the primary {switch:?} later"
        );
        assert!(switch < Duration::from_secs(1), "{switch:?}");
        let during: Vec<_> = log
            .iter()
            .filter(|(_, ended, _)| *ended >= stopped && *ended < restarting)
            .collect();
        assert!(!during.is_empty());
        assert!(during.iter().all(|(_, _, by)| *by == ServedBy::Primary));
        let ends: Vec<Duration> = log
            .iter()
            .filter(|(_, ended, _)| *ended >= stopping)
            .map(|(_, ended, _)| *ended)
            .collect();
        let longest_gap = ends
            .windows(2)
            .map(|w| w[1] - w[0])
            .max()
            .unwrap_or_default();
        assert!(
            longest_gap < Duration::from_secs(1),
            "no read ended for {longest_gap:?}"
        );
        // After the restart, reads are back on the replica.
        let back: Vec<_> = log
            .iter()
            .filter(|(_, ended, _)| *ended > log.last().expect("reads").1 - Duration::from_secs(1))
            .collect();
        let on_replica = back
            .iter()
            .filter(|(_, _, by)| *by != ServedBy::Primary)
            .count();
        assert!(
            on_replica * 10 >= back.len() * 9,
            "{on_replica} of {}",
            back.len()
        );
    }
);

/// Postgres only: the other backends have no replicas to skip.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_lagging_beyond_the_threshold_is_skipped_until_it_catches_up() {
    let Some(t) = TestDb::migrated(Backend::Postgres).await else {
        return;
    };
    let t = &t;
    {
        let _turn = REPLICA_TURN.lock().await;
        let Some(url) = replica_url(t) else {
            return;
        };
        let mut config = replica_config(url.clone());
        config.max_lag = Duration::from_millis(1_000);
        let router = router_for(t, config).await;
        let scopes = stores_for(t).await;
        let delay = ApplyDelay::set(&url, Duration::from_millis(2_500)).await;
        let writing = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let writer = {
            let (router, scope, writing) = (router.clone(), scopes[0], Arc::clone(&writing));
            tokio::spawn(async move {
                let mut n = 0;
                while writing.load(std::sync::atomic::Ordering::Relaxed) {
                    rename(&router, &scope, &format!("write {n}")).await;
                    n += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        };
        wait_until(Duration::from_secs(10), || !router.replicas()[0].usable)
            .await
            .expect("the lagging replica is skipped");
        let lagging = router.replicas()[0].clone();
        assert!(
            lagging.lag.expect("measured") > Duration::from_millis(1_000),
            "{lagging:?}"
        );
        let db = router.read();
        stores::get(&db, &scopes[1]).await.expect("read");
        assert_eq!(db.served_by(), ServedBy::Primary);

        drop(delay);
        wait_until(Duration::from_secs(10), || router.replicas()[0].usable)
            .await
            .expect("the replica is used again once it caught up");
        let db = router.read();
        stores::get(&db, &scopes[1]).await.expect("read");
        assert_eq!(db.served_by(), ServedBy::Replica(0));
        writing.store(false, std::sync::atomic::Ordering::Relaxed);
        writer.await.expect("writer");
    }
}
