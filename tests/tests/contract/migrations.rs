use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use super::*;

const TABLES: [&str; 12] = [
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

    for round in 0..2 {
        Migrator::up(&t.db, None).await.expect("up");
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

        // One step down undoes exactly the last migration. The migrations after the job
        // queue (the sixth) only change indexes: stepping down through them keeps every
        // table, and the step after them removes the job queue.
        let index_only = total - 6;
        Migrator::down(&t.db, Some(1)).await.expect("down one");
        assert_eq!(tables(&t).await, TABLES, "round {round}: one step down");
        assert_eq!(status(&t).await, (total - 1, 1));
        if index_only > 1 {
            Migrator::down(&t.db, Some(u32::try_from(index_only - 1).expect("few")))
                .await
                .expect("down through the index changes");
            assert_eq!(
                tables(&t).await,
                TABLES,
                "round {round}: index changes undone"
            );
        }
        Migrator::down(&t.db, Some(1))
            .await
            .expect("down the job queue");
        assert!(!tables(&t).await.contains(&"agent_jobs".to_owned()));
        assert_eq!(status(&t).await, (total - index_only - 1, index_only + 1));

        Migrator::down(&t.db, None).await.expect("down all");
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
    Migrator::up(&t.db, None).await.expect("up again");
    assert_eq!(tables(&t).await, TABLES);
}

mod migrations_go_up_down_and_up_again_leaving_nothing_behind {
    use super::*;

    #[tokio::test]
    async fn sqlite() {
        up_down_up(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres() {
        up_down_up(Backend::Postgres).await;
    }

    #[tokio::test]
    async fn mysql() {
        up_down_up(Backend::MySql).await;
    }
}
