//! Products, their images and variants.

use sea_orm_migration::prelude::*;

use crate::m20261122_000002_suppliers::SUPPLIER_PROVIDER;
use crate::m20261122_000003_stores::Stores;
use crate::schema::{
    DbEnum, create_enum, drop_enum, enum_check, enumeration, foreign_key, index, json, money,
    money_check, non_negative_check, pk_uuid, string, string_null, text, text_null, timestamptz,
    timestamptz_now, unique, uuid,
};

const PRODUCT_STATUS: DbEnum = DbEnum {
    name: "product_status",
    variants: &["DRAFT", "ACTIVE", "OUT_OF_STOCK", "ARCHIVED"],
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        create_enum(manager, PRODUCT_STATUS).await?;

        let mut products = Table::create();
        products
            .table(Products::Table)
            .col(pk_uuid(Products::Id))
            .col(uuid(Products::StoreId))
            .col(enumeration(Products::SourceProvider, SUPPLIER_PROVIDER).not_null())
            // The supplier's own id of the product: with the store and provider, the key that
            // makes an import idempotent.
            .col(string(Products::SourceId))
            .col(text_null(Products::SourceUrl))
            .col(string(Products::Title))
            .col(string(Products::OriginalTitle))
            .col(text(Products::Description))
            .col(string(Products::Slug))
            .col(money(Products::CostPrice).not_null())
            .col(money(Products::SellingPrice).not_null())
            .col(money(Products::CompareAtPrice).null())
            .col(
                ColumnDef::new(Products::Currency)
                    .char_len(3)
                    .not_null()
                    .default("USD"),
            )
            .col(
                ColumnDef::new(Products::StockQuantity)
                    .integer()
                    .not_null()
                    .default(0),
            )
            .col(
                ColumnDef::new(Products::TrackInventory)
                    .boolean()
                    .not_null()
                    .default(true),
            )
            .col(string_null(Products::MetaTitle))
            .col(text_null(Products::MetaDescription))
            .col(
                enumeration(Products::Status, PRODUCT_STATUS)
                    .not_null()
                    .default("DRAFT"),
            )
            .col(timestamptz_now(db, Products::CreatedAt))
            .col(timestamptz_now(db, Products::UpdatedAt))
            .col(timestamptz(db, Products::DeletedAt).null())
            .foreign_key(&mut foreign_key(
                "fk_products_store_id",
                (Products::Table, Products::StoreId),
                (Stores::Table, Stores::Id),
                ForeignKeyAction::Cascade,
            ))
            // The domain validates money and stock first; these keep the rows right even for
            // a write that bypasses it.
            .check(money_check("ck_products_cost_price", Products::CostPrice))
            .check(money_check(
                "ck_products_selling_price",
                Products::SellingPrice,
            ))
            .check(money_check(
                "ck_products_compare_at_price",
                Products::CompareAtPrice,
            ))
            .check(non_negative_check(
                "ck_products_stock_quantity",
                Products::StockQuantity,
            ));
        for check in [
            enum_check(
                db,
                "ck_products_source_provider",
                Products::SourceProvider,
                SUPPLIER_PROVIDER,
            ),
            enum_check(db, "ck_products_status", Products::Status, PRODUCT_STATUS),
        ]
        .into_iter()
        .flatten()
        {
            products.check(check);
        }
        manager.create_table(products).await?;
        manager
            .create_index(unique(
                "uq_products_store_id_slug",
                Products::Table,
                [Products::StoreId, Products::Slug],
            ))
            .await?;
        manager
            .create_index(unique(
                "uq_products_store_id_source_provider_source_id",
                Products::Table,
                [
                    Products::StoreId,
                    Products::SourceProvider,
                    Products::SourceId,
                ],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_products_store_id",
                Products::Table,
                [Products::StoreId],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_products_status",
                Products::Table,
                [Products::Status],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ProductImages::Table)
                    .col(pk_uuid(ProductImages::Id))
                    .col(uuid(ProductImages::ProductId))
                    .col(text(ProductImages::OriginalUrl))
                    .col(text_null(ProductImages::ProcessedUrl))
                    .col(string_null(ProductImages::AltText))
                    .col(
                        ColumnDef::new(ProductImages::Position)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(timestamptz_now(db, ProductImages::CreatedAt))
                    .foreign_key(&mut foreign_key(
                        "fk_product_images_product_id",
                        (ProductImages::Table, ProductImages::ProductId),
                        (Products::Table, Products::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .check(non_negative_check(
                        "ck_product_images_position",
                        ProductImages::Position,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_product_images_product_id",
                ProductImages::Table,
                [ProductImages::ProductId],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ProductVariants::Table)
                    .col(pk_uuid(ProductVariants::Id))
                    .col(uuid(ProductVariants::ProductId))
                    .col(string_null(ProductVariants::Sku))
                    .col(string(ProductVariants::Title))
                    .col(money(ProductVariants::Price).not_null())
                    .col(money(ProductVariants::CostPrice).not_null())
                    .col(
                        ColumnDef::new(ProductVariants::Stock)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    // e.g. {"color":"Red","size":"L"}
                    .col(json(ProductVariants::Options).not_null())
                    .col(timestamptz_now(db, ProductVariants::CreatedAt))
                    .col(timestamptz_now(db, ProductVariants::UpdatedAt))
                    .foreign_key(&mut foreign_key(
                        "fk_product_variants_product_id",
                        (ProductVariants::Table, ProductVariants::ProductId),
                        (Products::Table, Products::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .check(money_check(
                        "ck_product_variants_price",
                        ProductVariants::Price,
                    ))
                    .check(money_check(
                        "ck_product_variants_cost_price",
                        ProductVariants::CostPrice,
                    ))
                    .check(non_negative_check(
                        "ck_product_variants_stock",
                        ProductVariants::Stock,
                    ))
                    .to_owned(),
            )
            .await?;
        // Variants without a SKU are allowed several times (NULLs are distinct).
        manager
            .create_index(unique(
                "uq_product_variants_product_id_sku",
                ProductVariants::Table,
                [ProductVariants::ProductId, ProductVariants::Sku],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_product_variants_product_id",
                ProductVariants::Table,
                [ProductVariants::ProductId],
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ProductVariants::Table.into_iden(),
            ProductImages::Table.into_iden(),
            Products::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        drop_enum(manager, PRODUCT_STATUS).await
    }
}

#[derive(DeriveIden)]
pub(crate) enum Products {
    Table,
    Id,
    StoreId,
    SourceProvider,
    SourceId,
    SourceUrl,
    Title,
    OriginalTitle,
    Description,
    Slug,
    CostPrice,
    SellingPrice,
    CompareAtPrice,
    Currency,
    StockQuantity,
    TrackInventory,
    MetaTitle,
    MetaDescription,
    Status,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum ProductImages {
    Table,
    Id,
    ProductId,
    OriginalUrl,
    ProcessedUrl,
    AltText,
    Position,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ProductVariants {
    Table,
    Id,
    ProductId,
    Sku,
    Title,
    Price,
    CostPrice,
    Stock,
    Options,
    CreatedAt,
    UpdatedAt,
}
