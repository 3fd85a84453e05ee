//! The Zyenta data layer: every read and write of the platform's data goes through this crate.
//!
//! Services build a [`Config`] (usually [`Config::from_env`]), [`connect`] once, clone the
//! handle where needed and call the repository modules with it. Errors are one enum,
//! [`Error`], whose variants carry typed data: a broken unique rule is
//! [`Error::Conflict`] naming the [`UniqueRule`], never a driver message.

// Every public item of the crate services call says what it is and why.
#![deny(missing_docs)]

pub mod agent_jobs;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod db;
mod delete;
pub mod error;
pub mod media_assets;
pub mod money;
pub mod pages;
pub mod paging;
pub mod prelude;
pub mod products;
pub mod replica;
pub mod rules;
pub mod scope;
mod slugs;
mod soft_delete;
pub mod stores;
pub mod supplier_accounts;
pub mod txn;
pub mod users;
pub mod values;
pub mod violations;

pub use config::{Config, Environment};
pub use db::{connect, health, migrate, migration_status, pending_migrations};
pub use entity::sea_orm_active_enums::{
    AgentType, JobStatus, MediaType, PageType, ProductStatus, StoreStatus, SupplierProvider,
};
pub use error::{ConfigProblem, Error, ReleaseReason, Result, Table, Transition, Violation};
pub use money::Money;
pub use rules::{CheckRule, ForeignKeyRule, UniqueRule};
pub use scope::StoreScope;
pub use sea_orm::DatabaseConnection;
pub use txn::transaction;

/// The README's code blocks, compiled and run as doc tests, so that they keep working.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
