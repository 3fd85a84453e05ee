//! Media assets of a store: images, videos, logos and backgrounds the agents produce or the
//! owner uploads. The files live elsewhere (a CDN); a row records where and what they are.
//!
//! Everything takes a [`crate::stores::StoreScope`]: every query filters by its store, and an
//! asset of another store is answered exactly like a missing one ([`crate::Error::NotFound`]
//! with `"media_asset"`).
//!
//! # What is accepted
//! [`register`] stores the MIME type lower-cased; it must be `type/subtype` (RFC 6838 names,
//! no parameters) and fit the asset's [`MediaType`]: `image/*` for `IMAGE`, `LOGO` and
//! `BACKGROUND`, `video/*` for `VIDEO`, otherwise [`crate::Error::Invalid`] on `mime_type`
//! with [`crate::Violation::MediaTypeMismatch`]. File names have no folder (`/`, `\`), sizes
//! are non-negative `i64` bytes, URLs are absolute http(s), and metadata is the typed
//! [`MediaMetadata`] (width, height, format, duration in seconds) in the JSON column.
//!
//! # Paging
//! [`list`]`(&db, &scope, media_type, PageRequest::first(20))` (one [`MediaType`], or `None`
//! for all) returns a [`crate::paging::Page`] newest first, keyset-paged by id (UUID v7):
//! pass `page.next` to [`crate::paging::PageRequest::after`] for the next one. Assets added
//! between two requests never make one appear twice or be skipped; a page holds 1 to
//! [`crate::paging::MAX_PAGE_SIZE`] (100) rows.
//!
//! # Total bytes
//! [`total_bytes`] is one `SUM` query, cast back to a 64-bit integer in SQL on every backend
//! (Postgres sums `bigint` as `numeric`, MariaDB as `DECIMAL`), so it is exact well beyond
//! 2^31 (and 2^53).

use chrono::{DateTime, FixedOffset};
use entity::media_assets;
use sea_orm::sea_query::{Alias, Expr, Func};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use entity::sea_orm_active_enums::MediaType;

use crate::clock::now;
use crate::error::{Error, Result, Table, Violation};
use crate::paging::{Page, PageRequest};
use crate::scope::StoreScope;
use crate::txn::retry_transient;
use crate::values::{HttpUrl, optional_text, required_text};
use crate::violations::OnTable;

/// The longest file name, in characters (the column is a `varchar(255)` on MySQL).
pub const FILENAME_MAX: usize = 255;
/// The longest MIME type: RFC 6838 allows 127 characters for each of type and subtype.
pub const MIME_TYPE_MAX: usize = 255;
/// The longest [`MediaMetadata::format`], in characters.
pub const FORMAT_MAX: usize = 32;
/// The longest [`MediaMetadata::duration_seconds`]: a day; anything longer is a mistake.
pub const DURATION_MAX_SECONDS: i64 = 86_400;
/// The largest asset, in bytes: 1 TiB. Far above any image or video a store serves, and low
/// enough that a store's [`total_bytes`] stays exact in an `i64` up to some eight million
/// assets of that size (the sum is never allowed to wrap or saturate).
pub const SIZE_MAX: i64 = 1 << 40;

/// What is known about an asset's content, stored in the `metadata` JSON column. Every field
/// is optional; absent fields are left out of the JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MediaMetadata {
    /// Width in pixels, at least 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// Height in pixels, at least 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// The encoding, e.g. `png`, `webp`, `h264`: trimmed, at most [`FORMAT_MAX`] characters;
    /// blank is `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Play time of a video in seconds, from 0 to [`DURATION_MAX_SECONDS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<f64>,
}

impl MediaMetadata {
    fn checked(mut self) -> Result<Self> {
        let positive = |field, value: Option<u32>| match value {
            Some(0) => Err(Error::Invalid {
                field,
                violation: Violation::OutOfRange {
                    min: 1,
                    max: i64::from(u32::MAX),
                },
            }),
            _ => Ok(()),
        };
        positive("metadata.width", self.width)?;
        positive("metadata.height", self.height)?;
        self.format = optional_text("metadata.format", self.format.as_deref(), FORMAT_MAX)?;
        if let Some(duration) = self.duration_seconds {
            // NaN fails both comparisons' negation, so it is refused too.
            if !(duration >= 0.0 && duration <= DURATION_MAX_SECONDS as f64) {
                return Err(Error::Invalid {
                    field: "metadata.duration_seconds",
                    violation: Violation::OutOfRange {
                        min: 0,
                        max: DURATION_MAX_SECONDS,
                    },
                });
            }
        }
        Ok(self)
    }
}

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
    /// [`Error::Database`] with [`DbErr::Json`] when the stored metadata is not a
    /// [`MediaMetadata`].
    fn try_from(model: media_assets::Model) -> Result<Self> {
        let metadata = model
            .metadata
            .map(serde_json::from_value::<MediaMetadata>)
            .transpose()
            .map_err(|err| Error::Database(DbErr::Json(err.to_string())))?;
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

/// An asset to record with [`register`].
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
    /// Where the asset is served from: an absolute http(s) URL.
    pub url: String,
    /// Where it came from, an absolute http(s) URL; `None` or blank for none.
    pub original_url: Option<String>,
    /// What is known about its content.
    pub metadata: Option<MediaMetadata>,
}

fn invalid(field: &'static str, violation: Violation) -> Error {
    Error::Invalid { field, violation }
}

fn not_found() -> Error {
    Error::NotFound {
        entity: Table::MediaAssets,
    }
}

fn checked_filename(value: &str) -> Result<String> {
    let filename = required_text("filename", value, FILENAME_MAX)?;
    if filename.contains(['/', '\\'])
        || filename.chars().any(char::is_control)
        || filename == "."
        || filename == ".."
    {
        return Err(invalid("filename", Violation::Format));
    }
    Ok(filename)
}

/// A token of RFC 6838's restricted-name: a letter or digit, then letters, digits and
/// `!#$&-^_.+`, at most 127 characters.
fn restricted_name(token: &str) -> bool {
    let mut bytes = token.bytes();
    token.len() <= 127
        && bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
}

fn checked_mime_type(media_type: MediaType, value: &str) -> Result<String> {
    let mime = value.trim().to_ascii_lowercase();
    if mime.is_empty() {
        return Err(invalid("mime_type", Violation::Empty));
    }
    if mime.chars().count() > MIME_TYPE_MAX {
        return Err(invalid(
            "mime_type",
            Violation::TooLong { max: MIME_TYPE_MAX },
        ));
    }
    let Some((top, sub)) = mime.split_once('/') else {
        return Err(invalid("mime_type", Violation::Format));
    };
    if !restricted_name(top) || !restricted_name(sub) {
        return Err(invalid("mime_type", Violation::Format));
    }
    let expected = match media_type {
        MediaType::Image | MediaType::Logo | MediaType::Background => "image",
        MediaType::Video => "video",
    };
    if top != expected {
        return Err(invalid("mime_type", Violation::MediaTypeMismatch));
    }
    Ok(mime)
}

/// Records an asset of the store and returns it.
///
/// # Errors
/// - [`Error::Invalid`] naming the first bad field, and nothing is written: `filename`
///   ([`Violation::Empty`], [`Violation::TooLong`], [`Violation::Format`]); `mime_type`
///   ([`Violation::Empty`], [`Violation::TooLong`], [`Violation::Format`],
///   [`Violation::MediaTypeMismatch`]); `size` ([`Violation::OutOfRange`]); `url` and
///   `original_url` (as [`HttpUrl::parse`]); `metadata.width`, `metadata.height`,
///   `metadata.duration_seconds` ([`Violation::OutOfRange`]), `metadata.format`
///   ([`Violation::TooLong`]).
/// - [`Error::MissingReference`] when the store was deleted meanwhile.
/// - [`Error::Database`] when the database fails.
pub async fn register<C: ConnectionTrait>(
    db: &C,
    scope: &StoreScope,
    new: NewMediaAsset,
) -> Result<MediaAsset> {
    let filename = checked_filename(&new.filename)?;
    let mime_type = checked_mime_type(new.media_type, &new.mime_type)?;
    if !(0..=SIZE_MAX).contains(&new.size) {
        return Err(invalid(
            "size",
            Violation::OutOfRange {
                min: 0,
                max: SIZE_MAX,
            },
        ));
    }
    let url = HttpUrl::parse("url", &new.url)?;
    let original_url = match new.original_url.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(value) => Some(HttpUrl::parse("original_url", value)?),
    };
    let metadata = new.metadata.map(MediaMetadata::checked).transpose()?;
    let metadata = metadata
        .map(|m| {
            serde_json::to_value(m).map_err(|err| Error::Database(DbErr::Json(err.to_string())))
        })
        .transpose()?;

    let asset = media_assets::ActiveModel {
        id: Set(Uuid::now_v7()),
        store_id: Set(scope.store_id()),
        r#type: Set(new.media_type),
        filename: Set(filename),
        mime_type: Set(mime_type),
        size: Set(new.size),
        url: Set(url.into()),
        original_url: Set(original_url.map(String::from)),
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
/// [`Error::NotFound`] (`"media_asset"`) when the store has no such asset (another store's
/// included); [`Error::Database`] when the database fails.
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
/// [`Error::NotFound`] (`"media_asset"`) when the store has no such asset;
/// [`Error::Database`] when the database fails.
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
pub async fn total_bytes<C: ConnectionTrait>(db: &C, scope: &StoreScope) -> Result<i64> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn violation<T: std::fmt::Debug>(result: Result<T>) -> (&'static str, Violation) {
        match result {
            Err(Error::Invalid { field, violation }) => (field, violation),
            other => panic!("expected an invalid input, got {other:?}"),
        }
    }

    #[test]
    fn mime_types_are_lower_cased_and_must_fit_the_media_type() {
        assert_eq!(
            checked_mime_type(MediaType::Logo, " Image/SVG+XML ").ok(),
            Some("image/svg+xml".to_owned())
        );
        assert_eq!(
            checked_mime_type(MediaType::Video, "video/mp4").ok(),
            Some("video/mp4".to_owned())
        );
        assert_eq!(
            violation(checked_mime_type(MediaType::Image, "video/mp4")),
            ("mime_type", Violation::MediaTypeMismatch)
        );
        assert_eq!(
            violation(checked_mime_type(MediaType::Video, "image/png")),
            ("mime_type", Violation::MediaTypeMismatch)
        );
        for bad in [
            "image",
            "image/",
            "/png",
            "image/png/x",
            "image/png; q=1",
            "image /png",
            "ima ge/png",
        ] {
            assert_eq!(
                violation(checked_mime_type(MediaType::Image, bad)),
                ("mime_type", Violation::Format),
                "{bad}"
            );
        }
        assert_eq!(
            violation(checked_mime_type(MediaType::Image, "  ")),
            ("mime_type", Violation::Empty)
        );
    }

    #[test]
    fn file_names_have_no_folder() {
        assert_eq!(
            checked_filename(" logo.png ").ok(),
            Some("logo.png".to_owned())
        );
        for bad in ["a/b.png", "a\\b.png", "..", ".", "a\nb"] {
            assert_eq!(
                violation(checked_filename(bad)),
                ("filename", Violation::Format),
                "{bad:?}"
            );
        }
        assert_eq!(
            violation(checked_filename("a\u{0}b")),
            ("filename", Violation::ControlCharacter)
        );
    }

    #[test]
    fn metadata_dimensions_and_duration_are_bounded() {
        let bad_width = MediaMetadata {
            width: Some(0),
            ..MediaMetadata::default()
        };
        assert_eq!(violation(bad_width.checked()).0, "metadata.width");
        for duration in [-1.0, f64::NAN, f64::INFINITY, 86_401.0] {
            let bad = MediaMetadata {
                duration_seconds: Some(duration),
                ..MediaMetadata::default()
            };
            assert_eq!(
                violation(bad.checked()).0,
                "metadata.duration_seconds",
                "{duration}"
            );
        }
    }
}
