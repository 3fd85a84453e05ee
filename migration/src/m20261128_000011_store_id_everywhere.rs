//! Every store-owned table carries `store_id`: variants and images get their product's store,
//! kept consistent by a composite foreign key.
//!
//! Sharding by store (docs/scale-out.md) needs the distribution column in every row of a
//! distributed table and in every key between them. Variants and images reached their store
//! only through `product_id`. Now:
//! - `uq_products_id_store_id (id, store_id)` on `products`: the target of the composite keys
//!   (`id` alone is unique already; the pair is what a foreign key may reference), a
//!   constraint on Postgres, a unique index elsewhere;
//! - `product_variants.store_id` and `product_images.store_id`, filled from their product, then
//!   `NOT NULL`;
//! - their foreign keys to `products` become `(product_id, store_id) → products (id,
//!   store_id)`, `ON DELETE CASCADE` as before and under the same names, so the database refuses
//!   a variant or image whose store is not its product's, and a violation is still translated
//!   to the same `ForeignKeyRule`.
//!
//! Postgres and MariaDB alter the tables in place (new column last). SQLite cannot change a
//! foreign key, so there each table is rebuilt with the same columns (store_id last, as on
//! Postgres), checks and indexes, and its rows copied with their product's store.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::schema::{
    index, json, money, money_check, non_negative_check, pk_uuid, string, string_null, text,
    text_null, timestamptz_now, unique, uuid,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            // A constraint rather than a bare unique index: Postgres' information_schema lists
            // the columns a foreign key references only for constraints, and the entity
            // generator pairs the composite key's columns from there.
            manager
                .get_connection()
                .execute_unprepared(
                    "ALTER TABLE products ADD CONSTRAINT uq_products_id_store_id \
                     UNIQUE (id, store_id)",
                )
                .await?;
        } else {
            manager
                .create_index(unique(
                    "uq_products_id_store_id",
                    Products::Table,
                    [Products::Id, Products::StoreId],
                ))
                .await?;
        }
        for child in [Child::Variants, Child::Images] {
            if manager.get_database_backend() == DbBackend::Sqlite {
                rebuild_on_sqlite(manager, child, true).await?;
            } else {
                add_store_id(manager, child).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for child in [Child::Variants, Child::Images] {
            if manager.get_database_backend() == DbBackend::Sqlite {
                rebuild_on_sqlite(manager, child, false).await?;
            } else {
                drop_store_id(manager, child).await?;
            }
        }
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("ALTER TABLE products DROP CONSTRAINT uq_products_id_store_id")
                .await?;
            return Ok(());
        }
        manager
            .drop_index(
                Index::drop()
                    .name("uq_products_id_store_id")
                    .table(Products::Table)
                    .to_owned(),
            )
            .await
    }
}

/// The two children of `products`.
#[derive(Debug, Clone, Copy)]
enum Child {
    Variants,
    Images,
}

impl Child {
    fn table(self) -> &'static str {
        match self {
            Child::Variants => "product_variants",
            Child::Images => "product_images",
        }
    }

    fn foreign_key(self) -> &'static str {
        match self {
            Child::Variants => "fk_product_variants_product_id",
            Child::Images => "fk_product_images_product_id",
        }
    }
}

/// The foreign key to the product: composite (with the store) or, before this migration, on
/// `product_id` alone.
fn to_product(child: Child, with_store: bool) -> ForeignKeyCreateStatement {
    let mut fk = ForeignKey::create();
    fk.name(child.foreign_key());
    if with_store {
        fk.from(
            Alias::new(child.table()),
            (Common::ProductId, Common::StoreId),
        )
        .to(Products::Table, (Products::Id, Products::StoreId));
    } else {
        fk.from(Alias::new(child.table()), Common::ProductId)
            .to(Products::Table, Products::Id);
    }
    fk.on_delete(ForeignKeyAction::Cascade)
        .on_update(ForeignKeyAction::NoAction)
        .take()
}

/// Postgres and MariaDB: add the column, fill it, make it required, swap the foreign key.
async fn add_store_id(manager: &SchemaManager<'_>, child: Child) -> Result<(), DbErr> {
    let table = Alias::new(child.table());
    manager
        .alter_table(
            Table::alter()
                .table(table.clone())
                .add_column(ColumnDef::new(Common::StoreId).uuid().null())
                .to_owned(),
        )
        .await?;
    let fill = format!(
        "UPDATE {t} SET store_id = (SELECT p.store_id FROM products p WHERE p.id = {t}.product_id)",
        t = child.table()
    );
    manager.get_connection().execute_unprepared(&fill).await?;
    manager
        .alter_table(
            Table::alter()
                .table(table.clone())
                .modify_column(ColumnDef::new(Common::StoreId).uuid().not_null())
                .to_owned(),
        )
        .await?;
    manager
        .drop_foreign_key(
            ForeignKey::drop()
                .name(child.foreign_key())
                .table(table)
                .to_owned(),
        )
        .await?;
    manager.create_foreign_key(to_product(child, true)).await
}

async fn drop_store_id(manager: &SchemaManager<'_>, child: Child) -> Result<(), DbErr> {
    let table = Alias::new(child.table());
    manager
        .drop_foreign_key(
            ForeignKey::drop()
                .name(child.foreign_key())
                .table(table.clone())
                .to_owned(),
        )
        .await?;
    manager.create_foreign_key(to_product(child, false)).await?;
    if manager.get_database_backend() == DbBackend::MySql {
        // InnoDB made an index for the composite key, named after it, which it still holds
        // after the key was dropped; it would keep store_id from being dropped.
        let leftover = format!(
            "SELECT 1 FROM information_schema.statistics WHERE table_schema = DATABASE() \
             AND table_name = '{}' AND index_name = '{}'",
            child.table(),
            child.foreign_key()
        );
        let db = manager.get_connection();
        if db
            .query_one_raw(Statement::from_string(DbBackend::MySql, leftover))
            .await?
            .is_some()
        {
            db.execute_unprepared(&format!(
                "ALTER TABLE {} DROP INDEX {}",
                child.table(),
                child.foreign_key()
            ))
            .await?;
        }
    }
    manager
        .alter_table(
            Table::alter()
                .table(table)
                .drop_column(Common::StoreId)
                .to_owned(),
        )
        .await
}

/// SQLite: the table rebuilt as it was made in `m20261122_000004_products`, with (`with_store`)
/// or without `store_id` and the composite foreign key, its rows copied.
async fn rebuild_on_sqlite(
    manager: &SchemaManager<'_>,
    child: Child,
    with_store: bool,
) -> Result<(), DbErr> {
    let db = manager.get_database_backend();
    let building = format!("{}_rebuilding", child.table());
    let mut create = Table::create();
    create.table(Alias::new(&building));
    let columns: &[&str] = match child {
        Child::Variants => {
            create
                .col(pk_uuid(Variants::Id))
                .col(uuid(Common::ProductId))
                .col(string_null(Variants::Sku))
                .col(string(Variants::Title))
                .col(money(Variants::Price).not_null())
                .col(money(Variants::CostPrice).not_null())
                .col(
                    ColumnDef::new(Variants::Stock)
                        .integer()
                        .not_null()
                        .default(0),
                )
                .col(json(Variants::Options).not_null())
                .col(timestamptz_now(db, Variants::CreatedAt))
                .col(timestamptz_now(db, Variants::UpdatedAt))
                .check(money_check("ck_product_variants_price", Variants::Price))
                .check(money_check(
                    "ck_product_variants_cost_price",
                    Variants::CostPrice,
                ))
                .check(non_negative_check(
                    "ck_product_variants_stock",
                    Variants::Stock,
                ));
            &[
                "id",
                "product_id",
                "sku",
                "title",
                "price",
                "cost_price",
                "stock",
                "options",
                "created_at",
                "updated_at",
            ]
        }
        Child::Images => {
            create
                .col(pk_uuid(Images::Id))
                .col(uuid(Common::ProductId))
                .col(text(Images::OriginalUrl))
                .col(text_null(Images::ProcessedUrl))
                .col(string_null(Images::AltText))
                .col(
                    ColumnDef::new(Images::Position)
                        .integer()
                        .not_null()
                        .default(0),
                )
                .col(timestamptz_now(db, Images::CreatedAt))
                .check(non_negative_check(
                    "ck_product_images_position",
                    Images::Position,
                ));
            &[
                "id",
                "product_id",
                "original_url",
                "processed_url",
                "alt_text",
                "position",
                "created_at",
            ]
        }
    };
    if with_store {
        create.col(uuid(Common::StoreId));
    }
    let mut fk = to_product(child, with_store);
    fk.from_tbl(Alias::new(&building));
    create.foreign_key(&mut fk);
    let listed = columns.join(", ");
    let copy = if with_store {
        let from_child = columns
            .iter()
            .map(|c| format!("c.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "INSERT INTO {building} ({listed}, store_id) SELECT {from_child}, p.store_id \
             FROM {t} c JOIN products p ON p.id = c.product_id",
            t = child.table()
        )
    } else {
        format!(
            "INSERT INTO {building} ({listed}) SELECT {listed} FROM {t}",
            t = child.table()
        )
    };
    // The indexes go with the old table and are made again on the new one.
    let indexes = match child {
        Child::Variants => vec![
            unique(
                "uq_product_variants_product_id_sku",
                Alias::new(child.table()),
                [Common::ProductId.into_iden(), Variants::Sku.into_iden()],
            ),
            index(
                "idx_product_variants_product_id",
                Alias::new(child.table()),
                [Common::ProductId],
            ),
        ],
        Child::Images => vec![index(
            "idx_product_images_product_id",
            Alias::new(child.table()),
            [Common::ProductId],
        )],
    };
    // One transaction on one connection: the pool's other connections never see the table
    // half rebuilt, and a failure rolls back to the old table.
    let mut steps = vec![
        create.to_string(SqliteQueryBuilder),
        copy,
        format!("DROP TABLE {}", child.table()),
        format!("ALTER TABLE {building} RENAME TO {}", child.table()),
    ];
    steps.extend(indexes.iter().map(|i| i.to_string(SqliteQueryBuilder)));
    // So do the range triggers of migration 000009.
    steps.extend(crate::m20261128_000009_exact_text::sqlite_range_triggers(
        child.table(),
    ));
    let txn = manager.begin().await?;
    for step in &steps {
        txn.get_connection().execute_unprepared(step).await?;
    }
    txn.commit().await
}

#[derive(DeriveIden)]
enum Products {
    Table,
    Id,
    StoreId,
}

/// Columns both children have.
#[derive(DeriveIden)]
enum Common {
    ProductId,
    StoreId,
}

#[derive(DeriveIden)]
enum Variants {
    Id,
    Sku,
    Title,
    Price,
    CostPrice,
    Stock,
    Options,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Images {
    Id,
    OriginalUrl,
    ProcessedUrl,
    AltText,
    Position,
    CreatedAt,
}
