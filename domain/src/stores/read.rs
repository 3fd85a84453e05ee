//! Reading stores: by scope, by owner, and by the host a request came in on.

use entity::stores;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::values::HOSTNAME_MAX;
use super::{Store, StoreStatus};
use crate::error::{Error, Result, Table};
use crate::paging::{Page, PageRequest};
use crate::scope::StoreScope;

/// The store of `scope`.
///
/// # Errors
/// [`Error::NotFound`] when it was deleted since the scope was obtained.
#[tracing::instrument(skip_all, err, fields(store_id = %scope.store_id()))]
pub async fn get<C: ConnectionTrait>(db: &C, scope: &StoreScope) -> Result<Store> {
    stores::Entity::find_by_id(scope.store_id())
        .filter(stores::Column::UserId.eq(scope.owner_id()))
        .filter(stores::Column::DeletedAt.is_null())
        .one(db)
        .await?
        .ok_or(Error::NotFound {
            entity: Table::Stores,
        })?
        .try_into()
}

/// The owner's live stores, newest first, keyset-paged.
///
/// # Errors
/// [`Error::Invalid`] naming `limit` for a page size out of range.
#[tracing::instrument(skip_all, err, fields(user_id = %owner_id))]
pub async fn list_for_owner<C: ConnectionTrait>(
    db: &C,
    owner_id: Uuid,
    page: PageRequest,
) -> Result<Page<Store>> {
    let limit = page.checked_limit()?;
    let mut query = stores::Entity::find()
        .filter(stores::Column::UserId.eq(owner_id))
        .filter(stores::Column::DeletedAt.is_null())
        .order_by_desc(stores::Column::Id)
        .limit(limit + 1);
    if let Some(cursor) = page.after {
        query = query.filter(stores::Column::Id.lt(cursor.last_id()));
    }
    let rows = query.all(db).await?;
    let page = Page::from_rows(rows, limit, |m| m.id);
    Ok(Page {
        items: page
            .items
            .into_iter()
            .map(Store::try_from)
            .collect::<Result<_>>()?,
        next: page.next,
    })
}

/// The ACTIVE store that serves requests for `host`: a store's custom domain, or
/// `<subdomain>.<base_domain>`. A trailing dot and a port are ignored, and the host is mapped
/// as browsers map it before they send it (IDNA: case and width folded, international
/// names in punycode), the same mapping [`CustomDomain::parse`](super::CustomDomain::parse) applies when a domain is
/// set. Accented and look-alike letters are not folded: `tést-store` is not `test-store`.
///
/// # Errors
/// [`Error::Database`] only; an unknown host, or text that is no host name at all (a NUL,
/// spaces), is `Ok(None)`.
#[tracing::instrument(skip_all, err)]
pub async fn find_by_host<C: ConnectionTrait>(
    db: &C,
    host: &str,
    base_domain: &str,
) -> Result<Option<Store>> {
    let host = host.trim();
    let host = host
        .rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(host, |(h, _)| h);
    let Some(host) = host_name(host) else {
        return Ok(None);
    };
    let Some(base) = host_name(base_domain.trim()) else {
        return Ok(None);
    };
    let by_subdomain = host
        .strip_suffix(&base)
        .and_then(|rest| rest.strip_suffix('.'))
        .filter(|label| !label.is_empty() && !label.contains('.'));
    let query = stores::Entity::find()
        .filter(stores::Column::DeletedAt.is_null())
        .filter(stores::Column::Status.eq(StoreStatus::Active));
    let query = match by_subdomain {
        Some(label) => query.filter(stores::Column::Subdomain.eq(label)),
        None => query.filter(stores::Column::CustomDomain.eq(host.as_str())),
    };
    query.one(db).await?.map(Store::try_from).transpose()
}

/// A host name in the form stores keep: IDNA-mapped ASCII without a trailing dot, or `None`
/// for text that is no host name.
fn host_name(host: &str) -> Option<String> {
    let host = host.trim_end_matches('.');
    if host.is_empty() || host.len() > 4 * HOSTNAME_MAX {
        return None;
    }
    let ascii = idna::domain_to_ascii(host).ok()?;
    let well_formed = !ascii.is_empty()
        && ascii.len() <= HOSTNAME_MAX
        && ascii
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    well_formed.then_some(ascii)
}
