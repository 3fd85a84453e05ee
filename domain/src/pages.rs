//! Pages of a store: the standard legal and information pages every store gets, and the
//! owner's own pages.
//!
//! Everything takes a [`crate::stores::StoreScope`] (proof that the caller owns the store):
//! every query filters by its store, and a page of another store is answered exactly like a
//! missing one ([`crate::Error::NotFound`] with `"page"`).
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

use std::collections::HashSet;

use chrono::{DateTime, FixedOffset};
use entity::pages;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, DbErr,
    EntityTrait, IntoActiveModel, QueryFilter, QuerySelect, TransactionSession, TransactionTrait,
};
use uuid::Uuid;

pub use entity::sea_orm_active_enums::PageType;

use crate::clock::now;
use crate::db::begin_write;
use crate::error::{Error, Result, Table, Violation};
use crate::rules::UniqueRule;
use crate::scope::StoreScope;
use crate::txn::retry_transient;
use crate::values::{Slug, required_text};
use crate::violations::OnTable;

/// The longest page title, in characters (the column is a `varchar(255)` on MySQL).
pub const TITLE_MAX: usize = 255;
/// The longest page content, in characters: far beyond any real page, short of abuse.
pub const CONTENT_MAX: usize = 200_000;
/// The slug derived from a title that has no letter or digit.
const SLUG_FALLBACK: &str = "page";
/// How often a derived slug is tried again when a concurrent writer took it first.
const SLUG_ATTEMPTS: usize = 8;

/// One standard page: what [`create_standard_pages`] writes when the store has none at `slug`.
struct StandardPage {
    page_type: PageType,
    title: &'static str,
    slug: &'static str,
    content: &'static str,
}

/// The standard pages, in the order [`create_standard_pages`] returns them.
const STANDARD_PAGES: [StandardPage; 6] = [
    StandardPage {
        page_type: PageType::PrivacyPolicy,
        title: "Privacy Policy",
        slug: "privacy-policy",
        content: "This page explains what personal data the store collects, why, and how it is \
                  protected. Replace this text with the store's privacy policy.",
    },
    StandardPage {
        page_type: PageType::TermsOfService,
        title: "Terms of Service",
        slug: "terms-of-service",
        content: "These terms govern the use of the store and every purchase made in it. Replace \
                  this text with the store's terms of service.",
    },
    StandardPage {
        page_type: PageType::RefundPolicy,
        title: "Refund Policy",
        slug: "refund-policy",
        content: "This page explains how returns, exchanges and refunds work. Replace this text \
                  with the store's refund policy.",
    },
    StandardPage {
        page_type: PageType::About,
        title: "About Us",
        slug: "about",
        content: "Tell customers who is behind the store and what it stands for.",
    },
    StandardPage {
        page_type: PageType::Contact,
        title: "Contact",
        slug: "contact",
        content: "Tell customers how to reach the store: an email address, a form or a phone \
                  number.",
    },
    StandardPage {
        page_type: PageType::Faq,
        title: "Frequently Asked Questions",
        slug: "faq",
        content: "Answer the questions customers ask most: shipping times, payment, returns.",
    },
];

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
    /// The slug as given (validated, never rewritten), or `None` to derive one from the title.
    pub slug: Option<String>,
    /// The text, at most [`CONTENT_MAX`] characters; may be empty (a page being drafted).
    pub content: String,
}

/// Changes to a page for [`update`]: `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PagePatch {
    /// A new title, under the rules of [`NewPage::title`]. The slug does not follow it, so
    /// that links to the page keep working.
    pub title: Option<String>,
    /// A new slug, as given.
    pub slug: Option<String>,
    /// New text, under the rules of [`NewPage::content`].
    pub content: Option<String>,
}

fn checked_content(content: &str) -> Result<()> {
    if content.chars().count() > CONTENT_MAX {
        return Err(Error::Invalid {
            field: "content",
            violation: Violation::TooLong { max: CONTENT_MAX },
        });
    }
    crate::values::printable("content", content)
}

fn not_found() -> Error {
    Error::NotFound {
        entity: Table::Pages,
    }
}

/// Creates the store's standard pages (privacy policy, terms of service, refund policy, about,
/// contact, FAQ, at the slugs `privacy-policy`, `terms-of-service`, `refund-policy`, `about`,
/// `contact` and `faq`) with placeholder text, and returns them in that order.
///
/// Idempotent: a page whose slug the store already has is left exactly as it is and returned
/// instead (whatever its type). Each insert runs in a savepoint and a duplicate is recognised
/// by the unique rule `uq_pages_store_id_slug`, never by a read first, so concurrent calls and
/// a call inside the caller's transaction (store creation) are safe.
///
/// # Errors
/// [`Error::Database`] when the database fails; [`Error::MissingReference`] when the store
/// was deleted meanwhile.
pub async fn create_standard_pages<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    scope: &StoreScope,
) -> Result<Vec<Page>> {
    // Inserted in the order of the unique index (store, slug), returned in the standard order.
    // On MySQL a writer that waits on another's uncommitted duplicate queues a next-key lock
    // that covers the gap in front of that key; if the other then inserted into that gap
    // (a smaller slug) the two would deadlock. In index order every later key goes after it.
    let mut by_slug: Vec<usize> = (0..STANDARD_PAGES.len()).collect();
    by_slug.sort_by_key(|&i| STANDARD_PAGES[i].slug);
    let mut pages: Vec<Option<Page>> = vec![None; STANDARD_PAGES.len()];
    for i in by_slug {
        let standard = &STANDARD_PAGES[i];
        let at = now();
        let model = pages::Model {
            id: Uuid::now_v7(),
            store_id: scope.store_id(),
            r#type: standard.page_type,
            title: standard.title.to_owned(),
            slug: standard.slug.to_owned(),
            content: standard.content.to_owned(),
            created_at: at,
            updated_at: at,
        };
        let page = match insert_in_savepoint(db, model).await {
            Ok(page) => page,
            Err(Error::Conflict {
                rule: UniqueRule::PagesStoreSlug,
            }) => existing_by_slug(db, scope, standard.slug).await?,
            Err(err) => return Err(err),
        };
        pages[i] = Some(page);
    }
    Ok(pages.into_iter().flatten().collect())
}

/// Reads the page that made an insert fail as a duplicate. On MySQL the read locks (a locking
/// read sees the newest committed row even inside a REPEATABLE READ transaction whose snapshot
/// predates it); elsewhere a plain read sees it.
async fn existing_by_slug<C: ConnectionTrait>(
    db: &C,
    scope: &StoreScope,
    slug: &str,
) -> Result<Page> {
    let mut query = pages::Entity::find()
        .filter(pages::Column::StoreId.eq(scope.store_id()))
        .filter(pages::Column::Slug.eq(slug));
    if db.get_database_backend() == DbBackend::MySql {
        query = query.lock_shared();
    }
    query.one(db).await?.map(Page::from).ok_or_else(not_found)
}

/// Inserts `model` inside a savepoint (a transaction of its own on a pool), so that a refused
/// insert leaves a caller's transaction usable (on Postgres a failed statement would abort it).
async fn insert_in_savepoint<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    model: pages::Model,
) -> Result<Page> {
    let savepoint = begin_write(db).await?;
    let inserted = pages::Entity::insert(model.into_active_model())
        .exec_with_returning(&savepoint)
        .await
        .on_table("pages");
    match inserted {
        Ok(model) => {
            savepoint.commit().await?;
            Ok(model.into())
        }
        Err(err) => {
            rollback(savepoint).await;
            Err(err)
        }
    }
}

/// Rolls back after a failed statement. The statement's error is what the caller needs: when
/// the rollback fails too (MySQL drops every savepoint when it picks a transaction as a
/// deadlock victim) that is only logged.
async fn rollback<T: TransactionSession>(txn: T) {
    if let Err(err) = txn.rollback().await {
        tracing::warn!(error = %err, "rollback after a failed write failed");
    }
}

/// Creates a page. Without a slug, one is derived from the title (`Slug::from_title`) and,
/// when the store already has it, made unique with a readable suffix: `shipping`,
/// `shipping-2`, `shipping-3`, …
///
/// # Errors
/// - [`Error::Invalid`] naming `title` ([`Violation::Empty`], [`Violation::TooLong`]), `slug`
///   ([`Violation::Empty`], [`Violation::TooLong`], [`Violation::Format`]) or `content`
///   ([`Violation::TooLong`]); nothing is written.
/// - [`Error::Conflict`] with [`UniqueRule::PagesStoreSlug`] when a given slug is taken in
///   the store (or, very unlikely, a derived one kept being taken by concurrent writers).
/// - [`Error::Database`] when the database fails.
pub async fn create<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    scope: &StoreScope,
    new: NewPage,
) -> Result<Page> {
    let title = required_text("title", &new.title, TITLE_MAX)?;
    let given = new
        .slug
        .as_deref()
        .map(|slug| Slug::parse("slug", slug))
        .transpose()?;
    checked_content(&new.content)?;

    let at = now();
    let mut model = pages::Model {
        id: Uuid::now_v7(),
        store_id: scope.store_id(),
        r#type: new.page_type,
        title,
        slug: String::new(),
        content: new.content,
        created_at: at,
        updated_at: at,
    };

    if let Some(slug) = given {
        model.slug = slug.as_str().to_owned();
        return retry_transient(db, || insert_in_savepoint(db, model.clone())).await;
    }

    let base = Slug::from_title(&model.title, SLUG_FALLBACK);
    retry_transient(db, || async {
        let mut model = model.clone();
        for _ in 0..SLUG_ATTEMPTS {
            let taken = taken_slugs(db, scope, &base).await?;
            model.slug = first_free(&base, &taken).as_str().to_owned();
            match insert_in_savepoint(db, model.clone()).await {
                Err(Error::Conflict {
                    rule: UniqueRule::PagesStoreSlug,
                }) => continue,
                result => return result,
            }
        }
        Err(Error::Conflict {
            rule: UniqueRule::PagesStoreSlug,
        })
    })
    .await
}

/// The store's slugs that `base` or one of its suffixed forms could collide with. The prefix
/// is shortened because [`Slug::with_suffix`] shortens a long base to make room.
async fn taken_slugs<C: ConnectionTrait>(
    db: &C,
    scope: &StoreScope,
    base: &Slug,
) -> Result<HashSet<String>> {
    // Slugs are ASCII, so any byte index is a character boundary; they hold no LIKE wildcard.
    let prefix = &base.as_str()[..base.as_str().len().min(80)];
    let slugs = pages::Entity::find()
        .select_only()
        .column(pages::Column::Slug)
        .filter(pages::Column::StoreId.eq(scope.store_id()))
        .filter(pages::Column::Slug.starts_with(prefix))
        .into_tuple::<String>()
        .all(db)
        .await?;
    Ok(slugs.into_iter().collect())
}

/// `base` when free, else the first free of `base-2`, `base-3`, …
fn first_free(base: &Slug, taken: &HashSet<String>) -> Slug {
    if !taken.contains(base.as_str()) {
        return base.clone();
    }
    (2..)
        .map(|n| base.with_suffix(n))
        .find(|candidate| !taken.contains(candidate.as_str()))
        .unwrap_or_else(|| base.clone())
}

/// The store's page with this id.
///
/// # Errors
/// [`Error::NotFound`] (`"page"`) when the store has no such page (another store's page
/// included); [`Error::Database`] when the database fails.
pub async fn get<C: ConnectionTrait>(db: &C, scope: &StoreScope, id: Uuid) -> Result<Page> {
    pages::Entity::find_by_id(id)
        .filter(pages::Column::StoreId.eq(scope.store_id()))
        .one(db)
        .await?
        .map(Page::from)
        .ok_or_else(not_found)
}

/// The store's page at this slug (slugs are unique within a store). The slug is matched as
/// given: a malformed one matches nothing.
///
/// # Errors
/// [`Error::NotFound`] (`"page"`) when the store has no page at `slug`; [`Error::Database`]
/// when the database fails.
pub async fn get_by_slug<C: ConnectionTrait>(
    db: &C,
    scope: &StoreScope,
    slug: &str,
) -> Result<Page> {
    // Text that is no slug (upper case, a NUL, …) names no page; it is not sent to the
    // database, where Postgres would refuse a NUL with an error instead.
    let Ok(slug) = Slug::parse("slug", slug) else {
        return Err(not_found());
    };
    pages::Entity::find()
        .filter(pages::Column::StoreId.eq(scope.store_id()))
        .filter(pages::Column::Slug.eq(slug.as_str()))
        .one(db)
        .await?
        .map(Page::from)
        .ok_or_else(not_found)
}

/// The store's pages of `page_type`, or all of them when `None`: a store has a handful, so
/// the list is not paged.
///
/// Ordered by type in the order [`PageType`] declares them (the standard pages first, custom
/// pages last), then by title, then by slug. The order is made in Rust so that it is the same
/// on every backend (their enum and text collations differ).
///
/// # Errors
/// [`Error::Database`] when the database fails.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    scope: &StoreScope,
    page_type: Option<PageType>,
) -> Result<Vec<Page>> {
    let mut query = pages::Entity::find().filter(pages::Column::StoreId.eq(scope.store_id()));
    if let Some(page_type) = page_type {
        query = query.filter(pages::Column::Type.eq(page_type));
    }
    let mut pages: Vec<Page> = query.all(db).await?.into_iter().map(Page::from).collect();
    pages.sort_by(|a, b| {
        (type_rank(a.page_type), &a.title, &a.slug).cmp(&(
            type_rank(b.page_type),
            &b.title,
            &b.slug,
        ))
    });
    Ok(pages)
}

fn type_rank(page_type: PageType) -> u8 {
    match page_type {
        PageType::PrivacyPolicy => 0,
        PageType::TermsOfService => 1,
        PageType::RefundPolicy => 2,
        PageType::About => 3,
        PageType::Contact => 4,
        PageType::Faq => 5,
        PageType::Custom => 6,
    }
}

/// Changes the store's page `id` as `patch` says and returns it. An empty patch writes
/// nothing; any other sets `updated_at`.
///
/// # Errors
/// - [`Error::Invalid`] naming `title`, `slug` or `content` as for [`create`]; nothing is
///   written.
/// - [`Error::NotFound`] (`"page"`) when the store has no such page.
/// - [`Error::Conflict`] with [`UniqueRule::PagesStoreSlug`] when the new slug is taken.
/// - [`Error::Database`] when the database fails.
pub async fn update<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    scope: &StoreScope,
    id: Uuid,
    patch: PagePatch,
) -> Result<Page> {
    let title = patch
        .title
        .as_deref()
        .map(|title| required_text("title", title, TITLE_MAX))
        .transpose()?;
    let slug = patch
        .slug
        .as_deref()
        .map(|slug| Slug::parse("slug", slug))
        .transpose()?;
    if let Some(content) = &patch.content {
        checked_content(content)?;
    }
    if title.is_none() && slug.is_none() && patch.content.is_none() {
        return get(db, scope, id).await;
    }

    retry_transient(db, || async {
        let txn = begin_write(db).await?;
        let updated = update_in(
            &txn,
            scope,
            id,
            title.clone(),
            slug.clone(),
            patch.content.clone(),
        )
        .await;
        match updated {
            Ok(page) => {
                txn.commit().await?;
                Ok(page)
            }
            Err(err) => {
                rollback(txn).await;
                Err(err)
            }
        }
    })
    .await
}

async fn update_in<C: ConnectionTrait>(
    db: &C,
    scope: &StoreScope,
    id: Uuid,
    title: Option<String>,
    slug: Option<Slug>,
    content: Option<String>,
) -> Result<Page> {
    let current = pages::Entity::find_by_id(id)
        .filter(pages::Column::StoreId.eq(scope.store_id()))
        .one(db)
        .await?
        .ok_or_else(not_found)?;
    let mut page = current.into_active_model();
    if let Some(title) = title {
        page.title = Set(title);
    }
    if let Some(slug) = slug {
        page.slug = Set(slug.as_str().to_owned());
    }
    if let Some(content) = content {
        page.content = Set(content);
    }
    page.updated_at = Set(now());
    match page.update(db).await {
        Ok(model) => Ok(model.into()),
        Err(DbErr::RecordNotUpdated) => Err(not_found()),
        Err(err) => Err(err).on_table("pages"),
    }
}

/// Deletes the store's page `id`.
///
/// # Errors
/// [`Error::NotFound`] (`"page"`) when the store has no such page; [`Error::Database`] when
/// the database fails.
pub async fn delete<C: ConnectionTrait>(db: &C, scope: &StoreScope, id: Uuid) -> Result<()> {
    let deleted = retry_transient(db, || async {
        Ok(pages::Entity::delete_many()
            .filter(pages::Column::Id.eq(id))
            .filter(pages::Column::StoreId.eq(scope.store_id()))
            .exec(db)
            .await?)
    })
    .await?;
    if deleted.rows_affected == 0 {
        return Err(not_found());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_derived_slug_gets_the_first_free_numbered_suffix() {
        let base = Slug::from_title("Shipping", SLUG_FALLBACK);
        let taken: HashSet<String> = ["shipping", "shipping-2", "shipping-4"]
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(first_free(&base, &taken).as_str(), "shipping-3");
        assert_eq!(first_free(&base, &HashSet::new()).as_str(), "shipping");
    }

    #[test]
    fn the_standard_pages_have_valid_distinct_slugs_and_every_standard_type() {
        let slugs: HashSet<&str> = STANDARD_PAGES.iter().map(|p| p.slug).collect();
        assert_eq!(slugs.len(), STANDARD_PAGES.len());
        for page in &STANDARD_PAGES {
            assert!(Slug::parse("slug", page.slug).is_ok(), "{}", page.slug);
            assert!(page.title.chars().count() <= TITLE_MAX);
        }
        let ranks: Vec<u8> = STANDARD_PAGES
            .iter()
            .map(|p| type_rank(p.page_type))
            .collect();
        assert_eq!(ranks, vec![0, 1, 2, 3, 4, 5]);
    }
}
