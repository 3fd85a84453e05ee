//! Stores: a merchant's shop, reached through its owner.
//!
//! A store is created with a slug derived from its name (unique; `-2`, `-3`, … on collision),
//! a subdomain (given, or the slug), and the standard legal pages, in one transaction. Its
//! status follows the machine of [`StoreStatus`]; it is soft-deleted, restored, and purged
//! for good once deleted long enough.

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
