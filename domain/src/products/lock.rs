//! The product's row lock: every read-then-write on a product's children (the variant count,
//! image positions, stock totals) runs under it, one caller at a time per product, and locks
//! are always taken product first so that two callers cannot wait for each other.

use sea_orm::sea_query::LockType;
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::read::ensure_product_with;
use crate::error::{Error, Result, Violation};
use crate::scope::StoreScope;

/// Makes `query` a locking read where the backend has them, so that it reads the newest
/// committed rows: inside a transaction MariaDB's plain reads see the transaction's snapshot,
/// which may predate the lock this code waited for (Postgres reads the newest rows at its
/// default READ COMMITTED anyway; SQLite has one writer and no such snapshot).
pub(super) fn current<Q: QuerySelect>(query: Q, backend: DbBackend) -> Q {
    if backend == DbBackend::Sqlite {
        query
    } else {
        query.lock(LockType::Update)
    }
}

/// Takes the write lock on a live product of the scope (`SELECT … FOR UPDATE`; on SQLite the
/// writer's `BEGIN IMMEDIATE` already holds the database's one write lock).
///
/// # Errors
/// [`Error::NotFound`] when the store has no such live product.
pub(super) async fn lock_product<C: ConnectionTrait>(
    db: &C,
    scope: &StoreScope,
    id: Uuid,
) -> Result<()> {
    ensure_product_with(db, scope, id, |query| {
        current(query, db.get_database_backend())
    })
    .await
}

/// Locks the product of the child row `child_id` (a variant or an image, through its
/// `id_column` and `product_column`) and returns the product's id; `None` when there is no
/// such child on a live product of the scope.
pub(super) async fn lock_product_of<C, Col>(
    db: &C,
    scope: &StoreScope,
    child_id: Uuid,
    id_column: Col,
    product_column: Col,
) -> Result<Option<Uuid>>
where
    C: ConnectionTrait,
    Col: ColumnTrait,
    Col::EntityName: EntityTrait<Column = Col>,
{
    let product_id: Option<Uuid> = <Col::EntityName as EntityTrait>::find()
        .select_only()
        .column(product_column)
        .filter(id_column.eq(child_id))
        .into_tuple()
        .one(db)
        .await?;
    let Some(product_id) = product_id else {
        return Ok(None);
    };
    match lock_product(db, scope, product_id).await {
        Ok(()) => Ok(Some(product_id)),
        Err(Error::NotFound { .. }) => Ok(None),
        Err(err) => Err(err),
    }
}

/// Takes the product's lock (as [`lock_product`]) and checks that it has room for one more
/// child: fewer than `max` rows of `id_column` whose `product_column` is `product_id`, read
/// under the lock. Returns how many it has. `table` names the limit in the error.
///
/// # Errors
/// [`Error::Invalid`] naming `table` with [`Violation::TooMany`] when it is full;
/// [`Error::NotFound`] as [`lock_product`].
pub(super) async fn lock_with_room<C, Col>(
    db: &C,
    scope: &StoreScope,
    product_id: Uuid,
    (id_column, product_column): (Col, Col),
    (table, max): (&'static str, usize),
) -> Result<usize>
where
    C: ConnectionTrait,
    Col: ColumnTrait,
    Col::EntityName: EntityTrait<Column = Col>,
{
    lock_product(db, scope, product_id).await?;
    // Ids rather than COUNT(*): Postgres takes no row lock with an aggregate, and a product
    // has at most a hundred children.
    let count = current(
        <Col::EntityName as EntityTrait>::find()
            .select_only()
            .column(id_column)
            .filter(product_column.eq(product_id)),
        db.get_database_backend(),
    )
    .into_tuple::<Uuid>()
    .all(db)
    .await?
    .len();
    if count >= max {
        return Err(Error::Invalid {
            field: table,
            violation: Violation::TooMany { max },
        });
    }
    Ok(count)
}
