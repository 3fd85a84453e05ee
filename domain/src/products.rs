//! Products of a store, with their variants and images.
//!
//! Everything goes through a [`crate::stores::StoreScope`] (the module [`crate::stores`] shows
//! a product imported, its stock adjusted and a page listed). A product and its variants and
//! images are written in one transaction; an import from a supplier is idempotent by (store,
//! provider, source id) and keeps what the merchant edited; stock moves atomically and never
//! below zero.
//!
//! # Writing
//! [`create`] writes a product with its variants and images in one transaction;
//! [`create_many`] writes a batch with multi-row inserts; [`import`] is idempotent by (store,
//! provider, source id): a re-import refreshes what the supplier owns (original title, cost,
//! source URL, stock, the variants' cost and stock by SKU) and keeps what the merchant edited
//! (title, selling price, description, SEO, status).
//!
//! Money is [`crate::Money`]: at most 2 decimals, 0 to 99,999,999.99, a compare-at price
//! above the selling price; the currency an ISO 4217 code. With variants, the product's stock
//! is their total. Image positions stay 0, 1, 2, … through [`reorder_images`] and
//! [`remove_image`].
//!
//! # Stock and status
//! [`adjust_stock`] and [`adjust_variant_stock`] are conditional updates that never go below
//! zero ([`crate::Error::InsufficientStock`] instead) and move a tracked product ACTIVE ⇄
//! OUT_OF_STOCK at zero in the same statement. The status machine ([`can_transition`]):
//! DRAFT → ACTIVE, ACTIVE/OUT_OF_STOCK → DRAFT, any → ARCHIVED, ARCHIVED → DRAFT; stock alone
//! decides ACTIVE ⇄ OUT_OF_STOCK.
//!
//! # Lists
//! [`list`] is keyset-paged by id (UUID v7, so newest first) with an opaque
//! [`crate::paging::Cursor`] and a page size of 1 to 100 ([`crate::paging::PageRequest`]): a
//! row inserted between two requests never makes another row appear twice or be skipped. It
//! loads a page's variants and images with one query each: three queries per page, whatever
//! its size.

mod lock;
mod rows;
mod stock;
mod values;
mod variants;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, FixedOffset};
pub use entity::sea_orm_active_enums::{ProductStatus, SupplierProvider};
use entity::{product_images, product_variants, products};
use rust_decimal::Decimal;
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect, TransactionSession, TransactionTrait,
};
use uuid::Uuid;

pub use stock::{adjust_stock, adjust_variant_stock};
pub use values::{OPTION_TEXT_MAX, OPTIONS_MAX, SKU_MAX, Sku};
pub use variants::{
    NewImage, NewVariant, VariantPatch, add_image, add_variant, remove_image, remove_variant,
    reorder_images, update_variant,
};

use crate::clock;
use crate::db::begin_write;
use crate::error::{Error, Result};
use crate::money::Money;
use crate::paging::{Page, PageRequest};
use crate::rules::{OnTable, UniqueRule};
use crate::stores::StoreScope;
use crate::txn::retry_transient;
use crate::values::{Currency, HttpUrl, READABLE_SUFFIXES, Slug, optional_text, required_text};

/// The longest title, original title, source id or meta title, in characters.
pub const TITLE_MAX: usize = 255;
/// The longest description or meta description, in characters.
pub const DESCRIPTION_MAX: usize = 50_000;
/// The most variants a product may have.
pub const VARIANTS_MAX: usize = 100;
/// The most images a product may have.
pub const IMAGES_MAX: usize = 50;

/// A product with its variants (oldest first) and images (by position).
#[derive(Debug, Clone, PartialEq)]
pub struct Product {
    /// The product's id.
    pub id: Uuid,
    /// The store it belongs to.
    pub store_id: Uuid,
    /// The supplier it comes from.
    pub source_provider: SupplierProvider,
    /// The supplier's id of the product.
    pub source_id: String,
    /// The product page at the supplier.
    pub source_url: Option<String>,
    /// The merchant's title.
    pub title: String,
    /// The supplier's title, refreshed by every import.
    pub original_title: String,
    /// The merchant's description.
    pub description: String,
    /// URL slug, unique in the store.
    pub slug: String,
    /// What the supplier charges.
    pub cost_price: Money,
    /// What the store charges.
    pub selling_price: Money,
    /// The "was" price shown struck through, above the selling price.
    pub compare_at_price: Option<Money>,
    /// Currency of the prices.
    pub currency: Currency,
    /// Units in stock (with variants: their total).
    pub stock_quantity: i32,
    /// Whether stock is counted; a tracked product is OUT_OF_STOCK at zero.
    pub track_inventory: bool,
    /// SEO title.
    pub meta_title: Option<String>,
    /// SEO description.
    pub meta_description: Option<String>,
    /// Where the product is in its life cycle.
    pub status: ProductStatus,
    /// When it was created.
    pub created_at: DateTime<FixedOffset>,
    /// When it was last written.
    pub updated_at: DateTime<FixedOffset>,
    /// Its variants.
    pub variants: Vec<Variant>,
    /// Its images.
    pub images: Vec<Image>,
}

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

/// What is needed to create (or import) a product.
#[derive(Debug, Clone)]
pub struct NewProduct {
    /// The supplier it comes from.
    pub source_provider: SupplierProvider,
    /// The supplier's id of the product (1 to [`TITLE_MAX`] characters).
    pub source_id: String,
    /// The product page at the supplier.
    pub source_url: Option<String>,
    /// Title (1 to [`TITLE_MAX`] characters); the slug is derived from it.
    pub title: String,
    /// The supplier's title; the title when `None`.
    pub original_title: Option<String>,
    /// Description (at most [`DESCRIPTION_MAX`] characters).
    pub description: String,
    /// What the supplier charges.
    pub cost_price: Decimal,
    /// What the store charges.
    pub selling_price: Decimal,
    /// The "was" price, above the selling price.
    pub compare_at_price: Option<Decimal>,
    /// ISO 4217 code; USD when `None`.
    pub currency: Option<String>,
    /// Units in stock; with variants this is ignored and the variants' total is used.
    pub stock_quantity: i32,
    /// Whether stock is counted.
    pub track_inventory: bool,
    /// SEO title.
    pub meta_title: Option<String>,
    /// SEO description.
    pub meta_description: Option<String>,
    /// Initial status; DRAFT when `None`.
    pub status: Option<ProductStatus>,
    /// Variants, in order.
    pub variants: Vec<NewVariant>,
    /// Images, in gallery order.
    pub images: Vec<NewImage>,
}

impl NewProduct {
    /// A product with the required fields and everything else at its default.
    pub fn new(
        source_provider: SupplierProvider,
        source_id: impl Into<String>,
        title: impl Into<String>,
        cost_price: Decimal,
        selling_price: Decimal,
    ) -> Self {
        Self {
            source_provider,
            source_id: source_id.into(),
            source_url: None,
            title: title.into(),
            original_title: None,
            description: String::new(),
            cost_price,
            selling_price,
            compare_at_price: None,
            currency: None,
            stock_quantity: 0,
            track_inventory: true,
            meta_title: None,
            meta_description: None,
            status: None,
            variants: Vec::new(),
            images: Vec::new(),
        }
    }
}

/// Changes a merchant makes to a product; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProductPatch {
    /// New title (the slug does not change).
    pub title: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New selling price.
    pub selling_price: Option<Decimal>,
    /// New compare-at price; `Some(None)` clears it.
    pub compare_at_price: Option<Option<Decimal>>,
    /// New SEO title; `Some(None)` clears it.
    pub meta_title: Option<Option<String>>,
    /// New SEO description; `Some(None)` clears it.
    pub meta_description: Option<Option<String>>,
    /// Whether stock is counted.
    pub track_inventory: Option<bool>,
}

/// Whether [`import`] created the product or refreshed an earlier import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportOutcome {
    /// A new product.
    Created,
    /// The product existed; the supplier's facts were refreshed, the merchant's edits kept.
    Refreshed,
}

/// Which products to list.
#[derive(Debug, Clone, Default)]
pub struct ProductQuery {
    /// Only products in this status.
    pub status: Option<ProductStatus>,
    /// Only products whose title contains this text (case-insensitive).
    pub search: Option<String>,
    /// The page to read.
    pub page: PageRequest,
}

/// The spelling of a status as stored, for errors.
pub(crate) fn status_name(status: ProductStatus) -> &'static str {
    match status {
        ProductStatus::Draft => "DRAFT",
        ProductStatus::Active => "ACTIVE",
        ProductStatus::OutOfStock => "OUT_OF_STOCK",
        ProductStatus::Archived => "ARCHIVED",
    }
}

/// Whether a merchant may move a product from `from` to `to`: DRAFT → ACTIVE, ACTIVE or
/// OUT_OF_STOCK → DRAFT, any → ARCHIVED, ARCHIVED → DRAFT. ACTIVE ⇄ OUT_OF_STOCK is not a
/// choice: stock decides it (see [`adjust_stock`]).
pub fn can_transition(from: ProductStatus, to: ProductStatus) -> bool {
    use ProductStatus::{Active, Archived, Draft, OutOfStock};
    matches!(
        (from, to),
        (Draft, Active)
            | (Active | OutOfStock, Draft)
            | (Draft | Active | OutOfStock, Archived)
            | (Archived, Draft)
    )
}

/// A product checked and ready to insert, with its variants and images.
struct Checked {
    product: products::Model,
    variants: Vec<product_variants::Model>,
    images: Vec<product_images::Model>,
}

fn check(scope: &StoreScope, new: NewProduct) -> Result<(Checked, Slug)> {
    let title = required_text("title", &new.title, TITLE_MAX)?;
    let original_title = match &new.original_title {
        Some(original) => required_text("original_title", original, TITLE_MAX)?,
        None => title.clone(),
    };
    let source_id = required_text("source_id", &new.source_id, TITLE_MAX)?;
    let source_url = new
        .source_url
        .as_deref()
        .map(|u| HttpUrl::parse("source_url", u))
        .transpose()?;
    let description =
        optional_text("description", Some(&new.description), DESCRIPTION_MAX)?.unwrap_or_default();
    let cost_price = Money::parse("cost_price", new.cost_price)?;
    let (selling_price, compare_at_price) =
        values::prices(new.selling_price, new.compare_at_price)?;
    let currency = match &new.currency {
        Some(code) => Currency::parse("currency", code)?,
        None => Currency::USD,
    };
    let meta_title = optional_text("meta_title", new.meta_title.as_deref(), TITLE_MAX)?;
    let meta_description = optional_text(
        "meta_description",
        new.meta_description.as_deref(),
        DESCRIPTION_MAX,
    )?;
    if new.variants.len() > VARIANTS_MAX {
        return Err(Error::Invalid {
            field: "variants",
            violation: crate::Violation::TooMany { max: VARIANTS_MAX },
        });
    }
    if new.images.len() > IMAGES_MAX {
        return Err(Error::Invalid {
            field: "images",
            violation: crate::Violation::TooMany { max: IMAGES_MAX },
        });
    }
    let now = clock::now();
    let id = Uuid::now_v7();
    let variants = new
        .variants
        .into_iter()
        .map(|v| variants::check_variant(scope.store_id(), id, v, now))
        .collect::<Result<Vec<_>>>()?;
    let images = new
        .images
        .into_iter()
        .zip(0..)
        .map(|(image, position)| variants::check_image(scope.store_id(), id, image, position, now))
        .collect::<Result<Vec<_>>>()?;
    let stock_quantity = if variants.is_empty() {
        values::stock("stock_quantity", new.stock_quantity)?
    } else {
        values::total_stock(variants.iter().map(|v| v.stock))?
    };
    let status = match new.status.unwrap_or(ProductStatus::Draft) {
        // A tracked product with nothing in stock cannot be ACTIVE.
        ProductStatus::Active if new.track_inventory && stock_quantity == 0 => {
            ProductStatus::OutOfStock
        }
        ProductStatus::OutOfStock if !new.track_inventory || stock_quantity > 0 => {
            ProductStatus::Active
        }
        status => status,
    };
    let slug = Slug::from_title(&title, "product");
    let mut product = products::Model {
        id,
        store_id: scope.store_id(),
        source_provider: new.source_provider,
        source_id,
        source_url: source_url.map(String::from),
        title,
        original_title,
        description,
        slug: slug.as_str().to_owned(),
        cost_price: cost_price.amount(),
        selling_price: selling_price.amount(),
        compare_at_price: compare_at_price.map(Money::amount),
        currency: currency.code().to_owned(),
        stock_quantity,
        track_inventory: new.track_inventory,
        meta_title,
        meta_description,
        status,
        created_at: now,
        updated_at: now,
        deleted_at: None,
        search_title: String::new(),
    };
    product.search_title = search_key(&product.title);
    Ok((
        Checked {
            product,
            variants,
            images,
        },
        slug,
    ))
}

/// Creates a product with its variants and images in one transaction. The slug is derived
/// from the title, with `-2`, `-3`, … when taken in the store.
///
/// # Errors
/// [`Error::Invalid`] naming the field for bad input; [`Error::Conflict`] with
/// [`UniqueRule::ProductsStoreSource`] when the store already has this supplier product (use
/// [`import`] to refresh it) or [`UniqueRule::ProductVariantsProductSku`] for a repeated SKU.
/// Nothing is written when it fails.
pub async fn create<C>(db: &C, scope: &StoreScope, new: NewProduct) -> Result<Product>
where
    C: ConnectionTrait + TransactionTrait,
{
    let (checked, slug) = check(scope, new)?;
    retry_transient(db, || async {
        let txn = begin_write(db).await?;
        let product = insert_checked(&txn, &checked, &slug).await?;
        txn.commit().await?;
        Ok(product)
    })
    .await
}

/// Imports a product from a supplier, idempotently by (store, provider, source id).
///
/// The first import creates the product as [`create`] does. A re-import refreshes what the
/// supplier owns (original title, cost price, source URL, stock, and each variant's cost and
/// stock by SKU) and keeps what the merchant edited (title, selling price, description, SEO,
/// status).
///
/// # Errors
/// As [`create`].
pub async fn import<C>(
    db: &C,
    scope: &StoreScope,
    new: NewProduct,
) -> Result<(Product, ImportOutcome)>
where
    C: ConnectionTrait + TransactionTrait,
{
    let (checked, slug) = check(scope, new)?;
    retry_transient(db, || async {
        let txn = begin_write(db).await?;
        let savepoint = txn.begin().await?;
        let outcome = match insert_checked(&savepoint, &checked, &slug).await {
            Ok(product) => {
                savepoint.commit().await?;
                txn.commit().await?;
                return Ok((product, ImportOutcome::Created));
            }
            Err(Error::Conflict {
                rule: UniqueRule::ProductsStoreSource,
            }) => {
                savepoint.rollback().await?;
                ImportOutcome::Refreshed
            }
            Err(err) => return Err(err),
        };
        let id = refresh(&txn, scope, &checked).await?;
        let product = get(&txn, scope, id).await?;
        txn.commit().await?;
        Ok((product, outcome))
    })
    .await
}

/// The most bind parameters one statement gets: under the limits of every backend (SQLite
/// 32,766; Postgres and MariaDB 65,535).
const BINDS_PER_STATEMENT: usize = 30_000;

/// Creates many products, with their variants and images, in one transaction and a few
/// multi-row inserts: for imports of whole catalogues and bulk data. Every product goes
/// through the same validation as [`create`]; unlike it, a taken slug is not retried with a
/// suffix (give distinct titles). Returns the new products' ids, in input order.
///
/// # Errors
/// [`Error::Invalid`] naming the field of the first bad product (nothing is written);
/// [`Error::Conflict`] for a taken slug, source or SKU (nothing is written).
pub async fn create_many<C>(db: &C, scope: &StoreScope, new: Vec<NewProduct>) -> Result<Vec<Uuid>>
where
    C: ConnectionTrait + TransactionTrait,
{
    let mut products = Vec::with_capacity(new.len());
    let mut variants = Vec::new();
    let mut images = Vec::new();
    for product in new {
        let (checked, _) = check(scope, product)?;
        products.push(checked.product);
        variants.extend(checked.variants);
        images.extend(checked.images);
    }
    let ids = products.iter().map(|p| p.id).collect();
    retry_transient(db, || async {
        let txn = begin_write(db).await?;
        insert_chunked::<products::Entity, _>(&txn, &products, "products").await?;
        insert_chunked::<product_variants::Entity, _>(&txn, &variants, "product_variants").await?;
        insert_chunked::<product_images::Entity, _>(&txn, &images, "product_images").await?;
        txn.commit().await?;
        Ok(())
    })
    .await?;
    Ok(ids)
}

/// Inserts `rows` in as few statements as the bind limit allows.
async fn insert_chunked<E, C>(db: &C, rows: &[E::Model], table: &'static str) -> Result<()>
where
    E: EntityTrait,
    E::Model: IntoActiveModel<E::ActiveModel> + Clone,
    C: ConnectionTrait,
{
    use sea_orm::Iterable;
    let per_row = E::Column::iter().count().max(1);
    for chunk in rows.chunks((BINDS_PER_STATEMENT / per_row).max(1)) {
        E::insert_many(
            chunk
                .iter()
                .cloned()
                .map(IntoActiveModel::into_active_model),
        )
        .exec_without_returning(db)
        .await
        .on_table(table)?;
    }
    Ok(())
}

/// Inserts a checked product, trying slug suffixes in savepoints until one is free.
async fn insert_checked<C>(txn: &C, checked: &Checked, slug: &Slug) -> Result<Product>
where
    C: ConnectionTrait + TransactionTrait,
{
    let mut product = checked.product.clone();
    let mut n = 1u32;
    loop {
        let savepoint = txn.begin().await?;
        let inserted = products::Entity::insert(product.clone().into_active_model())
            .exec_without_returning(&savepoint)
            .await
            .on_table("products");
        match inserted {
            Ok(_) => {
                savepoint.commit().await?;
                break;
            }
            Err(Error::Conflict {
                rule: UniqueRule::ProductsStoreSlug,
            }) if n < READABLE_SUFFIXES + 3 => {
                savepoint.rollback().await?;
                n += 1;
                product.slug = slug.candidate(n).as_str().to_owned();
            }
            Err(err) => return Err(err),
        }
    }
    if !checked.variants.is_empty() {
        product_variants::Entity::insert_many(
            checked
                .variants
                .iter()
                .cloned()
                .map(IntoActiveModel::into_active_model),
        )
        .exec_without_returning(txn)
        .await
        .on_table("product_variants")?;
    }
    if !checked.images.is_empty() {
        product_images::Entity::insert_many(
            checked
                .images
                .iter()
                .cloned()
                .map(IntoActiveModel::into_active_model),
        )
        .exec_without_returning(txn)
        .await
        .on_table("product_images")?;
    }
    Ok(assemble(
        product,
        checked.variants.clone(),
        checked.images.clone(),
    ))
}

/// The re-import half of [`import`]: the supplier's facts only.
async fn refresh<C: ConnectionTrait>(
    txn: &C,
    scope: &StoreScope,
    checked: &Checked,
) -> Result<Uuid> {
    let p = &checked.product;
    let existing: Uuid = products::Entity::find()
        .select_only()
        .column(products::Column::Id)
        .filter(products::Column::StoreId.eq(scope.store_id()))
        .filter(products::Column::SourceProvider.eq(p.source_provider))
        .filter(products::Column::SourceId.eq(p.source_id.clone()))
        .into_tuple()
        .one(txn)
        .await?
        .ok_or(Error::NotFound { entity: "product" })?;
    let now = clock::now();
    for v in &checked.variants {
        let Some(sku) = &v.sku else { continue };
        product_variants::Entity::update_many()
            .col_expr(
                product_variants::Column::CostPrice,
                Expr::value(v.cost_price),
            )
            .col_expr(product_variants::Column::Stock, Expr::value(v.stock))
            .col_expr(product_variants::Column::UpdatedAt, Expr::value(now))
            .filter(product_variants::Column::ProductId.eq(existing))
            .filter(product_variants::Column::Sku.eq(sku.clone()))
            .exec(txn)
            .await?;
    }
    // With variants, the product's stock is their total, recomputed from the rows.
    let has_variants = !checked.variants.is_empty();
    let stock = if has_variants {
        values::total_stock(
            product_variants::Entity::find()
                .filter(product_variants::Column::ProductId.eq(existing))
                .all(txn)
                .await?
                .iter()
                .map(|v| v.stock),
        )?
    } else {
        p.stock_quantity
    };
    products::Entity::update_many()
        .col_expr(
            products::Column::Status,
            stock::status_for_stock(Expr::value(stock)),
        )
        .col_expr(
            products::Column::OriginalTitle,
            Expr::value(p.original_title.clone()),
        )
        .col_expr(products::Column::CostPrice, Expr::value(p.cost_price))
        .col_expr(
            products::Column::SourceUrl,
            Expr::value(p.source_url.clone()),
        )
        .col_expr(products::Column::StockQuantity, Expr::value(stock))
        .col_expr(products::Column::UpdatedAt, Expr::value(now))
        .filter(products::Column::Id.eq(existing))
        .exec(txn)
        .await?;
    Ok(existing)
}

/// The text a product search compares with: the title in lower case by Unicode's rules, the
/// same on every backend (SQLite's `LOWER()` only folds ASCII).
pub(crate) fn search_key(title: &str) -> String {
    title.to_lowercase()
}

fn assemble(
    product: products::Model,
    variants: Vec<product_variants::Model>,
    images: Vec<product_images::Model>,
) -> Product {
    product_with(
        product,
        variants.into_iter().map(variants::variant_from).collect(),
        images.into_iter().map(variants::image_from).collect(),
    )
}

fn product_with(product: products::Model, variants: Vec<Variant>, images: Vec<Image>) -> Product {
    Product {
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
        currency: Currency::from_stored(&product.currency).unwrap_or_default(),
        stock_quantity: product.stock_quantity,
        track_inventory: product.track_inventory,
        meta_title: product.meta_title,
        meta_description: product.meta_description,
        status: product.status,
        created_at: product.created_at,
        updated_at: product.updated_at,
        variants,
        images,
    }
}

/// The scope's live product `id`, with its variants and images (three queries).
///
/// # Errors
/// [`Error::NotFound`] when there is no such product in the store (or it is deleted).
pub async fn get<C: ConnectionTrait>(db: &C, scope: &StoreScope, id: Uuid) -> Result<Product> {
    let product = live(scope)
        .filter(products::Column::Id.eq(id))
        .into_model::<rows::ProductRow>()
        .one(db)
        .await?
        .ok_or(Error::NotFound { entity: "product" })?
        .0;
    let mut loaded = load_children(db, vec![product]).await?;
    loaded.pop().ok_or(Error::NotFound { entity: "product" })
}

/// The scope's live products.
fn live(scope: &StoreScope) -> sea_orm::Select<products::Entity> {
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
    Ok(rows
        .into_iter()
        .map(|p| {
            let v = variants.remove(&p.id).unwrap_or_default();
            let i = images.remove(&p.id).unwrap_or_default();
            product_with(p, v, i)
        })
        .collect())
}

/// A page of the scope's products, newest first, filtered by status and title, with their
/// variants and images: three queries per page, whatever its size.
///
/// # Errors
/// [`Error::Invalid`] naming `limit` for a page size out of range, or `search` when too long.
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

/// Applies a merchant's changes.
///
/// # Errors
/// [`Error::Invalid`] naming the field (including `compare_at_price` not above the selling
/// price, judged with the values after the patch); [`Error::NotFound`].
pub async fn patch<C>(db: &C, scope: &StoreScope, id: Uuid, patch: ProductPatch) -> Result<Product>
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
            let title = required_text("title", title, TITLE_MAX)?;
            row.search_title = Set(search_key(&title));
            row.title = Set(title);
        }
        if let Some(description) = &patch.description {
            row.description =
                Set(
                    optional_text("description", Some(description), DESCRIPTION_MAX)?
                        .unwrap_or_default(),
                );
        }
        if let Some(meta_title) = &patch.meta_title {
            row.meta_title = Set(optional_text(
                "meta_title",
                meta_title.as_deref(),
                TITLE_MAX,
            )?);
        }
        if let Some(meta_description) = &patch.meta_description {
            row.meta_description = Set(optional_text(
                "meta_description",
                meta_description.as_deref(),
                DESCRIPTION_MAX,
            )?);
        }
        if patch.selling_price.is_some() || patch.compare_at_price.is_some() {
            let selling = patch
                .selling_price
                .unwrap_or(current.selling_price.amount());
            let compare_at = patch
                .compare_at_price
                .unwrap_or(current.compare_at_price.map(Money::amount));
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
            return Err(Error::InvalidTransition {
                entity: "product",
                from: status_name(current.status),
                to: status_name(to),
            });
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
pub async fn soft_delete<C: ConnectionTrait>(db: &C, scope: &StoreScope, id: Uuid) -> Result<()> {
    let now = clock::now();
    let done = retry_transient(db, || async {
        Ok(products::Entity::update_many()
            .col_expr(products::Column::DeletedAt, Expr::value(now))
            .col_expr(products::Column::UpdatedAt, Expr::value(now))
            .filter(products::Column::Id.eq(id))
            .filter(products::Column::StoreId.eq(scope.store_id()))
            .filter(products::Column::DeletedAt.is_null())
            .exec(db)
            .await?)
    })
    .await?;
    if done.rows_affected == 0 {
        return Err(Error::NotFound { entity: "product" });
    }
    Ok(())
}

/// Brings back a soft-deleted product of the store.
///
/// # Errors
/// [`Error::NotFound`] when the store has no such deleted product.
pub async fn restore<C: ConnectionTrait>(db: &C, scope: &StoreScope, id: Uuid) -> Result<Product> {
    let done = retry_transient(db, || async {
        Ok(products::Entity::update_many()
            .col_expr(
                products::Column::DeletedAt,
                Expr::value(Option::<DateTime<FixedOffset>>::None),
            )
            .col_expr(products::Column::UpdatedAt, Expr::value(clock::now()))
            .filter(products::Column::Id.eq(id))
            .filter(products::Column::StoreId.eq(scope.store_id()))
            .filter(products::Column::DeletedAt.is_not_null())
            .exec(db)
            .await?)
    })
    .await?;
    if done.rows_affected == 0 {
        return Err(Error::NotFound { entity: "product" });
    }
    get(db, scope, id).await
}

/// Checks that the scope's store has the live product `id`, for functions on its children.
async fn ensure_product<C: ConnectionTrait>(db: &C, scope: &StoreScope, id: Uuid) -> Result<()> {
    live(scope)
        .select_only()
        .column(products::Column::Id)
        .filter(products::Column::Id.eq(id))
        .into_tuple::<Uuid>()
        .one(db)
        .await?
        .map(|_| ())
        .ok_or(Error::NotFound { entity: "product" })
}
