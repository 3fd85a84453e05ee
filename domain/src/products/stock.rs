//! Atomic stock moves that never go below zero.

use entity::products;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, SimpleExpr};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::lock::current;
use super::read::live;
use crate::clock;
use crate::error::{Error, Result, Table, Violation};
use crate::scope::StoreScope;
use crate::txn::retry_transient;
use crate::violations::OnTable;

fn status_value(status: &str) -> Expr {
    // On Postgres a bound text parameter must be cast to the enum type to compare or assign.
    Expr::val(status).as_enum(Alias::new("product_status"))
}

/// The status a product gets when its stock becomes `new_stock`: a tracked ACTIVE product at
/// zero is OUT_OF_STOCK, a tracked OUT_OF_STOCK product above zero is ACTIVE again, anything
/// else keeps its status. Evaluated in the same UPDATE as the stock change, so the two can
/// never disagree.
pub(super) fn status_for_stock(new_stock: Expr) -> Expr {
    let tracked = Expr::col(products::Column::TrackInventory).eq(true);
    let status = || Expr::col(products::Column::Status);
    Expr::case(
        tracked
            .clone()
            .and(status().eq(status_value("ACTIVE")))
            .and(new_stock.clone().lte(0)),
        status_value("OUT_OF_STOCK"),
    )
    .case(
        tracked
            .and(status().eq(status_value("OUT_OF_STOCK")))
            .and(new_stock.gt(0)),
        status_value("ACTIVE"),
    )
    .finally(status())
    .into()
}

/// The condition under which `column + delta` stays within `0 ..= i32::MAX`, written without
/// arithmetic on the column, so that no backend ever computes (or, on SQLite, stores) a value
/// outside the `int` range.
pub(super) fn stays_in_range<Col: ColumnTrait>(column: Col, delta: i32) -> SimpleExpr {
    if delta >= 0 {
        Expr::col(column).lte(i32::MAX - delta)
    } else {
        Expr::col(column).gte(-i64::from(delta))
    }
}

/// The error for a stock move that would pass `i32::MAX`.
pub(super) fn too_much(field: &'static str) -> Error {
    Error::Invalid {
        field,
        violation: Violation::OutOfRange {
            min: 0,
            max: i64::from(i32::MAX),
        },
    }
}

/// Adds `delta` to the product's `stock_quantity` and moves its status with it, in one
/// UPDATE guarded by [`stays_in_range`]; `scoped` narrows it to the caller's scope. Returns
/// whether the row changed.
pub(super) async fn move_product_stock<C: ConnectionTrait>(
    db: &C,
    product_id: Uuid,
    delta: i32,
    scoped: Option<&StoreScope>,
) -> Result<bool> {
    let new_stock = || Expr::col(products::Column::StockQuantity).add(delta);
    // The status is assigned first: MariaDB evaluates SET left to right with the values
    // already assigned, the others with the old row; both then read the old stock here.
    let mut update = products::Entity::update_many()
        .col_expr(products::Column::Status, status_for_stock(new_stock()))
        .col_expr(products::Column::StockQuantity, new_stock())
        .col_expr(products::Column::UpdatedAt, Expr::value(clock::now()))
        .filter(products::Column::Id.eq(product_id))
        .filter(stays_in_range(products::Column::StockQuantity, delta));
    if let Some(scope) = scoped {
        update = update
            .filter(products::Column::StoreId.eq(scope.store_id()))
            .filter(products::Column::DeletedAt.is_null());
    }
    let done = update.exec(db).await.on_table("products")?;
    Ok(done.rows_affected == 1)
}

/// Adds `delta` (negative to take out) to the stock of a product without variants, in one
/// conditional UPDATE: it applies only when the result is within `0 ..= i32::MAX`, and moves
/// a tracked product between ACTIVE and OUT_OF_STOCK at zero. Returns the new stock.
///
/// # Errors
/// [`Error::InsufficientStock`] when the result would be negative, [`Error::Invalid`] naming
/// `stock_quantity` when it would pass `i32::MAX` (nothing changes either way);
/// [`Error::NotFound`] when the store has no such live product.
#[tracing::instrument(skip_all, err, fields(store_id = %scope.store_id(), product_id = %product_id))]
pub async fn update_stock<C: ConnectionTrait>(
    db: &C,
    scope: &StoreScope,
    product_id: Uuid,
    delta: i32,
) -> Result<i32> {
    let (moved, stock) = retry_transient(db, || async {
        let moved = move_product_stock(db, product_id, delta, Some(scope)).await?;
        let stock: Option<i32> = current(
            live(scope)
                .select_only()
                .column(products::Column::StockQuantity)
                .filter(products::Column::Id.eq(product_id)),
            db.get_database_backend(),
        )
        .into_tuple()
        .one(db)
        .await?;
        Ok((moved, stock))
    })
    .await?;
    match (moved, stock) {
        (_, None) => Err(Error::NotFound {
            entity: Table::Products,
        }),
        (false, Some(_)) if delta > 0 => Err(too_much("products.stock_quantity")),
        (false, Some(available)) => Err(Error::InsufficientStock {
            requested: delta.saturating_neg(),
            available,
        }),
        (true, Some(stock)) => Ok(stock),
    }
}
