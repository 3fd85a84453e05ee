//! The index of a store's product list.
//!
//! `domain::products::list` reads a page of a store's products in one status, newest first,
//! after a cursor: `WHERE store_id = ? AND status = ? AND id < ? ORDER BY id DESC LIMIT n`.
//! With only `idx_products_store_id` and `idx_products_status`, Postgres reads every product
//! of the store (or walks the primary key through other stores' rows) and sorts, so a page
//! costs in proportion to the store's size. On (store_id, status, id) the page is one index
//! range read backwards from the cursor: the same cost at 10 thousand or 1 million products.
//! (`deleted_at IS NULL` is checked on the few rows read; a plain index serves all three
//! backends, where a partial one would not.)

use sea_orm_migration::prelude::*;

use crate::m20261122_000004_products::Products;
use crate::schema::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(index(
                "idx_products_store_id_status_id",
                Products::Table,
                [Products::StoreId, Products::Status, Products::Id],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_products_store_id_status_id")
                    .table(Products::Table)
                    .to_owned(),
            )
            .await
    }
}
