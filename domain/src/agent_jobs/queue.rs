//! The store side of the queue: creating jobs and cancelling them.

use chrono::{DateTime, FixedOffset};
use entity::agent_jobs::{self, Column, Entity};
use sea_orm::sea_query::{LockType, SimpleExpr};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, IntoActiveModel,
    QueryFilter, QuerySelect, TransactionSession, TransactionTrait,
};
use uuid::Uuid;

use super::{
    AgentJob, AgentType, DEFAULT_MAX_ATTEMPTS, JobInput, JobOwner, JobStatus, MAX_ATTEMPTS,
    UniqueKey, wakeup,
};
use crate::clock;
use crate::db::begin_write;
use crate::error::{Error, Result, Table, Transition, Violation};
use crate::txn::retry_transient;
use crate::violations::OnTable;

/// Rows per `INSERT` of [`create_many`]: 19 columns each stays well under every backend's
/// limit of bound parameters (SQLite's is the lowest, 32,766).
const INSERT_CHUNK: usize = 1_000;
/// Bytes of input JSON per `INSERT` of [`create_many`], at most (counted with a margin for
/// the other columns): a batch of large inputs (an image job's twenty long URLs is about
/// 45 kB) is split so that no statement nears MariaDB's default `max_allowed_packet` (16 MiB).
const INSERT_CHUNK_BYTES: usize = 4 * 1024 * 1024;
/// What the columns besides the input add to a row's size in a statement, at most.
const ROW_OVERHEAD_BYTES: usize = 1_024;

/// A job to create: its input (which decides the agent type), and when and how it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    /// What the agent is given.
    pub input: JobInput,
    /// Higher runs first; default 0.
    pub priority: i32,
    /// Not claimable before this instant; default now.
    pub run_at: Option<DateTime<FixedOffset>>,
    /// Attempts before the job fails for good, 1 to [`MAX_ATTEMPTS`]; default
    /// [`DEFAULT_MAX_ATTEMPTS`].
    pub max_attempts: i32,
    /// While a job of the same owner with this key is PENDING or PROCESSING, creating this
    /// one returns that job instead; default none.
    pub unique_key: Option<UniqueKey>,
    /// Existing jobs (of the same owner) that must all COMPLETE before this one is
    /// claimable; default none.
    pub depends_on: Vec<Uuid>,
}

impl NewJob {
    /// A job for `input` with priority 0, runnable now, [`DEFAULT_MAX_ATTEMPTS`] attempts.
    pub fn new(input: JobInput) -> Self {
        Self {
            input,
            priority: 0,
            run_at: None,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            unique_key: None,
            depends_on: Vec::new(),
        }
    }

    /// Makes the job unique by `key` among its owner's PENDING and PROCESSING jobs.
    #[must_use]
    pub fn unique(mut self, key: UniqueKey) -> Self {
        self.unique_key = Some(key);
        self
    }

    /// Makes the job wait for existing jobs: it is claimable once all of them COMPLETED, and
    /// cancelled when one of them fails for good or is cancelled.
    #[must_use]
    pub fn after(mut self, jobs: impl IntoIterator<Item = Uuid>) -> Self {
        for id in jobs {
            if !self.depends_on.contains(&id) {
                self.depends_on.push(id);
            }
        }
        self
    }

    /// Whether creating the job needs more than one INSERT (a key to check, edges to add).
    fn is_plain(&self) -> bool {
        self.unique_key.is_none() && self.depends_on.is_empty()
    }

    /// Sets the priority (higher runs first).
    #[must_use]
    pub fn priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }

    /// Schedules the job: not claimable before `at`.
    #[must_use]
    pub fn run_at(mut self, at: DateTime<FixedOffset>) -> Self {
        self.run_at = Some(at);
        self
    }

    /// Sets how many attempts the job gets.
    #[must_use]
    pub fn max_attempts(mut self, attempts: i32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// Validates the job and makes its row.
    pub(super) fn into_row(
        self,
        owner: JobOwner,
        now: DateTime<FixedOffset>,
    ) -> Result<agent_jobs::Model> {
        let input = self.input.stored_json()?;
        // SQLite compares times as text and MariaDB's datetime ends with year 9999: a time
        // outside 1970..=9999 would be claimed at once on one and refused by the other.
        let run_at = self
            .run_at
            .map(|at| clock::bounded("agent_jobs.run_at", at))
            .transpose()?
            .unwrap_or(now);
        if !(1..=MAX_ATTEMPTS).contains(&self.max_attempts) {
            return Err(Error::Invalid {
                field: "agent_jobs.max_attempts",
                violation: Violation::OutOfRange {
                    min: 1,
                    max: MAX_ATTEMPTS.into(),
                },
            });
        }
        Ok(agent_jobs::Model {
            id: Uuid::now_v7(),
            store_id: owner.0,
            r#type: self.input.agent_type(),
            status: JobStatus::Pending,
            priority: self.priority,
            input,
            output: None,
            error: None,
            started_at: None,
            completed_at: None,
            progress: 0,
            current_step: None,
            created_at: now,
            updated_at: now,
            attempts: 0,
            max_attempts: self.max_attempts,
            run_at,
            locked_by: None,
            heartbeat_at: None,
            unique_key: self.unique_key.map(|key| key.as_str().to_owned()),
            cancelled_by: None,
            has_dependants: false,
            waiting_for: 0,
        })
    }
}

/// Creates (enqueues) one job for `owner` (a store through its scope, or
/// [`JobOwner::SYSTEM`]). On Postgres, idle workers are notified when the write commits.
///
/// With a [`NewJob::unique`] key that a PENDING or PROCESSING job of the owner holds, nothing
/// is created and that job is returned (concurrent calls with one key make one job). With
/// [`NewJob::after`], the job waits for those jobs (see [`super::create_graph`]).
///
/// # Errors
/// [`Error::Invalid`] for a bad input field (see [`JobInput::validate`]),
/// `agent_jobs.max_attempts` ([`Violation::OutOfRange`]) or `agent_jobs.run_at`
/// ([`Violation::TimeOutOfRange`]): nothing is written; [`Error::Transient`] when it lost a
/// deadlock inside the caller's transaction; [`Error::Database`].
#[tracing::instrument(skip_all, err, fields(store_id, job_id))]
pub async fn create<C>(db: &C, owner: impl Into<JobOwner>, job: NewJob) -> Result<AgentJob>
where
    C: ConnectionTrait + TransactionTrait,
{
    let owner = owner.into();
    owner.record();
    if !job.is_plain() {
        let mut graph = super::Graph::new();
        graph.add(job);
        let job = super::create_graph(db, owner, graph)
            .await?
            .pop()
            .ok_or(Error::NotFound {
                entity: Table::AgentJobs,
            })?;
        tracing::Span::current().record("job_id", tracing::field::display(job.id));
        return Ok(job);
    }
    let row = job.into_row(owner, clock::now())?;
    tracing::Span::current().record("job_id", tracing::field::display(row.id));
    insert_rows(db, vec![row.clone()]).await?;
    AgentJob::try_from(row)
}

/// Creates (enqueues) many jobs for `owner` at once: all or none, one `INSERT` per 1,000 jobs
/// (or per 4 MiB of input, so that a batch of large inputs fits every backend's packet limit),
/// one notification per agent type. Returns their ids in the order given. Jobs with a unique
/// key or parents go through [`super::create_graph`] (one transaction, an INSERT each), and a
/// taken key gives the id of the job holding it.
///
/// # Errors
/// [`Error::Invalid`] for the first bad job (nothing is written); [`Error::Transient`] when
/// it lost a deadlock inside the caller's transaction; [`Error::Database`].
#[tracing::instrument(skip_all, err, fields(store_id, jobs))]
pub async fn create_many<C>(
    db: &C,
    owner: impl Into<JobOwner>,
    jobs: impl IntoIterator<Item = NewJob>,
) -> Result<Vec<Uuid>>
where
    C: ConnectionTrait + TransactionTrait,
{
    let owner = owner.into();
    owner.record();
    let jobs: Vec<NewJob> = jobs.into_iter().collect();
    if !jobs.iter().all(NewJob::is_plain) {
        let mut graph = super::Graph::new();
        for job in jobs {
            graph.add(job);
        }
        let created = super::create_graph(db, owner, graph).await?;
        return Ok(created.into_iter().map(|job| job.id).collect());
    }
    let now = clock::now();
    let rows = jobs
        .into_iter()
        .map(|job| job.into_row(owner, now))
        .collect::<Result<Vec<_>>>()?;
    tracing::Span::current().record("jobs", rows.len());
    let ids = rows.iter().map(|row| row.id).collect();
    insert_rows(db, rows).await?;
    Ok(ids)
}

async fn insert_rows<C>(db: &C, rows: Vec<agent_jobs::Model>) -> Result<()>
where
    C: ConnectionTrait + TransactionTrait,
{
    let mut types: Vec<AgentType> = Vec::new();
    for row in &rows {
        if !types.contains(&row.r#type) {
            types.push(row.r#type);
        }
    }
    let postgres = db.get_database_backend() == DbBackend::Postgres;
    if rows.is_empty() {
        return Ok(());
    }
    let chunks = chunked(rows);
    if chunks.len() == 1 && !postgres {
        // One statement: atomic on its own.
        return retry_transient(db, || insert_chunk(db, chunks[0].clone())).await;
    }
    // Several statements, or the insert and its notification (sent on commit): one
    // transaction (a savepoint when `db` is one already).
    retry_transient(db, || async {
        let txn = begin_write(db).await?;
        for chunk in &chunks {
            insert_chunk(&txn, chunk.clone()).await?;
        }
        wakeup::notify(&txn, types.iter().copied().map(Some)).await?;
        txn.commit().await?;
        Ok(())
    })
    .await
}

/// Splits rows into statements of at most [`INSERT_CHUNK`] rows and about
/// [`INSERT_CHUNK_BYTES`] (a single larger row goes alone).
fn chunked(rows: Vec<agent_jobs::Model>) -> Vec<Vec<agent_jobs::Model>> {
    let mut chunks = Vec::new();
    let mut chunk: Vec<agent_jobs::Model> = Vec::new();
    let mut bytes = 0;
    for row in rows {
        let size = row.input.to_string().len() + ROW_OVERHEAD_BYTES;
        if !chunk.is_empty() && (chunk.len() >= INSERT_CHUNK || bytes + size > INSERT_CHUNK_BYTES) {
            chunks.push(std::mem::take(&mut chunk));
            bytes = 0;
        }
        bytes += size;
        chunk.push(row);
    }
    if !chunk.is_empty() {
        chunks.push(chunk);
    }
    chunks
}

async fn insert_chunk<C: ConnectionTrait>(db: &C, rows: Vec<agent_jobs::Model>) -> Result<()> {
    Entity::insert_many(rows.into_iter().map(IntoActiveModel::into_active_model))
        .exec_without_returning(db)
        .await
        .on_table("agent_jobs")?;
    Ok(())
}

/// The condition "belongs to `owner`".
pub(super) fn owned_by(owner: JobOwner) -> SimpleExpr {
    match owner.0 {
        Some(store_id) => Column::StoreId.eq(store_id),
        None => Column::StoreId.is_null(),
    }
}

/// Cancels the job `id` of `owner` when it is PENDING or PROCESSING, and with it every job
/// that waits for it (transitively, each with the reason). A worker holding it learns it at
/// its next progress, heartbeat or completion ([`Error::JobReleased`]), and nothing it writes
/// afterwards changes the job.
///
/// # Errors
/// [`Error::NotFound`] ([`Table::AgentJobs`]) when it does not exist or belongs to another
/// owner; [`Error::InvalidTransition`] from COMPLETED, FAILED or CANCELLED;
/// [`Error::Transient`]; [`Error::Database`].
#[tracing::instrument(skip_all, err, fields(job_id = %id, store_id))]
pub async fn cancel<C>(db: &C, owner: impl Into<JobOwner>, id: Uuid) -> Result<()>
where
    C: ConnectionTrait + TransactionTrait,
{
    let owner = owner.into();
    owner.record();
    retry_transient(db, || async {
        let txn = begin_write(db).await?;
        // Locked, so that a claim or a retry cannot move it between the read and the write.
        let status: JobStatus = Entity::find_by_id(id)
            .select_only()
            .column(Column::Status)
            .filter(owned_by(owner))
            .lock(LockType::Update)
            .into_tuple()
            .one(&txn)
            .await?
            .ok_or(Error::NotFound {
                entity: Table::AgentJobs,
            })?;
        if !matches!(status, JobStatus::Pending | JobStatus::Processing) {
            return Err(Error::InvalidTransition(Transition::AgentJob {
                from: status,
                to: JobStatus::Cancelled,
            }));
        }
        let now = clock::now();
        Entity::update_many()
            .set(agent_jobs::ActiveModel {
                status: Set(JobStatus::Cancelled),
                completed_at: Set(Some(now)),
                heartbeat_at: Set(None),
                updated_at: Set(now),
                ..Default::default()
            })
            .filter(Column::Id.eq(id))
            .exec(&txn)
            .await
            .on_table("agent_jobs")?;
        super::dependants::ended(&txn, id, JobStatus::Cancelled).await?;
        txn.commit().await?;
        Ok(())
    })
    .await
}
