//! The claim of a worker with concurrency caps: the count of running jobs of a store (or an
//! agent type) and the claim that adds one are serialised by a lock on that key's gate row,
//! so the caps hold over every worker and process.
//!
//! One transaction: take the next runnable job whose store (and type) looks below its cap,
//! lock the gate of its type and then of its store (always in that order, so two claims never
//! wait for each other in a circle), count the PROCESSING jobs of each again under the lock,
//! and claim the job, or pass over that store (type) and look again. On SQLite the single
//! writer already serialises the claims and there are no gates.

use entity::agent_jobs::{self, Column, Entity};
use sea_orm::sea_query::{Expr, ExprTrait, LockType};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect, Statement,
    TransactionSession, TransactionTrait,
};
use uuid::Uuid;

use super::{AgentType, JobStatus, Worker};
use crate::clock;
use crate::db::begin_write;
use crate::error::Result;
use crate::txn::retry_transient;
use crate::violations::OnTable;

/// Stores (or types) passed over in one claim before it gives up until the next poll.
const MAX_ROUNDS: usize = 256;

pub(super) async fn claim<C>(worker: &Worker, db: &C) -> Result<Option<agent_jobs::Model>>
where
    C: ConnectionTrait + TransactionTrait,
{
    retry_transient(db, || claim_once(worker, db)).await
}

async fn claim_once<C>(worker: &Worker, db: &C) -> Result<Option<agent_jobs::Model>>
where
    C: ConnectionTrait + TransactionTrait,
{
    let txn = begin_write(db).await?;
    let now = clock::now();
    let mut full_types: Vec<AgentType> = Vec::new();
    let mut full_stores: Vec<Uuid> = Vec::new();
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
        if let Some(cap) = worker.caps.per_store {
            // A hint that skips the stores already at their cap; the count under the gate
            // below is what decides.
            next = next.filter(Column::StoreId.is_null().or(Expr::cust_with_values(
                "(SELECT COUNT(*) FROM agent_jobs running \
                     WHERE running.store_id = agent_jobs.store_id \
                     AND running.status = 'PROCESSING') < ?",
                [i64::from(cap.get())],
            )));
        }
        let Some(row) = next.one(&txn).await? else {
            txn.commit().await?;
            return Ok(None);
        };
        if let Some(cap) = worker.caps.of_type(row.r#type) {
            lock_gate(&txn, &format!("type:{}", type_key(row.r#type))).await?;
            let running = running(&txn, Column::Type.eq(row.r#type)).await?;
            if running >= u64::from(cap.get()) {
                full_types.push(row.r#type);
                continue;
            }
        }
        if let (Some(cap), Some(store)) = (worker.caps.per_store, row.store_id) {
            lock_gate(&txn, &format!("store:{store}")).await?;
            let running = running(&txn, Column::StoreId.eq(store)).await?;
            if running >= u64::from(cap.get()) {
                full_stores.push(store);
                continue;
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
        return Ok(Some(agent_jobs::Model {
            status: JobStatus::Processing,
            locked_by: Some(worker.id().as_str().to_owned()),
            attempts: row.attempts + 1,
            started_at: Some(now),
            heartbeat_at: Some(now),
            progress: 0,
            current_step: None,
            updated_at: now,
            ..row
        }));
    }
    txn.commit().await?;
    Ok(None)
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

/// How many jobs matching `of` are PROCESSING, as committed now: on MariaDB/MySQL a locking
/// read (a plain one would see the snapshot the transaction took before the gate was held).
async fn running<C: ConnectionTrait>(txn: &C, of: sea_orm::sea_query::SimpleExpr) -> Result<u64> {
    let mut query = Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(of)
        .filter(Column::Status.eq(JobStatus::Processing));
    if txn.get_database_backend() == DbBackend::MySql {
        query = query.lock(LockType::Update);
    }
    let ids: Vec<Uuid> = query.into_tuple().all(txn).await?;
    Ok(ids.len() as u64)
}
