//! What an operator sees from the scripts and a starting service: never a password.

use migration::connection::REDACTION_CASES;

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
