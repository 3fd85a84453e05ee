//! A job's output: what each agent type gives back.

use entity::sea_orm_active_enums::AgentType;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::checks::{count, http_url, in_range, invalid, price, text};
use super::input::{MAX_COPY_PRODUCTS, MAX_IMAGES, MAX_SCOUT_LIMIT, MAX_VIDEO_SECONDS};
use super::{BrandIdentity, MAX_PAYLOAD_BYTES, from_json, to_json};
use crate::error::{Result, Violation};

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
    /// [`Error::Invalid`](crate::Error::Invalid) naming the field (`agent_jobs.output.<name>`, or `stores.brand_identity.<name>`):
    /// [`Violation::Empty`], [`Violation::TooLong`], [`Violation::OutOfRange`],
    /// [`Violation::Format`] or [`Violation::ControlCharacter`]; naming `agent_jobs.output`:
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
        crate::values::json_document("agent_jobs.output", &json, MAX_PAYLOAD_BYTES)?;
        match Self::from_json(self.agent_type(), json.clone()) {
            Some(back) if back == *self => Ok(json),
            _ => Err(invalid("agent_jobs.output", Violation::Format)),
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
                    return Err(invalid(
                        "agent_jobs.output.products",
                        Violation::TooMany { max },
                    ));
                }
                for p in &r.products {
                    text(
                        "agent_jobs.output.products.source_id",
                        &p.source_id,
                        MAX_SOURCE_ID,
                    )?;
                    text("agent_jobs.output.products.title", &p.title, MAX_TITLE)?;
                    http_url("agent_jobs.output.products.url", &p.url)?;
                    price("agent_jobs.output.products.cost_price", p.cost_price)?;
                }
            }
            JobOutput::Copywriter(ref r) => {
                count(
                    "agent_jobs.output.products",
                    r.products.len(),
                    MAX_COPY_PRODUCTS,
                )?;
                for p in &r.products {
                    text("agent_jobs.output.products.title", &p.title, MAX_TITLE)?;
                    text(
                        "agent_jobs.output.products.description",
                        &p.description,
                        MAX_DESCRIPTION,
                    )?;
                    if let Some(t) = &p.meta_title {
                        text("agent_jobs.output.products.meta_title", t, MAX_META_TITLE)?;
                    }
                    if let Some(d) = &p.meta_description {
                        text(
                            "agent_jobs.output.products.meta_description",
                            d,
                            MAX_META_DESCRIPTION,
                        )?;
                    }
                }
            }
            JobOutput::ImageProcessor(ref r) => {
                count("agent_jobs.output.images", r.images.len(), MAX_IMAGES)?;
                for image in &r.images {
                    http_url("agent_jobs.output.images.source_url", &image.source_url)?;
                    http_url(
                        "agent_jobs.output.images.processed_url",
                        &image.processed_url,
                    )?;
                }
            }
            JobOutput::VideoGenerator(ref v) => {
                http_url("agent_jobs.output.url", &v.url)?;
                let max = MAX_VIDEO_SECONDS.into();
                in_range(
                    "agent_jobs.output.duration_seconds",
                    v.duration_seconds.into(),
                    1,
                    max,
                )?;
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
    pub(crate) fn from_json(agent_type: AgentType, json: serde_json::Value) -> Option<Self> {
        Some(match agent_type {
            AgentType::BrandGenerator => JobOutput::BrandGenerator(from_json(json)?),
            AgentType::ProductScout => JobOutput::ProductScout(from_json(json)?),
            AgentType::Copywriter => JobOutput::Copywriter(from_json(json)?),
            AgentType::ImageProcessor => JobOutput::ImageProcessor(from_json(json)?),
            AgentType::VideoGenerator => JobOutput::VideoGenerator(from_json(json)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
