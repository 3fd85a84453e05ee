//! Imports from a supplier: idempotent by (store, provider, source id), refreshing only what
//! the supplier owns.

use entity::{product_variants, products};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, TransactionSession,
    TransactionTrait,
};
use uuid::Uuid;

use super::create::{Checked, check, insert_checked};
use super::model::{ImportOutcome, NewProduct, Product};
use super::read::get;
use super::{stock, values};
use crate::clock;
use crate::db::begin_write;
use crate::error::{Error, Result, Table};
use crate::rules::UniqueRule;
use crate::scope::StoreScope;
use crate::txn::retry_transient;

/// Imports a product from a supplier, idempotently by (store, provider, source id).
///
/// The first import creates the product as [`super::create`] does. A re-import refreshes what the
/// supplier owns (original title, cost price, source URL, stock, and each variant's cost and
/// stock by SKU) and keeps what the merchant edited (title, selling price, description, SEO,
/// status).
///
/// # Errors
/// As [`super::create`].
#[tracing::instrument(skip_all, err, fields(store_id = %scope.store_id()))]
pub async fn import<C>(
    db: &C,
    scope: &StoreScope,
    new: NewProduct,
) -> Result<(Product, ImportOutcome)>
where
    C: ConnectionTrait + TransactionTrait,
{
    let (checked, slug) = check(scope, new)?;
    retry_transient(db, || async {
        let txn = begin_write(db).await?;
        let savepoint = txn.begin().await?;
        let outcome = match insert_checked(&savepoint, &checked, &slug).await {
            Ok(product) => {
                savepoint.commit().await?;
                txn.commit().await?;
                return Ok((product, ImportOutcome::Created));
            }
            Err(Error::Conflict {
                rule: UniqueRule::ProductsStoreSource,
            }) => {
                savepoint.rollback().await?;
                ImportOutcome::Refreshed
            }
            Err(err) => return Err(err),
        };
        let id = refresh(&txn, scope, &checked).await?;
        let product = get(&txn, scope, id).await?;
        txn.commit().await?;
        Ok((product, outcome))
    })
    .await
}

/// The re-import half of [`import`]: the supplier's facts only.
async fn refresh<C: ConnectionTrait>(
    txn: &C,
    scope: &StoreScope,
    checked: &Checked,
) -> Result<Uuid> {
    let p = &checked.product;
    let existing: Uuid = products::Entity::find()
        .select_only()
        .column(products::Column::Id)
        .filter(products::Column::StoreId.eq(scope.store_id()))
        .filter(products::Column::SourceProvider.eq(p.source_provider))
        .filter(products::Column::SourceId.eq(p.source_id.clone()))
        .into_tuple()
        .one(txn)
        .await?
        .ok_or(Error::NotFound {
            entity: Table::Products,
        })?;
    let now = clock::now();
    for v in &checked.variants {
        let Some(sku) = &v.sku else { continue };
        product_variants::Entity::update_many()
            .col_expr(
                product_variants::Column::CostPrice,
                Expr::value(v.cost_price),
            )
            .col_expr(product_variants::Column::Stock, Expr::value(v.stock))
            .col_expr(product_variants::Column::UpdatedAt, Expr::value(now))
            .filter(product_variants::Column::ProductId.eq(existing))
            .filter(product_variants::Column::Sku.eq(sku.clone()))
            .exec(txn)
            .await?;
    }
    // With variants, the product's stock is their total, recomputed from the rows.
    let has_variants = !checked.variants.is_empty();
    let stock = if has_variants {
        values::total_stock(
            product_variants::Entity::find()
                .filter(product_variants::Column::ProductId.eq(existing))
                .all(txn)
                .await?
                .iter()
                .map(|v| v.stock),
        )?
    } else {
        p.stock_quantity
    };
    products::Entity::update_many()
        .col_expr(
            products::Column::Status,
            stock::status_for_stock(Expr::value(stock)),
        )
        .col_expr(
            products::Column::OriginalTitle,
            Expr::value(p.original_title.clone()),
        )
        .col_expr(products::Column::CostPrice, Expr::value(p.cost_price))
        .col_expr(
            products::Column::SourceUrl,
            Expr::value(p.source_url.clone()),
        )
        .col_expr(products::Column::StockQuantity, Expr::value(stock))
        .col_expr(products::Column::UpdatedAt, Expr::value(now))
        .filter(products::Column::Id.eq(existing))
        .exec(txn)
        .await?;
    Ok(existing)
}
