//! Contract tests of the data layer, run once per configured backend (see the `tests` crate
//! documentation for how backends are configured). One binary, so that it links once.

mod agent_jobs;
mod agent_jobs_hardening;
mod agent_jobs_retry;
mod agent_pipeline;
mod agent_pipeline_load;
mod backups;
mod catalog;
mod connect;
mod deadlocks_identity_jobs;
mod hardening;
mod identity;
mod identity_hardening;
mod media;
mod migrations;
mod operations;
mod pages;
mod products;
mod properties;
mod replica;
mod round_trip;
mod rules;
mod seeding;
mod sharding;
mod stores;
mod suppliers;

pub use tests::builders::*;
pub use tests::{Backend, TestDb, backend_test, per_backend};
