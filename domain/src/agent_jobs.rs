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
//!   jobs.
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
//! The queue adds no environment variable: workers take their poll interval, heartbeat
//! interval and back-off from [`WorkerOptions`] and [`Backoff`] in code.

use chrono::{DateTime, FixedOffset};
use entity::agent_jobs;
use uuid::Uuid;

use crate::error::{Error, Result, Table};
use crate::paging::UndecodableRow;
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

/// An agent job as services see it: typed input and output, and its place in the queue.
#[derive(Clone, PartialEq, Eq)]
pub struct AgentJob {
    /// The job's id (UUID v7: ordered by creation).
    pub id: Uuid,
    /// The store it works for; `None` for a system job, or once the store is deleted.
    pub store_id: Option<Uuid>,
    /// What the agent is given; its variant is the job's agent type.
    pub input: JobInput,
    /// Where the job is in its life.
    pub status: JobStatus,
    /// Higher runs first.
    pub priority: i32,
    /// What the agent produced, once completed.
    pub output: Option<JobOutput>,
    /// The last error: of the last failed attempt, or the reason it was rescued.
    pub error: Option<String>,
    /// Percent done of the current (or last) attempt.
    pub progress: Progress,
    /// What the agent is doing now, as it last said.
    pub current_step: Option<String>,
    /// Attempts started so far.
    pub attempts: i32,
    /// Attempts allowed before the job fails for good.
    pub max_attempts: i32,
    /// Not claimable before this instant.
    pub run_at: DateTime<FixedOffset>,
    /// When the current (or last) attempt started.
    pub started_at: Option<DateTime<FixedOffset>>,
    /// When the job finished (completed, failed for good, or cancelled).
    pub completed_at: Option<DateTime<FixedOffset>>,
    /// The worker that holds (or last held) the job.
    pub locked_by: Option<String>,
    /// The holder's last sign of life.
    pub heartbeat_at: Option<DateTime<FixedOffset>>,
    /// When the job was enqueued.
    pub created_at: DateTime<FixedOffset>,
    /// When the job last changed.
    pub updated_at: DateTime<FixedOffset>,
    /// Its uniqueness key, if it has one (held while it is PENDING or PROCESSING).
    pub unique_key: Option<String>,
    /// How many of the jobs it depends on have not COMPLETED yet; claimable only at 0.
    pub waiting_for: i32,
    /// The job whose failure or cancellation cancelled this one.
    pub cancelled_by: Option<Uuid>,
}

impl AgentJob {
    /// The agent type that runs the job.
    pub fn agent_type(&self) -> AgentType {
        self.input.agent_type()
    }
}

impl std::fmt::Debug for AgentJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The error can be long; its start is enough to recognise it.
        let error = self
            .error
            .as_deref()
            .map(|e| e.chars().take(80).collect::<String>());
        f.debug_struct("AgentJob")
            .field("id", &self.id)
            .field("store_id", &self.store_id)
            .field("type", &self.agent_type())
            .field("status", &self.status)
            .field("priority", &self.priority)
            .field("attempts", &self.attempts)
            .field("max_attempts", &self.max_attempts)
            .field("progress", &self.progress.percent())
            .field("current_step", &self.current_step)
            .field("run_at", &self.run_at)
            .field("unique_key", &self.unique_key)
            .field("waiting_for", &self.waiting_for)
            .field("cancelled_by", &self.cancelled_by)
            .field("locked_by", &self.locked_by)
            .field("error", &error)
            .field("input", &self.input)
            .field("output", &self.output)
            .finish_non_exhaustive()
    }
}

impl AgentJob {
    /// Reads a row, typing its input and output by the row's agent type. A column that does
    /// not decode (JSON that does not fit the type, a progress outside 0–100: a row written
    /// by other means) is reported, never replaced by a default.
    pub(crate) fn decode(row: agent_jobs::Model) -> Result<Self, UndecodableRow> {
        let id = row.id;
        let undecodable = |column| UndecodableRow {
            table: Table::AgentJobs,
            column,
            row: id,
        };
        let input = JobInput::from_json(row.r#type, row.input).ok_or(undecodable("input"))?;
        let output = match row.output {
            Some(json) => {
                Some(JobOutput::from_json(row.r#type, json).ok_or(undecodable("output"))?)
            }
            None => None,
        };
        let progress = u8::try_from(row.progress)
            .ok()
            .and_then(|p| Progress::new(p).ok())
            .ok_or(undecodable("progress"))?;
        Ok(Self {
            id: row.id,
            store_id: row.store_id,
            input,
            status: row.status,
            priority: row.priority,
            output,
            error: row.error,
            progress,
            current_step: row.current_step,
            attempts: row.attempts,
            max_attempts: row.max_attempts,
            run_at: row.run_at,
            started_at: row.started_at,
            completed_at: row.completed_at,
            locked_by: row.locked_by,
            heartbeat_at: row.heartbeat_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
            unique_key: row.unique_key,
            waiting_for: row.waiting_for,
            cancelled_by: row.cancelled_by,
        })
    }
}

impl TryFrom<agent_jobs::Model> for AgentJob {
    type Error = Error;

    /// Reads a row, typing its input and output by the row's agent type.
    ///
    /// # Errors
    /// [`Error::Undecodable`] naming `agent_jobs` and the column (`input`, `output`,
    /// `progress`) when a stored value does not fit its type.
    fn try_from(row: agent_jobs::Model) -> Result<Self> {
        Self::decode(row).map_err(Error::from)
    }
}

/// Cuts `text` to at most `max` characters.
pub(crate) fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => text[..at].to_owned(),
        None => text.to_owned(),
    }
}
