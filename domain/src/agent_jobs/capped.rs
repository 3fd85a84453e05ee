//! The claim of a worker with concurrency caps: the count of running jobs of a store (or an
//! agent type) and the claim that adds one are serialised by a lock on that key's gate row
//! (`agent_job_gates`), so the caps hold over every worker and process.
//!
//! One transaction: take the next runnable job whose store (and type) is not known to be at
//! its cap; try to lock the gate of its type, then of its store, without waiting (`FOR UPDATE
//! SKIP LOCKED`); count the PROCESSING jobs of each under the lock, and claim the job. A gate
//! another claim holds, or a store (type) at its cap, is passed over and the search goes on
//! past it. No claim ever waits for a gate, so claims cannot deadlock on them however many
//! they hold, and concurrent claims spread over the stores instead of queueing behind one.
//! A claim that passed over busy gates and found nothing looks again a few times before it
//! answers `None`. On SQLite the single writer already serialises the claims and there are
//! no gates.

use entity::agent_jobs::{self, Column, Entity};
use sea_orm::sea_query::{ExprTrait, LockType};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, IsolationLevel, QueryFilter, QuerySelect,
    Statement, TransactionSession, TransactionTrait,
};
use uuid::Uuid;

use super::claim::Caps;
use super::{AgentType, JobStatus, Worker};
use crate::clock;
use crate::db::begin_write;
use crate::error::Result;
use crate::txn::retry_transient;
use crate::violations::OnTable;

/// Stores (or types) passed over in one claim before it gives up until the next poll.
const MAX_ROUNDS: usize = 256;
/// Claims in a row that passed over busy gates and found nothing, before `None`.
const BUSY_RETRIES: usize = 3;

/// What one claim attempt found.
enum Outcome {
    Claimed(Box<agent_jobs::Model>),
    /// Nothing claimable; `busy` when a gate held by another claim was passed over.
    Nothing {
        busy: bool,
    },
}

pub(super) async fn claim<C>(worker: &Worker, db: &C) -> Result<Option<agent_jobs::Model>>
where
    C: ConnectionTrait + TransactionTrait,
{
    for _ in 0..BUSY_RETRIES {
        match retry_transient(db, || attempt(worker, db)).await? {
            Outcome::Claimed(row) => return Ok(Some(*row)),
            Outcome::Nothing { busy: false } => return Ok(None),
            Outcome::Nothing { busy: true } => tokio::task::yield_now().await,
        }
    }
    Ok(None)
}

async fn attempt<C>(worker: &Worker, db: &C) -> Result<Outcome>
where
    C: ConnectionTrait + TransactionTrait,
{
    // The stores and types at their cap now, read from the few PROCESSING rows: a hint that
    // keeps the search away from them. The count under the gate is what decides.
    let (mut full_stores, mut full_types) = at_cap(db, &worker.caps).await?;
    // MariaDB/MySQL: READ COMMITTED when this is the outermost transaction, so that the count
    // under the gate is a plain read of what is committed, with no lock on the running jobs
    // (their workers' updates never wait for it). Nested in a caller's transaction, whose
    // isolation cannot change, the count is a locking read instead.
    let mut locking_count = false;
    let txn = if db.get_database_backend() == DbBackend::MySql {
        if crate::txn::in_transaction(db).await? {
            locking_count = true;
            db.begin().await?
        } else {
            db.begin_with_config(Some(IsolationLevel::ReadCommitted), None)
                .await?
        }
    } else {
        begin_write(db).await?
    };
    let now = clock::now();
    let mut busy = false;
    for _ in 0..MAX_ROUNDS {
        let mut next = worker.next_runnable(now);
        if !full_types.is_empty() {
            next = next.filter(Column::Type.is_not_in(full_types.iter().copied()));
        }
        if !full_stores.is_empty() {
            next = next.filter(
                Column::StoreId
                    .is_null()
                    .or(Column::StoreId.is_not_in(full_stores.iter().copied())),
            );
        }
        let Some(row) = next.one(&txn).await? else {
            break;
        };
        if let Some(cap) = worker.caps.of_type(row.r#type) {
            let mine = try_gate(&txn, &format!("type:{}", type_key(row.r#type))).await?;
            busy |= !mine;
            if !mine
                || running(&txn, Column::Type.eq(row.r#type), locking_count).await?
                    >= u64::from(cap.get())
            {
                full_types.push(row.r#type);
                continue;
            }
        }
        if let (Some(cap), Some(store)) = (worker.caps.per_store, row.store_id) {
            let mine = try_gate(&txn, &format!("store:{store}")).await?;
            busy |= !mine;
            if !mine
                || running(&txn, Column::StoreId.eq(store), locking_count).await?
                    >= u64::from(cap.get())
            {
                full_stores.push(store);
                continue;
            }
        }
        let claimed = worker.take(&txn, vec![row], now).await?.pop();
        txn.commit().await?;
        return Ok(claimed.map_or(Outcome::Nothing { busy }, |row| {
            Outcome::Claimed(Box::new(row))
        }));
    }
    txn.commit().await?;
    Ok(Outcome::Nothing { busy })
}

/// The stores, and the capped agent types, with at least their cap of PROCESSING jobs.
async fn at_cap<C: ConnectionTrait>(txn: &C, caps: &Caps) -> Result<(Vec<Uuid>, Vec<AgentType>)> {
    let mut stores = Vec::new();
    if let Some(cap) = caps.per_store {
        let running: Vec<(Uuid, i64)> = Entity::find()
            .select_only()
            .column(Column::StoreId)
            .column_as(Column::Id.count(), "running")
            .filter(Column::Status.eq(JobStatus::Processing))
            .filter(Column::StoreId.is_not_null())
            .group_by(Column::StoreId)
            .into_tuple()
            .all(txn)
            .await?;
        stores = running
            .into_iter()
            .filter(|(_, n)| *n >= i64::from(cap.get()))
            .map(|(store, _)| store)
            .collect();
    }
    let mut types = Vec::new();
    if !caps.per_type.is_empty() {
        let running: Vec<(AgentType, i64)> = Entity::find()
            .select_only()
            .column(Column::Type)
            .column_as(Column::Id.count(), "running")
            .filter(Column::Status.eq(JobStatus::Processing))
            .filter(Column::Type.is_in(caps.per_type.iter().map(|(t, _)| *t)))
            .group_by(Column::Type)
            .into_tuple()
            .all(txn)
            .await?;
        types = running
            .into_iter()
            .filter(|(t, n)| {
                caps.of_type(*t)
                    .is_some_and(|cap| *n >= i64::from(cap.get()))
            })
            .map(|(t, _)| t)
            .collect();
    }
    Ok((stores, types))
}

fn type_key(agent_type: AgentType) -> String {
    use sea_orm::ActiveEnum;
    agent_type.to_value().value.into_owned()
}

/// Locks the gate row until the transaction ends, without waiting: `false` when another
/// claim holds it. A missing row is created first (the table may be emptied at any time).
async fn try_gate<C: ConnectionTrait>(txn: &C, gate: &str) -> Result<bool> {
    let backend = txn.get_database_backend();
    if backend == DbBackend::Sqlite {
        // The single writer serialises every claim already.
        return Ok(true);
    }
    let (select, exists, insert) = match backend {
        DbBackend::MySql => (
            "SELECT gate FROM agent_job_gates WHERE gate = ? FOR UPDATE SKIP LOCKED",
            "SELECT gate FROM agent_job_gates WHERE gate = ?",
            "INSERT IGNORE INTO agent_job_gates (gate) VALUES (?)",
        ),
        _ => (
            "SELECT gate FROM agent_job_gates WHERE gate = $1 FOR UPDATE SKIP LOCKED",
            "SELECT gate FROM agent_job_gates WHERE gate = $1",
            "INSERT INTO agent_job_gates (gate) VALUES ($1) ON CONFLICT (gate) DO NOTHING",
        ),
    };
    let statement = |sql| Statement::from_sql_and_values(backend, sql, [gate.into()]);
    if txn.query_one_raw(statement(select)).await?.is_some() {
        return Ok(true);
    }
    // Not lockable: held by another claim when it exists (a plain read, which waits for
    // nobody), otherwise missing.
    if txn.query_one_raw(statement(exists)).await?.is_some() {
        return Ok(false);
    }
    let created = txn
        .execute_raw(statement(insert))
        .await
        .on_table("agent_job_gates")?
        .rows_affected();
    Ok(created > 0 || txn.query_one_raw(statement(select)).await?.is_some())
}

/// How many jobs matching `of` are PROCESSING, as committed now. With `locking`, a locking
/// read (in a REPEATABLE READ transaction a plain one would see the snapshot taken before
/// the gate was held).
async fn running<C: ConnectionTrait>(
    txn: &C,
    of: sea_orm::sea_query::SimpleExpr,
    locking: bool,
) -> Result<u64> {
    let mut query = Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(of)
        .filter(Column::Status.eq(JobStatus::Processing));
    if locking {
        query = query.lock(LockType::Update);
    }
    let ids: Vec<Uuid> = query.into_tuple().all(txn).await?;
    Ok(ids.len() as u64)
}
