//! Writing a store's own pages: create, update, delete.

use entity::pages;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    IntoActiveModel, QueryFilter, TransactionSession, TransactionTrait,
};
use uuid::Uuid;

use super::{NewPage, Page, PagePatch, SLUG_FALLBACK, TITLE_MAX, checked_content, get, not_found};
use crate::clock::now;
use crate::db::begin_write;
use crate::error::Result;
use crate::rules::UniqueRule;
use crate::scope::StoreScope;
use crate::slugs::{insert_with_free_slug, rollback};
use crate::txn::retry_transient;
use crate::values::{Slug, required_text};
use crate::violations::OnTable;

/// Creates a page. Without a slug, one is derived from the title (`Slug::from_title`) and,
/// when the store already has it, made unique with a readable suffix: `shipping`,
/// `shipping-2`, `shipping-3`, …
///
/// # Errors
/// - [`Error::Invalid`](crate::Error::Invalid) naming `pages.title`
///   ([`Violation::Empty`](crate::Violation::Empty),
///   [`Violation::TooLong`](crate::Violation::TooLong)) or `pages.content`
///   ([`Violation::TooLong`](crate::Violation::TooLong)); nothing is written.
/// - [`Error::Conflict`](crate::Error::Conflict) with [`UniqueRule::PagesStoreSlug`] when a
///   given slug is taken in the store (or, very unlikely, a derived one kept being taken by
///   concurrent writers).
/// - [`Error::Database`](crate::Error::Database) when the database fails.
#[tracing::instrument(skip_all, err, fields(store_id = %scope.store_id()))]
pub async fn create<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    scope: &StoreScope,
    new: NewPage,
) -> Result<Page> {
    let title = required_text("pages.title", &new.title, TITLE_MAX)?;
    checked_content(&new.content)?;
    let slug_given = new.slug.is_some();
    let base = new
        .slug
        .unwrap_or_else(|| Slug::from_title(&title, SLUG_FALLBACK));
    let at = now();
    let model = pages::Model {
        id: Uuid::now_v7(),
        store_id: scope.store_id(),
        r#type: new.page_type,
        title,
        slug: String::new(),
        content: new.content,
        created_at: at,
        updated_at: at,
    };
    retry_transient(db, || {
        insert_with_free_slug::<pages::Entity, _>(
            db,
            "pages",
            &base,
            |rule| !slug_given && rule == UniqueRule::PagesStoreSlug,
            |slug| pages::Model {
                slug: slug.as_str().to_owned(),
                ..model.clone()
            },
        )
    })
    .await
    .map(Page::from)
}

/// Changes the store's page `id` as `patch` says and returns it. An empty patch writes
/// nothing; any other sets `updated_at`.
///
/// # Errors
/// - [`Error::Invalid`](crate::Error::Invalid) naming `pages.title` or `pages.content` as for
///   [`create`]; nothing is written.
/// - [`Error::NotFound`](crate::Error::NotFound) when the store has no such page.
/// - [`Error::Conflict`](crate::Error::Conflict) with [`UniqueRule::PagesStoreSlug`] when the
///   new slug is taken.
/// - [`Error::Database`](crate::Error::Database) when the database fails.
#[tracing::instrument(skip_all, err, fields(store_id = %scope.store_id(), page_id = %id))]
pub async fn update<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    scope: &StoreScope,
    id: Uuid,
    patch: PagePatch,
) -> Result<Page> {
    let title = patch
        .title
        .as_deref()
        .map(|title| required_text("pages.title", title, TITLE_MAX))
        .transpose()?;
    if let Some(content) = &patch.content {
        checked_content(content)?;
    }
    if title.is_none() && patch.slug.is_none() && patch.content.is_none() {
        return get(db, scope, id).await;
    }

    retry_transient(db, || async {
        let txn = begin_write(db).await?;
        let updated = update_in(
            &txn,
            scope,
            id,
            title.clone(),
            patch.slug.clone(),
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
/// [`Error::NotFound`](crate::Error::NotFound) when the store has no such page;
/// [`Error::Database`](crate::Error::Database) when the database fails.
#[tracing::instrument(skip_all, err, fields(store_id = %scope.store_id(), page_id = %id))]
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
