//! The baseline: the same work as hand-written SQL through `sqlx` (re-exported by sea-orm),
//! on its own pool of 10 connections. Each function makes the statements and round trips a
//! careful engineer would, and returns the same rows as the domain call it stands beside.
//!
//! One file per workload area: `catalog_reads` (get and list a store's products),
//! `catalog_import` (import_products) and `agent_jobs` (job_queue: enqueue, claim, complete).

mod agent_jobs;
mod catalog_import;
mod catalog_reads;

pub use agent_jobs::{CLAIM, COMPLETE, Job, enqueue, job_queue};
pub use catalog_import::{import_products, insert_batch};
pub use catalog_reads::{
    Image, Product, Variant, get, get_product_by_id, list, list_products_page, product_columns,
};

use sea_orm::sqlx;
use sea_orm::sqlx::postgres::{PgPool, PgPoolOptions};

use crate::{BenchResult, context};

/// The baseline's own pool: 10 connections, configured like the domain's: a connection is
/// pinged before it is handed out only after `domain::db::PING_IF_IDLE_FOR` of idleness,
/// rather than on every checkout (sqlx's default, one more round trip per statement).
///
/// # Errors
/// When the database cannot be reached.
pub async fn pool(url: &str) -> BenchResult<PgPool> {
    PgPoolOptions::new()
        .max_connections(10)
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= domain::db::PING_IF_IDLE_FOR {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
        .connect(url)
        .await
        .map_err(context("sqlx pool"))
}
