//! Creating products: one with a free slug, or many in a few multi-row inserts.

use entity::sea_orm_active_enums::ProductStatus;
use entity::{product_images, product_variants, products};
use sea_orm::{
    ConnectionTrait, EntityTrait, IntoActiveModel, TransactionSession, TransactionTrait,
};
use uuid::Uuid;

use super::model::{DESCRIPTION_MAX, IMAGES_MAX, NewProduct, Product, TITLE_MAX, VARIANTS_MAX};
use super::read::{assemble, search_key};
use super::{images, values, variants};
use crate::clock;
use crate::db::begin_write;
use crate::error::{Error, Result};
use crate::money::Money;
use crate::rules::UniqueRule;
use crate::scope::StoreScope;
use crate::slugs::insert_with_free_slug;
use crate::txn::retry_transient;
use crate::values::{Slug, optional_text, required_text};
use crate::violations::OnTable;

/// A product checked and ready to insert, with its variants and images.
pub(super) struct Checked {
    pub(super) product: products::Model,
    pub(super) variants: Vec<product_variants::Model>,
    pub(super) images: Vec<product_images::Model>,
}

pub(super) fn check(scope: &StoreScope, new: NewProduct) -> Result<(Checked, Slug)> {
    let title = required_text("products.title", &new.title, TITLE_MAX)?;
    let original_title = match &new.original_title {
        Some(original) => required_text("products.original_title", original, TITLE_MAX)?,
        None => title.clone(),
    };
    let source_id = required_text("products.source_id", &new.source_id, TITLE_MAX)?;
    let description = optional_text(
        "products.description",
        Some(&new.description),
        DESCRIPTION_MAX,
    )?
    .unwrap_or_default();
    let (selling_price, compare_at_price) =
        values::prices(new.selling_price, new.compare_at_price)?;
    let currency = new.currency;
    let meta_title = optional_text("products.meta_title", new.meta_title.as_deref(), TITLE_MAX)?;
    let meta_description = optional_text(
        "products.meta_description",
        new.meta_description.as_deref(),
        DESCRIPTION_MAX,
    )?;
    if new.variants.len() > VARIANTS_MAX {
        return Err(Error::Invalid {
            field: "product_variants",
            violation: crate::Violation::TooMany { max: VARIANTS_MAX },
        });
    }
    if new.images.len() > IMAGES_MAX {
        return Err(Error::Invalid {
            field: "product_images",
            violation: crate::Violation::TooMany { max: IMAGES_MAX },
        });
    }
    let now = clock::now();
    let id = Uuid::now_v7();
    let variants = new
        .variants
        .into_iter()
        .map(|v| variants::check_variant(scope.store_id(), id, v, now))
        .collect::<Result<Vec<_>>>()?;
    let images = new
        .images
        .into_iter()
        .zip(0..)
        .map(|(image, position)| images::check_image(scope.store_id(), id, image, position, now))
        .collect::<Result<Vec<_>>>()?;
    let stock_quantity = if variants.is_empty() {
        values::stock("products.stock_quantity", new.stock_quantity)?
    } else {
        values::total_stock(variants.iter().map(|v| v.stock))?
    };
    let status = match new.status.unwrap_or(ProductStatus::Draft) {
        // A tracked product with nothing in stock cannot be ACTIVE.
        ProductStatus::Active if new.track_inventory && stock_quantity == 0 => {
            ProductStatus::OutOfStock
        }
        ProductStatus::OutOfStock if !new.track_inventory || stock_quantity > 0 => {
            ProductStatus::Active
        }
        status => status,
    };
    let slug = Slug::from_title(&title, "product");
    let mut product = products::Model {
        id,
        store_id: scope.store_id(),
        source_provider: new.source_provider,
        source_id,
        source_url: new.source_url.map(String::from),
        title,
        original_title,
        description,
        slug: slug.as_str().to_owned(),
        cost_price: new.cost_price.amount(),
        selling_price: selling_price.amount(),
        compare_at_price: compare_at_price.map(Money::amount),
        currency: currency.code().to_owned(),
        stock_quantity,
        track_inventory: new.track_inventory,
        meta_title,
        meta_description,
        status,
        created_at: now,
        updated_at: now,
        deleted_at: None,
        search_title: String::new(),
    };
    product.search_title = search_key(&product.title);
    Ok((
        Checked {
            product,
            variants,
            images,
        },
        slug,
    ))
}

/// Creates a product with its variants and images in one transaction. The slug is derived
/// from the title, with `-2`, `-3`, … when taken in the store.
///
/// # Errors
/// [`Error::Invalid`] naming the field for bad input; [`Error::Conflict`] with
/// [`UniqueRule::ProductsStoreSource`] when the store already has this supplier product (use
/// [`super::import`] to refresh it) or [`UniqueRule::ProductVariantsProductSku`] for a repeated SKU.
/// Nothing is written when it fails.
#[tracing::instrument(skip_all, err, fields(store_id = %scope.store_id()))]
pub async fn create<C>(db: &C, scope: &StoreScope, new: NewProduct) -> Result<Product>
where
    C: ConnectionTrait + TransactionTrait,
{
    let (checked, slug) = check(scope, new)?;
    retry_transient(db, || async {
        let txn = begin_write(db).await?;
        let product = insert_checked(&txn, &checked, &slug).await?;
        txn.commit().await?;
        Ok(product)
    })
    .await
}

/// The most bind parameters one statement gets: under the limits of every backend (SQLite
/// 32,766; Postgres and MariaDB 65,535).
const BINDS_PER_STATEMENT: usize = 30_000;

/// Creates many products, with their variants and images, in one transaction and a few
/// multi-row inserts: for imports of whole catalogues and bulk data. Every product goes
/// through the same validation as [`create`]; unlike it, a taken slug is not retried with a
/// suffix (give distinct titles). Returns the new products' ids, in input order.
///
/// # Errors
/// [`Error::Invalid`] naming the field of the first bad product (nothing is written);
/// [`Error::Conflict`] for a taken slug, source or SKU (nothing is written).
#[tracing::instrument(skip_all, err, fields(store_id = %scope.store_id()))]
pub async fn create_many<C>(db: &C, scope: &StoreScope, new: Vec<NewProduct>) -> Result<Vec<Uuid>>
where
    C: ConnectionTrait + TransactionTrait,
{
    let mut products = Vec::with_capacity(new.len());
    let mut variants = Vec::new();
    let mut images = Vec::new();
    for product in new {
        let (checked, _) = check(scope, product)?;
        products.push(checked.product);
        variants.extend(checked.variants);
        images.extend(checked.images);
    }
    let ids = products.iter().map(|p| p.id).collect();
    retry_transient(db, || async {
        let txn = begin_write(db).await?;
        insert_chunked::<products::Entity, _>(&txn, &products, "products").await?;
        insert_chunked::<product_variants::Entity, _>(&txn, &variants, "product_variants").await?;
        insert_chunked::<product_images::Entity, _>(&txn, &images, "product_images").await?;
        txn.commit().await?;
        Ok(())
    })
    .await?;
    Ok(ids)
}

/// Inserts `rows` in as few statements as the bind limit allows.
async fn insert_chunked<E, C>(db: &C, rows: &[E::Model], table: &'static str) -> Result<()>
where
    E: EntityTrait,
    E::Model: IntoActiveModel<E::ActiveModel> + Clone,
    C: ConnectionTrait,
{
    use sea_orm::Iterable;
    let per_row = E::Column::iter().count().max(1);
    for chunk in rows.chunks((BINDS_PER_STATEMENT / per_row).max(1)) {
        E::insert_many(
            chunk
                .iter()
                .cloned()
                .map(IntoActiveModel::into_active_model),
        )
        .exec_without_returning(db)
        .await
        .on_table(table)?;
    }
    Ok(())
}

/// Inserts a checked product, trying slug suffixes in savepoints until one is free.
pub(super) async fn insert_checked<C>(txn: &C, checked: &Checked, slug: &Slug) -> Result<Product>
where
    C: ConnectionTrait + TransactionTrait,
{
    let product = insert_with_free_slug::<products::Entity, _>(
        txn,
        "products",
        slug,
        |rule| rule == UniqueRule::ProductsStoreSlug,
        |candidate| products::Model {
            slug: candidate.as_str().to_owned(),
            ..checked.product.clone()
        },
    )
    .await?;
    insert_chunked::<product_variants::Entity, _>(txn, &checked.variants, "product_variants")
        .await?;
    insert_chunked::<product_images::Entity, _>(txn, &checked.images, "product_images").await?;
    assemble(product, checked.variants.clone(), checked.images.clone())
}
