//! Stores: a merchant's shop, reached through its owner.

mod scope;

pub use scope::StoreScope;
