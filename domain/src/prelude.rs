//! What a service needs for ordinary work, in one import: `use domain::prelude::*;`.
//!
//! The repository modules themselves (`users`, `stores`, `products`, …) come with it, so that
//! calls read `products::create(&db, &scope, new)`; the types of their inputs and outputs stay
//! in their modules. The SeaORM traits here are the ones a function generic over a connection
//! or a transaction needs in its bounds (`C: ConnectionTrait + TransactionTrait`); nothing else
//! of SeaORM or of the generated entities is needed to use the data layer.

pub use crate::config::{Config, Environment};
pub use crate::db::{connect, health, migrate};
pub use crate::error::{Error, ReleaseReason, Result, Table, Transition, Violation};
pub use crate::money::Money;
pub use crate::paging::{Page, PageRequest};
pub use crate::rules::{CheckRule, ForeignKeyRule, UniqueRule};
pub use crate::scope::StoreScope;
pub use crate::txn::transaction;
pub use crate::values::{Currency, HttpUrl, Slug};
pub use crate::{agent_jobs, media_assets, pages, products, stores, supplier_accounts, users};
pub use entity::sea_orm_active_enums::{
    AgentType, JobStatus, MediaType, PageType, ProductStatus, StoreStatus, SupplierProvider,
};
pub use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, TransactionSession, TransactionTrait,
};
pub use uuid::Uuid;
