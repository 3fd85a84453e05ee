//! Contract tests of the data layer, run once per configured backend (see the `tests` crate
//! documentation for how backends are configured). One binary, so that it links once.

mod agent_jobs;
mod backups;
mod connect;
mod identity;
mod media;
mod migrations;
mod operations;
mod pages;
mod products;
mod round_trip;
mod rules;
mod seeding;
mod stores;
mod suppliers;

pub use tests::builders::*;
pub use tests::{Backend, TestDb, backend_test, per_backend};
