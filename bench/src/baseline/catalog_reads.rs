//! The read side of the catalogue by hand: one product with its variants and images, a page
//! of products, and the get_product_by_id and list_products_page workloads built on them.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sea_orm::sqlx::postgres::{PgPool, PgRow};
use sea_orm::sqlx::types::Json;
use sea_orm::sqlx::{self, Row};
use uuid::Uuid;

use crate::data::{Rng, share};
use crate::report::{Impl, Measurement, Timer};
use crate::run::concurrently;
use crate::workloads::{CONCURRENCY, PAGE_SIZE};
use crate::{BenchResult, context};

/// A product as the baseline reads it: the same fields as `domain::products::Product`.
#[derive(Debug, Clone)]
pub struct Product {
    /// Id.
    pub id: Uuid,
    /// Store.
    pub store_id: Uuid,
    /// Supplier.
    pub source_provider: String,
    /// Supplier's id.
    pub source_id: String,
    /// Supplier's page.
    pub source_url: Option<String>,
    /// Title.
    pub title: String,
    /// Supplier's title.
    pub original_title: String,
    /// Description.
    pub description: String,
    /// Slug.
    pub slug: String,
    /// Cost.
    pub cost_price: Decimal,
    /// Price.
    pub selling_price: Decimal,
    /// Was-price.
    pub compare_at_price: Option<Decimal>,
    /// Currency.
    pub currency: String,
    /// Stock.
    pub stock_quantity: i32,
    /// Tracked.
    pub track_inventory: bool,
    /// SEO title.
    pub meta_title: Option<String>,
    /// SEO description.
    pub meta_description: Option<String>,
    /// Status.
    pub status: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Updated.
    pub updated_at: DateTime<Utc>,
    /// Variants, oldest first.
    pub variants: Vec<Variant>,
    /// Images, by position.
    pub images: Vec<Image>,
}

/// A variant as the baseline reads it.
#[derive(Debug, Clone)]
pub struct Variant {
    /// Id.
    pub id: Uuid,
    /// Product.
    pub product_id: Uuid,
    /// SKU.
    pub sku: Option<String>,
    /// Title.
    pub title: String,
    /// Price.
    pub price: Decimal,
    /// Cost.
    pub cost_price: Decimal,
    /// Stock.
    pub stock: i32,
    /// Options.
    pub options: BTreeMap<String, String>,
}

/// An image as the baseline reads it.
#[derive(Debug, Clone)]
pub struct Image {
    /// Id.
    pub id: Uuid,
    /// Product.
    pub product_id: Uuid,
    /// Source.
    pub original_url: String,
    /// Processed version.
    pub processed_url: Option<String>,
    /// Alt text.
    pub alt_text: Option<String>,
    /// Position.
    pub position: i32,
}

const PRODUCT_COLUMNS: &str = "id, store_id, source_provider::text AS source_provider, source_id, \
     source_url, title, original_title, description, slug, cost_price, selling_price, \
     compare_at_price, currency, stock_quantity, track_inventory, meta_title, meta_description, \
     status::text AS status, created_at, updated_at";

const GET_PRODUCT: &str = "SELECT id, store_id, source_provider::text AS source_provider, \
     source_id, source_url, title, original_title, description, slug, cost_price, \
     selling_price, compare_at_price, currency, stock_quantity, track_inventory, meta_title, \
     meta_description, status::text AS status, created_at, updated_at \
     FROM products WHERE id = $1 AND store_id = $2 AND deleted_at IS NULL";
const VARIANTS_OF: &str = "SELECT id, product_id, sku, title, price, cost_price, stock, options \
     FROM product_variants WHERE product_id = $1 ORDER BY id";
const IMAGES_OF: &str = "SELECT id, product_id, original_url, processed_url, alt_text, position \
     FROM product_images WHERE product_id = $1 ORDER BY position";

const FIRST_PAGE: &str = "SELECT id, store_id, source_provider::text AS source_provider, \
     source_id, source_url, title, original_title, description, slug, cost_price, \
     selling_price, compare_at_price, currency, stock_quantity, track_inventory, meta_title, \
     meta_description, status::text AS status, created_at, updated_at \
     FROM products WHERE store_id = $1 AND deleted_at IS NULL AND status = 'ACTIVE' \
     ORDER BY id DESC LIMIT $2";
const NEXT_PAGE: &str = "SELECT id, store_id, source_provider::text AS source_provider, \
     source_id, source_url, title, original_title, description, slug, cost_price, \
     selling_price, compare_at_price, currency, stock_quantity, track_inventory, meta_title, \
     meta_description, status::text AS status, created_at, updated_at \
     FROM products WHERE store_id = $1 AND deleted_at IS NULL AND status = 'ACTIVE' \
     AND id < $3 ORDER BY id DESC LIMIT $2";
const VARIANTS_OF_MANY: &str = "SELECT id, product_id, sku, title, price, cost_price, stock, \
     options FROM product_variants WHERE product_id = ANY($1) ORDER BY id";
const IMAGES_OF_MANY: &str = "SELECT id, product_id, original_url, processed_url, alt_text, \
     position FROM product_images WHERE product_id = ANY($1) ORDER BY position";

/// The columns of the product queries, for the plans printed by the scale mode.
pub fn product_columns() -> &'static str {
    PRODUCT_COLUMNS
}

fn product_from(row: &PgRow) -> Result<Product, sqlx::Error> {
    Ok(Product {
        id: row.try_get(0)?,
        store_id: row.try_get(1)?,
        source_provider: row.try_get(2)?,
        source_id: row.try_get(3)?,
        source_url: row.try_get(4)?,
        title: row.try_get(5)?,
        original_title: row.try_get(6)?,
        description: row.try_get(7)?,
        slug: row.try_get(8)?,
        cost_price: row.try_get(9)?,
        selling_price: row.try_get(10)?,
        compare_at_price: row.try_get(11)?,
        currency: row.try_get(12)?,
        stock_quantity: row.try_get(13)?,
        track_inventory: row.try_get(14)?,
        meta_title: row.try_get(15)?,
        meta_description: row.try_get(16)?,
        status: row.try_get(17)?,
        created_at: row.try_get(18)?,
        updated_at: row.try_get(19)?,
        variants: Vec::new(),
        images: Vec::new(),
    })
}

fn variant_from(row: &PgRow) -> Result<Variant, sqlx::Error> {
    let options: Json<BTreeMap<String, String>> = row.try_get(7)?;
    Ok(Variant {
        id: row.try_get(0)?,
        product_id: row.try_get(1)?,
        sku: row.try_get(2)?,
        title: row.try_get(3)?,
        price: row.try_get(4)?,
        cost_price: row.try_get(5)?,
        stock: row.try_get(6)?,
        options: options.0,
    })
}

fn image_from(row: &PgRow) -> Result<Image, sqlx::Error> {
    Ok(Image {
        id: row.try_get(0)?,
        product_id: row.try_get(1)?,
        original_url: row.try_get(2)?,
        processed_url: row.try_get(3)?,
        alt_text: row.try_get(4)?,
        position: row.try_get(5)?,
    })
}

/// One product of the store with its variants and images: three statements, as the domain.
///
/// # Errors
/// A database error.
pub async fn get(pool: &PgPool, store_id: Uuid, id: Uuid) -> Result<Option<Product>, sqlx::Error> {
    let Some(row) = sqlx::query(GET_PRODUCT)
        .bind(id)
        .bind(store_id)
        .fetch_optional(pool)
        .await?
    else {
        return Ok(None);
    };
    let mut product = product_from(&row)?;
    product.variants = sqlx::query(VARIANTS_OF)
        .bind(id)
        .fetch_all(pool)
        .await?
        .iter()
        .map(variant_from)
        .collect::<Result<_, _>>()?;
    product.images = sqlx::query(IMAGES_OF)
        .bind(id)
        .fetch_all(pool)
        .await?
        .iter()
        .map(image_from)
        .collect::<Result<_, _>>()?;
    Ok(Some(product))
}

/// A page of `limit` ACTIVE products after `after`, newest first, with variants and
/// images (three statements), and the cursor of the next page.
///
/// # Errors
/// A database error.
pub async fn list(
    pool: &PgPool,
    store_id: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> Result<(Vec<Product>, Option<Uuid>), sqlx::Error> {
    let rows = match after {
        None => {
            sqlx::query(FIRST_PAGE)
                .bind(store_id)
                .bind(limit + 1)
                .fetch_all(pool)
                .await?
        }
        Some(after) => {
            sqlx::query(NEXT_PAGE)
                .bind(store_id)
                .bind(limit + 1)
                .bind(after)
                .fetch_all(pool)
                .await?
        }
    };
    let mut products: Vec<Product> = rows.iter().map(product_from).collect::<Result<_, _>>()?;
    let more = products.len() as i64 > limit;
    products.truncate(usize::try_from(limit).unwrap_or(0));
    let next = if more {
        products.last().map(|p| p.id)
    } else {
        None
    };
    if products.is_empty() {
        return Ok((products, next));
    }
    let ids: Vec<Uuid> = products.iter().map(|p| p.id).collect();
    let mut variants: HashMap<Uuid, Vec<Variant>> = HashMap::with_capacity(ids.len());
    for row in sqlx::query(VARIANTS_OF_MANY)
        .bind(&ids)
        .fetch_all(pool)
        .await?
    {
        let v = variant_from(&row)?;
        variants.entry(v.product_id).or_default().push(v);
    }
    let mut images: HashMap<Uuid, Vec<Image>> = HashMap::with_capacity(ids.len());
    for row in sqlx::query(IMAGES_OF_MANY)
        .bind(&ids)
        .fetch_all(pool)
        .await?
    {
        let i = image_from(&row)?;
        images.entry(i.product_id).or_default().push(i);
    }
    for p in &mut products {
        p.variants = variants.remove(&p.id).unwrap_or_default();
        p.images = images.remove(&p.id).unwrap_or_default();
    }
    Ok((products, next))
}

/// get_product_by_id through the baseline (see [`crate::workloads::get_product_by_id`]).
///
/// # Errors
/// A database error.
pub async fn get_product_by_id(
    pool: &PgPool,
    store_id: Uuid,
    ids: Arc<Vec<Uuid>>,
    ops: usize,
    variants: usize,
    seed: u64,
) -> BenchResult<(Measurement, usize)> {
    let timer = Timer::start();
    let wrong = concurrently(CONCURRENCY, |task| {
        let pool = pool.clone();
        let ids = Arc::clone(&ids);
        async move {
            let mut rng = Rng::new(seed + task as u64);
            let mut wrong = 0;
            for _ in 0..share(ops, CONCURRENCY, task) {
                let id = ids[rng.below(ids.len())];
                match get(&pool, store_id, id)
                    .await
                    .map_err(context("sqlx get"))?
                {
                    Some(p) if p.variants.len() == variants && p.images.len() == 2 => {}
                    _ => wrong += 1,
                }
            }
            Ok(wrong)
        }
    })
    .await?
    .into_iter()
    .sum();
    Ok((
        timer.measurement("get_product_by_id", Impl::Sqlx, ops as u64),
        wrong,
    ))
}

/// list_products_page through the baseline (see [`crate::workloads::list_products_page`]).
///
/// # Errors
/// A database error.
pub async fn list_products_page(
    pool: &PgPool,
    store_id: Uuid,
    requests: usize,
) -> BenchResult<(Measurement, u64)> {
    let timer = Timer::start();
    let rows = concurrently(CONCURRENCY, |task| {
        let pool = pool.clone();
        async move {
            let mut after = None;
            let mut rows = 0u64;
            for _ in 0..share(requests, CONCURRENCY, task) {
                let limit = i64::try_from(PAGE_SIZE).unwrap_or(50);
                let (page, next) = list(&pool, store_id, after, limit)
                    .await
                    .map_err(context("sqlx list"))?;
                rows += page.len() as u64;
                after = next;
            }
            Ok(rows)
        }
    })
    .await?
    .into_iter()
    .sum();
    Ok((
        timer.measurement("list_products_page", Impl::Sqlx, requests as u64),
        rows,
    ))
}
