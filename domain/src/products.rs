//! Products of a store (table `products`), with their variants ([`variants`], table
//! `product_variants`) and images ([`images`], table `product_images`).
//!
//! Everything goes through a [`crate::StoreScope`] (the module [`crate::stores`] shows
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
//! Inputs ([`NewProduct`], [`variants::NewVariant`], [`images::NewImage`], [`ProductPatch`])
//! hold parsed values: [`crate::Money`] (at most 2 decimals, 0 to 99,999,999.99),
//! [`crate::values::Currency`] (an ISO 4217 code), [`crate::values::HttpUrl`] and [`Sku`], so a
//! bad price or URL is refused where it is parsed, naming its field. The repository checks
//! what needs the whole product: text limits, a compare-at price above the selling price, the
//! number of variants and images. With variants, the product's stock is their total. Image
//! positions stay 0, 1, 2, … through [`images::update_positions`] and [`images::delete`].
//!
//! # Stock and status
//! [`update_stock`] and [`variants::update_stock`] are conditional updates that never go below
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

mod create;
pub mod images;
mod import;
mod lifecycle;
mod lock;
mod model;
mod read;
mod rows;
mod stock;
mod values;
pub mod variants;

pub use create::{create, create_many};
pub use entity::sea_orm_active_enums::{ProductStatus, SupplierProvider};
pub use import::import;
pub use lifecycle::{restore, soft_delete, transition, update};
pub use model::{
    DESCRIPTION_MAX, IMAGES_MAX, ImportOutcome, NewProduct, Product, ProductPatch, ProductQuery,
    TITLE_MAX, VARIANTS_MAX, can_transition,
};
pub use read::{get, list};
pub use stock::update_stock;
pub use values::{OPTION_TEXT_MAX, OPTIONS_MAX, SKU_MAX, Sku};
