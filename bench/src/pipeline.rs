//! The pipeline's queue workloads, beside `job_queue`: every feature on, batched claims and
//! completions, and a per-store cap. Same jobs, same 8 workers, same checks.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use domain::agent_jobs::{self, ClaimedJob, Graph, JobStatus, NewJob, UniqueKey, Worker, WorkerId};
use domain::{DatabaseConnection, StoreScope};
use entity::agent_jobs as jobs_table;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use uuid::Uuid;

use crate::report::{Impl, Measurement, Report, Timer};
use crate::run::concurrently;
use crate::workloads::{CONCURRENCY, job_input, job_output};
use crate::{BenchResult, context};

/// Jobs per claim and per completion of `job_queue_batched`.
pub const BATCH: usize = 100;
/// The per-store cap of `job_queue_capped`.
pub const STORE_CAP: u32 = 2;
/// Jobs of one store in a row when `job_queue_capped` enqueues.
const ARRIVAL_RUN: usize = 25;
/// Jobs per graph when `job_queue_features` enqueues (each graph one transaction).
const GRAPH_JOBS: usize = 1_000;

/// job_queue_features: `jobs` jobs in groups of four (one parent, three jobs that wait for
/// it), every job with a unique key, then `CONCURRENCY` workers claim → complete until the
/// queue is empty. Completing a parent unblocks its three in the same transaction.
///
/// # Errors
/// The first domain error.
pub async fn job_queue_features(
    db: &DatabaseConnection,
    scope: StoreScope,
    jobs: usize,
    report: &mut Report,
) -> BenchResult<Measurement> {
    let enqueue_started = Instant::now();
    let mut made = 0;
    while made < jobs {
        let mut graph = Graph::new();
        let mut parent = None;
        for i in made..(made + GRAPH_JOBS).min(jobs) {
            let key = UniqueKey::parse(format!("bench-{i}")).map_err(context("key"))?;
            let job = NewJob::new(job_input(i)).unique(key);
            if i % 4 == 0 {
                parent = Some(graph.add(job));
            } else if let Some(parent) = parent {
                graph.add_after(job, &[parent]);
            }
        }
        made += graph.len();
        agent_jobs::create_graph(db, &scope, graph)
            .await
            .map_err(context("create_graph"))?;
    }
    println!(
        "# job_queue_features impl=domain enqueued {jobs} jobs (unique keys, 3 of 4 waiting for a parent) in {:.3} s (not in the figure)",
        enqueue_started.elapsed().as_secs_f64()
    );
    crate::analyze_jobs(db).await?;
    let timer = Timer::start();
    let claimed = drain(db, jobs, |task| {
        Worker::new(WorkerId::generate(&format!("features-{task}")))
    })
    .await?;
    check(
        db,
        Some(scope.store_id()),
        "job_queue_features",
        claimed,
        jobs,
        report,
    )
    .await?;
    Ok(timer.measurement("job_queue_features", Impl::Domain, jobs as u64))
}

/// job_queue_batched: `jobs` plain jobs, then `CONCURRENCY` workers that claim up to
/// [`BATCH`] at once (`Worker::claim_many`) and complete them in one statement
/// (`agent_jobs::complete_many`) until the queue is empty.
///
/// # Errors
/// The first domain error.
pub async fn job_queue_batched(
    db: &DatabaseConnection,
    scope: StoreScope,
    jobs: usize,
    report: &mut Report,
) -> BenchResult<Measurement> {
    agent_jobs::create_many(db, &scope, (0..jobs).map(|i| NewJob::new(job_input(i))))
        .await
        .map_err(context("create_many"))?;
    crate::analyze_jobs(db).await?;
    let timer = Timer::start();
    let claimed = concurrently(CONCURRENCY, |task| {
        let db = db.clone();
        async move {
            let worker = Worker::new(WorkerId::generate(&format!("batched-{task}")));
            let output = job_output();
            let mut ids = Vec::new();
            loop {
                let batch: Vec<ClaimedJob> = worker
                    .claim_many(&db, BATCH)
                    .await
                    .map_err(context("claim_many"))?;
                if batch.is_empty() {
                    break;
                }
                ids.extend(batch.iter().map(ClaimedJob::id));
                let results = agent_jobs::complete_many(
                    &db,
                    batch.into_iter().map(|job| (job, output.clone())).collect(),
                )
                .await
                .map_err(context("complete_many"))?;
                if let Some(Err(err)) = results.into_iter().find(Result::is_err) {
                    return Err(format!("complete_many: {err}"));
                }
            }
            Ok(ids)
        }
    })
    .await?;
    check(
        db,
        Some(scope.store_id()),
        "job_queue_batched",
        claimed,
        jobs,
        report,
    )
    .await?;
    Ok(timer.measurement("job_queue_batched", Impl::Domain, jobs as u64))
}

/// job_queue_capped: `jobs` plain jobs over the `scopes`' stores (25 of one store, then 25 of
/// the next, …), then
/// `CONCURRENCY` workers with `cap_per_store(STORE_CAP)` claim → complete until the queue is
/// empty. With 4 stores and a cap of 2 there are as many slots as workers: the figure is the
/// cost of the cap's gates and counts, with little waiting.
///
/// # Errors
/// The first domain error.
pub async fn job_queue_capped(
    db: &DatabaseConnection,
    scopes: &[StoreScope],
    jobs: usize,
    report: &mut Report,
) -> BenchResult<Measurement> {
    // The stores' jobs arrive interleaved, [`ARRIVAL_RUN`] at a time, as jobs of several
    // merchants do.
    let mut made = 0;
    while made < jobs {
        for scope in scopes {
            let run = ARRIVAL_RUN.min(jobs - made);
            if run == 0 {
                break;
            }
            agent_jobs::create_many(
                db,
                scope,
                (made..made + run).map(|i| NewJob::new(job_input(i))),
            )
            .await
            .map_err(context("create_many"))?;
            made += run;
        }
    }
    crate::analyze_jobs(db).await?;
    let cap = NonZeroU32::new(STORE_CAP).ok_or("a cap of 0")?;
    let timer = Timer::start();
    let claimed = drain(db, jobs, move |task| {
        Worker::new(WorkerId::generate(&format!("capped-{task}"))).cap_per_store(cap)
    })
    .await?;
    // Every store's jobs: the queue held these only.
    check(db, None, "job_queue_capped", claimed, jobs, report).await?;
    Ok(timer.measurement("job_queue_capped", Impl::Domain, jobs as u64))
}

/// `CONCURRENCY` workers (made by `worker` from the task's number) claim → complete until
/// all `jobs` are done; each returns the ids it claimed. A worker that finds nothing while
/// jobs remain (they wait for a parent another worker holds, or every store is at its cap)
/// sleeps a millisecond: the count is kept in the bench, so waiting costs the database
/// nothing.
async fn drain(
    db: &DatabaseConnection,
    jobs: usize,
    worker: impl Fn(usize) -> Worker + Send + Sync + Copy + 'static,
) -> BenchResult<Vec<Vec<Uuid>>> {
    let done = Arc::new(AtomicUsize::new(0));
    concurrently(CONCURRENCY, |task| {
        let db = db.clone();
        let done = Arc::clone(&done);
        async move {
            let worker = worker(task);
            let output = job_output();
            let mut ids = Vec::new();
            let mut idle = 0;
            loop {
                match worker.claim(&db).await.map_err(context("claim"))? {
                    Some(job) => {
                        idle = 0;
                        ids.push(job.id());
                        job.complete(&db, output.clone())
                            .await
                            .map_err(context("complete"))?;
                        done.fetch_add(1, Ordering::AcqRel);
                    }
                    None if done.load(Ordering::Acquire) < jobs && idle < 10_000 => {
                        idle += 1;
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    None => break,
                }
            }
            Ok(ids)
        }
    })
    .await
}

/// Every job (of `store`, when given) claimed once and COMPLETED after exactly one attempt.
async fn check(
    db: &DatabaseConnection,
    store: Option<Uuid>,
    workload: &'static str,
    claimed: Vec<Vec<Uuid>>,
    jobs: usize,
    report: &mut Report,
) -> BenchResult<()> {
    let mut ids: Vec<Uuid> = claimed.into_iter().flatten().collect();
    let claims = ids.len();
    ids.sort_unstable();
    ids.dedup();
    let mut completed = jobs_table::Entity::find()
        .filter(jobs_table::Column::Status.eq(JobStatus::Completed))
        .filter(jobs_table::Column::Attempts.eq(1));
    if let Some(store) = store {
        completed = completed.filter(jobs_table::Column::StoreId.eq(store));
    }
    let completed = completed
        .count(db)
        .await
        .map_err(context("count completed"))?;
    report.check(
        &format!("{workload} impl=domain"),
        claims == jobs && ids.len() == jobs && completed == jobs as u64,
        &format!(
            "{claims} claims of {} distinct jobs, {completed} COMPLETED after one attempt \
             (expected {jobs} each: every job exactly once)",
            ids.len()
        ),
    );
    Ok(())
}
