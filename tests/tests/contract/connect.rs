use migration::MigratorTrait;

use super::*;

backend_test!(
    async fn health_answers_with_the_round_trip_time(t: &TestDb) {
        let elapsed = domain::health(&t.db).await.expect("healthy");
        assert!(elapsed < std::time::Duration::from_secs(5), "{elapsed:?}");
    }
);

/// From an empty database (not the harness's migrated copy): migrate-on-start applies
/// everything.
async fn migrate_on_start_from_empty(backend: Backend) {
    let Some(t) = TestDb::empty(backend).await else {
        return;
    };
    assert_eq!(
        domain::pending_migrations(&t.db).await.expect("read").len(),
        migration::Migrator::migrations().len(),
        "starts empty"
    );
    let mut config = t.config.clone();
    config.migrate_on_start = true;
    let db = domain::connect(&config).await.expect("connect");
    assert_eq!(
        domain::pending_migrations(&db).await.expect("read"),
        Vec::<String>::new()
    );
}

per_backend!(connect_with_migrate_on_start_leaves_nothing_pending => migrate_on_start_from_empty);

const SECRET: &str = "S3cretPW-zyenta";

/// Connects to `url` and returns the error, checking what every connection failure must do:
/// arrive within about a second, name the target, and never show the password (Display or
/// Debug).
async fn connect_error(url: &str, target: &str) -> domain::db::ConnectProblem {
    let started = std::time::Instant::now();
    let err = domain::connect(&domain::Config::new(url))
        .await
        .expect_err("cannot connect");
    let elapsed = started.elapsed();
    assert!(
        elapsed < std::time::Duration::from_millis(1500),
        "{elapsed:?}"
    );
    let (shown, debug) = (err.to_string(), format!("{err:?}"));
    assert!(
        !shown.contains(SECRET) && !debug.contains(SECRET),
        "{shown} / {debug}"
    );
    assert!(shown.contains(target), "{shown}");
    match err {
        domain::Error::Connect(e) => e.problem,
        other => panic!("expected Error::Connect, got {other:?}"),
    }
}

#[tokio::test]
async fn a_refused_port_is_named_with_its_cause_at_once() {
    let problem = connect_error(
        &format!("postgres://app:{SECRET}@127.0.0.1:1/zyenta"),
        "127.0.0.1:1",
    )
    .await;
    assert_eq!(problem, domain::db::ConnectProblem::Refused);
    let problem = connect_error(
        &format!("mysql://root:{SECRET}@127.0.0.1:1/z"),
        "127.0.0.1:1",
    )
    .await;
    assert_eq!(problem, domain::db::ConnectProblem::Refused);
}

#[tokio::test]
async fn a_malformed_url_is_explained_without_its_password() {
    let problem = connect_error(
        &format!("postgres://postgres:{SECRET}@127.0.0.1:55x432/zyenta"),
        "127.0.0.1:55x432",
    )
    .await;
    assert!(
        matches!(problem, domain::db::ConnectProblem::MalformedUrl(_)),
        "{problem:?}"
    );
}

#[tokio::test]
async fn a_sqlite_file_that_cannot_be_opened_names_its_path_and_why() {
    let dir = std::env::temp_dir().join(format!("zyenta-missing-{}", uuid::Uuid::now_v7()));
    let path = dir.join("z.db");
    let problem = connect_error(
        &format!("sqlite://{}?mode=rwc", path.display()),
        &path.display().to_string(),
    )
    .await;
    assert_eq!(problem, domain::db::ConnectProblem::NoSuchDirectory);
    // /proc refuses new files even to root: a folder that cannot be written.
    let problem = connect_error("sqlite:///proc/zyenta.db?mode=rwc", "/proc/zyenta.db").await;
    assert_eq!(problem, domain::db::ConnectProblem::ReadOnly);
    let file = std::env::temp_dir().join(format!("zyenta-absent-{}.db", uuid::Uuid::now_v7()));
    let problem = connect_error(
        &format!("sqlite://{}", file.display()),
        &file.display().to_string(),
    )
    .await;
    assert_eq!(problem, domain::db::ConnectProblem::NoSuchFile);
}

/// `scheme://user:password@host:port/database` of a server backend's test URL, with another
/// user, password or database.
fn server_url(t: &TestDb, user: Option<&str>, database: &str) -> (String, String) {
    let url = &t.config.database_url;
    let (scheme, rest) = url.split_once("://").expect("server URL");
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let host = rest.split(['/', '?']).next().expect("host").to_owned();
    let user = user.unwrap_or(if scheme.starts_with("postgres") {
        "postgres"
    } else {
        "root"
    });
    (
        format!("{scheme}://{user}:{SECRET}@{host}/{database}"),
        host,
    )
}

async fn server_failures(backend: Backend) {
    let Some(t) = TestDb::empty(backend).await else {
        return;
    };
    if backend == Backend::Sqlite {
        return;
    }
    // A user that does not exist (trust authentication still refuses it) / a wrong password.
    let (url, host) = server_url(&t, Some("zyenta_ops_nobody"), "zyenta_test");
    assert_eq!(
        connect_error(&url, &host).await,
        domain::db::ConnectProblem::Authentication
    );
    // A database that does not exist.
    let missing = format!("zyenta_ops_missing_{}", uuid::Uuid::now_v7().simple());
    let db_name = t
        .config
        .database_url
        .rsplit('/')
        .next()
        .expect("db")
        .to_owned();
    let url = t.config.database_url.replace(&db_name, &missing);
    assert_eq!(
        connect_error(&url, &host).await,
        domain::db::ConnectProblem::UnknownDatabase
    );
}

per_backend!(connection_failures_name_the_cause_authentication_and_unknown_database => server_failures);
