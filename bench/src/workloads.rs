//! The six workloads of `bench/README.md`, through `domain` as services call it.

use std::sync::Arc;
use std::time::Instant;

use domain::StoreScope;
use domain::agent_jobs::{
    self, JobInput, JobOutput, JobOwner, NewJob, ProductSearch, ScoutResult, ScoutedProduct,
    Worker, WorkerId,
};
use domain::paging::{Cursor, PageRequest};
use domain::products::{self, NewProduct, ProductQuery, ProductStatus, SupplierProvider};
use domain::stores::{self, NewStore};
use domain::users::{self, DisplayName, Email, NewUser, Password, PasswordHasher};
use domain::{DatabaseConnection, Error};
use entity::{agent_jobs as jobs_table, product_variants, products as products_table};
use rust_decimal::Decimal;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use uuid::Uuid;

use crate::data::{Rng, share};
use crate::report::{Impl, Measurement, Report, Timer};
use crate::run::{Shared, concurrently};
use crate::{BenchResult, context};

/// Users (each with one store) that seed_users creates.
pub const USERS: usize = 1_000;
/// Products of the import.
pub const IMPORT_PRODUCTS: usize = 5_000;
/// Products per transaction of the import.
pub const IMPORT_BATCH: usize = 100;
/// Fetches of get_product_by_id.
pub const GETS: usize = 20_000;
/// Page requests of list_products_page.
pub const PAGES: usize = 5_000;
/// Page size of list_products_page.
pub const PAGE_SIZE: u64 = 50;
/// Variants of decrement_stock, and their stock.
pub const STOCK_VARIANTS: usize = 1_000;
/// Stock of each variant of decrement_stock.
pub const STOCK_EACH: i32 = 5;
/// Decrements of decrement_stock.
pub const DECREMENTS: usize = 10_000;
/// Jobs of job_queue.
pub const JOBS: usize = 20_000;
/// Tasks that share the pool in the concurrent workloads.
pub const CONCURRENCY: usize = 8;

/// seed_users: `users` registrations (argon2id at production cost), each followed by the
/// creation of the user's store, one after another. Returns the owners and their stores.
///
/// # Errors
/// The first domain error.
pub async fn seed_users(
    db: &DatabaseConnection,
    hasher: &PasswordHasher,
    run: usize,
    users: usize,
) -> BenchResult<(Measurement, Vec<(Uuid, Uuid)>)> {
    let password = Password::parse("correct horse battery staple").map_err(context("password"))?;
    let inputs: Vec<(Email, DisplayName, NewStore)> = (0..users)
        .map(|i| -> BenchResult<_> {
            Ok((
                Email::parse(&format!("owner{i}.run{run}@bench.example.com"))
                    .map_err(context("email"))?,
                DisplayName::parse(&format!("Owner {i}")).map_err(context("name"))?,
                NewStore {
                    name: format!("Bench store {i}"),
                    niche: "Cyberpunk home decor".into(),
                    ..Default::default()
                },
            ))
        })
        .collect::<BenchResult<_>>()?;
    let timer = Timer::start();
    let mut owners = Vec::with_capacity(users);
    for (email, name, store) in inputs {
        let user = users::create(
            db,
            hasher,
            NewUser {
                email,
                password: password.clone(),
                name: Some(name),
                image: None,
            },
        )
        .await
        .map_err(context("register"))?;
        let store = stores::create(db, user.id, store)
            .await
            .map_err(context("create store"))?;
        owners.push((user.id, store.id));
    }
    Ok((
        timer.measurement("seed_users", Impl::Domain, users as u64),
        owners,
    ))
}

/// import_products: the batches, one `create_many` (one transaction) each. Returns the ids.
///
/// # Errors
/// The first domain error.
pub async fn import_products(
    db: &DatabaseConnection,
    scope: &StoreScope,
    batches: Vec<Vec<NewProduct>>,
) -> BenchResult<(Measurement, Vec<Uuid>)> {
    let count: usize = batches.iter().map(Vec::len).sum();
    let mut ids = Vec::with_capacity(count);
    let timer = Timer::start();
    for batch in batches {
        ids.extend(
            products::create_many(db, scope, batch)
                .await
                .map_err(context("create_many"))?,
        );
    }
    Ok((
        timer.measurement("import_products", Impl::Domain, count as u64),
        ids,
    ))
}

/// get_product_by_id: `ops` fetches of a random product of `ids` with its variants and
/// images, `CONCURRENCY` tasks. Returns the measurement and how many fetched products did not
/// have `variants` variants and 2 images (0 when all is well).
///
/// # Errors
/// The first domain error.
pub async fn get_product_by_id(
    db: &DatabaseConnection,
    scope: StoreScope,
    ids: Arc<Vec<Uuid>>,
    ops: usize,
    variants: usize,
    seed: u64,
) -> BenchResult<(Measurement, usize)> {
    let timer = Timer::start();
    let wrong = concurrently(CONCURRENCY, |task| {
        let db = db.clone();
        let ids = Arc::clone(&ids);
        async move {
            let mut rng = Rng::new(seed + task as u64);
            let mut wrong = 0;
            for _ in 0..share(ops, CONCURRENCY, task) {
                let id = ids[rng.below(ids.len())];
                let product = products::get(&db, &scope, id)
                    .await
                    .map_err(context("products::get"))?;
                if product.variants.len() != variants || product.images.len() != 2 {
                    wrong += 1;
                }
            }
            Ok(wrong)
        }
    })
    .await?
    .into_iter()
    .sum();
    Ok((
        timer.measurement("get_product_by_id", Impl::Domain, ops as u64),
        wrong,
    ))
}

/// list_products_page: `requests` requests for the next page of `PAGE_SIZE` ACTIVE products,
/// newest first, with variants (and images), `CONCURRENCY` tasks each walking the pages with
/// the cursor and starting over after the last. Returns the measurement and the number of
/// rows read.
///
/// # Errors
/// The first domain error.
pub async fn list_products_page(
    db: &DatabaseConnection,
    scope: StoreScope,
    requests: usize,
) -> BenchResult<(Measurement, u64)> {
    let timer = Timer::start();
    let rows = concurrently(CONCURRENCY, |task| {
        let db = db.clone();
        async move {
            let mut after: Option<Cursor> = None;
            let mut rows = 0u64;
            for _ in 0..share(requests, CONCURRENCY, task) {
                let page = products::list(
                    &db,
                    &scope,
                    ProductQuery {
                        status: Some(ProductStatus::Active),
                        search: None,
                        page: PageRequest {
                            after,
                            limit: PAGE_SIZE,
                        },
                    },
                )
                .await
                .map_err(context("products::list"))?;
                rows += page.items.len() as u64;
                after = page.next;
            }
            Ok(rows)
        }
    })
    .await?
    .into_iter()
    .sum();
    Ok((
        timer.measurement("list_products_page", Impl::Domain, requests as u64),
        rows,
    ))
}

/// decrement_stock: `STOCK_VARIANTS` variants with stock `STOCK_EACH` (4 per product), then
/// `DECREMENTS` decrements by 1 in random order, `CONCURRENCY` tasks; checks that exactly
/// `STOCK_VARIANTS × STOCK_EACH` succeed and that no stock (variant or product) ends negative.
///
/// # Errors
/// The first unexpected domain error.
pub async fn decrement_stock(
    db: &DatabaseConnection,
    scope: StoreScope,
    report: &mut Report,
    seed: u64,
) -> BenchResult<Measurement> {
    let products: Vec<NewProduct> = (0..STOCK_VARIANTS / 4)
        .map(|i| crate::data::product("stock", i, true, 4, STOCK_EACH))
        .collect();
    let product_ids = products::create_many(db, &scope, products)
        .await
        .map_err(context("stock products"))?;
    let variant_ids: Vec<Uuid> = product_variants::Entity::find()
        .filter(product_variants::Column::ProductId.is_in(product_ids.clone()))
        .all(db)
        .await
        .map_err(context("stock variants"))?
        .into_iter()
        .map(|v| v.id)
        .collect();
    let mut work: Vec<Uuid> = variant_ids
        .iter()
        .flat_map(|id| std::iter::repeat_n(*id, DECREMENTS / variant_ids.len().max(1)))
        .collect();
    Rng::new(seed).shuffle(&mut work);
    let work = Shared::new(work);

    let timer = Timer::start();
    let outcomes = concurrently(CONCURRENCY, |_| {
        let db = db.clone();
        let work = work.clone();
        async move {
            let (mut done, mut refused) = (0u64, 0u64);
            while let Some(variant) = work.next() {
                match products::variants::update_stock(&db, &scope, variant, -1).await {
                    Ok(_) => done += 1,
                    Err(Error::InsufficientStock { .. }) => refused += 1,
                    Err(err) => return Err(format!("adjust_variant_stock: {err}")),
                }
            }
            Ok((done, refused))
        }
    })
    .await?;

    let done: u64 = outcomes.iter().map(|o| o.0).sum();
    let refused: u64 = outcomes.iter().map(|o| o.1).sum();
    let variants = product_variants::Entity::find()
        .filter(product_variants::Column::ProductId.is_in(product_ids.clone()))
        .all(db)
        .await
        .map_err(context("stock variants after"))?;
    let products = products_table::Entity::find()
        .filter(products_table::Column::Id.is_in(product_ids))
        .all(db)
        .await
        .map_err(context("stock products after"))?;
    let lowest = variants.iter().map(|v| v.stock).min().unwrap_or(0);
    let lowest_product = products.iter().map(|p| p.stock_quantity).min().unwrap_or(0);
    let left: i64 = variants.iter().map(|v| i64::from(v.stock)).sum();
    let totals_match = products.iter().all(|p| {
        variants
            .iter()
            .filter(|v| v.product_id == p.id)
            .map(|v| v.stock)
            .sum::<i32>()
            == p.stock_quantity
    });
    let expected = (variant_ids.len() as u64) * STOCK_EACH as u64;
    let ok = done == expected
        && done + refused == work.len() as u64
        && lowest >= 0
        && lowest_product >= 0
        && left == 0
        && totals_match;
    report.check(
        "decrement_stock impl=domain",
        ok,
        &format!(
            "{done} of {} decrements succeeded (expected exactly {expected}), {refused} refused \
             as insufficient stock, lowest variant stock {lowest}, lowest product stock \
             {lowest_product}, product totals equal their variants: {totals_match}",
            work.len()
        ),
    );
    Ok(timer.measurement("decrement_stock", Impl::Domain, work.len() as u64))
}

/// The input of every job of the queue workloads.
pub fn job_input(i: usize) -> JobInput {
    JobInput::ProductScout(ProductSearch {
        provider: SupplierProvider::Aliexpress,
        query: format!("neon lamp {i}"),
        limit: 20,
    })
}

/// The output every job of the queue workloads completes with.
pub fn job_output() -> JobOutput {
    JobOutput::ProductScout(ScoutResult {
        products: vec![ScoutedProduct {
            source_id: "1005006".into(),
            title: "Neon Lamp".into(),
            url: "https://www.aliexpress.com/item/1005006.html".into(),
            cost_price: Decimal::new(1250, 2),
        }],
    })
}

/// job_queue: enqueues `jobs` PENDING jobs in bulk (timed apart), then `CONCURRENCY` workers
/// each loop claim → complete until the queue is empty; the figure is that loop. Checks
/// that every job was claimed once and ended COMPLETED once.
///
/// # Errors
/// The first domain error.
pub async fn job_queue(
    db: &DatabaseConnection,
    owner: JobOwner,
    jobs: usize,
    report: &mut Report,
) -> BenchResult<Measurement> {
    let enqueue_started = Instant::now();
    agent_jobs::create_many(db, owner, (0..jobs).map(|i| NewJob::new(job_input(i))))
        .await
        .map_err(context("create_many"))?;
    println!(
        "# job_queue impl=domain enqueued {jobs} jobs in {:.3} s (not in the figure)",
        enqueue_started.elapsed().as_secs_f64()
    );
    crate::analyze_jobs(db).await?;
    let output = job_output();
    let timer = Timer::start();
    let claimed = concurrently(CONCURRENCY, |task| {
        let db = db.clone();
        let output = output.clone();
        async move {
            let worker = Worker::new(WorkerId::generate(&format!("bench-{task}")));
            let mut ids = Vec::new();
            while let Some(job) = worker.claim(&db).await.map_err(context("claim"))? {
                ids.push(job.id());
                job.complete(&db, output.clone())
                    .await
                    .map_err(context("complete"))?;
            }
            Ok(ids)
        }
    })
    .await?;
    let mut ids: Vec<Uuid> = claimed.into_iter().flatten().collect();
    let claims = ids.len();
    ids.sort_unstable();
    ids.dedup();
    let owned = || match owner.store_id() {
        Some(store) => jobs_table::Column::StoreId.eq(store),
        None => jobs_table::Column::StoreId.is_null(),
    };
    let completed_once = jobs_table::Entity::find()
        .filter(owned())
        .filter(jobs_table::Column::Status.eq(agent_jobs::JobStatus::Completed))
        .filter(jobs_table::Column::Attempts.eq(1))
        .count(db)
        .await
        .map_err(context("count completed"))?;
    let total = jobs_table::Entity::find()
        .filter(owned())
        .count(db)
        .await
        .map_err(context("count jobs"))?;
    report.check(
        "job_queue impl=domain",
        claims == jobs
            && ids.len() == jobs
            && completed_once == jobs as u64
            && total == jobs as u64,
        &format!(
            "{claims} claims of {} distinct jobs, {completed_once} of {total} jobs COMPLETED \
             after exactly one attempt (expected {jobs} each: every job exactly once)",
            ids.len()
        ),
    );
    Ok(timer.measurement("job_queue", Impl::Domain, jobs as u64))
}
