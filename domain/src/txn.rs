//! Transactions that survive a lost deadlock, and the rule for what happens when one is lost
//! inside a caller's transaction.
//!
//! A deadlock or lock-wait victim is rolled back by the database through no fault of its own,
//! and running it again usually succeeds. What "it" is matters: InnoDB (MariaDB, MySQL) rolls
//! back the **whole** transaction on a deadlock, not the savepoint that a nested call opened.
//! So a domain function retries its own work only when it runs outermost (on a pool
//! connection). Inside a caller's transaction it returns [`Error::Transient`] instead, and on
//! MariaDB, whose server has already thrown the caller's transaction away, it also closes the
//! connection, so that the caller's later `commit()` fails instead of reporting success for
//! writes that were never kept (without that, the statements the caller runs next would even
//! be committed one by one, outside any transaction).
//!
//! Services that compose several calls into one transaction use [`transaction`], which runs
//! the whole closure again on a transient failure:
//!
//! ```
//! # async fn demo(db: &domain::DatabaseConnection, owner: uuid::Uuid) -> domain::Result<()> {
//! use domain::stores::{self, NewStore};
//!
//! let store = domain::transaction(db, |txn| {
//!     Box::pin(async move {
//!         let new = NewStore {
//!             name: "Neon Nest".into(),
//!             niche: "Lamps".into(),
//!             ..NewStore::default()
//!         };
//!         let store = stores::create(txn, owner, new).await?;
//!         // … more writes that must commit together with the store …
//!         Ok(store)
//!     })
//! })
//! .await?;
//! # let _ = store;
//! # Ok(())
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend};

use crate::db::begin_write;
use crate::error::{Error, Result};

/// How often a transaction that lost a deadlock is run again before [`Error::Transient`] is
/// handed to the caller.
pub const TRANSIENT_RETRIES: u32 = 8;

/// The future a [`transaction`] closure returns.
pub type TxnFuture<'c, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'c>>;

/// Runs `work` in a transaction and commits it; when the transaction (or its commit) loses a
/// deadlock, a serialization conflict or a lock wait, it is rolled back and `work` runs again
/// from the start, up to [`TRANSIENT_RETRIES`] times, with a short growing pause.
///
/// On SQLite the transaction takes the write lock at `BEGIN` (`BEGIN IMMEDIATE`), so that two
/// transactions that read and then write wait for each other instead of failing.
///
/// `work` may run more than once: keep side effects outside the database (sending mail,
/// calling a supplier) out of it, or make them idempotent.
///
/// # Errors
/// Whatever `work` returns (nothing is committed then); [`Error::Transient`] when every try
/// lost; [`Error::Database`] when the transaction cannot begin or commit.
#[tracing::instrument(skip_all, err)]
pub async fn transaction<T, F>(db: &DatabaseConnection, mut work: F) -> Result<T>
where
    T: Send,
    F: for<'c> FnMut(&'c DatabaseTransaction) -> TxnFuture<'c, T> + Send,
{
    let mut tries = 0;
    loop {
        let outcome: Result<T> = async {
            let txn = begin_write(db).await?;
            let value = work(&txn).await?;
            txn.commit().await?;
            Ok(value)
        }
        .await;
        match outcome {
            Err(err) if err.is_retryable() && tries < TRANSIENT_RETRIES => {
                tries += 1;
                pause(tries).await;
            }
            other => return other,
        }
    }
}

/// Runs one domain call's own transaction `attempt`, again on a transient failure when `db`
/// is not inside a caller's transaction; see the module docs for what happens when it is.
pub(crate) async fn retry_transient<C, T, F, Fut>(db: &C, mut attempt: F) -> Result<T>
where
    C: ConnectionTrait,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    // Only InnoDB throws away more than the failed savepoint; elsewhere a nested attempt is
    // rolled back to its savepoint and may run again where it stands.
    let nested_on_innodb =
        db.get_database_backend() == DbBackend::MySql && in_transaction(db).await?;
    let mut tries = 0;
    loop {
        match attempt().await {
            Err(err) if err.is_retryable() => {
                if nested_on_innodb {
                    return Err(poison_if_lost(db, err).await);
                }
                if tries >= TRANSIENT_RETRIES {
                    return Err(err);
                }
                tries += 1;
                pause(tries).await;
            }
            other => return other,
        }
    }
}

/// Whether `db` is a connection inside an open transaction (MariaDB/MySQL only).
pub(crate) async fn in_transaction<C: ConnectionTrait>(db: &C) -> Result<bool> {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            DbBackend::MySql,
            "SELECT CAST(@@in_transaction AS SIGNED) AS open",
        ))
        .await?;
    Ok(row
        .map(|r| r.try_get::<i64>("", "open"))
        .transpose()?
        .is_some_and(|open| open != 0))
}

/// After a transient failure inside a caller's transaction on InnoDB: if the server rolled the
/// caller's transaction back (a deadlock does; a lock-wait timeout only undoes the statement),
/// closes the connection so that nothing later can commit, or seem to commit, on it.
async fn poison_if_lost<C: ConnectionTrait>(db: &C, err: Error) -> Error {
    // The savepoints that the failed attempt opened were rolled back on drop, by statements
    // queued on the connection; after a deadlock they fail (the savepoints are gone), and
    // each failure is reported to the next statement. Drain them first.
    for _ in 0..8 {
        if db.execute_unprepared("DO 0").await.is_ok() {
            break;
        }
    }
    if matches!(in_transaction(db).await, Ok(true)) {
        return err;
    }
    tracing::warn!(
        "a deadlock rolled back the caller's transaction; closing its connection so that \
         its commit fails"
    );
    // The server answers by closing the connection: an error is the expected outcome.
    let _ = db.execute_unprepared("KILL CONNECTION_ID()").await;
    err
}

async fn pause(tries: u32) {
    // A few milliseconds, growing, with jitter so that the same two losers do not meet again.
    let base = 2u64.saturating_pow(tries.min(6));
    let jitter = u64::from(uuid::Uuid::now_v7().as_u128() as u8 % 8);
    tokio::time::sleep(Duration::from_millis(base + jitter)).await;
}
