//! Soft delete and restore: one way for every table with a `deleted_at` column.
//!
//! A soft-deleted row keeps its unique values (slug, subdomain, …) but disappears from every
//! read that filters on `deleted_at IS NULL`; restoring it clears the mark. Both are one
//! `UPDATE` that only matches a row in the right state, so a second call is answered as a
//! missing row, never as a silent success.

use chrono::{DateTime, FixedOffset};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter};

use crate::clock;
use crate::error::{Error, Result, Table};
use crate::txn::retry_transient;

/// A table whose rows are soft-deleted: its name for errors, and its two time columns.
pub(crate) trait SoftDelete: EntityTrait {
    /// The table, named in [`Error::NotFound`].
    const TABLE: Table;
    /// The column that marks a row deleted (`NULL` while it is live).
    fn deleted_at() -> Self::Column;
    /// The column of the row's last write.
    fn updated_at() -> Self::Column;
}

/// Marks the live row that `row` selects (its id and its owner or store) deleted now.
///
/// # Errors
/// [`Error::NotFound`] naming the table when no live row matches (already deleted, or never
/// there); [`Error::Database`] when the database fails.
pub(crate) async fn soft_delete<E, C>(db: &C, row: Condition) -> Result<()>
where
    E: SoftDelete,
    C: ConnectionTrait,
{
    mark::<E, C>(db, row, true).await
}

/// Clears the deletion mark of the soft-deleted row that `row` selects.
///
/// # Errors
/// [`Error::NotFound`] naming the table when no deleted row matches (live, or never there);
/// [`Error::Database`] when the database fails.
pub(crate) async fn restore<E, C>(db: &C, row: Condition) -> Result<()>
where
    E: SoftDelete,
    C: ConnectionTrait,
{
    mark::<E, C>(db, row, false).await
}

/// Sets (`delete`) or clears the mark of the row in the opposite state, and `updated_at`.
async fn mark<E, C>(db: &C, row: Condition, delete: bool) -> Result<()>
where
    E: SoftDelete,
    C: ConnectionTrait,
{
    let now = clock::now();
    let (deleted_at, in_state) = if delete {
        (Some(now), E::deleted_at().is_null())
    } else {
        (None::<DateTime<FixedOffset>>, E::deleted_at().is_not_null())
    };
    let done = retry_transient(db, || async {
        Ok(E::update_many()
            .col_expr(E::deleted_at(), Expr::value(deleted_at))
            .col_expr(E::updated_at(), Expr::value(now))
            .filter(row.clone())
            .filter(in_state.clone())
            .exec(db)
            .await?)
    })
    .await?;
    if done.rows_affected == 0 {
        return Err(Error::NotFound { entity: E::TABLE });
    }
    Ok(())
}
