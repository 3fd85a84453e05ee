//! The slug-candidate insert: one way for every table whose rows carry a unique slug.
//!
//! A row whose slug is derived from a title tries `base`, `base-2`, `base-3`, … (then a random
//! suffix, see [`Slug::candidate`]) until the database accepts one. Each try runs in a
//! savepoint, so that a refused insert leaves the caller's transaction usable (on Postgres a
//! failed statement would otherwise abort it), and a taken slug is recognised by the unique
//! rule the database names, never by a read first.

use sea_orm::{
    ConnectionTrait, EntityTrait, IntoActiveModel, TransactionSession, TransactionTrait,
};

use crate::db::begin_write;
use crate::error::{Error, Result};
use crate::rules::UniqueRule;
use crate::values::{READABLE_SUFFIXES, Slug};
use crate::violations::OnTable;

/// How many candidates are tried before the last conflict is returned: the readable ones,
/// then a few random ones (which settle a popular name under heavy concurrency).
pub(crate) const ATTEMPTS: u32 = READABLE_SUFFIXES + 3;

/// Inserts the row that `row` builds for each candidate slug of `base` in turn, each in a
/// savepoint of `db` (a transaction of its own on a pool), until the database takes one;
/// returns the row that went in (built here, so no read-back is needed).
///
/// A refusal by a unique rule for which `retry(rule)` is true moves on to the next candidate
/// (for the slug's own rule, and for any value derived from the slug); any other error is
/// returned as it is. A slug given by the caller, which must not be rewritten, passes a
/// `retry` that is false for the slug's rule: it is then tried once.
///
/// # Errors
/// [`Error::Conflict`] when every candidate was taken (or the rule is not retried), any other
/// error [`OnTable::on_table`] translates for `table`, and [`Error::Database`] when a
/// savepoint cannot be opened or closed.
pub(crate) async fn insert_with_free_slug<E, C>(
    db: &C,
    table: &'static str,
    base: &Slug,
    retry: impl Fn(UniqueRule) -> bool,
    mut row: impl FnMut(&Slug) -> E::Model,
) -> Result<E::Model>
where
    E: EntityTrait,
    E::Model: IntoActiveModel<E::ActiveModel> + Clone,
    C: ConnectionTrait + TransactionTrait,
{
    let mut n = 1;
    loop {
        let model = row(&base.candidate(n));
        let savepoint = begin_write(db).await?;
        let inserted = E::insert(model.clone().into_active_model())
            .exec_without_returning(&savepoint)
            .await
            .on_table(table);
        match inserted {
            Ok(_) => {
                savepoint.commit().await?;
                return Ok(model);
            }
            Err(Error::Conflict { rule }) if retry(rule) && n < ATTEMPTS => {
                savepoint.rollback().await?;
                n += 1;
            }
            Err(err) => {
                rollback(savepoint).await;
                return Err(err);
            }
        }
    }
}

/// Rolls back after a failed statement. The statement's error is what the caller needs: when
/// the rollback fails too (MySQL drops every savepoint when it picks a transaction as a
/// deadlock victim) that is only logged.
pub(crate) async fn rollback<T: TransactionSession>(txn: T) {
    if let Err(err) = txn.rollback().await {
        tracing::warn!(error = %err, "rollback after a failed write failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_are_readable_first_then_random_and_always_distinct_from_the_base() {
        let base = Slug::from_title("Shipping", "page");
        assert_eq!(base.candidate(1).as_str(), "shipping");
        assert_eq!(base.candidate(2).as_str(), "shipping-2");
        assert_eq!(
            base.candidate(READABLE_SUFFIXES).as_str(),
            format!("shipping-{READABLE_SUFFIXES}")
        );
        for n in READABLE_SUFFIXES + 1..=ATTEMPTS {
            let random = base.candidate(n);
            let suffix = random.as_str().trim_start_matches("shipping-");
            assert_eq!(suffix.len(), 5, "{random}");
        }
    }
}
