//! Supplier accounts: a merchant's connection to AliExpress, CJ Dropshipping or Spocket.
//!
//! One account per user and provider: [`connect`] again updates it in place and makes it
//! active (an upsert on the unique index, never a read before the write). The API key and
//! secret are encrypted with the [`KeyRing`] (XChaCha20-Poly1305, a random nonce per value,
//! the key version stored with the ciphertext), bound to the user and provider; [`list`] and
//! [`get`] never decrypt, and [`credentials`] is the one call that does. [`deactivate`],
//! [`reactivate`] and [`disconnect`] complete the set.
//!
//! Every function takes the user id: another user's account is answered exactly like a
//! missing one ([`crate::Error::NotFound`]). A stored secret that no key of the ring opens is
//! [`crate::Error::Decryption`]; how keys are rotated is in [`crate::crypto`].

use chrono::{DateTime, FixedOffset};
use entity::supplier_accounts::{self, Column};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};
use uuid::Uuid;

use crate::clock::now;
use crate::crypto::{Binding, KeyRing, Secret};
use crate::error::{Error, Result, Table, Violation};
use crate::txn::retry_transient;
use crate::violations::OnTable;

pub use entity::sea_orm_active_enums::SupplierProvider;

/// The longest API key or secret accepted, in bytes.
pub const CREDENTIAL_MAX_LEN: usize = 4_096;
/// The longest supplier-side account id, in characters.
pub const ACCOUNT_ID_MAX_LEN: usize = 255;

/// What connecting a supplier needs.
#[derive(Debug, Clone)]
pub struct NewSupplierAccount {
    /// The supplier.
    pub provider: SupplierProvider,
    /// The API key (encrypted at rest).
    pub api_key: Secret,
    /// The API secret, for suppliers that have one (encrypted at rest).
    pub api_secret: Option<Secret>,
    /// The merchant's account id at the supplier, if it has one.
    pub account_id: Option<String>,
}

/// A supplier account as services see it: never a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupplierAccount {
    /// The account's id.
    pub id: Uuid,
    /// Its owner.
    pub user_id: Uuid,
    /// The supplier.
    pub provider: SupplierProvider,
    /// The merchant's account id at the supplier.
    pub account_id: Option<String>,
    /// Whether the agents may use it.
    pub is_active: bool,
    /// Whether an API secret is stored.
    pub has_api_secret: bool,
    /// When it was first connected.
    pub created_at: DateTime<FixedOffset>,
    /// The last write to it.
    pub updated_at: DateTime<FixedOffset>,
}

impl From<supplier_accounts::Model> for SupplierAccount {
    fn from(model: supplier_accounts::Model) -> Self {
        Self {
            id: model.id,
            user_id: model.user_id,
            provider: model.provider,
            account_id: model.account_id,
            is_active: model.is_active,
            has_api_secret: model.api_secret.is_some(),
            created_at: model.created_at,
            updated_at: model.updated_at,
        }
    }
}

/// The decrypted credentials of a supplier account. `Debug` redacts them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupplierCredentials {
    /// The API key.
    pub api_key: Secret,
    /// The API secret, if one is stored.
    pub api_secret: Option<Secret>,
}

/// Connects `user_id` to a supplier, or updates the existing connection to that supplier
/// (new credentials and account id, active again).
///
/// # Errors
/// [`Error::Invalid`] for `api_key`, `api_secret` or `account_id` ([`Violation::Empty`],
/// [`Violation::TooLong`], [`Violation::ControlCharacter`]): nothing is written;
/// [`Error::MissingReference`] when the user does not exist; [`Error::Transient`] when it
/// lost a deadlock inside the caller's transaction; [`Error::Crypto`]; [`Error::Database`].
///
/// The account id is kept as given (trimmed) and never folded: `supplier-X` and
/// `SUPPLIER-x` are two ids, on every backend.
#[tracing::instrument(skip_all, err, fields(user_id = %user_id, provider = ?new.provider))]
pub async fn connect<C: ConnectionTrait>(
    db: &C,
    keys: &KeyRing,
    user_id: Uuid,
    new: NewSupplierAccount,
) -> Result<SupplierAccount> {
    validate_credential("api_key", Some(&new.api_key))?;
    validate_credential("api_secret", new.api_secret.as_ref())?;
    let account_id = match new.account_id.as_deref().map(str::trim) {
        None => None,
        Some("") => {
            return Err(Error::Invalid {
                field: "account_id",
                violation: Violation::Empty,
            });
        }
        Some(id) if id.chars().count() > ACCOUNT_ID_MAX_LEN => {
            return Err(Error::Invalid {
                field: "account_id",
                violation: Violation::TooLong {
                    max: ACCOUNT_ID_MAX_LEN,
                },
            });
        }
        Some(id) if id.chars().any(char::is_control) => {
            return Err(Error::Invalid {
                field: "account_id",
                violation: Violation::ControlCharacter,
            });
        }
        Some(id) => Some(id.to_owned()),
    };
    let provider = new.provider;
    let api_key = keys.encrypt(
        new.api_key.expose(),
        &Binding::supplier("supplier_accounts.api_key", user_id, &provider),
    )?;
    let api_secret = new
        .api_secret
        .as_ref()
        .map(|s| {
            keys.encrypt(
                s.expose(),
                &Binding::supplier("supplier_accounts.api_secret", user_id, &provider),
            )
        })
        .transpose()?;
    let at = now();
    // Concurrent upserts of one (user, provider) can deadlock on InnoDB's unique-index locks:
    // one statement, run again when it loses.
    retry_transient(db, || async {
        supplier_accounts::Entity::insert(supplier_accounts::ActiveModel {
            id: Set(Uuid::now_v7()),
            user_id: Set(user_id),
            provider: Set(provider),
            api_key: Set(api_key.clone()),
            api_secret: Set(api_secret.clone()),
            account_id: Set(account_id.clone()),
            is_active: Set(true),
            created_at: Set(at),
            updated_at: Set(at),
        })
        .on_conflict(
            OnConflict::columns([Column::UserId, Column::Provider])
                .update_columns([
                    Column::ApiKey,
                    Column::ApiSecret,
                    Column::AccountId,
                    Column::IsActive,
                    Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await
        .on_table("supplier_accounts")
    })
    .await?;
    supplier_accounts::Entity::find()
        .filter(Column::UserId.eq(user_id))
        .filter(Column::Provider.eq(provider))
        .one(db)
        .await?
        .map(SupplierAccount::from)
        .ok_or(Error::NotFound {
            entity: Table::SupplierAccounts,
        })
}

fn validate_credential(field: &'static str, value: Option<&Secret>) -> Result<()> {
    match value.map(Secret::expose) {
        Some(v) if v.trim().is_empty() => Err(Error::Invalid {
            field,
            violation: Violation::Empty,
        }),
        Some(v) if v.len() > CREDENTIAL_MAX_LEN => Err(Error::Invalid {
            field,
            violation: Violation::TooLong {
                max: CREDENTIAL_MAX_LEN,
            },
        }),
        _ => Ok(()),
    }
}

/// The user's supplier accounts, without credentials.
///
/// # Errors
/// [`Error::Database`].
pub async fn list<C: ConnectionTrait>(db: &C, user_id: Uuid) -> Result<Vec<SupplierAccount>> {
    Ok(supplier_accounts::Entity::find()
        .filter(Column::UserId.eq(user_id))
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(SupplierAccount::from)
        .collect())
}

async fn find_owned<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    id: Uuid,
) -> Result<supplier_accounts::Model> {
    supplier_accounts::Entity::find_by_id(id)
        .filter(Column::UserId.eq(user_id))
        .one(db)
        .await?
        .ok_or(Error::NotFound {
            entity: Table::SupplierAccounts,
        })
}

/// One of the user's supplier accounts, without credentials.
///
/// # Errors
/// [`Error::NotFound`] when the user has no such account; [`Error::Database`].
pub async fn get<C: ConnectionTrait>(db: &C, user_id: Uuid, id: Uuid) -> Result<SupplierAccount> {
    find_owned(db, user_id, id).await.map(SupplierAccount::from)
}

/// The decrypted credentials of one of the user's supplier accounts: the one explicit way to
/// read them.
///
/// # Errors
/// [`Error::NotFound`] when the user has no such account; [`Error::Decryption`] when a stored
/// value was altered or its key is not in the ring; [`Error::Database`].
#[tracing::instrument(skip_all, err, fields(user_id = %user_id))]
pub async fn credentials<C: ConnectionTrait>(
    db: &C,
    keys: &KeyRing,
    user_id: Uuid,
    id: Uuid,
) -> Result<SupplierCredentials> {
    let row = find_owned(db, user_id, id).await?;
    let api_key = keys.decrypt(
        &row.api_key,
        &Binding::supplier("supplier_accounts.api_key", row.user_id, &row.provider),
    )?;
    let api_secret = row
        .api_secret
        .as_deref()
        .map(|stored| {
            keys.decrypt(
                stored,
                &Binding::supplier("supplier_accounts.api_secret", row.user_id, &row.provider),
            )
        })
        .transpose()?;
    Ok(SupplierCredentials {
        api_key,
        api_secret,
    })
}

async fn set_active<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    id: Uuid,
    active: bool,
) -> Result<SupplierAccount> {
    supplier_accounts::Entity::update_many()
        .col_expr(Column::IsActive, Expr::value(active))
        .col_expr(Column::UpdatedAt, Expr::value(now()))
        .filter(Column::Id.eq(id))
        .filter(Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    get(db, user_id, id).await
}

/// Stops the agents from using one of the user's supplier accounts; its credentials stay.
///
/// # Errors
/// [`Error::NotFound`] when the user has no such account; [`Error::Database`].
#[tracing::instrument(skip_all, err, fields(user_id = %user_id))]
pub async fn deactivate<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    id: Uuid,
) -> Result<SupplierAccount> {
    set_active(db, user_id, id, false).await
}

/// Lets the agents use one of the user's supplier accounts again.
///
/// # Errors
/// [`Error::NotFound`] when the user has no such account; [`Error::Database`].
#[tracing::instrument(skip_all, err, fields(user_id = %user_id))]
pub async fn reactivate<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    id: Uuid,
) -> Result<SupplierAccount> {
    set_active(db, user_id, id, true).await
}

/// Removes one of the user's supplier accounts and its credentials.
///
/// # Errors
/// [`Error::NotFound`] when the user has no such account; [`Error::Database`].
#[tracing::instrument(skip_all, err, fields(user_id = %user_id))]
pub async fn disconnect<C: ConnectionTrait>(db: &C, user_id: Uuid, id: Uuid) -> Result<()> {
    let deleted = supplier_accounts::Entity::delete_many()
        .filter(Column::Id.eq(id))
        .filter(Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(Error::NotFound {
            entity: Table::SupplierAccounts,
        });
    }
    Ok(())
}
