//! The scale mode (`BENCH_SCALE=1`): the reads (get by id, list page, claim next job) at a
//! small and a large catalogue, the ratio of their time per operation, and the Postgres plans
//! of the list-page and claim queries at the large one.

use std::sync::Arc;
use std::time::Instant;

use domain::DatabaseConnection;
use domain::agent_jobs::{self, JobOwner};
use domain::stores::StoreScope;
use domain::users::{self, Email, NewUser, Password, PasswordHasher};
use entity::{agent_jobs as jobs_table, products as products_table};
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType};
use sea_orm::sqlx::postgres::PgPool;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, Statement, TransactionTrait,
};
use uuid::Uuid;

use crate::report::{Measurement, Report, median};
use crate::run::concurrently;
use crate::settings::Settings;
use crate::workloads::{GETS, JOBS, PAGE_SIZE, PAGES};
use crate::{BenchResult, baseline, context, workloads};

/// Stores the catalogue is spread over; the reads go to the first one.
pub const STORES: u64 = 10;
/// Products per `create_many` call while generating.
const GENERATE_BATCH: usize = 500;

/// One volume's medians, by workload and implementation.
type Figures = Vec<Measurement>;

/// Runs the scale mode.
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
    let owner = users::register(
        db,
        &hasher,
        NewUser {
            email: Email::parse("scale-owner@bench.example.com").map_err(context("email"))?,
            password: Password::parse("correct horse battery staple")
                .map_err(context("password"))?,
            name: None,
            image: None,
        },
    )
    .await
    .map_err(context("register"))?
    .id;
    let mut stores = Vec::new();
    for s in 0..STORES {
        let store = domain::stores::create(
            db,
            owner,
            domain::stores::NewStore {
                name: format!("Scale store {s}"),
                niche: "Everything".into(),
                ..Default::default()
            },
        )
        .await
        .map_err(context("create store"))?;
        stores.push(
            StoreScope::obtain(db, owner, store.id)
                .await
                .map_err(context("scope"))?,
        );
    }
    let mut results: Vec<(u64, Figures)> = Vec::new();
    let mut have = 0u64;
    for volume in [settings.scale_small, settings.scale_large] {
        let started = Instant::now();
        generate(db, &stores, have / STORES, volume / STORES).await?;
        history(db, settings.postgres, volume).await?;
        have = volume;
        println!(
            "# scale: {volume} products in {STORES} stores ({} per store), {volume} finished jobs \
             of history; generated in {:.1} s",
            volume / STORES,
            started.elapsed().as_secs_f64()
        );
        let figures = measure(settings, db, pool, stores[0], volume, report).await?;
        results.push((volume, figures));
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
    if settings.postgres {
        plans(db, stores[0]).await?;
    } else {
        println!("# query plans: Postgres only (BENCH_DATABASE_URL is not Postgres)");
    }
    Ok(())
}

/// Grows each store from `from` to `to` products (3 variants, 2 images, every other one
/// ACTIVE) through `domain::products::create_many`, two batches at a time.
async fn generate(
    db: &DatabaseConnection,
    stores: &[StoreScope],
    from: u64,
    to: u64,
) -> BenchResult<()> {
    let mut work: Vec<(usize, usize, usize)> = Vec::new();
    for (s, _) in stores.iter().enumerate() {
        let mut start = usize::try_from(from).unwrap_or(0);
        let end = usize::try_from(to).unwrap_or(0);
        while start < end {
            let stop = (start + GENERATE_BATCH).min(end);
            work.push((s, start, stop));
            start = stop;
        }
    }
    let work = Arc::new(work);
    let stores = Arc::new(stores.to_vec());
    let tasks = 2;
    concurrently(tasks, |task| {
        let db = db.clone();
        let work = Arc::clone(&work);
        let stores = Arc::clone(&stores);
        async move {
            for (s, start, stop) in work.iter().skip(task).step_by(tasks) {
                let batch = (*start..*stop)
                    .map(|i| crate::data::product(&format!("scale{s}"), i, i % 2 == 0, 3, 10))
                    .collect();
                domain::products::create_many(&db, &stores[*s], batch)
                    .await
                    .map_err(context("create_many"))?;
            }
            Ok(())
        }
    })
    .await?;
    Ok(())
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
    if missing == 0 {
        return Ok(());
    }
    db.execute_unprepared(&format!(
        "INSERT INTO agent_jobs (id, store_id, type, status, priority, input, output, progress, \
         created_at, updated_at, attempts, max_attempts, run_at, started_at, completed_at) \
         SELECT gen_random_uuid(), NULL, 'PRODUCT_SCOUT', 'COMPLETED', 0, \
         '{{\"provider\":\"ALIEXPRESS\",\"query\":\"history\",\"limit\":20}}', \
         '{{\"products\":[]}}', 100, now() - interval '1 day', now() - interval '1 day', 1, 3, \
         now() - interval '1 day', now() - interval '1 day', now() - interval '1 day' \
         FROM generate_series(1, {missing})"
    ))
    .await
    .map_err(context("job history"))?;
    db.execute_unprepared("VACUUM ANALYZE")
        .await
        .map_err(context("vacuum"))?;
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
    // The statement `domain::products::list` builds for a page of ACTIVE products.
    let mut list = products_table::Entity::find()
        .filter(products_table::Column::StoreId.eq(scope.store_id()))
        .filter(products_table::Column::DeletedAt.is_null())
        .order_by_desc(products_table::Column::Id)
        .limit(PAGE_SIZE + 1)
        .filter(products_table::Column::Status.eq(domain::products::ProductStatus::Active));
    if let Some(after) = middle {
        list = list.filter(products_table::Column::Id.lt(after));
    }
    explain(
        db,
        "list_products_page",
        &list.build(DbBackend::Postgres).to_string(),
    )
    .await?;

    agent_jobs::enqueue_many(
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
