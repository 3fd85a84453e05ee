//! Reading products with their variants and images: by id, or a page of a store's catalogue.

use std::collections::HashMap;

use entity::{product_images, product_variants, products};
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::images::{self, Image};
use super::model::{Product, ProductQuery, TITLE_MAX};
use super::rows;
use super::variants::{self, Variant};
use crate::error::{Error, Result, Table};
use crate::money::Money;
use crate::paging::Page;
use crate::scope::StoreScope;
use crate::values::{Currency, optional_text};

/// The text a product search compares with: the title in lower case by Unicode's rules, the
/// same on every backend (SQLite's `LOWER()` only folds ASCII).
pub(crate) fn search_key(title: &str) -> String {
    title.to_lowercase()
}

pub(super) fn assemble(
    product: products::Model,
    variants: Vec<product_variants::Model>,
    images: Vec<product_images::Model>,
) -> Result<Product> {
    product_with(
        product,
        variants
            .into_iter()
            .map(variants::variant_from)
            .collect::<Result<_>>()?,
        images.into_iter().map(images::image_from).collect(),
    )
}

/// A product from its row and its children; a stored currency this build does not know is
/// [`Error::Undecodable`], never a silent default.
fn product_with(
    product: products::Model,
    variants: Vec<Variant>,
    images: Vec<Image>,
) -> Result<Product> {
    let currency = Currency::from_stored(&product.currency).ok_or(Error::Undecodable {
        table: Table::Products,
        column: "currency",
        row: product.id,
    })?;
    Ok(Product {
        id: product.id,
        store_id: product.store_id,
        source_provider: product.source_provider,
        source_id: product.source_id,
        source_url: product.source_url,
        title: product.title,
        original_title: product.original_title,
        description: product.description,
        slug: product.slug,
        cost_price: Money::from_db(product.cost_price),
        selling_price: Money::from_db(product.selling_price),
        compare_at_price: product.compare_at_price.map(Money::from_db),
        currency,
        stock_quantity: product.stock_quantity,
        track_inventory: product.track_inventory,
        meta_title: product.meta_title,
        meta_description: product.meta_description,
        status: product.status,
        created_at: product.created_at,
        updated_at: product.updated_at,
        variants,
        images,
    })
}

/// The scope's live product `id`, with its variants and images (three queries).
///
/// # Errors
/// [`Error::NotFound`] when there is no such product in the store (or it is deleted).
#[tracing::instrument(skip_all, err, fields(store_id = %scope.store_id(), product_id = %id))]
pub async fn get<C: ConnectionTrait>(db: &C, scope: &StoreScope, id: Uuid) -> Result<Product> {
    let product = live(scope)
        .filter(products::Column::Id.eq(id))
        .into_model::<rows::ProductRow>()
        .one(db)
        .await?
        .ok_or(Error::NotFound {
            entity: Table::Products,
        })?
        .0;
    let mut loaded = load_children(db, vec![product]).await?;
    loaded.pop().ok_or(Error::NotFound {
        entity: Table::Products,
    })
}

/// The scope's live products.
pub(super) fn live(scope: &StoreScope) -> sea_orm::Select<products::Entity> {
    products::Entity::find()
        .filter(products::Column::StoreId.eq(scope.store_id()))
        .filter(products::Column::DeletedAt.is_null())
}

/// Attaches variants and images to `rows` with one query each, whatever their number.
async fn load_children<C: ConnectionTrait>(
    db: &C,
    rows: Vec<products::Model>,
) -> Result<Vec<Product>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = rows.iter().map(|p| p.id).collect();
    let mut variants: HashMap<Uuid, Vec<Variant>> = HashMap::with_capacity(rows.len());
    for rows::VariantRow(v) in product_variants::Entity::find()
        .select_only()
        .columns(rows::VARIANT_COLUMNS)
        .filter(product_variants::Column::ProductId.is_in(ids.clone()))
        .order_by_asc(product_variants::Column::Id)
        .into_model::<rows::VariantRow>()
        .all(db)
        .await?
    {
        let v = v.map_err(|row| Error::Undecodable {
            table: Table::ProductVariants,
            column: "options",
            row,
        })?;
        variants.entry(v.product_id).or_default().push(v);
    }
    let mut images: HashMap<Uuid, Vec<Image>> = HashMap::with_capacity(rows.len());
    for rows::ImageRow(i) in product_images::Entity::find()
        .select_only()
        .columns(rows::IMAGE_COLUMNS)
        .filter(product_images::Column::ProductId.is_in(ids))
        .order_by_asc(product_images::Column::Position)
        .into_model::<rows::ImageRow>()
        .all(db)
        .await?
    {
        images.entry(i.product_id).or_default().push(i);
    }
    rows.into_iter()
        .map(|p| {
            let v = variants.remove(&p.id).unwrap_or_default();
            let i = images.remove(&p.id).unwrap_or_default();
            product_with(p, v, i)
        })
        .collect()
}

/// A page of the scope's products, newest first, filtered by status and title, with their
/// variants and images: three queries per page, whatever its size.
///
/// # Errors
/// [`Error::Invalid`] naming `limit` for a page size out of range, or `search` when too long.
#[tracing::instrument(skip_all, err, fields(store_id = %scope.store_id()))]
pub async fn list<C: ConnectionTrait>(
    db: &C,
    scope: &StoreScope,
    query: ProductQuery,
) -> Result<Page<Product>> {
    let limit = query.page.checked_limit()?;
    let mut select = live(scope)
        .order_by_desc(products::Column::Id)
        .limit(limit + 1);
    if let Some(status) = query.status {
        select = select.filter(products::Column::Status.eq(status));
    }
    if let Some(search) = optional_text("search", query.search.as_deref(), TITLE_MAX)? {
        // LIKE metacharacters in the search text are matched literally.
        let escaped = search_key(&search)
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        select = select.filter(
            Condition::all().add(
                Expr::col(products::Column::SearchTitle)
                    .like(LikeExpr::new(format!("%{escaped}%")).escape('\\')),
            ),
        );
    }
    if let Some(cursor) = query.page.after {
        select = select.filter(products::Column::Id.lt(cursor.last_id()));
    }
    let rows = select
        .into_model::<rows::ProductRow>()
        .all(db)
        .await?
        .into_iter()
        .map(|row| row.0)
        .collect();
    let page = Page::from_rows(rows, limit, |p: &products::Model| p.id);
    Ok(Page {
        items: load_children(db, page.items).await?,
        next: page.next,
    })
}

/// Checks that the scope's store has the live product `id`, for functions on its children.
pub(super) async fn ensure_product<C: ConnectionTrait>(
    db: &C,
    scope: &StoreScope,
    id: Uuid,
) -> Result<()> {
    ensure_product_with(db, scope, id, |query| query).await
}

/// [`ensure_product`] with the query passed through `shape` first (the lock module makes it a
/// locking read).
pub(super) async fn ensure_product_with<C: ConnectionTrait>(
    db: &C,
    scope: &StoreScope,
    id: Uuid,
    shape: impl FnOnce(sea_orm::Select<products::Entity>) -> sea_orm::Select<products::Entity>,
) -> Result<()> {
    shape(
        live(scope)
            .select_only()
            .column(products::Column::Id)
            .filter(products::Column::Id.eq(id)),
    )
    .into_tuple::<Uuid>()
    .one(db)
    .await?
    .map(|_| ())
    .ok_or(Error::NotFound {
        entity: Table::Products,
    })
}
