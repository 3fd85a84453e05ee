//! Identity: users, their OAuth provider links, sessions and email verification tokens.

use sea_orm_migration::prelude::*;

use crate::schema::{
    foreign_key, index, pk_uuid, string, string_null, text_null, timestamptz, timestamptz_now,
    unique, uuid,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();

        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(pk_uuid(Users::Id))
                    // Stored trimmed and lower-cased by the domain, so that the unique index
                    // compares addresses the way people do.
                    .col(string(Users::Email))
                    .col(string_null(Users::Name))
                    // argon2id PHC string; null for users who only sign in through OAuth.
                    .col(text_null(Users::PasswordHash))
                    .col(timestamptz(db, Users::EmailVerified).null())
                    .col(text_null(Users::Image))
                    .col(string_null(Users::StripeAccountId))
                    .col(
                        ColumnDef::new(Users::StripeOnboarded)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(timestamptz_now(db, Users::CreatedAt))
                    .col(timestamptz_now(db, Users::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique("uq_users_email", Users::Table, [Users::Email]))
            .await?;
        // Unique where set: several users without a Stripe account are fine on every backend
        // (NULLs are distinct in unique indexes).
        manager
            .create_index(unique(
                "uq_users_stripe_account_id",
                Users::Table,
                [Users::StripeAccountId],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Accounts::Table)
                    .col(pk_uuid(Accounts::Id))
                    .col(uuid(Accounts::UserId))
                    .col(string(Accounts::Type))
                    .col(string(Accounts::Provider))
                    .col(string(Accounts::ProviderAccountId))
                    // The three token columns hold AEAD ciphertext, never plain tokens.
                    .col(text_null(Accounts::RefreshToken))
                    .col(text_null(Accounts::AccessToken))
                    // Unix seconds, as the OAuth providers report it.
                    .col(ColumnDef::new(Accounts::ExpiresAt).big_integer().null())
                    .col(string_null(Accounts::TokenType))
                    .col(text_null(Accounts::Scope))
                    .col(text_null(Accounts::IdToken))
                    .col(text_null(Accounts::SessionState))
                    .foreign_key(&mut foreign_key(
                        "fk_accounts_user_id",
                        (Accounts::Table, Accounts::UserId),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique(
                "uq_accounts_provider_provider_account_id",
                Accounts::Table,
                [Accounts::Provider, Accounts::ProviderAccountId],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_accounts_user_id",
                Accounts::Table,
                [Accounts::UserId],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(pk_uuid(Sessions::Id))
                    // SHA-256 digest of the token, hex; the token itself is never stored.
                    .col(string(Sessions::SessionToken))
                    .col(uuid(Sessions::UserId))
                    .col(timestamptz(db, Sessions::Expires).not_null())
                    .col(timestamptz_now(db, Sessions::CreatedAt))
                    .foreign_key(&mut foreign_key(
                        "fk_sessions_user_id",
                        (Sessions::Table, Sessions::UserId),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique(
                "uq_sessions_session_token",
                Sessions::Table,
                [Sessions::SessionToken],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_sessions_user_id",
                Sessions::Table,
                [Sessions::UserId],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(VerificationTokens::Table)
                    .col(string(VerificationTokens::Identifier))
                    // SHA-256 digest, as for sessions.
                    .col(string(VerificationTokens::Token))
                    .col(timestamptz(db, VerificationTokens::Expires).not_null())
                    // The (identifier, token) pair is the key; it is also the unique rule.
                    .primary_key(
                        Index::create()
                            .name("pk_verification_tokens")
                            .col(VerificationTokens::Identifier)
                            .col(VerificationTokens::Token),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique(
                "uq_verification_tokens_token",
                VerificationTokens::Table,
                [VerificationTokens::Token],
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            VerificationTokens::Table.into_iden(),
            Sessions::Table.into_iden(),
            Accounts::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
pub(crate) enum Users {
    Table,
    Id,
    Email,
    Name,
    PasswordHash,
    EmailVerified,
    Image,
    StripeAccountId,
    StripeOnboarded,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
    UserId,
    Type,
    Provider,
    ProviderAccountId,
    RefreshToken,
    AccessToken,
    ExpiresAt,
    TokenType,
    Scope,
    IdToken,
    SessionState,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    SessionToken,
    UserId,
    Expires,
    CreatedAt,
}

#[derive(DeriveIden)]
enum VerificationTokens {
    Table,
    Identifier,
    Token,
    Expires,
}
