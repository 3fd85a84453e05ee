//! Running a FAILED job again: an operator's decision after the cause was fixed.

use entity::agent_jobs::{self, Column, Entity};
use sea_orm::sea_query::LockType;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
    TransactionSession, TransactionTrait,
};
use uuid::Uuid;

use super::queue::owned_by;
use super::{DEFAULT_MAX_ATTEMPTS, JobOwner, JobStatus, MAX_ATTEMPTS};
use crate::clock;
use crate::db::begin_write;
use crate::error::{Error, Result, Table, Transition, Violation};
use crate::txn::retry_transient;
use crate::violations::OnTable;

/// How [`retry_with`] runs a failed job again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryOptions {
    /// Attempts the job gets this time, 1 to [`MAX_ATTEMPTS`]; default
    /// [`DEFAULT_MAX_ATTEMPTS`].
    pub attempts: i32,
    /// Also bring back the jobs that were cancelled because this one failed (and theirs):
    /// PENDING again, waiting for it. Default false: they stay CANCELLED.
    pub dependants: bool,
}

impl Default for RetryOptions {
    fn default() -> Self {
        Self {
            attempts: DEFAULT_MAX_ATTEMPTS,
            dependants: false,
        }
    }
}

/// Runs the FAILED job `id` of `owner` again with [`RetryOptions::default`]: see
/// [`retry_with`].
///
/// # Errors
/// As [`retry_with`].
#[tracing::instrument(skip_all, err, fields(job_id = %id, store_id))]
pub async fn retry<C>(db: &C, owner: impl Into<JobOwner>, id: Uuid) -> Result<()>
where
    C: ConnectionTrait + TransactionTrait,
{
    retry_with(db, owner, id, RetryOptions::default())
        .await
        .map(|_| ())
}

/// Puts the FAILED job `id` of `owner` back to PENDING, runnable at once, with
/// `options.attempts` more attempts. Its history stays: `attempts` keeps counting (a job that
/// failed after 3 attempts runs its 4th, with `max_attempts` 6 by default), and the last
/// error stays until a new attempt replaces it. Progress and step are cleared. Returns how
/// many cancelled dependants came back (0 unless `options.dependants`).
///
/// The job is read and changed under a row lock in one transaction, so two concurrent calls
/// cannot both apply, and a job that left FAILED meanwhile is refused.
///
/// # Errors
/// [`Error::Invalid`] (`attempts`, [`Violation::OutOfRange`]) for attempts outside
/// 1..=[`MAX_ATTEMPTS`], or when the job's attempt count cannot grow by that many;
/// [`Error::NotFound`] ([`Table::AgentJobs`]) when it does not exist or belongs to another
/// owner; [`Error::InvalidTransition`] from any status other than FAILED;
/// [`Error::Conflict`] when its unique key is held by another active job now;
/// [`Error::Transient`]; [`Error::Database`].
#[tracing::instrument(skip_all, err, fields(job_id = %id, store_id))]
pub async fn retry_with<C>(
    db: &C,
    owner: impl Into<JobOwner>,
    id: Uuid,
    options: RetryOptions,
) -> Result<u64>
where
    C: ConnectionTrait + TransactionTrait,
{
    let owner = owner.into();
    owner.record();
    let out_of_range = || Error::Invalid {
        field: "attempts",
        violation: Violation::OutOfRange {
            min: 1,
            max: MAX_ATTEMPTS.into(),
        },
    };
    if !(1..=MAX_ATTEMPTS).contains(&options.attempts) {
        return Err(out_of_range());
    }
    retry_transient(db, || async {
        let txn = begin_write(db).await?;
        let (status, attempts): (JobStatus, i32) = Entity::find_by_id(id)
            .select_only()
            .columns([Column::Status, Column::Attempts])
            .filter(owned_by(owner))
            .lock(LockType::Update)
            .into_tuple()
            .one(&txn)
            .await?
            .ok_or(Error::NotFound {
                entity: Table::AgentJobs,
            })?;
        if status != JobStatus::Failed {
            return Err(Error::InvalidTransition(Transition::AgentJob {
                from: status,
                to: JobStatus::Pending,
            }));
        }
        let max_attempts = attempts
            .max(0)
            .checked_add(options.attempts)
            .ok_or_else(out_of_range)?;
        let now = clock::now();
        Entity::update_many()
            .set(agent_jobs::ActiveModel {
                status: Set(JobStatus::Pending),
                max_attempts: Set(max_attempts),
                progress: Set(0),
                current_step: Set(None),
                run_at: Set(now),
                started_at: Set(None),
                completed_at: Set(None),
                locked_by: Set(None),
                heartbeat_at: Set(None),
                updated_at: Set(now),
                ..Default::default()
            })
            .filter(Column::Id.eq(id))
            .filter(Column::Status.eq(JobStatus::Failed))
            .exec(&txn)
            .await
            .on_table("agent_jobs")?;
        let revived = if options.dependants {
            super::dependants::resurrect(&txn, id).await?
        } else {
            0
        };
        super::wakeup::notify(&txn, [None]).await?;
        txn.commit().await?;
        Ok(revived)
    })
    .await
}
