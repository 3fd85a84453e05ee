//! Creating a store: a free slug and subdomain, and the standard pages, in one transaction.

use entity::stores;
use sea_orm::{ConnectionTrait, TransactionSession, TransactionTrait};
use uuid::Uuid;

use super::values::{LABEL_MAX, RESERVED_SUBDOMAINS, Subdomain};
use super::{DESCRIPTION_MAX, NAME_MAX, NewStore, Store, StoreStatus};
use crate::clock;
use crate::db::begin_write;
use crate::error::Result;
use crate::rules::UniqueRule;
use crate::scope::StoreScope;
use crate::slugs::insert_with_free_slug;
use crate::txn::retry_transient;
use crate::values::{Slug, optional_text, required_text};

/// Creates a store for `owner_id`, with a unique slug derived from the name and the standard
/// pages, in one transaction.
///
/// A taken slug gets a readable suffix (`neon-nest-2`); so does a derived subdomain. A slug
/// or subdomain given explicitly that is taken is a conflict.
///
/// # Errors
/// [`Error::Invalid`](crate::Error::Invalid) for bad input (`stores.name`, `stores.niche`,
/// `stores.description`); [`Error::Conflict`](crate::Error::Conflict) with
/// [`UniqueRule::StoresSlug`] or [`UniqueRule::StoresSubdomain`] for a given slug or subdomain
/// that is taken; [`Error::MissingReference`](crate::Error::MissingReference) when the owner
/// does not exist.
#[tracing::instrument(skip_all, err, fields(user_id = %owner_id))]
pub async fn create<C>(db: &C, owner_id: Uuid, new: NewStore) -> Result<Store>
where
    C: ConnectionTrait + TransactionTrait,
{
    let name = required_text("stores.name", &new.name, NAME_MAX)?;
    let niche = required_text("stores.niche", &new.niche, NAME_MAX)?;
    let description = optional_text(
        "stores.description",
        new.description.as_deref(),
        DESCRIPTION_MAX,
    )?;
    let checked = CheckedStore {
        slug_given: new.slug.is_some(),
        base: new.slug.unwrap_or_else(|| Slug::from_title(&name, "store")),
        name,
        niche,
        description,
        subdomain: new.subdomain,
    };

    retry_transient(db, || create_once(db, owner_id, &checked)).await
}

async fn create_once<C>(db: &C, owner_id: Uuid, checked: &CheckedStore) -> Result<Store>
where
    C: ConnectionTrait + TransactionTrait,
{
    let txn = begin_write(db).await?;
    let id = Uuid::now_v7();
    let now = clock::now();
    let model = insert_with_free_slug::<stores::Entity, _>(
        &txn,
        "stores",
        &checked.base,
        |rule| retry_with_suffix(rule, checked.slug_given, checked.subdomain.is_some()),
        |slug| stores::Model {
            id,
            user_id: owner_id,
            name: checked.name.clone(),
            slug: slug.as_str().to_owned(),
            description: checked.description.clone(),
            niche: checked.niche.clone(),
            status: StoreStatus::Creating,
            brand_identity: None,
            custom_domain: None,
            subdomain: match &checked.subdomain {
                Some(given) => given.as_str().to_owned(),
                None => derived_subdomain(slug),
            },
            settings: None,
            created_at: now,
            updated_at: now,
            published_at: None,
            deleted_at: None,
        },
    )
    .await?;
    let scope = StoreScope::trusted(owner_id, model.id);
    crate::pages::create_standard_pages(&txn, &scope).await?;
    txn.commit().await?;
    model.try_into()
}

/// A store's input after validation.
struct CheckedStore {
    name: String,
    niche: String,
    description: Option<String>,
    subdomain: Option<Subdomain>,
    /// The slug to try first.
    base: Slug,
    slug_given: bool,
}

/// Whether a taken value is settled by trying the next suffix: only for values the store did
/// not ask for by name.
fn retry_with_suffix(rule: UniqueRule, slug_given: bool, subdomain_given: bool) -> bool {
    (rule == UniqueRule::StoresSlug && !slug_given)
        || (rule == UniqueRule::StoresSubdomain && !subdomain_given)
}

/// The subdomain a store gets when none is given: its slug, cut to a DNS label, and moved off
/// the reserved names.
fn derived_subdomain(slug: &Slug) -> String {
    let mut label: String = slug.as_str().chars().take(LABEL_MAX).collect();
    label = label.trim_end_matches('-').to_owned();
    if RESERVED_SUBDOMAINS.contains(&label.as_str()) {
        label.push_str("-shop");
    }
    label
}
