//! The handle of a claimed job: progress, heartbeat, completion and failure, each written
//! only while the worker still holds the job.

use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use entity::agent_jobs::{self, Column, Entity};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    TransactionSession, TransactionTrait,
};
use uuid::Uuid;

use super::hold::Hold;
use super::{
    AgentJob, Backoff, JobInput, JobOutput, JobOwner, JobStatus, MAX_BACKOFF, MAX_ERROR, MAX_STEP,
    NewJob, Progress, ReleaseReason, WorkerId, cut, events,
};
use crate::clock;
use crate::db::begin_write;
use crate::error::{Error, Result, Violation};
use crate::txn::retry_transient;
use crate::violations::OnTable;

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
    pub(super) job: AgentJob,
    pub(super) hold: Hold,
    pub(super) backoff: Backoff,
    /// Jobs to create when this one completes, between it and the jobs that wait for it.
    pub(super) follow_ups: Vec<agent_jobs::Model>,
    /// Whether the job had dependants when claimed: finishing it then goes straight to the
    /// transaction that updates them (one found later is caught by the single UPDATE's
    /// `has_dependants = false`).
    pub(super) has_dependants: bool,
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

    /// Adds a job to create when this one completes, in the same transaction: it runs after
    /// this job, and every job that waits for this one waits for it too. This is how a job
    /// fans out on what it found (the product scout adds a copywriter job per product, and
    /// the job that waited for the scout now waits for every copywriter). Nothing is written
    /// if the job fails instead.
    ///
    /// # Errors
    /// [`Error::Invalid`] for the follow-up's own fields, as [`super::create`] checks them;
    /// `agent_jobs` ([`Violation::TooMany`]) past [`super::MAX_GRAPH_JOBS`] follow-ups.
    pub fn add_follow_up(&mut self, job: NewJob) -> Result<()> {
        if self.follow_ups.len() >= super::MAX_GRAPH_JOBS {
            return Err(Error::Invalid {
                field: "agent_jobs",
                violation: Violation::TooMany {
                    max: super::MAX_GRAPH_JOBS,
                },
            });
        }
        let row = job.into_row(self.owner(), clock::now())?;
        self.follow_ups.push(row);
        Ok(())
    }

    /// The follow-ups added so far.
    pub fn follow_ups(&self) -> usize {
        self.follow_ups.len()
    }

    /// The owner of the job: its store, or the system.
    pub(super) fn owner(&self) -> JobOwner {
        JobOwner(self.job.store_id)
    }

    /// The jobs this one waits for (its parents), with their outputs: how a job reads what
    /// the jobs before it produced (the final job of a store build reads every copywriter's
    /// copy). Ordered by id, so by creation.
    ///
    /// # Errors
    /// [`Error::Undecodable`] when a parent's stored payload does not read;
    /// [`Error::Database`].
    #[tracing::instrument(skip_all, err, fields(job_id = %self.job.id))]
    pub async fn list_parents<C: ConnectionTrait>(&self, db: &C) -> Result<Vec<AgentJob>> {
        super::dependants::parents(db, self.job.id).await
    }

    /// The hold, for heartbeats beside the handler's own work.
    pub(super) fn hold(&self) -> Hold {
        self.hold.clone()
    }

    /// Reports progress (percent, never lower than before) and, when given, the current step;
    /// also heartbeats.
    ///
    /// # Errors
    /// [`Error::Invalid`] (`agent_jobs.progress`): [`Violation::OutOfRange`] above 100,
    /// [`Violation::Backwards`] below the current value; (`agent_jobs.current_step`):
    /// [`Violation::Empty`], [`Violation::TooLong`], [`Violation::ControlCharacter`]
    /// (nothing is written then). [`Error::JobReleased`] when the job was
    /// cancelled or rescued and claimed again; [`Error::InvalidTransition`] when it is no
    /// longer PROCESSING; [`Error::NotFound`] when it was deleted; [`Error::Database`].
    #[tracing::instrument(skip_all, err, fields(job_id = %self.job.id, worker_id = %self.hold.worker))]
    pub async fn update_progress<C: ConnectionTrait>(
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
                    field: "agent_jobs.current_step",
                    violation: Violation::Empty,
                });
            }
            if step.chars().count() > MAX_STEP {
                return Err(Error::Invalid {
                    field: "agent_jobs.current_step",
                    violation: Violation::TooLong { max: MAX_STEP },
                });
            }
            crate::values::printable("agent_jobs.current_step", step)?;
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
    /// As [`ClaimedJob::update_progress`], without the input errors.
    #[tracing::instrument(skip_all, err, fields(job_id = %self.job.id, worker_id = %self.hold.worker))]
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
    /// needed to fail the attempt ([`super::Worker::run`] does; otherwise the job is rescued when
    /// its lease runs out).
    ///
    /// # Errors
    /// [`Error::Invalid`] as [`ClaimedJob::check_output`] says; [`Error::JobReleased`];
    /// [`Error::InvalidTransition`] (e.g. from PENDING after a rescue, to COMPLETED);
    /// [`Error::NotFound`]; [`Error::Database`].
    #[tracing::instrument(skip_all, err, fields(job_id = %self.job.id, worker_id = %self.hold.worker))]
    pub async fn complete<C: ConnectionTrait + TransactionTrait>(
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
        events::completed(&self.job, now);
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
    /// [`Error::Invalid`]: `agent_jobs.output` with [`Violation::AgentTypeMismatch`] when it is of
    /// another agent type, with [`Violation::TooLarge`] over [`super::MAX_PAYLOAD_BYTES`];
    /// the field and its rule otherwise (see [`JobOutput::validate`]).
    pub fn check_output(&self, output: JobOutput) -> Result<JobOutput> {
        if output.agent_type() != self.job.agent_type() {
            return Err(Error::Invalid {
                field: "agent_jobs.output",
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
    #[tracing::instrument(skip_all, err, fields(job_id = %self.job.id, worker_id = %self.hold.worker))]
    pub async fn fail<C>(mut self, db: &C, error: &str) -> Result<FailOutcome>
    where
        C: ConnectionTrait + TransactionTrait,
    {
        if self.is_last_attempt() {
            return self
                .fail_permanently(db, error)
                .await
                .map(|()| FailOutcome::Failed);
        }
        let now = clock::now();
        let delay = self.backoff.delay(self.job.attempts).min(MAX_BACKOFF);
        // At most MAX_BACKOFF ahead: past the storable range only in year 9999, and then
        // running at once is the only storable answer.
        let run_at = clock::from_now("backoff", delay).unwrap_or(now);
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
        events::retrying(&self.job, error, run_at);
        Ok(FailOutcome::Retrying { delay, run_at })
    }

    /// Fails the job for good, whatever attempts remain (e.g. the input can never work).
    ///
    /// # Errors
    /// As [`ClaimedJob::fail`].
    #[tracing::instrument(skip_all, err, fields(job_id = %self.job.id, worker_id = %self.hold.worker))]
    pub async fn fail_permanently<C>(mut self, db: &C, error: &str) -> Result<()>
    where
        C: ConnectionTrait + TransactionTrait,
    {
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
        .await?;
        events::failed(&self.job, error);
        Ok(())
    }

    /// Writes a change that ends this attempt, only while the job is held. A job that has
    /// dependants, or follow-ups to create, is finished in a transaction that also updates
    /// the jobs waiting for it; any other is one UPDATE.
    async fn finish<C>(
        &mut self,
        db: &C,
        to: JobStatus,
        change: agent_jobs::ActiveModel,
    ) -> Result<()>
    where
        C: ConnectionTrait + TransactionTrait,
    {
        let ends = matches!(to, JobStatus::Completed | JobStatus::Failed);
        if !ends || (self.follow_ups.is_empty() && !self.has_dependants) {
            // One statement: a deadlock victim (InnoDB) lost only this statement.
            let updated = retry_transient(db, || async {
                let mut update = Entity::update_many()
                    .set(change.clone())
                    .filter(self.hold.held());
                if ends {
                    update = update.filter(Column::HasDependants.eq(false));
                }
                update.exec(db).await.on_table("agent_jobs")
            })
            .await?;
            if updated.rows_affected > 0 {
                return Ok(());
            }
            self.hold.still_held(db, to).await?;
            if !ends {
                return Err(self.lost());
            }
        }
        // Held, and ending with dependants or follow-ups: the job and the jobs around it
        // change together. On Postgres a completion without follow-ups is one statement,
        // unless a dependant was added while it ran (then the transaction below).
        if to == JobStatus::Completed
            && self.follow_ups.is_empty()
            && db.get_database_backend() == DbBackend::Postgres
        {
            let hold = &self.hold;
            let done = retry_transient(db, || {
                super::dependants::complete_at_once(db, hold, change.clone())
            })
            .await?;
            if let Some(ready) = done {
                if ready > 0 && super::wakeup::unblocked_notify_due() {
                    super::wakeup::notify(db, [None]).await?;
                }
                return Ok(());
            }
        }
        let follow_ups = std::mem::take(&mut self.follow_ups);
        let owner = self.owner();
        let job_id = self.job.id;
        let hold = self.hold.clone();
        retry_transient(db, || async {
            let txn = begin_write(db).await?;
            let updated = Entity::update_many()
                .set(change.clone())
                .filter(hold.held())
                .exec(&txn)
                .await
                .on_table("agent_jobs")?;
            if updated.rows_affected == 0 {
                drop(txn);
                hold.still_held(db, to).await?;
                return Err(Error::JobReleased {
                    job_id,
                    reason: ReleaseReason::LeaseLost,
                });
            }
            let woken = if to == JobStatus::Completed {
                super::dependants::completed(&txn, job_id, owner, follow_ups.clone()).await?
            } else {
                super::dependants::ended(&txn, job_id, to).await?;
                0
            };
            if woken > 0 && super::wakeup::unblocked_notify_due() {
                super::wakeup::notify(&txn, [None]).await?;
            }
            txn.commit().await?;
            Ok(())
        })
        .await
    }

    fn lost(&self) -> Error {
        // Held, yet the change (which always changes the status) was not written: treat
        // the hold as lost rather than claim a write that did not happen.
        Error::JobReleased {
            job_id: self.job.id,
            reason: ReleaseReason::LeaseLost,
        }
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
        field: "agent_jobs.progress",
        violation: Violation::Backwards {
            current: current.percent().into(),
        },
    }
}
