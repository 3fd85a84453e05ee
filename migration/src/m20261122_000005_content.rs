//! Content of a store: its pages and its media assets.

use sea_orm_migration::prelude::*;

use crate::m20261122_000003_stores::Stores;
use crate::schema::{
    DbEnum, create_enum, drop_enum, enum_check, enumeration, foreign_key, index, json,
    non_negative_check, pk_uuid, string, text, text_null, timestamptz_now, unique, uuid,
};

const PAGE_TYPE: DbEnum = DbEnum {
    name: "page_type",
    variants: &[
        "PRIVACY_POLICY",
        "TERMS_OF_SERVICE",
        "REFUND_POLICY",
        "ABOUT",
        "CONTACT",
        "FAQ",
        "CUSTOM",
    ],
};

const MEDIA_TYPE: DbEnum = DbEnum {
    name: "media_type",
    variants: &["IMAGE", "VIDEO", "LOGO", "BACKGROUND"],
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        create_enum(manager, PAGE_TYPE).await?;
        create_enum(manager, MEDIA_TYPE).await?;

        let mut pages = Table::create();
        pages
            .table(Pages::Table)
            .col(pk_uuid(Pages::Id))
            .col(uuid(Pages::StoreId))
            .col(enumeration(Pages::Type, PAGE_TYPE).not_null())
            .col(string(Pages::Title))
            .col(string(Pages::Slug))
            .col(text(Pages::Content))
            .col(timestamptz_now(db, Pages::CreatedAt))
            .col(timestamptz_now(db, Pages::UpdatedAt))
            .foreign_key(&mut foreign_key(
                "fk_pages_store_id",
                (Pages::Table, Pages::StoreId),
                (Stores::Table, Stores::Id),
                ForeignKeyAction::Cascade,
            ));
        if let Some(check) = enum_check(db, "ck_pages_type", Pages::Type, PAGE_TYPE) {
            pages.check(check);
        }
        manager.create_table(pages).await?;
        manager
            .create_index(unique(
                "uq_pages_store_id_slug",
                Pages::Table,
                [Pages::StoreId, Pages::Slug],
            ))
            .await?;
        manager
            .create_index(index("idx_pages_store_id", Pages::Table, [Pages::StoreId]))
            .await?;

        let mut media = Table::create();
        media
            .table(MediaAssets::Table)
            .col(pk_uuid(MediaAssets::Id))
            .col(uuid(MediaAssets::StoreId))
            .col(enumeration(MediaAssets::Type, MEDIA_TYPE).not_null())
            .col(string(MediaAssets::Filename))
            .col(string(MediaAssets::MimeType))
            // Bytes; bigint because a video can pass 2 GiB.
            .col(ColumnDef::new(MediaAssets::Size).big_integer().not_null())
            .col(text(MediaAssets::Url))
            .col(text_null(MediaAssets::OriginalUrl))
            .col(json(MediaAssets::Metadata).null())
            .col(timestamptz_now(db, MediaAssets::CreatedAt))
            .foreign_key(&mut foreign_key(
                "fk_media_assets_store_id",
                (MediaAssets::Table, MediaAssets::StoreId),
                (Stores::Table, Stores::Id),
                ForeignKeyAction::Cascade,
            ))
            .check(non_negative_check(
                "ck_media_assets_size",
                MediaAssets::Size,
            ));
        if let Some(check) = enum_check(db, "ck_media_assets_type", MediaAssets::Type, MEDIA_TYPE) {
            media.check(check);
        }
        manager.create_table(media).await?;
        manager
            .create_index(index(
                "idx_media_assets_store_id",
                MediaAssets::Table,
                [MediaAssets::StoreId],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_media_assets_type",
                MediaAssets::Table,
                [MediaAssets::Type],
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(MediaAssets::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Pages::Table).to_owned())
            .await?;
        drop_enum(manager, MEDIA_TYPE).await?;
        drop_enum(manager, PAGE_TYPE).await
    }
}

#[derive(DeriveIden)]
enum Pages {
    Table,
    Id,
    StoreId,
    Type,
    Title,
    Slug,
    Content,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum MediaAssets {
    Table,
    Id,
    StoreId,
    Type,
    Filename,
    MimeType,
    Size,
    Url,
    OriginalUrl,
    Metadata,
    CreatedAt,
}
