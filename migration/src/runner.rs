//! Applying and reading migrations the way a deployment needs it.
//!
//! - [`status`] reads what is applied, pending and **unknown** (applied by a newer build) and
//!   changes nothing: it never creates the bookkeeping table.
//! - [`run`] applies or rolls back under a database-wide lock, so that several processes
//!   starting at once migrate the schema once: `pg_advisory_lock` on Postgres, `GET_LOCK` on
//!   MariaDB/MySQL (both held by one dedicated connection for the whole run), one
//!   `BEGIN EXCLUSIVE` transaction on SQLite (all statements of the run on one connection).
//! - Applying refuses when the database holds migrations this build does not know and there
//!   is something to apply: the newer build's schema must not be changed by an older one.

use sea_orm_migration::sea_orm;
use std::collections::HashSet;
use std::time::{Duration, Instant};

use sea_orm::DatabaseExecutor;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryOrder,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};
use sea_orm_migration::{MigratorTrait, seaql_migrations};

use crate::Migrator;

/// The Postgres advisory lock key of a migration run (any constant the application uses for
/// nothing else; advisory locks are per database).
pub const PG_LOCK_KEY: i64 = 0x7a79_656e_7461_6d67; // "zyentamg"
/// How long a migration run waits for the lock held by another process.
pub const LOCK_WAIT: Duration = Duration::from_secs(600);

/// What a database holds compared with this build's migrations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// Applied migrations this build knows, oldest first.
    pub applied: Vec<String>,
    /// Migrations of this build not applied yet, oldest first.
    pub pending: Vec<String>,
    /// Applied migrations this build does not know (a newer build applied them), by name.
    pub unknown: Vec<String>,
}

impl Status {
    /// Whether every migration of this build is applied.
    pub fn is_current(&self) -> bool {
        self.pending.is_empty()
    }
}

/// Reads the migration status without writing anything (no `CREATE TABLE` of
/// `seaql_migrations` when it is missing: then everything is pending).
///
/// # Errors
/// The database error when the catalog or the table cannot be read.
pub async fn status<C: ConnectionTrait>(db: &C) -> Result<Status, DbErr> {
    let applied_versions: Vec<String> = if has_bookkeeping_table(db).await? {
        seaql_migrations::Entity::find()
            .order_by_asc(seaql_migrations::Column::Version)
            .all(db)
            .await?
            .into_iter()
            .map(|m| m.version)
            .collect()
    } else {
        Vec::new()
    };
    let in_db: HashSet<&str> = applied_versions.iter().map(String::as_str).collect();
    let known: Vec<String> = Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    let known_set: HashSet<&str> = known.iter().map(String::as_str).collect();
    let mut status = Status::default();
    for name in &known {
        if in_db.contains(name.as_str()) {
            status.applied.push(name.clone());
        } else {
            status.pending.push(name.clone());
        }
    }
    status.unknown = applied_versions
        .iter()
        .filter(|v| !known_set.contains(v.as_str()))
        .cloned()
        .collect();
    Ok(status)
}

async fn has_bookkeeping_table<C: ConnectionTrait>(db: &C) -> Result<bool, DbErr> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT 1 FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = 'seaql_migrations'"
        }
        DbBackend::MySql => {
            "SELECT 1 FROM information_schema.tables \
             WHERE table_schema = DATABASE() AND table_name = 'seaql_migrations'"
        }
        _ => "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'seaql_migrations'",
    };
    Ok(db
        .query_one_raw(Statement::from_string(backend, sql))
        .await?
        .is_some())
}

/// A change of the schema, run by [`run`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Apply pending migrations (all, or this many).
    Up(Option<u32>),
    /// Roll back applied migrations (this many; `None` = all).
    Down(Option<u32>),
    /// Drop every table of the schema, then apply everything (destroys data).
    Fresh,
    /// Roll back everything, then apply everything (destroys data).
    Refresh,
    /// Roll back everything and drop the bookkeeping table (destroys data).
    Reset,
}

/// What [`run`] did: the status before and after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The status read under the lock, before the operation.
    pub before: Status,
    /// The status after it.
    pub after: Status,
}

/// The message of the refusal to change a schema that a newer build migrated.
pub fn unknown_refusal(unknown: &[String]) -> DbErr {
    DbErr::Migration(format!(
        "the database has {} applied migration(s) this build does not know ({}): a newer \
         build migrated it. Refusing to change the schema; run the migrations of the newest \
         build instead",
        unknown.len(),
        unknown.join(", ")
    ))
}

/// Runs `operation` under the database-wide migration lock (see the module documentation).
/// Two processes that call it at once run one after the other; the second finds nothing
/// pending.
///
/// # Errors
/// [`DbErr::Migration`] when the database holds unknown migrations and the operation would
/// change the schema; the lock's or the migration's database error otherwise (on Postgres and
/// SQLite a failed migration leaves no trace of itself).
pub async fn run(db: &DatabaseConnection, operation: Operation) -> Result<Outcome, DbErr> {
    match db.get_database_backend() {
        DbBackend::Sqlite => run_sqlite(db, operation).await,
        DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            let single = sea_orm::sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .acquire_timeout(LOCK_WAIT)
                .connect_with((*pool.connect_options()).clone())
                .await
                .map_err(|e| DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e.into())))?;
            let conn = sea_orm::SqlxPostgresConnector::from_sqlx_postgres_pool(single);
            conn.execute_unprepared(&format!("SELECT pg_advisory_lock({PG_LOCK_KEY})"))
                .await?;
            let result = apply(DatabaseExecutor::Connection(&conn), operation).await;
            let unlocked = conn
                .execute_unprepared(&format!("SELECT pg_advisory_unlock({PG_LOCK_KEY})"))
                .await;
            conn.close().await.ok();
            let outcome = result?;
            unlocked?;
            Ok(outcome)
        }
        DbBackend::MySql => {
            let pool = db.get_mysql_connection_pool();
            let single = sea_orm::sqlx::mysql::MySqlPoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .acquire_timeout(LOCK_WAIT)
                .connect_with((*pool.connect_options()).clone())
                .await
                .map_err(|e| DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e.into())))?;
            let conn = sea_orm::SqlxMySqlConnector::from_sqlx_mysql_pool(single);
            // GET_LOCK names are server-wide: the database's name keeps two databases of one
            // server apart.
            let got = conn
                .query_one_raw(Statement::from_string(
                    DbBackend::MySql,
                    format!(
                        "SELECT GET_LOCK(CONCAT('zyenta_migrate:', DATABASE()), {})",
                        LOCK_WAIT.as_secs()
                    ),
                ))
                .await?
                .and_then(|row| row.try_get_by_index::<Option<i64>>(0).ok().flatten());
            if got != Some(1) {
                conn.close().await.ok();
                return Err(DbErr::Migration(format!(
                    "another process held the migration lock for more than {} s",
                    LOCK_WAIT.as_secs()
                )));
            }
            let result = apply(DatabaseExecutor::Connection(&conn), operation).await;
            let unlocked = conn
                .execute_unprepared("SELECT RELEASE_LOCK(CONCAT('zyenta_migrate:', DATABASE()))")
                .await;
            conn.close().await.ok();
            let outcome = result?;
            unlocked?;
            Ok(outcome)
        }
        other => Err(DbErr::Migration(format!("unsupported backend {other:?}"))),
    }
}

/// SQLite: the whole run is one `BEGIN EXCLUSIVE` transaction, so it holds one connection
/// (a run spread over several pooled connections could see another connection's stale view of
/// the schema) and either completes or leaves nothing.
async fn run_sqlite(db: &DatabaseConnection, operation: Operation) -> Result<Outcome, DbErr> {
    let started = Instant::now();
    let txn = loop {
        match db
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Exclusive),
                ..TransactionOptions::default()
            })
            .await
        {
            Ok(txn) => break txn,
            // Another process holds the lock longer than the busy timeout: wait on.
            Err(e) if is_busy(&e) && started.elapsed() < LOCK_WAIT => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => return Err(e),
        }
    };
    // Dropping tables that others reference is checked at commit, when they are all gone.
    txn.execute_unprepared("PRAGMA defer_foreign_keys = ON")
        .await?;
    let outcome = apply(DatabaseExecutor::Transaction(&txn), operation).await?;
    txn.commit().await?;
    Ok(outcome)
}

fn is_busy(err: &DbErr) -> bool {
    let text = err.to_string();
    text.contains("database is locked") || text.contains("(code: 5)")
}

/// The same executor again (the migrator takes executors by value).
fn again<'a>(db: &'a DatabaseExecutor<'_>) -> DatabaseExecutor<'a> {
    match db {
        DatabaseExecutor::Connection(c) => DatabaseExecutor::Connection(c),
        DatabaseExecutor::Transaction(t) => DatabaseExecutor::Transaction(t),
        DatabaseExecutor::OwnedTransaction(t) => DatabaseExecutor::Transaction(t),
    }
}

async fn apply(exec: DatabaseExecutor<'_>, operation: Operation) -> Result<Outcome, DbErr> {
    let db = &exec;
    let before = status(db).await?;
    let changes_forward = matches!(operation, Operation::Up(_)) && !before.pending.is_empty();
    let destroys = !matches!(operation, Operation::Up(_));
    if !before.unknown.is_empty() && (changes_forward || destroys) {
        return Err(unknown_refusal(&before.unknown));
    }
    match operation {
        Operation::Up(steps) => {
            if !before.pending.is_empty() {
                Migrator::up(again(db), steps).await?;
            }
        }
        Operation::Down(steps) => Migrator::down(again(db), steps).await?,
        Operation::Fresh => Migrator::fresh(again(db)).await?,
        Operation::Refresh => Migrator::refresh(again(db)).await?,
        Operation::Reset => Migrator::reset(again(db)).await?,
    }
    let after = status(db).await?;
    Ok(Outcome { before, after })
}
