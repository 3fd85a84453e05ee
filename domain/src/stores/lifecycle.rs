//! Writing a store after its creation: its fields, its custom domain, its status, and its
//! soft delete, restore and purge.

use std::time::Duration;

use entity::stores;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QuerySelect, TransactionSession, TransactionTrait,
};
use uuid::Uuid;

use super::values::CustomDomain;
use super::{DESCRIPTION_MAX, NAME_MAX, Store, StorePatch, StoreStatus, can_transition, get};
use crate::clock;
use crate::db::begin_write;
use crate::error::{Error, Result, Table, Transition};
use crate::scope::StoreScope;
use crate::soft_delete;
use crate::txn::retry_transient;
use crate::values::{optional_text, required_text};
use crate::violations::OnTable;

/// Applies `patch` to the store.
///
/// # Errors
/// [`Error::Invalid`] naming the field (`stores.name`, `stores.niche`, `stores.description`)
/// for bad input (nothing is written); [`Error::NotFound`] when the store is gone.
#[tracing::instrument(skip_all, err, fields(store_id = %scope.store_id()))]
pub async fn update<C: ConnectionTrait>(
    db: &C,
    scope: &StoreScope,
    patch: StorePatch,
) -> Result<Store> {
    let mut row = live_row(scope);
    if let Some(name) = &patch.name {
        row.name = Set(required_text("stores.name", name, NAME_MAX)?);
    }
    if let Some(niche) = &patch.niche {
        row.niche = Set(required_text("stores.niche", niche, NAME_MAX)?);
    }
    if let Some(description) = &patch.description {
        row.description = Set(optional_text(
            "stores.description",
            description.as_deref(),
            DESCRIPTION_MAX,
        )?);
    }
    if let Some(brand) = &patch.brand_identity {
        row.brand_identity = Set(brand
            .as_ref()
            .map(|b| json(scope, "brand_identity", b))
            .transpose()?);
    }
    if let Some(settings) = &patch.settings {
        row.settings = Set(Some(json(scope, "settings", settings)?));
    }
    write_row(db, scope, row).await
}

/// The JSON stored for a typed value. Serialising the store's typed JSON cannot fail (its
/// keys are strings, its numbers finite); were it ever to, that is reported as the column
/// that could not be written in a decodable form, never as a silent `null`.
fn json<T: serde::Serialize>(
    scope: &StoreScope,
    column: &'static str,
    value: &T,
) -> Result<serde_json::Value> {
    serde_json::to_value(value).map_err(|_| Error::Undecodable {
        table: Table::Stores,
        column,
        row: scope.store_id(),
    })
}

/// Sets (`Some`) or clears (`None`) the store's custom domain.
///
/// # Errors
/// [`Error::Conflict`] with [`UniqueRule::StoresCustomDomain`](crate::UniqueRule::StoresCustomDomain)
/// when another store has it; [`Error::NotFound`] when the store is gone.
#[tracing::instrument(skip_all, err, fields(store_id = %scope.store_id()))]
pub async fn update_custom_domain<C: ConnectionTrait>(
    db: &C,
    scope: &StoreScope,
    domain: Option<CustomDomain>,
) -> Result<Store> {
    let mut row = live_row(scope);
    row.custom_domain = Set(domain.map(|d| d.as_str().to_owned()));
    write_row(db, scope, row).await
}

/// Moves the store to `to` along the status machine ([`can_transition`]); the first move to
/// ACTIVE sets `published_at`.
///
/// The current status is read under the row's lock, so two concurrent moves cannot both
/// apply from the same state.
///
/// # Errors
/// [`Error::InvalidTransition`] when the machine forbids it; [`Error::NotFound`].
#[tracing::instrument(skip_all, err, fields(store_id = %scope.store_id()))]
pub async fn transition<C>(db: &C, scope: &StoreScope, to: StoreStatus) -> Result<Store>
where
    C: ConnectionTrait + TransactionTrait,
{
    retry_transient(db, || async {
        let txn = begin_write(db).await?;
        // A locking read: the current row, not a snapshot (MariaDB's REPEATABLE READ inside a
        // caller's transaction), and no other move can come in before the update.
        let mut query = stores::Entity::find_by_id(scope.store_id())
            .filter(stores::Column::UserId.eq(scope.owner_id()))
            .filter(stores::Column::DeletedAt.is_null());
        if txn.get_database_backend() != sea_orm::DbBackend::Sqlite {
            query = query.lock(sea_orm::sea_query::LockType::Update);
        }
        let current = query.one(&txn).await?.ok_or(Error::NotFound {
            entity: Table::Stores,
        })?;
        if !can_transition(current.status, to) {
            return Err(Error::InvalidTransition(Transition::Store {
                from: current.status,
                to,
            }));
        }
        let mut row = live_row(scope);
        row.status = Set(to);
        if to == StoreStatus::Active && current.published_at.is_none() {
            row.published_at = Set(Some(clock::now()));
        }
        stores::Entity::update_many()
            .set(row)
            .filter(stores::Column::Id.eq(scope.store_id()))
            .exec(&txn)
            .await?;
        let store = get(&txn, scope).await?;
        txn.commit().await?;
        Ok(store)
    })
    .await
}

/// Soft-deletes the store: it disappears from every read (its slug, subdomain and domain stay
/// reserved) until [`restore`]d or [`purge_deleted`].
///
/// # Errors
/// [`Error::NotFound`] when it is already gone.
#[tracing::instrument(skip_all, err, fields(store_id = %scope.store_id()))]
pub async fn soft_delete<C: ConnectionTrait>(db: &C, scope: &StoreScope) -> Result<()> {
    soft_delete::soft_delete::<stores::Entity, _>(db, owned(scope.owner_id(), scope.store_id()))
        .await
}

/// Brings back a soft-deleted store of `owner_id`.
///
/// # Errors
/// [`Error::NotFound`] when the owner has no such deleted store.
#[tracing::instrument(skip_all, err, fields(user_id = %owner_id, store_id = %store_id))]
pub async fn restore<C: ConnectionTrait>(db: &C, owner_id: Uuid, store_id: Uuid) -> Result<Store> {
    soft_delete::restore::<stores::Entity, _>(db, owned(owner_id, store_id)).await?;
    get(db, &StoreScope::trusted(owner_id, store_id)).await
}

/// The store `store_id` if `owner_id` owns it.
fn owned(owner_id: Uuid, store_id: Uuid) -> Condition {
    Condition::all()
        .add(stores::Column::Id.eq(store_id))
        .add(stores::Column::UserId.eq(owner_id))
}

/// Deletes for good every store soft-deleted more than `age` ago, with everything it owns
/// (its jobs stay, without a store). Returns how many stores were purged.
///
/// # Errors
/// [`Error::Invalid`] naming `age` with
/// [`Violation::TimeOutOfRange`](crate::Violation::TimeOutOfRange) when it reaches before the
/// earliest time there is; [`Error::Database`] when the database fails.
#[tracing::instrument(skip_all, err)]
pub async fn purge_deleted<C: ConnectionTrait>(db: &C, age: Duration) -> Result<u64> {
    let cutoff = clock::ago("age", age)?;
    let done = retry_transient(db, || async {
        Ok(stores::Entity::delete_many()
            .filter(stores::Column::DeletedAt.lt(cutoff))
            .exec(db)
            .await?)
    })
    .await?;
    Ok(done.rows_affected)
}

/// An update of the scope's live store with only `updated_at` set so far.
fn live_row(scope: &StoreScope) -> stores::ActiveModel {
    stores::ActiveModel {
        id: sea_orm::ActiveValue::Unchanged(scope.store_id()),
        updated_at: Set(clock::now()),
        ..Default::default()
    }
}

async fn write_row<C: ConnectionTrait>(
    db: &C,
    scope: &StoreScope,
    row: stores::ActiveModel,
) -> Result<Store> {
    retry_transient(db, || async {
        let done = stores::Entity::update_many()
            .set(row.clone())
            .filter(stores::Column::Id.eq(scope.store_id()))
            .filter(stores::Column::UserId.eq(scope.owner_id()))
            .filter(stores::Column::DeletedAt.is_null())
            .exec(db)
            .await
            .on_table("stores")?;
        if done.rows_affected == 0 {
            return Err(Error::NotFound {
                entity: Table::Stores,
            });
        }
        get(db, scope).await
    })
    .await
}
