//! Products of a store, with their variants and images.
//!
//! Everything goes through a [`StoreScope`]. A product and its variants and images are written
//! in one transaction; an import from a supplier is idempotent by (store, provider, source id)
//! and keeps what the merchant edited; stock moves atomically and never below zero.

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
