//! Changing a product: the merchant's edits, its status, soft delete and restore.

use entity::products;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    TransactionSession, TransactionTrait,
};
use uuid::Uuid;

use super::lock;
use super::model::{DESCRIPTION_MAX, Product, ProductPatch, TITLE_MAX, can_transition};
use super::read::{get, search_key};
use super::values;
use crate::clock;
use crate::db::begin_write;
use crate::error::{Error, Result, Table, Transition};
use crate::money::Money;
use crate::scope::StoreScope;
use crate::soft_delete::{self, SoftDelete};
use crate::txn::retry_transient;
use crate::values::{optional_text, required_text};
use crate::violations::OnTable;
use entity::sea_orm_active_enums::ProductStatus;

/// Applies a merchant's changes.
///
/// # Errors
/// [`Error::Invalid`] naming the field (including `compare_at_price` not above the selling
/// price, judged with the values after the patch); [`Error::NotFound`].
#[tracing::instrument(skip_all, err, fields(store_id = %scope.store_id(), product_id = %id))]
pub async fn update<C>(db: &C, scope: &StoreScope, id: Uuid, patch: ProductPatch) -> Result<Product>
where
    C: ConnectionTrait + TransactionTrait,
{
    retry_transient(db, || async {
        let txn = begin_write(db).await?;
        lock::lock_product(&txn, scope, id).await?;
        let current = get(&txn, scope, id).await?;
        let mut row = products::ActiveModel {
            updated_at: Set(clock::now()),
            ..Default::default()
        };
        if let Some(title) = &patch.title {
            let title = required_text("products.title", title, TITLE_MAX)?;
            row.search_title = Set(search_key(&title));
            row.title = Set(title);
        }
        if let Some(description) = &patch.description {
            row.description =
                Set(
                    optional_text("products.description", Some(description), DESCRIPTION_MAX)?
                        .unwrap_or_default(),
                );
        }
        if let Some(meta_title) = &patch.meta_title {
            row.meta_title = Set(optional_text(
                "products.meta_title",
                meta_title.as_deref(),
                TITLE_MAX,
            )?);
        }
        if let Some(meta_description) = &patch.meta_description {
            row.meta_description = Set(optional_text(
                "products.meta_description",
                meta_description.as_deref(),
                DESCRIPTION_MAX,
            )?);
        }
        if patch.selling_price.is_some() || patch.compare_at_price.is_some() {
            let selling = patch.selling_price.unwrap_or(current.selling_price);
            let compare_at = patch.compare_at_price.unwrap_or(current.compare_at_price);
            let (selling, compare_at) = values::prices(selling, compare_at)?;
            row.selling_price = Set(selling.amount());
            row.compare_at_price = Set(compare_at.map(Money::amount));
        }
        if let Some(track) = patch.track_inventory {
            row.track_inventory = Set(track);
            // Tracking decides between ACTIVE and OUT_OF_STOCK, so switching it re-judges that.
            match current.status {
                ProductStatus::OutOfStock if !track => row.status = Set(ProductStatus::Active),
                ProductStatus::Active if track && current.stock_quantity == 0 => {
                    row.status = Set(ProductStatus::OutOfStock);
                }
                _ => {}
            }
        }
        products::Entity::update_many()
            .set(row.clone())
            .filter(products::Column::Id.eq(id))
            .filter(products::Column::StoreId.eq(scope.store_id()))
            .exec(&txn)
            .await
            .on_table("products")?;
        let product = get(&txn, scope, id).await?;
        txn.commit().await?;
        Ok(product)
    })
    .await
}

/// Moves a product along the status machine ([`can_transition`]). Activating a tracked
/// product with no stock makes it OUT_OF_STOCK instead.
///
/// # Errors
/// [`Error::InvalidTransition`]; [`Error::NotFound`].
#[tracing::instrument(skip_all, err, fields(store_id = %scope.store_id(), product_id = %id))]
pub async fn transition<C>(
    db: &C,
    scope: &StoreScope,
    id: Uuid,
    to: ProductStatus,
) -> Result<Product>
where
    C: ConnectionTrait + TransactionTrait,
{
    retry_transient(db, || async {
        let txn = begin_write(db).await?;
        lock::lock_product(&txn, scope, id).await?;
        let current = get(&txn, scope, id).await?;
        if !can_transition(current.status, to) {
            return Err(Error::InvalidTransition(Transition::Product {
                from: current.status,
                to,
            }));
        }
        let target = if to == ProductStatus::Active
            && current.track_inventory
            && current.stock_quantity == 0
        {
            ProductStatus::OutOfStock
        } else {
            to
        };
        products::Entity::update_many()
            .set(products::ActiveModel {
                status: Set(target),
                updated_at: Set(clock::now()),
                ..Default::default()
            })
            .filter(products::Column::Id.eq(id))
            .filter(products::Column::StoreId.eq(scope.store_id()))
            .exec(&txn)
            .await?;
        let product = get(&txn, scope, id).await?;
        txn.commit().await?;
        Ok(product)
    })
    .await
}

/// Soft-deletes a product: it disappears from every read until [`restore`]d.
///
/// # Errors
/// [`Error::NotFound`] when there is no such live product in the store.
#[tracing::instrument(skip_all, err, fields(store_id = %scope.store_id(), product_id = %id))]
pub async fn soft_delete<C: ConnectionTrait>(db: &C, scope: &StoreScope, id: Uuid) -> Result<()> {
    soft_delete::soft_delete::<products::Entity, _>(db, in_store(scope, id)).await
}

/// Brings back a soft-deleted product of the store.
///
/// # Errors
/// [`Error::NotFound`] when the store has no such deleted product.
#[tracing::instrument(skip_all, err, fields(store_id = %scope.store_id(), product_id = %id))]
pub async fn restore<C: ConnectionTrait>(db: &C, scope: &StoreScope, id: Uuid) -> Result<Product> {
    soft_delete::restore::<products::Entity, _>(db, in_store(scope, id)).await?;
    get(db, scope, id).await
}

/// The product `id` of the scope's store, deleted or not.
fn in_store(scope: &StoreScope, id: Uuid) -> Condition {
    Condition::all()
        .add(products::Column::Id.eq(id))
        .add(products::Column::StoreId.eq(scope.store_id()))
}

impl SoftDelete for products::Entity {
    const TABLE: Table = Table::Products;

    fn deleted_at() -> products::Column {
        products::Column::DeletedAt
    }

    fn updated_at() -> products::Column {
        products::Column::UpdatedAt
    }
}
