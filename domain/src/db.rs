//! Connecting, migrating and checking the database.

use std::time::{Duration, Instant};

pub use migration::connection::{ConnectError, ConnectProblem};
pub use migration::runner::Status as MigrationStatus;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};

use crate::config::Config;
use crate::error::{Error, Result};

mod counts;
mod read_only;
pub use counts::count_rows;
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
/// A first connection is made outside the pool, so that a database that cannot be reached is
/// reported at once with its cause ([`crate::Error::Connect`]), not after the pool's timeout.
/// Applied migrations that this build does not know (a newer build migrated the database) are
/// a warning, and the pool is returned: an older instance keeps working during a rolling
/// deploy. Only applying migrations then refuses ([`crate::Error::SchemaIsNewer`]). Checking
/// the migrations writes nothing.
///
/// A connection is checked with a ping when it is taken from the pool after
/// [`PING_IF_IDLE_FOR`] or more of idleness, not on every checkout.
///
/// The returned handle is cheap to clone; services share it instead of a global.
///
/// # Errors
/// [`crate::Error::Connect`] when the database cannot be reached; [`crate::Error::SchemaIsNewer`]
/// when `migrate_on_start` would apply migrations to a schema a newer build migrated;
/// [`crate::Error::Database`] when a migration fails.
pub async fn connect(config: &Config) -> Result<DatabaseConnection> {
    let in_memory = is_in_memory_sqlite(&config.database_url);
    let options = connect_options(config, config.database_url.clone(), false);
    tracing::debug!(url = %config.redacted_url(), "connecting");
    if !in_memory {
        migration::connection::probe(&config.database_url, config.acquire_timeout)
            .await
            .map_err(Error::Connect)?;
    }
    let db = Database::connect(options)
        .await
        .map_err(|e| Error::Connect(migration::connection::diagnose(&config.database_url, &e)))?;
    if config.migrate_on_start {
        migrate(&db).await?;
    } else {
        let status = migration_status(&db).await?;
        if !status.pending.is_empty() {
            tracing::warn!(
                pending = status.pending.len(),
                "the database has pending migrations: run `migration up` \
                 (or `sea-orm-cli migrate up`), or set DATABASE_MIGRATE_ON_START=true"
            );
        }
        warn_unknown(&status);
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
            log::LevelFilter::Info
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

fn warn_unknown(status: &MigrationStatus) {
    if !status.unknown.is_empty() {
        tracing::warn!(
            unknown = %status.unknown.join(", "),
            "the database has applied migrations this build does not know (a newer build \
             migrated it); carrying on, as the previous release must keep working"
        );
    }
}

/// Applies every pending migration, under a database-wide lock: several processes starting
/// at once apply each migration once (the others wait, then find nothing pending).
///
/// # Errors
/// [`Error::SchemaIsNewer`] when migrations are pending and the database also holds applied
/// migrations this build does not know; [`crate::Error::Database`] when a migration fails (on
/// Postgres and SQLite it is rolled back).
#[tracing::instrument(skip_all, err)]
pub async fn migrate(db: &DatabaseConnection) -> Result<()> {
    match migration::runner::run(db, migration::runner::Operation::Up(None)).await {
        Ok(outcome) => {
            warn_unknown(&outcome.after);
            Ok(())
        }
        Err(err) => {
            // The refusal, read again to name the unknown migrations in a typed error.
            let status = migration_status(db).await?;
            if !status.unknown.is_empty() && !status.pending.is_empty() {
                Err(Error::SchemaIsNewer {
                    unknown: status.unknown,
                })
            } else {
                Err(err.into())
            }
        }
    }
}

/// Names of the migrations not yet applied, oldest first. Reads only.
///
/// # Errors
/// [`crate::Error::Database`] when the database cannot be read.
#[tracing::instrument(skip_all, err)]
pub async fn pending_migrations(db: &DatabaseConnection) -> Result<Vec<String>> {
    Ok(migration_status(db).await?.pending)
}

/// Migrations applied, pending and unknown to this build (applied by a newer one). Reads only:
/// it never creates the bookkeeping table.
///
/// # Errors
/// [`crate::Error::Database`] when the database cannot be read.
#[tracing::instrument(skip_all, err)]
pub async fn migration_status(db: &DatabaseConnection) -> Result<MigrationStatus> {
    Ok(migration::runner::status(db).await?)
}

/// A cheap liveness check: one round trip to the database, and how long it took.
///
/// # Errors
/// [`crate::Error::Database`] when the database does not answer.
#[tracing::instrument(skip_all, err)]
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
