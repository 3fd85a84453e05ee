//! What each agent type is given (its input) and gives back (its output), stored as JSON in
//! `agent_jobs.input` and `agent_jobs.output`. The job's `type` column says which variant the
//! JSON is, so the JSON itself carries no tag.
//!
//! Both are checked before they are written ([`JobInput::validate`], [`JobOutput::validate`]):
//! every field against its rule (no NUL or other control character in any text), the whole
//! document against [`MAX_PAYLOAD_BYTES`], and finally the JSON to be stored is read back and
//! must give the very value that was checked. So a payload that a write accepts always reads
//! back; one that would not is refused at the write, naming `input` or `output`.

mod checks;
mod input;
mod output;
#[cfg(test)]
mod properties;
#[cfg(test)]
pub(crate) mod strategies;

use serde::Serialize;

pub use crate::stores::BrandIdentity;
pub use input::{
    BrandBrief, CopyBrief, ImageOperation, ImageWork, JobInput, MAX_COPY_PRODUCTS,
    MAX_IMAGE_OPERATIONS, MAX_IMAGE_SIDE, MAX_IMAGES, MAX_SCOUT_LIMIT, MAX_SHORT_TEXT,
    MAX_VIDEO_SECONDS, ProductSearch, VideoBrief,
};
pub use output::{
    CopyResult, GeneratedVideo, JobOutput, MAX_DESCRIPTION, MAX_META_DESCRIPTION, MAX_META_TITLE,
    MAX_SOURCE_ID, MAX_TITLE, ProcessedImage, ProcessedImages, ProductCopy, ScoutResult,
    ScoutedProduct,
};

/// Longest URL accepted, in characters.
pub const MAX_URL: usize = 2_048;
/// Largest input or output of a job, in bytes of its JSON: 1 MiB. Far above what an agent
/// needs (the largest typed payload, 100 products of copy, stays under it unless the
/// descriptions are huge), and far below every backend's packet and column limits
/// (MariaDB's `max_allowed_packet` is 16 MiB by default), so that a write never fails there.
pub const MAX_PAYLOAD_BYTES: usize = 1024 * 1024;

fn to_json<T: Serialize>(value: &T) -> serde_json::Value {
    // Plain structs of strings, numbers and lists: serialising them cannot fail.
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

/// Reads stored JSON as `T`; `None` when it does not fit (the caller names the row).
fn from_json<T: serde::de::DeserializeOwned>(json: serde_json::Value) -> Option<T> {
    serde_json::from_value(json).ok()
}
