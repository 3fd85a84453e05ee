//! The variants of a product (table `product_variants`): a colour, a size, each with its own
//! SKU, prices and stock, whose total is the product's stock.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset};
use entity::product_variants;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QuerySelect, TransactionSession, TransactionTrait,
};
use uuid::Uuid;

use super::lock::{current, lock_product, lock_product_of, lock_with_room};
use super::model::{TITLE_MAX, VARIANTS_MAX};
use super::read::ensure_product;
use super::stock::{move_product_stock, stays_in_range, too_much};
use super::values::{self, Sku};
use crate::clock;
use crate::db::begin_write;
use crate::error::{Error, Result, Table, Violation};
use crate::money::Money;
use crate::scope::StoreScope;
use crate::txn::retry_transient;
use crate::values::required_text;
use crate::violations::OnTable;

/// A variant of a product (a colour, a size, …).
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// The variant's id.
    pub id: Uuid,
    /// Its product.
    pub product_id: Uuid,
    /// Stock keeping unit, unique in the product.
    pub sku: Option<String>,
    /// Display title, e.g. "Red / L".
    pub title: String,
    /// What the store charges.
    pub price: Money,
    /// What the supplier charges.
    pub cost_price: Money,
    /// Units in stock.
    pub stock: i32,
    /// Option names and values, e.g. color → Red.
    pub options: BTreeMap<String, String>,
}

/// A variant to add to a product.
#[derive(Debug, Clone)]
pub struct NewVariant {
    /// Stock keeping unit, unique in the product.
    pub sku: Option<Sku>,
    /// Display title, e.g. "Red / L" (1 to 255 characters).
    pub title: String,
    /// What the store charges.
    pub price: Money,
    /// What the supplier charges.
    pub cost_price: Money,
    /// Units in stock.
    pub stock: i32,
    /// Option names and values, e.g. color → Red.
    pub options: BTreeMap<String, String>,
}

impl NewVariant {
    /// A variant with a title and prices, no SKU, no stock and no options.
    pub fn new(title: impl Into<String>, price: Money, cost_price: Money) -> Self {
        Self {
            sku: None,
            title: title.into(),
            price,
            cost_price,
            stock: 0,
            options: BTreeMap::new(),
        }
    }
}

/// Changes to a variant; `None` leaves a field as it is. Stock moves through
/// [`update_stock`].
#[derive(Debug, Clone, Default)]
pub struct VariantPatch {
    /// New SKU; `Some(None)` clears it.
    pub sku: Option<Option<Sku>>,
    /// New title.
    pub title: Option<String>,
    /// New price.
    pub price: Option<Money>,
    /// New cost price.
    pub cost_price: Option<Money>,
    /// New options.
    pub options: Option<BTreeMap<String, String>>,
}

pub(super) fn check_variant(
    store_id: Uuid,
    product_id: Uuid,
    new: NewVariant,
    now: DateTime<FixedOffset>,
) -> Result<product_variants::Model> {
    Ok(product_variants::Model {
        id: Uuid::now_v7(),
        product_id,
        store_id,
        sku: new.sku.map(|s| s.as_str().to_owned()),
        title: required_text("product_variants.title", &new.title, TITLE_MAX)?,
        price: new.price.amount(),
        cost_price: new.cost_price.amount(),
        stock: values::stock("product_variants.stock", new.stock)?,
        options: values::options_json(values::options(new.options)?),
        created_at: now,
        updated_at: now,
    })
}

pub(super) fn variant_from(m: product_variants::Model) -> Result<Variant> {
    let options = serde_json::from_value(m.options).map_err(|_| Error::Undecodable {
        table: Table::ProductVariants,
        column: "options",
        row: m.id,
    })?;
    Ok(Variant {
        id: m.id,
        product_id: m.product_id,
        sku: m.sku,
        title: m.title,
        price: Money::from_db(m.price),
        cost_price: Money::from_db(m.cost_price),
        stock: m.stock,
        options,
    })
}

/// Adds a variant; its stock joins the product's total.
///
/// Runs under the product's row lock, so concurrent additions cannot pass
/// [`VARIANTS_MAX`] between the count and the insert.
///
/// # Errors
/// [`Error::Invalid`] naming the field, `variants` when the product has [`VARIANTS_MAX`]
/// variants, or `stock_quantity` when the product's total would pass `i32::MAX`;
/// [`Error::Conflict`] with [`crate::UniqueRule::ProductVariantsProductSku`] for a SKU the
/// product has; [`Error::NotFound`] for a product not in the store.
#[tracing::instrument(skip_all, err, fields(store_id = %scope.store_id(), product_id = %product_id))]
pub async fn create<C>(
    db: &C,
    scope: &StoreScope,
    product_id: Uuid,
    new: NewVariant,
) -> Result<Variant>
where
    C: ConnectionTrait + TransactionTrait,
{
    let model = check_variant(scope.store_id(), product_id, new, clock::now())?;
    retry_transient(db, || async {
        let txn = begin_write(db).await?;
        lock_with_room(
            &txn,
            scope,
            product_id,
            (
                product_variants::Column::Id,
                product_variants::Column::ProductId,
            ),
            ("product_variants", VARIANTS_MAX),
        )
        .await?;
        product_variants::Entity::insert(model.clone().into_active_model())
            .exec_without_returning(&txn)
            .await
            .on_table("product_variants")?;
        if !move_product_stock(&txn, product_id, model.stock, None).await? {
            return Err(stock_total_out_of_range());
        }
        txn.commit().await?;
        variant_from(model.clone())
    })
    .await
}

/// Changes a variant's SKU, title, prices or options.
///
/// # Errors
/// As [`create`]; [`Error::NotFound`] for a variant not in the store.
#[tracing::instrument(skip_all, err, fields(store_id = %scope.store_id(), variant_id = %variant_id))]
pub async fn update<C>(
    db: &C,
    scope: &StoreScope,
    variant_id: Uuid,
    patch: VariantPatch,
) -> Result<Variant>
where
    C: ConnectionTrait + TransactionTrait,
{
    let mut row = product_variants::ActiveModel {
        updated_at: Set(clock::now()),
        ..Default::default()
    };
    if let Some(sku) = &patch.sku {
        row.sku = Set(sku.as_ref().map(|s| s.as_str().to_owned()));
    }
    if let Some(title) = &patch.title {
        row.title = Set(required_text("product_variants.title", title, TITLE_MAX)?);
    }
    if let Some(price) = patch.price {
        row.price = Set(price.amount());
    }
    if let Some(cost) = patch.cost_price {
        row.cost_price = Set(cost.amount());
    }
    if let Some(options) = patch.options {
        row.options = Set(values::options_json(values::options(options)?));
    }
    retry_transient(db, || async {
        let txn = begin_write(db).await?;
        let variant = scoped_variant(&txn, scope, variant_id).await?;
        product_variants::Entity::update_many()
            .set(row.clone())
            .filter(product_variants::Column::Id.eq(variant.id))
            .exec(&txn)
            .await
            .on_table("product_variants")?;
        let updated = scoped_variant(&txn, scope, variant_id).await?;
        txn.commit().await?;
        variant_from(updated)
    })
    .await
}

/// Removes a variant; its stock leaves the product's total.
///
/// # Errors
/// [`Error::NotFound`] for a variant not in the store.
#[tracing::instrument(skip_all, err, fields(store_id = %scope.store_id(), variant_id = %variant_id))]
pub async fn delete<C>(db: &C, scope: &StoreScope, variant_id: Uuid) -> Result<()>
where
    C: ConnectionTrait + TransactionTrait,
{
    retry_transient(db, || async {
        let txn = begin_write(db).await?;
        let product_id = scoped_variant(&txn, scope, variant_id).await?.product_id;
        lock_product(&txn, scope, product_id).await?;
        // Its stock as it is now, under the lock (another move may have come first).
        let variant = current(
            product_variants::Entity::find_by_id(variant_id),
            txn.get_database_backend(),
        )
        .one(&txn)
        .await?
        .ok_or(Error::NotFound {
            entity: Table::ProductVariants,
        })?;
        product_variants::Entity::delete_by_id(variant.id)
            .exec(&txn)
            .await?;
        // A variant's stock is part of the total, so taking it out cannot leave the range.
        move_product_stock(&txn, variant.product_id, -variant.stock, None).await?;
        txn.commit().await?;
        Ok(())
    })
    .await
}

async fn scoped_variant<C: ConnectionTrait>(
    db: &C,
    scope: &StoreScope,
    variant_id: Uuid,
) -> Result<product_variants::Model> {
    let variant = product_variants::Entity::find_by_id(variant_id)
        .one(db)
        .await?
        .ok_or(Error::NotFound {
            entity: Table::ProductVariants,
        })?;
    ensure_product(db, scope, variant.product_id)
        .await
        .map_err(|_| Error::NotFound {
            entity: Table::ProductVariants,
        })?;
    Ok(variant)
}

fn stock_total_out_of_range() -> Error {
    Error::Invalid {
        field: "products.stock_quantity",
        violation: Violation::OutOfRange {
            min: 0,
            max: i64::from(i32::MAX),
        },
    }
}

/// Adds `delta` to a variant's stock and to its product's total in one transaction; the
/// variant never goes below zero nor past `i32::MAX`, nor does the product's total, and the
/// product moves between ACTIVE and OUT_OF_STOCK when its tracked total reaches zero. Returns
/// the variant's new stock.
///
/// Locks are taken in one order, the product row first, so that concurrent moves on the
/// variants of one product queue behind each other instead of deadlocking (on MariaDB the
/// variant update's check of its product would otherwise share-lock the product row that
/// the other transaction then waits to update).
///
/// # Errors
/// [`Error::InsufficientStock`]; [`Error::Invalid`] naming `variants.stock` or
/// `stock_quantity` for a result past `i32::MAX` (nothing changes either way);
/// [`Error::NotFound`] when the store has no such variant on a live product.
#[tracing::instrument(skip_all, err, fields(store_id = %scope.store_id(), variant_id = %variant_id))]
pub async fn update_stock<C>(
    db: &C,
    scope: &StoreScope,
    variant_id: Uuid,
    delta: i32,
) -> Result<i32>
where
    C: ConnectionTrait + TransactionTrait,
{
    retry_transient(db, || async {
        let txn = begin_write(db).await?;
        let not_found = || Error::NotFound {
            entity: Table::ProductVariants,
        };
        let product_id = lock_product_of(
            &txn,
            scope,
            variant_id,
            product_variants::Column::Id,
            product_variants::Column::ProductId,
        )
        .await?
        .ok_or_else(not_found)?;
        let done = product_variants::Entity::update_many()
            .col_expr(
                product_variants::Column::Stock,
                Expr::col(product_variants::Column::Stock).add(delta),
            )
            .col_expr(
                product_variants::Column::UpdatedAt,
                Expr::value(clock::now()),
            )
            .filter(product_variants::Column::Id.eq(variant_id))
            .filter(product_variants::Column::ProductId.eq(product_id))
            .filter(stays_in_range(product_variants::Column::Stock, delta))
            .exec(&txn)
            .await
            .on_table("product_variants")?;
        // Read under the product's lock: no other move of this variant can come in between.
        let stock: i32 = current(
            product_variants::Entity::find_by_id(variant_id)
                .select_only()
                .column(product_variants::Column::Stock),
            txn.get_database_backend(),
        )
        .into_tuple()
        .one(&txn)
        .await?
        .ok_or_else(not_found)?;
        if done.rows_affected == 0 {
            return Err(if delta > 0 {
                too_much("product_variants.stock")
            } else {
                Error::InsufficientStock {
                    requested: delta.saturating_neg(),
                    available: stock,
                }
            });
        }
        if !move_product_stock(&txn, product_id, delta, None).await? {
            return Err(too_much("products.stock_quantity"));
        }
        txn.commit().await?;
        Ok(stock)
    })
    .await
}
