//! What an operator runs against a Zyenta database, on every backend: a status report
//! (migrations applied, pending and unknown; rows per table; health and round trip),
//! migrating under the lock, a development-only truncate, and dump / restore.
//!
//! The `zyenta-admin` binary is a thin shell over these functions; the tests call them too.

use std::path::Path;
use std::time::Duration;

use domain::config::Environment;
use domain::{Config, DatabaseConnection};
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};

/// What can go wrong in an operator command. No variant carries a password: tool output and
/// driver messages are passed through [`Config::scrub`] first.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// The data layer refused or failed (configuration, connection, migration, …).
    #[error(transparent)]
    Domain(#[from] domain::Error),
    /// A command that destroys data, refused in production.
    #[error("{command} is refused when ZYENTA_ENV=production: it deletes data")]
    RefusedInProduction {
        /// The refused command.
        command: &'static str,
    },
    /// A restore into a database that already has tables.
    #[error(
        "restore needs an empty database, and {target} has {tables} table(s); create a new database (or drop this one) first"
    )]
    NotEmpty {
        /// Where the restore was going (host:port or file).
        target: String,
        /// How many tables it has.
        tables: usize,
    },
    /// An external program (pg_dump, mysqldump, …) is missing or failed.
    #[error("{tool} failed: {message}")]
    Tool {
        /// The program.
        tool: &'static str,
        /// Its error output, without the password.
        message: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What the file system said.
        source: std::io::Error,
    },
}

/// The result type of this crate.
pub type Result<T, E = AdminError> = std::result::Result<T, E>;

fn db_err(err: sea_orm::DbErr) -> AdminError {
    AdminError::Domain(err.into())
}

/// The application's tables (not the migration bookkeeping), sorted by name.
///
/// # Errors
/// The database error when the catalog cannot be read.
pub async fn table_names<C: ConnectionTrait>(db: &C) -> Result<Vec<String>> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        }
        DbBackend::MySql => {
            "SELECT CAST(table_name AS CHAR) FROM information_schema.tables \
             WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'"
        }
        _ => "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    };
    let rows = db
        .query_all_raw(Statement::from_string(backend, sql))
        .await
        .map_err(db_err)?;
    let mut names: Vec<String> = rows
        .iter()
        .filter_map(|r| r.try_get_by_index::<String>(0).ok())
        .filter(|n| n != "seaql_migrations")
        .collect();
    names.sort();
    Ok(names)
}

fn quote(backend: DbBackend, name: &str) -> String {
    match backend {
        DbBackend::MySql => format!("`{}`", name.replace('`', "``")),
        _ => format!("\"{}\"", name.replace('"', "\"\"")),
    }
}

/// Rows per table, sorted by table name.
///
/// # Errors
/// The database error when a table cannot be counted.
pub async fn row_counts<C: ConnectionTrait>(db: &C) -> Result<Vec<(String, i64)>> {
    let backend = db.get_database_backend();
    let mut counts = Vec::new();
    for table in table_names(db).await? {
        let row = db
            .query_one_raw(Statement::from_string(
                backend,
                format!("SELECT COUNT(*) FROM {}", quote(backend, &table)),
            ))
            .await
            .map_err(db_err)?;
        let n = row
            .and_then(|r| r.try_get_by_index::<i64>(0).ok())
            .unwrap_or_default();
        counts.push((table, n));
    }
    Ok(counts)
}

/// Everything `zyenta-admin status` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    /// The database URL without its password.
    pub database: String,
    /// One round trip to the database.
    pub round_trip: Duration,
    /// Migrations applied, pending and unknown.
    pub migrations: domain::db::MigrationStatus,
    /// Rows per table.
    pub rows: Vec<(String, i64)>,
}

/// Reads the status of the database; writes nothing.
///
/// # Errors
/// [`AdminError::Domain`] when the database cannot be reached or read.
pub async fn status(config: &Config, db: &DatabaseConnection) -> Result<StatusReport> {
    Ok(StatusReport {
        database: config.redacted_url(),
        round_trip: domain::health(db).await?,
        migrations: domain::migration_status(db).await?,
        rows: row_counts(db).await?,
    })
}

impl std::fmt::Display for StatusReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "database: {}", self.database)?;
        writeln!(
            f,
            "health: ok, round trip {:.1} ms",
            self.round_trip.as_secs_f64() * 1000.0
        )?;
        let m = &self.migrations;
        writeln!(
            f,
            "migrations: {} applied, {} pending, {} unknown{}",
            m.applied.len(),
            m.pending.len(),
            m.unknown.len(),
            if m.pending.is_empty() && m.unknown.is_empty() {
                " (current)"
            } else {
                ""
            }
        )?;
        for name in &m.pending {
            writeln!(f, "  pending  {name}")?;
        }
        for name in &m.unknown {
            writeln!(f, "  unknown  {name}  (applied by a newer build)")?;
        }
        writeln!(f, "rows:")?;
        let width = self.rows.iter().map(|(t, _)| t.len()).max().unwrap_or(0);
        for (table, n) in &self.rows {
            writeln!(f, "  {table:<width$}  {n:>10}")?;
        }
        Ok(())
    }
}

/// Deletes every row of every table (the schema and the migration bookkeeping stay), in one
/// transaction. For development and test databases only.
///
/// # Errors
/// [`AdminError::RefusedInProduction`] when `environment` is production (checked before
/// anything is written); the database error otherwise (then nothing was deleted).
pub async fn truncate(db: &DatabaseConnection, environment: Environment) -> Result<usize> {
    if environment == Environment::Production {
        return Err(AdminError::RefusedInProduction {
            command: "truncate",
        });
    }
    let backend = db.get_database_backend();
    let tables = table_names(db).await?;
    let txn = db.begin().await.map_err(db_err)?;
    match backend {
        // Foreign keys are checked at commit, when every table is empty.
        DbBackend::Sqlite => {
            txn.execute_unprepared("PRAGMA defer_foreign_keys = ON")
                .await
                .map_err(db_err)?;
        }
        // For this session (the transaction's one connection) only.
        DbBackend::MySql => {
            txn.execute_unprepared("SET FOREIGN_KEY_CHECKS = 0")
                .await
                .map_err(db_err)?;
        }
        _ => {}
    }
    if backend == DbBackend::Postgres && !tables.is_empty() {
        let list: Vec<String> = tables.iter().map(|t| quote(backend, t)).collect();
        txn.execute_unprepared(&format!("TRUNCATE TABLE {}", list.join(", ")))
            .await
            .map_err(db_err)?;
    } else {
        for table in &tables {
            txn.execute_unprepared(&format!("DELETE FROM {}", quote(backend, table)))
                .await
                .map_err(db_err)?;
        }
    }
    if backend == DbBackend::MySql {
        txn.execute_unprepared("SET FOREIGN_KEY_CHECKS = 1")
            .await
            .map_err(db_err)?;
    }
    txn.commit().await.map_err(db_err)?;
    Ok(tables.len())
}

/// How a server's command-line tools reach the database: the password goes in the
/// environment (`PGPASSWORD`, `MYSQL_PWD`), never in the arguments (where `ps` shows them).
struct ServerAccess {
    host: String,
    port: Option<u16>,
    user: String,
    password: Option<String>,
    database: String,
}

fn server_access(config: &Config) -> Result<ServerAccess> {
    let url = config.database_url.replacen("mariadb://", "mysql://", 1);
    let parsed = url::Url::parse(&url).map_err(|e| AdminError::Tool {
        tool: "url",
        message: config.scrub(&format!("DATABASE_URL is malformed: {e}")),
    })?;
    let decode = |s: &str| {
        url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok(ServerAccess {
        host: parsed.host_str().unwrap_or("localhost").to_owned(),
        port: parsed.port(),
        user: decode(parsed.username()),
        password: parsed.password().map(decode),
        database: parsed.path().trim_start_matches('/').to_owned(),
    })
}

async fn run_tool(
    config: &Config,
    tool: &'static str,
    mut command: tokio::process::Command,
    stdin: Option<std::process::Stdio>,
) -> Result<()> {
    command
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    if let Some(stdin) = stdin {
        command.stdin(stdin);
    }
    let output = command.output().await.map_err(|e| AdminError::Tool {
        tool,
        message: format!("cannot run it ({e}); install the database's client tools"),
    })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(AdminError::Tool {
            tool,
            message: config.scrub(String::from_utf8_lossy(&output.stderr).trim()),
        })
    }
}

fn mysql_tool(candidates: [&'static str; 2]) -> &'static str {
    let on_path = |name: &str| {
        std::env::var_os("PATH")
            .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(name).is_file()))
    };
    candidates
        .into_iter()
        .find(|c| on_path(c))
        .unwrap_or(candidates[1])
}

fn pg_command(program: &str, access: &ServerAccess) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(program);
    command
        .env("PGHOST", &access.host)
        .env("PGUSER", &access.user)
        .env("PGDATABASE", &access.database);
    if let Some(port) = access.port {
        command.env("PGPORT", port.to_string());
    }
    match &access.password {
        Some(password) => command.env("PGPASSWORD", password),
        None => command.env_remove("PGPASSWORD"),
    };
    command
}

fn mysql_command(program: &str, access: &ServerAccess) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(program);
    command
        .arg("--protocol=TCP")
        .arg(format!("--host={}", access.host))
        .arg(format!("--port={}", access.port.unwrap_or(3306)))
        .arg(format!("--user={}", access.user));
    match &access.password {
        Some(password) => command.env("MYSQL_PWD", password),
        None => command.env_remove("MYSQL_PWD"),
    };
    command
}

fn sql_string(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Writes a backup of the database to `file`: Postgres `pg_dump` in the custom format
/// (restore it with [`restore`] or `pg_restore`), MariaDB/MySQL `mysqldump`/`mariadb-dump`
/// (SQL, one consistent transaction), SQLite `VACUUM INTO` (a compact copy of the file, taken
/// while the database is in use).
///
/// # Errors
/// [`AdminError::Tool`] when the tool is missing or fails; [`AdminError::Domain`] on SQLite.
pub async fn dump(config: &Config, db: &DatabaseConnection, file: &Path) -> Result<()> {
    if file.exists() {
        return Err(AdminError::Io {
            path: file.display().to_string(),
            source: std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "refusing to overwrite an existing file",
            ),
        });
    }
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let access = server_access(config)?;
            let mut command = pg_command("pg_dump", &access);
            command
                .args(["--format=custom", "--no-owner", "--no-privileges", "--file"])
                .arg(file);
            run_tool(config, "pg_dump", command, None).await
        }
        DbBackend::MySql => {
            let access = server_access(config)?;
            let tool = mysql_tool(["mariadb-dump", "mysqldump"]);
            let mut command = mysql_command(tool, &access);
            command
                .args([
                    "--single-transaction",
                    "--routines",
                    "--triggers",
                    "--hex-blob",
                ])
                .arg(format!("--result-file={}", file.display()))
                .arg(&access.database);
            run_tool(config, "mysqldump", command, None).await
        }
        _ => {
            db.execute_unprepared(&format!(
                "VACUUM INTO {}",
                sql_string(&file.display().to_string())
            ))
            .await
            .map_err(db_err)?;
            Ok(())
        }
    }
}

/// Restores a backup made by [`dump`] into the configured database, which must have no
/// tables (a new database: nothing is overwritten). Afterwards the migration status is that of
/// the dump; jobs that were PROCESSING at dump time have no worker any more, and the caller
/// rescues them ([`rescue_after_restore`]).
///
/// # Errors
/// [`AdminError::NotEmpty`] when the database has tables; [`AdminError::Tool`] when the tool
/// is missing or fails.
pub async fn restore(config: &Config, db: &DatabaseConnection, file: &Path) -> Result<()> {
    if !file.is_file() {
        return Err(AdminError::Io {
            path: file.display().to_string(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such backup file"),
        });
    }
    let recorded = domain::migration_status(db).await?;
    // The bookkeeping table counts too: a database with only migrations recorded is not empty.
    let existing = table_names(db).await?.len()
        + usize::from(!(recorded.applied.is_empty() && recorded.unknown.is_empty()));
    if existing > 0 {
        return Err(AdminError::NotEmpty {
            target: migration::connection::target(&config.database_url),
            tables: existing,
        });
    }
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let access = server_access(config)?;
            let mut command = pg_command("pg_restore", &access);
            command
                .args([
                    "--no-owner",
                    "--no-privileges",
                    "--exit-on-error",
                    "--single-transaction",
                    "--dbname",
                ])
                .arg(&access.database)
                .arg(file);
            run_tool(config, "pg_restore", command, None).await
        }
        DbBackend::MySql => {
            let access = server_access(config)?;
            let tool = mysql_tool(["mariadb", "mysql"]);
            let mut command = mysql_command(tool, &access);
            command.arg(&access.database);
            let input = std::fs::File::open(file).map_err(|source| AdminError::Io {
                path: file.display().to_string(),
                source,
            })?;
            run_tool(config, "mysql", command, Some(input.into())).await
        }
        _ => restore_sqlite(config, file).await,
    }
}

/// SQLite: the schema (tables, indexes, triggers, in creation order) and every row of the
/// backup file are copied into the configured database in one transaction.
async fn restore_sqlite(config: &Config, file: &Path) -> Result<()> {
    // Read-only, and without the WAL switch of domain::connect (which would write to it).
    let mut options = sea_orm::ConnectOptions::new(format!("sqlite://{}?mode=ro", file.display()));
    options.max_connections(1).sqlx_logging(false);
    let source = sea_orm::Database::connect(options).await.map_err(|e| {
        AdminError::Domain(domain::Error::Connect(migration::connection::diagnose(
            &format!("sqlite://{}", file.display()),
            &e,
        )))
    })?;
    let backend = DbBackend::Sqlite;
    let objects = source
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT type, name, sql FROM sqlite_master \
             WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid",
        ))
        .await
        .map_err(db_err)?;
    let target = domain::connect(&Config::new(config.database_url.clone())).await?;
    let txn = target.begin().await.map_err(db_err)?;
    txn.execute_unprepared("PRAGMA defer_foreign_keys = ON")
        .await
        .map_err(db_err)?;
    let mut tables = Vec::new();
    for object in &objects {
        let kind: String = object.try_get_by_index(0).map_err(db_err)?;
        let name: String = object.try_get_by_index(1).map_err(db_err)?;
        let sql: String = object.try_get_by_index(2).map_err(db_err)?;
        txn.execute_unprepared(&sql).await.map_err(db_err)?;
        if kind == "table" {
            tables.push(name);
        }
    }
    for table in &tables {
        let rows = source
            .query_all_raw(Statement::from_string(
                backend,
                format!("SELECT * FROM {}", quote(backend, table)),
            ))
            .await
            .map_err(db_err)?;
        let columns = rows.first().map(|r| r.column_names()).unwrap_or_default();
        if columns.is_empty() {
            continue;
        }
        let list: Vec<String> = columns.iter().map(|c| quote(backend, c)).collect();
        let placeholders = vec!["?"; columns.len()].join(", ");
        let insert = format!(
            "INSERT INTO {} ({}) VALUES ({placeholders})",
            quote(backend, table),
            list.join(", ")
        );
        for row in rows {
            let values: Vec<sea_orm::Value> = (0..columns.len())
                .map(|i| sqlite_value(&row, i))
                .collect::<Result<_>>()?;
            txn.execute_raw(Statement::from_sql_and_values(backend, &insert, values))
                .await
                .map_err(db_err)?;
        }
    }
    txn.commit().await.map_err(db_err)?;
    source.close().await.ok();
    target.close().await.ok();
    Ok(())
}

/// One SQLite value as it is stored (integer, real, text, blob or null), whatever the column
/// is declared as.
fn sqlite_value(row: &sea_orm::QueryResult, i: usize) -> Result<sea_orm::Value> {
    if let Ok(v) = row.try_get_by_index::<Option<i64>>(i) {
        return Ok(v.into());
    }
    if let Ok(v) = row.try_get_by_index::<Option<f64>>(i) {
        return Ok(v.into());
    }
    if let Ok(v) = row.try_get_by_index::<Option<String>>(i) {
        return Ok(v.into());
    }
    row.try_get_by_index::<Option<Vec<u8>>>(i)
        .map(Into::into)
        .map_err(db_err)
}

/// After a restore, jobs that were PROCESSING at dump time belong to workers of the old
/// database: they are taken back at once (to PENDING while attempts remain, else FAILED), as
/// [`domain::agent_jobs::rescue`] does for a worker that stopped.
///
/// # Errors
/// [`AdminError::Domain`] when the update fails.
pub async fn rescue_after_restore(
    db: &DatabaseConnection,
) -> Result<domain::agent_jobs::RescueReport> {
    Ok(domain::agent_jobs::rescue(db, Duration::ZERO).await?)
}
