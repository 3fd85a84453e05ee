//! Supplier accounts: a merchant's connection to AliExpress, CJ Dropshipping or Spocket.

use sea_orm_migration::prelude::*;

use crate::m20261122_000001_identity::Users;
use crate::schema::{
    DbEnum, create_enum, drop_enum, enum_check, enumeration, foreign_key, index, pk_uuid,
    string_null, text, text_null, timestamptz_now, unique, uuid,
};

/// `supplier_provider`; products use it too (`products.source_provider`).
pub(crate) const SUPPLIER_PROVIDER: DbEnum = DbEnum {
    name: "supplier_provider",
    variants: &["ALIEXPRESS", "CJ_DROPSHIPPING", "SPOCKET"],
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        create_enum(manager, SUPPLIER_PROVIDER).await?;

        let mut table = Table::create();
        table
            .table(SupplierAccounts::Table)
            .col(pk_uuid(SupplierAccounts::Id))
            .col(uuid(SupplierAccounts::UserId))
            .col(enumeration(SupplierAccounts::Provider, SUPPLIER_PROVIDER).not_null())
            // AEAD ciphertext with its key version and nonce; never the plain key.
            .col(text(SupplierAccounts::ApiKey))
            .col(text_null(SupplierAccounts::ApiSecret))
            .col(string_null(SupplierAccounts::AccountId))
            .col(
                ColumnDef::new(SupplierAccounts::IsActive)
                    .boolean()
                    .not_null()
                    .default(true),
            )
            .col(timestamptz_now(db, SupplierAccounts::CreatedAt))
            .col(timestamptz_now(db, SupplierAccounts::UpdatedAt))
            .foreign_key(&mut foreign_key(
                "fk_supplier_accounts_user_id",
                (SupplierAccounts::Table, SupplierAccounts::UserId),
                (Users::Table, Users::Id),
                ForeignKeyAction::Cascade,
            ));
        if let Some(check) = enum_check(
            db,
            "ck_supplier_accounts_provider",
            SupplierAccounts::Provider,
            SUPPLIER_PROVIDER,
        ) {
            table.check(check);
        }
        manager.create_table(table).await?;

        // One account per user and provider: connecting again updates it.
        manager
            .create_index(unique(
                "uq_supplier_accounts_user_id_provider",
                SupplierAccounts::Table,
                [SupplierAccounts::UserId, SupplierAccounts::Provider],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_supplier_accounts_user_id",
                SupplierAccounts::Table,
                [SupplierAccounts::UserId],
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SupplierAccounts::Table).to_owned())
            .await?;
        drop_enum(manager, SUPPLIER_PROVIDER).await
    }
}

#[derive(DeriveIden)]
enum SupplierAccounts {
    Table,
    Id,
    UserId,
    Provider,
    ApiKey,
    ApiSecret,
    AccountId,
    IsActive,
    CreatedAt,
    UpdatedAt,
}
