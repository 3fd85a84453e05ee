//! Batches: claiming up to N jobs in one statement, completing many in one statement.

use entity::agent_jobs::{self, Column, Entity};
use sea_orm::sea_query::{CaseStatement, Expr, ExprTrait, SimpleExpr};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QuerySelect, QueryTrait, TransactionSession, TransactionTrait,
};
use uuid::Uuid;

use super::{AgentJob, ClaimedJob, JobOutput, JobStatus, Progress, Worker};
use crate::clock;
use crate::error::{Error, Result, Violation};
use crate::txn::retry_transient;
use crate::violations::OnTable;

/// The most jobs one [`Worker::claim_many`] or [`complete_many`] handles.
pub const MAX_BATCH: usize = 1_000;

impl Worker {
    /// Claims up to `limit` runnable jobs at once, in claim order, as [`Worker::claim`] would
    /// one by one: one statement on Postgres (`UPDATE … WHERE id = ANY(ARRAY(SELECT … LIMIT n
    /// FOR UPDATE SKIP LOCKED)) RETURNING *`) and SQLite, one short transaction on
    /// MariaDB/MySQL. A worker with caps claims one job at a time up to `limit`, since each
    /// claim must count under its gates. Empty when nothing is runnable.
    ///
    /// # Errors
    /// [`Error::Invalid`] (`limit`, [`Violation::OutOfRange`]) outside 1..=[`MAX_BATCH`];
    /// [`Error::Transient`]; [`Error::Database`].
    #[tracing::instrument(skip_all, err, fields(worker_id = %self.id(), limit, claimed))]
    pub async fn claim_many<C>(&self, db: &C, limit: usize) -> Result<Vec<ClaimedJob>>
    where
        C: ConnectionTrait + TransactionTrait,
    {
        if !(1..=MAX_BATCH).contains(&limit) {
            return Err(Error::Invalid {
                field: "limit",
                violation: Violation::OutOfRange {
                    min: 1,
                    max: MAX_BATCH as i64,
                },
            });
        }
        let mut claimed = Vec::with_capacity(limit);
        if !self.caps.is_empty() {
            while claimed.len() < limit {
                match self.claim(db).await? {
                    Some(job) => claimed.push(job),
                    None => break,
                }
            }
            tracing::Span::current().record("claimed", claimed.len());
            return Ok(claimed);
        }
        let mut rows = match db.get_database_backend() {
            DbBackend::MySql => {
                retry_transient(db, || self.claim_rows_in_transaction(db, limit)).await?
            }
            backend => self.claim_rows_returning(db, backend, limit).await?,
        };
        rows.sort_by(|a, b| {
            b.priority
                .cmp(&a.priority)
                .then(a.run_at.cmp(&b.run_at))
                .then(a.id.cmp(&b.id))
        });
        for row in rows {
            if let Some(job) = self.hand_over(db, row).await? {
                claimed.push(job);
            }
        }
        tracing::Span::current().record("claimed", claimed.len());
        Ok(claimed)
    }

    async fn claim_rows_returning<C: ConnectionTrait>(
        &self,
        db: &C,
        backend: DbBackend,
        limit: usize,
    ) -> Result<Vec<agent_jobs::Model>> {
        let now = clock::now();
        let next = self
            .runnable(now)
            .select_only()
            .column(Column::Id)
            .limit(limit as u64)
            .lock_with_behavior(
                sea_orm::sea_query::LockType::Update,
                sea_orm::sea_query::LockBehavior::SkipLocked,
            )
            .into_query();
        // `= ANY(ARRAY(…))` makes Postgres run the subquery once, as an init plan; a plain
        // `IN (…)` may be re-run per scanned row, each run skipping and locking more rows.
        let which: SimpleExpr = if backend == DbBackend::Postgres {
            let next = Expr::SubQuery(None, Box::new(next.into()));
            Expr::cust_with_expr("\"agent_jobs\".\"id\" = ANY(ARRAY($1))", next)
        } else {
            Expr::col((Entity, Column::Id)).in_subquery(next)
        };
        let rows = Entity::update_many()
            .set(self.claimed(now))
            .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
            .filter(which)
            .filter(Column::Status.eq(JobStatus::Pending))
            .exec_with_returning(db)
            .await
            .on_table("agent_jobs")?;
        Ok(rows)
    }

    async fn claim_rows_in_transaction<C: TransactionTrait>(
        &self,
        db: &C,
        limit: usize,
    ) -> Result<Vec<agent_jobs::Model>> {
        let txn = db.begin().await?;
        let now = clock::now();
        let rows = self
            .runnable(now)
            .limit(limit as u64)
            .lock_with_behavior(
                sea_orm::sea_query::LockType::Update,
                sea_orm::sea_query::LockBehavior::SkipLocked,
            )
            .all(&txn)
            .await?;
        let claimed = self.take(&txn, rows, now).await?;
        txn.commit().await?;
        Ok(claimed)
    }
}

/// Completes many claimed jobs with their outputs: those without dependants or follow-ups in
/// one UPDATE (each still checked to be held, as [`ClaimedJob::complete`] checks it), the
/// others one by one as [`ClaimedJob::complete`] does. Returns one result per job, in the
/// order given: the completed job, or why that one was not completed (a refused output, a
/// lost hold); one job's refusal does not stop the others.
///
/// # Errors
/// [`Error::Invalid`] (`jobs`, [`Violation::TooMany`]) past [`MAX_BATCH`] jobs (nothing is
/// written); [`Error::Database`] when the batch statement itself fails.
#[tracing::instrument(skip_all, err, fields(jobs = jobs.len()))]
pub async fn complete_many<C>(
    db: &C,
    jobs: Vec<(ClaimedJob, JobOutput)>,
) -> Result<Vec<Result<AgentJob>>>
where
    C: ConnectionTrait + TransactionTrait,
{
    if jobs.len() > MAX_BATCH {
        return Err(Error::Invalid {
            field: "jobs",
            violation: Violation::TooMany { max: MAX_BATCH },
        });
    }
    let mut results: Vec<Option<Result<AgentJob>>> = Vec::with_capacity(jobs.len());
    let mut batch: Vec<(usize, ClaimedJob, JobOutput)> = Vec::new();
    let mut single: Vec<(usize, ClaimedJob, JobOutput)> = Vec::new();
    for (index, (job, output)) in jobs.into_iter().enumerate() {
        results.push(None);
        match job.check_output(output) {
            Err(err) => results[index] = Some(Err(err)),
            Ok(output) if job.follow_ups.is_empty() && !job.has_dependants => {
                batch.push((index, job, output))
            }
            Ok(output) => single.push((index, job, output)),
        }
    }
    if !batch.is_empty() {
        let now = clock::now();
        let mut outputs = CaseStatement::new();
        let mut held: Option<SimpleExpr> = None;
        for (_, job, output) in &batch {
            outputs = outputs.case(Column::Id.eq(job.id()), Expr::val(output.to_json()));
            let this = Column::Id
                .eq(job.hold.job_id)
                .and(Column::LockedBy.eq(job.hold.worker.as_str()))
                .and(Column::Attempts.eq(job.hold.attempt));
            held = Some(match held {
                Some(any) => any.or(this),
                None => this,
            });
        }
        Entity::update_many()
            .set(agent_jobs::ActiveModel {
                status: Set(JobStatus::Completed),
                error: Set(None),
                progress: Set(100),
                completed_at: Set(Some(now)),
                heartbeat_at: Set(None),
                updated_at: Set(now),
                ..Default::default()
            })
            .col_expr(Column::Output, outputs.into())
            .filter(Column::Status.eq(JobStatus::Processing))
            .filter(Column::HasDependants.eq(false))
            .filter(held.unwrap_or_else(|| Expr::val(false)))
            .exec(db)
            .await
            .on_table("agent_jobs")?;
        // Which ones the statement completed: COMPLETED now, by this hold.
        let done: Vec<(Uuid, Option<String>, i32)> = Entity::find()
            .select_only()
            .columns([Column::Id, Column::LockedBy, Column::Attempts])
            .filter(Column::Id.is_in(batch.iter().map(|(_, job, _)| job.id())))
            .filter(Column::Status.eq(JobStatus::Completed))
            .into_tuple()
            .all(db)
            .await?;
        for (index, mut job, output) in batch {
            let ours = done.iter().any(|(id, locked_by, attempts)| {
                *id == job.hold.job_id
                    && locked_by.as_deref() == Some(job.hold.worker.as_str())
                    && *attempts == job.hold.attempt
            });
            if ours {
                super::events::completed(&job.job, now);
                job.job.status = JobStatus::Completed;
                job.job.output = Some(output);
                job.job.error = None;
                job.job.progress = Progress::DONE;
                job.job.completed_at = Some(now);
                job.job.heartbeat_at = None;
                job.job.updated_at = now;
                results[index] = Some(Ok(job.job));
            } else {
                // Not held any more, or it has dependants: the single path says which, and
                // completes the latter.
                single.push((index, job, output));
            }
        }
    }
    for (index, job, output) in single {
        results[index] = Some(job.complete(db, output).await);
    }
    Ok(results
        .into_iter()
        .map(|result| {
            result.unwrap_or(Err(Error::NotFound {
                entity: crate::Table::AgentJobs,
            }))
        })
        .collect())
}
