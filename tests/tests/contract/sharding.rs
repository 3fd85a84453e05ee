//! The migrated Postgres schema checked against the rules of a sharded Postgres (Citus), with
//! the placement of every table that `docs/scale-out.md` plans. The violations found must be
//! exactly the ones that document lists: a migration that adds one (or removes one) fails here
//! until the plan says so.

use std::collections::{BTreeMap, BTreeSet};

use migration::MigratorTrait as _;
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, Statement};

use super::*;

/// Where a table lives in the sharded plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    /// Sharded by the distribution column.
    Distributed,
    /// Copied to every node.
    Reference,
    /// One copy, on the coordinator.
    Local,
}

use Placement::{Distributed, Local, Reference};

/// The distribution column of every distributed table.
const DISTRIBUTION_COLUMN: &str = "store_id";
/// The table the job claim runs on: it must stay on one node.
const JOB_CLAIM_TABLE: &str = "agent_jobs";

/// The plan of docs/scale-out.md, table by table.
const PLAN: &[(&str, Placement)] = &[
    ("users", Reference),
    ("accounts", Local),
    ("sessions", Local),
    ("verification_tokens", Local),
    ("supplier_accounts", Local),
    ("stores", Reference),
    ("products", Distributed),
    ("product_variants", Distributed),
    ("product_images", Distributed),
    ("pages", Distributed),
    ("media_assets", Distributed),
    ("agent_jobs", Local),
    ("agent_job_dependencies", Local),
    ("agent_job_schedules", Local),
    ("agent_job_gates", Local),
    ("seaql_migrations", Local),
];

async fn rows(t: &TestDb, sql: &str) -> Vec<Vec<String>> {
    t.db.query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .expect("read the catalog")
        .into_iter()
        .map(|row| {
            (0..)
                .map_while(|i| row.try_get_by_index::<String>(i).ok())
                .collect()
        })
        .collect()
}

fn list(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Every rule of the sharded plan that the migrated catalog breaks, one line each, sorted.
async fn violations(t: &TestDb) -> Vec<String> {
    let plan: BTreeMap<&str, Placement> = PLAN.iter().copied().collect();
    let mut found = BTreeSet::new();

    let tables = rows(
        t,
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')",
    )
    .await;
    let columns = rows(
        t,
        "SELECT c.relname::text, a.attname::text FROM pg_attribute a \
         JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND a.attnum > 0 \
         AND NOT a.attisdropped",
    )
    .await;
    let has_column = |table: &str, column: &str| {
        columns
            .iter()
            .any(|row| row[0] == table && row[1] == column)
    };
    for row in &tables {
        let table = row[0].as_str();
        match plan.get(table) {
            None => {
                found.insert(format!("{table}: not in the plan"));
            }
            Some(Distributed) if !has_column(table, DISTRIBUTION_COLUMN) => {
                found.insert(format!("{table}: no {DISTRIBUTION_COLUMN} column"));
            }
            _ => {}
        }
    }
    let placement = |table: &str| plan.get(table).copied();

    // Unique indexes (primary keys and unique constraints included); an expression column
    // counts as not the distribution column.
    let uniques = rows(
        t,
        "SELECT c.relname::text, ic.relname::text, \
                array_to_string(array(SELECT coalesce(a.attname::text, '(expression)') \
                    FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) \
                    LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum \
                    ORDER BY k.n), ',') \
         FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid \
         JOIN pg_class ic ON ic.oid = i.indexrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND i.indisunique",
    )
    .await;
    for row in &uniques {
        let (table, index, cols) = (&row[0], &row[1], list(&row[2]));
        if placement(table) == Some(Distributed) && !cols.iter().any(|c| c == DISTRIBUTION_COLUMN) {
            found.insert(format!(
                "{table}: unique {index} ({}) lacks {DISTRIBUTION_COLUMN}",
                cols.join(", ")
            ));
        }
    }

    let foreign_keys = rows(
        t,
        "SELECT con.conname::text, c.relname::text, fc.relname::text, \
                array_to_string(array(SELECT a.attname::text FROM unnest(con.conkey) \
                    WITH ORDINALITY AS k(attnum, n) JOIN pg_attribute a \
                    ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.n), ','), \
                array_to_string(array(SELECT a.attname::text FROM unnest(con.confkey) \
                    WITH ORDINALITY AS k(attnum, n) JOIN pg_attribute a \
                    ON a.attrelid = con.confrelid AND a.attnum = k.attnum ORDER BY k.n), ',') \
         FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid \
         JOIN pg_class fc ON fc.oid = con.confrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND con.contype = 'f'",
    )
    .await;
    for row in &foreign_keys {
        let (name, from, to) = (&row[0], &row[1], &row[2]);
        let (from_cols, to_cols) = (list(&row[3]), list(&row[4]));
        let shown = format!(
            "{name} {from} ({}) -> {to} ({})",
            from_cols.join(", "),
            to_cols.join(", ")
        );
        match (placement(from), placement(to)) {
            (Some(Distributed), Some(Distributed)) => {
                let paired = from_cols
                    .iter()
                    .zip(&to_cols)
                    .any(|(f, t)| f == DISTRIBUTION_COLUMN && t == DISTRIBUTION_COLUMN);
                if !paired {
                    found.insert(format!(
                        "{from}: foreign key {shown} lacks {DISTRIBUTION_COLUMN} on both sides"
                    ));
                }
            }
            (Some(Reference | Local), Some(Distributed)) => {
                found.insert(format!(
                    "{from}: foreign key {shown} points from a non-distributed table at a distributed one"
                ));
            }
            (Some(Distributed), Some(Local)) | (Some(Reference), Some(Local)) => {
                found.insert(format!(
                    "{from}: foreign key {shown} points at a local table"
                ));
            }
            _ => {}
        }
    }

    // The job claim (`FOR UPDATE SKIP LOCKED` over every store's jobs) needs its table on one
    // node: Citus runs row locks only in single-shard queries.
    if placement(JOB_CLAIM_TABLE) != Some(Local) {
        found.insert(format!(
            "{JOB_CLAIM_TABLE}: the job claim table is not on one node"
        ));
    }
    found.into_iter().collect()
}

/// The list between the markers of docs/scale-out.md.
fn documented() -> Vec<String> {
    let doc = include_str!("../../../docs/scale-out.md");
    let start = doc
        .find("<!-- violations:begin -->")
        .expect("docs/scale-out.md has the violations list");
    let end = doc
        .find("<!-- violations:end -->")
        .expect("docs/scale-out.md ends the violations list");
    doc[start..end]
        .lines()
        .filter_map(|line| line.strip_prefix("- "))
        .map(|line| line.trim().trim_matches('`').to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sharding_violations_of_the_schema_are_exactly_the_documented_ones() {
    let Some(t) = TestDb::migrated(Backend::Postgres).await else {
        return;
    };
    let found = violations(&t).await;
    eprintln!("{}", found.join("\n"));
    assert_eq!(found, documented());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_violation_is_found() {
    let Some(t) = TestDb::migrated(Backend::Postgres).await else {
        return;
    };
    let before = violations(&t).await;
    t.db.execute_unprepared(
        "CREATE UNIQUE INDEX uq_pages_title_probe ON pages (title); \
         CREATE TABLE probe_unplanned (id uuid PRIMARY KEY); \
         ALTER TABLE stores ADD COLUMN probe_page_id uuid \
             CONSTRAINT fk_stores_probe_page_id REFERENCES pages (id)",
    )
    .await
    .expect("alter the test database");
    let after = violations(&t).await;
    let added: Vec<&String> = after.iter().filter(|v| !before.contains(v)).collect();
    assert_eq!(
        added,
        [
            "pages: unique uq_pages_title_probe (title) lacks store_id",
            "probe_unplanned: not in the plan",
            "stores: foreign key fk_stores_probe_page_id stores (probe_page_id) -> pages (id) points from a non-distributed table at a distributed one",
        ]
    );
}

/// A UUID as a literal of `backend`'s column type (text on Postgres, 16 bytes elsewhere).
fn uuid_literal(backend: Backend, id: uuid::Uuid) -> String {
    match backend {
        Backend::Postgres => format!("'{id}'"),
        _ => format!("X'{}'", id.simple()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_id_migration_gives_existing_variants_and_images_their_products_store() {
    for backend in [Backend::Sqlite, Backend::Postgres, Backend::MySql] {
        let Some(t) = TestDb::empty(backend).await else {
            continue;
        };
        let db = &t.db;
        // The schema before m20261128_000011_store_id_everywhere.
        let before = migration::Migrator::migrations()
            .iter()
            .position(|m| m.name() == "m20261128_000011_store_id_everywhere")
            .expect("the migration is listed");
        migration::runner::run(
            db,
            migration::runner::Operation::Up(Some(u32::try_from(before).expect("few"))),
        )
        .await
        .expect("up to before");
        let mut products = Vec::new();
        for _ in 0..2 {
            let (_, store) = user_with_store(db).await;
            let product = insert(db, product(store.id)).await.expect("product");
            let (variant, image) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
            db.execute_unprepared(&format!(
                "INSERT INTO product_variants (id, product_id, title, price, cost_price, options) \
                 VALUES ({}, {}, 'Red', 1, 1, '{{}}'); \
                 INSERT INTO product_images (id, product_id, original_url) \
                 VALUES ({}, {}, 'https://cdn.example.com/a.jpg')",
                uuid_literal(backend, variant),
                uuid_literal(backend, product.id),
                uuid_literal(backend, image),
                uuid_literal(backend, product.id),
            ))
            .await
            .expect("old-shape rows");
            products.push((product, variant, image));
        }

        // Through the crate's runner: on SQLite one transaction on one connection, so that no
        // pooled connection works from a stale view of the schema.
        migration::runner::run(db, migration::runner::Operation::Up(None))
            .await
            .expect("the migration");

        for (product, variant, image) in &products {
            let v = entity::product_variants::Entity::find_by_id(*variant)
                .one(db)
                .await
                .expect("read")
                .expect("variant kept");
            assert_eq!(v.store_id, product.store_id, "{backend:?}");
            let i = entity::product_images::Entity::find_by_id(*image)
                .one(db)
                .await
                .expect("read")
                .expect("image kept");
            assert_eq!(i.store_id, product.store_id, "{backend:?}");
        }
        // A variant or image claiming another store than its product's is refused.
        let (first, other) = (&products[0].0, &products[1].0);
        for refused in [
            insert(db, product_variant(first.id, other.store_id))
                .await
                .map(|_| ()),
            insert(db, product_image(first.id, other.store_id))
                .await
                .map(|_| ()),
        ] {
            let err = refused.expect_err("the store does not match the product's");
            assert!(
                matches!(
                    err.sql_err(),
                    Some(sea_orm::SqlErr::ForeignKeyConstraintViolation(_))
                ),
                "{backend:?}: {err:?}"
            );
        }
        // Deleting a product still removes its variants and images.
        entity::products::Entity::delete_by_id(first.id)
            .exec(db)
            .await
            .expect("delete");
        assert!(
            entity::product_variants::Entity::find_by_id(products[0].1)
                .one(db)
                .await
                .expect("read")
                .is_none()
        );
    }
}
