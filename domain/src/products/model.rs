//! The product types: what is read, what is given to create or change one, and the status
//! machine.

use chrono::{DateTime, FixedOffset};
use entity::sea_orm_active_enums::{ProductStatus, SupplierProvider};

use super::images::{Image, NewImage};
use super::variants::{NewVariant, Variant};
use crate::money::Money;
use crate::paging::PageRequest;
use crate::values::{Currency, HttpUrl};
use uuid::Uuid;

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

/// What is needed to create (or import) a product.
#[derive(Debug, Clone)]
pub struct NewProduct {
    /// The supplier it comes from.
    pub source_provider: SupplierProvider,
    /// The supplier's id of the product (1 to [`TITLE_MAX`] characters).
    pub source_id: String,
    /// The product page at the supplier.
    pub source_url: Option<HttpUrl>,
    /// Title (1 to [`TITLE_MAX`] characters); the slug is derived from it.
    pub title: String,
    /// The supplier's title; the title when `None`.
    pub original_title: Option<String>,
    /// Description (at most [`DESCRIPTION_MAX`] characters).
    pub description: String,
    /// What the supplier charges.
    pub cost_price: Money,
    /// What the store charges.
    pub selling_price: Money,
    /// The "was" price, above the selling price.
    pub compare_at_price: Option<Money>,
    /// Currency of the prices (USD from [`NewProduct::new`]).
    pub currency: Currency,
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
        cost_price: Money,
        selling_price: Money,
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
            currency: Currency::USD,
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
    pub selling_price: Option<Money>,
    /// New compare-at price; `Some(None)` clears it.
    pub compare_at_price: Option<Option<Money>>,
    /// New SEO title; `Some(None)` clears it.
    pub meta_title: Option<Option<String>>,
    /// New SEO description; `Some(None)` clears it.
    pub meta_description: Option<Option<String>>,
    /// Whether stock is counted.
    pub track_inventory: Option<bool>,
}

/// Whether [`super::import`] created the product or refreshed an earlier import.
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

/// Whether a merchant may move a product from `from` to `to`: DRAFT → ACTIVE, ACTIVE or
/// OUT_OF_STOCK → DRAFT, any → ARCHIVED, ARCHIVED → DRAFT. ACTIVE ⇄ OUT_OF_STOCK is not a
/// choice: stock decides it (see [`super::update_stock`]).
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
