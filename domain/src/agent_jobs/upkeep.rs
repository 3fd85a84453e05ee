//! The queue's upkeep: taking jobs back from silent workers, purging old finished jobs.

use std::time::Duration;

use entity::agent_jobs::{self, Column, Entity};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
    TransactionSession, TransactionTrait,
};
use uuid::Uuid;

use super::{JobStatus, wakeup};
use crate::clock;
use crate::db::begin_write;
use crate::error::Result;
use crate::txn::retry_transient;
use crate::violations::OnTable;

/// The error kept on a job that [`rescue`] took back from a silent worker.
pub const RESCUED_ERROR: &str = "the worker stopped heartbeating";

/// What [`rescue`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RescueReport {
    /// Jobs put back to PENDING, runnable at once.
    pub requeued: u64,
    /// Jobs that had spent their attempts, now FAILED.
    pub failed: u64,
}

/// Takes back PROCESSING jobs whose heartbeat is older than `lease` (their worker is gone):
/// to PENDING, runnable at once, while attempts remain; else to FAILED (and the jobs waiting
/// for it are cancelled). Either way the error
/// says [`RESCUED_ERROR`] and the old worker's handle can no longer write. Run it
/// periodically with a lease well above the workers' heartbeat interval. A lease that
/// reaches back before [`clock::EARLIEST`] takes back nothing: no heartbeat is that old.
///
/// # Errors
/// [`crate::Error::Database`].
#[tracing::instrument(skip_all, err, fields(lease = ?lease))]
pub async fn rescue<C>(db: &C, lease: Duration) -> Result<RescueReport>
where
    C: ConnectionTrait + TransactionTrait,
{
    let Ok(cutoff) = clock::ago("lease", lease) else {
        return Ok(RescueReport::default());
    };
    let now = clock::now();
    let silent = Column::Status.eq(JobStatus::Processing).and(
        Column::HeartbeatAt
            .lt(cutoff)
            .or(Column::HeartbeatAt.is_null()),
    );
    // The jobs that fail here, one by one in a transaction with their dependants when they
    // have any, so that a rescued job's dependants are cancelled with it.
    let exhausted = silent
        .clone()
        .and(Expr::col(Column::Attempts).gte(Expr::col(Column::MaxAttempts)));
    let failing = agent_jobs::ActiveModel {
        status: Set(JobStatus::Failed),
        error: Set(Some(RESCUED_ERROR.to_owned())),
        completed_at: Set(Some(now)),
        heartbeat_at: Set(None),
        updated_at: Set(now),
        ..Default::default()
    };
    let mut failed = Entity::update_many()
        .set(failing.clone())
        .filter(exhausted.clone())
        .filter(Column::HasDependants.eq(false))
        .exec(db)
        .await
        .on_table("agent_jobs")?
        .rows_affected;
    let with_dependants: Vec<Uuid> = Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(exhausted.clone())
        .into_tuple()
        .all(db)
        .await?;
    for id in with_dependants {
        failed += retry_transient(db, || async {
            let txn = begin_write(db).await?;
            let done = Entity::update_many()
                .set(failing.clone())
                .filter(Column::Id.eq(id))
                .filter(exhausted.clone())
                .exec(&txn)
                .await
                .on_table("agent_jobs")?
                .rows_affected;
            if done > 0 {
                super::dependants::ended(&txn, id, JobStatus::Failed).await?;
            }
            txn.commit().await?;
            Ok(done)
        })
        .await?;
    }
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
/// `age`, of every owner. Returns how many were deleted. An age that reaches back before
/// [`clock::EARLIEST`] deletes nothing: no job is that old.
///
/// # Errors
/// [`crate::Error::Database`].
#[tracing::instrument(skip_all, err, fields(age = ?age))]
pub async fn purge_finished<C: ConnectionTrait>(db: &C, age: Duration) -> Result<u64> {
    let Ok(cutoff) = clock::ago("age", age) else {
        return Ok(0);
    };
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
