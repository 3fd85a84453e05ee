//! Stores: a merchant's shop, its brand identity, settings and where it is served.

use sea_orm_migration::prelude::*;

use crate::m20261122_000001_identity::Users;
use crate::schema::{
    DbEnum, create_enum, drop_enum, enum_check, enumeration, foreign_key, index, json, pk_uuid,
    string, string_null, text_null, timestamptz, timestamptz_now, unique, uuid,
};

const STORE_STATUS: DbEnum = DbEnum {
    name: "store_status",
    variants: &["CREATING", "PENDING_REVIEW", "ACTIVE", "PAUSED", "ARCHIVED"],
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        create_enum(manager, STORE_STATUS).await?;

        let mut table = Table::create();
        table
            .table(Stores::Table)
            .col(pk_uuid(Stores::Id))
            // The owner.
            .col(uuid(Stores::UserId))
            .col(string(Stores::Name))
            .col(string(Stores::Slug))
            .col(text_null(Stores::Description))
            .col(string(Stores::Niche))
            .col(
                enumeration(Stores::Status, STORE_STATUS)
                    .not_null()
                    .default("CREATING"),
            )
            .col(json(Stores::BrandIdentity).null())
            .col(string_null(Stores::CustomDomain))
            .col(string(Stores::Subdomain))
            .col(json(Stores::Settings).null())
            .col(timestamptz_now(db, Stores::CreatedAt))
            .col(timestamptz_now(db, Stores::UpdatedAt))
            .col(timestamptz(db, Stores::PublishedAt).null())
            // Soft delete: a deleted store is hidden everywhere but kept until purged.
            .col(timestamptz(db, Stores::DeletedAt).null())
            .foreign_key(&mut foreign_key(
                "fk_stores_user_id",
                (Stores::Table, Stores::UserId),
                (Users::Table, Users::Id),
                ForeignKeyAction::Cascade,
            ));
        if let Some(check) = enum_check(db, "ck_stores_status", Stores::Status, STORE_STATUS) {
            table.check(check);
        }
        manager.create_table(table).await?;

        manager
            .create_index(unique("uq_stores_slug", Stores::Table, [Stores::Slug]))
            .await?;
        manager
            .create_index(unique(
                "uq_stores_custom_domain",
                Stores::Table,
                [Stores::CustomDomain],
            ))
            .await?;
        manager
            .create_index(unique(
                "uq_stores_subdomain",
                Stores::Table,
                [Stores::Subdomain],
            ))
            .await?;
        manager
            .create_index(index("idx_stores_user_id", Stores::Table, [Stores::UserId]))
            .await?;
        manager
            .create_index(index("idx_stores_status", Stores::Table, [Stores::Status]))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Stores::Table).to_owned())
            .await?;
        drop_enum(manager, STORE_STATUS).await
    }
}

#[derive(DeriveIden)]
pub(crate) enum Stores {
    Table,
    Id,
    UserId,
    Name,
    Slug,
    Description,
    Niche,
    Status,
    BrandIdentity,
    CustomDomain,
    Subdomain,
    Settings,
    CreatedAt,
    UpdatedAt,
    PublishedAt,
    DeletedAt,
}
