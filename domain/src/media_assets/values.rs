//! Value types of a media asset: its metadata, and the checks of its file name and MIME type.

use entity::sea_orm_active_enums::MediaType;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, Violation};
use crate::values::{optional_text, required_text};

/// The longest file name, in characters (the column is a `varchar(255)` on MySQL).
pub const FILENAME_MAX: usize = 255;
/// The longest MIME type: RFC 6838 allows 127 characters for each of type and subtype.
pub const MIME_TYPE_MAX: usize = 255;
/// The longest [`MediaMetadata::format`], in characters.
pub const FORMAT_MAX: usize = 32;
/// The longest [`MediaMetadata::duration_seconds`]: a day; anything longer is a mistake.
pub const DURATION_MAX_SECONDS: i64 = 86_400;

fn invalid(field: &'static str, violation: Violation) -> Error {
    Error::Invalid { field, violation }
}

/// What is known about an asset's content, stored in `media_assets.metadata`. Every field
/// is optional; absent fields are left out of the JSON.
///
/// [`MediaMetadata::new`] is the one way to build one (besides the empty
/// [`MediaMetadata::default`]); reading one from JSON checks it as `new` does.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "MediaMetadataDocument")]
pub struct MediaMetadata {
    #[serde(skip_serializing_if = "Option::is_none")]
    width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    height: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration_seconds: Option<f64>,
}

/// [`MediaMetadata`] as it is in JSON, before validation.
#[derive(Deserialize)]
struct MediaMetadataDocument {
    #[serde(default)]
    width: Option<u32>,
    #[serde(default)]
    height: Option<u32>,
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    duration_seconds: Option<f64>,
}

impl TryFrom<MediaMetadataDocument> for MediaMetadata {
    type Error = Error;

    fn try_from(doc: MediaMetadataDocument) -> Result<Self> {
        Self::new(
            doc.width,
            doc.height,
            doc.format.as_deref(),
            doc.duration_seconds,
        )
    }
}

impl MediaMetadata {
    /// Metadata of an asset: its width and height in pixels (at least 1), its encoding (e.g.
    /// `png`, `webp`, `h264`: trimmed, at most [`FORMAT_MAX`] characters, blank is `None`),
    /// and the play time of a video in seconds (0 to [`DURATION_MAX_SECONDS`]).
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `media_assets.metadata.width`, `.height` or
    /// `.duration_seconds` ([`Violation::OutOfRange`]), or `media_assets.metadata.format`
    /// ([`Violation::TooLong`], [`Violation::ControlCharacter`]).
    pub fn new(
        width: Option<u32>,
        height: Option<u32>,
        format: Option<&str>,
        duration_seconds: Option<f64>,
    ) -> Result<Self> {
        let positive = |field, value: Option<u32>| match value {
            Some(0) => Err(invalid(
                field,
                Violation::OutOfRange {
                    min: 1,
                    max: i64::from(u32::MAX),
                },
            )),
            _ => Ok(()),
        };
        positive("media_assets.metadata.width", width)?;
        positive("media_assets.metadata.height", height)?;
        let format = optional_text("media_assets.metadata.format", format, FORMAT_MAX)?;
        if let Some(duration) = duration_seconds {
            // NaN fails both comparisons' negation, so it is refused too.
            if !(duration >= 0.0 && duration <= DURATION_MAX_SECONDS as f64) {
                return Err(invalid(
                    "media_assets.metadata.duration_seconds",
                    Violation::OutOfRange {
                        min: 0,
                        max: DURATION_MAX_SECONDS,
                    },
                ));
            }
        }
        Ok(Self {
            width,
            height,
            format,
            duration_seconds,
        })
    }

    /// Width in pixels.
    pub fn width(&self) -> Option<u32> {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> Option<u32> {
        self.height
    }

    /// The encoding, e.g. `png`.
    pub fn format(&self) -> Option<&str> {
        self.format.as_deref()
    }

    /// Play time of a video, in seconds.
    pub fn duration_seconds(&self) -> Option<f64> {
        self.duration_seconds
    }
}

pub(super) fn checked_filename(value: &str) -> Result<String> {
    let filename = required_text("media_assets.filename", value, FILENAME_MAX)?;
    if filename.contains(['/', '\\'])
        || filename.chars().any(char::is_control)
        || filename == "."
        || filename == ".."
    {
        return Err(invalid("media_assets.filename", Violation::Format));
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

pub(super) fn checked_mime_type(media_type: MediaType, value: &str) -> Result<String> {
    let mime = value.trim().to_ascii_lowercase();
    if mime.is_empty() {
        return Err(invalid("media_assets.mime_type", Violation::Empty));
    }
    if mime.chars().count() > MIME_TYPE_MAX {
        return Err(invalid(
            "media_assets.mime_type",
            Violation::TooLong { max: MIME_TYPE_MAX },
        ));
    }
    let Some((top, sub)) = mime.split_once('/') else {
        return Err(invalid("media_assets.mime_type", Violation::Format));
    };
    if !restricted_name(top) || !restricted_name(sub) {
        return Err(invalid("media_assets.mime_type", Violation::Format));
    }
    let expected = match media_type {
        MediaType::Image | MediaType::Logo | MediaType::Background => "image",
        MediaType::Video => "video",
    };
    if top != expected {
        return Err(invalid(
            "media_assets.mime_type",
            Violation::MediaTypeMismatch,
        ));
    }
    Ok(mime)
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
            ("media_assets.mime_type", Violation::MediaTypeMismatch)
        );
        assert_eq!(
            violation(checked_mime_type(MediaType::Video, "image/png")),
            ("media_assets.mime_type", Violation::MediaTypeMismatch)
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
                ("media_assets.mime_type", Violation::Format),
                "{bad}"
            );
        }
        assert_eq!(
            violation(checked_mime_type(MediaType::Image, "  ")),
            ("media_assets.mime_type", Violation::Empty)
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
                ("media_assets.filename", Violation::Format),
                "{bad:?}"
            );
        }
        assert_eq!(
            violation(checked_filename("a\u{0}b")),
            ("media_assets.filename", Violation::ControlCharacter)
        );
    }

    #[test]
    fn metadata_dimensions_and_duration_are_bounded() {
        assert_eq!(
            violation(MediaMetadata::new(Some(0), None, None, None)).0,
            "media_assets.metadata.width"
        );
        assert_eq!(
            violation(MediaMetadata::new(None, Some(0), None, None)).0,
            "media_assets.metadata.height"
        );
        for duration in [-1.0, f64::NAN, f64::INFINITY, 86_401.0] {
            assert_eq!(
                violation(MediaMetadata::new(None, None, None, Some(duration))).0,
                "media_assets.metadata.duration_seconds",
                "{duration}"
            );
        }
        let json = serde_json::json!({"width": 0});
        assert!(serde_json::from_value::<MediaMetadata>(json).is_err());
    }

    #[test]
    fn metadata_reads_back_from_its_json_and_leaves_out_what_is_unknown() {
        let metadata = MediaMetadata::new(Some(512), None, Some(" png "), None).expect("valid");
        assert_eq!(metadata.format(), Some("png"));
        let json = serde_json::to_value(&metadata).expect("serialise");
        assert_eq!(json, serde_json::json!({"width": 512, "format": "png"}));
        assert_eq!(
            serde_json::from_value::<MediaMetadata>(json).ok(),
            Some(metadata)
        );
    }
}
