//! Variants and images of a product.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset};
use entity::{product_images, product_variants};
use rust_decimal::Decimal;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, TransactionSession, TransactionTrait,
};
use uuid::Uuid;

use super::lock::{count_children, current, lock_product, lock_product_of};
use super::stock::move_product_stock;
use super::values::{self, Sku};
use super::{IMAGES_MAX, Image, TITLE_MAX, VARIANTS_MAX, Variant, ensure_product};
use crate::clock;
use crate::db::begin_write;
use crate::error::{Error, Result, Table, Violation};
use crate::money::Money;
use crate::rules::OnTable;
use crate::scope::StoreScope;
use crate::txn::retry_transient;
use crate::values::{HttpUrl, optional_text, required_text};

/// A variant to add to a product.
#[derive(Debug, Clone, Default)]
pub struct NewVariant {
    /// Stock keeping unit, unique in the product.
    pub sku: Option<String>,
    /// Display title, e.g. "Red / L" (1 to 255 characters).
    pub title: String,
    /// What the store charges.
    pub price: Decimal,
    /// What the supplier charges.
    pub cost_price: Decimal,
    /// Units in stock.
    pub stock: i32,
    /// Option names and values, e.g. color → Red.
    pub options: BTreeMap<String, String>,
}

/// Changes to a variant; `None` leaves a field as it is. Stock moves through
/// [`super::adjust_variant_stock`].
#[derive(Debug, Clone, Default)]
pub struct VariantPatch {
    /// New SKU; `Some(None)` clears it.
    pub sku: Option<Option<String>>,
    /// New title.
    pub title: Option<String>,
    /// New price.
    pub price: Option<Decimal>,
    /// New cost price.
    pub cost_price: Option<Decimal>,
    /// New options.
    pub options: Option<BTreeMap<String, String>>,
}

/// An image to add to a product.
#[derive(Debug, Clone, Default)]
pub struct NewImage {
    /// Where the image is.
    pub original_url: String,
    /// Alternative text.
    pub alt_text: Option<String>,
}

pub(super) fn check_variant(
    store_id: Uuid,
    product_id: Uuid,
    new: NewVariant,
    now: DateTime<FixedOffset>,
) -> Result<product_variants::Model> {
    let sku = new
        .sku
        .as_deref()
        .map(|s| Sku::parse("variants.sku", s))
        .transpose()?;
    Ok(product_variants::Model {
        id: Uuid::now_v7(),
        product_id,
        store_id,
        sku: sku.map(|s| s.as_str().to_owned()),
        title: required_text("variants.title", &new.title, TITLE_MAX)?,
        price: Money::parse("variants.price", new.price)?.amount(),
        cost_price: Money::parse("variants.cost_price", new.cost_price)?.amount(),
        stock: values::stock("variants.stock", new.stock)?,
        options: values::options_json(values::options(new.options)?),
        created_at: now,
        updated_at: now,
    })
}

pub(super) fn check_image(
    store_id: Uuid,
    product_id: Uuid,
    new: NewImage,
    position: i32,
    now: DateTime<FixedOffset>,
) -> Result<product_images::Model> {
    Ok(product_images::Model {
        id: Uuid::now_v7(),
        product_id,
        store_id,
        original_url: HttpUrl::parse("images.original_url", &new.original_url)?.into(),
        processed_url: None,
        alt_text: optional_text("images.alt_text", new.alt_text.as_deref(), TITLE_MAX)?,
        position,
        created_at: now,
    })
}

pub(super) fn variant_from(m: product_variants::Model) -> Variant {
    Variant {
        id: m.id,
        product_id: m.product_id,
        sku: m.sku,
        title: m.title,
        price: Money::from_db(m.price),
        cost_price: Money::from_db(m.cost_price),
        stock: m.stock,
        // Written by the domain as a map of strings; anything else reads as no options.
        options: serde_json::from_value(m.options).unwrap_or_default(),
    }
}

pub(super) fn image_from(m: product_images::Model) -> Image {
    Image {
        id: m.id,
        product_id: m.product_id,
        original_url: m.original_url,
        processed_url: m.processed_url,
        alt_text: m.alt_text,
        position: m.position,
    }
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
pub async fn add_variant<C>(
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
        lock_product(&txn, scope, product_id).await?;
        let count = count_children(
            &txn,
            product_id,
            product_variants::Column::Id,
            product_variants::Column::ProductId,
        )
        .await?;
        if count >= VARIANTS_MAX {
            return Err(Error::Invalid {
                field: "variants",
                violation: Violation::TooMany { max: VARIANTS_MAX },
            });
        }
        product_variants::Entity::insert(model.clone().into_active_model())
            .exec_without_returning(&txn)
            .await
            .on_table("product_variants")?;
        if !move_product_stock(&txn, product_id, model.stock, None).await? {
            return Err(stock_total_out_of_range());
        }
        txn.commit().await?;
        Ok(variant_from(model.clone()))
    })
    .await
}

/// Changes a variant's SKU, title, prices or options.
///
/// # Errors
/// As [`add_variant`]; [`Error::NotFound`] for a variant not in the store.
pub async fn update_variant<C>(
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
        row.sku = Set(sku
            .as_deref()
            .map(|s| Sku::parse("variants.sku", s))
            .transpose()?
            .map(|s| s.as_str().to_owned()));
    }
    if let Some(title) = &patch.title {
        row.title = Set(required_text("variants.title", title, TITLE_MAX)?);
    }
    if let Some(price) = patch.price {
        row.price = Set(Money::parse("variants.price", price)?.amount());
    }
    if let Some(cost) = patch.cost_price {
        row.cost_price = Set(Money::parse("variants.cost_price", cost)?.amount());
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
        Ok(variant_from(updated))
    })
    .await
}

/// Removes a variant; its stock leaves the product's total.
///
/// # Errors
/// [`Error::NotFound`] for a variant not in the store.
pub async fn remove_variant<C>(db: &C, scope: &StoreScope, variant_id: Uuid) -> Result<()>
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
        field: "stock_quantity",
        violation: Violation::OutOfRange {
            min: 0,
            max: i64::from(i32::MAX),
        },
    }
}

/// Adds an image at the end of the product's gallery.
///
/// Runs under the product's row lock, so concurrent additions get contiguous positions and
/// cannot pass [`IMAGES_MAX`].
///
/// # Errors
/// [`Error::Invalid`] naming the field (or `images` when the gallery is full);
/// [`Error::NotFound`] for a product not in the store.
pub async fn add_image<C>(
    db: &C,
    scope: &StoreScope,
    product_id: Uuid,
    new: NewImage,
) -> Result<Image>
where
    C: ConnectionTrait + TransactionTrait,
{
    // Validated once, before any lock; the position is set under the lock.
    let checked = check_image(scope.store_id(), product_id, new, 0, clock::now())?;
    retry_transient(db, || async {
        let txn = begin_write(db).await?;
        lock_product(&txn, scope, product_id).await?;
        let count = count_children(
            &txn,
            product_id,
            product_images::Column::Id,
            product_images::Column::ProductId,
        )
        .await?;
        if count >= IMAGES_MAX {
            return Err(Error::Invalid {
                field: "images",
                violation: Violation::TooMany { max: IMAGES_MAX },
            });
        }
        let mut model = checked.clone();
        // Below IMAGES_MAX, so it fits.
        model.position = i32::try_from(count).unwrap_or(i32::MAX);
        product_images::Entity::insert(model.clone().into_active_model())
            .exec_without_returning(&txn)
            .await
            .on_table("product_images")?;
        txn.commit().await?;
        Ok(image_from(model))
    })
    .await
}

/// Puts the product's images in the order of `image_ids`, which must name each of them once.
///
/// # Errors
/// [`Error::Invalid`] naming `image_ids` with [`Violation::Format`] when the list is not
/// exactly the product's images; [`Error::NotFound`] for a product not in the store.
pub async fn reorder_images<C>(
    db: &C,
    scope: &StoreScope,
    product_id: Uuid,
    image_ids: &[Uuid],
) -> Result<Vec<Image>>
where
    C: ConnectionTrait + TransactionTrait,
{
    retry_transient(db, || async {
        let txn = begin_write(db).await?;
        lock_product(&txn, scope, product_id).await?;
        let mut existing: Vec<Uuid> = current(
            product_images::Entity::find()
                .select_only()
                .column(product_images::Column::Id)
                .filter(product_images::Column::ProductId.eq(product_id)),
            txn.get_database_backend(),
        )
        .into_tuple()
        .all(&txn)
        .await?;
        let mut wanted = image_ids.to_vec();
        existing.sort();
        wanted.sort();
        if existing != wanted {
            return Err(Error::Invalid {
                field: "image_ids",
                violation: Violation::Format,
            });
        }
        for (position, id) in (0i32..).zip(image_ids) {
            product_images::Entity::update_many()
                .col_expr(product_images::Column::Position, Expr::value(position))
                .filter(product_images::Column::Id.eq(*id))
                .exec(&txn)
                .await?;
        }
        let images = images_of(&txn, product_id).await?;
        txn.commit().await?;
        Ok(images)
    })
    .await
}

/// Removes an image; the ones after it move up, so positions stay 0, 1, 2, …
///
/// # Errors
/// [`Error::NotFound`] for an image not in the store.
pub async fn remove_image<C>(db: &C, scope: &StoreScope, image_id: Uuid) -> Result<Vec<Image>>
where
    C: ConnectionTrait + TransactionTrait,
{
    let not_found = || Error::NotFound {
        entity: Table::ProductImages,
    };
    retry_transient(db, || async {
        let txn = begin_write(db).await?;
        let product_id = lock_product_of(
            &txn,
            scope,
            image_id,
            product_images::Column::Id,
            product_images::Column::ProductId,
        )
        .await?
        .ok_or_else(not_found)?;
        // Read again under the lock: the position may have moved while this call waited.
        let image = current(
            product_images::Entity::find_by_id(image_id),
            txn.get_database_backend(),
        )
        .one(&txn)
        .await?
        .ok_or_else(not_found)?;
        product_images::Entity::delete_by_id(image.id)
            .exec(&txn)
            .await?;
        product_images::Entity::update_many()
            .col_expr(
                product_images::Column::Position,
                Expr::col(product_images::Column::Position).sub(1),
            )
            .filter(product_images::Column::ProductId.eq(product_id))
            .filter(product_images::Column::Position.gt(image.position))
            .exec(&txn)
            .await?;
        let images = images_of(&txn, product_id).await?;
        txn.commit().await?;
        Ok(images)
    })
    .await
}

async fn images_of<C: ConnectionTrait>(db: &C, product_id: Uuid) -> Result<Vec<Image>> {
    Ok(current(
        product_images::Entity::find()
            .filter(product_images::Column::ProductId.eq(product_id))
            .order_by_asc(product_images::Column::Position),
        db.get_database_backend(),
    )
    .all(db)
    .await?
    .into_iter()
    .map(image_from)
    .collect())
}
