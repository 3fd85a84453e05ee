//! Stores: a merchant's shop, reached through its owner.
//!
//! Everything a store holds is reached through a [`StoreScope`], obtained once per request:
//! [`StoreScope::obtain`]`(&db, owner_id, store_id)` checks that the owner owns the live
//! store, and every function of [`crate::products`], [`crate::pages`], [`crate::media`] (and
//! the store's [`crate::agent_jobs`]) takes it. A caller cannot name another owner's rows;
//! another owner's store, a soft-deleted one and a missing one are all answered with the same
//! [`crate::Error::NotFound`] (`"store"`).
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
//! # let owner = domain::users::register(db, &hasher, domain::users::NewUser {
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
//! [`resolve_host`]`(host, base_domain)` finds the ACTIVE store of a custom domain or of
//! `<subdomain>.<base domain>`. [`soft_delete`] hides a store (its slug, subdomain and domain
//! stay reserved), [`restore`] brings it back, [`purge_deleted`]`(age)` deletes it for good
//! once deleted long enough (its jobs stay, with no store).

mod values;

use chrono::{DateTime, FixedOffset};
pub use entity::sea_orm_active_enums::StoreStatus;
use entity::stores;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionSession, TransactionTrait,
};
use uuid::Uuid;

use crate::scope::StoreScope;
pub use values::{
    BRAND_TEXT_MAX, BrandColors, BrandFonts, BrandIdentity, CustomDomain, HexColor,
    RESERVED_SUBDOMAINS, StoreSettings, Subdomain,
};

use crate::clock;
use crate::db::begin_write;
use crate::error::{Error, Result, Table, Transition};
use crate::paging::{Page, PageRequest};
use crate::rules::UniqueRule;
use crate::txn::retry_transient;
use crate::values::{READABLE_SUFFIXES, Slug, optional_text, required_text};
use crate::violations::OnTable;

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

    fn try_from(m: stores::Model) -> Result<Self> {
        let brand_identity = m
            .brand_identity
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| Error::Database(sea_orm::DbErr::Json(e.to_string())))?;
        let settings = m
            .settings
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| Error::Database(sea_orm::DbErr::Json(e.to_string())))?
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
    /// Display name (1 to [`NAME_MAX`] characters); the slug is derived from it.
    pub name: String,
    /// What the store sells (1 to [`NAME_MAX`] characters).
    pub niche: String,
    /// Optional description (at most [`DESCRIPTION_MAX`] characters).
    pub description: Option<String>,
    /// The slug to take; `None` derives it from the name.
    pub slug: Option<String>,
    /// The subdomain to take; `None` derives it from the slug.
    pub subdomain: Option<String>,
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

fn json<T: serde::Serialize>(value: &T) -> Result<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| Error::Database(sea_orm::DbErr::Json(e.to_string())))
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

/// Creates a store for `owner_id`, with a unique slug derived from the name and the standard
/// pages, in one transaction.
///
/// A taken slug gets a readable suffix (`neon-nest-2`); so does a derived subdomain. A slug
/// or subdomain given explicitly that is taken is a conflict.
///
/// # Errors
/// [`Error::Invalid`] for bad input (`name`, `niche`, `description`, `slug`, `subdomain`);
/// [`Error::Conflict`] with [`UniqueRule::StoresSlug`] or [`UniqueRule::StoresSubdomain`] for
/// a given slug or subdomain that is taken; [`Error::MissingReference`] when the owner does not exist.
pub async fn create<C>(db: &C, owner_id: Uuid, new: NewStore) -> Result<Store>
where
    C: ConnectionTrait + TransactionTrait,
{
    let name = required_text("name", &new.name, NAME_MAX)?;
    let niche = required_text("niche", &new.niche, NAME_MAX)?;
    let description = optional_text("description", new.description.as_deref(), DESCRIPTION_MAX)?;
    let given_subdomain = new.subdomain.as_deref().map(Subdomain::parse).transpose()?;
    let given_slug = new
        .slug
        .as_deref()
        .map(|s| Slug::parse("slug", s))
        .transpose()?;
    let checked = CheckedStore {
        slug_given: given_slug.is_some(),
        base: given_slug.unwrap_or_else(|| Slug::from_title(&name, "store")),
        name,
        niche,
        description,
        subdomain: given_subdomain,
    };

    retry_transient(db, || create_once(db, owner_id, &checked)).await
}

async fn create_once<C>(db: &C, owner_id: Uuid, checked: &CheckedStore) -> Result<Store>
where
    C: ConnectionTrait + TransactionTrait,
{
    let txn = begin_write(db).await?;
    let mut n = 1u32;
    let model = loop {
        let slug = checked.base.candidate(n);
        let subdomain = match &checked.subdomain {
            Some(given) => given.as_str().to_owned(),
            None => derived_subdomain(&slug),
        };
        let now = clock::now();
        let row = stores::ActiveModel {
            id: Set(Uuid::now_v7()),
            user_id: Set(owner_id),
            name: Set(checked.name.clone()),
            slug: Set(slug.as_str().to_owned()),
            description: Set(checked.description.clone()),
            niche: Set(checked.niche.clone()),
            status: Set(StoreStatus::Creating),
            brand_identity: Set(None),
            custom_domain: Set(None),
            subdomain: Set(subdomain),
            settings: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            published_at: Set(None),
            deleted_at: Set(None),
        };
        // Each try in a savepoint: on Postgres a failed statement would otherwise abort the
        // whole transaction.
        let savepoint = txn.begin().await?;
        match row.insert(&savepoint).await.on_table("stores") {
            Ok(model) => {
                savepoint.commit().await?;
                break model;
            }
            Err(Error::Conflict { rule })
                if retry_with_suffix(rule, checked.slug_given, checked.subdomain.is_some())
                    && n < READABLE_SUFFIXES + 3 =>
            {
                savepoint.rollback().await?;
                n += 1;
            }
            Err(err) => return Err(err),
        }
    };
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
    let mut label: String = slug.as_str().chars().take(values::LABEL_MAX).collect();
    label = label.trim_end_matches('-').to_owned();
    if RESERVED_SUBDOMAINS.contains(&label.as_str()) {
        label.push_str("-shop");
    }
    label
}

/// The store of `scope`.
///
/// # Errors
/// [`Error::NotFound`] when it was deleted since the scope was obtained.
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

/// Applies `patch` to the store.
///
/// # Errors
/// [`Error::Invalid`] naming the field for bad input (nothing is written);
/// [`Error::NotFound`] when the store is gone.
pub async fn update<C: ConnectionTrait>(
    db: &C,
    scope: &StoreScope,
    patch: StorePatch,
) -> Result<Store> {
    let mut row = live_row(scope);
    if let Some(name) = &patch.name {
        row.name = Set(required_text("name", name, NAME_MAX)?);
    }
    if let Some(niche) = &patch.niche {
        row.niche = Set(required_text("niche", niche, NAME_MAX)?);
    }
    if let Some(description) = &patch.description {
        row.description = Set(optional_text(
            "description",
            description.as_deref(),
            DESCRIPTION_MAX,
        )?);
    }
    if let Some(brand) = patch.brand_identity {
        row.brand_identity = Set(brand
            .map(BrandIdentity::validated)
            .transpose()?
            .as_ref()
            .map(json)
            .transpose()?);
    }
    if let Some(settings) = patch.settings {
        row.settings = Set(Some(json(&settings.validated()?)?));
    }
    write_row(db, scope, row).await
}

/// Sets (`Some`) or clears (`None`) the store's custom domain.
///
/// # Errors
/// [`Error::Invalid`] naming `custom_domain` for a bad host name; [`Error::Conflict`] with
/// [`UniqueRule::StoresCustomDomain`] when another store has it; [`Error::NotFound`].
pub async fn set_custom_domain<C: ConnectionTrait>(
    db: &C,
    scope: &StoreScope,
    domain: Option<&str>,
) -> Result<Store> {
    let domain = domain.map(CustomDomain::parse).transpose()?;
    let mut row = live_row(scope);
    row.custom_domain = Set(domain.map(|d| d.as_str().to_owned()));
    write_row(db, scope, row).await
}

/// Moves the store to `to` along the status machine ([`can_transition`]); the first move to
/// ACTIVE sets `published_at`.
///
/// The current status is read under the row's lock, so two concurrent moves cannot both
/// apply from the same state.
///
/// # Errors
/// [`Error::InvalidTransition`] when the machine forbids it; [`Error::NotFound`].
pub async fn transition<C>(db: &C, scope: &StoreScope, to: StoreStatus) -> Result<Store>
where
    C: ConnectionTrait + TransactionTrait,
{
    retry_transient(db, || async {
        let txn = begin_write(db).await?;
        // A locking read: the current row, not a snapshot (MariaDB's REPEATABLE READ inside a
        // caller's transaction), and no other move can come in before the update.
        let mut query = stores::Entity::find_by_id(scope.store_id())
            .filter(stores::Column::UserId.eq(scope.owner_id()))
            .filter(stores::Column::DeletedAt.is_null());
        if txn.get_database_backend() != sea_orm::DbBackend::Sqlite {
            query = query.lock(sea_orm::sea_query::LockType::Update);
        }
        let current = query.one(&txn).await?.ok_or(Error::NotFound {
            entity: Table::Stores,
        })?;
        if !can_transition(current.status, to) {
            return Err(Error::InvalidTransition(Transition::Store {
                from: current.status,
                to,
            }));
        }
        let mut row = live_row(scope);
        row.status = Set(to);
        if to == StoreStatus::Active && current.published_at.is_none() {
            row.published_at = Set(Some(clock::now()));
        }
        stores::Entity::update_many()
            .set(row)
            .filter(stores::Column::Id.eq(scope.store_id()))
            .exec(&txn)
            .await?;
        let store = get(&txn, scope).await?;
        txn.commit().await?;
        Ok(store)
    })
    .await
}

/// The owner's live stores, newest first, keyset-paged.
///
/// # Errors
/// [`Error::Invalid`] naming `limit` for a page size out of range.
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
/// names in punycode), the same mapping [`CustomDomain::parse`] applies when a domain is
/// set. Accented and look-alike letters are not folded: `tést-store` is not `test-store`.
///
/// # Errors
/// [`Error::Database`] only; an unknown host, or text that is no host name at all (a NUL,
/// spaces), is `Ok(None)`.
pub async fn resolve_host<C: ConnectionTrait>(
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
    if host.is_empty() || host.len() > 4 * values::HOSTNAME_MAX {
        return None;
    }
    let ascii = idna::domain_to_ascii(host).ok()?;
    let well_formed = !ascii.is_empty()
        && ascii.len() <= values::HOSTNAME_MAX
        && ascii
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    well_formed.then_some(ascii)
}

/// Soft-deletes the store: it disappears from every read (its slug, subdomain and domain stay
/// reserved) until [`restore`]d or [`purge_deleted`].
///
/// # Errors
/// [`Error::NotFound`] when it is already gone.
pub async fn soft_delete<C: ConnectionTrait>(db: &C, scope: &StoreScope) -> Result<()> {
    let now = clock::now();
    let done = retry_transient(db, || async {
        Ok(stores::Entity::update_many()
            .col_expr(stores::Column::DeletedAt, Expr::value(now))
            .col_expr(stores::Column::UpdatedAt, Expr::value(now))
            .filter(stores::Column::Id.eq(scope.store_id()))
            .filter(stores::Column::UserId.eq(scope.owner_id()))
            .filter(stores::Column::DeletedAt.is_null())
            .exec(db)
            .await?)
    })
    .await?;
    if done.rows_affected == 0 {
        return Err(Error::NotFound {
            entity: Table::Stores,
        });
    }
    Ok(())
}

/// Brings back a soft-deleted store of `owner_id`.
///
/// # Errors
/// [`Error::NotFound`] when the owner has no such deleted store.
pub async fn restore<C: ConnectionTrait>(db: &C, owner_id: Uuid, store_id: Uuid) -> Result<Store> {
    let done = retry_transient(db, || async {
        Ok(stores::Entity::update_many()
            .col_expr(
                stores::Column::DeletedAt,
                Expr::value(Option::<DateTime<FixedOffset>>::None),
            )
            .col_expr(stores::Column::UpdatedAt, Expr::value(clock::now()))
            .filter(stores::Column::Id.eq(store_id))
            .filter(stores::Column::UserId.eq(owner_id))
            .filter(stores::Column::DeletedAt.is_not_null())
            .exec(db)
            .await?)
    })
    .await?;
    if done.rows_affected == 0 {
        return Err(Error::NotFound {
            entity: Table::Stores,
        });
    }
    get(db, &StoreScope::trusted(owner_id, store_id)).await
}

/// Deletes for good every store soft-deleted more than `age` ago, with everything it owns
/// (its jobs stay, without a store). Returns how many stores were purged.
///
/// # Errors
/// [`Error::Invalid`] naming `age` when it is negative or reaches before the earliest time
/// there is; [`Error::Database`] when the database fails.
pub async fn purge_deleted<C: ConnectionTrait>(db: &C, age: chrono::Duration) -> Result<u64> {
    let cutoff = clock::now()
        .checked_sub_signed(age)
        .filter(|_| age >= chrono::Duration::zero())
        .ok_or(Error::Invalid {
            field: "age",
            violation: crate::Violation::OutOfRange {
                min: 0,
                max: i64::MAX,
            },
        })?;
    let done = retry_transient(db, || async {
        Ok(stores::Entity::delete_many()
            .filter(stores::Column::DeletedAt.lt(cutoff))
            .exec(db)
            .await?)
    })
    .await?;
    Ok(done.rows_affected)
}

/// An update of the scope's live store with only `updated_at` set so far.
fn live_row(scope: &StoreScope) -> stores::ActiveModel {
    stores::ActiveModel {
        id: sea_orm::ActiveValue::Unchanged(scope.store_id()),
        updated_at: Set(clock::now()),
        ..Default::default()
    }
}

async fn write_row<C: ConnectionTrait>(
    db: &C,
    scope: &StoreScope,
    row: stores::ActiveModel,
) -> Result<Store> {
    retry_transient(db, || async {
        let done = stores::Entity::update_many()
            .set(row.clone())
            .filter(stores::Column::Id.eq(scope.store_id()))
            .filter(stores::Column::UserId.eq(scope.owner_id()))
            .filter(stores::Column::DeletedAt.is_null())
            .exec(db)
            .await
            .on_table("stores")?;
        if done.rows_affected == 0 {
            return Err(Error::NotFound {
                entity: Table::Stores,
            });
        }
        get(db, scope).await
    })
    .await
}
