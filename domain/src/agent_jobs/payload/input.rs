//! A job's input: what each agent type is given.

use entity::sea_orm_active_enums::{AgentType, SupplierProvider};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::checks::{count, http_url, in_range, invalid, language, short_text};
use super::{MAX_PAYLOAD_BYTES, from_json, to_json};
use crate::error::{Result, Violation};

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
    /// [`Error::Invalid`](crate::Error::Invalid) naming the field as `agent_jobs.input.<name>`: [`Violation::Empty`],
    /// [`Violation::TooLong`], [`Violation::OutOfRange`], [`Violation::Format`] or
    /// [`Violation::ControlCharacter`]; naming `agent_jobs.input`: [`Violation::TooLarge`], or
    /// [`Violation::Format`] when its JSON would not read back as the same value.
    pub fn validate(&self) -> Result<()> {
        self.stored_json().map(|_| ())
    }

    /// The JSON to store, once every check of [`JobInput::validate`] passed.
    pub(crate) fn stored_json(&self) -> Result<serde_json::Value> {
        self.validate_fields()?;
        let json = self.to_json();
        crate::values::json_document("agent_jobs.input", &json, MAX_PAYLOAD_BYTES)?;
        match Self::from_json(self.agent_type(), json.clone()) {
            Some(back) if back == *self => Ok(json),
            _ => Err(invalid("agent_jobs.input", Violation::Format)),
        }
    }

    fn validate_fields(&self) -> Result<()> {
        match self {
            JobInput::BrandGenerator(b) => {
                short_text("agent_jobs.input.niche", &b.niche)?;
                short_text("agent_jobs.input.tone", &b.tone)?;
                if let Some(name) = &b.store_name {
                    short_text("agent_jobs.input.store_name", name)?;
                }
            }
            JobInput::ProductScout(s) => {
                short_text("agent_jobs.input.query", &s.query)?;
                in_range(
                    "agent_jobs.input.limit",
                    s.limit.into(),
                    1,
                    MAX_SCOUT_LIMIT.into(),
                )?;
            }
            JobInput::Copywriter(c) => {
                count(
                    "agent_jobs.input.product_ids",
                    c.product_ids.len(),
                    MAX_COPY_PRODUCTS,
                )?;
                short_text("agent_jobs.input.tone", &c.tone)?;
                language("agent_jobs.input.language", &c.language)?;
            }
            JobInput::ImageProcessor(w) => {
                count(
                    "agent_jobs.input.source_urls",
                    w.source_urls.len(),
                    MAX_IMAGES,
                )?;
                for url in &w.source_urls {
                    http_url("agent_jobs.input.source_urls", url)?;
                }
                count(
                    "agent_jobs.input.operations",
                    w.operations.len(),
                    MAX_IMAGE_OPERATIONS,
                )?;
                for op in &w.operations {
                    if let ImageOperation::Resize { width, height } = op {
                        let max = MAX_IMAGE_SIDE.into();
                        in_range("agent_jobs.input.operations.width", (*width).into(), 1, max)?;
                        in_range(
                            "agent_jobs.input.operations.height",
                            (*height).into(),
                            1,
                            max,
                        )?;
                    }
                }
            }
            JobInput::VideoGenerator(v) => {
                let max = MAX_VIDEO_SECONDS.into();
                in_range(
                    "agent_jobs.input.duration_seconds",
                    v.duration_seconds.into(),
                    1,
                    max,
                )?;
                if let Some(style) = &v.style {
                    short_text("agent_jobs.input.style", style)?;
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
    pub(crate) fn from_json(agent_type: AgentType, json: serde_json::Value) -> Option<Self> {
        Some(match agent_type {
            AgentType::BrandGenerator => JobInput::BrandGenerator(from_json(json)?),
            AgentType::ProductScout => JobInput::ProductScout(from_json(json)?),
            AgentType::Copywriter => JobInput::Copywriter(from_json(json)?),
            AgentType::ImageProcessor => JobInput::ImageProcessor(from_json(json)?),
            AgentType::VideoGenerator => JobInput::VideoGenerator(from_json(json)?),
        })
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
    use crate::error::Error;

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
                field: "agent_jobs.input.niche",
                violation: Violation::Empty
            })
        ));
        assert!(matches!(
            brief(&"x".repeat(MAX_SHORT_TEXT + 1)).validate(),
            Err(Error::Invalid {
                field: "agent_jobs.input.niche",
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
                field: "agent_jobs.input.language",
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
                field: "agent_jobs.input.source_urls",
                violation: Violation::Format
            })
        ));
    }
}
