//! Demo data and bulk volume for the Zyenta data layer, written through `domain` so that every
//! row passes the same validation as production.
//!
//! - [`demo::seed`]: the demo data of SCHEMA.md (idempotent: a second run changes nothing).
//! - [`bulk::generate`]: stores, products, pages, media and jobs in realistic proportions,
//!   reproducible from a seed, in batches, with memory that stays flat as the volume grows.
//! - [`report::counts`]: rows per table.

pub mod bulk;
pub mod demo;
pub mod report;
