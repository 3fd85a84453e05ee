//! Media assets of a store (table `media_assets`): images, videos, logos and backgrounds the
//! agents produce or the owner uploads. The files live elsewhere (a CDN); a row records where
//! and what they are.
//!
//! Everything takes a [`crate::StoreScope`]: every query filters by its store, and an asset of
//! another store is answered exactly like a missing one ([`crate::Error::NotFound`] with
//! [`crate::Table::MediaAssets`]).
//!
//! # What is accepted
//! [`create`] takes a [`NewMediaAsset`] whose URLs are already [`crate::values::HttpUrl`]s. It
//! stores the MIME type lower-cased; it must be `type/subtype` (RFC 6838 names, no parameters)
//! and fit the asset's [`MediaType`]: `image/*` for `IMAGE`, `LOGO` and `BACKGROUND`, `video/*`
//! for `VIDEO`, otherwise [`crate::Error::Invalid`] on `media_assets.mime_type` with
//! [`crate::Violation::MediaTypeMismatch`]. File names have no folder (`/`, `\`), sizes are
//! 0 to [`SIZE_MAX`] bytes, and metadata is the typed [`MediaMetadata`] (width, height, format,
//! duration in seconds) in the JSON column; a stored document that does not decode is
//! [`crate::Error::Undecodable`].
//!
//! # Paging
//! [`list`]`(&db, &scope, media_type, PageRequest::first(20))` (one [`MediaType`], or `None`
//! for all) returns a [`crate::paging::Page`] newest first, keyset-paged by id (UUID v7):
//! pass `page.next` to [`crate::paging::PageRequest::after`] for the next one. Assets added
//! between two requests never make one appear twice or be skipped; a page holds 1 to
//! [`crate::paging::MAX_PAGE_SIZE`] (100) rows.
//!
//! # Total bytes
//! [`count_bytes`] is one `SUM` query, cast back to a 64-bit integer in SQL on every backend
//! (Postgres sums `bigint` as `numeric`, MariaDB as `DECIMAL`), so it is exact well beyond
//! 2^31 (and 2^53).

mod values;

use chrono::{DateTime, FixedOffset};
use entity::media_assets;
use sea_orm::sea_query::{Alias, Expr, Func};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use uuid::Uuid;

pub use entity::sea_orm_active_enums::MediaType;
pub use values::{DURATION_MAX_SECONDS, FILENAME_MAX, FORMAT_MAX, MIME_TYPE_MAX, MediaMetadata};

use crate::clock::now;
use crate::error::{Error, Result, Table, Violation};
use crate::paging::{Page, PageRequest};
use crate::scope::StoreScope;
use crate::txn::retry_transient;
use crate::values::HttpUrl;
use crate::violations::OnTable;
use values::{checked_filename, checked_mime_type};

/// The largest asset, in bytes: 1 TiB. Far above any image or video a store serves, and low
/// enough that a store's [`count_bytes`] stays exact in an `i64` up to some eight million
/// assets of that size (the sum is never allowed to wrap or saturate).
pub const SIZE_MAX: i64 = 1 << 40;

/// A media asset of a store, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaAsset {
    /// The asset's id (UUID v7).
    pub id: Uuid,
    /// The store the asset belongs to.
    pub store_id: Uuid,
    /// What the asset is used as.
    pub media_type: MediaType,
    /// The file name, without any folder.
    pub filename: String,
    /// The MIME type, lower case, e.g. `image/png`.
    pub mime_type: String,
    /// Size in bytes.
    pub size: i64,
    /// Where the asset is served from.
    pub url: String,
    /// Where it came from, when it was processed from another file.
    pub original_url: Option<String>,
    /// What is known about its content.
    pub metadata: Option<MediaMetadata>,
    /// When the asset was registered.
    pub created_at: DateTime<FixedOffset>,
}

impl TryFrom<media_assets::Model> for MediaAsset {
    type Error = Error;

    /// # Errors
    /// [`Error::Undecodable`] naming `metadata` when the stored metadata is not a
    /// [`MediaMetadata`].
    fn try_from(model: media_assets::Model) -> Result<Self> {
        // Only an object is metadata: serde would also read an array as the fields in order.
        let metadata = model
            .metadata
            .map(|json| match json {
                serde_json::Value::Object(_) => serde_json::from_value::<MediaMetadata>(json).ok(),
                _ => None,
            })
            .map(|decoded| {
                decoded.ok_or(Error::Undecodable {
                    table: Table::MediaAssets,
                    column: "metadata",
                    row: model.id,
                })
            })
            .transpose()?;
        Ok(Self {
            id: model.id,
            store_id: model.store_id,
            media_type: model.r#type,
            filename: model.filename,
            mime_type: model.mime_type,
            size: model.size,
            url: model.url,
            original_url: model.original_url,
            metadata,
            created_at: model.created_at,
        })
    }
}

/// An asset to record with [`create`].
#[derive(Debug, Clone, PartialEq)]
pub struct NewMediaAsset {
    /// What the asset is used as; decides which MIME types fit.
    pub media_type: MediaType,
    /// The file name: trimmed, not empty, at most [`FILENAME_MAX`] characters, no `/` or `\`,
    /// no control character, not `.` or `..`.
    pub filename: String,
    /// `type/subtype` (no parameters), stored lower-cased; `image/*` for
    /// [`MediaType::Image`], [`MediaType::Logo`] and [`MediaType::Background`], `video/*` for
    /// [`MediaType::Video`].
    pub mime_type: String,
    /// Size in bytes, from 0 to [`SIZE_MAX`] (`i64`: a video can pass 2 GiB).
    pub size: i64,
    /// Where the asset is served from.
    pub url: HttpUrl,
    /// Where it came from, when it was processed from another file.
    pub original_url: Option<HttpUrl>,
    /// What is known about its content.
    pub metadata: Option<MediaMetadata>,
}

/// Records an asset of the store and returns it.
///
/// # Errors
/// - [`Error::Invalid`] naming the first bad field, and nothing is written:
///   `media_assets.filename` ([`Violation::Empty`], [`Violation::TooLong`],
///   [`Violation::Format`]); `media_assets.mime_type` ([`Violation::Empty`],
///   [`Violation::TooLong`], [`Violation::Format`], [`Violation::MediaTypeMismatch`]);
///   `media_assets.size` ([`Violation::OutOfRange`]).
/// - [`Error::MissingReference`] when the store was deleted meanwhile.
/// - [`Error::Database`] when the database fails.
#[tracing::instrument(skip_all, err, fields(store_id = %scope.store_id()))]
pub async fn create<C: ConnectionTrait>(
    db: &C,
    scope: &StoreScope,
    new: NewMediaAsset,
) -> Result<MediaAsset> {
    let filename = checked_filename(&new.filename)?;
    let mime_type = checked_mime_type(new.media_type, &new.mime_type)?;
    if !(0..=SIZE_MAX).contains(&new.size) {
        return Err(invalid(
            "media_assets.size",
            Violation::OutOfRange {
                min: 0,
                max: SIZE_MAX,
            },
        ));
    }
    let id = Uuid::now_v7();
    // Serialising metadata cannot fail (string keys, finite numbers); were it ever to, that is
    // the column that could not be written in a decodable form, never a silent `null`.
    let metadata = new
        .metadata
        .map(|m| {
            serde_json::to_value(m).map_err(|_| Error::Undecodable {
                table: Table::MediaAssets,
                column: "metadata",
                row: id,
            })
        })
        .transpose()?;

    let asset = media_assets::ActiveModel {
        id: Set(id),
        store_id: Set(scope.store_id()),
        r#type: Set(new.media_type),
        filename: Set(filename),
        mime_type: Set(mime_type),
        size: Set(new.size),
        url: Set(new.url.into()),
        original_url: Set(new.original_url.map(String::from)),
        metadata: Set(metadata),
        created_at: Set(now()),
    };
    retry_transient(db, || async {
        media_assets::Entity::insert(asset.clone())
            .exec_with_returning(db)
            .await
            .on_table("media_assets")
    })
    .await?
    .try_into()
}

/// The store's asset with this id.
///
/// # Errors
/// [`Error::NotFound`] when the store has no such asset (another store's
/// included); [`Error::Database`] when the database fails.
#[tracing::instrument(skip_all, err, fields(store_id = %scope.store_id(), media_asset_id = %id))]
pub async fn get<C: ConnectionTrait>(db: &C, scope: &StoreScope, id: Uuid) -> Result<MediaAsset> {
    media_assets::Entity::find_by_id(id)
        .filter(media_assets::Column::StoreId.eq(scope.store_id()))
        .one(db)
        .await?
        .ok_or_else(not_found)?
        .try_into()
}

/// One page of the store's assets of `media_type` (all types when `None`), newest first,
/// keyset-paged by id (see [`crate::paging`]): rows inserted between two requests never make
/// a row appear twice or be skipped.
///
/// # Errors
/// [`Error::Invalid`] naming `limit` ([`Violation::OutOfRange`]) for a page size of 0 or
/// above [`crate::paging::MAX_PAGE_SIZE`]; [`Error::Database`] when the database fails.
#[tracing::instrument(skip_all, err, fields(store_id = %scope.store_id()))]
pub async fn list<C: ConnectionTrait>(
    db: &C,
    scope: &StoreScope,
    media_type: Option<MediaType>,
    request: PageRequest,
) -> Result<Page<MediaAsset>> {
    let limit = request.checked_limit()?;
    let mut query =
        media_assets::Entity::find().filter(media_assets::Column::StoreId.eq(scope.store_id()));
    if let Some(media_type) = media_type {
        query = query.filter(media_assets::Column::Type.eq(media_type));
    }
    if let Some(cursor) = request.after {
        query = query.filter(media_assets::Column::Id.lt(cursor.last_id()));
    }
    let rows = query
        .order_by_desc(media_assets::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    let page = Page::from_rows(rows, limit, |row| row.id);
    let items = page
        .items
        .into_iter()
        .map(MediaAsset::try_from)
        .collect::<Result<Vec<_>>>()?;
    Ok(Page {
        items,
        next: page.next,
    })
}

/// Deletes the store's asset `id` (the row only; the file is the storage's business).
///
/// # Errors
/// [`Error::NotFound`] when the store has no such asset;
/// [`Error::Database`] when the database fails.
#[tracing::instrument(skip_all, err, fields(store_id = %scope.store_id(), media_asset_id = %id))]
pub async fn delete<C: ConnectionTrait>(db: &C, scope: &StoreScope, id: Uuid) -> Result<()> {
    let deleted = retry_transient(db, || async {
        Ok(media_assets::Entity::delete_many()
            .filter(media_assets::Column::Id.eq(id))
            .filter(media_assets::Column::StoreId.eq(scope.store_id()))
            .exec(db)
            .await?)
    })
    .await?;
    if deleted.rows_affected == 0 {
        return Err(not_found());
    }
    Ok(())
}

/// The bytes the store's assets take in total (0 for none), in one `SUM` query.
///
/// Exact on every backend: Postgres sums a `bigint` as `numeric` and MariaDB as `DECIMAL`,
/// so the sum is cast back to a 64-bit integer in SQL (`BIGINT` on Postgres, `SIGNED` on
/// MySQL, `INTEGER` on SQLite, whose sum of integers is already one).
///
/// Each asset is at most [`SIZE_MAX`], so the total cannot pass `i64::MAX` before a store
/// holds millions of terabyte-sized assets; if it ever did, the database refuses the cast
/// (Postgres, SQLite) rather than wrapping.
///
/// # Errors
/// [`Error::Database`] when the database fails.
#[tracing::instrument(skip_all, err, fields(store_id = %scope.store_id()))]
pub async fn count_bytes<C: ConnectionTrait>(db: &C, scope: &StoreScope) -> Result<i64> {
    let integer = match db.get_database_backend() {
        DbBackend::Postgres => "BIGINT",
        DbBackend::MySql => "SIGNED",
        _ => "INTEGER",
    };
    let sum = Func::coalesce([
        Func::sum(Expr::col(media_assets::Column::Size)).into(),
        Expr::val(0_i64),
    ]);
    let total = media_assets::Entity::find()
        .select_only()
        .expr(Func::cast_as(sum, Alias::new(integer)))
        .filter(media_assets::Column::StoreId.eq(scope.store_id()))
        .into_tuple::<i64>()
        .one(db)
        .await?;
    Ok(total.unwrap_or(0))
}

fn invalid(field: &'static str, violation: Violation) -> Error {
    Error::Invalid { field, violation }
}

fn not_found() -> Error {
    Error::NotFound {
        entity: Table::MediaAssets,
    }
}
