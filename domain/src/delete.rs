//! Deleting one row for good: one `DELETE` that matches only the caller's row (its id and its
//! store or owner), so that another tenant's row is answered exactly like a missing one.

use sea_orm::{Condition, ConnectionTrait, EntityTrait, QueryFilter};

use crate::error::{Error, Result, Table};
use crate::txn::retry_transient;

/// Deletes the row of `E` that `row` selects.
///
/// # Errors
/// [`Error::NotFound`] naming `table` when no row matches; [`Error::Database`] when the
/// database fails.
pub(crate) async fn delete_one<E, C>(db: &C, table: Table, row: Condition) -> Result<()>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let deleted = retry_transient(db, || async {
        Ok(E::delete_many().filter(row.clone()).exec(db).await?)
    })
    .await?;
    if deleted.rows_affected == 0 {
        return Err(Error::NotFound { entity: table });
    }
    Ok(())
}
