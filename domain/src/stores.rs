//! Stores: a merchant's shop, reached through its owner.
//!
//! Everything a store holds is reached through a [`crate::StoreScope`], obtained once per
//! request: [`crate::StoreScope::obtain`]`(&db, owner_id, store_id)` checks that the owner owns
//! the live store, and every function of [`crate::products`], [`crate::pages`],
//! [`crate::media_assets`] (and the store's [`crate::agent_jobs`]) takes it. A caller cannot name another owner's rows;
//! another owner's store, a soft-deleted one and a missing one are all answered with the same
//! [`crate::Error::NotFound`] ([`crate::Table::Stores`]).
//!
//! ```
//! use domain::products::variants::{self, NewVariant};
//! use domain::products::{self, NewProduct, ProductQuery, Sku, SupplierProvider};
//! use domain::stores::{self, NewStore};
//! use domain::{Money, StoreScope};
//! use rust_decimal::Decimal;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> domain::Result<()> {
//! # let mut config = domain::Config::new("sqlite::memory:");
//! # config.migrate_on_start = true;
//! # let db = &domain::connect(&config).await?;
//! # let hasher = domain::users::PasswordHasher::new(domain::users::Argon2Params::new(1024, 1, 1)?)?;
//! # let owner = domain::users::create(db, &hasher, domain::users::NewUser {
//! #     email: domain::users::Email::parse("owner@example.com")?,
//! #     password: domain::users::Password::parse("a long passphrase")?, name: None, image: None }).await?;
//! # let owner_id = owner.id;
//! let store = stores::create(db, owner_id, NewStore {
//!     name: "Test Cyberpunk Store".into(),
//!     niche: "Cyberpunk home decor".into(),
//!     ..Default::default()
//! }).await?;                                    // slug + subdomain "test-cyberpunk-store", standard pages
//! let scope = StoreScope::obtain(db, owner_id, store.id).await?;
//!
//! // Inputs hold parsed values: a bad price or SKU is refused here, naming its field.
//! let cost = Money::parse("products.cost_price", Decimal::new(1250, 2))?;
//! let price = Money::parse("products.selling_price", Decimal::new(2999, 2))?;
//! let mut lamp = NewProduct::new(SupplierProvider::Aliexpress, "1005006", "Neon Lamp", cost, price);
//! let mut red = NewVariant::new("Red", price, cost);
//! red.sku = Some(Sku::parse("product_variants.sku", "LAMP-R")?);
//! red.stock = 20;
//! lamp.variants.push(red);
//! let (product, _outcome) = products::import(db, &scope, lamp).await?;   // idempotent by source id
//! variants::update_stock(db, &scope, product.variants[0].id, -1).await?;
//! let page = products::list(db, &scope, ProductQuery::default()).await?; // newest first
//! assert_eq!(page.items[0].variants[0].stock, 19);
//! # Ok(())
//! # }
//! ```
//!
//! [`create`] gives a store a slug derived from its name (`Café Été` → `cafe-ete`), unique: a
//! taken slug gets `-2`, `-3`, … (decided by the unique index inside a savepoint, so
//! concurrent creates of one name all succeed with distinct slugs); a subdomain (given, a DNS
//! label that is not one of [`RESERVED_SUBDOMAINS`], or the slug); and the standard legal
//! pages, all in one transaction. Brand identity ([`BrandIdentity`]: name, [`HexColor`]
//! colours, fonts, tone, logo) and settings ([`StoreSettings`], every field defaulted) are
//! typed JSON.
//!
//! Its status follows the machine of [`StoreStatus`]: CREATING → PENDING_REVIEW → ACTIVE ⇄
//! PAUSED, any → ARCHIVED (final); `published_at` is set on the first activation.
//! [`find_by_host`]`(host, base_domain)` finds the ACTIVE store of a custom domain or of
//! `<subdomain>.<base domain>`. [`soft_delete`] hides a store (its slug, subdomain and domain
//! stay reserved), [`restore`] brings it back, [`purge_deleted`]`(age)` deletes it for good
//! once deleted long enough (its jobs stay, with no store).

mod brand;
mod create;
mod lifecycle;
mod read;
mod settings;
mod values;

use chrono::{DateTime, FixedOffset};
pub use entity::sea_orm_active_enums::StoreStatus;
use entity::stores;
use uuid::Uuid;

pub use brand::{BRAND_TEXT_MAX, BrandColors, BrandFonts, BrandIdentity};
pub use create::create;
pub use lifecycle::{
    purge_deleted, restore, soft_delete, transition, update, update_custom_domain,
};
pub use read::{find_by_host, get, list_for_owner};
pub use settings::StoreSettings;
pub use values::{CustomDomain, HexColor, RESERVED_SUBDOMAINS, Subdomain};

use crate::error::{Error, Result, Table};
use crate::soft_delete::SoftDelete;
use crate::values::Slug;

/// The longest store name or niche, in characters.
pub const NAME_MAX: usize = 100;
/// The longest description, in characters.
pub const DESCRIPTION_MAX: usize = 5_000;

/// A store as services see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Store {
    /// The store's id.
    pub id: Uuid,
    /// The owner.
    pub owner_id: Uuid,
    /// Display name.
    pub name: String,
    /// Unique URL slug, derived from the name at creation and stable afterwards.
    pub slug: String,
    /// What the store sells, e.g. "Cyberpunk home decor".
    pub niche: String,
    /// Optional description.
    pub description: Option<String>,
    /// Where the store is in its life cycle.
    pub status: StoreStatus,
    /// The brand, once generated or set.
    pub brand_identity: Option<BrandIdentity>,
    /// Settings, with defaults for what was never set.
    pub settings: StoreSettings,
    /// The merchant's own host name, if any.
    pub custom_domain: Option<String>,
    /// The label under the platform's domain.
    pub subdomain: String,
    /// When the store was created.
    pub created_at: DateTime<FixedOffset>,
    /// When the store was last written.
    pub updated_at: DateTime<FixedOffset>,
    /// When the store first became ACTIVE.
    pub published_at: Option<DateTime<FixedOffset>>,
}

impl TryFrom<stores::Model> for Store {
    type Error = Error;

    /// # Errors
    /// [`Error::Undecodable`] naming `brand_identity` or `settings` when the stored JSON is
    /// not a [`BrandIdentity`] or [`StoreSettings`] (an unknown currency included).
    fn try_from(m: stores::Model) -> Result<Self> {
        let undecodable = |column| Error::Undecodable {
            table: Table::Stores,
            column,
            row: m.id,
        };
        // Only an object is a document: serde would also read an array as the fields in order.
        let brand_identity = m
            .brand_identity
            .map(|json| {
                json.is_object()
                    .then(|| serde_json::from_value::<BrandIdentity>(json).ok())
                    .flatten()
                    .ok_or_else(|| undecodable("brand_identity"))
            })
            .transpose()?;
        let settings = m
            .settings
            .map(|json| {
                json.is_object()
                    .then(|| StoreSettings::from_stored(json).ok())
                    .flatten()
                    .ok_or_else(|| undecodable("settings"))
            })
            .transpose()?
            .unwrap_or_default();
        Ok(Self {
            id: m.id,
            owner_id: m.user_id,
            name: m.name,
            slug: m.slug,
            niche: m.niche,
            description: m.description,
            status: m.status,
            brand_identity,
            settings,
            custom_domain: m.custom_domain,
            subdomain: m.subdomain,
            created_at: m.created_at,
            updated_at: m.updated_at,
            published_at: m.published_at,
        })
    }
}

/// What is needed to create a store.
#[derive(Debug, Clone, Default)]
pub struct NewStore {
    /// Display name (1 to [`NAME_MAX`] characters, trimmed); the slug is derived from it.
    pub name: String,
    /// What the store sells (1 to [`NAME_MAX`] characters, trimmed).
    pub niche: String,
    /// Optional description (at most [`DESCRIPTION_MAX`] characters; blank is none).
    pub description: Option<String>,
    /// The slug to take as is; `None` derives it from the name.
    pub slug: Option<Slug>,
    /// The subdomain to take as is; `None` derives it from the slug.
    pub subdomain: Option<Subdomain>,
}

/// Changes to a store; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct StorePatch {
    /// New display name (the slug does not change, so links keep working).
    pub name: Option<String>,
    /// New niche.
    pub niche: Option<String>,
    /// New description; `Some(None)` clears it.
    pub description: Option<Option<String>>,
    /// New brand identity; `Some(None)` clears it.
    pub brand_identity: Option<Option<BrandIdentity>>,
    /// New settings.
    pub settings: Option<StoreSettings>,
}

/// Whether the status machine allows `from` → `to`:
/// CREATING → PENDING_REVIEW → ACTIVE ⇄ PAUSED, and any state but ARCHIVED → ARCHIVED.
pub fn can_transition(from: StoreStatus, to: StoreStatus) -> bool {
    use StoreStatus::{Active, Archived, Creating, Paused, PendingReview};
    matches!(
        (from, to),
        (Creating, PendingReview) | (PendingReview, Active) | (Active, Paused) | (Paused, Active)
    ) || (to == Archived && from != Archived)
}

impl SoftDelete for stores::Entity {
    const TABLE: Table = Table::Stores;

    fn deleted_at() -> stores::Column {
        stores::Column::DeletedAt
    }

    fn updated_at() -> stores::Column {
        stores::Column::UpdatedAt
    }
}
