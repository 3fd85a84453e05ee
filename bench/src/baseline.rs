//! The baseline: the same work as hand-written SQL through `sqlx` (re-exported by sea-orm),
//! on its own pool of 10 connections. Each function makes the statements and round trips a
//! careful engineer would, and returns the same rows as the domain call it stands beside.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use domain::products::NewProduct;
use rust_decimal::Decimal;
use sea_orm::sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sea_orm::sqlx::types::Json;
use sea_orm::sqlx::{self, Row};
use serde_json::Value;
use uuid::Uuid;

use crate::data::{Rng, share};
use crate::report::{Impl, Measurement, Report, Timer};
use crate::run::concurrently;
use crate::workloads::{CONCURRENCY, PAGE_SIZE, job_input, job_output};
use crate::{BenchResult, context};

/// The baseline's own pool: 10 connections, configured like the domain's: a connection is
/// pinged before it is handed out only after `domain::db::PING_IF_IDLE_FOR` of idleness,
/// rather than on every checkout (sqlx's default, one more round trip per statement).
///
/// # Errors
/// When the database cannot be reached.
pub async fn pool(url: &str) -> BenchResult<PgPool> {
    PgPoolOptions::new()
        .max_connections(10)
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= domain::db::PING_IF_IDLE_FOR {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
        .connect(url)
        .await
        .map_err(context("sqlx pool"))
}

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

const INSERT_PRODUCTS: &str = "INSERT INTO products (id, store_id, source_provider, source_id, \
     source_url, title, original_title, description, slug, cost_price, selling_price, \
     compare_at_price, currency, stock_quantity, track_inventory, meta_title, meta_description, \
     status, created_at, updated_at) \
     SELECT u.id, $2, u.provider::supplier_provider, u.source_id, u.source_url, u.title, \
     u.original_title, u.description, u.slug, u.cost_price, u.selling_price, \
     u.compare_at_price, u.currency, u.stock_quantity, u.track_inventory, u.meta_title, \
     u.meta_description, u.status::product_status, $3, $3 \
     FROM UNNEST($1::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], \
     $9::text[], $10::text[], $11::numeric[], $12::numeric[], $13::numeric[], $14::text[], \
     $15::int4[], $16::bool[], $17::text[], $18::text[], $19::text[]) \
     AS u(id, provider, source_id, source_url, title, original_title, description, slug, \
     cost_price, selling_price, compare_at_price, currency, stock_quantity, track_inventory, \
     meta_title, meta_description, status)";
const INSERT_VARIANTS: &str = "INSERT INTO product_variants (id, product_id, sku, title, price, \
     cost_price, stock, options, created_at, updated_at, store_id) \
     SELECT u.id, u.product_id, u.sku, u.title, u.price, u.cost_price, u.stock, u.options, $1, $1, \
     $10 \
     FROM UNNEST($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::numeric[], $7::numeric[], \
     $8::int4[], $9::jsonb[]) AS u(id, product_id, sku, title, price, cost_price, stock, options)";
const INSERT_IMAGES: &str = "INSERT INTO product_images (id, product_id, original_url, \
     processed_url, alt_text, position, created_at, store_id) \
     SELECT u.id, u.product_id, u.original_url, NULL, u.alt_text, u.position, $1, $7 \
     FROM UNNEST($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::int4[]) \
     AS u(id, product_id, original_url, alt_text, position)";

/// A URL slug from a title: lower-case ASCII letters and digits, runs of anything else as
/// one `-`.
fn slug(title: &str) -> String {
    let mut out = String::with_capacity(title.len());
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

fn status_text(p: &NewProduct, stock: i32) -> &'static str {
    use domain::products::ProductStatus::{Active, Archived, Draft, OutOfStock};
    match p.status.unwrap_or(Draft) {
        Active if p.track_inventory && stock == 0 => "OUT_OF_STOCK",
        Active => "ACTIVE",
        OutOfStock if !p.track_inventory || stock > 0 => "ACTIVE",
        OutOfStock => "OUT_OF_STOCK",
        Archived => "ARCHIVED",
        Draft => "DRAFT",
    }
}

/// One batch of the import: the products, their variants and images in one transaction of
/// three `INSERT … SELECT FROM UNNEST(…)` statements (one bind per column, whatever the
/// batch size). Returns the new ids.
///
/// # Errors
/// A database error.
pub async fn insert_batch(
    pool: &PgPool,
    store_id: Uuid,
    batch: &[NewProduct],
) -> Result<Vec<Uuid>, sqlx::Error> {
    let now = Utc::now();
    let n = batch.len();
    let mut p_id = Vec::with_capacity(n);
    let (mut p_provider, mut p_source_id, mut p_source_url) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut p_title, mut p_original, mut p_description, mut p_slug) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut p_cost, mut p_selling, mut p_compare, mut p_currency) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut p_stock, mut p_track, mut p_meta_title, mut p_meta_description, mut p_status) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let variants = batch.iter().map(|p| p.variants.len()).sum();
    let (mut v_id, mut v_product, mut v_sku, mut v_title) = (
        Vec::with_capacity(variants),
        Vec::with_capacity(variants),
        Vec::with_capacity(variants),
        Vec::with_capacity(variants),
    );
    let (mut v_price, mut v_cost, mut v_stock, mut v_options) = (
        Vec::with_capacity(variants),
        Vec::with_capacity(variants),
        Vec::with_capacity(variants),
        Vec::with_capacity(variants),
    );
    let images = batch.iter().map(|p| p.images.len()).sum();
    let (mut i_id, mut i_product, mut i_url, mut i_alt, mut i_position) = (
        Vec::with_capacity(images),
        Vec::with_capacity(images),
        Vec::with_capacity(images),
        Vec::with_capacity(images),
        Vec::with_capacity(images),
    );
    for p in batch {
        let id = Uuid::now_v7();
        let stock = if p.variants.is_empty() {
            p.stock_quantity
        } else {
            p.variants.iter().map(|v| v.stock).sum()
        };
        p_id.push(id);
        p_provider.push(match p.source_provider {
            domain::products::SupplierProvider::Aliexpress => "ALIEXPRESS",
            domain::products::SupplierProvider::CjDropshipping => "CJ_DROPSHIPPING",
            domain::products::SupplierProvider::Spocket => "SPOCKET",
        });
        p_source_id.push(p.source_id.as_str());
        p_source_url.push(p.source_url.as_ref().map(|u| u.as_str()));
        p_title.push(p.title.as_str());
        p_original.push(p.original_title.as_deref().unwrap_or(&p.title));
        p_description.push(p.description.as_str());
        p_slug.push(slug(&p.title));
        p_cost.push(p.cost_price.amount());
        p_selling.push(p.selling_price.amount());
        p_compare.push(p.compare_at_price.map(|m| m.amount()));
        p_currency.push(p.currency.code());
        p_stock.push(stock);
        p_track.push(p.track_inventory);
        p_meta_title.push(p.meta_title.as_deref());
        p_meta_description.push(p.meta_description.as_deref());
        p_status.push(status_text(p, stock));
        for v in &p.variants {
            v_id.push(Uuid::now_v7());
            v_product.push(id);
            v_sku.push(v.sku.as_ref().map(|s| s.as_str()));
            v_title.push(v.title.as_str());
            v_price.push(v.price.amount());
            v_cost.push(v.cost_price.amount());
            v_stock.push(v.stock);
            v_options.push(Json(&v.options));
        }
        for (position, image) in (0..).zip(&p.images) {
            i_id.push(Uuid::now_v7());
            i_product.push(id);
            i_url.push(image.original_url.as_str());
            i_alt.push(image.alt_text.as_deref());
            i_position.push(position);
        }
    }
    let mut txn = pool.begin().await?;
    sqlx::query(INSERT_PRODUCTS)
        .bind(&p_id)
        .bind(store_id)
        .bind(now)
        .bind(&p_provider)
        .bind(&p_source_id)
        .bind(&p_source_url)
        .bind(&p_title)
        .bind(&p_original)
        .bind(&p_description)
        .bind(&p_slug)
        .bind(&p_cost)
        .bind(&p_selling)
        .bind(&p_compare)
        .bind(&p_currency)
        .bind(&p_stock)
        .bind(&p_track)
        .bind(&p_meta_title)
        .bind(&p_meta_description)
        .bind(&p_status)
        .execute(&mut *txn)
        .await?;
    if !v_id.is_empty() {
        sqlx::query(INSERT_VARIANTS)
            .bind(now)
            .bind(&v_id)
            .bind(&v_product)
            .bind(&v_sku)
            .bind(&v_title)
            .bind(&v_price)
            .bind(&v_cost)
            .bind(&v_stock)
            .bind(&v_options)
            .bind(store_id)
            .execute(&mut *txn)
            .await?;
    }
    if !i_id.is_empty() {
        sqlx::query(INSERT_IMAGES)
            .bind(now)
            .bind(&i_id)
            .bind(&i_product)
            .bind(&i_url)
            .bind(&i_alt)
            .bind(&i_position)
            .bind(store_id)
            .execute(&mut *txn)
            .await?;
    }
    txn.commit().await?;
    Ok(p_id)
}

/// import_products through the baseline: one transaction per batch.
///
/// # Errors
/// A database error.
pub async fn import_products(
    pool: &PgPool,
    store_id: Uuid,
    batches: &[Vec<NewProduct>],
) -> BenchResult<(Measurement, Vec<Uuid>)> {
    let count: usize = batches.iter().map(Vec::len).sum();
    let mut ids = Vec::with_capacity(count);
    let timer = Timer::start();
    for batch in batches {
        ids.extend(
            insert_batch(pool, store_id, batch)
                .await
                .map_err(context("sqlx import"))?,
        );
    }
    Ok((
        timer.measurement("import_products", Impl::Sqlx, count as u64),
        ids,
    ))
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

const ENQUEUE: &str = "INSERT INTO agent_jobs (id, store_id, type, status, priority, input, \
     progress, created_at, updated_at, attempts, max_attempts, run_at) \
     SELECT u.id, $1, u.type::agent_type, 'PENDING', 0, u.input, 0, $2, $2, 0, 3, $2 \
     FROM UNNEST($3::uuid[], $4::text[], $5::jsonb[]) AS u(id, type, input)";

/// Enqueues `jobs` PENDING jobs of `store_id` (the same inputs as the domain's) in one
/// statement.
///
/// # Errors
/// A database error.
pub async fn enqueue(pool: &PgPool, store_id: Option<Uuid>, jobs: usize) -> BenchResult<()> {
    let ids: Vec<Uuid> = (0..jobs).map(|_| Uuid::now_v7()).collect();
    let types: Vec<&str> = vec!["PRODUCT_SCOUT"; jobs];
    let inputs: Vec<Value> = (0..jobs)
        .map(|i| match job_input(i) {
            domain::agent_jobs::JobInput::ProductScout(search) => {
                serde_json::to_value(&search).unwrap_or(Value::Null)
            }
            _ => Value::Null,
        })
        .collect();
    sqlx::query(ENQUEUE)
        .bind(store_id)
        .bind(Utc::now())
        .bind(&ids)
        .bind(&types)
        .bind(&inputs)
        .execute(pool)
        .await
        .map_err(context("sqlx enqueue"))?;
    Ok(())
}

/// The claim of the baseline: the domain's statement, written by hand.
pub const CLAIM: &str = "UPDATE agent_jobs SET status = 'PROCESSING', locked_by = $1, \
     started_at = $2, heartbeat_at = $2, progress = 0, current_step = NULL, updated_at = $2, \
     attempts = attempts + 1 \
     WHERE id = (SELECT id FROM agent_jobs WHERE status = 'PENDING' AND run_at <= $2 \
     ORDER BY priority DESC, run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) AND status = 'PENDING' \
     RETURNING id, store_id, type::text, status::text, priority, input, output, error, \
     started_at, completed_at, progress, current_step, created_at, updated_at, attempts, \
     max_attempts, run_at, locked_by, heartbeat_at";
/// The completion of the baseline: only while the job is held by this worker and attempt.
pub const COMPLETE: &str = "UPDATE agent_jobs SET status = 'COMPLETED', output = $1, \
     error = NULL, progress = 100, completed_at = $2, heartbeat_at = NULL, updated_at = $2 \
     WHERE id = $3 AND status = 'PROCESSING' AND locked_by = $4 AND attempts = $5";

/// A claimed job as the baseline reads it: the whole row, as the domain's `AgentJob`.
#[derive(Debug, Clone)]
pub struct Job {
    /// Id.
    pub id: Uuid,
    /// Store.
    pub store_id: Option<Uuid>,
    /// Agent type.
    pub agent_type: String,
    /// Status.
    pub status: String,
    /// Priority.
    pub priority: i32,
    /// Input.
    pub input: Value,
    /// Output.
    pub output: Option<Value>,
    /// Error.
    pub error: Option<String>,
    /// Started.
    pub started_at: Option<DateTime<Utc>>,
    /// Completed.
    pub completed_at: Option<DateTime<Utc>>,
    /// Progress.
    pub progress: i32,
    /// Step.
    pub current_step: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Updated.
    pub updated_at: DateTime<Utc>,
    /// Attempts.
    pub attempts: i32,
    /// Max attempts.
    pub max_attempts: i32,
    /// Runnable from.
    pub run_at: DateTime<Utc>,
    /// Worker.
    pub locked_by: Option<String>,
    /// Heartbeat.
    pub heartbeat_at: Option<DateTime<Utc>>,
}

fn job_from(row: &PgRow) -> Result<Job, sqlx::Error> {
    Ok(Job {
        id: row.try_get(0)?,
        store_id: row.try_get(1)?,
        agent_type: row.try_get(2)?,
        status: row.try_get(3)?,
        priority: row.try_get(4)?,
        input: row.try_get(5)?,
        output: row.try_get(6)?,
        error: row.try_get(7)?,
        started_at: row.try_get(8)?,
        completed_at: row.try_get(9)?,
        progress: row.try_get(10)?,
        current_step: row.try_get(11)?,
        created_at: row.try_get(12)?,
        updated_at: row.try_get(13)?,
        attempts: row.try_get(14)?,
        max_attempts: row.try_get(15)?,
        run_at: row.try_get(16)?,
        locked_by: row.try_get(17)?,
        heartbeat_at: row.try_get(18)?,
    })
}

/// job_queue through the baseline: enqueue (timed apart), then `CONCURRENCY` workers loop
/// claim → complete with the two statements until the queue is empty. Checks exactly-once.
///
/// # Errors
/// A database error.
pub async fn job_queue(
    pool: &PgPool,
    store_id: Option<Uuid>,
    jobs: usize,
    report: &mut Report,
) -> BenchResult<Measurement> {
    let enqueue_started = Instant::now();
    enqueue(pool, store_id, jobs).await?;
    println!(
        "# job_queue impl=sqlx enqueued {jobs} jobs in {:.3} s (not in the figure)",
        enqueue_started.elapsed().as_secs_f64()
    );
    let output = serde_json::to_value(match job_output() {
        domain::agent_jobs::JobOutput::ProductScout(result) => result,
        _ => domain::agent_jobs::ScoutResult { products: vec![] },
    })
    .map_err(context("output json"))?;
    let timer = Timer::start();
    let claimed = concurrently(CONCURRENCY, |task| {
        let pool = pool.clone();
        let output = output.clone();
        async move {
            let worker = format!("bench-sqlx-{task}-{}", Uuid::now_v7().simple());
            let mut ids = Vec::new();
            loop {
                let now = Utc::now();
                let Some(row) = sqlx::query(CLAIM)
                    .bind(&worker)
                    .bind(now)
                    .fetch_optional(&pool)
                    .await
                    .map_err(context("sqlx claim"))?
                else {
                    break;
                };
                let job = job_from(&row).map_err(context("sqlx claim row"))?;
                let done = sqlx::query(COMPLETE)
                    .bind(&output)
                    .bind(Utc::now())
                    .bind(job.id)
                    .bind(&worker)
                    .bind(job.attempts)
                    .execute(&pool)
                    .await
                    .map_err(context("sqlx complete"))?;
                if done.rows_affected() != 1 {
                    return Err(format!("job {} was not held at completion", job.id));
                }
                ids.push(job.id);
            }
            Ok(ids)
        }
    })
    .await?;
    let mut ids: Vec<Uuid> = claimed.into_iter().flatten().collect();
    let claims = ids.len();
    ids.sort_unstable();
    ids.dedup();
    let row = sqlx::query(
        "SELECT count(*) FILTER (WHERE status = 'COMPLETED' AND attempts = 1), count(*) \
         FROM agent_jobs WHERE store_id IS NOT DISTINCT FROM $1",
    )
    .bind(store_id)
    .fetch_one(pool)
    .await
    .map_err(context("sqlx count"))?;
    let completed_once: i64 = row.try_get(0).map_err(context("count"))?;
    let total: i64 = row.try_get(1).map_err(context("count"))?;
    report.check(
        "job_queue impl=sqlx",
        claims == jobs
            && ids.len() == jobs
            && completed_once == jobs as i64
            && total == jobs as i64,
        &format!(
            "{claims} claims of {} distinct jobs, {completed_once} of {total} jobs COMPLETED \
             after exactly one attempt (expected {jobs} each: every job exactly once)",
            ids.len()
        ),
    );
    Ok(timer.measurement("job_queue", Impl::Sqlx, jobs as u64))
}
