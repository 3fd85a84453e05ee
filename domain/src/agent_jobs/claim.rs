//! The worker side: claiming the next runnable job, and the handle that reports on it.

use chrono::{DateTime, FixedOffset};
use entity::agent_jobs::{self, Column, Entity};
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Select, TransactionSession, TransactionTrait,
};

use super::hold::Hold;
use super::{AgentJob, AgentType, Backoff, ClaimedJob, JobStatus, MAX_ERROR, WorkerId, cut};
use crate::clock;
use crate::error::Result;
use crate::txn::retry_transient;
use crate::violations::OnTable;

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
    /// [`Error::Transient`](crate::Error::Transient) when it lost a deadlock inside the
    /// caller's transaction; [`Error::Database`](crate::Error::Database).
    #[tracing::instrument(skip_all, err, fields(worker_id = %self.id, job_id))]
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
            tracing::Span::current().record("job_id", tracing::field::display(row.id));
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
