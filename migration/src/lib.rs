//! The Zyenta schema, one migration per area.
//!
//! The same migrations build the schema on PostgreSQL (the production backend and the source
//! of the generated entities), SQLite (the embedded default) and MariaDB/MySQL. Where a backend
//! lacks a feature, [`schema`] takes the portable path on it; every choice is commented there.
//!
//! Constraint names follow one pattern so that `domain` can translate a violation back into
//! the rule that was broken: `uq_<table>_<columns>` (unique), `fk_<table>_<column>` (foreign
//! key), `ck_<table>_<column>` (check), `idx_<table>_<columns>` (plain index).

pub use sea_orm_migration::prelude::*;

pub mod connection;
pub mod runner;

mod m20261122_000001_identity;
mod m20261122_000002_suppliers;
mod m20261122_000003_stores;
mod m20261122_000004_products;
mod m20261122_000005_content;
mod m20261122_000006_agent_jobs;
mod m20261122_000007_product_list_index;
mod m20261122_000008_drop_job_status_index;
mod m20261128_000009_exact_text;
mod m20261128_000011_store_id_everywhere;
mod m20261129_000012_agent_pipeline;
pub mod schema;

/// Every migration of the schema, oldest first.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_identity::Migration),
            Box::new(m20261122_000002_suppliers::Migration),
            Box::new(m20261122_000003_stores::Migration),
            Box::new(m20261122_000004_products::Migration),
            Box::new(m20261122_000005_content::Migration),
            Box::new(m20261122_000006_agent_jobs::Migration),
            Box::new(m20261122_000007_product_list_index::Migration),
            Box::new(m20261122_000008_drop_job_status_index::Migration),
            Box::new(m20261128_000009_exact_text::Migration),
            Box::new(m20261128_000011_store_id_everywhere::Migration),
            Box::new(m20261129_000012_agent_pipeline::Migration),
        ]
    }
}
