//! Atomic stock moves that never go below zero.

use entity::{product_variants, products};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, TransactionSession,
    TransactionTrait,
};
use uuid::Uuid;

use super::live;
use crate::clock;
use crate::db::begin_write;
use crate::error::{Error, Result};
use crate::stores::StoreScope;

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

/// Adds `delta` (negative to take out) to the stock of a product without variants, in one
/// conditional UPDATE: it applies only when the result is not negative, and moves a tracked
/// product between ACTIVE and OUT_OF_STOCK at zero. Returns the new stock.
///
/// # Errors
/// [`Error::InsufficientStock`] when the result would be negative (nothing changes);
/// [`Error::NotFound`] when the store has no such live product.
pub async fn adjust_stock<C: ConnectionTrait>(
    db: &C,
    scope: &StoreScope,
    product_id: Uuid,
    delta: i32,
) -> Result<i32> {
    let new_stock = || Expr::col(products::Column::StockQuantity).add(delta);
    // The status is assigned first: MariaDB evaluates SET left to right with the values
    // already assigned, the others with the old row; both then read the old stock here.
    let done = products::Entity::update_many()
        .col_expr(products::Column::Status, status_for_stock(new_stock()))
        .col_expr(products::Column::StockQuantity, new_stock())
        .col_expr(products::Column::UpdatedAt, Expr::value(clock::now()))
        .filter(products::Column::Id.eq(product_id))
        .filter(products::Column::StoreId.eq(scope.store_id()))
        .filter(products::Column::DeletedAt.is_null())
        .filter(new_stock().gte(0))
        .exec(db)
        .await?;
    let stock: Option<i32> = live(scope)
        .select_only()
        .column(products::Column::StockQuantity)
        .filter(products::Column::Id.eq(product_id))
        .into_tuple()
        .one(db)
        .await?;
    match (done.rows_affected, stock) {
        (_, None) => Err(Error::NotFound { entity: "product" }),
        (0, Some(available)) => Err(Error::InsufficientStock {
            requested: delta.saturating_neg(),
            available,
        }),
        (_, Some(stock)) => Ok(stock),
    }
}

/// Adds `delta` to a variant's stock and to its product's total in one transaction; the
/// variant never goes below zero, and the product moves between ACTIVE and OUT_OF_STOCK when
/// its tracked total reaches zero. Returns the variant's new stock.
///
/// # Errors
/// [`Error::InsufficientStock`] (nothing changes); [`Error::NotFound`] when the store has no
/// such variant on a live product.
pub async fn adjust_variant_stock<C>(
    db: &C,
    scope: &StoreScope,
    variant_id: Uuid,
    delta: i32,
) -> Result<i32>
where
    C: ConnectionTrait + TransactionTrait,
{
    let txn = begin_write(db).await?;
    // The conditional UPDATE comes first: it reads the latest row under its lock, and no
    // snapshot taken earlier in the transaction (MariaDB's REPEATABLE READ) can make the
    // stock reported below stale.
    let new_stock = Expr::col(product_variants::Column::Stock).add(delta);
    let done = product_variants::Entity::update_many()
        .col_expr(product_variants::Column::Stock, new_stock.clone())
        .col_expr(
            product_variants::Column::UpdatedAt,
            Expr::value(clock::now()),
        )
        .filter(product_variants::Column::Id.eq(variant_id))
        .filter(product_variants::Column::ProductId.in_subquery(scope_products(scope)))
        .filter(new_stock.gte(0))
        .exec(&txn)
        .await?;
    let stock: Option<i32> = product_variants::Entity::find_by_id(variant_id)
        .select_only()
        .column(product_variants::Column::Stock)
        .filter(product_variants::Column::ProductId.in_subquery(scope_products(scope)))
        .into_tuple()
        .one(&txn)
        .await?;
    let stock = match (done.rows_affected, stock) {
        (_, None) => {
            return Err(Error::NotFound {
                entity: "product_variant",
            });
        }
        (0, Some(available)) => {
            return Err(Error::InsufficientStock {
                requested: delta.saturating_neg(),
                available,
            });
        }
        (_, Some(stock)) => stock,
    };
    let product_stock = || Expr::col(products::Column::StockQuantity).add(delta);
    products::Entity::update_many()
        .col_expr(products::Column::Status, status_for_stock(product_stock()))
        .col_expr(products::Column::StockQuantity, product_stock())
        .col_expr(products::Column::UpdatedAt, Expr::value(clock::now()))
        .filter(
            products::Column::Id.in_subquery(
                Query::select()
                    .column(product_variants::Column::ProductId)
                    .from(product_variants::Entity)
                    .and_where(product_variants::Column::Id.eq(variant_id))
                    .to_owned(),
            ),
        )
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(stock)
}

/// `SELECT id FROM products WHERE store_id = <scope> AND deleted_at IS NULL`, for statements
/// on child rows that must stay inside the scope.
fn scope_products(scope: &StoreScope) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(products::Column::Id)
        .from(products::Entity)
        .and_where(products::Column::StoreId.eq(scope.store_id()))
        .and_where(products::Column::DeletedAt.is_null())
        .to_owned()
}
