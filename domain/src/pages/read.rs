//! Reading a store's pages.

use entity::pages;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::{Page, PageType, not_found};
use crate::error::Result;
use crate::scope::StoreScope;
use crate::values::Slug;

/// The store's page with this id.
///
/// # Errors
/// [`Error::NotFound`](crate::Error::NotFound) when the store has no such page (another store's page
/// included); [`Error::Database`](crate::Error::Database) when the database fails.
#[tracing::instrument(skip_all, err, fields(store_id = %scope.store_id(), page_id = %id))]
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
/// [`Error::NotFound`](crate::Error::NotFound) when the store has no page at `slug`; [`Error::Database`](crate::Error::Database)
/// when the database fails.
#[tracing::instrument(skip_all, err, fields(store_id = %scope.store_id()))]
pub async fn get_by_slug<C: ConnectionTrait>(
    db: &C,
    scope: &StoreScope,
    slug: &str,
) -> Result<Page> {
    // Text that is no slug (upper case, a NUL, …) names no page; it is not sent to the
    // database, where Postgres would refuse a NUL with an error instead.
    let Ok(slug) = Slug::parse("pages.slug", slug) else {
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
/// [`Error::Database`](crate::Error::Database) when the database fails.
#[tracing::instrument(skip_all, err, fields(store_id = %scope.store_id()))]
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

pub(super) fn type_rank(page_type: PageType) -> u8 {
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
