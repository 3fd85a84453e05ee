//! Deferring a claimed job without using up an attempt.

use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use entity::agent_jobs::{self, Column, Entity};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, QueryFilter, TransactionTrait};

use super::{ClaimedJob, JobStatus, ReleaseReason, events};
use crate::clock;
use crate::error::{Error, Result};
use crate::violations::OnTable;

impl ClaimedJob {
    /// Defers the job: back to PENDING, claimable again after `delay`, without using up an
    /// attempt (a provider asked to come back later; an input is not ready yet). Returns the
    /// new run-at. Its unique key stays held.
    ///
    /// # Errors
    /// [`Error::Invalid`] (`delay`, [`crate::Violation::TimeOutOfRange`]) when the run-at would leave
    /// the storable range; [`Error::JobReleased`]; [`Error::InvalidTransition`];
    /// [`Error::NotFound`]; [`Error::Database`].
    #[tracing::instrument(skip_all, err, fields(job_id = %self.job.id, worker_id = %self.hold.worker))]
    pub async fn snooze<C>(self, db: &C, delay: Duration) -> Result<DateTime<FixedOffset>>
    where
        C: ConnectionTrait + TransactionTrait,
    {
        let now = clock::now();
        let run_at = clock::from_now("delay", delay)?;
        let updated = Entity::update_many()
            .set(agent_jobs::ActiveModel {
                status: Set(JobStatus::Pending),
                locked_by: Set(None),
                heartbeat_at: Set(None),
                run_at: Set(run_at),
                updated_at: Set(now),
                ..Default::default()
            })
            .col_expr(Column::Attempts, Expr::col(Column::Attempts).sub(1))
            .filter(self.hold.held())
            .exec(db)
            .await
            .on_table("agent_jobs")?;
        if updated.rows_affected == 0 {
            self.hold.still_held(db, JobStatus::Pending).await?;
            return Err(Error::JobReleased {
                job_id: self.job.id,
                reason: ReleaseReason::LeaseLost,
            });
        }
        events::snoozed(&self.job, delay);
        Ok(run_at)
    }
}
