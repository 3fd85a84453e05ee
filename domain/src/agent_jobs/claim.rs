//! The worker side: claiming the next runnable job, and the handle that reports on it.

use chrono::{DateTime, FixedOffset};
use entity::agent_jobs::{self, Column, Entity};
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Select, TransactionSession, TransactionTrait,
};

use std::num::NonZeroU32;

use super::hold::Hold;
use super::{AgentJob, AgentType, Backoff, ClaimedJob, JobStatus, MAX_ERROR, WorkerId, cut};
use crate::clock;
use crate::db::begin_write;
use crate::error::Result;
use crate::txn::retry_transient;
use crate::violations::OnTable;

/// A worker: who it is, which agent types it runs, and how its failed jobs back off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Worker {
    id: WorkerId,
    types: Vec<AgentType>,
    backoff: Backoff,
    pub(super) caps: Caps,
}

/// How many jobs may run at once, counted over every worker and process: per store, and per
/// agent type. Every worker of a deployment should be given the same caps; a worker without
/// caps does not look at them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct Caps {
    pub(super) per_store: Option<NonZeroU32>,
    pub(super) per_type: Vec<(AgentType, NonZeroU32)>,
}

impl Caps {
    pub(super) fn is_empty(&self) -> bool {
        self.per_store.is_none() && self.per_type.is_empty()
    }

    pub(super) fn of_type(&self, agent_type: AgentType) -> Option<NonZeroU32> {
        self.per_type
            .iter()
            .find(|(t, _)| *t == agent_type)
            .map(|(_, cap)| *cap)
    }
}

impl Worker {
    /// A worker that runs every agent type, with [`Backoff::DEFAULT`].
    pub fn new(id: WorkerId) -> Self {
        Self {
            id,
            types: Vec::new(),
            backoff: Backoff::DEFAULT,
            caps: Caps::default(),
        }
    }

    /// Claims a job of a store only while fewer than `cap` jobs of that store are PROCESSING,
    /// counted over all workers and processes (so one merchant's 10,000 images cannot take
    /// every worker). System jobs are not capped by it.
    #[must_use]
    pub fn cap_per_store(mut self, cap: NonZeroU32) -> Self {
        self.caps.per_store = Some(cap);
        self
    }

    /// Claims a job of `agent_type` only while fewer than `cap` jobs of that type are
    /// PROCESSING, over all workers and processes (an AI provider's rate limit).
    #[must_use]
    pub fn cap_per_type(mut self, agent_type: AgentType, cap: NonZeroU32) -> Self {
        self.caps.per_type.retain(|(t, _)| *t != agent_type);
        self.caps.per_type.push((agent_type, cap));
        self
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
                _ if !self.caps.is_empty() => super::capped::claim(self, db).await?,
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
            if let Some(claimed) = self.hand_over(db, row).await? {
                return Ok(Some(claimed));
            }
        }
    }

    /// Makes the handle of a row this worker just claimed; a row whose stored input does not
    /// read is failed for good instead (with its dependants cancelled), and gives `None`.
    pub(super) async fn hand_over<C>(
        &self,
        db: &C,
        row: agent_jobs::Model,
    ) -> Result<Option<ClaimedJob>>
    where
        C: ConnectionTrait + TransactionTrait,
    {
        let hold = Hold {
            job_id: row.id,
            worker: self.id.clone(),
            attempt: row.attempts,
        };
        let has_dependants = row.has_dependants;
        match AgentJob::try_from(row) {
            Ok(job) => {
                super::events::claimed(&job, self.id.as_str());
                Ok(Some(ClaimedJob {
                    hold,
                    job,
                    backoff: self.backoff,
                    follow_ups: Vec::new(),
                    has_dependants,
                }))
            }
            Err(err) => {
                tracing::warn!(job_id = %hold.job_id, error = %err, "an agent job's stored input does not read; failing it");
                let now = clock::now();
                let change = agent_jobs::ActiveModel {
                    status: Set(JobStatus::Failed),
                    error: Set(Some(cut(
                        &format!("its stored input cannot be read: {err}"),
                        MAX_ERROR,
                    ))),
                    completed_at: Set(Some(now)),
                    heartbeat_at: Set(None),
                    updated_at: Set(now),
                    ..Default::default()
                };
                retry_transient(db, || async {
                    let txn = begin_write(db).await?;
                    let failed = Entity::update_many()
                        .set(change.clone())
                        .filter(hold.held())
                        .exec(&txn)
                        .await
                        .on_table("agent_jobs")?;
                    if failed.rows_affected > 0 {
                        super::dependants::ended(&txn, hold.job_id, JobStatus::Failed).await?;
                    }
                    txn.commit().await?;
                    Ok(())
                })
                .await?;
                Ok(None)
            }
        }
    }

    /// The next runnable job, locked and skipped by concurrent claims.
    pub(super) fn next_runnable(&self, now: DateTime<FixedOffset>) -> Select<Entity> {
        self.runnable(now)
            .limit(1)
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
    }

    /// Every runnable job of the worker's types, in claim order.
    pub(super) fn runnable(&self, now: DateTime<FixedOffset>) -> Select<Entity> {
        let mut query = Entity::find()
            .filter(Column::Status.eq(JobStatus::Pending))
            // Waiting for no job: the claim index leads with (status, waiting_for).
            .filter(Column::WaitingFor.eq(0))
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
    }

    pub(super) fn claimed(&self, now: DateTime<FixedOffset>) -> agent_jobs::ActiveModel {
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

    /// Claims `rows`, which this transaction selected and locked, for this worker at `now`
    /// (one UPDATE), and returns them as claimed: how a claim ends on the backends (and
    /// paths) that cannot return the rows they update.
    pub(super) async fn take<C: ConnectionTrait>(
        &self,
        txn: &C,
        rows: Vec<agent_jobs::Model>,
        now: DateTime<FixedOffset>,
    ) -> Result<Vec<agent_jobs::Model>> {
        if rows.is_empty() {
            return Ok(rows);
        }
        Entity::update_many()
            .set(self.claimed(now))
            .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
            .filter(Column::Id.is_in(rows.iter().map(|row| row.id)))
            .exec(txn)
            .await
            .on_table("agent_jobs")?;
        Ok(rows
            .into_iter()
            .map(|row| self.claimed_row(row, now))
            .collect())
    }

    /// A row as this worker's claim at `now` wrote it (what `claimed` sets, and one more
    /// attempt).
    fn claimed_row(&self, row: agent_jobs::Model, now: DateTime<FixedOffset>) -> agent_jobs::Model {
        agent_jobs::Model {
            status: JobStatus::Processing,
            locked_by: Some(self.id.as_str().to_owned()),
            attempts: row.attempts + 1,
            started_at: Some(now),
            heartbeat_at: Some(now),
            progress: 0,
            current_step: None,
            updated_at: now,
            ..row
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

    pub(super) async fn claim_in_transaction<C: TransactionTrait>(
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
        let claimed = self.take(&txn, vec![row], now).await?.pop();
        txn.commit().await?;
        Ok(claimed)
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
