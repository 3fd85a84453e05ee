//! Running a FAILED job again: an operator's decision after the cause was fixed.

use entity::agent_jobs::{self, Column, Entity};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::queue::owned_by;
use super::{JobOwner, JobStatus};
use crate::clock;
use crate::error::{Error, Result, Transition};

/// Puts the FAILED job `id` of `owner` back to PENDING, runnable at once, with a fresh set of
/// attempts (`attempts` back to 0, progress and step cleared). The last error stays on the job
/// until a new attempt replaces it, so the reason of the failure is still visible.
///
/// The move is one conditional UPDATE on `status = FAILED`, so two concurrent calls cannot
/// both apply, and a job that left FAILED meanwhile is refused.
///
/// # Errors
/// [`Error::NotFound`] ([`crate::Table::AgentJobs`]) when it does not exist or belongs to another
/// owner; [`Error::InvalidTransition`] from any status other than FAILED; [`Error::Database`].
#[tracing::instrument(skip_all, err, fields(job_id = %id, store_id))]
pub async fn retry<C: ConnectionTrait>(db: &C, owner: impl Into<JobOwner>, id: Uuid) -> Result<()> {
    let owner = owner.into();
    owner.record();
    let now = clock::now();
    let done = Entity::update_many()
        .set(agent_jobs::ActiveModel {
            status: Set(JobStatus::Pending),
            attempts: Set(0),
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
        .filter(owned_by(owner))
        .filter(Column::Status.eq(JobStatus::Failed))
        .exec(db)
        .await?;
    if done.rows_affected > 0 {
        super::wakeup::notify(db, [None]).await?;
        return Ok(());
    }
    let status = super::queue::status_of(db, owner, id).await?;
    Err(Error::InvalidTransition(Transition::AgentJob {
        from: status,
        to: JobStatus::Pending,
    }))
}
