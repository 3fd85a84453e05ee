//! The claim of a worker with concurrency caps: the count of running jobs of a store (or an
//! agent type) and the claim that adds one are serialised by a lock on that key's gate row,
//! so the caps hold over every worker and process.
//!
//! One transaction per round: take the next runnable job whose store (and type) is not known
//! to be at its cap, lock the gate of its type and then of its store (always in that order),
//! count the PROCESSING jobs of each again under the lock, and claim the job; or end the
//! transaction (releasing the gates) and look again past that store (type). A round holds
//! at most one type gate and one store gate, taken in that order, so two claims never wait
//! for each other in a circle. Inside a caller's transaction the rounds are savepoints and
//! the gates stay locked until the caller commits: claim with caps outside one. On SQLite the single
//! writer already serialises the claims and there are no gates.

use entity::agent_jobs::{self, Column, Entity};
use sea_orm::sea_query::{Expr, ExprTrait, LockType};
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

/// What one round of a capped claim found.
enum Round {
    Claimed(Box<agent_jobs::Model>),
    Empty,
    FullStore(Uuid),
    FullType(AgentType),
}

pub(super) async fn claim<C>(worker: &Worker, db: &C) -> Result<Option<agent_jobs::Model>>
where
    C: ConnectionTrait + TransactionTrait,
{
    // The stores and types at their cap now, read from the few PROCESSING rows: a hint that
    // keeps the search away from them. The count under the gate is what decides.
    let (mut full_stores, mut full_types) = at_cap(db, &worker.caps).await?;
    for _ in 0..MAX_ROUNDS {
        let round = retry_transient(db, || round(worker, db, &full_stores, &full_types)).await?;
        match round {
            Round::Claimed(row) => return Ok(Some(*row)),
            Round::Empty => return Ok(None),
            Round::FullStore(store) => full_stores.push(store),
            Round::FullType(agent_type) => full_types.push(agent_type),
        }
    }
    Ok(None)
}

/// One transaction: the next candidate outside the full stores and types, its gates, the
/// counts, and the claim. A store or type found full ends the transaction, so that no gate
/// is held while another is awaited (two claims holding each other's gate would deadlock).
async fn round<C>(
    worker: &Worker,
    db: &C,
    full_stores: &[Uuid],
    full_types: &[AgentType],
) -> Result<Round>
where
    C: ConnectionTrait + TransactionTrait,
{
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
        txn.commit().await?;
        return Ok(Round::Empty);
    };
    if let Some(cap) = worker.caps.of_type(row.r#type) {
        lock_gate(&txn, &format!("type:{}", type_key(row.r#type))).await?;
        let running = running(&txn, Column::Type.eq(row.r#type), locking_count).await?;
        if running >= u64::from(cap.get()) {
            txn.commit().await?;
            return Ok(Round::FullType(row.r#type));
        }
    }
    if let (Some(cap), Some(store)) = (worker.caps.per_store, row.store_id) {
        lock_gate(&txn, &format!("store:{store}")).await?;
        let running = running(&txn, Column::StoreId.eq(store), locking_count).await?;
        if running >= u64::from(cap.get()) {
            txn.commit().await?;
            return Ok(Round::FullStore(store));
        }
    }
    Entity::update_many()
        .set(worker.claimed(now))
        .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
        .filter(Column::Id.eq(row.id))
        .exec(&txn)
        .await
        .on_table("agent_jobs")?;
    txn.commit().await?;
    Ok(Round::Claimed(Box::new(agent_jobs::Model {
        status: JobStatus::Processing,
        locked_by: Some(worker.id().as_str().to_owned()),
        attempts: row.attempts + 1,
        started_at: Some(now),
        heartbeat_at: Some(now),
        progress: 0,
        current_step: None,
        updated_at: now,
        ..row
    })))
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

/// Creates the gate row when it is missing and locks it until the transaction ends.
async fn lock_gate<C: ConnectionTrait>(txn: &C, gate: &str) -> Result<()> {
    let backend = txn.get_database_backend();
    let sql = match backend {
        // The single writer serialises every claim already.
        DbBackend::Sqlite => return Ok(()),
        DbBackend::MySql => {
            "INSERT INTO agent_job_gates (gate) VALUES (?) ON DUPLICATE KEY UPDATE gate = gate"
        }
        _ => {
            "INSERT INTO agent_job_gates (gate) VALUES ($1) \
             ON CONFLICT (gate) DO UPDATE SET gate = EXCLUDED.gate"
        }
    };
    txn.execute_raw(Statement::from_sql_and_values(backend, sql, [gate.into()]))
        .await
        .on_table("agent_job_gates")?;
    Ok(())
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
