//! import_products by hand: batches of products with their variants and images, written
//! with one `INSERT … SELECT FROM UNNEST(…)` per table.

use chrono::Utc;
use domain::products::NewProduct;
use sea_orm::sqlx;
use sea_orm::sqlx::postgres::PgPool;
use sea_orm::sqlx::types::Json;
use uuid::Uuid;

use crate::report::{Impl, Measurement, Timer};
use crate::{BenchResult, context};

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
