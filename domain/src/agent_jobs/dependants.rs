//! What finishing a job does to the jobs that wait for it: completing unblocks them (and
//! grafts the follow-up jobs the completing worker added between the two); failing or
//! cancelling cancels them, transitively, with the reason; re-running a failed job can bring
//! them back.

use entity::agent_job_dependencies as edges;
use entity::agent_jobs::{self, Column, Entity};
use sea_orm::sea_query::{Expr, ExprTrait, LockType};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait,
    QueryFilter, QuerySelect, QueryTrait, Statement, TransactionTrait, Values,
};
use uuid::Uuid;

use super::graph::{add_edges, ended_reason, insert_job};
use super::hold::Hold;
use super::{AgentJob, JobOwner, JobStatus, MAX_ERROR, cut};
use crate::clock;
use crate::error::Result;
use crate::violations::OnTable;

/// The jobs waiting for one of `parents`, as `(job, parent)` pairs, as committed now: the
/// edges of a graph committed a moment ago are seen on every backend.
async fn waiting_for<C: ConnectionTrait>(db: &C, parents: &[Uuid]) -> Result<Vec<(Uuid, Uuid)>> {
    if parents.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = edges::Entity::find()
        .select_only()
        .columns([edges::Column::JobId, edges::Column::DependsOn])
        .filter(edges::Column::DependsOn.is_in(parents.iter().copied()));
    // A plain read already sees every committed edge on Postgres (a new snapshot per
    // statement) and SQLite (one writer); MariaDB's REPEATABLE READ needs a locking read.
    if db.get_database_backend() == DbBackend::MySql {
        query = query.lock(LockType::Update);
    }
    Ok(query.into_tuple().all(db).await?)
}

/// Postgres: completes the held job with `change` and counts down the jobs waiting for it,
/// in one statement (one round trip, one commit). Returns how many of them became runnable,
/// or `None` when it wrote nothing: the hold is gone, or the job's row changed after the
/// statement's snapshot was taken. The caller then takes the transaction path, whose
/// statements each see every committed edge.
///
/// Why the row-version check makes one statement safe: a statement sees the edges of its
/// snapshot only, and a job that starts waiting for this one while it completes commits its
/// edge after that snapshot. But adding an edge to a PROCESSING job always writes a new
/// version of the job's row ([`add_edges`]), under a row lock the completion waits for; the
/// completion then re-reads the row (READ COMMITTED), finds its `xmin` no longer the one of
/// its snapshot, and writes nothing.
pub(super) async fn complete_at_once<C: ConnectionTrait>(
    db: &C,
    hold: &Hold,
    change: agent_jobs::ActiveModel,
) -> Result<Option<u64>> {
    let parent = Entity::update_many()
        .set(change)
        .filter(hold.held())
        .filter(Expr::cust(
            r#""agent_jobs"."xmin" = (SELECT "v"."xmin" FROM "agent_jobs" AS "v" WHERE "v"."id" = "agent_jobs"."id")"#,
        ))
        .build(DbBackend::Postgres);
    let mut values = parent.values.map_or_else(Vec::new, |Values(values)| values);
    values.push(clock::now().into());
    let now = values.len();
    // Only the primary key in the children's WHERE: with the status there, Postgres may
    // pick the claim index (status, waiting_for, …) and walk every waiting job. A child no
    // longer PENDING is left as it is by the CASE.
    let sql = format!(
        r#"WITH "done" AS ({parent} RETURNING "id"),
"woken" AS (
  UPDATE "agent_jobs" SET
    "waiting_for" = CASE WHEN "status" = 'PENDING' AND "waiting_for" > 0
      THEN "waiting_for" - 1 ELSE "waiting_for" END,
    "updated_at" = CASE WHEN "status" = 'PENDING' AND "waiting_for" > 0
      THEN ${now} ELSE "updated_at" END
  WHERE "id" = ANY(ARRAY(
    SELECT "d"."job_id" FROM "agent_job_dependencies" AS "d"
    JOIN "done" ON "d"."depends_on" = "done"."id"))
  RETURNING "status", "waiting_for")
SELECT (SELECT COUNT(*) FROM "done") AS "done",
  (SELECT COUNT(*) FROM "woken" WHERE "status" = 'PENDING' AND "waiting_for" = 0) AS "ready""#,
        parent = parent.sql,
    );
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            values,
        ))
        .await
        .on_table("agent_jobs")?;
    let Some(row) = row else {
        return Ok(None);
    };
    let done: i64 = row.try_get("", "done")?;
    let ready: i64 = row.try_get("", "ready")?;
    Ok((done > 0).then(|| u64::try_from(ready).unwrap_or(0)))
}

/// After `job` completed (inside the transaction that completed it): creates its
/// `follow_ups` (for `owner`, after `job`), makes every PENDING job that waited for `job`
/// wait for the follow-ups instead, and returns how many jobs changed (0: nobody to wake).
pub(super) async fn completed<C>(
    txn: &C,
    job: Uuid,
    owner: JobOwner,
    follow_ups: Vec<agent_jobs::Model>,
) -> Result<u64>
where
    C: ConnectionTrait + TransactionTrait,
{
    // The edges first, then the jobs by primary key: as one `UPDATE … WHERE id IN
    // (SELECT …)` Postgres may plan a scan of every waiting job instead (its statistics are
    // those of a queue that was empty a moment ago).
    let children: Vec<Uuid> = waiting_for(txn, &[job])
        .await?
        .into_iter()
        .map(|(child, _)| child)
        .collect();
    if follow_ups.is_empty() {
        if children.is_empty() {
            return Ok(0);
        }
        // Only the primary key in the WHERE (see `complete_at_once`); a child no longer
        // PENDING is left as it is.
        let counting = Expr::col(Column::Status)
            .eq(JobStatus::Pending)
            .and(Expr::col(Column::WaitingFor).gt(0));
        // `updated_at` first: MariaDB/MySQL evaluate the assignments in order, each seeing
        // the ones before it, so after the count-down its test would see the new count.
        let updated = Entity::update_many()
            .col_expr(
                Column::UpdatedAt,
                Expr::case(counting.clone(), Expr::val(clock::now()))
                    .finally(Expr::col(Column::UpdatedAt))
                    .into(),
            )
            .col_expr(
                Column::WaitingFor,
                Expr::case(counting, Expr::col(Column::WaitingFor).sub(1))
                    .finally(Expr::col(Column::WaitingFor))
                    .into(),
            )
            .filter(Column::Id.is_in(children))
            .exec(txn)
            .await
            .on_table("agent_jobs")?;
        return Ok(updated.rows_affected);
    }
    let mut grafted = Vec::with_capacity(follow_ups.len());
    for row in follow_ups {
        let created = insert_job(txn, owner, row, &[job]).await?;
        if !grafted.contains(&created.id) {
            grafted.push(created.id);
        }
    }
    if children.is_empty() {
        return Ok(grafted.len() as u64);
    }
    let pending: Vec<Uuid> = Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::Id.is_in(children.iter().copied()))
        .filter(Column::Status.eq(JobStatus::Pending))
        .into_tuple()
        .all(txn)
        .await?;
    for child in &pending {
        add_edges(txn, *child, &grafted).await?;
    }
    let added = i32::try_from(grafted.len()).unwrap_or(i32::MAX);
    let now = clock::now();
    Entity::update_many()
        .col_expr(
            Column::WaitingFor,
            Expr::col(Column::WaitingFor).add(added).sub(1),
        )
        .col_expr(Column::UpdatedAt, Expr::val(now))
        .filter(Column::Id.is_in(pending.iter().copied()))
        .filter(Column::WaitingFor.gt(0))
        .exec(txn)
        .await
        .on_table("agent_jobs")?;
    Ok(pending.len() as u64 + grafted.len() as u64)
}

/// After `root` ended as `status` (FAILED or CANCELLED, inside the same transaction):
/// cancels every PENDING job that waits for it, then the jobs that wait for those, each
/// with the reason and `cancelled_by` set to the job it waited for. Returns how many.
pub(super) async fn ended<C: ConnectionTrait>(
    txn: &C,
    root: Uuid,
    status: JobStatus,
) -> Result<u64> {
    let mut cancelled = 0;
    let mut frontier = vec![(root, status)];
    while !frontier.is_empty() {
        let parents: Vec<Uuid> = frontier.iter().map(|(id, _)| *id).collect();
        let pairs = waiting_for(txn, &parents).await?;
        let mut next = Vec::new();
        for (parent, parent_status) in &frontier {
            let children: Vec<Uuid> = pairs
                .iter()
                .filter(|(_, p)| p == parent)
                .map(|(child, _)| *child)
                .collect();
            if children.is_empty() {
                continue;
            }
            let pending: Vec<Uuid> = Entity::find()
                .select_only()
                .column(Column::Id)
                .filter(Column::Id.is_in(children.iter().copied()))
                .filter(Column::Status.eq(JobStatus::Pending))
                .into_tuple()
                .all(txn)
                .await?;
            if pending.is_empty() {
                continue;
            }
            let now = clock::now();
            let done = Entity::update_many()
                .set(agent_jobs::ActiveModel {
                    status: Set(JobStatus::Cancelled),
                    cancelled_by: Set(Some(*parent)),
                    error: Set(Some(cut(&ended_reason(*parent, *parent_status), MAX_ERROR))),
                    completed_at: Set(Some(now)),
                    heartbeat_at: Set(None),
                    updated_at: Set(now),
                    ..Default::default()
                })
                .filter(Column::Id.is_in(pending.iter().copied()))
                .filter(Column::Status.eq(JobStatus::Pending))
                .exec(txn)
                .await
                .on_table("agent_jobs")?;
            cancelled += done.rows_affected;
            next.extend(pending.into_iter().map(|id| (id, JobStatus::Cancelled)));
        }
        frontier = next;
    }
    if cancelled > 0 {
        tracing::info!(
            target: "zyenta::agent_jobs",
            event = "dependants_cancelled",
            job_id = %root,
            cancelled,
            "jobs waiting for a job that did not complete were cancelled"
        );
    }
    Ok(cancelled)
}

/// Brings back the jobs that `parent` cancelled when it ended, and theirs, transitively:
/// PENDING again, waiting for their parents that have not COMPLETED. Returns how many.
pub(super) async fn resurrect<C: ConnectionTrait>(txn: &C, parent: Uuid) -> Result<u64> {
    let mut revived = 0;
    let mut frontier = vec![parent];
    while !frontier.is_empty() {
        let children: Vec<Uuid> = Entity::find()
            .select_only()
            .column(Column::Id)
            .filter(Column::CancelledBy.is_in(frontier.iter().copied()))
            .filter(Column::Status.eq(JobStatus::Cancelled))
            .lock(LockType::Update)
            .into_tuple()
            .all(txn)
            .await?;
        for child in &children {
            let parents: Vec<Uuid> = edges::Entity::find()
                .select_only()
                .column(edges::Column::DependsOn)
                .filter(edges::Column::JobId.eq(*child))
                .into_tuple()
                .all(txn)
                .await?;
            let open = Entity::find()
                .filter(Column::Id.is_in(parents))
                .filter(Column::Status.ne(JobStatus::Completed))
                .count(txn)
                .await?;
            let now = clock::now();
            let done = Entity::update_many()
                .set(agent_jobs::ActiveModel {
                    status: Set(JobStatus::Pending),
                    waiting_for: Set(i32::try_from(open).unwrap_or(i32::MAX)),
                    cancelled_by: Set(None),
                    completed_at: Set(None),
                    run_at: Set(now),
                    updated_at: Set(now),
                    ..Default::default()
                })
                .filter(Column::Id.eq(*child))
                .filter(Column::Status.eq(JobStatus::Cancelled))
                .exec(txn)
                .await
                .on_table("agent_jobs")?;
            revived += done.rows_affected;
        }
        frontier = children;
    }
    Ok(revived)
}

/// The jobs `job` waits (or waited) for, with their outputs.
pub(super) async fn parents<C: ConnectionTrait>(db: &C, job: Uuid) -> Result<Vec<AgentJob>> {
    let ids: Vec<Uuid> = edges::Entity::find()
        .select_only()
        .column(edges::Column::DependsOn)
        .filter(edges::Column::JobId.eq(job))
        .into_tuple()
        .all(db)
        .await?;
    let rows = Entity::find().filter(Column::Id.is_in(ids)).all(db).await?;
    let mut jobs = rows
        .into_iter()
        .map(AgentJob::try_from)
        .collect::<Result<Vec<_>>>()?;
    jobs.sort_by_key(|job| job.id);
    Ok(jobs)
}
