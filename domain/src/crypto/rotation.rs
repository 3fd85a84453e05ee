//! Key rotation's walk over one table: the generic part that each table with encrypted
//! columns (`supplier_accounts`, `accounts`) runs from its own module with its own bindings.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::cipher::Binding;
use super::keys::KeyRing;
use crate::error::{Error, Result, Violation};

/// The most rows a key rotation reads and rewrites per batch.
pub const MAX_ROTATION_BATCH: u64 = 10_000;

/// What a key rotation did. `supplier_accounts::rotate_keys` and `users::accounts::rotate_keys`
/// each walk one table and report one (`+` adds them up).
///
/// A rotation is safe while the service is live: the key ring it runs with still holds the
/// old keys, so reads keep working, and each row is rewritten only if its secrets are still
/// the ones that were read (a row changed meanwhile is skipped: its new values are already
/// under the current key). It is safe to run again: values already under the current key are
/// left alone. Once both tables report, the old key can be dropped from
/// [`super::KEY_VARIABLE`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RotationReport {
    /// Rows read.
    pub rows_scanned: u64,
    /// Secret values re-encrypted under the current key.
    pub values_reencrypted: u64,
    /// Rows left alone because they changed (or were deleted) between the read and the write;
    /// whatever was written meanwhile is already under the current key.
    pub rows_skipped: u64,
}

impl std::ops::Add for RotationReport {
    type Output = Self;

    /// The two reports together, e.g. of the rotations of two tables.
    fn add(self, other: Self) -> Self {
        Self {
            rows_scanned: self.rows_scanned + other.rows_scanned,
            values_reencrypted: self.values_reencrypted + other.values_reencrypted,
            rows_skipped: self.rows_skipped + other.rows_skipped,
        }
    }
}

/// One encrypted column of a row: the column, what it holds, and what it is bound to.
pub(crate) struct Sealed<Col> {
    /// The column.
    pub(crate) column: Col,
    /// Its stored ciphertext, if it holds one.
    pub(crate) stored: Option<String>,
    /// The binding it was written with.
    pub(crate) binding: Binding,
}

/// The rows of one table to rotate: how to read their ids and encrypted columns.
pub(crate) struct Walk<E: EntityTrait, F> {
    /// The primary key column (a UUID v7, the walking order).
    pub(crate) id: E::Column,
    /// A column to set to now on every rewritten row (`updated_at`), if the table has one.
    pub(crate) touched: Option<E::Column>,
    /// The row's id and its encrypted columns.
    pub(crate) sealed: F,
}

/// Re-encrypts every value of one table that is not under the current key of `keys`,
/// `batch_size` rows at a time, in id order.
///
/// Each row is rewritten only if its secrets are still the ones that were read (a row changed
/// meanwhile is skipped: its new values are already under the current key). Values already
/// under the current key are left alone, so it is safe to run again.
///
/// # Errors
/// [`Error::Invalid`] for `batch_size` outside 1..=[`MAX_ROTATION_BATCH`];
/// [`Error::Decryption`] for a stored value that no key of the ring opens (nothing after it is
/// rotated); [`Error::Database`].
pub(crate) async fn rotate_table<E, C, F>(
    db: &C,
    keys: &KeyRing,
    batch_size: u64,
    walk: Walk<E, F>,
) -> Result<RotationReport>
where
    E: EntityTrait,
    C: ConnectionTrait,
    F: Fn(&E::Model) -> (Uuid, Vec<Sealed<E::Column>>),
{
    if !(1..=MAX_ROTATION_BATCH).contains(&batch_size) {
        return Err(Error::Invalid {
            field: "batch_size",
            violation: Violation::OutOfRange {
                min: 1,
                max: MAX_ROTATION_BATCH as i64,
            },
        });
    }
    let mut report = RotationReport::default();
    let mut after: Option<Uuid> = None;
    loop {
        let mut query = E::find().order_by_asc(walk.id).limit(batch_size);
        if let Some(after) = after {
            query = query.filter(walk.id.gt(after));
        }
        let rows = query.all(db).await?;
        if rows.is_empty() {
            return Ok(report);
        }
        for row in &rows {
            report.rows_scanned += 1;
            let (id, sealed) = (walk.sealed)(row);
            after = Some(id);
            let mut rewrites = Vec::new();
            for Sealed {
                column,
                stored,
                binding,
            } in sealed
            {
                let Some(stored) = stored.filter(|s| !keys.is_current(s)) else {
                    continue;
                };
                let plain = keys.decrypt(&stored, &binding)?;
                rewrites.push((column, stored, keys.encrypt(plain.expose(), &binding)?));
            }
            if rewrites.is_empty() {
                continue;
            }
            let mut update = E::update_many();
            if let Some(touched) = walk.touched {
                update = update.col_expr(touched, Expr::value(crate::clock::now()));
            }
            let mut unchanged = Condition::all().add(walk.id.eq(id));
            for (column, old, new) in &rewrites {
                update = update.col_expr(*column, Expr::value(new.clone()));
                unchanged = unchanged.add(column.eq(old.clone()));
            }
            let result = update.filter(unchanged).exec(db).await?;
            if result.rows_affected == 0 {
                report.rows_skipped += 1;
            } else {
                report.values_reencrypted += rewrites.len() as u64;
            }
        }
    }
}
