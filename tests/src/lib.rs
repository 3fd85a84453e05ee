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
//! With `ZYENTA_TEST_REQUIRE_BACKENDS=1` (CI sets it) a backend that is not configured or not
//! reachable fails the test instead of being skipped.
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
    Sqlite,
    Postgres,
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
    pub db: DatabaseConnection,
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

fn skip_or_fail(backend: Backend, why: &str) -> Option<TestDb> {
    if required() {
        panic!("{backend:?} is required (ZYENTA_TEST_REQUIRE_BACKENDS) but {why}");
    }
    eprintln!("skipped on {backend:?}: {why}");
    None
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
        let name = format!("zyenta_test_{}", Uuid::now_v7().simple());
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join("zyenta-tests");
                std::fs::create_dir_all(&dir).expect("temporary directory");
                let path = dir.join(format!("{name}.db"));
                let config = Config::new(format!("sqlite://{}?mode=rwc", path.display()));
                let db = domain::connect(&config).await.expect("open SQLite");
                if migrated {
                    Migrator::up(&db, None).await.expect("migrate SQLite");
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
                let Ok(admin_url) = std::env::var(variable) else {
                    return skip_or_fail(backend, &format!("{variable} is not set"));
                };
                let admin = match connect_admin(&admin_url).await {
                    Ok(admin) => admin,
                    Err(e) => {
                        return skip_or_fail(backend, &format!("{variable} is unreachable: {e}"));
                    }
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
                        admin.execute_unprepared(&drop_sql).await?;
                        admin.close().await
                    })
                })
                .join();
                if !matches!(dropped, Ok(Ok(()))) {
                    eprintln!("could not drop test database {name}: {dropped:?}");
                }
            }
        }
    }
}

async fn connect_admin(url: &str) -> Result<DatabaseConnection, sea_orm::DbErr> {
    let mut options = sea_orm::ConnectOptions::new(url.to_owned());
    options
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .connect_timeout(Duration::from_secs(5))
        .sqlx_logging(false);
    Database::connect(options).await
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

/// The migrated template for the current migrations, built once under an advisory lock so
/// that concurrent test processes neither race nor rebuild it.
async fn postgres_template(admin: &DatabaseConnection, admin_url: &str) -> String {
    let template = format!("zyenta_template_{}", env!("MIGRATIONS_FINGERPRINT"));
    // One lock key for "building a template"; held on this admin connection only.
    admin
        .execute_unprepared("SELECT pg_advisory_lock(7310202611)")
        .await
        .expect("advisory lock");
    let exists = admin
        .query_one_raw(sea_orm::Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT 1 FROM pg_database WHERE datname = '{template}'"),
        ))
        .await
        .expect("look up template")
        .is_some();
    if !exists {
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
    }
    admin
        .execute_unprepared("SELECT pg_advisory_unlock(7310202611)")
        .await
        .expect("advisory unlock");
    template
}

async fn create_database_from(admin: &DatabaseConnection, name: &str, template: &str) {
    // Two copies of one template at the same moment can collide ("source database is being
    // accessed by other users"); a short retry settles it.
    let mut attempt = 0;
    loop {
        match admin
            .execute_unprepared(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
            .await
        {
            Ok(_) => return,
            Err(e) if attempt < 50 && e.to_string().contains("being accessed by other users") => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("create test database from template: {e}"),
        }
    }
}

/// Writes one async test body once and runs it as three tests, `sqlite`, `postgres` and
/// `mysql`, each on a fresh migrated database of its backend (skipped, or failed under
/// `ZYENTA_TEST_REQUIRE_BACKENDS`, when the backend is not configured).
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

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(t) = $crate::TestDb::migrated($crate::Backend::Postgres).await {
                    run(&t).await;
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mysql() {
                if let Some(t) = $crate::TestDb::migrated($crate::Backend::MySql).await {
                    run(&t).await;
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
