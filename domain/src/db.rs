//! Connecting, migrating and checking the database.

use std::time::{Duration, Instant};

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};

use crate::config::Config;
use crate::error::Result;

mod read_only;
pub use read_only::connect_read_only;

/// A pooled connection idle for at least this long is pinged before it is handed out.
///
/// SQLx's default pings on every checkout: one more round trip before each statement. Hot
/// connections are known to be alive; one that sat idle may have been closed by the server, a
/// proxy or a firewall, and is checked first.
pub const PING_IF_IDLE_FOR: Duration = Duration::from_secs(10);

/// Opens the connection pool that `config` describes, and applies pending migrations when
/// `config.migrate_on_start` is set (otherwise it warns when some are pending).
///
/// A connection is checked with a ping when it is taken from the pool after
/// [`PING_IF_IDLE_FOR`] or more of idleness, not on every checkout.
///
/// The returned handle is cheap to clone; services share it instead of a global.
///
/// # Errors
/// [`crate::Error::Database`] when the database cannot be reached or a migration fails.
pub async fn connect(config: &Config) -> Result<DatabaseConnection> {
    let options = connect_options(config, config.database_url.clone(), false);
    tracing::debug!(url = %config.redacted_url(), "connecting");
    let db = Database::connect(options).await?;
    if config.migrate_on_start {
        migrate(&db).await?;
    } else {
        let pending = Migrator::get_pending_migrations(&db).await?;
        if !pending.is_empty() {
            tracing::warn!(
                pending = pending.len(),
                "the database has pending migrations: run `sea-orm-cli migrate up` \
                 or set DATABASE_MIGRATE_ON_START=true"
            );
        }
    }
    Ok(db)
}

/// The pool options of [`connect`] for `url` (the configured URL, or a variant of it).
pub(crate) fn connect_options(config: &Config, url: String, read_only: bool) -> ConnectOptions {
    let in_memory = is_in_memory_sqlite(&config.database_url);
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(if in_memory { 1 } else { config.pool_size })
        .min_connections(if in_memory { 1 } else { 0 })
        .acquire_timeout(config.acquire_timeout)
        .connect_timeout(config.acquire_timeout)
        .test_before_acquire_if_idle_for(PING_IF_IDLE_FOR)
        // Statement logging stays wired so that slow statements are reported even when the
        // per-statement log is off.
        .sqlx_logging(true)
        .sqlx_logging_level(if config.log_queries {
            log::LevelFilter::Debug
        } else {
            log::LevelFilter::Off
        })
        .sqlx_slow_statements_logging_settings(log::LevelFilter::Warn, config.slow_query_threshold);
    if in_memory {
        // The database lives as long as its one connection.
        options.idle_timeout(None).max_lifetime(None);
    }
    let busy_timeout = config.acquire_timeout.max(Duration::from_secs(5));
    options.map_sqlx_sqlite_opts(move |opts| {
        // WAL lets readers work beside the one writer; a writer waits up to busy_timeout for
        // the lock instead of failing at once; foreign keys are off in SQLite unless asked.
        let opts = opts
            .foreign_keys(true)
            .busy_timeout(busy_timeout)
            .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal);
        if in_memory || read_only {
            // A read-only open cannot change the journal mode (the file keeps its own).
            opts
        } else {
            opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
        }
    });

    options
}

/// Applies every pending migration.
///
/// # Errors
/// [`crate::Error::Database`] when a migration fails; on Postgres it is rolled back.
pub async fn migrate(db: &DatabaseConnection) -> Result<()> {
    Migrator::up(db, None).await?;
    Ok(())
}

/// Names of the migrations not yet applied, oldest first.
///
/// # Errors
/// [`crate::Error::Database`] when the database cannot be read.
pub async fn pending_migrations(db: &DatabaseConnection) -> Result<Vec<String>> {
    Ok(Migrator::get_pending_migrations(db)
        .await?
        .iter()
        .map(|m| m.name().to_owned())
        .collect())
}

/// A cheap liveness check: one round trip to the database, and how long it took.
///
/// # Errors
/// [`crate::Error::Database`] when the database does not answer.
pub async fn health<C: ConnectionTrait>(db: &C) -> Result<Duration> {
    let started = Instant::now();
    db.execute_unprepared("SELECT 1").await?;
    Ok(started.elapsed())
}

fn is_in_memory_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:") && (url.contains(":memory:") || url.contains("mode=memory"))
}

/// Begins a transaction that will write: on SQLite it takes the write lock at `BEGIN`
/// (`BEGIN IMMEDIATE`), so that two transactions that read and then write wait for each other
/// instead of failing with "database is locked"; elsewhere a plain `BEGIN` (a savepoint when
/// `db` is already a transaction).
pub(crate) async fn begin_write<C: TransactionTrait>(db: &C) -> Result<C::Transaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    })
    .await
}
