//! The store side of the queue (enqueue, read, cancel, count) and its upkeep (rescue, prune).

use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use entity::agent_jobs::{self, Column, Entity};
use sea_orm::sea_query::{Expr, ExprTrait, SimpleExpr};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect, TransactionSession, TransactionTrait,
};
use uuid::Uuid;

use super::{
    AgentJob, AgentType, DEFAULT_MAX_ATTEMPTS, JobInput, JobOwner, JobStatus, MAX_ATTEMPTS, wakeup,
};
use crate::clock;
use crate::db::begin_write;
use crate::error::{Error, Result, Table, Transition, Violation};
use crate::txn::retry_transient;
use crate::violations::OnTable;

/// Rows per `INSERT` of [`enqueue_many`]: 19 columns each stays well under every backend's
/// limit of bound parameters (SQLite's is the lowest, 32,766).
const INSERT_CHUNK: usize = 1_000;
/// Bytes of input JSON per `INSERT` of [`enqueue_many`], at most (counted with a margin for
/// the other columns): a batch of large inputs (an image job's twenty long URLs is about
/// 45 kB) is split so that no statement nears MariaDB's default `max_allowed_packet` (16 MiB).
const INSERT_CHUNK_BYTES: usize = 4 * 1024 * 1024;
/// What the columns besides the input add to a row's size in a statement, at most.
const ROW_OVERHEAD_BYTES: usize = 1_024;
/// The largest page [`list`] returns.
pub const MAX_PAGE: u64 = 100;
/// The error kept on a job that [`rescue`] took back from a silent worker.
pub const RESCUED_ERROR: &str = "the worker stopped heartbeating";

/// A job to enqueue: its input (which decides the agent type), and when and how it runs.
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
}

impl NewJob {
    /// A job for `input` with priority 0, runnable now, [`DEFAULT_MAX_ATTEMPTS`] attempts.
    pub fn new(input: JobInput) -> Self {
        Self {
            input,
            priority: 0,
            run_at: None,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
        }
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
    fn into_row(self, owner: JobOwner, now: DateTime<FixedOffset>) -> Result<agent_jobs::Model> {
        let input = self.input.stored_json()?;
        // SQLite compares times as text and MariaDB's datetime ends with year 9999: a time
        // outside 1970..=9999 would be claimed at once on one and refused by the other.
        let run_at = self
            .run_at
            .map(|at| clock::bounded("run_at", at))
            .transpose()?
            .unwrap_or(now);
        if !(1..=MAX_ATTEMPTS).contains(&self.max_attempts) {
            return Err(Error::Invalid {
                field: "max_attempts",
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
        })
    }
}

/// Enqueues one job for `owner` (a store through its scope, or [`JobOwner::SYSTEM`]). On
/// Postgres, idle workers are notified when the write commits.
///
/// # Errors
/// [`Error::Invalid`] for a bad input field (see [`JobInput::validate`]), `max_attempts`
/// ([`Violation::OutOfRange`]) or `run_at` ([`Violation::TimeOutOfRange`]): nothing is
/// written; [`Error::Transient`] when it lost a deadlock inside the caller's transaction;
/// [`Error::Database`].
pub async fn enqueue<C>(db: &C, owner: impl Into<JobOwner>, job: NewJob) -> Result<AgentJob>
where
    C: ConnectionTrait + TransactionTrait,
{
    let row = job.into_row(owner.into(), clock::now())?;
    insert_rows(db, vec![row.clone()]).await?;
    AgentJob::try_from(row)
}

/// Enqueues many jobs for `owner` at once: all or none, one `INSERT` per 1,000 jobs (or per
/// 4 MiB of input, so that a batch of large inputs fits every backend's packet limit), one
/// notification per agent type. Returns their ids in the order given.
///
/// # Errors
/// [`Error::Invalid`] for the first bad job (nothing is written); [`Error::Database`].
pub async fn enqueue_many<C>(
    db: &C,
    owner: impl Into<JobOwner>,
    jobs: impl IntoIterator<Item = NewJob>,
) -> Result<Vec<Uuid>>
where
    C: ConnectionTrait + TransactionTrait,
{
    let owner = owner.into();
    let now = clock::now();
    let rows = jobs
        .into_iter()
        .map(|job| job.into_row(owner, now))
        .collect::<Result<Vec<_>>>()?;
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

/// The job `id` of `owner`, if there is one.
///
/// # Errors
/// [`Error::Invalid`] naming `agent_jobs.input` or `agent_jobs.output`
/// ([`Violation::Format`]) when the stored JSON of this job does not read as its type (a
/// row written by other means: nothing this crate writes is refused on the way back);
/// [`Error::Database`].
pub async fn find<C: ConnectionTrait>(
    db: &C,
    owner: impl Into<JobOwner>,
    id: Uuid,
) -> Result<Option<AgentJob>> {
    Entity::find_by_id(id)
        .filter(owned_by(owner.into()))
        .one(db)
        .await?
        .map(AgentJob::try_from)
        .transpose()
}

/// The job `id` of `owner`.
///
/// # Errors
/// [`Error::NotFound`] (`"agent_job"`) when it does not exist or belongs to another owner;
/// [`Error::Invalid`] as [`find`] says; [`Error::Database`].
pub async fn get<C: ConnectionTrait>(
    db: &C,
    owner: impl Into<JobOwner>,
    id: Uuid,
) -> Result<AgentJob> {
    find(db, owner, id).await?.ok_or(Error::NotFound {
        entity: Table::AgentJobs,
    })
}

/// Where a page of [`list`] starts: after the last job of the previous page. Opaque: pass on
/// what [`JobPage::next`] gave, or its text form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct JobCursor(Uuid);

impl std::fmt::Display for JobCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.simple())
    }
}

impl std::str::FromStr for JobCursor {
    type Err = Error;

    /// Reads a cursor from its text form.
    fn from_str(s: &str) -> Result<Self> {
        Uuid::try_parse(s)
            .map(JobCursor)
            .map_err(|_| Error::Invalid {
                field: "cursor",
                violation: Violation::Format,
            })
    }
}

/// Which jobs [`list`] returns, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFilter {
    /// Only jobs in this status.
    pub status: Option<JobStatus>,
    /// Only jobs of this agent type.
    pub agent_type: Option<AgentType>,
    /// Continue after this cursor.
    pub after: Option<JobCursor>,
    /// Page size, 1 to [`MAX_PAGE`].
    pub limit: u64,
}

impl Default for JobFilter {
    fn default() -> Self {
        Self {
            status: None,
            agent_type: None,
            after: None,
            limit: 50,
        }
    }
}

/// One page of jobs, and where the next one starts (`None` on the last page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobPage {
    /// The jobs, newest first.
    pub jobs: Vec<AgentJob>,
    /// Jobs of the page whose stored input or output does not read as their type (rows
    /// written by other means than this crate, which refuses such payloads at the write).
    /// They are reported here instead of failing the whole page; [`get`] on one of them
    /// answers the same error.
    pub unreadable: Vec<UnreadableJob>,
    /// The cursor of the next page.
    pub next: Option<JobCursor>,
}

/// A job that [`list`] found but could not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableJob {
    /// The job's id.
    pub id: Uuid,
    /// Its agent type.
    pub agent_type: AgentType,
    /// Its status.
    pub status: JobStatus,
    /// The column that does not read (`agent_jobs.input`, `agent_jobs.output`, …).
    pub field: &'static str,
    /// Why.
    pub violation: Violation,
}

/// A page of `owner`'s jobs, newest first. A job whose stored payload does not read is
/// listed in [`JobPage::unreadable`], never a reason to fail the page.
///
/// # Errors
/// [`Error::Invalid`] (`limit`, [`Violation::OutOfRange`]); [`Error::Database`].
pub async fn list<C: ConnectionTrait>(
    db: &C,
    owner: impl Into<JobOwner>,
    filter: &JobFilter,
) -> Result<JobPage> {
    if !(1..=MAX_PAGE).contains(&filter.limit) {
        return Err(Error::Invalid {
            field: "limit",
            violation: Violation::OutOfRange {
                min: 1,
                max: MAX_PAGE as i64,
            },
        });
    }
    let mut query = Entity::find().filter(owned_by(owner.into()));
    if let Some(status) = filter.status {
        query = query.filter(Column::Status.eq(status));
    }
    if let Some(agent_type) = filter.agent_type {
        query = query.filter(Column::Type.eq(agent_type));
    }
    if let Some(JobCursor(after)) = filter.after {
        query = query.filter(Column::Id.lt(after));
    }
    let mut rows = query
        .order_by_desc(Column::Id)
        .limit(filter.limit + 1)
        .all(db)
        .await?;
    let more = rows.len() as u64 > filter.limit;
    rows.truncate(filter.limit as usize);
    let next = if more {
        rows.last().map(|row| JobCursor(row.id))
    } else {
        None
    };
    let mut jobs = Vec::with_capacity(rows.len());
    let mut unreadable = Vec::new();
    for row in rows {
        let (id, agent_type, status) = (row.id, row.r#type, row.status);
        match AgentJob::try_from(row) {
            Ok(job) => jobs.push(job),
            Err(Error::Invalid { field, violation }) => {
                tracing::warn!(job_id = %id, field, "an agent job's stored payload does not read");
                unreadable.push(UnreadableJob {
                    id,
                    agent_type,
                    status,
                    field,
                    violation,
                });
            }
            Err(other) => return Err(other),
        }
    }
    Ok(JobPage {
        jobs,
        unreadable,
        next,
    })
}

/// Cancels the job `id` of `owner` when it is PENDING or PROCESSING. A worker holding it
/// learns it at its next progress, heartbeat or completion ([`Error::JobReleased`]), and
/// nothing it writes afterwards changes the job.
///
/// # Errors
/// [`Error::NotFound`] (`"agent_job"`) when it does not exist or belongs to another owner;
/// [`Error::InvalidTransition`] from COMPLETED, FAILED or CANCELLED; [`Error::Database`].
pub async fn cancel<C: ConnectionTrait>(
    db: &C,
    owner: impl Into<JobOwner>,
    id: Uuid,
) -> Result<()> {
    let owner = owner.into();
    // A job may change between the refused update and the read that explains it (a claim,
    // a retry): a few rounds settle it.
    for _ in 0..3 {
        let now = clock::now();
        let cancelled = Entity::update_many()
            .set(agent_jobs::ActiveModel {
                status: Set(JobStatus::Cancelled),
                completed_at: Set(Some(now)),
                heartbeat_at: Set(None),
                updated_at: Set(now),
                ..Default::default()
            })
            .filter(Column::Id.eq(id))
            .filter(owned_by(owner))
            .filter(Column::Status.is_in([JobStatus::Pending, JobStatus::Processing]))
            .exec(db)
            .await
            .on_table("agent_jobs")?;
        if cancelled.rows_affected > 0 {
            return Ok(());
        }
        let status = Entity::find_by_id(id)
            .select_only()
            .column(Column::Status)
            .filter(owned_by(owner))
            .into_tuple::<JobStatus>()
            .one(db)
            .await?;
        match status {
            None => {
                return Err(Error::NotFound {
                    entity: Table::AgentJobs,
                });
            }
            Some(JobStatus::Pending | JobStatus::Processing) => continue,
            Some(status) => {
                return Err(Error::InvalidTransition(Transition::AgentJob {
                    from: status,
                    to: JobStatus::Cancelled,
                }));
            }
        }
    }
    Err(Error::InvalidTransition(Transition::AgentJob {
        from: JobStatus::Processing,
        to: JobStatus::Cancelled,
    }))
}

/// How many jobs an owner has, by agent type and status: the dashboard's numbers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JobCounts {
    entries: Vec<(AgentType, JobStatus, u64)>,
}

impl JobCounts {
    /// Jobs of `agent_type` in `status`.
    pub fn get(&self, agent_type: AgentType, status: JobStatus) -> u64 {
        self.sum(|t, s| t == agent_type && s == status)
    }

    /// Jobs in `status`, of every type.
    pub fn by_status(&self, status: JobStatus) -> u64 {
        self.sum(|_, s| s == status)
    }

    /// Jobs of `agent_type`, in every status.
    pub fn by_type(&self, agent_type: AgentType) -> u64 {
        self.sum(|t, _| t == agent_type)
    }

    /// Every job.
    pub fn total(&self) -> u64 {
        self.sum(|_, _| true)
    }

    /// Each (type, status) that has jobs, with its count.
    pub fn iter(&self) -> impl Iterator<Item = (AgentType, JobStatus, u64)> + '_ {
        self.entries.iter().copied()
    }

    fn sum(&self, keep: impl Fn(AgentType, JobStatus) -> bool) -> u64 {
        self.entries
            .iter()
            .filter(|(t, s, _)| keep(*t, *s))
            .map(|(_, _, n)| n)
            .sum()
    }
}

/// Counts `owner`'s jobs by agent type and status, in one query.
///
/// # Errors
/// [`Error::Database`].
pub async fn counts<C: ConnectionTrait>(db: &C, owner: impl Into<JobOwner>) -> Result<JobCounts> {
    let rows = Entity::find()
        .select_only()
        .column(Column::Type)
        .column(Column::Status)
        .column_as(Column::Id.count(), "jobs")
        .filter(owned_by(owner.into()))
        .group_by(Column::Type)
        .group_by(Column::Status)
        .into_tuple::<(AgentType, JobStatus, i64)>()
        .all(db)
        .await?;
    Ok(JobCounts {
        entries: rows
            .into_iter()
            .map(|(t, s, n)| (t, s, u64::try_from(n).unwrap_or(0)))
            .collect(),
    })
}

/// What [`rescue`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RescueReport {
    /// Jobs put back to PENDING, runnable at once.
    pub requeued: u64,
    /// Jobs that had spent their attempts, now FAILED.
    pub failed: u64,
}

/// Takes back PROCESSING jobs whose heartbeat is older than `lease` (their worker is gone):
/// to PENDING, runnable at once, while attempts remain; else to FAILED. Either way the error
/// says [`RESCUED_ERROR`] and the old worker's handle can no longer write. Run it
/// periodically with a lease well above the workers' heartbeat interval.
///
/// # Errors
/// [`Error::Database`].
pub async fn rescue<C: ConnectionTrait>(db: &C, lease: Duration) -> Result<RescueReport> {
    let now = clock::now();
    let cutoff = before(now, lease);
    let silent = Column::Status.eq(JobStatus::Processing).and(
        Column::HeartbeatAt
            .lt(cutoff)
            .or(Column::HeartbeatAt.is_null()),
    );
    let failed = Entity::update_many()
        .set(agent_jobs::ActiveModel {
            status: Set(JobStatus::Failed),
            error: Set(Some(RESCUED_ERROR.to_owned())),
            completed_at: Set(Some(now)),
            heartbeat_at: Set(None),
            updated_at: Set(now),
            ..Default::default()
        })
        .filter(silent.clone())
        .filter(Expr::col(Column::Attempts).gte(Expr::col(Column::MaxAttempts)))
        .exec(db)
        .await
        .on_table("agent_jobs")?
        .rows_affected;
    let requeued = Entity::update_many()
        .set(agent_jobs::ActiveModel {
            status: Set(JobStatus::Pending),
            error: Set(Some(RESCUED_ERROR.to_owned())),
            locked_by: Set(None),
            heartbeat_at: Set(None),
            run_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        })
        .filter(silent)
        .filter(Expr::col(Column::Attempts).lt(Expr::col(Column::MaxAttempts)))
        .exec(db)
        .await
        .on_table("agent_jobs")?
        .rows_affected;
    if requeued > 0 {
        wakeup::notify(db, [None]).await?;
    }
    Ok(RescueReport { requeued, failed })
}

/// Deletes finished jobs (COMPLETED, FAILED, CANCELLED) whose last change is older than
/// `older_than`, of every owner. Returns how many were deleted.
///
/// # Errors
/// [`Error::Database`].
pub async fn prune<C: ConnectionTrait>(db: &C, older_than: Duration) -> Result<u64> {
    let cutoff = before(clock::now(), older_than);
    let deleted = Entity::delete_many()
        .filter(Column::Status.is_in([
            JobStatus::Completed,
            JobStatus::Failed,
            JobStatus::Cancelled,
        ]))
        .filter(Column::UpdatedAt.lt(cutoff))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected)
}

/// `now - age`, or the Unix epoch when that would be earlier (or not representable).
pub(super) fn before(now: DateTime<FixedOffset>, age: Duration) -> DateTime<FixedOffset> {
    let epoch = DateTime::UNIX_EPOCH.fixed_offset();
    chrono::Duration::from_std(age)
        .ok()
        .and_then(|age| now.checked_sub_signed(age))
        .map_or(epoch, |at| Ord::max(at, epoch))
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]

        /// Any text: no panic; a cursor that parses prints back to a text that parses to it.
        #[test]
        fn a_cursor_reads_back_from_its_text(text in prop_oneof!["[0-9a-f\\-]{30,40}", any::<String>()], n in any::<u128>()) {
            if let Ok(cursor) = text.parse::<JobCursor>() {
                prop_assert_eq!(cursor.to_string().parse::<JobCursor>().ok(), Some(cursor));
            }
            let cursor = JobCursor(Uuid::from_u128(n));
            prop_assert_eq!(cursor.to_string().parse::<JobCursor>().ok(), Some(cursor));
        }

        /// Lease arithmetic never panics and never goes before the epoch or after now.
        #[test]
        fn before_stays_between_the_epoch_and_now(secs in any::<u64>(), nanos in 0u32..1_000_000_000) {
            let now = clock::now();
            let at = before(now, Duration::new(secs, nanos));
            prop_assert!(at <= now);
            prop_assert!(at >= DateTime::UNIX_EPOCH.fixed_offset());
        }
    }
}
