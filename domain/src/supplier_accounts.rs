//! Supplier accounts: a merchant's connection to AliExpress, CJ Dropshipping or Spocket.
//!
//! One account per user and provider: [`create`] again updates it in place and makes it
//! active (an upsert on the unique index, never a read before the write). The API key and
//! secret are encrypted with the [`KeyRing`] (XChaCha20-Poly1305, a random nonce per value,
//! the key version stored with the ciphertext), bound to the user and provider; [`list`] and
//! [`get`] never decrypt, and [`get_credentials`] is the one call that does.
//! [`update_active`] and [`delete`] complete the set; [`rotate_keys`] re-encrypts the
//! credentials under a new key.
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
use crate::crypto::{self, Binding, KeyRing, RotationReport, Sealed, Walk};
use crate::error::{Error, Result, Table};
use crate::txn::retry_transient;
use crate::violations::OnTable;

mod values;

pub use entity::sea_orm_active_enums::SupplierProvider;
pub use values::{ACCOUNT_ID_MAX_LEN, ApiKey, ApiSecret, CREDENTIAL_MAX_LEN, ExternalAccountId};

#[cfg(doc)]
use crate::crypto::MAX_ROTATION_BATCH;

/// What creating (connecting) a supplier account needs; every field is already validated.
#[derive(Debug, Clone)]
pub struct NewSupplierAccount {
    /// The supplier.
    pub provider: SupplierProvider,
    /// The API key (encrypted at rest).
    pub api_key: ApiKey,
    /// The API secret, for suppliers that have one (encrypted at rest).
    pub api_secret: Option<ApiSecret>,
    /// The merchant's account id at the supplier, if it has one.
    pub account_id: Option<ExternalAccountId>,
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
    pub api_key: ApiKey,
    /// The API secret, if one is stored.
    pub api_secret: Option<ApiSecret>,
}

/// Creates (connects) `user_id`'s account with a supplier, or updates the existing account
/// with that supplier (new credentials and account id, active again).
///
/// # Errors
/// [`Error::MissingReference`] when the user does not exist; [`Error::Transient`] when it
/// lost a deadlock inside the caller's transaction; [`Error::Crypto`]; [`Error::Database`].
#[tracing::instrument(
    skip_all,
    err,
    fields(user_id = %user_id, provider = ?new.provider, supplier_account_id)
)]
pub async fn create<C: ConnectionTrait>(
    db: &C,
    keys: &KeyRing,
    user_id: Uuid,
    new: NewSupplierAccount,
) -> Result<SupplierAccount> {
    let provider = new.provider;
    let account_id = new.account_id.map(|id| id.as_ref().to_owned());
    let api_key = keys.encrypt(
        new.api_key.expose(),
        &Binding::supplier_accounts_api_key(user_id, &provider),
    )?;
    let api_secret = new
        .api_secret
        .as_ref()
        .map(|s| {
            keys.encrypt(
                s.expose(),
                &Binding::supplier_accounts_api_secret(user_id, &provider),
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
        .inspect(|account| {
            tracing::Span::current()
                .record("supplier_account_id", tracing::field::display(account.id));
        })
        .ok_or(Error::NotFound {
            entity: Table::SupplierAccounts,
        })
}

/// The user's supplier accounts, without credentials (at most one per provider).
///
/// # Errors
/// [`Error::Database`].
#[tracing::instrument(skip_all, err, fields(user_id = %user_id))]
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
#[tracing::instrument(skip_all, err, fields(user_id = %user_id, supplier_account_id = %id))]
pub async fn get<C: ConnectionTrait>(db: &C, user_id: Uuid, id: Uuid) -> Result<SupplierAccount> {
    find_owned(db, user_id, id).await.map(SupplierAccount::from)
}

/// The decrypted credentials of one of the user's supplier accounts: the one explicit way to
/// read them.
///
/// # Errors
/// [`Error::NotFound`] when the user has no such account; [`Error::Decryption`] when a stored
/// value was altered or its key is not in the ring; [`Error::Undecodable`] naming the column
/// when a decrypted value is not one [`ApiKey::parse`] / [`ApiSecret::parse`] accepts;
/// [`Error::Database`].
#[tracing::instrument(skip_all, err, fields(user_id = %user_id, supplier_account_id = %id))]
pub async fn get_credentials<C: ConnectionTrait>(
    db: &C,
    keys: &KeyRing,
    user_id: Uuid,
    id: Uuid,
) -> Result<SupplierCredentials> {
    let row = find_owned(db, user_id, id).await?;
    let undecodable = |column| {
        move |_| Error::Undecodable {
            table: Table::SupplierAccounts,
            column,
            row: row.id,
        }
    };
    let api_key = keys.decrypt(
        &row.api_key,
        &Binding::supplier_accounts_api_key(row.user_id, &row.provider),
    )?;
    let api_secret = row
        .api_secret
        .as_deref()
        .map(|stored| {
            keys.decrypt(
                stored,
                &Binding::supplier_accounts_api_secret(row.user_id, &row.provider),
            )
        })
        .transpose()?;
    Ok(SupplierCredentials {
        api_key: ApiKey::parse(api_key).map_err(undecodable("api_key"))?,
        api_secret: api_secret
            .map(ApiSecret::parse)
            .transpose()
            .map_err(undecodable("api_secret"))?,
    })
}

/// Updates whether the agents may use one of the user's supplier accounts
/// (`supplier_accounts.is_active`); its credentials stay either way.
///
/// # Errors
/// [`Error::NotFound`] when the user has no such account; [`Error::Database`].
#[tracing::instrument(skip_all, err, fields(user_id = %user_id, supplier_account_id = %id))]
pub async fn update_active<C: ConnectionTrait>(
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
    find_owned(db, user_id, id).await.map(SupplierAccount::from)
}

/// Deletes (disconnects) one of the user's supplier accounts and its credentials.
///
/// # Errors
/// [`Error::NotFound`] when the user has no such account; [`Error::Database`].
#[tracing::instrument(skip_all, err, fields(user_id = %user_id, supplier_account_id = %id))]
pub async fn delete<C: ConnectionTrait>(db: &C, user_id: Uuid, id: Uuid) -> Result<()> {
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

/// Re-encrypts every stored supplier credential (`api_key`, `api_secret`) that is not under
/// the current key of `keys`, `batch_size` rows at a time; safe while the service is live and
/// safe to run again, as [`RotationReport`] explains.
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
    let walk = Walk::<supplier_accounts::Entity, _> {
        id: Column::Id,
        touched: Some(Column::UpdatedAt),
        sealed: |row: &supplier_accounts::Model| {
            let sealed = vec![
                Sealed {
                    column: Column::ApiKey,
                    stored: Some(row.api_key.clone()),
                    binding: Binding::supplier_accounts_api_key(row.user_id, &row.provider),
                },
                Sealed {
                    column: Column::ApiSecret,
                    stored: row.api_secret.clone(),
                    binding: Binding::supplier_accounts_api_secret(row.user_id, &row.provider),
                },
            ];
            (row.id, sealed)
        },
    };
    let report = crypto::rotate_table(db, keys, batch_size, walk).await?;
    tracing::info!(?report, "key rotation of supplier_accounts finished");
    Ok(report)
}
