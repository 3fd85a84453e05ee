//! A worker's hold on a job: the condition every write of its handle carries, and what a
//! refused write means.

use chrono::{DateTime, FixedOffset};
use entity::agent_jobs::{self, Column, Entity};
use sea_orm::sea_query::{ExprTrait, SimpleExpr};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
};
use uuid::Uuid;

use super::{JobStatus, ReleaseReason, WorkerId};
use crate::clock;
use crate::error::{Error, Result, Table, Transition};
use crate::violations::OnTable;

/// What identifies one hold on a job: the job, the worker, the attempt.
#[derive(Debug, Clone)]
pub(super) struct Hold {
    pub(super) job_id: Uuid,
    pub(super) worker: WorkerId,
    pub(super) attempt: i32,
}

impl Hold {
    /// "Still PROCESSING, held by this worker, in this attempt."
    pub(super) fn held(&self) -> SimpleExpr {
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
    pub(super) async fn still_held<C: ConnectionTrait>(
        &self,
        db: &C,
        to: JobStatus,
    ) -> Result<i32> {
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
