//! `cargo bench -p bench --bench workloads`: the workloads of `bench/README.md` through
//! `domain` and, on Postgres, the sqlx baseline and the pgbench floor; `BENCH_SCALE=1` for the
//! scale mode.
//! `bench/README.md` lists the variables and the figures.

use std::process::ExitCode;
use std::sync::Arc;

use bench::report::peak_rss_mb;
use bench::workloads::{self, GETS, IMPORT_BATCH, IMPORT_PRODUCTS, JOBS, PAGES, USERS};
use bench::{
    BenchResult, Report, Settings, baseline, context, data, floor, pipeline, replica_reads, scale,
};
use domain::StoreScope;
use domain::agent_jobs::JobOwner;
use domain::replica::Router;
use domain::users::{Argon2Params, PasswordHasher};
use domain::{Config, DatabaseConnection};
use migration::{Migrator, MigratorTrait};
use sea_orm::ConnectionTrait;
use sea_orm::sqlx::postgres::PgPool;

#[tokio::main]
async fn main() -> ExitCode {
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("bench: {err}");
            return ExitCode::FAILURE;
        }
    };
    let mut report = Report::default();
    let outcome = run(&settings, &mut report).await;
    if let Some(path) = &settings.temp_file {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
    if let Some(mb) = peak_rss_mb() {
        println!("peak_rss_mb={mb:.1}");
    }
    match outcome {
        Err(err) => {
            eprintln!("bench: {err}");
            ExitCode::FAILURE
        }
        Ok(()) if report.failed_checks() > 0 => {
            eprintln!(
                "bench: {} correctness check(s) failed",
                report.failed_checks()
            );
            ExitCode::FAILURE
        }
        Ok(()) => ExitCode::SUCCESS,
    }
}

async fn run(settings: &Settings, report: &mut Report) -> BenchResult<()> {
    println!(
        "# database: {}; runs: {}; mode: {}",
        settings.shown_url(),
        settings.runs,
        if settings.scale { "scale" } else { "workloads" }
    );
    let db = connect(settings).await?;
    let pool = if settings.postgres {
        Some(baseline::pool(&settings.database_url).await?)
    } else {
        println!(
            "# sqlx baseline and pgbench floor skipped: they need a Postgres BENCH_DATABASE_URL"
        );
        None
    };
    if settings.scale {
        fresh(&db).await?;
        return scale::run(settings, &db, pool.as_ref(), report).await;
    }
    let pgbench = if settings.postgres {
        let found = floor::find_pgbench(settings.pgbench.as_deref());
        if found.is_none() {
            println!(
                "# pgbench_floor: pgbench is MISSING, the floor is not measured; install it \
                 (Debian/Ubuntu: apt-get install -y postgresql-contrib) or set BENCH_PGBENCH"
            );
        }
        found
    } else {
        None
    };
    let hasher = PasswordHasher::new(Argon2Params::OWASP).map_err(context("hasher"))?;
    let router = if settings.wants("replica_reads") {
        let replica = replica_reads::find_replica(settings)?;
        Some(replica_reads::router(settings, replica).await?)
    } else {
        None
    };
    for run in 0..settings.runs {
        println!("# run {} of {}", run + 1, settings.runs);
        fresh(&db).await?;
        suite(
            settings,
            &db,
            pool.as_ref(),
            pgbench.as_deref(),
            &hasher,
            router.as_ref(),
            run,
            report,
        )
        .await?;
    }
    report.print_summary(settings.runs);
    Ok(())
}

async fn connect(settings: &Settings) -> BenchResult<DatabaseConnection> {
    let config = Config {
        pool_size: 10,
        ..Config::new(settings.database_url.clone())
    };
    domain::connect(&config).await.map_err(context("connect"))
}

/// Wipes the database and migrates it from zero.
async fn fresh(db: &DatabaseConnection) -> BenchResult<()> {
    Migrator::fresh(db).await.map_err(context("migrate fresh"))
}

/// Brings the planner's statistics up to date after bulk writes (Postgres).
async fn analyze(db: &DatabaseConnection, postgres: bool) -> BenchResult<()> {
    if postgres {
        db.execute_unprepared("VACUUM ANALYZE")
            .await
            .map_err(context("vacuum analyze"))?;
    }
    Ok(())
}

/// Empties the queue between the job_queue runs, so that each starts alike.
async fn clear_jobs(db: &DatabaseConnection, postgres: bool) -> BenchResult<()> {
    db.execute_unprepared("DELETE FROM agent_jobs")
        .await
        .map_err(context("clear jobs"))?;
    if postgres {
        db.execute_unprepared("VACUUM ANALYZE agent_jobs")
            .await
            .map_err(context("vacuum jobs"))?;
    }
    Ok(())
}

#[expect(
    clippy::too_many_arguments,
    reason = "the suite's shared state, passed as it is built"
)]
async fn suite(
    settings: &Settings,
    db: &DatabaseConnection,
    pool: Option<&PgPool>,
    pgbench: Option<&std::path::Path>,
    hasher: &PasswordHasher,
    router: Option<&Router>,
    run: usize,
    report: &mut Report,
) -> BenchResult<()> {
    let seed = 42 + run as u64 * 1_000;
    let wants = |w: &str| settings.wants(w);

    // seed_users (when not timed, only the four owners the other workloads need)
    let users = if wants("seed_users") { USERS } else { 4 };
    let (m, owners) = workloads::seed_users(db, hasher, run, users).await?;
    if wants("seed_users") {
        report.record(m);
    }
    let scope = |i: usize| {
        let (owner, store) = owners[i];
        StoreScope::obtain(db, owner, store)
    };
    let import_scope = scope(0).await.map_err(context("scope"))?;

    // import_products: the domain into one store, the baseline into another.
    let batches = data::import_batches("import", IMPORT_PRODUCTS, IMPORT_BATCH);
    let baseline_batches = pool
        .filter(|_| wants("import_products"))
        .map(|_| batches.clone());
    let (m, ids) = workloads::import_products(db, &import_scope, batches).await?;
    if wants("import_products") {
        report.record(m);
    }
    if let (Some(pool), Some(batches)) = (pool, baseline_batches) {
        let (m, _) = baseline::import_products(pool, owners[1].1, &batches).await?;
        report.record(m);
    }
    analyze(db, settings.postgres).await?;

    // get_product_by_id and list_products_page, on the domain's import; a short warm-up of
    // each implementation first.
    let ids = Arc::new(ids);
    if wants("get_product_by_id") {
        workloads::get_product_by_id(db, import_scope, Arc::clone(&ids), GETS / 10, 3, 1).await?;
        if let Some(pool) = pool {
            let store = import_scope.store_id();
            baseline::get_product_by_id(pool, store, Arc::clone(&ids), GETS / 10, 3, 1).await?;
        }
        let (m, wrong) =
            workloads::get_product_by_id(db, import_scope, Arc::clone(&ids), GETS, 3, seed).await?;
        report.record(m);
        let mut wrong_sqlx = 0;
        if let Some(pool) = pool {
            let (m, wrong) = baseline::get_product_by_id(
                pool,
                import_scope.store_id(),
                Arc::clone(&ids),
                GETS,
                3,
                seed,
            )
            .await?;
            report.record(m);
            wrong_sqlx = wrong;
        }
        report.check(
            "get_product_by_id",
            wrong == 0 && wrong_sqlx == 0,
            &format!(
                "products fetched without their 3 variants and 2 images: domain {wrong}, \
                 sqlx {wrong_sqlx}"
            ),
        );
    }
    if wants("list_products_page") {
        workloads::list_products_page(db, import_scope, PAGES / 10).await?;
        if let Some(pool) = pool {
            baseline::list_products_page(pool, import_scope.store_id(), PAGES / 10).await?;
        }
        let (m, rows) = workloads::list_products_page(db, import_scope, PAGES).await?;
        report.record(m);
        let mut rows_sqlx = rows;
        if let Some(pool) = pool {
            let (m, rows) =
                baseline::list_products_page(pool, import_scope.store_id(), PAGES).await?;
            report.record(m);
            rows_sqlx = rows;
        }
        report.check(
            "list_products_page",
            rows == rows_sqlx && rows > 0,
            &format!("rows read: domain {rows}, sqlx {rows_sqlx}"),
        );
    }

    // replica_reads: reads on the replica, writes with their marks on the primary.
    if let Some(router) = router {
        replica_reads::run(router, import_scope, Arc::clone(&ids), seed, report).await?;
    }

    // decrement_stock
    if wants("decrement_stock") {
        let stock_scope = scope(2).await.map_err(context("scope"))?;
        let m = workloads::decrement_stock(db, stock_scope, report, seed).await?;
        report.record(m);
    }

    // job_queue, then the floor of the same statements.
    if wants("job_queue") {
        let jobs_scope = scope(3).await.map_err(context("scope"))?;
        clear_jobs(db, settings.postgres).await?;
        let m = workloads::job_queue(db, JobOwner::from(jobs_scope), JOBS, report).await?;
        report.record(m);
        if let Some(pool) = pool {
            clear_jobs(db, true).await?;
            let m = baseline::job_queue(pool, Some(jobs_scope.store_id()), JOBS, report).await?;
            report.record(m);
            if let Some(pgbench) = pgbench {
                clear_jobs(db, true).await?;
                let per_client = (JOBS as u64) / u64::from(floor::CLIENTS);
                // A few more jobs than transactions: a claim that finds nothing would stop
                // pgbench.
                baseline::enqueue(pool, Some(jobs_scope.store_id()), JOBS + 100).await?;
                db.execute_unprepared("ANALYZE agent_jobs")
                    .await
                    .map_err(context("analyze"))?;
                match floor::run(pgbench, &settings.database_url, per_client) {
                    Ok(f) => report.floor(f.tps, floor::CLIENTS, f.transactions, f.seconds),
                    Err(err) => println!("# pgbench_floor: not measured: {err}"),
                }
            }
        }
    }

    // The pipeline's queue workloads, beside job_queue (bench/README.md).
    if wants("job_queue_features") {
        let jobs_scope = scope(3).await.map_err(context("scope"))?;
        clear_jobs(db, settings.postgres).await?;
        let m = pipeline::job_queue_features(db, jobs_scope, JOBS, report).await?;
        report.record(m);
    }
    if wants("job_queue_batched") {
        let jobs_scope = scope(3).await.map_err(context("scope"))?;
        clear_jobs(db, settings.postgres).await?;
        let m = pipeline::job_queue_batched(db, jobs_scope, JOBS, report).await?;
        report.record(m);
    }
    if wants("job_queue_capped") {
        let mut scopes = Vec::new();
        for i in 0..4 {
            scopes.push(scope(i).await.map_err(context("scope"))?);
        }
        clear_jobs(db, settings.postgres).await?;
        let m = pipeline::job_queue_capped(db, &scopes, JOBS, report).await?;
        report.record(m);
    }
    Ok(())
}
