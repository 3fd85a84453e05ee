use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use super::*;

const TABLES: [&str; 15] = [
    "accounts",
    "agent_job_dependencies",
    "agent_job_gates",
    "agent_job_schedules",
    "agent_jobs",
    "media_assets",
    "pages",
    "product_images",
    "product_variants",
    "products",
    "sessions",
    "stores",
    "supplier_accounts",
    "users",
    "verification_tokens",
];

/// The tables before the agent pipeline's migration (the last one) added its three.
const TABLES_BEFORE_PIPELINE: [&str; 12] = [
    "accounts",
    "agent_jobs",
    "media_assets",
    "pages",
    "product_images",
    "product_variants",
    "products",
    "sessions",
    "stores",
    "supplier_accounts",
    "users",
    "verification_tokens",
];

/// Runs the migrations through the crate's runner (on SQLite one transaction on one
/// connection, so no pooled connection sees a stale schema).
async fn run(t: &TestDb, operation: migration::runner::Operation) {
    migration::runner::run(&t.db, operation)
        .await
        .expect("migrations run");
}

const ENUM_TYPES: [&str; 7] = [
    "agent_type",
    "job_status",
    "media_type",
    "page_type",
    "product_status",
    "store_status",
    "supplier_provider",
];

async fn names(t: &TestDb, sql: &str) -> Vec<String> {
    let rows =
        t.db.query_all_raw(Statement::from_string(t.db_backend(), sql))
            .await
            .expect("catalog query");
    let mut names: Vec<String> = rows
        .iter()
        .map(|row| row.try_get_by_index::<String>(0).expect("name column"))
        .collect();
    names.sort();
    names
}

/// Our tables, without the migration bookkeeping table.
async fn tables(t: &TestDb) -> Vec<String> {
    let sql = match t.db_backend() {
        DbBackend::Postgres => {
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'"
        }
        DbBackend::MySql => {
            "SELECT CAST(table_name AS CHAR) FROM information_schema.tables \
             WHERE table_schema = DATABASE()"
        }
        _ => "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    };
    let mut names = names(t, sql).await;
    names.retain(|n| n != "seaql_migrations");
    names
}

async fn enum_types(t: &TestDb) -> Vec<String> {
    match t.db_backend() {
        DbBackend::Postgres => {
            names(
                t,
                "SELECT typname::text FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
                 WHERE t.typtype = 'e' AND n.nspname = 'public'",
            )
            .await
        }
        // Enums are column types (MySQL) or text with a CHECK (SQLite): nothing to leave behind.
        _ => Vec::new(),
    }
}

async fn status(t: &TestDb) -> (usize, usize) {
    let applied = Migrator::get_applied_migrations(&t.db)
        .await
        .expect("applied")
        .len();
    let pending = Migrator::get_pending_migrations(&t.db)
        .await
        .expect("pending")
        .len();
    (applied, pending)
}

async fn up_down_up(backend: Backend) {
    let Some(t) = TestDb::empty(backend).await else {
        return;
    };
    let total = Migrator::migrations().len();
    let expected_enums: Vec<String> = if t.db_backend() == DbBackend::Postgres {
        ENUM_TYPES.iter().map(|s| s.to_string()).collect()
    } else {
        Vec::new()
    };

    assert_eq!(tables(&t).await, Vec::<String>::new(), "starts empty");
    assert_eq!(status(&t).await, (0, total));

    use migration::runner::Operation;
    for round in 0..2 {
        run(&t, Operation::Up(None)).await;
        assert_eq!(
            tables(&t).await,
            TABLES,
            "round {round}: every table after up"
        );
        assert_eq!(
            enum_types(&t).await,
            expected_enums,
            "round {round}: enum types"
        );
        assert_eq!(status(&t).await, (total, 0), "round {round}: all applied");

        // One step down undoes exactly the last migration, the agent pipeline's: its three
        // tables go. The migrations between the job queue's and it add no table and drop
        // none: stepping down through them keeps every table, and the step after them
        // removes the job queue. Places are looked up by name, so that a new migration
        // anywhere keeps this test true.
        let position = |suffix: &str| {
            Migrator::migrations()
                .iter()
                .position(|m| m.name().ends_with(suffix))
                .expect("a migration of that name")
                + 1
        };
        let job_queue = position("_agent_jobs");
        let pipeline = position("_agent_pipeline");
        assert_eq!(pipeline, total, "the pipeline's migration is the last");
        run(&t, Operation::Down(Some(1))).await;
        assert_eq!(
            tables(&t).await,
            TABLES_BEFORE_PIPELINE,
            "round {round}: one step down"
        );
        assert_eq!(status(&t).await, (total - 1, 1));
        let index_only = pipeline - 1 - job_queue;
        if index_only > 0 {
            run(
                &t,
                Operation::Down(Some(u32::try_from(index_only).expect("few"))),
            )
            .await;
            assert_eq!(
                tables(&t).await,
                TABLES_BEFORE_PIPELINE,
                "round {round}: index changes undone"
            );
        }
        run(&t, Operation::Down(Some(1))).await;
        assert!(!tables(&t).await.contains(&"agent_jobs".to_owned()));
        assert_eq!(status(&t).await, (job_queue - 1, total - job_queue + 1));

        run(&t, Operation::Down(None)).await;
        assert_eq!(
            tables(&t).await,
            Vec::<String>::new(),
            "round {round}: no table left"
        );
        assert_eq!(
            enum_types(&t).await,
            Vec::<String>::new(),
            "round {round}: no enum left"
        );
        assert_eq!(status(&t).await, (0, total));
    }
    run(&t, Operation::Up(None)).await;
    assert_eq!(tables(&t).await, TABLES);
}

per_backend!(migrations_go_up_down_and_up_again_leaving_nothing_behind => up_down_up);

/// Four service processes start at once on an empty database, each with migrate-on-start:
/// all start, and every migration is applied exactly once (the lock serialises them; the
/// ones that wait find nothing pending).
async fn four_processes_start_at_once(backend: Backend) {
    let Some(t) = TestDb::empty(backend).await else {
        return;
    };
    let total = Migrator::migrations().len();
    let children: Vec<_> = (0..4)
        .map(|_| {
            std::process::Command::new(env!("CARGO_BIN_EXE_zyenta-start"))
                .env("DATABASE_URL", &t.config.database_url)
                .env("RUST_LOG", "warn")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("start a process")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("process ends");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "a process failed to start: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains(&format!("started: {total} applied, 0 pending, 0 unknown")),
            "{stdout}"
        );
    }
    // Each migration recorded once, every table there.
    let rows =
        t.db.query_all_raw(Statement::from_string(
            t.db_backend(),
            "SELECT version FROM seaql_migrations",
        ))
        .await
        .expect("bookkeeping");
    assert_eq!(rows.len(), total);
    assert_eq!(tables(&t).await, TABLES);
}

per_backend!(four_processes_migrating_at_once_all_start_and_migrate_once => four_processes_start_at_once);

/// Checking for pending migrations writes nothing: connecting without migrate-on-start to an
/// empty database leaves it empty (no bookkeeping table), and reports everything pending.
async fn checking_writes_nothing(backend: Backend) {
    let Some(t) = TestDb::empty(backend).await else {
        return;
    };
    let db = domain::connect(&t.config).await.expect("connect");
    let status = domain::migration_status(&db).await.expect("status");
    assert_eq!(
        (
            status.applied.len(),
            status.pending.len(),
            status.unknown.len()
        ),
        (0, Migrator::migrations().len(), 0)
    );
    assert_eq!(
        names(&t, all_tables_sql(t.db_backend())).await,
        Vec::<String>::new()
    );
}

fn all_tables_sql(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => {
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'"
        }
        DbBackend::MySql => {
            "SELECT CAST(table_name AS CHAR) FROM information_schema.tables \
             WHERE table_schema = DATABASE()"
        }
        _ => "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    }
}

per_backend!(checking_for_pending_migrations_writes_nothing => checking_writes_nothing);

/// A newer build applied a migration this build does not know: connecting warns and works,
/// `status` lists it, applying nothing is fine, and applying something refuses without
/// changing the schema.
async fn unknown_migrations(backend: Backend) {
    let Some(t) = TestDb::migrated(backend).await else {
        return;
    };
    let future = "m20991231_000001_from_a_newer_build";
    t.db.execute_unprepared(&format!(
        "INSERT INTO seaql_migrations (version, applied_at) VALUES ('{future}', 0)"
    ))
    .await
    .expect("record a newer migration");

    // An older instance restarts: it connects (and would migrate on start: nothing pending).
    let mut config = t.config.clone();
    let db = domain::connect(&config)
        .await
        .expect("connect despite unknown");
    config.migrate_on_start = true;
    domain::connect(&config)
        .await
        .expect("migrate-on-start with nothing pending starts");
    let status = domain::migration_status(&db).await.expect("status");
    assert_eq!(status.unknown, vec![future.to_owned()]);
    assert!(status.pending.is_empty());
    assert_eq!(status.applied.len(), Migrator::migrations().len());

    // Something to apply as well: refused, typed, and nothing written.
    let last = Migrator::migrations()
        .last()
        .expect("migrations")
        .name()
        .to_owned();
    migration::runner::run(&db, migration::runner::Operation::Down(Some(1)))
        .await
        .expect_err("rolling back is refused as well");
    t.db.execute_unprepared(&format!(
        "DELETE FROM seaql_migrations WHERE version = '{last}'"
    ))
    .await
    .expect("forget the last migration");
    let tables_before = tables(&t).await;
    match domain::migrate(&db).await {
        Err(domain::Error::SchemaIsNewer { unknown }) => {
            assert_eq!(unknown, vec![future.to_owned()])
        }
        other => panic!("expected SchemaIsNewer, got {other:?}"),
    }
    match domain::connect(&config).await {
        Err(domain::Error::SchemaIsNewer { .. }) => {}
        other => panic!("expected SchemaIsNewer, got {other:?}"),
    }
    let status = domain::migration_status(&db).await.expect("status");
    assert_eq!(status.pending, vec![last]);
    assert_eq!(tables(&t).await, tables_before);
}

per_backend!(unknown_applied_migrations_warn_are_listed_and_only_applying_refuses => unknown_migrations);
