//! A pool whose every connection is a read-only session, for tools that only look (the
//! studio): a wrong route or a bug cannot write, because the database itself refuses.

use sea_orm::{Database, DatabaseConnection, sqlx};

use super::{connect_options, is_in_memory_sqlite};
use crate::config::Config;
use crate::error::Result;

/// Opens the pool that `config` describes, with every connection a read-only session:
///
/// - PostgreSQL: `SET default_transaction_read_only = on` on each new connection, so every
///   statement runs in a read-only transaction (`25006 read_only_sql_transaction` on a write);
/// - SQLite: the file is opened read-only (`mode=ro`, `SQLITE_OPEN_READONLY`) and
///   `PRAGMA query_only` is set; an in-memory database cannot be opened read-only and gets
///   `query_only` alone;
/// - MariaDB/MySQL: `SET SESSION TRANSACTION READ ONLY` on each new connection.
///
/// Migrations are never applied here (whatever `config.migrate_on_start` says); pending ones
/// are reported with a warning, found without the `CREATE TABLE` that the migrator's usual
/// check issues.
///
/// # Errors
/// [`crate::Error::Database`] when the database cannot be reached or refuses the session
/// setting.
pub async fn connect_read_only(config: &Config) -> Result<DatabaseConnection> {
    let url = if config.database_url.starts_with("sqlite:")
        && !is_in_memory_sqlite(&config.database_url)
    {
        sqlite_read_only_url(&config.database_url)
    } else {
        config.database_url.clone()
    };
    let mut options = connect_options(config, url, true);
    // Every connection the pool opens, not only the first: sqlx's own `after_connect`.
    options
        .map_sqlx_postgres_pool_opts(|pool| {
            pool.after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::Executor::execute(conn, "SET default_transaction_read_only = on")
                        .await
                        .map(|_| ())
                })
            })
        })
        .map_sqlx_mysql_pool_opts(|pool| {
            pool.after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::Executor::execute(conn, "SET SESSION TRANSACTION READ ONLY")
                        .await
                        .map(|_| ())
                })
            })
        })
        .map_sqlx_sqlite_pool_opts(|pool| {
            pool.after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::Executor::execute(conn, "PRAGMA query_only = ON")
                        .await
                        .map(|_| ())
                })
            })
        });
    tracing::debug!(url = %config.redacted_url(), "connecting read-only");
    let db = Database::connect(options).await?;
    // Reads only, and tolerates migrations of a newer build (a warning, as in `connect`).
    let status = migration::runner::status(&db).await?;
    if !status.pending.is_empty() {
        tracing::warn!(
            pending = status.pending.len(),
            "the database has pending migrations: run `migration up` (or `sea-orm-cli migrate up`)"
        );
    }
    if !status.unknown.is_empty() {
        tracing::warn!(
            unknown = %status.unknown.join(", "),
            "the database has applied migrations this build does not know (a newer build migrated it)"
        );
    }
    Ok(db)
}

/// `sqlite://file?mode=rwc&x=y` → `sqlite://file?mode=ro&x=y` (any `mode` replaced).
fn sqlite_read_only_url(url: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut params: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("mode="))
        .collect();
    params.insert(0, "mode=ro");
    format!("{base}?{}", params.join("&"))
}

#[cfg(test)]
mod tests {
    use super::sqlite_read_only_url;

    #[test]
    fn the_sqlite_mode_becomes_read_only_and_other_options_stay() {
        assert_eq!(
            sqlite_read_only_url("sqlite://zyenta.db?mode=rwc"),
            "sqlite://zyenta.db?mode=ro"
        );
        assert_eq!(
            sqlite_read_only_url("sqlite:///tmp/a.db?cache=shared&mode=rw"),
            "sqlite:///tmp/a.db?mode=ro&cache=shared"
        );
        assert_eq!(
            sqlite_read_only_url("sqlite://a.db"),
            "sqlite://a.db?mode=ro"
        );
    }
}
