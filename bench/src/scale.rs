//! The scale mode (`BENCH_SCALE=1`): the reads (get by id, list page, claim next job) at a
//! small and a large catalogue, the ratio of their time per operation, and the Postgres plans
//! of the list-page and claim queries at the large one.

use std::sync::Arc;
use std::time::Instant;

use domain::DatabaseConnection;
use domain::StoreScope;
use domain::agent_jobs::{self, JobOwner};
use domain::paging::PageRequest;
use domain::users::{self, Email, PasswordHasher};
use entity::{agent_jobs as jobs_table, products as products_table};
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType};
use sea_orm::sqlx::postgres::PgPool;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, Statement, TransactionTrait,
};
use uuid::Uuid;

use migration::{Migrator, MigratorTrait};
use seed::bulk::BulkOptions;

use crate::report::{Measurement, Report, median};
use crate::settings::Settings;
use crate::workloads::{GETS, JOBS, PAGE_SIZE, PAGES};
use crate::{BenchResult, baseline, context, workloads};

/// Stores the catalogue is spread over; the reads go to the first one.
pub const STORES: u64 = 10;
/// The seed of the bulk data.
const RNG_SEED: u64 = 7;

/// One volume's medians, by workload and implementation.
type Figures = Vec<Measurement>;

/// Runs the scale mode: for each volume, wipe, generate the catalogue with the seed crate's
/// bulk generator (through `domain`, batched), add the job history, measure.
///
/// # Errors
/// The first error that stops it.
pub async fn run(
    settings: &Settings,
    db: &DatabaseConnection,
    pool: Option<&PgPool>,
    report: &mut Report,
) -> BenchResult<()> {
    let hasher = PasswordHasher::new(users::Argon2Params::OWASP).map_err(context("hasher"))?;
    let mut results: Vec<(u64, Figures)> = Vec::new();
    let mut scope = None;
    for volume in [settings.scale_small, settings.scale_large] {
        Migrator::fresh(db)
            .await
            .map_err(context("migrate fresh"))?;
        let started = Instant::now();
        let options = BulkOptions {
            stores: u32::try_from(STORES).unwrap_or(10),
            products_per_store: u32::try_from(volume / STORES).unwrap_or(u32::MAX),
            rng_seed: RNG_SEED,
            batch_size: seed::bulk::DEFAULT_BATCH_SIZE,
        };
        let generated = seed::bulk::generate(db, &options, &hasher, |_| {})
            .await
            .map_err(context("seed::bulk::generate"))?;
        clear_pending(db, settings.postgres).await?;
        history(db, settings.postgres, volume).await?;
        println!(
            "# scale: {} products in {} stores ({} per store) by seed::bulk, {volume} finished \
             jobs of history; generated in {:.1} s",
            generated.products,
            generated.stores_created,
            options.products_per_store,
            started.elapsed().as_secs_f64()
        );
        let read = read_scope(db).await?;
        let figures = measure(settings, db, pool, read, volume, report).await?;
        results.push((volume, figures));
        scope = Some(read);
    }
    if let [(small, low), (large, high)] = results.as_slice() {
        for m in low {
            if let Some(h) = high
                .iter()
                .find(|h| h.workload == m.workload && h.imp == m.imp)
            {
                println!(
                    "scale_ratio workload={} impl={} small={small} large={large} \
                     us_per_op_small={:.1} us_per_op_large={:.1} ratio={:.2}",
                    m.workload,
                    m.imp,
                    m.micros_per_op(),
                    h.micros_per_op(),
                    h.micros_per_op() / m.micros_per_op().max(f64::MIN_POSITIVE)
                );
            }
        }
    }
    match (settings.postgres, scope) {
        (true, Some(scope)) => plans(db, scope).await?,
        _ => println!("# query plans: Postgres only (BENCH_DATABASE_URL is not Postgres)"),
    }
    Ok(())
}

/// The scope of the first bulk store, whose products the reads use.
async fn read_scope(db: &DatabaseConnection) -> BenchResult<StoreScope> {
    let email =
        Email::parse(&format!("bulk-{RNG_SEED}-0@example.com")).map_err(context("email"))?;
    let owner = users::find_by_email(db, &email)
        .await
        .map_err(context("bulk owner"))?
        .ok_or("the first bulk owner is missing")?;
    let store = domain::stores::list_for_owner(db, owner.id, PageRequest::first(1))
        .await
        .map_err(context("bulk store"))?
        .items
        .into_iter()
        .next()
        .ok_or("the first bulk store is missing")?;
    StoreScope::obtain(db, owner.id, store.id)
        .await
        .map_err(context("scope"))
}

/// Brings the job history to `volume` finished (COMPLETED) jobs, as a platform that has run
/// one agent job per product would have; written with one SQL statement (setup, not
/// measured). Postgres only.
async fn history(db: &DatabaseConnection, postgres: bool, volume: u64) -> BenchResult<()> {
    if !postgres {
        return Ok(());
    }
    let have = jobs_table::Entity::find()
        .filter(jobs_table::Column::Status.eq(agent_jobs::JobStatus::Completed))
        .count(db)
        .await
        .map_err(context("count jobs"))?;
    let missing = volume.saturating_sub(have);
    db.execute_unprepared(&format!(
        "INSERT INTO agent_jobs (id, store_id, type, status, priority, input, output, progress, \
         created_at, updated_at, attempts, max_attempts, run_at, started_at, completed_at) \
         SELECT gen_random_uuid(), NULL, 'PRODUCT_SCOUT', 'COMPLETED', 0, \
         '{{\"provider\":\"ALIEXPRESS\",\"query\":\"history\",\"limit\":20}}', \
         '{{\"products\":[]}}', 100, now() - interval '1 day', now() - interval '1 day', 1, 3, \
         now() - interval '1 day', now() - interval '1 day', now() - interval '1 day' \
         FROM generate_series(1, {missing}) WHERE {missing} > 0"
    ))
    .await
    .map_err(context("job history"))?;
    db.execute_unprepared("VACUUM ANALYZE")
        .await
        .map_err(context("vacuum"))?;
    // Generating writes gigabytes of WAL; without a checkpoint now, one would run during the
    // measurements and slow every commit's flush. (Needs a superuser; skipped otherwise.)
    if let Err(err) = db.execute_unprepared("CHECKPOINT").await {
        println!("# checkpoint skipped: {err}");
    }
    Ok(())
}

/// The reads at the current volume, `settings.runs` times each; returns the medians.
async fn measure(
    settings: &Settings,
    db: &DatabaseConnection,
    pool: Option<&PgPool>,
    scope: StoreScope,
    volume: u64,
    report: &mut Report,
) -> BenchResult<Figures> {
    let ids: Arc<Vec<Uuid>> = Arc::new(
        products_table::Entity::find()
            .select_only()
            .column(products_table::Column::Id)
            .filter(products_table::Column::StoreId.eq(scope.store_id()))
            .into_tuple()
            .all(db)
            .await
            .map_err(context("product ids"))?,
    );
    let mut all: Vec<Measurement> = Vec::new();
    let label = |m: Measurement| Measurement {
        workload: match m.workload {
            "job_queue" => "claim_next_job",
            w => w,
        },
        ..m
    };
    // Warm-up, not measured: the same reads, fewer of them.
    workloads::get_product_by_id(db, scope, Arc::clone(&ids), GETS / 10, 3, 7).await?;
    workloads::list_products_page(db, scope, PAGES / 10).await?;
    for run in 0..settings.runs {
        let seed = 1_000 + run as u64;
        let (m, wrong) =
            workloads::get_product_by_id(db, scope, Arc::clone(&ids), GETS, 3, seed).await?;
        println!("{m} volume={volume}");
        all.push(m);
        if let Some(pool) = pool {
            let (m, wrong_sqlx) = baseline::get_product_by_id(
                pool,
                scope.store_id(),
                Arc::clone(&ids),
                GETS,
                3,
                seed,
            )
            .await?;
            println!("{m} volume={volume}");
            all.push(m);
            if wrong + wrong_sqlx > 0 {
                report.check(
                    "scale reads",
                    false,
                    "a product lacked its variants or images",
                );
            }
        }
        let (m, _) = workloads::list_products_page(db, scope, PAGES).await?;
        println!("{m} volume={volume}");
        all.push(m);
        if let Some(pool) = pool {
            let (m, _) = baseline::list_products_page(pool, scope.store_id(), PAGES).await?;
            println!("{m} volume={volume}");
            all.push(m);
        }
        let m = label(workloads::job_queue(db, JobOwner::from(scope), JOBS, report).await?);
        println!("{m} volume={volume}");
        all.push(m);
        clear_pending(db, settings.postgres).await?;
        if let Some(pool) = pool {
            let m = label(baseline::job_queue(pool, Some(scope.store_id()), JOBS, report).await?);
            println!("{m} volume={volume}");
            all.push(m);
            clear_pending(db, settings.postgres).await?;
        }
    }
    let mut medians: Figures = Vec::new();
    for m in &all {
        if medians
            .iter()
            .any(|x| x.workload == m.workload && x.imp == m.imp)
        {
            continue;
        }
        let seconds: Vec<f64> = all
            .iter()
            .filter(|x| x.workload == m.workload && x.imp == m.imp)
            .map(|x| x.seconds)
            .collect();
        let med = Measurement {
            seconds: median(&seconds),
            ..m.clone()
        };
        println!("{med} volume={volume} median_of={}", seconds.len());
        medians.push(med);
    }
    Ok(medians)
}

/// Removes the jobs the queue workloads ran (the store's), keeping the history, and vacuums.
async fn clear_pending(db: &DatabaseConnection, postgres: bool) -> BenchResult<()> {
    jobs_table::Entity::delete_many()
        .filter(jobs_table::Column::StoreId.is_not_null())
        .exec(db)
        .await
        .map_err(context("clear jobs"))?;
    if postgres {
        db.execute_unprepared("VACUUM ANALYZE agent_jobs")
            .await
            .map_err(context("vacuum"))?;
    }
    Ok(())
}

/// Prints `EXPLAIN (ANALYZE, BUFFERS)` of the domain's list-page query (a page in the middle
/// of the store) and of its claim (inside a transaction that is rolled back), with 20,000
/// PENDING jobs in the queue.
async fn plans(db: &DatabaseConnection, scope: StoreScope) -> BenchResult<()> {
    let middle: Option<Uuid> = products_table::Entity::find()
        .select_only()
        .column(products_table::Column::Id)
        .filter(products_table::Column::StoreId.eq(scope.store_id()))
        .filter(products_table::Column::Status.eq(domain::products::ProductStatus::Active))
        .order_by_desc(products_table::Column::Id)
        .offset(2_000)
        .limit(1)
        .into_tuple()
        .one(db)
        .await
        .map_err(context("middle cursor"))?;
    // The statement `domain::products::list` builds for a page of ACTIVE products: the first
    // page, and one in the middle of the store.
    let list = products_table::Entity::find()
        .filter(products_table::Column::StoreId.eq(scope.store_id()))
        .filter(products_table::Column::DeletedAt.is_null())
        .order_by_desc(products_table::Column::Id)
        .limit(PAGE_SIZE + 1)
        .filter(products_table::Column::Status.eq(domain::products::ProductStatus::Active));
    let first = list.clone().build(DbBackend::Postgres).to_string();
    explain(db, "list_products_page first", &first).await?;
    if let Some(after) = middle {
        let page = list
            .filter(products_table::Column::Id.lt(after))
            .build(DbBackend::Postgres)
            .to_string();
        explain(db, "list_products_page middle", &page).await?;
    }

    agent_jobs::create_many(
        db,
        JobOwner::from(scope),
        (0..JOBS).map(|i| agent_jobs::NewJob::new(workloads::job_input(i))),
    )
    .await
    .map_err(context("enqueue for the plan"))?;
    db.execute_unprepared("ANALYZE agent_jobs")
        .await
        .map_err(context("analyze"))?;
    // The statement `domain::agent_jobs::Worker::claim` runs on Postgres.
    let now = chrono::Utc::now().fixed_offset();
    let next = jobs_table::Entity::find()
        .filter(jobs_table::Column::Status.eq(agent_jobs::JobStatus::Pending))
        .filter(jobs_table::Column::RunAt.lte(now))
        .order_by_desc(jobs_table::Column::Priority)
        .order_by_asc(jobs_table::Column::RunAt)
        .order_by_asc(jobs_table::Column::Id)
        .limit(1)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .select_only()
        .column(jobs_table::Column::Id)
        .into_query();
    let claim = jobs_table::Entity::update_many()
        .set(jobs_table::ActiveModel {
            status: Set(agent_jobs::JobStatus::Processing),
            locked_by: Set(Some("explain".into())),
            started_at: Set(Some(now)),
            heartbeat_at: Set(Some(now)),
            progress: Set(0),
            current_step: Set(None),
            updated_at: Set(now),
            ..Default::default()
        })
        .col_expr(
            jobs_table::Column::Attempts,
            Expr::col(jobs_table::Column::Attempts).add(1),
        )
        .filter(
            Expr::col((jobs_table::Entity, jobs_table::Column::Id))
                .eq(Expr::SubQuery(None, Box::new(next.into()))),
        )
        .filter(jobs_table::Column::Status.eq(agent_jobs::JobStatus::Pending))
        .build(DbBackend::Postgres)
        .to_string();
    explain(db, "claim_next_job", &claim).await?;
    clear_pending(db, true).await
}

/// Prints the plan of `sql`, run for real inside a transaction that is rolled back.
async fn explain(db: &DatabaseConnection, name: &str, sql: &str) -> BenchResult<()> {
    println!("plan {name}: {sql}");
    let txn = db.begin().await.map_err(context("begin"))?;
    let rows = txn
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("EXPLAIN (ANALYZE, BUFFERS) {sql}"),
        ))
        .await
        .map_err(context("explain"))?;
    for row in rows {
        let line: String = row.try_get("", "QUERY PLAN").map_err(context("plan row"))?;
        println!("plan {name}: {line}");
    }
    txn.rollback().await.map_err(context("rollback"))?;
    Ok(())
}
