//! The store scope: proof that a caller owns a store.

use entity::stores;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use crate::error::{Error, Result, Table};

/// Proof that `owner_id` owns the live (not soft-deleted) store `store_id`.
///
/// Only [`StoreScope::obtain`] makes one, after checking ownership in the database, and every
/// function on a store's products, pages, media and jobs takes one: a caller cannot even name
/// another owner's rows. The check is made when the scope is obtained; a scope is meant to
/// live for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StoreScope {
    owner_id: Uuid,
    store_id: Uuid,
}

impl StoreScope {
    /// Checks that `owner_id` owns the store `store_id` and that it is not deleted.
    ///
    /// # Errors
    /// [`Error::NotFound`] ([`crate::Table::Stores`]) when the store does not exist, is soft-deleted, or
    /// belongs to someone else: the three are answered alike, so nothing leaks.
    #[tracing::instrument(skip_all, err, fields(owner_id = %owner_id, store_id = %store_id))]
    pub async fn obtain<C: ConnectionTrait>(
        db: &C,
        owner_id: Uuid,
        store_id: Uuid,
    ) -> Result<Self> {
        let found = stores::Entity::find_by_id(store_id)
            .select_only()
            .column(stores::Column::Id)
            .filter(stores::Column::UserId.eq(owner_id))
            .filter(stores::Column::DeletedAt.is_null())
            .into_tuple::<Uuid>()
            .one(db)
            .await?;
        match found {
            Some(_) => Ok(Self { owner_id, store_id }),
            None => Err(Error::NotFound {
                entity: Table::Stores,
            }),
        }
    }

    /// A scope for a store this crate has just created or checked itself.
    pub(crate) fn trusted(owner_id: Uuid, store_id: Uuid) -> Self {
        Self { owner_id, store_id }
    }

    /// The owner the scope was obtained for.
    pub fn owner_id(&self) -> Uuid {
        self.owner_id
    }

    /// The store the scope grants access to.
    pub fn store_id(&self) -> Uuid {
        self.store_id
    }
}
