//! Pages of a store: the standard legal and information pages every store gets, and the
//! owner's own pages.
//!
//! Everything takes a [`crate::StoreScope`] (proof that the caller owns the store):
//! every query filters by its store, and a page of another store is answered exactly like a
//! missing one ([`crate::Error::NotFound`] with [`crate::Table::Pages`]).
//!
//! # Standard pages
//! [`create_standard_pages`]`(&db, &scope)` gives a store its six standard pages with
//! placeholder text: privacy policy (`privacy-policy`), terms of service
//! (`terms-of-service`), refund policy (`refund-policy`), about (`about`), contact (`contact`)
//! and FAQ (`faq`). It is idempotent and safe when called concurrently or inside the caller's
//! transaction (store creation does): each insert runs in a savepoint and a duplicate is
//! recognised by the unique rule `uq_pages_store_id_slug`, never by a read first; a page
//! already at one of those slugs is kept as it is and returned.
//!
//! # Slugs and order
//! [`create`] derives a slug from the title when none is given (`shipping`, then
//! `shipping-2`, `shipping-3`, …); a given slug that is taken is [`crate::Error::Conflict`]
//! naming [`crate::UniqueRule::PagesStoreSlug`]. [`list`] returns a store's pages (of one
//! type, or all) ordered by type as [`PageType`] declares them, then title, then slug.

mod read;
mod standard;
mod write;

use chrono::{DateTime, FixedOffset};
use entity::pages;
use uuid::Uuid;

pub use entity::sea_orm_active_enums::PageType;
pub use read::{get, get_by_slug, list};
pub use standard::create_standard_pages;
pub use write::{create, delete, update};

use crate::error::{Error, Result, Table, Violation};
#[cfg(doc)]
use crate::scope::StoreScope;
use crate::values::{Slug, printable};

/// The longest page title, in characters (the column is a `varchar(255)` on MySQL).
pub const TITLE_MAX: usize = 255;
/// The longest page content, in characters: far beyond any real page, short of abuse.
pub const CONTENT_MAX: usize = 200_000;
/// The slug derived from a title that has no letter or digit.
const SLUG_FALLBACK: &str = "page";

/// A page of a store, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The page's id (UUID v7).
    pub id: Uuid,
    /// The store the page belongs to.
    pub store_id: Uuid,
    /// What kind of page it is.
    pub page_type: PageType,
    /// The title shown to customers.
    pub title: String,
    /// The URL path segment, unique within the store.
    pub slug: String,
    /// The page's text.
    pub content: String,
    /// When the page was created.
    pub created_at: DateTime<FixedOffset>,
    /// When the page was last written.
    pub updated_at: DateTime<FixedOffset>,
}

impl From<pages::Model> for Page {
    fn from(model: pages::Model) -> Self {
        Self {
            id: model.id,
            store_id: model.store_id,
            page_type: model.r#type,
            title: model.title,
            slug: model.slug,
            content: model.content,
            created_at: model.created_at,
            updated_at: model.updated_at,
        }
    }
}

/// A page to create with [`create`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPage {
    /// What kind of page it is; any type, a store may have several pages of one type.
    pub page_type: PageType,
    /// The title: trimmed, not empty, at most [`TITLE_MAX`] characters.
    pub title: String,
    /// The slug to take as is (never rewritten), or `None` to derive one from the title.
    pub slug: Option<Slug>,
    /// The text, at most [`CONTENT_MAX`] characters; may be empty (a page being drafted).
    pub content: String,
}

/// Changes to a page for [`update`]: `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PagePatch {
    /// A new title, under the rules of [`NewPage::title`]. The slug does not follow it, so
    /// that links to the page keep working.
    pub title: Option<String>,
    /// A new slug, taken as is.
    pub slug: Option<Slug>,
    /// New text, under the rules of [`NewPage::content`].
    pub content: Option<String>,
}

fn checked_content(content: &str) -> Result<()> {
    if content.chars().count() > CONTENT_MAX {
        return Err(Error::Invalid {
            field: "pages.content",
            violation: Violation::TooLong { max: CONTENT_MAX },
        });
    }
    printable("pages.content", content)
}

fn not_found() -> Error {
    Error::NotFound {
        entity: Table::Pages,
    }
}
