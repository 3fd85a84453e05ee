//! Text compares the same on every backend, every documented length fits, and SQLite keeps
//! integer columns within the range they are read back as.
//!
//! - **MariaDB/MySQL: binary collation for every text column.** The default collation
//!   (`utf8mb4_general_ci`) compares without case or accents, so `ánn@example.com` found
//!   `ann@example.com`, `red-l` and `RED-L` were one SKU, and OAuth ids that differ only in
//!   case signed into each other's accounts. Postgres (a deterministic collation) and SQLite
//!   (`BINARY`) compare text byte for byte; a binary collation without pad space
//!   (`utf8mb4_nopad_bin` on MariaDB) makes MariaDB do the same, for equality, unique indexes
//!   and `LIKE`. What is case-insensitive in the domain (emails,
//!   slugs, subdomains, custom domains) is normalised to lower case before it is stored and
//!   before it is looked up, so exact comparison is the right one for every column.
//! - **MariaDB/MySQL: `MEDIUMTEXT` where a limit passes `TEXT`'s 65,535 bytes.** Limits are
//!   in characters and a character takes up to 4 bytes: a page (200,000 characters), a
//!   product description and meta description (50,000) and an OAuth token (16,384, stored
//!   as base64 ciphertext). Every other text column's limit fits `TEXT` or `varchar(255)`.
//! - **SQLite: range triggers on the `int` columns that arithmetic changes** (stock and image
//!   positions). SQLite stores any 64-bit integer in an `integer` column, so an increment past
//!   2,147,483,647 was kept and every later read failed to decode. The triggers raise the
//!   message of the CHECK constraint of the same name, which the domain already translates.
//! - **Every backend: `products.search_title`**, the title lower-cased by the domain (Unicode
//!   case folding in Rust), so that a product search finds "ÉCLAIR Lamp" for "éclair" on every
//!   backend: SQLite's `LOWER()` only folds ASCII.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Every table of the schema (the migration table keeps the collation the tool gave it).
const TABLES: &[&str] = &[
    "users",
    "accounts",
    "sessions",
    "verification_tokens",
    "supplier_accounts",
    "stores",
    "products",
    "product_images",
    "product_variants",
    "pages",
    "media_assets",
    "agent_jobs",
];

/// `(table, column, NOT NULL)` of the columns that need `MEDIUMTEXT` on MariaDB/MySQL.
const MEDIUM_TEXT: &[(&str, &str, bool)] = &[
    ("pages", "content", true),
    ("products", "description", true),
    ("products", "meta_description", false),
    ("accounts", "refresh_token", false),
    ("accounts", "access_token", false),
    ("accounts", "id_token", false),
];

/// `(table, column, check name)` of the SQLite range triggers: `0 ..= i32::MAX`.
const SQLITE_RANGES: &[(&str, &str, &str)] = &[
    ("products", "stock_quantity", "ck_products_stock_quantity"),
    ("product_variants", "stock", "ck_product_variants_stock"),
    ("product_images", "position", "ck_product_images_position"),
];

/// The binary collation without trailing-space padding: `utf8mb4_bin` is PAD SPACE on MariaDB
/// (`'x' = 'x '` is true), which is not exact. MariaDB calls the exact one
/// `utf8mb4_nopad_bin`, MySQL 8 `utf8mb4_0900_bin`.
pub(crate) async fn exact_collation(
    db: &SchemaManagerConnection<'_>,
) -> Result<&'static str, DbErr> {
    let version: String = db
        .query_one_raw(Statement::from_string(
            DbBackend::MySql,
            "SELECT VERSION() AS version",
        ))
        .await?
        .map(|row| row.try_get("", "version"))
        .transpose()?
        .unwrap_or_default();
    Ok(if version.contains("MariaDB") {
        "utf8mb4_nopad_bin"
    } else {
        "utf8mb4_0900_bin"
    })
}

/// The statements that create the SQLite range triggers of `table` (none for a table without
/// one). A later migration that rebuilds the table on SQLite must run them again: the
/// triggers go with the old table.
pub(crate) fn sqlite_range_triggers(table: &str) -> Vec<String> {
    SQLITE_RANGES
        .iter()
        .filter(|(t, _, _)| *t == table)
        .flat_map(|(table, column, check)| {
            ["INSERT", "UPDATE"].map(|event| {
                let name = format!("{check}_{}", event.to_lowercase());
                format!(
                    "CREATE TRIGGER {name} BEFORE {event} ON {table} \
                     WHEN NEW.{column} > 2147483647 OR NEW.{column} < 0 \
                     BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: {check}'); END"
                )
            })
        })
        .collect()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::MySql => {
                let collation = exact_collation(db).await?;
                for table in TABLES {
                    db.execute_unprepared(&format!(
                        "ALTER TABLE `{table}` CONVERT TO CHARACTER SET utf8mb4 COLLATE {collation}"
                    ))
                    .await?;
                }
                for (table, column, not_null) in MEDIUM_TEXT {
                    let null = if *not_null { "NOT NULL" } else { "NULL" };
                    db.execute_unprepared(&format!(
                        "ALTER TABLE `{table}` MODIFY `{column}` MEDIUMTEXT {null}"
                    ))
                    .await?;
                }
            }
            DbBackend::Sqlite => {
                for (table, _, _) in SQLITE_RANGES {
                    for statement in sqlite_range_triggers(table) {
                        db.execute_unprepared(&statement).await?;
                    }
                }
            }
            _ => {}
        }

        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("products"))
                    .add_column(
                        ColumnDef::new(Alias::new("search_title"))
                            .text()
                            .not_null()
                            .default(""),
                    )
                    .to_owned(),
            )
            .await?;
        // Existing rows: folded here, in Rust, the same way the domain folds new titles.
        let backend = manager.get_database_backend();
        let rows = db
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT DISTINCT title FROM products",
            ))
            .await?;
        let (first, second) = match backend {
            DbBackend::Postgres => ("$1", "$2"),
            _ => ("?", "?"),
        };
        for row in rows {
            let title: String = row.try_get("", "title")?;
            db.execute_raw(Statement::from_sql_and_values(
                backend,
                format!("UPDATE products SET search_title = {first} WHERE title = {second}"),
                [title.to_lowercase().into(), title.into()],
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("products"))
                    .drop_column(Alias::new("search_title"))
                    .to_owned(),
            )
            .await?;
        match manager.get_database_backend() {
            DbBackend::MySql => {
                for (table, column, not_null) in MEDIUM_TEXT {
                    let null = if *not_null { "NOT NULL" } else { "NULL" };
                    db.execute_unprepared(&format!(
                        "ALTER TABLE `{table}` MODIFY `{column}` TEXT {null}"
                    ))
                    .await?;
                }
                for table in TABLES {
                    db.execute_unprepared(&format!(
                        "ALTER TABLE `{table}` CONVERT TO CHARACTER SET utf8mb4 \
                         COLLATE utf8mb4_general_ci"
                    ))
                    .await?;
                }
            }
            DbBackend::Sqlite => {
                for (_, _, check) in SQLITE_RANGES {
                    for event in ["insert", "update"] {
                        db.execute_unprepared(&format!("DROP TRIGGER {check}_{event}"))
                            .await?;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}
