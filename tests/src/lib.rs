//! The test harness: a fresh, migrated database per test, on every configured backend.
//!
//! - SQLite always: a new file in the temporary directory, deleted afterwards.
//! - PostgreSQL when `TEST_DATABASE_URL` is set (a server and a database to connect to for
//!   administration): each test gets a copy of a migrated template database
//!   (`CREATE DATABASE … TEMPLATE`), dropped afterwards. The template is built once per
//!   schema version and shared by every test process.
//! - MariaDB/MySQL when `TEST_MYSQL_URL` is set: each test gets a new database, migrated and
//!   dropped afterwards.
//!
//! A backend that is configured but unusable (refused, wrong password, …) fails every test
//! that uses it, whatever the flags say; a configured database that does not exist yet is
//! created. A backend that is not configured is not run: its tests are compiled as ignored
//! (`build.rs` reads the variables), so the test summary counts them and each one says why, and
//! the harness writes one line per test process naming the backends it runs on. With
//! `ZYENTA_TEST_REQUIRE_BACKENDS=1` (CI sets it) a backend that is not configured fails instead.
//!
//! Every database the harness creates has a name of its own (`zyenta_test_<uuid v7>`) and is
//! dropped by its [`TestDb`]; nothing else is ever dropped, apart from Postgres templates of an
//! older schema (see `postgres_template`).
//!
//! Tests are written once with [`backend_test!`], which makes one test per backend.

use std::path::PathBuf;
use std::time::Duration;

use domain::Config;
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend};
use uuid::Uuid;

pub mod builders;

/// The backends a test can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A temporary SQLite file per test; always available.
    Sqlite,
    /// PostgreSQL at `TEST_DATABASE_URL`: a copy of a migrated template database per test.
    Postgres,
    /// MariaDB/MySQL at `TEST_MYSQL_URL`: a new, migrated database per test.
    MySql,
}

impl Backend {
    /// The environment variable that configures the backend (none for SQLite).
    pub fn variable(self) -> Option<&'static str> {
        match self {
            Backend::Sqlite => None,
            Backend::Postgres => Some("TEST_DATABASE_URL"),
            Backend::MySql => Some("TEST_MYSQL_URL"),
        }
    }
}

/// A database that exists for one test and is dropped with this value.
#[derive(Debug)]
pub struct TestDb {
    /// The connection to this test's own database, migrated to the latest schema.
    pub db: DatabaseConnection,
    /// Which backend the database is on, for the few assertions that differ per backend.
    pub backend: Backend,
    /// What [`domain::connect`] would be given to reach this database.
    pub config: Config,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    File(PathBuf),
    Database { admin_url: String, name: String },
}

/// Whether a missing or unreachable backend fails the test (CI) rather than skipping it.
fn required() -> bool {
    matches!(
        std::env::var("ZYENTA_TEST_REQUIRE_BACKENDS").as_deref(),
        Ok("1" | "true" | "yes")
    )
}

fn configured(backend: Backend) -> Option<String> {
    backend
        .variable()
        .and_then(|v| std::env::var(v).ok())
        .filter(|v| !v.trim().is_empty())
}

/// One line per test process, written past libtest's output capture, naming the backends
/// this run uses and the ones it does not (their tests are also counted as ignored).
fn announce_backends() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let mut ran = vec!["sqlite".to_owned()];
        let mut not = Vec::new();
        for (backend, name) in [(Backend::Postgres, "postgres"), (Backend::MySql, "mysql")] {
            let variable = backend.variable().unwrap_or_default();
            if configured(backend).is_some() {
                ran.push(format!("{name} ({variable})"));
            } else {
                not.push(format!("{name} ({variable} is not set)"));
            }
        }
        let line = if not.is_empty() {
            format!("zyenta tests: backends run: {}\n", ran.join(", "))
        } else {
            format!(
                "zyenta tests: backends run: {}; NOT run: {}\n",
                ran.join(", "),
                not.join(", ")
            )
        };
        use std::io::Write;
        let _ = std::io::stderr().write_all(line.as_bytes());
    });
}

/// A backend that is not configured: fails under `ZYENTA_TEST_REQUIRE_BACKENDS`, otherwise the
/// test does not run (the backend tests of [`backend_test!`] are compiled as ignored then).
fn not_configured(backend: Backend) -> Option<TestDb> {
    let variable = backend.variable().unwrap_or_default();
    if required() {
        panic!("{backend:?} is required (ZYENTA_TEST_REQUIRE_BACKENDS) but {variable} is not set");
    }
    None
}

/// A backend that is configured but unusable fails the test: never a skip.
fn unusable(backend: Backend, variable: &str, url: &str, why: &str) -> ! {
    panic!(
        "{backend:?} is configured ({variable}) but unusable: {}",
        migration::connection::scrub(why, url)
    );
}

impl TestDb {
    /// A fresh database with every migration applied, or `None` when the backend is not
    /// configured (and not required).
    pub async fn migrated(backend: Backend) -> Option<TestDb> {
        Self::open(backend, true).await
    }

    /// A fresh database with nothing in it, for the migration tests.
    pub async fn empty(backend: Backend) -> Option<TestDb> {
        Self::open(backend, false).await
    }

    async fn open(backend: Backend, migrated: bool) -> Option<TestDb> {
        announce_backends();
        let name = format!("zyenta_test_{}", Uuid::now_v7().simple());
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join("zyenta-tests");
                std::fs::create_dir_all(&dir).expect("temporary directory");
                let path = dir.join(format!("{name}.db"));
                let config = Config::new(format!("sqlite://{}?mode=rwc", path.display()));
                let db = domain::connect(&config).await.expect("open SQLite");
                if migrated {
                    domain::migrate(&db).await.expect("migrate SQLite");
                }
                Some(TestDb {
                    db,
                    backend,
                    config,
                    cleanup: Cleanup::File(path),
                })
            }
            Backend::Postgres | Backend::MySql => {
                let variable = backend.variable().expect("server backends have a variable");
                let Some(admin_url) = configured(backend) else {
                    return not_configured(backend);
                };
                let admin = match connect_admin(&admin_url).await {
                    Ok(admin) => admin,
                    Err(e) => unusable(backend, variable, &admin_url, &e.to_string()),
                };
                if backend == Backend::Postgres && migrated {
                    let template = postgres_template(&admin, &admin_url).await;
                    create_database_from(&admin, &name, &template).await;
                } else {
                    admin
                        .execute_unprepared(&format!("CREATE DATABASE {name}"))
                        .await
                        .expect("create test database");
                }
                admin.close().await.ok();
                let config = Config::new(with_database(&admin_url, &name));
                let db = domain::connect(&config).await.expect("open test database");
                if backend == Backend::MySql && migrated {
                    Migrator::up(&db, None).await.expect("migrate MySQL");
                }
                Some(TestDb {
                    db,
                    backend,
                    config,
                    cleanup: Cleanup::Database { admin_url, name },
                })
            }
        }
    }

    /// The SeaORM backend of this database.
    pub fn db_backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm", "-journal"] {
                    let mut file = path.clone().into_os_string();
                    file.push(suffix);
                    let _ = std::fs::remove_file(file);
                }
            }
            Cleanup::Database { admin_url, name } => {
                let url_for_messages = admin_url.clone();
                let (admin_url, name) = (admin_url.clone(), name.clone());
                let drop_sql = if admin_url.starts_with("postgres") {
                    // FORCE ends the test's own pooled connections.
                    format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                } else {
                    format!("DROP DATABASE IF EXISTS {name}")
                };
                // Drop runs outside async code: a short-lived runtime on its own thread.
                let dropped = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("runtime");
                    runtime.block_on(async move {
                        let admin = connect_admin(&admin_url).await?;
                        admin
                            .execute_unprepared(&drop_sql)
                            .await
                            .map_err(|e| e.to_string())?;
                        admin.close().await.map_err(|e| e.to_string())
                    })
                })
                .join();
                if !matches!(dropped, Ok(Ok(()))) {
                    eprintln!(
                        "could not drop test database {name}: {}",
                        migration::connection::scrub(&format!("{dropped:?}"), &url_for_messages)
                    );
                }
            }
        }
    }
}

/// Connects to the configured server for administration. A configured database that does
/// not exist yet is created first (through the server's default database), so that a fresh
/// server needs no manual step; any other failure is returned with its cause.
async fn connect_admin(url: &str) -> Result<DatabaseConnection, String> {
    match open_admin(url).await {
        Ok(db) => Ok(db),
        Err(migration::connection::ConnectError {
            problem: migration::connection::ConnectProblem::UnknownDatabase,
            ..
        }) => {
            let name = database_name(url).ok_or("the URL names no database")?;
            let server_url = if url.starts_with("postgres") {
                with_database(url, "postgres")
            } else {
                with_database(url, "")
            };
            let server = open_admin(&server_url).await.map_err(|e| e.to_string())?;
            let quoted = if url.starts_with("postgres") {
                format!("\"{name}\"")
            } else {
                format!("`{name}`")
            };
            // Another process may create it at the same moment: an error is checked by
            // connecting again.
            let _ = server
                .execute_unprepared(&format!("CREATE DATABASE {quoted}"))
                .await;
            server.close().await.ok();
            open_admin(url).await.map_err(|e| e.to_string())
        }
        Err(e) => Err(e.to_string()),
    }
}

async fn open_admin(url: &str) -> Result<DatabaseConnection, migration::connection::ConnectError> {
    migration::connection::probe(url, Duration::from_secs(5)).await?;
    let mut options = sea_orm::ConnectOptions::new(url.to_owned());
    options
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .connect_timeout(Duration::from_secs(5))
        .sqlx_logging(false);
    Database::connect(options)
        .await
        .map_err(|e| migration::connection::diagnose(url, &e))
}

/// The database named by a server URL (`…/name?options` → `name`).
fn database_name(url: &str) -> Option<String> {
    let base = url.split('?').next()?;
    let after_scheme = &base[base.find("://")? + 3..];
    let name = &after_scheme[after_scheme.find('/')? + 1..];
    (!name.is_empty()).then(|| name.to_owned())
}

/// `scheme://user@host:port/whatever?x` → `scheme://user@host:port/<name>?x`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let server = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
}

/// One advisory lock key for templates: taken exclusively to build or drop a template, shared
/// while a test copies one, so that a template is never dropped in the middle of a copy.
const TEMPLATE_LOCK: i64 = 7_310_202_611;
/// Templates of another schema version built longer ago than this are dropped when a new one is
/// built (a run of an older checkout still going would rebuild its own, never fail).
const OLD_TEMPLATE_AGE_SECS: i64 = 3_600;

/// The migrated template for the current migrations, built once under an advisory lock so
/// that concurrent test processes neither race nor rebuild it. Building one drops the
/// templates of older schema versions (`zyenta_template_<fingerprint>`, built more than an hour
/// ago, recorded in the database's comment; undated ones are left alone), which nothing else
/// would ever remove.
async fn postgres_template(admin: &DatabaseConnection, admin_url: &str) -> String {
    let template = format!("zyenta_template_{}", env!("MIGRATIONS_FINGERPRINT"));
    admin
        .execute_unprepared(&format!("SELECT pg_advisory_lock_shared({TEMPLATE_LOCK})"))
        .await
        .expect("advisory lock");
    if template_exists(admin, &template).await {
        // Returns holding the shared lock; create_database_from releases it.
        return template;
    }
    admin
        .execute_unprepared(&format!(
            "SELECT pg_advisory_unlock_shared({TEMPLATE_LOCK})"
        ))
        .await
        .expect("advisory unlock");
    admin
        .execute_unprepared(&format!("SELECT pg_advisory_lock({TEMPLATE_LOCK})"))
        .await
        .expect("advisory lock");
    if !template_exists(admin, &template).await {
        let building = format!("{template}_building");
        admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
            .await
            .expect("drop half-built template");
        admin
            .execute_unprepared(&format!("CREATE DATABASE {building}"))
            .await
            .expect("create template");
        let db = connect_admin(&with_database(admin_url, &building))
            .await
            .expect("open template");
        Migrator::up(&db, None).await.expect("migrate template");
        db.close().await.expect("close template");
        // Renamed only once complete, so a crash never leaves a half-migrated template.
        admin
            .execute_unprepared(&format!("ALTER DATABASE {building} RENAME TO {template}"))
            .await
            .expect("publish template");
        admin
            .execute_unprepared(&format!(
                "COMMENT ON DATABASE {template} IS 'built {}'",
                chrono::Utc::now().timestamp()
            ))
            .await
            .expect("date the template");
        drop_old_templates(admin, &template).await;
    }
    // Downgrade to the shared lock for the copy.
    admin
        .execute_unprepared(&format!("SELECT pg_advisory_lock_shared({TEMPLATE_LOCK})"))
        .await
        .expect("advisory lock");
    admin
        .execute_unprepared(&format!("SELECT pg_advisory_unlock({TEMPLATE_LOCK})"))
        .await
        .expect("advisory unlock");
    template
}

async fn template_exists(admin: &DatabaseConnection, template: &str) -> bool {
    admin
        .query_one_raw(sea_orm::Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT 1 FROM pg_database WHERE datname = '{template}'"),
        ))
        .await
        .expect("look up template")
        .is_some()
}

/// Drops the templates of other schema versions built more than [`OLD_TEMPLATE_AGE_SECS`] ago.
/// Templates without a date (made by an older harness) are left alone. Runs under the
/// exclusive template lock.
async fn drop_old_templates(admin: &DatabaseConnection, current: &str) {
    let rows = admin
        .query_all_raw(sea_orm::Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT d.datname::text, coalesce(shobj_description(d.oid, 'pg_database'), '') \
                 FROM pg_database d WHERE d.datname LIKE 'zyenta\\_template\\_%' \
                 AND d.datname <> '{current}' AND d.datname NOT LIKE '%\\_building'"
            ),
        ))
        .await
        .expect("list templates");
    let now = chrono::Utc::now().timestamp();
    for row in rows {
        let name: String = row.try_get_by_index(0).expect("name");
        let comment: String = row.try_get_by_index(1).expect("comment");
        // An undated template was built by a harness that copies it without the shared lock:
        // dropping it could break a copy in progress, so it is left alone.
        let Some(built) = comment
            .strip_prefix("built ")
            .and_then(|t| t.parse::<i64>().ok())
        else {
            continue;
        };
        if now - built > OLD_TEMPLATE_AGE_SECS {
            // Without FORCE: a template someone is connected to is left for next time.
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}"))
                .await;
        }
    }
}

/// Copies `template` into `name`; called holding the shared template lock, which it releases.
async fn create_database_from(admin: &DatabaseConnection, name: &str, template: &str) {
    // Two copies of one template at the same moment can collide ("source database is being
    // accessed by other users"); a short retry settles it.
    let mut attempt = 0;
    loop {
        match admin
            .execute_unprepared(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
            .await
        {
            Ok(_) => break,
            Err(e) if attempt < 50 && e.to_string().contains("being accessed by other users") => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("create test database from template: {e}"),
        }
    }
    admin
        .execute_unprepared(&format!(
            "SELECT pg_advisory_unlock_shared({TEMPLATE_LOCK})"
        ))
        .await
        .expect("advisory unlock");
}

// Whether a server backend runs is decided when this crate is built (build.rs reads the
// variables) and carried by which of these two macros is exported, so that the tests of every
// package that uses `backend_test!` / `per_backend!` (this one, the studio, …) are ignored the
// same way without a build script of their own.
#[cfg(zyenta_no_postgres)]
#[doc(hidden)]
#[macro_export]
macro_rules! __postgres_test {
    ($($item:tt)*) => {
        #[ignore = "Postgres not run: TEST_DATABASE_URL is not set"]
        $($item)*
    };
}
#[cfg(not(zyenta_no_postgres))]
#[doc(hidden)]
#[macro_export]
macro_rules! __postgres_test {
    ($($item:tt)*) => { $($item)* };
}
#[cfg(zyenta_no_mysql)]
#[doc(hidden)]
#[macro_export]
macro_rules! __mysql_test {
    ($($item:tt)*) => {
        #[ignore = "MariaDB/MySQL not run: TEST_MYSQL_URL is not set"]
        $($item)*
    };
}
#[cfg(not(zyenta_no_mysql))]
#[doc(hidden)]
#[macro_export]
macro_rules! __mysql_test {
    ($($item:tt)*) => { $($item)* };
}

/// Writes one async test body once and runs it as three tests, `sqlite`, `postgres` and
/// `mysql`, each on a fresh migrated database of its backend. A backend that is not configured
/// when the tests are built makes its test ignored (it fails instead under
/// `ZYENTA_TEST_REQUIRE_BACKENDS`), in any package that uses the macro; a hand-written test of
/// one backend is wrapped the same way: `tests::__postgres_test! { #[tokio::test] async fn … }`
/// (or `__mysql_test!`), or written with [`per_backend!`].
///
/// ```text
/// backend_test!(async fn a_user_can_be_inserted(t: &TestDb) { … });
/// ```
#[macro_export]
macro_rules! backend_test {
    ($(#[$meta:meta])* async fn $name:ident($t:ident : &TestDb $(,)?) $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($t: &$crate::TestDb) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(t) = $crate::TestDb::migrated($crate::Backend::Sqlite).await {
                    run(&t).await;
                }
            }

            $crate::__postgres_test! {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(t) = $crate::TestDb::migrated($crate::Backend::Postgres).await {
                        run(&t).await;
                    }
                }
            }

            $crate::__mysql_test! {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn mysql() {
                    if let Some(t) = $crate::TestDb::migrated($crate::Backend::MySql).await {
                        run(&t).await;
                    }
                }
            }
        }
    };
}

/// Runs `async fn f(backend: Backend)` as three tests, `sqlite`, `postgres` and `mysql`, for
/// tests that set up their own databases ([`TestDb::empty`], several processes, …). An
/// unconfigured backend is ignored the same way as in [`backend_test!`].
#[macro_export]
macro_rules! per_backend {
    ($(#[$meta:meta])* $name:ident => $fun:path) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $fun($crate::Backend::Sqlite).await;
            }

            $crate::__postgres_test! {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    $fun($crate::Backend::Postgres).await;
                }
            }

            $crate::__mysql_test! {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn mysql() {
                    $fun($crate::Backend::MySql).await;
                }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_name_of_a_url_is_replaced_and_its_options_kept() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            with_database("mysql://root@127.0.0.1:3306?ssl-mode=disabled", "t2"),
            "mysql://root@127.0.0.1:3306/t2?ssl-mode=disabled"
        );
    }
}
