//! The worker side: claiming the next runnable job, and the handle that reports on it.

use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use entity::agent_jobs::{self, Column, Entity};
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType, SimpleExpr};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Select, TransactionSession, TransactionTrait,
};
use uuid::Uuid;

use super::{
    AgentJob, AgentType, JobInput, JobOutput, JobStatus, MAX_ERROR, MAX_STEP, Progress,
    ReleaseReason, WorkerId, cut, normalized,
};
use crate::clock;
use crate::error::{Error, Result, Table, Transition, Violation};
use crate::txn::retry_transient;
use crate::violations::OnTable;

/// The longest back-off of any retry, whatever a [`Backoff`] says: 30 days. It keeps the
/// next run time of a job computable and inside the range every backend stores.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// How long a failed job waits before its next attempt: exponential, with jitter.
///
/// The ceiling of attempt `n` (1-based) is `base × 2ⁿ⁻¹`, capped at `max` (and at
/// [`MAX_BACKOFF`]); the delay is drawn
/// uniformly between half the ceiling and the ceiling ("equal jitter"), so retries of many
/// jobs that failed together spread out, and each retry of one job waits at least as long as
/// the one before could have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling of the first retry.
    pub base: Duration,
    /// No delay is longer than this.
    pub max: Duration,
}

impl Backoff {
    /// 10 s, 20 s, 40 s … up to one hour.
    pub const DEFAULT: Backoff = Backoff {
        base: Duration::from_secs(10),
        max: Duration::from_secs(3_600),
    };

    /// The longest delay after failed attempt `attempt` (1-based).
    pub fn ceiling(&self, attempt: i32) -> Duration {
        let doublings = u32::try_from(attempt.saturating_sub(1).clamp(0, 31)).unwrap_or(31);
        self.base
            .saturating_mul(2u32.saturating_pow(doublings))
            .min(self.max)
            .min(MAX_BACKOFF)
    }

    /// A delay after failed attempt `attempt`: between half of [`Backoff::ceiling`] and all
    /// of it, at random.
    pub fn delay(&self, attempt: i32) -> Duration {
        let ceiling = self.ceiling(attempt);
        let half = ceiling / 2;
        let spread = u64::try_from((ceiling - half).as_nanos()).unwrap_or(u64::MAX);
        half + Duration::from_nanos(rand::random_range(0..=spread))
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A worker: who it is, which agent types it runs, and how its failed jobs back off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Worker {
    id: WorkerId,
    types: Vec<AgentType>,
    backoff: Backoff,
}

impl Worker {
    /// A worker that runs every agent type, with [`Backoff::DEFAULT`].
    pub fn new(id: WorkerId) -> Self {
        Self {
            id,
            types: Vec::new(),
            backoff: Backoff::DEFAULT,
        }
    }

    /// Runs only jobs of these agent types (none given: every type).
    #[must_use]
    pub fn only(mut self, types: impl IntoIterator<Item = AgentType>) -> Self {
        // Each type once: the claim's `IN (…)` stays a handful of values whatever is given.
        self.types.clear();
        for agent_type in types {
            if !self.types.contains(&agent_type) {
                self.types.push(agent_type);
            }
        }
        self
    }

    /// Uses this back-off for the jobs it fails.
    #[must_use]
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The worker's id, stored in `locked_by` of the jobs it holds.
    pub fn id(&self) -> &WorkerId {
        &self.id
    }

    /// The agent types it runs; empty means every type.
    pub fn types(&self) -> &[AgentType] {
        &self.types
    }

    /// Claims the next runnable job: PENDING, `run_at` reached, of one of the worker's types;
    /// highest priority first, then earliest `run_at`, then oldest. The job becomes
    /// PROCESSING, held by this worker, with one more attempt, its start time and heartbeat
    /// set, and progress back at 0. `None` when nothing is runnable.
    ///
    /// No job is ever handed to two workers: on Postgres one `UPDATE … WHERE id = (SELECT …
    /// LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING *`; on SQLite the same statement, made safe
    /// by the database's single writer; on MariaDB/MySQL (no `RETURNING`) a READ COMMITTED
    /// transaction that selects the row `FOR UPDATE SKIP LOCKED` and updates it.
    ///
    /// A job whose stored input does not read as its type (a row written by other means:
    /// this crate refuses such input at the enqueue) can never run: the claim fails it for
    /// good at once, with the reason in its error, and goes on to the next job.
    ///
    /// # Errors
    /// [`Error::Transient`] when it lost a deadlock inside the caller's transaction;
    /// [`Error::Database`].
    pub async fn claim<C>(&self, db: &C) -> Result<Option<ClaimedJob>>
    where
        C: ConnectionTrait + TransactionTrait,
    {
        loop {
            let row = match db.get_database_backend() {
                DbBackend::MySql => {
                    // InnoDB may still pick a deadlock victim among concurrent claims; the
                    // victim's transaction is rolled back whole, so trying again is safe.
                    retry_transient(db, || self.claim_in_transaction(db)).await?
                }
                _ => self.claim_returning(db).await?,
            };
            let Some(row) = row else {
                return Ok(None);
            };
            let hold = Hold {
                job_id: row.id,
                worker: self.id.clone(),
                attempt: row.attempts,
            };
            match AgentJob::try_from(row) {
                Ok(job) => {
                    return Ok(Some(ClaimedJob {
                        hold,
                        job,
                        backoff: self.backoff,
                    }));
                }
                Err(err) => {
                    tracing::warn!(job_id = %hold.job_id, error = %err, "an agent job's stored input does not read; failing it");
                    let now = clock::now();
                    Entity::update_many()
                        .set(agent_jobs::ActiveModel {
                            status: Set(JobStatus::Failed),
                            error: Set(Some(cut(
                                &format!("its stored input cannot be read: {err}"),
                                MAX_ERROR,
                            ))),
                            completed_at: Set(Some(now)),
                            heartbeat_at: Set(None),
                            updated_at: Set(now),
                            ..Default::default()
                        })
                        .filter(hold.held())
                        .exec(db)
                        .await
                        .on_table("agent_jobs")?;
                }
            }
        }
    }

    /// The next runnable job, locked and skipped by concurrent claims.
    fn next_runnable(&self, now: DateTime<FixedOffset>) -> Select<Entity> {
        let mut query = Entity::find()
            .filter(Column::Status.eq(JobStatus::Pending))
            .filter(Column::RunAt.lte(now))
            // Every PENDING job the crate writes has attempts left; a row that has none
            // (written by other means) is never claimed, so `attempts + 1` cannot overflow.
            .filter(Expr::col(Column::Attempts).lt(Expr::col(Column::MaxAttempts)));
        if !self.types.is_empty() {
            query = query.filter(Column::Type.is_in(self.types.iter().copied()));
        }
        query
            .order_by_desc(Column::Priority)
            .order_by_asc(Column::RunAt)
            .order_by_asc(Column::Id)
            .limit(1)
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
    }

    fn claimed(&self, now: DateTime<FixedOffset>) -> agent_jobs::ActiveModel {
        agent_jobs::ActiveModel {
            status: Set(JobStatus::Processing),
            locked_by: Set(Some(self.id.as_str().to_owned())),
            started_at: Set(Some(now)),
            heartbeat_at: Set(Some(now)),
            progress: Set(0),
            current_step: Set(None),
            updated_at: Set(now),
            ..Default::default()
        }
    }

    async fn claim_returning<C: ConnectionTrait>(
        &self,
        db: &C,
    ) -> Result<Option<agent_jobs::Model>> {
        let now = clock::now();
        let next = self
            .next_runnable(now)
            .select_only()
            .column(Column::Id)
            .into_query();
        // `id = (SELECT …)`, a scalar subquery, runs once. `id IN (SELECT …)` would not do:
        // Postgres may plan it as a semi-join that re-runs the subquery for each row it
        // scans, and each re-run skips the row just taken and locks the next one, so one
        // claim would take every runnable job.
        let next = Expr::SubQuery(None, Box::new(next.into()));
        let rows = Entity::update_many()
            .set(self.claimed(now))
            .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
            .filter(Expr::col((Entity, Column::Id)).eq(next))
            .filter(Column::Status.eq(JobStatus::Pending))
            .exec_with_returning(db)
            .await
            .on_table("agent_jobs")?;
        Ok(rows.into_iter().next())
    }

    async fn claim_in_transaction<C: TransactionTrait>(
        &self,
        db: &C,
    ) -> Result<Option<agent_jobs::Model>> {
        // A plain BEGIN (a savepoint inside the caller's transaction). READ COMMITTED would
        // lock fewer gaps, but MariaDB refuses to change the isolation of a transaction in
        // progress, and a failed nested BEGIN there rolls the caller's transaction back.
        let txn = db.begin().await?;
        let now = clock::now();
        let Some(row) = self.next_runnable(now).one(&txn).await? else {
            txn.commit().await?;
            return Ok(None);
        };
        Entity::update_many()
            .set(self.claimed(now))
            .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
            .filter(Column::Id.eq(row.id))
            .exec(&txn)
            .await
            .on_table("agent_jobs")?;
        txn.commit().await?;
        Ok(Some(agent_jobs::Model {
            status: JobStatus::Processing,
            locked_by: Some(self.id.as_str().to_owned()),
            attempts: row.attempts + 1,
            started_at: Some(now),
            heartbeat_at: Some(now),
            progress: 0,
            current_step: None,
            updated_at: now,
            ..row
        }))
    }
}

/// What became of a job its worker failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOutcome {
    /// Back to PENDING: attempts remain; runnable again at `run_at`.
    Retrying {
        /// The back-off drawn for this failure.
        delay: Duration,
        /// When the job becomes claimable again.
        run_at: DateTime<FixedOffset>,
    },
    /// FAILED for good: it had no attempts left (or was failed permanently).
    Failed,
}

/// A worker's hold on a claimed job: the only way to report on it, complete it or fail it.
///
/// Every write checks, in its `WHERE`, that the job is still PROCESSING, held by this worker,
/// in this attempt. Once the job is cancelled, or rescued after a missed heartbeat, the
/// handle can change nothing and its calls answer [`Error::JobReleased`] (or
/// [`Error::InvalidTransition`] when the job is no longer PROCESSING at all).
#[derive(Debug)]
pub struct ClaimedJob {
    job: AgentJob,
    hold: Hold,
    backoff: Backoff,
}

/// What identifies one hold on a job: the job, the worker, the attempt.
#[derive(Debug, Clone)]
pub(super) struct Hold {
    job_id: Uuid,
    worker: WorkerId,
    attempt: i32,
}

impl Hold {
    /// "Still PROCESSING, held by this worker, in this attempt."
    fn held(&self) -> SimpleExpr {
        Column::Id
            .eq(self.job_id)
            .and(Column::Status.eq(JobStatus::Processing))
            .and(Column::LockedBy.eq(self.worker.as_str()))
            .and(Column::Attempts.eq(self.attempt))
    }

    /// Heartbeats, and learns whether the job is still held.
    pub(super) async fn beat<C: ConnectionTrait>(&self, db: &C) -> Result<DateTime<FixedOffset>> {
        let now = clock::now();
        let updated = Entity::update_many()
            .set(agent_jobs::ActiveModel {
                heartbeat_at: Set(Some(now)),
                updated_at: Set(now),
                ..Default::default()
            })
            .filter(self.held())
            .exec(db)
            .await
            .on_table("agent_jobs")?;
        if updated.rows_affected == 0 {
            self.still_held(db, JobStatus::Processing).await?;
        }
        Ok(now)
    }

    /// After a refused write: the job's stored progress when this hold is still valid,
    /// otherwise the error that says why not. `to` is the status the write was heading for.
    async fn still_held<C: ConnectionTrait>(&self, db: &C, to: JobStatus) -> Result<i32> {
        let row = Entity::find_by_id(self.job_id)
            .select_only()
            .columns([
                Column::Status,
                Column::LockedBy,
                Column::Attempts,
                Column::Progress,
            ])
            .into_tuple::<(JobStatus, Option<String>, i32, i32)>()
            .one(db)
            .await?;
        let released = |reason| Error::JobReleased {
            job_id: self.job_id,
            reason,
        };
        match row {
            None => Err(Error::NotFound {
                entity: Table::AgentJobs,
            }),
            Some((JobStatus::Cancelled, ..)) => Err(released(ReleaseReason::Cancelled)),
            Some((JobStatus::Processing, locked_by, attempts, progress))
                if locked_by.as_deref() == Some(self.worker.as_str())
                    && attempts == self.attempt =>
            {
                Ok(progress)
            }
            Some((JobStatus::Processing, ..)) => Err(released(ReleaseReason::LeaseLost)),
            Some((status, ..)) => Err(Error::InvalidTransition(Transition::AgentJob {
                from: status,
                to,
            })),
        }
    }
}

impl ClaimedJob {
    /// The job as claimed, with what this handle has written since.
    pub fn job(&self) -> &AgentJob {
        &self.job
    }

    /// The job's id.
    pub fn id(&self) -> Uuid {
        self.job.id
    }

    /// What the agent is asked to do.
    pub fn input(&self) -> &JobInput {
        &self.job.input
    }

    /// Which attempt this is (1-based).
    pub fn attempt(&self) -> i32 {
        self.job.attempts
    }

    /// Whether a failure now fails the job for good.
    pub fn is_last_attempt(&self) -> bool {
        self.job.attempts >= self.job.max_attempts
    }

    /// The worker holding the job.
    pub fn worker_id(&self) -> &WorkerId {
        &self.hold.worker
    }

    /// The hold, for heartbeats beside the handler's own work.
    pub(super) fn hold(&self) -> Hold {
        self.hold.clone()
    }

    /// Reports progress (percent, never lower than before) and, when given, the current step;
    /// also heartbeats.
    ///
    /// # Errors
    /// [`Error::Invalid`] (`progress`): [`Violation::OutOfRange`] above 100,
    /// [`Violation::Backwards`] below the current value; (`current_step`):
    /// [`Violation::Empty`], [`Violation::TooLong`], [`Violation::ControlCharacter`]
    /// (nothing is written then). [`Error::JobReleased`] when the job was
    /// cancelled or rescued and claimed again; [`Error::InvalidTransition`] when it is no
    /// longer PROCESSING; [`Error::NotFound`] when it was deleted; [`Error::Database`].
    pub async fn report<C: ConnectionTrait>(
        &mut self,
        db: &C,
        percent: u8,
        step: Option<&str>,
    ) -> Result<()> {
        let progress = Progress::new(percent)?;
        if progress < self.job.progress {
            return Err(backwards(self.job.progress));
        }
        if let Some(step) = step {
            if step.trim().is_empty() {
                return Err(Error::Invalid {
                    field: "current_step",
                    violation: Violation::Empty,
                });
            }
            if step.chars().count() > MAX_STEP {
                return Err(Error::Invalid {
                    field: "current_step",
                    violation: Violation::TooLong { max: MAX_STEP },
                });
            }
            crate::values::printable("current_step", step)?;
        }
        let now = clock::now();
        let mut change = agent_jobs::ActiveModel {
            progress: Set(percent.into()),
            heartbeat_at: Set(Some(now)),
            updated_at: Set(now),
            ..Default::default()
        };
        if let Some(step) = step {
            change.current_step = Set(Some(step.to_owned()));
        }
        let updated = Entity::update_many()
            .set(change)
            .filter(self.hold.held())
            .filter(Column::Progress.lte(i32::from(percent)))
            .exec(db)
            .await
            .on_table("agent_jobs")?;
        if updated.rows_affected == 0 {
            // Still held: the database holds a higher progress (another handle of the same
            // attempt wrote it), or MariaDB counted an update that changed nothing.
            let stored = self.hold.still_held(db, JobStatus::Processing).await?;
            if stored > i32::from(percent) {
                return Err(backwards(Progress::new(
                    u8::try_from(stored).unwrap_or(100),
                )?));
            }
        }
        self.job.progress = progress;
        if let Some(step) = step {
            self.job.current_step = Some(step.to_owned());
        }
        self.job.heartbeat_at = Some(now);
        self.job.updated_at = now;
        Ok(())
    }

    /// Tells the queue the worker is alive (a job whose heartbeat is older than the lease is
    /// rescued), and learns whether the job was cancelled.
    ///
    /// # Errors
    /// As [`ClaimedJob::report`], without the input errors.
    pub async fn heartbeat<C: ConnectionTrait>(&mut self, db: &C) -> Result<()> {
        let now = self.hold.beat(db).await?;
        self.job.heartbeat_at = Some(now);
        self.job.updated_at = now;
        Ok(())
    }

    /// Completes the job with the agent's output: COMPLETED, progress 100, completion time
    /// set, the error of earlier attempts cleared. Returns the job as it now is.
    ///
    /// The output is checked first ([`JobOutput::validate`]: every field, at most
    /// [`super::MAX_PAYLOAD_BYTES`], and it must read back as given) and stored in the form
    /// that check returns (a brand identity trimmed); the job returned, like every later
    /// read, holds that form. A refused output writes nothing: the job stays PROCESSING and
    /// held, so check it with [`ClaimedJob::check_output`] first when the handle is still
    /// needed to fail the attempt ([`Worker::run`] does; otherwise the job is rescued when
    /// its lease runs out).
    ///
    /// # Errors
    /// [`Error::Invalid`] as [`ClaimedJob::check_output`] says; [`Error::JobReleased`];
    /// [`Error::InvalidTransition`] (e.g. from PENDING after a rescue, to COMPLETED);
    /// [`Error::NotFound`]; [`Error::Database`].
    pub async fn complete<C: ConnectionTrait>(
        mut self,
        db: &C,
        output: JobOutput,
    ) -> Result<AgentJob> {
        let output = self.check_output(output)?;
        let now = clock::now();
        self.finish(
            db,
            JobStatus::Completed,
            agent_jobs::ActiveModel {
                status: Set(JobStatus::Completed),
                output: Set(Some(output.to_json())),
                error: Set(None),
                progress: Set(100),
                completed_at: Set(Some(now)),
                heartbeat_at: Set(None),
                updated_at: Set(now),
                ..Default::default()
            },
        )
        .await?;
        self.job.status = JobStatus::Completed;
        self.job.output = Some(output);
        self.job.error = None;
        self.job.progress = Progress::DONE;
        self.job.completed_at = Some(now);
        self.job.heartbeat_at = None;
        self.job.updated_at = now;
        Ok(self.job)
    }

    /// Checks an output for this job, as [`ClaimedJob::complete`] would, without writing:
    /// gives the form that would be stored.
    ///
    /// # Errors
    /// [`Error::Invalid`]: `output` with [`Violation::AgentTypeMismatch`] when it is of
    /// another agent type, with [`Violation::TooLarge`] over [`super::MAX_PAYLOAD_BYTES`];
    /// the field and its rule otherwise (see [`JobOutput::validate`]).
    pub fn check_output(&self, output: JobOutput) -> Result<JobOutput> {
        if output.agent_type() != self.job.agent_type() {
            return Err(Error::Invalid {
                field: "output",
                violation: Violation::AgentTypeMismatch {
                    expected: self.job.agent_type(),
                    found: output.agent_type(),
                },
            });
        }
        output.validate()
    }

    /// Fails this attempt with `error` (kept on the job, cut to [`MAX_ERROR`] characters,
    /// control characters but tab and line breaks replaced by `U+FFFD`, so that any message a
    /// handler has is stored alike on every backend): back to PENDING after the worker's
    /// [`Backoff`] while attempts remain, else FAILED.
    ///
    /// # Errors
    /// [`Error::JobReleased`]; [`Error::InvalidTransition`] when the job is no longer
    /// PROCESSING; [`Error::NotFound`]; [`Error::Database`].
    pub async fn fail<C: ConnectionTrait>(self, db: &C, error: &str) -> Result<FailOutcome> {
        if self.is_last_attempt() {
            return self
                .fail_permanently(db, error)
                .await
                .map(|()| FailOutcome::Failed);
        }
        let now = clock::now();
        let delay = self.backoff.delay(self.job.attempts).min(MAX_BACKOFF);
        let run_at = normalized(
            chrono::Duration::from_std(delay)
                .ok()
                .and_then(|d| now.checked_add_signed(d))
                .unwrap_or(now),
        );
        self.finish(
            db,
            JobStatus::Pending,
            agent_jobs::ActiveModel {
                status: Set(JobStatus::Pending),
                error: Set(Some(error_text(error))),
                locked_by: Set(None),
                heartbeat_at: Set(None),
                run_at: Set(run_at),
                updated_at: Set(now),
                ..Default::default()
            },
        )
        .await?;
        Ok(FailOutcome::Retrying { delay, run_at })
    }

    /// Fails the job for good, whatever attempts remain (e.g. the input can never work).
    ///
    /// # Errors
    /// As [`ClaimedJob::fail`].
    pub async fn fail_permanently<C: ConnectionTrait>(self, db: &C, error: &str) -> Result<()> {
        let now = clock::now();
        self.finish(
            db,
            JobStatus::Failed,
            agent_jobs::ActiveModel {
                status: Set(JobStatus::Failed),
                error: Set(Some(error_text(error))),
                completed_at: Set(Some(now)),
                heartbeat_at: Set(None),
                updated_at: Set(now),
                ..Default::default()
            },
        )
        .await
    }

    /// Writes a change that ends this attempt, only while the job is held.
    async fn finish<C: ConnectionTrait>(
        &self,
        db: &C,
        to: JobStatus,
        change: agent_jobs::ActiveModel,
    ) -> Result<()> {
        let updated = Entity::update_many()
            .set(change)
            .filter(self.hold.held())
            .exec(db)
            .await
            .on_table("agent_jobs")?;
        if updated.rows_affected == 0 {
            self.hold.still_held(db, to).await?;
            // Held, yet the change (which always changes the status) was not written: treat
            // the hold as lost rather than claim a write that did not happen.
            return Err(Error::JobReleased {
                job_id: self.job.id,
                reason: ReleaseReason::LeaseLost,
            });
        }
        Ok(())
    }
}

/// An error message as stored: control characters (but tab and line breaks) replaced by
/// `U+FFFD`, cut to [`MAX_ERROR`] characters.
fn error_text(error: &str) -> String {
    let printable: String = error
        .chars()
        .map(|c| {
            if c.is_control() && !matches!(c, '\t' | '\n' | '\r') {
                char::REPLACEMENT_CHARACTER
            } else {
                c
            }
        })
        .collect();
    cut(&printable, MAX_ERROR)
}

fn backwards(current: Progress) -> Error {
    Error::Invalid {
        field: "progress",
        violation: Violation::Backwards {
            current: current.percent().into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_back_off_doubles_up_to_its_cap_and_each_delay_stays_within_its_band() {
        let backoff = Backoff {
            base: Duration::from_secs(10),
            max: Duration::from_secs(60),
        };
        let ceilings: Vec<u64> = (1..=5).map(|a| backoff.ceiling(a).as_secs()).collect();
        assert_eq!(ceilings, [10, 20, 40, 60, 60]);
        for attempt in 1..=5 {
            let ceiling = backoff.ceiling(attempt);
            for _ in 0..200 {
                let delay = backoff.delay(attempt);
                assert!(delay >= ceiling / 2 && delay <= ceiling, "{delay:?}");
            }
        }
        // The band of a retry starts where the previous one ends: a later retry never waits
        // less than an earlier one could have.
        assert_eq!(backoff.ceiling(2) / 2, backoff.ceiling(1));
    }

    #[test]
    fn delays_are_jittered() {
        let delays: std::collections::HashSet<Duration> =
            (0..50).map(|_| Backoff::DEFAULT.delay(3)).collect();
        assert!(delays.len() > 40);
    }

    #[test]
    fn absurd_attempt_numbers_stay_at_the_cap() {
        assert_eq!(Backoff::DEFAULT.ceiling(i32::MAX), Backoff::DEFAULT.max);
        assert_eq!(Backoff::DEFAULT.ceiling(0), Backoff::DEFAULT.base);
    }
}

#[cfg(test)]
mod only_tests {
    use super::*;

    #[test]
    fn a_worker_keeps_each_agent_type_once() {
        let worker = Worker::new(WorkerId::generate("w")).only(
            std::iter::repeat_n(AgentType::Copywriter, 100_000).chain([AgentType::ProductScout]),
        );
        assert_eq!(
            worker.types(),
            [AgentType::Copywriter, AgentType::ProductScout]
        );
    }
}
