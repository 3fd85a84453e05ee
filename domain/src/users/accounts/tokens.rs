//! The stored OAuth tokens: reading them back decrypted, and re-encrypting them under a new key.

use entity::accounts;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::values::{
    AccessToken, IdToken, OAuthTokens, RefreshToken, Scope, SessionState, TokenExpiry, TokenType,
};
use crate::crypto::{self, Binding, KeyRing, RotationReport, Sealed, Walk};
use crate::error::{Error, Result, Table};

#[cfg(doc)]
use crate::crypto::MAX_ROTATION_BATCH;

/// The decrypted tokens of one of the user's provider links: the one explicit way to read
/// them (e.g. to call the provider's API).
///
/// # Errors
/// [`Error::NotFound`] when the user has no such link (another user's link is answered the
/// same way); [`Error::Decryption`] when a stored token was altered or its key is not in the
/// ring; [`Error::Undecodable`] naming the column when a stored value is not one a
/// constructor accepts; [`Error::Database`].
#[tracing::instrument(skip_all, err, fields(user_id = %user_id, account_id = %account_id))]
pub async fn get_tokens<C: ConnectionTrait>(
    db: &C,
    keys: &KeyRing,
    user_id: Uuid,
    account_id: Uuid,
) -> Result<OAuthTokens> {
    let account = accounts::Entity::find_by_id(account_id)
        .filter(accounts::Column::UserId.eq(user_id))
        .one(db)
        .await?
        .ok_or(Error::NotFound {
            entity: Table::Accounts,
        })?;
    let id = account.id;
    let open = |stored: Option<&String>, binding: Binding| {
        stored.map(|s| keys.decrypt(s, &binding)).transpose()
    };
    let refresh_token = open(
        account.refresh_token.as_ref(),
        Binding::accounts_refresh_token(id),
    )?;
    let access_token = open(
        account.access_token.as_ref(),
        Binding::accounts_access_token(id),
    )?;
    let id_token = open(account.id_token.as_ref(), Binding::accounts_id_token(id))?;
    Ok(OAuthTokens {
        refresh_token: decode(id, "refresh_token", refresh_token.map(RefreshToken::parse))?,
        access_token: decode(id, "access_token", access_token.map(AccessToken::parse))?,
        id_token: decode(id, "id_token", id_token.map(IdToken::parse))?,
        expires_at: decode(id, "expires_at", account.expires_at.map(TokenExpiry::parse))?,
        token_type: decode(
            id,
            "token_type",
            account.token_type.as_deref().map(TokenType::parse),
        )?,
        scope: decode(id, "scope", account.scope.as_deref().map(Scope::parse))?,
        session_state: decode(
            id,
            "session_state",
            account.session_state.as_deref().map(SessionState::parse),
        )?,
    })
}

/// `value` as its constructor parsed it; a stored value (decrypted, for a token) that the
/// constructor refuses is [`Error::Undecodable`] naming the column of the link `id`.
fn decode<T>(id: Uuid, column: &'static str, value: Option<Result<T>>) -> Result<Option<T>> {
    value.transpose().map_err(|_| Error::Undecodable {
        table: Table::Accounts,
        column,
        row: id,
    })
}

/// Re-encrypts every stored OAuth token (`refresh_token`, `access_token`, `id_token`) that is
/// not under the current key of `keys`, `batch_size` rows at a time; safe while the service is
/// live and safe to run again, as [`RotationReport`] explains.
///
/// # Errors
/// [`Error::Invalid`] for `batch_size` outside 1..=[`MAX_ROTATION_BATCH`];
/// [`Error::Decryption`] for a stored value that no key of the ring opens (nothing after it is
/// rotated; fix it and run again); [`Error::Database`].
#[tracing::instrument(skip_all, err, fields(current = keys.current_version()))]
pub async fn rotate_keys<C: ConnectionTrait>(
    db: &C,
    keys: &KeyRing,
    batch_size: u64,
) -> Result<RotationReport> {
    use accounts::Column;
    let walk = Walk::<accounts::Entity, _> {
        id: Column::Id,
        touched: None,
        sealed: |row: &accounts::Model| {
            let sealed = vec![
                Sealed {
                    column: Column::RefreshToken,
                    stored: row.refresh_token.clone(),
                    binding: Binding::accounts_refresh_token(row.id),
                },
                Sealed {
                    column: Column::AccessToken,
                    stored: row.access_token.clone(),
                    binding: Binding::accounts_access_token(row.id),
                },
                Sealed {
                    column: Column::IdToken,
                    stored: row.id_token.clone(),
                    binding: Binding::accounts_id_token(row.id),
                },
            ];
            (row.id, sealed)
        },
    };
    let report = crypto::rotate_table(db, keys, batch_size, walk).await?;
    tracing::info!(?report, "key rotation of accounts finished");
    Ok(report)
}
