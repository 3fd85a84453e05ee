//! The work queue of the AI agents (brand generator, product scout, copywriter, image
//! processor, video generator), on the `agent_jobs` table: every job is handed to exactly one
//! worker at a time.
//!
//! - The store side ([`create`], [`create_many`], [`get`], [`find`], [`list`], [`cancel`],
//!   [`count`]) acts for a [`JobOwner`]: a store, through its [`crate::scope::StoreScope`],
//!   or [`JobOwner::SYSTEM`] for jobs of no store.
//! - The worker side: a [`Worker`] claims the next runnable job ([`Worker::claim`]) and gets a
//!   [`ClaimedJob`] handle to report progress, complete or fail it; [`Worker::run`] is a
//!   ready-made loop around a handler function. A [`Wakeup`] wakes idle workers when a job is
//!   enqueued (LISTEN/NOTIFY on Postgres, a bounded poll elsewhere).
//! - Operations: [`rescue`] jobs whose worker stopped heartbeating, [`purge_finished`] old finished
//!   jobs, both runnable as periodic schedules ([`Scheduler`]).
//! - The pipeline: unique jobs ([`NewJob::unique`]), jobs that wait for others
//!   ([`NewJob::after`], [`Graph`], [`create_graph`], [`ClaimedJob::add_follow_up`]),
//!   concurrency caps per store and per agent type ([`Worker::cap_per_store`],
//!   [`Worker::cap_per_type`]), periodic jobs ([`Schedule`], [`Scheduler`]), re-runs
//!   ([`retry_with`]) and [`ClaimedJob::snooze`], batches ([`Worker::claim_many`],
//!   [`complete_many`]), and [`stats`] with `tracing` events. See "The pipeline" below.
//!
//! Status moves: `PENDING → PROCESSING` (claim), `PROCESSING → COMPLETED` (complete),
//! `PROCESSING → PENDING` (fail with attempts left, or rescue), `PROCESSING → FAILED` (fail
//! with none left, or rescue), `PENDING | PROCESSING → CANCELLED` (cancel). Anything else is
//! [`crate::Error::InvalidTransition`].
//!
//! # Creating jobs
//! A job's input is typed per agent type (`JobInput::BrandGenerator(BrandBrief { niche, tone,
//! .. })`, `JobInput::ProductScout(ProductSearch { provider, query, limit })`, … see
//! [`JobInput`]) and is validated when created ([`crate::Error::Invalid`] naming e.g.
//! `agent_jobs.input.limit`). [`NewJob`] sets the priority (higher first), a run-at time and the maximum
//! attempts (default [`DEFAULT_MAX_ATTEMPTS`]). [`create_many`] writes a batch in one
//! statement per 1,000 jobs (or 4 MiB of input), all or nothing. Inputs and outputs are at
//! most [`MAX_PAYLOAD_BYTES`] (1 MiB) of JSON, hold no NUL or control character and must read
//! back as given; `run_at` lies in 1970..=9999. A row whose payload does not read (written by
//! other means) fails only its own [`get`] ([`crate::Error::Undecodable`]), keeps its place in a [`list`]
//! page as a [`crate::paging::UndecodableRow`],
//! and is failed by the claim (see `docs/identity-and-jobs-limits.md` in the repository).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> domain::Result<()> {
//! # let mut config = domain::Config::new("sqlite::memory:");
//! # config.migrate_on_start = true;
//! # let db = domain::connect(&config).await?;
//! # let hasher = domain::users::PasswordHasher::new(domain::users::Argon2Params::new(1024, 1, 1)?)?;
//! # let owner = domain::users::create(&db, &hasher, domain::users::NewUser {
//! #     email: domain::users::Email::parse("owner@example.com")?,
//! #     password: domain::users::Password::parse("a long passphrase")?, name: None, image: None }).await?.id;
//! # let store = domain::stores::create(&db, owner, domain::stores::NewStore {
//! #     name: "Neon".into(), niche: "Decor".into(), ..Default::default() }).await?.id;
//! use domain::agent_jobs::{self as jobs, AgentType, BrandBrief, JobInput, JobStatus, NewJob, Worker, WorkerId};
//! let scope = domain::StoreScope::obtain(&db, owner, store).await?;
//! let brief = JobInput::BrandGenerator(BrandBrief {
//!     niche: "Cyberpunk home decor".into(),
//!     tone: "futuristic".into(),
//!     store_name: None,
//! });
//! let job = jobs::create(&db, &scope, NewJob::new(brief).priority(10)).await?;
//!
//! let worker = Worker::new(WorkerId::generate("brand")).only([AgentType::BrandGenerator]);
//! let mut claimed = worker.claim(&db).await?.expect("the job is runnable");
//! claimed.update_progress(&db, 50, Some("choosing colours")).await?;
//! assert_eq!(jobs::get(&db, &scope, job.id).await?.status, JobStatus::Processing);
//! # Ok(())
//! # }
//! ```
//!
//! # Claim
//! `Worker::new(WorkerId::generate("copywriter")).only([AgentType::Copywriter])` and
//! `worker.claim(&db)` take the next runnable job (PENDING, run-at reached): highest
//! priority, then earliest run-at, then oldest. It becomes PROCESSING with the worker's id,
//! one more attempt, its start time and heartbeat. A job is never handed to two workers:
//!
//! | backend | claim |
//! |---|---|
//! | Postgres | one `UPDATE … WHERE id = (SELECT id … ORDER BY … LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING *`, served by the index `idx_agent_jobs_claim` |
//! | SQLite | the same statement (no `SKIP LOCKED` there); the single writer makes it atomic |
//! | MariaDB/MySQL | no `RETURNING`: a READ COMMITTED transaction that selects the row `FOR UPDATE SKIP LOCKED`, updates it and commits; retried on a deadlock |
//!
//! The subquery must be scalar (`id = (…)`): with `id IN (…)` Postgres may run the subquery
//! again for every row it scans, and one claim then takes every runnable job.
//!
//! # The claimed job
//! [`ClaimedJob::update_progress`]`(db, percent, step)` (0–100, never backwards; also heartbeats),
//! [`ClaimedJob::heartbeat`], [`ClaimedJob::complete`]`(db, output)` (typed output of the
//! job's agent type; progress 100, completion time) and [`ClaimedJob::fail`]. Every write
//! checks in its `WHERE` that the job is still PROCESSING, held by this worker, in this
//! attempt, so a handle that lost its job writes nothing and answers
//! [`crate::Error::JobReleased`] with a [`ReleaseReason`] (cancelled, or lease lost) or
//! [`crate::Error::InvalidTransition`] (e.g. completing a job that is PENDING again).
//!
//! **Retry and back-off.** [`ClaimedJob::fail`] puts the job back to PENDING while attempts
//! remain, with run-at moved by the worker's [`Backoff`] (default: ceiling 10 s × 2ⁿ⁻¹ after
//! attempt n, at most [`MAX_BACKOFF`], 1 h; the delay is drawn between half the ceiling and
//! the ceiling, so retries spread out and never shrink). With no attempts left, or with
//! [`ClaimedJob::fail_permanently`], it is FAILED and keeps the error.
//!
//! **Cancel.** [`cancel`]`(db, &scope, id)` moves a PENDING or PROCESSING job to CANCELLED;
//! its worker learns at its next report, heartbeat or completion. Cancelling a finished job is
//! [`crate::Error::InvalidTransition`]; another store's job is [`crate::Error::NotFound`],
//! like a missing one.
//!
//! # Rescue, prune and counts
//! [`rescue`]`(db, lease)` puts PROCESSING jobs whose heartbeat is older than `lease` back to
//! PENDING (FAILED when their attempts are spent). Run it periodically, with a lease well
//! above the workers' heartbeat interval. [`purge_finished`]`(db, age)` deletes COMPLETED, FAILED and
//! CANCELLED jobs last changed longer ago than `age`. [`count`]`(db, &scope)` gives the
//! dashboard's numbers by status and agent type in one query; [`get`], [`find`] and [`list`]
//! (newest first, cursor-paged) read jobs.
//!
//! # Waking idle workers
//! On Postgres a created job sends `NOTIFY zyenta_agent_jobs` ([`CHANNEL`]) in its transaction
//! (so on commit), with the agent type as payload; [`Wakeup::listen`] keeps one pooled
//! connection listening and wakes the waiting workers of that type at once (measured: well
//! under 1 s, with a 10 s poll interval). On SQLite and MariaDB/MySQL there is nothing to
//! listen to, and an idle worker polls at its bounded interval (or sooner, when the next
//! scheduled job is due).
//!
//! # The worker loop
//! [`Worker::run`] claims, calls the handler, completes or fails, waits when idle, heartbeats
//! while the handler runs (and drops the handler's work when the job is cancelled), and stops
//! gracefully (finishing the job in hand) when the shutdown future resolves:
//!
//! ```no_run
//! # async fn example(db: domain::DatabaseConnection) -> domain::Result<()> {
//! use domain::agent_jobs::{
//!     AgentType, JobFailure, JobInput, JobOutput, ScoutResult, Wakeup, Worker, WorkerId,
//!     WorkerOptions,
//! };
//! let wakeup = Wakeup::listen(&db).await?;
//! let worker = Worker::new(WorkerId::generate("scout")).only([AgentType::ProductScout]);
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! # drop(stop);
//! let shutdown = async move {
//!     let _ = stopped.await;
//! };
//! let stats = worker
//!     .run(&db, &wakeup, &WorkerOptions::default(), shutdown, |job, db| {
//!         Box::pin(async move {
//!             let JobInput::ProductScout(search) = job.input().clone() else {
//!                 return Err(JobFailure::permanent("not a product search"));
//!             };
//!             job.update_progress(db, 10, Some("searching")).await?;
//!             // … call the supplier with search.query and search.limit …
//!             Ok(JobOutput::ProductScout(ScoutResult { products: vec![] }))
//!         })
//!     })
//!     .await;
//! println!("{stats:?}");
//! # Ok(())
//! # }
//! ```
//!
//! # The pipeline
//! A store is built by a chain of agents: the brand generator, then the product scout, then a
//! copywriter for each product found, then a final job that needs all of them. The queue
//! holds that chain itself, on every backend:
//!
//! - **Unique jobs.** [`NewJob::unique`]`(key)`: while a job of the same owner with that key is
//!   PENDING or PROCESSING, [`create`] returns that job instead of making a second one (8
//!   concurrent creates make one job). The database enforces it
//!   (`uq_agent_jobs_store_id_unique_key`, partial on Postgres and SQLite, a virtual column on
//!   MariaDB); keys compare exactly, case and accents included. Once the job finishes the key
//!   is free again.
//! - **Dependencies.** [`NewJob::after`]`(ids)` or a [`Graph`] made whole by [`create_graph`]
//!   (one transaction): a job is claimable only once every job it waits for has COMPLETED
//!   (`waiting_for` counts the others down: on Postgres the completion and the count-down are
//!   one statement, so a job with dependants completes in one round trip, like one without).
//!   When one of them fails for good or is cancelled,
//!   the jobs waiting for it are cancelled, transitively, with the reason in their error
//!   (starting with [`DEPENDENCY_ENDED`]) and `cancelled_by` set. [`retry_with`] with
//!   `dependants: true` brings them back; plain [`retry`] leaves them cancelled.
//! - **Fan-out and hand-off.** A worker adds jobs while it completes its own
//!   ([`ClaimedJob::add_follow_up`]): they are created in the completing transaction, and every
//!   job that waited for the completing one now waits for them too. A job reads what the jobs
//!   before it produced with [`ClaimedJob::list_parents`].
//! - **Caps.** [`Worker::cap_per_store`]`(n)` and [`Worker::cap_per_type`]`(type, n)` bound how
//!   many jobs of one store, or of one agent type, are PROCESSING at once over every worker
//!   and process: a capped claim counts the running jobs under a lock on that store's (type's)
//!   row of `agent_job_gates`. Give every worker of a deployment the same caps. A capped
//!   claim passes over the stores at their cap in claim order, so when every store with work
//!   is at its cap, a claim that finds nothing has read that whole backlog (about 20 ms for
//!   20,000 waiting jobs on the bench machine): poll at the worker's interval, not in a loop.
//! - **Periodic jobs.** A [`Schedule`] (every interval, on multiples of it since the epoch, or
//!   a cron expression in UTC) creates one job per tick, or runs [`rescue`] /
//!   [`purge_finished`]. Run a [`Scheduler`] in every service instance: each tick is taken by
//!   exactly one of them (a compare-and-set on `agent_job_schedules.next_run_at`, in the
//!   transaction that creates the tick's job). After downtime, [`Missed::Skip`] runs the latest
//!   due tick only and [`Missed::CatchUp`] runs every missed tick.
//! - **Re-runs and snooze.** [`retry_with`] runs a FAILED job again with more attempts and its
//!   history kept (`attempts` goes on counting, the last error stays until replaced).
//!   [`ClaimedJob::snooze`] defers a job without using an attempt.
//! - **Batches.** [`Worker::claim_many`] claims up to [`MAX_BATCH`] jobs in one statement, and
//!   [`complete_many`] completes many in one statement, each still checked to be held.
//! - **Observability.** `tracing` events with target [`EVENT_TARGET`] and stable fields:
//!   `job_claimed` (`job_id`, `agent_type`, `store_id`, `worker_id`, `attempt`,
//!   `queue_latency_ms` from run-at to claim), `job_completed` (`run_time_ms` from claim to
//!   completion), `job_retrying` (`retry_at`, `error`), `job_failed` (`error`), `job_snoozed`
//!   (`delay_ms`), `dependants_cancelled` (`cancelled`). [`stats`]`(db, window)` gives
//!   throughput and latency percentiles over a window.
//!
//! The store-building chain, run here by one worker (services run each agent type in its own
//! workers):
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> domain::Result<()> {
//! # let mut config = domain::Config::new("sqlite::memory:");
//! # config.migrate_on_start = true;
//! # let db = domain::connect(&config).await?;
//! # let hasher = domain::users::PasswordHasher::new(domain::users::Argon2Params::new(1024, 1, 1)?)?;
//! # let owner = domain::users::create(&db, &hasher, domain::users::NewUser {
//! #     email: domain::users::Email::parse("owner@example.com")?,
//! #     password: domain::users::Password::parse("a long passphrase")?, name: None, image: None }).await?.id;
//! # let store = domain::stores::create(&db, owner, domain::stores::NewStore {
//! #     name: "Neon".into(), niche: "Decor".into(), ..Default::default() }).await?.id;
//! use domain::agent_jobs::{
//!     self as jobs, BrandBrief, BrandIdentity, CopyBrief, CopyResult, GeneratedVideo, Graph,
//!     JobInput, JobOutput, JobStatus, NewJob, ProductCopy, ProductSearch, ScoutResult,
//!     UniqueKey, VideoBrief, Worker, WorkerId,
//! };
//! use domain::products::SupplierProvider;
//! let scope = domain::StoreScope::obtain(&db, owner, store).await?;
//! let showcase = uuid::Uuid::now_v7();
//!
//! // Brand → scout → (a copywriter per product, added by the scout) → the store's video.
//! let mut graph = Graph::new();
//! let brand = graph.add(
//!     NewJob::new(JobInput::BrandGenerator(BrandBrief {
//!         niche: "Cyberpunk home decor".into(), tone: "futuristic".into(), store_name: None,
//!     }))
//!     .unique(UniqueKey::parse("build-store")?),
//! );
//! let scout = graph.add_after(
//!     NewJob::new(JobInput::ProductScout(ProductSearch {
//!         provider: SupplierProvider::Aliexpress, query: "neon lamp".into(), limit: 10,
//!     })),
//!     &[brand],
//! );
//! graph.add_after(
//!     NewJob::new(JobInput::VideoGenerator(VideoBrief {
//!         product_id: showcase, duration_seconds: 15, style: None,
//!     })),
//!     &[scout],
//! );
//! let created = jobs::create_graph(&db, &scope, graph).await?;
//! let video = created[2].id;
//!
//! let worker = Worker::new(WorkerId::generate("builder"));
//! while let Some(mut job) = worker.claim(&db).await? {
//!     let output = match job.input().clone() {
//!         JobInput::BrandGenerator(_) => JobOutput::BrandGenerator(BrandIdentity::parse(
//!             "NeonNest", ["#FF00FF", "#00FFFF", "#FFFF00"], ["Orbitron", "Inter"], "futuristic", None,
//!         )?),
//!         JobInput::ProductScout(_) => {
//!             // The scout imports what it found (`products::import`) and hands each new
//!             // product to a copywriter; the video now waits for those too.
//!             for product in [uuid::Uuid::now_v7(), uuid::Uuid::now_v7()] {
//!                 job.add_follow_up(NewJob::new(JobInput::Copywriter(CopyBrief {
//!                     product_ids: vec![product], tone: "futuristic".into(), language: "en".into(),
//!                 })))?;
//!             }
//!             JobOutput::ProductScout(ScoutResult { products: vec![] })
//!         }
//!         JobInput::Copywriter(brief) => JobOutput::Copywriter(CopyResult {
//!             products: vec![ProductCopy {
//!                 product_id: brief.product_ids[0], title: "Neon lamp".into(),
//!                 description: "Glows.".into(), meta_title: None, meta_description: None,
//!             }],
//!         }),
//!         JobInput::VideoGenerator(_) => {
//!             // The last job reads every copy its parents wrote.
//!             let parents = job.list_parents(&db).await?;
//!             assert_eq!(parents.len(), 3); // the scout and the two copywriters
//!             JobOutput::VideoGenerator(GeneratedVideo {
//!                 url: "https://cdn.example.com/neon.mp4".into(), duration_seconds: 15,
//!             })
//!         }
//!         _ => unreachable!("no other agent in this chain"),
//!     };
//!     job.complete(&db, output).await?;
//! }
//! assert_eq!(jobs::get(&db, &scope, video).await?.status, JobStatus::Completed);
//! # Ok(())
//! # }
//! ```
//!
//! A nightly re-sync and the queue's upkeep, kept by every instance and run once per tick:
//!
//! ```no_run
//! # async fn example(db: domain::DatabaseConnection) -> domain::Result<()> {
//! use std::time::Duration;
//! use domain::agent_jobs::{JobInput, JobOwner, Missed, NewJob, ProductSearch, Schedule, ScheduledWork, Scheduler};
//! let resync = NewJob::new(JobInput::ProductScout(ProductSearch {
//!     provider: domain::products::SupplierProvider::CjDropshipping,
//!     query: "restock".into(),
//!     limit: 100,
//! }));
//! let scheduler = Scheduler::new([
//!     Schedule::cron("nightly-resync", "0 0 3 * * *",
//!         ScheduledWork::Job { owner: JobOwner::SYSTEM, job: resync })?
//!         .missed(Missed::Skip),
//!     Schedule::every("rescue", Duration::from_secs(60),
//!         ScheduledWork::Rescue { lease: Duration::from_secs(120) })?,
//!     Schedule::every("purge", Duration::from_secs(3_600),
//!         ScheduledWork::PurgeFinished { age: Duration::from_secs(30 * 86_400) })?,
//! ])?;
//! let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! scheduler.run(&db, Duration::from_secs(1), async move { let _ = stopped.await; }).await;
//! # Ok(())
//! # }
//! ```
//!
//! The queue adds no environment variable: workers take their poll interval, heartbeat
//! interval and back-off from [`WorkerOptions`] and [`Backoff`] in code.

use uuid::Uuid;

use crate::scope::StoreScope;

mod backoff;
mod batch;
mod capped;
mod claim;
mod claimed;
mod count;
mod dependants;
mod events;
mod graph;
mod hold;
mod job;
mod payload;
mod queue;
mod read;
mod retry;
mod run;
mod schedule;
mod snooze;
mod stats;
mod upkeep;
mod values;
mod wakeup;

pub use crate::error::ReleaseReason;
pub use backoff::{Backoff, MAX_BACKOFF};
pub use batch::{MAX_BATCH, complete_many};
pub use claim::Worker;
pub use claimed::{ClaimedJob, FailOutcome};
pub use count::{JobCounts, count};
pub use entity::sea_orm_active_enums::{AgentType, JobStatus};
pub use events::TARGET as EVENT_TARGET;
pub use graph::{DEPENDENCY_ENDED, Graph, GraphNode, MAX_GRAPH_JOBS, MAX_PARENTS, create_graph};
pub use job::AgentJob;
pub use payload::{
    BrandBrief, BrandIdentity, CopyBrief, CopyResult, GeneratedVideo, ImageOperation, ImageWork,
    JobInput, JobOutput, MAX_COPY_PRODUCTS, MAX_DESCRIPTION, MAX_IMAGE_OPERATIONS, MAX_IMAGE_SIDE,
    MAX_IMAGES, MAX_META_DESCRIPTION, MAX_META_TITLE, MAX_PAYLOAD_BYTES, MAX_SCOUT_LIMIT,
    MAX_SHORT_TEXT, MAX_SOURCE_ID, MAX_TITLE, MAX_URL, MAX_VIDEO_SECONDS, ProcessedImage,
    ProcessedImages, ProductCopy, ProductSearch, ScoutResult, ScoutedProduct, VideoBrief,
};
pub use queue::{NewJob, cancel, create, create_many};
pub use read::{JobFilter, find, get, list};
pub use retry::{RetryOptions, retry, retry_with};
pub use run::{HandlerFuture, JobFailure, WorkerOptions, WorkerStats};
pub use schedule::{
    MAX_CATCH_UP, MAX_SCHEDULE_NAME, MIN_INTERVAL, Missed, Schedule, ScheduledWork, Scheduler, Tick,
};
pub use stats::{JobStats, Latency, MAX_STATS_SAMPLE, stats};
pub use upkeep::{RESCUED_ERROR, RescueReport, purge_finished, rescue};
pub use values::{MAX_UNIQUE_KEY, Progress, UniqueKey, WorkerId};
pub use wakeup::{CHANNEL, WakeSubscription, Wakeup, Woken};

/// Attempts a job gets unless [`NewJob::max_attempts`] says otherwise.
pub const DEFAULT_MAX_ATTEMPTS: i32 = 3;
/// The most attempts a job may be given.
pub const MAX_ATTEMPTS: i32 = 25;
/// Longest `current_step` text, in characters (the column is a `varchar(255)`).
pub const MAX_STEP: usize = 255;
/// Longest error message kept on a job, in characters; a longer one is cut.
pub const MAX_ERROR: usize = 4_000;
/// Longest worker id, in characters (`locked_by` is a `varchar(255)`).
pub const MAX_WORKER_ID: usize = 255;

/// Whose jobs a store-side call acts on: one store's (made from its
/// [`StoreScope`], so only its owner can), or the system's (jobs of no store, including those
/// of deleted stores). A store's jobs cannot be reached as system jobs and the other way round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct JobOwner(Option<Uuid>);

impl JobOwner {
    /// Jobs of no store: platform work, and the history of deleted stores.
    pub const SYSTEM: JobOwner = JobOwner(None);

    /// The store, or `None` for the system.
    pub fn store_id(self) -> Option<Uuid> {
        self.0
    }

    /// Puts the owner on the current tracing span as `store_id` (empty for the system).
    pub(crate) fn record(self) {
        if let Some(store_id) = self.0 {
            tracing::Span::current().record("store_id", tracing::field::display(store_id));
        }
    }
}

impl From<&StoreScope> for JobOwner {
    fn from(scope: &StoreScope) -> Self {
        JobOwner(Some(scope.store_id()))
    }
}

impl From<StoreScope> for JobOwner {
    fn from(scope: StoreScope) -> Self {
        JobOwner(Some(scope.store_id()))
    }
}

/// Cuts `text` to at most `max` characters.
pub(crate) fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => text[..at].to_owned(),
        None => text.to_owned(),
    }
}
