//! What each agent type is given (its input) and gives back (its output), stored as JSON in
//! `agent_jobs.input` and `agent_jobs.output`. The job's `type` column says which variant the
//! JSON is, so the JSON itself carries no tag.
//!
//! Both are checked before they are written ([`JobInput::validate`], [`JobOutput::validate`]):
//! every field against its rule (no NUL or other control character in any text), the whole
//! document against [`MAX_PAYLOAD_BYTES`], and finally the JSON to be stored is read back and
//! must give the very value that was checked. So a payload that a write accepts always reads
//! back; one that would not is refused at the write, naming `input` or `output`.

use entity::sea_orm_active_enums::{AgentType, SupplierProvider};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub use crate::stores::BrandIdentity;
use uuid::Uuid;

use crate::error::{Error, Result, Violation};

/// Longest short text field (niche, tone, query, style…), in characters.
pub const MAX_SHORT_TEXT: usize = 200;
/// Most products a product scout may be asked for.
pub const MAX_SCOUT_LIMIT: u32 = 100;
/// Most products one copywriter job may cover.
pub const MAX_COPY_PRODUCTS: usize = 100;
/// Most images one image processor job may cover.
pub const MAX_IMAGES: usize = 20;
/// Most operations one image processor job may apply.
pub const MAX_IMAGE_OPERATIONS: usize = 10;
/// Largest side of a resized image, in pixels.
pub const MAX_IMAGE_SIDE: u32 = 8_192;
/// Longest video a video generator job may ask for, in seconds.
pub const MAX_VIDEO_SECONDS: u32 = 180;
/// Longest URL accepted, in characters.
pub const MAX_URL: usize = 2_048;
/// Largest input or output of a job, in bytes of its JSON: 1 MiB. Far above what an agent
/// needs (the largest typed payload, 100 products of copy, stays under it unless the
/// descriptions are huge), and far below every backend's packet and column limits
/// (MariaDB's `max_allowed_packet` is 16 MiB by default), so that a write never fails there.
pub const MAX_PAYLOAD_BYTES: usize = 1024 * 1024;
/// Longest title in an output (a scouted product's, a written product title), in characters.
pub const MAX_TITLE: usize = 500;
/// Longest written description, in characters (the products' own limit).
pub const MAX_DESCRIPTION: usize = 50_000;
/// Longest supplier product id in a scout's output, in characters.
pub const MAX_SOURCE_ID: usize = 255;
/// Longest SEO title written by a copywriter, in characters.
pub const MAX_META_TITLE: usize = 200;
/// Longest SEO description written by a copywriter, in characters.
pub const MAX_META_DESCRIPTION: usize = 500;

/// The input of a job: what its agent needs. The variant decides the job's [`AgentType`].
///
/// Checked by [`JobInput::validate`] when the job is enqueued; nothing invalid is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobInput {
    /// For the brand generator.
    BrandGenerator(BrandBrief),
    /// For the product scout.
    ProductScout(ProductSearch),
    /// For the copywriter.
    Copywriter(CopyBrief),
    /// For the image processor.
    ImageProcessor(ImageWork),
    /// For the video generator.
    VideoGenerator(VideoBrief),
}

/// The brand generator's brief: the store's niche and the tone of voice to write in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrandBrief {
    /// What the store sells, e.g. "Cyberpunk home decor".
    pub niche: String,
    /// The tone of voice, e.g. "futuristic".
    pub tone: String,
    /// A name the merchant already has in mind, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_name: Option<String>,
}

/// The product scout's search: which supplier, what to look for, and how many results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductSearch {
    /// The supplier to search.
    #[serde(with = "provider_name")]
    pub provider: SupplierProvider,
    /// The search terms.
    pub query: String,
    /// How many products to bring back (1 to [`MAX_SCOUT_LIMIT`]).
    pub limit: u32,
}

/// The copywriter's brief: which products to write for, in which tone and language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyBrief {
    /// The products to write titles and descriptions for (1 to [`MAX_COPY_PRODUCTS`]).
    pub product_ids: Vec<Uuid>,
    /// The tone of voice.
    pub tone: String,
    /// The language to write in, as a BCP 47 tag such as `en` or `pt-BR`.
    pub language: String,
}

/// The image processor's work: which images, and what to do to each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageWork {
    /// The images, as `http(s)` URLs (1 to [`MAX_IMAGES`]).
    pub source_urls: Vec<String>,
    /// What to do to each image, in order (1 to [`MAX_IMAGE_OPERATIONS`]).
    pub operations: Vec<ImageOperation>,
}

/// One step of image processing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ImageOperation {
    /// Cut the product out of its background.
    RemoveBackground,
    /// Scale to fit the box (each side 1 to [`MAX_IMAGE_SIDE`] pixels).
    Resize {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// Improve light, colour and sharpness.
    Enhance,
}

/// The video generator's brief: a short promotional video for one product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VideoBrief {
    /// The product the video shows.
    pub product_id: Uuid,
    /// Length of the video (1 to [`MAX_VIDEO_SECONDS`] seconds).
    pub duration_seconds: u32,
    /// A style hint, e.g. "neon night".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style: Option<String>,
}

/// The output of a completed job, read back typed. The variant must match the job's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutput {
    /// From the brand generator: the store's brand identity, validated like any other.
    BrandGenerator(BrandIdentity),
    /// From the product scout.
    ProductScout(ScoutResult),
    /// From the copywriter.
    Copywriter(CopyResult),
    /// From the image processor.
    ImageProcessor(ProcessedImages),
    /// From the video generator.
    VideoGenerator(GeneratedVideo),
}

/// Products a scout found.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoutResult {
    /// The products, best match first.
    pub products: Vec<ScoutedProduct>,
}

/// One product found by a scout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoutedProduct {
    /// The supplier's id of the product.
    pub source_id: String,
    /// The supplier's title.
    pub title: String,
    /// The product page at the supplier.
    pub url: String,
    /// The supplier's price, exact.
    pub cost_price: Decimal,
}

/// Copy written for products.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyResult {
    /// One entry per product of the brief.
    pub products: Vec<ProductCopy>,
}

/// The copy written for one product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductCopy {
    /// The product written for.
    pub product_id: Uuid,
    /// The new title.
    pub title: String,
    /// The new description.
    pub description: String,
    /// The SEO title, if written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta_title: Option<String>,
    /// The SEO description, if written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta_description: Option<String>,
}

/// Images an image processor produced.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessedImages {
    /// One entry per source image.
    pub images: Vec<ProcessedImage>,
}

/// One processed image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessedImage {
    /// The image given.
    pub source_url: String,
    /// The processed image.
    pub processed_url: String,
}

/// A generated video.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeneratedVideo {
    /// Where the video is.
    pub url: String,
    /// Its length in seconds.
    pub duration_seconds: u32,
}

// Lists can be long: their Debug says how many, not what.
macro_rules! counted_debug {
    ($ty:ident, $field:ident) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field(stringify!($field), &self.$field.len())
                    .finish()
            }
        }
    };
}
counted_debug!(ScoutResult, products);
counted_debug!(CopyResult, products);
counted_debug!(ProcessedImages, images);

impl JobInput {
    /// The agent type that runs this input.
    pub fn agent_type(&self) -> AgentType {
        match self {
            JobInput::BrandGenerator(_) => AgentType::BrandGenerator,
            JobInput::ProductScout(_) => AgentType::ProductScout,
            JobInput::Copywriter(_) => AgentType::Copywriter,
            JobInput::ImageProcessor(_) => AgentType::ImageProcessor,
            JobInput::VideoGenerator(_) => AgentType::VideoGenerator,
        }
    }

    /// Checks every field against its rule, then the whole document: at most
    /// [`MAX_PAYLOAD_BYTES`], and read back from its stored JSON as this very value.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the field as `input.<name>`: [`Violation::Empty`],
    /// [`Violation::TooLong`], [`Violation::OutOfRange`], [`Violation::Format`] or
    /// [`Violation::ControlCharacter`]; naming `input`: [`Violation::TooLarge`], or
    /// [`Violation::Format`] when its JSON would not read back as the same value.
    pub fn validate(&self) -> Result<()> {
        self.stored_json().map(|_| ())
    }

    /// The JSON to store, once every check of [`JobInput::validate`] passed.
    pub(crate) fn stored_json(&self) -> Result<serde_json::Value> {
        self.validate_fields()?;
        let json = self.to_json();
        crate::values::json_document("input", &json, MAX_PAYLOAD_BYTES)?;
        match Self::from_json(self.agent_type(), json.clone()) {
            Ok(back) if back == *self => Ok(json),
            _ => Err(invalid("input", Violation::Format)),
        }
    }

    fn validate_fields(&self) -> Result<()> {
        match self {
            JobInput::BrandGenerator(b) => {
                short_text("input.niche", &b.niche)?;
                short_text("input.tone", &b.tone)?;
                if let Some(name) = &b.store_name {
                    short_text("input.store_name", name)?;
                }
            }
            JobInput::ProductScout(s) => {
                short_text("input.query", &s.query)?;
                in_range("input.limit", s.limit.into(), 1, MAX_SCOUT_LIMIT.into())?;
            }
            JobInput::Copywriter(c) => {
                count("input.product_ids", c.product_ids.len(), MAX_COPY_PRODUCTS)?;
                short_text("input.tone", &c.tone)?;
                language("input.language", &c.language)?;
            }
            JobInput::ImageProcessor(w) => {
                count("input.source_urls", w.source_urls.len(), MAX_IMAGES)?;
                for url in &w.source_urls {
                    http_url("input.source_urls", url)?;
                }
                count("input.operations", w.operations.len(), MAX_IMAGE_OPERATIONS)?;
                for op in &w.operations {
                    if let ImageOperation::Resize { width, height } = op {
                        let max = MAX_IMAGE_SIDE.into();
                        in_range("input.operations.width", (*width).into(), 1, max)?;
                        in_range("input.operations.height", (*height).into(), 1, max)?;
                    }
                }
            }
            JobInput::VideoGenerator(v) => {
                let max = MAX_VIDEO_SECONDS.into();
                in_range("input.duration_seconds", v.duration_seconds.into(), 1, max)?;
                if let Some(style) = &v.style {
                    short_text("input.style", style)?;
                }
            }
        }
        Ok(())
    }

    pub(crate) fn to_json(&self) -> serde_json::Value {
        match self {
            JobInput::BrandGenerator(x) => to_json(x),
            JobInput::ProductScout(x) => to_json(x),
            JobInput::Copywriter(x) => to_json(x),
            JobInput::ImageProcessor(x) => to_json(x),
            JobInput::VideoGenerator(x) => to_json(x),
        }
    }

    /// Reads a stored input of a job of type `agent_type`.
    pub(crate) fn from_json(agent_type: AgentType, json: serde_json::Value) -> Result<Self> {
        let field = "agent_jobs.input";
        Ok(match agent_type {
            AgentType::BrandGenerator => JobInput::BrandGenerator(from_json(field, json)?),
            AgentType::ProductScout => JobInput::ProductScout(from_json(field, json)?),
            AgentType::Copywriter => JobInput::Copywriter(from_json(field, json)?),
            AgentType::ImageProcessor => JobInput::ImageProcessor(from_json(field, json)?),
            AgentType::VideoGenerator => JobInput::VideoGenerator(from_json(field, json)?),
        })
    }
}

impl JobOutput {
    /// The agent type that produces this output.
    pub fn agent_type(&self) -> AgentType {
        match self {
            JobOutput::BrandGenerator(_) => AgentType::BrandGenerator,
            JobOutput::ProductScout(_) => AgentType::ProductScout,
            JobOutput::Copywriter(_) => AgentType::Copywriter,
            JobOutput::ImageProcessor(_) => AgentType::ImageProcessor,
            JobOutput::VideoGenerator(_) => AgentType::VideoGenerator,
        }
    }

    /// Checks an output before it is stored and gives the form that is stored: every field
    /// against its rule (a brand identity as [`BrandIdentity::parse`] does, trimmed), then
    /// the whole document: at most [`MAX_PAYLOAD_BYTES`], and read back from its stored JSON
    /// as the very value returned.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the field (`output.<name>`, or `stores.brand_identity.<name>`):
    /// [`Violation::Empty`], [`Violation::TooLong`], [`Violation::OutOfRange`],
    /// [`Violation::Format`] or [`Violation::ControlCharacter`]; naming `output`:
    /// [`Violation::TooLarge`], or [`Violation::Format`] when its JSON would not read back
    /// as the same value.
    pub fn validate(self) -> Result<Self> {
        let output = self.validate_fields()?;
        output.stored_json()?;
        Ok(output)
    }

    /// The JSON to store: checked for size, and read back as this value.
    pub(crate) fn stored_json(&self) -> Result<serde_json::Value> {
        let json = self.to_json();
        crate::values::json_document("output", &json, MAX_PAYLOAD_BYTES)?;
        match Self::from_json(self.agent_type(), json.clone()) {
            Ok(back) if back == *self => Ok(json),
            _ => Err(invalid("output", Violation::Format)),
        }
    }

    fn validate_fields(self) -> Result<Self> {
        match self {
            JobOutput::BrandGenerator(brand) => {
                return brand.validated().map(JobOutput::BrandGenerator);
            }
            JobOutput::ProductScout(ref r) => {
                let max = MAX_SCOUT_LIMIT as usize;
                if r.products.len() > max {
                    return Err(invalid("output.products", Violation::TooMany { max }));
                }
                for p in &r.products {
                    text("output.products.source_id", &p.source_id, MAX_SOURCE_ID)?;
                    text("output.products.title", &p.title, MAX_TITLE)?;
                    http_url("output.products.url", &p.url)?;
                    price("output.products.cost_price", p.cost_price)?;
                }
            }
            JobOutput::Copywriter(ref r) => {
                count("output.products", r.products.len(), MAX_COPY_PRODUCTS)?;
                for p in &r.products {
                    text("output.products.title", &p.title, MAX_TITLE)?;
                    text(
                        "output.products.description",
                        &p.description,
                        MAX_DESCRIPTION,
                    )?;
                    if let Some(t) = &p.meta_title {
                        text("output.products.meta_title", t, MAX_META_TITLE)?;
                    }
                    if let Some(d) = &p.meta_description {
                        text("output.products.meta_description", d, MAX_META_DESCRIPTION)?;
                    }
                }
            }
            JobOutput::ImageProcessor(ref r) => {
                count("output.images", r.images.len(), MAX_IMAGES)?;
                for image in &r.images {
                    http_url("output.images.source_url", &image.source_url)?;
                    http_url("output.images.processed_url", &image.processed_url)?;
                }
            }
            JobOutput::VideoGenerator(ref v) => {
                http_url("output.url", &v.url)?;
                let max = MAX_VIDEO_SECONDS.into();
                in_range("output.duration_seconds", v.duration_seconds.into(), 1, max)?;
            }
        }
        Ok(self)
    }

    pub(crate) fn to_json(&self) -> serde_json::Value {
        match self {
            JobOutput::BrandGenerator(x) => to_json(x),
            JobOutput::ProductScout(x) => to_json(x),
            JobOutput::Copywriter(x) => to_json(x),
            JobOutput::ImageProcessor(x) => to_json(x),
            JobOutput::VideoGenerator(x) => to_json(x),
        }
    }

    /// Reads a stored output of a job of type `agent_type`.
    pub(crate) fn from_json(agent_type: AgentType, json: serde_json::Value) -> Result<Self> {
        let field = "agent_jobs.output";
        Ok(match agent_type {
            AgentType::BrandGenerator => JobOutput::BrandGenerator(from_json(field, json)?),
            AgentType::ProductScout => JobOutput::ProductScout(from_json(field, json)?),
            AgentType::Copywriter => JobOutput::Copywriter(from_json(field, json)?),
            AgentType::ImageProcessor => JobOutput::ImageProcessor(from_json(field, json)?),
            AgentType::VideoGenerator => JobOutput::VideoGenerator(from_json(field, json)?),
        })
    }
}

fn to_json<T: Serialize>(value: &T) -> serde_json::Value {
    // Plain structs of strings, numbers and lists: serialising them cannot fail.
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

fn from_json<T: serde::de::DeserializeOwned>(
    field: &'static str,
    json: serde_json::Value,
) -> Result<T> {
    serde_json::from_value(json).map_err(|_| Error::Invalid {
        field,
        violation: Violation::Format,
    })
}

fn invalid(field: &'static str, violation: Violation) -> Error {
    Error::Invalid { field, violation }
}

fn short_text(field: &'static str, value: &str) -> Result<()> {
    text(field, value, MAX_SHORT_TEXT)
}

/// Not blank, at most `max` characters, no NUL or other control character (tab and line
/// breaks are text). Kept as given, not trimmed, so that it reads back exactly.
fn text(field: &'static str, value: &str, max: usize) -> Result<()> {
    if value.trim().is_empty() {
        return Err(invalid(field, Violation::Empty));
    }
    if value.chars().count() > max {
        return Err(invalid(field, Violation::TooLong { max }));
    }
    crate::values::printable(field, value)
}

/// A supplier's price: 0 to [`crate::Money::MAX`], at most two decimals.
fn price(field: &'static str, value: Decimal) -> Result<()> {
    crate::Money::parse(field, value).map(|_| ())
}

fn in_range(field: &'static str, value: i64, min: i64, max: i64) -> Result<()> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(invalid(field, Violation::OutOfRange { min, max }))
    }
}

fn count(field: &'static str, len: usize, max: usize) -> Result<()> {
    if len == 0 {
        return Err(invalid(field, Violation::Empty));
    }
    if len > max {
        return Err(invalid(
            field,
            Violation::OutOfRange {
                min: 1,
                max: i64::try_from(max).unwrap_or(i64::MAX),
            },
        ));
    }
    Ok(())
}

/// A BCP 47 tag in its common shape: 2–3 letters, then optional `-` subtags of 2–8
/// letters or digits.
fn language(field: &'static str, tag: &str) -> Result<()> {
    let mut parts = tag.split('-');
    let primary_ok = parts
        .next()
        .is_some_and(|p| (2..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphabetic()));
    let rest_ok =
        parts.all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()));
    if primary_ok && rest_ok {
        Ok(())
    } else {
        Err(invalid(field, Violation::Format))
    }
}

fn http_url(field: &'static str, url: &str) -> Result<()> {
    if url.chars().count() > MAX_URL {
        return Err(invalid(field, Violation::TooLong { max: MAX_URL }));
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let host = rest.and_then(|r| r.split(['/', '?', '#']).next());
    match host {
        Some(host)
            if !host.is_empty() && !url.chars().any(|c| c.is_whitespace() || c.is_control()) =>
        {
            Ok(())
        }
        _ => Err(invalid(field, Violation::Format)),
    }
}

/// A supplier in JSON as the database spells it (`"CJ_DROPSHIPPING"`), not as the Rust
/// variant is named.
mod provider_name {
    use entity::sea_orm_active_enums::SupplierProvider;
    use serde::{Deserialize, Deserializer, Serializer};

    const NAMES: [(SupplierProvider, &str); 3] = [
        (SupplierProvider::Aliexpress, "ALIEXPRESS"),
        (SupplierProvider::CjDropshipping, "CJ_DROPSHIPPING"),
        (SupplierProvider::Spocket, "SPOCKET"),
    ];

    pub(super) fn serialize<S: Serializer>(p: &SupplierProvider, s: S) -> Result<S::Ok, S::Error> {
        let name = NAMES
            .iter()
            .find(|(provider, _)| provider == p)
            .map_or("", |(_, name)| name);
        s.serialize_str(name)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<SupplierProvider, D::Error> {
        let name = String::deserialize(d)?;
        NAMES
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(provider, _)| *provider)
            .ok_or_else(|| serde::de::Error::custom("unknown supplier provider"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brief(niche: &str) -> JobInput {
        JobInput::BrandGenerator(BrandBrief {
            niche: niche.into(),
            tone: "futuristic".into(),
            store_name: None,
        })
    }

    #[test]
    fn an_input_round_trips_through_json_with_the_provider_spelled_as_stored() {
        let input = JobInput::ProductScout(ProductSearch {
            provider: SupplierProvider::CjDropshipping,
            query: "neon lamp".into(),
            limit: 20,
        });
        let json = input.to_json();
        assert_eq!(json["provider"], "CJ_DROPSHIPPING");
        let back = JobInput::from_json(AgentType::ProductScout, json).expect("reads back");
        assert_eq!(back, input);
    }

    #[test]
    fn bad_fields_are_named() {
        assert!(matches!(
            brief("  ").validate(),
            Err(Error::Invalid {
                field: "input.niche",
                violation: Violation::Empty
            })
        ));
        assert!(matches!(
            brief(&"x".repeat(MAX_SHORT_TEXT + 1)).validate(),
            Err(Error::Invalid {
                field: "input.niche",
                violation: Violation::TooLong { .. }
            })
        ));
        let copy = JobInput::Copywriter(CopyBrief {
            product_ids: vec![Uuid::now_v7()],
            tone: "warm".into(),
            language: "english please".into(),
        });
        assert!(matches!(
            copy.validate(),
            Err(Error::Invalid {
                field: "input.language",
                violation: Violation::Format
            })
        ));
        let images = JobInput::ImageProcessor(ImageWork {
            source_urls: vec!["ftp://cdn.example.com/a.jpg".into()],
            operations: vec![ImageOperation::Enhance],
        });
        assert!(matches!(
            images.validate(),
            Err(Error::Invalid {
                field: "input.source_urls",
                violation: Violation::Format
            })
        ));
    }

    #[test]
    fn a_long_output_shows_a_count_in_debug() {
        let result = ScoutResult {
            products: vec![
                ScoutedProduct {
                    source_id: "1".into(),
                    title: "lamp".into(),
                    url: "https://s.example.com/1".into(),
                    cost_price: Decimal::new(1_250, 2),
                };
                500
            ],
        };
        assert_eq!(format!("{result:?}"), "ScoutResult { products: 500 }");
    }
}

/// Strategies for every typed payload, shared by the property tests here and in the
/// contract tests' spirit: edge and random strings in every text field, numbers across their
/// whole range.
#[cfg(test)]
pub(crate) mod strategies {
    use proptest::prelude::*;

    use super::*;

    /// Arbitrary text, and text made of the characters that break naive checks.
    pub(crate) fn edgy() -> impl Strategy<Value = String> {
        prop_oneof![
            2 => "[a-zA-Z0-9 éÉ\\-]{1,40}",
            1 => any::<String>(),
            1 => "[a \\u{0}\\u{1}\\t\\n\\u{7f}\\u{301}\\u{ff41}\\u{430}é]{0,12}",
            1 => (195usize..206).prop_map(|n| "a".repeat(n)),
        ]
    }

    pub(crate) fn url() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => "https://cdn\\.example\\.com/[a-z0-9/]{0,30}\\.png",
            1 => edgy(),
            1 => edgy().prop_map(|s| format!("https://cdn.example.com/{s}")),
            1 => (2_020usize..2_040).prop_map(|n| format!("https://c.example.com/{}", "a".repeat(n))),
        ]
    }

    fn price() -> impl Strategy<Value = Decimal> {
        prop_oneof![
            (0i64..10_000_000_000).prop_map(|cents| Decimal::new(cents, 2)),
            (any::<i64>(), 0u32..6).prop_map(|(n, scale)| Decimal::new(n, scale)),
        ]
    }

    fn provider() -> impl Strategy<Value = SupplierProvider> {
        prop_oneof![
            Just(SupplierProvider::Aliexpress),
            Just(SupplierProvider::CjDropshipping),
            Just(SupplierProvider::Spocket),
        ]
    }

    fn small_u32() -> impl Strategy<Value = u32> {
        prop_oneof![0u32..300, any::<u32>(), Just(u32::MAX)]
    }

    pub(crate) fn input() -> impl Strategy<Value = JobInput> {
        prop_oneof![
            (edgy(), edgy(), proptest::option::of(edgy())).prop_map(|(niche, tone, store_name)| {
                JobInput::BrandGenerator(BrandBrief {
                    niche,
                    tone,
                    store_name,
                })
            }),
            (provider(), edgy(), small_u32()).prop_map(|(provider, query, limit)| {
                JobInput::ProductScout(ProductSearch {
                    provider,
                    query,
                    limit,
                })
            }),
            (
                0usize..103,
                edgy(),
                "[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8}){0,2}|.{0,10}"
            )
                .prop_map(|(n, tone, language)| JobInput::Copywriter(CopyBrief {
                    product_ids: (0..n).map(|_| Uuid::now_v7()).collect(),
                    tone,
                    language,
                })),
            (
                proptest::collection::vec(url(), 0..22),
                proptest::collection::vec(
                    prop_oneof![
                        Just(ImageOperation::RemoveBackground),
                        Just(ImageOperation::Enhance),
                        (small_u32(), prop_oneof![1u32..9_000, any::<u32>()])
                            .prop_map(|(width, height)| ImageOperation::Resize { width, height }),
                    ],
                    0..12
                )
            )
                .prop_map(|(source_urls, operations)| JobInput::ImageProcessor(
                    ImageWork {
                        source_urls,
                        operations
                    }
                )),
            (
                any::<u128>().prop_map(Uuid::from_u128),
                small_u32(),
                proptest::option::of(edgy())
            )
                .prop_map(|(product_id, duration_seconds, style)| {
                    JobInput::VideoGenerator(VideoBrief {
                        product_id,
                        duration_seconds,
                        style,
                    })
                }),
        ]
    }

    pub(crate) fn output() -> impl Strategy<Value = JobOutput> {
        let color = prop_oneof!["#[0-9a-fA-F]{6}", "#[0-9a-fA-F]{3}"];
        prop_oneof![
            // Built from text as a handler does (`BrandIdentity::parse`, the one way to build
            // one): untrimmed text is normalised; text it refuses never reaches an output, so
            // such a case stands in a fixed brand.
            (
                edgy(),
                [color.clone(), color.clone(), color],
                [edgy(), edgy()],
                edgy(),
                proptest::option::of(url())
            )
                .prop_map(
                    |(name, [primary, secondary, accent], [heading, body], tone, logo)| {
                        let brand = BrandIdentity::parse(
                            &name,
                            [&primary, &secondary, &accent],
                            [&heading, &body],
                            &tone,
                            logo.as_deref(),
                        )
                        .or_else(|_| {
                            BrandIdentity::parse(
                                "NeonNest",
                                [&primary, &secondary, &accent],
                                ["Orbitron", "Inter"],
                                "futuristic",
                                None,
                            )
                        })
                        .expect("a fixed brand parses");
                        JobOutput::BrandGenerator(brand)
                    }
                ),
            proptest::collection::vec((edgy(), edgy(), url(), price()), 0..4).prop_map(|ps| {
                JobOutput::ProductScout(ScoutResult {
                    products: ps
                        .into_iter()
                        .map(|(source_id, title, url, cost_price)| ScoutedProduct {
                            source_id,
                            title,
                            url,
                            cost_price,
                        })
                        .collect(),
                })
            }),
            proptest::collection::vec(
                (
                    edgy(),
                    edgy(),
                    proptest::option::of(edgy()),
                    proptest::option::of(edgy())
                ),
                0..4
            )
            .prop_map(|ps| JobOutput::Copywriter(CopyResult {
                products: ps
                    .into_iter()
                    .map(
                        |(title, description, meta_title, meta_description)| ProductCopy {
                            product_id: Uuid::now_v7(),
                            title,
                            description,
                            meta_title,
                            meta_description,
                        }
                    )
                    .collect(),
            })),
            proptest::collection::vec((url(), url()), 0..4).prop_map(|images| {
                JobOutput::ImageProcessor(ProcessedImages {
                    images: images
                        .into_iter()
                        .map(|(source_url, processed_url)| ProcessedImage {
                            source_url,
                            processed_url,
                        })
                        .collect(),
                })
            }),
            (url(), small_u32()).prop_map(|(url, duration_seconds)| {
                JobOutput::VideoGenerator(GeneratedVideo {
                    url,
                    duration_seconds,
                })
            }),
        ]
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::strategies::{input, output};
    use super::*;

    fn has_nul(json: &serde_json::Value) -> bool {
        json.to_string().contains("\\u0000")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]

        /// No input makes `validate` panic; an accepted input is stored as JSON that holds no
        /// NUL, fits `MAX_PAYLOAD_BYTES` and reads back as the very same input.
        #[test]
        fn an_accepted_input_reads_back_from_its_json(input in input()) {
            if input.validate().is_ok() {
                let json = input.stored_json().expect("accepted");
                prop_assert!(!has_nul(&json));
                prop_assert!(json.to_string().len() <= MAX_PAYLOAD_BYTES);
                let back = JobInput::from_json(input.agent_type(), json).expect("reads back");
                prop_assert_eq!(back, input);
            }
        }

        /// The same for outputs, in the form `validate` returns (the form stored).
        #[test]
        fn an_accepted_output_reads_back_from_its_json(output in output()) {
            let agent_type = output.agent_type();
            if let Ok(stored) = output.validate() {
                prop_assert_eq!(stored.agent_type(), agent_type);
                let json = stored.to_json();
                prop_assert!(!has_nul(&json));
                prop_assert!(json.to_string().len() <= MAX_PAYLOAD_BYTES);
                let back = JobOutput::from_json(agent_type, json).expect("reads back");
                prop_assert_eq!(&back, &stored);
                // Validating the stored form changes nothing more.
                prop_assert_eq!(back.validate().ok(), Some(stored));
            }
        }
    }

    fn field_of(result: Result<impl std::fmt::Debug>) -> (&'static str, Violation) {
        match result {
            Err(Error::Invalid { field, violation }) => (field, violation),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn nul_and_control_characters_are_refused_by_field() {
        let brief = |niche: &str| {
            JobInput::BrandGenerator(BrandBrief {
                niche: niche.into(),
                tone: "warm".into(),
                store_name: None,
            })
        };
        assert_eq!(
            field_of(brief("neon\0lamps").validate()),
            ("input.niche", Violation::ControlCharacter)
        );
        assert_eq!(
            field_of(brief("neon\u{1b}[31m").validate()),
            ("input.niche", Violation::ControlCharacter)
        );
        assert!(brief("neon\tlamps\n").validate().is_ok());
        let copy = JobOutput::Copywriter(CopyResult {
            products: vec![ProductCopy {
                product_id: Uuid::now_v7(),
                title: "Lamp".into(),
                description: "bright\0".into(),
                meta_title: None,
                meta_description: None,
            }],
        });
        assert_eq!(
            field_of(copy.validate()),
            ("output.products.description", Violation::ControlCharacter)
        );
    }

    #[test]
    fn a_payload_over_one_mebibyte_is_refused_naming_it() {
        let product = ProductCopy {
            product_id: Uuid::now_v7(),
            title: "Lamp".into(),
            description: "é".repeat(MAX_DESCRIPTION),
            meta_title: None,
            meta_description: None,
        };
        // 100 descriptions of 50,000 two-byte characters: 10 MB of JSON.
        let huge = JobOutput::Copywriter(CopyResult {
            products: vec![product.clone(); MAX_COPY_PRODUCTS],
        });
        assert_eq!(
            field_of(huge.validate()),
            (
                "output",
                Violation::TooLarge {
                    max_bytes: MAX_PAYLOAD_BYTES
                }
            )
        );
        // Ten of them (about 1 MB of text) fit.
        let fits = JobOutput::Copywriter(CopyResult {
            products: vec![product; 10],
        });
        assert!(fits.validate().is_ok());
    }

    #[test]
    fn numbers_at_their_type_limits_are_refused_by_field() {
        let scout = JobInput::ProductScout(ProductSearch {
            provider: SupplierProvider::Spocket,
            query: "lamp".into(),
            limit: u32::MAX,
        });
        assert_eq!(
            field_of(scout.validate()),
            ("input.limit", Violation::OutOfRange { min: 1, max: 100 })
        );
        let video = JobOutput::VideoGenerator(GeneratedVideo {
            url: "https://v.example.com/a.mp4".into(),
            duration_seconds: u32::MAX,
        });
        assert_eq!(
            field_of(video.validate()),
            (
                "output.duration_seconds",
                Violation::OutOfRange { min: 1, max: 180 }
            )
        );
        let scouted = JobOutput::ProductScout(ScoutResult {
            products: vec![ScoutedProduct {
                source_id: "1".into(),
                title: "Lamp".into(),
                url: "https://s.example.com/1".into(),
                cost_price: Decimal::MAX,
            }],
        });
        assert_eq!(field_of(scouted.validate()).0, "output.products.cost_price");
    }
}
