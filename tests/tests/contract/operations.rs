//! What an operator sees from the scripts and a starting service: never a password.

use migration::connection::REDACTION_CASES;
use sea_orm::ConnectionTrait;

use super::*;

fn output_of(command: &mut std::process::Command) -> (bool, String) {
    let out = command.output().expect("run");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// scripts/entities.sh with a broken `ENTITY_ADMIN_URL`: it stops before building anything,
/// shows psql's real error, and no part of the password.
#[test]
fn the_entity_script_shows_the_real_error_and_never_the_password() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/entities.sh");
    for url in REDACTION_CASES {
        let (ok, text) = output_of(
            std::process::Command::new("bash")
                .arg(script)
                .arg("--check")
                .env("ENTITY_ADMIN_URL", url)
                .env_remove("ENTITY_DATABASE_URL")
                // Should a URL work, the script stops at the generator check instead of
                // building one.
                .env("SEA_ORM_CLI", "/bin/false"),
        );
        assert!(!ok, "{url}: {text}");
        assert!(!text.contains("S3cret"), "{url}: {text}");
        assert!(text.contains("entities:"), "{url}: {text}");
    }
}

/// A service starting with every log on (trace) and a URL that carries a password: the
/// password appears nowhere, on success or failure.
async fn a_starting_service_never_logs_the_password(backend: Backend) {
    let Some(t) = TestDb::empty(backend).await else {
        return;
    };
    let url = &t.config.database_url;
    let with_password = match url.split_once("://") {
        Some((scheme, rest)) if !url.starts_with("sqlite") => {
            let rest = rest.split_once('@').map_or(rest, |(_, r)| r);
            let user = if scheme.starts_with("postgres") {
                "postgres"
            } else {
                "root"
            };
            format!("{scheme}://{user}:S3cretPW@{rest}")
        }
        _ => return,
    };
    let (_, text) = output_of(
        std::process::Command::new(env!("CARGO_BIN_EXE_zyenta-start"))
            .env("DATABASE_URL", &with_password)
            .env("RUST_LOG", "trace")
            .env("DATABASE_LOG_QUERIES", "true"),
    );
    assert!(!text.contains("S3cret"), "{text}");
    assert!(
        text.contains("started") || text.contains("start failed"),
        "{text}"
    );
}

per_backend!(a_starting_service_never_logs_the_password_even_at_trace => a_starting_service_never_logs_the_password);

/// `DATABASE_LOG_QUERIES=true` shows the statements at the default log level; without it a
/// start on a current database logs nothing at all (checking the migrations creates nothing,
/// so Postgres has no "already exists" notice to report).
async fn query_logging_and_quiet_starts(backend: Backend) {
    let Some(t) = TestDb::migrated(backend).await else {
        return;
    };
    let start = |log_queries: &str| {
        output_of(
            std::process::Command::new(env!("CARGO_BIN_EXE_zyenta-start"))
                .env("DATABASE_URL", &t.config.database_url)
                .env_remove("RUST_LOG")
                .env("DATABASE_LOG_QUERIES", log_queries),
        )
    };
    for _ in 0..2 {
        let (ok, text) = start("false");
        assert!(ok, "{text}");
        assert_eq!(
            text.trim(),
            format!(
                "started: {} applied, 0 pending, 0 unknown",
                <migration::Migrator as migration::MigratorTrait>::migrations().len()
            ),
            "nothing logged"
        );
    }
    let (ok, text) = start("true");
    assert!(ok, "{text}");
    assert!(
        text.contains("seaql_migrations"),
        "the statements are shown: {text}"
    );
}

per_backend!(query_logging_shows_statements_by_default_and_a_start_logs_nothing_else => query_logging_and_quiet_starts);

/// Runs one backend's health test of this very test binary in a child process, with the
/// backend's variable set to `url` and without `ZYENTA_TEST_REQUIRE_BACKENDS`.
fn run_health_test_with(backend: Backend, url: &str) -> (bool, String) {
    let (variable, name) = match backend {
        Backend::Postgres => ("TEST_DATABASE_URL", "postgres"),
        Backend::MySql => ("TEST_MYSQL_URL", "mysql"),
        Backend::Sqlite => unreachable!("SQLite has no variable"),
    };
    output_of(
        std::process::Command::new(std::env::current_exe().expect("this test binary"))
            .arg(format!(
                "connect::health_answers_with_the_round_trip_time::{name}"
            ))
            .arg("--exact")
            .env(variable, url)
            .env_remove("ZYENTA_TEST_REQUIRE_BACKENDS"),
    )
}

/// The harness itself: a configured backend that cannot be used fails its tests even without
/// the CI flag (never "ok"), naming the cause and not the password; a configured database that
/// does not exist yet is created.
async fn the_harness_fails_on_an_unusable_backend_and_creates_a_missing_database(backend: Backend) {
    let Some(t) = TestDb::empty(backend).await else {
        return;
    };
    if backend == Backend::Sqlite {
        return;
    }
    let url = &t.config.database_url;
    let (scheme, rest) = url.split_once("://").expect("server URL");
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let (server, _) = rest.split_once('/').expect("database in the URL");
    let user = if scheme.starts_with("postgres") {
        "zyenta_nobody"
    } else {
        "root"
    };
    let wrong = format!("{scheme}://{user}:S3cretPW@{server}/zyenta_test");
    let (ok, text) = run_health_test_with(backend, &wrong);
    assert!(!ok, "an unusable backend must fail: {text}");
    assert!(
        text.contains("is configured") && text.contains("but unusable"),
        "{text}"
    );
    assert!(text.contains("authentication failed"), "{text}");
    assert!(!text.contains("S3cret"), "{text}");

    let missing = format!("zyenta_test_missing_{}", uuid::Uuid::now_v7().simple());
    let (ok, text) = run_health_test_with(
        backend,
        &url.replace(
            &t.config
                .database_url
                .rsplit('/')
                .next()
                .expect("name")
                .to_owned(),
            &missing,
        ),
    );
    let exists =
        t.db.query_one_raw(sea_orm::Statement::from_string(
            t.db_backend(),
            match backend {
                Backend::Postgres => {
                    format!("SELECT 1 FROM pg_database WHERE datname = '{missing}'")
                }
                _ => format!(
                    "SELECT 1 FROM information_schema.schemata WHERE schema_name = '{missing}'"
                ),
            },
        ))
        .await
        .expect("look it up")
        .is_some();
    // Created by the child's harness; dropped here, by name (it is this test's own).
    let drop_sql = match backend {
        Backend::Postgres => format!("DROP DATABASE IF EXISTS {missing} WITH (FORCE)"),
        _ => format!("DROP DATABASE IF EXISTS {missing}"),
    };
    t.db.execute_unprepared(&drop_sql).await.expect("drop it");
    assert!(ok, "a missing database is created: {text}");
    assert!(exists, "{missing} was created");
}

per_backend!(the_harness_fails_on_an_unusable_backend_and_creates_a_missing_one => the_harness_fails_on_an_unusable_backend_and_creates_a_missing_database);
