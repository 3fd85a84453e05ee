//! The images of a product (table `product_images`): a gallery whose positions are always
//! 0, 1, 2, …

use chrono::{DateTime, FixedOffset};
use entity::product_images;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, TransactionSession, TransactionTrait,
};
use uuid::Uuid;

use super::lock::{current, lock_product, lock_product_of, lock_with_room};
use super::model::{IMAGES_MAX, TITLE_MAX};
use crate::clock;
use crate::db::begin_write;
use crate::error::{Error, Result, Table, Violation};
use crate::scope::StoreScope;
use crate::txn::retry_transient;
use crate::values::{HttpUrl, optional_text};
use crate::violations::OnTable;

/// An image of a product.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// The image's id.
    pub id: Uuid,
    /// Its product.
    pub product_id: Uuid,
    /// Where it came from.
    pub original_url: String,
    /// The processed version, once the image agent has made one.
    pub processed_url: Option<String>,
    /// Alternative text.
    pub alt_text: Option<String>,
    /// 0-based place in the gallery; positions of a product are always 0, 1, 2, …
    pub position: i32,
}

/// An image to add to a product.
#[derive(Debug, Clone)]
pub struct NewImage {
    /// Where the image is.
    pub original_url: HttpUrl,
    /// Alternative text.
    pub alt_text: Option<String>,
}

impl NewImage {
    /// An image at `original_url`, without alternative text.
    pub fn new(original_url: HttpUrl) -> Self {
        Self {
            original_url,
            alt_text: None,
        }
    }
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
        original_url: new.original_url.into(),
        processed_url: None,
        alt_text: optional_text(
            "product_images.alt_text",
            new.alt_text.as_deref(),
            TITLE_MAX,
        )?,
        position,
        created_at: now,
    })
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

/// Adds an image at the end of the product's gallery.
///
/// Runs under the product's row lock, so concurrent additions get contiguous positions and
/// cannot pass [`IMAGES_MAX`].
///
/// # Errors
/// [`Error::Invalid`] naming the field (or `images` when the gallery is full);
/// [`Error::NotFound`] for a product not in the store.
#[tracing::instrument(skip_all, err, fields(store_id = %scope.store_id(), product_id = %product_id))]
pub async fn create<C>(db: &C, scope: &StoreScope, product_id: Uuid, new: NewImage) -> Result<Image>
where
    C: ConnectionTrait + TransactionTrait,
{
    // Validated once, before any lock; the position is set under the lock.
    let checked = check_image(scope.store_id(), product_id, new, 0, clock::now())?;
    retry_transient(db, || async {
        let txn = begin_write(db).await?;
        let count = lock_with_room(
            &txn,
            scope,
            product_id,
            (
                product_images::Column::Id,
                product_images::Column::ProductId,
            ),
            ("product_images", IMAGES_MAX),
        )
        .await?;
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
#[tracing::instrument(skip_all, err, fields(store_id = %scope.store_id(), product_id = %product_id))]
pub async fn update_positions<C>(
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
        commit_with_images(txn, product_id).await
    })
    .await
}

/// Removes an image; the ones after it move up, so positions stay 0, 1, 2, …
///
/// # Errors
/// [`Error::NotFound`] for an image not in the store.
#[tracing::instrument(skip_all, err, fields(store_id = %scope.store_id(), image_id = %image_id))]
pub async fn delete<C>(db: &C, scope: &StoreScope, image_id: Uuid) -> Result<Vec<Image>>
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
        commit_with_images(txn, product_id).await
    })
    .await
}

/// Reads the product's gallery as the transaction left it, then commits.
async fn commit_with_images<T: TransactionSession + ConnectionTrait>(
    txn: T,
    product_id: Uuid,
) -> Result<Vec<Image>> {
    let images = images_of(&txn, product_id).await?;
    txn.commit().await?;
    Ok(images)
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
