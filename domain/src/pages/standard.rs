//! The standard pages every store gets: privacy policy, terms, refunds, about, contact, FAQ.

use entity::pages;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect,
    TransactionTrait,
};
use uuid::Uuid;

use super::{Page, PageType, not_found};
use crate::clock::now;
use crate::error::{Error, Result};
use crate::rules::UniqueRule;
use crate::scope::StoreScope;
use crate::slugs::insert_with_free_slug;
use crate::values::Slug;

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
#[tracing::instrument(skip_all, err, fields(store_id = %scope.store_id()))]
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
        let inserted = insert_with_free_slug::<pages::Entity, _>(
            db,
            "pages",
            &Slug::parse("pages.slug", standard.slug)?,
            |_| false,
            |slug| pages::Model {
                id: Uuid::now_v7(),
                store_id: scope.store_id(),
                r#type: standard.page_type,
                title: standard.title.to_owned(),
                slug: slug.as_str().to_owned(),
                content: standard.content.to_owned(),
                created_at: at,
                updated_at: at,
            },
        )
        .await;
        let page = match inserted {
            Ok(model) => Page::from(model),
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

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::pages::TITLE_MAX;

    #[test]
    fn the_standard_pages_have_valid_distinct_slugs_and_every_standard_type() {
        let slugs: HashSet<&str> = STANDARD_PAGES.iter().map(|p| p.slug).collect();
        assert_eq!(slugs.len(), STANDARD_PAGES.len());
        for page in &STANDARD_PAGES {
            assert!(
                Slug::parse("pages.slug", page.slug).is_ok(),
                "{}",
                page.slug
            );
            assert!(page.title.chars().count() <= TITLE_MAX);
        }
        let ranks: Vec<u8> = STANDARD_PAGES
            .iter()
            .map(|p| crate::pages::read::type_rank(p.page_type))
            .collect();
        assert_eq!(ranks, vec![0, 1, 2, 3, 4, 5]);
    }
}
