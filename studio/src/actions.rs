//! The domain actions of `--write` mode. Each one checks the form's CSRF token, then calls
//! `domain` (its validation and its state machine) as the owner of the store concerned; none
//! writes a column itself.

use axum::Form;
use axum::extract::{Path, State};
use axum::response::Redirect;
use domain::StoreScope;
use domain::agent_jobs::JobOwner;
use domain::products::ProductStatus;
use domain::stores::StoreStatus;
use sea_orm::{EntityTrait, Iterable, QuerySelect};
use serde::Deserialize;
use uuid::Uuid;

use crate::pages::enum_name;
use crate::{AppError, Studio, check_csrf};

/// The fields an action form may carry.
#[derive(Debug, Deserialize)]
pub(crate) struct ActionForm {
    #[serde(default)]
    csrf: String,
    to: Option<String>,
    delta: Option<String>,
}

fn id(text: &str, what: &'static str) -> Result<Uuid, AppError> {
    Uuid::parse_str(text).map_err(|_| AppError::NotFound(what))
}

/// The scope of a store, obtained for its owner (the studio acts on the owner's behalf).
async fn store_scope(studio: &Studio, store_id: Uuid) -> Result<StoreScope, AppError> {
    let owner: Uuid = entity::stores::Entity::find_by_id(store_id)
        .select_only()
        .column(entity::stores::Column::UserId)
        .into_tuple()
        .one(studio.db())
        .await?
        .ok_or(AppError::NotFound("store"))?;
    Ok(StoreScope::obtain(studio.db(), owner, store_id).await?)
}

async fn product_scope(studio: &Studio, product_id: Uuid) -> Result<StoreScope, AppError> {
    let store_id: Uuid = entity::products::Entity::find_by_id(product_id)
        .select_only()
        .column(entity::products::Column::StoreId)
        .into_tuple()
        .one(studio.db())
        .await?
        .ok_or(AppError::NotFound("product"))?;
    store_scope(studio, store_id).await
}

fn target<T: Serialize + Copy>(
    form: &ActionForm,
    all: impl Iterator<Item = T>,
) -> Result<T, AppError> {
    let wanted = form.to.as_deref().unwrap_or_default();
    let mut names = Vec::new();
    for value in all {
        let name = enum_name(&value);
        if name == wanted {
            return Ok(value);
        }
        names.push(name);
    }
    Err(AppError::BadRequest(format!(
        "to: one of {}",
        names.join(", ")
    )))
}

use serde::Serialize;

fn delta(form: &ActionForm) -> Result<i32, AppError> {
    form.delta
        .as_deref()
        .map(str::trim)
        .and_then(|d| d.parse::<i32>().ok())
        .filter(|d| *d != 0)
        .ok_or_else(|| {
            AppError::BadRequest("delta: a non-zero whole number (negative takes out)".into())
        })
}

/// `POST /jobs/{id}/cancel`.
pub(crate) async fn job_cancel(
    State(studio): State<Studio>,
    Path(job): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Redirect, AppError> {
    check_csrf(&studio, &form.csrf)?;
    let job_id = id(&job, "agent_job")?;
    let owner = job_owner(&studio, job_id).await?;
    domain::agent_jobs::cancel(studio.db(), owner, job_id).await?;
    Ok(Redirect::to(&format!("/t/agent_jobs/{job_id}")))
}

/// `POST /jobs/{id}/retry`: a FAILED job runs again ([`domain::agent_jobs::retry`]).
pub(crate) async fn job_retry(
    State(studio): State<Studio>,
    Path(job): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Redirect, AppError> {
    check_csrf(&studio, &form.csrf)?;
    let job_id = id(&job, "agent_job")?;
    let owner = job_owner(&studio, job_id).await?;
    domain::agent_jobs::retry(studio.db(), owner, job_id).await?;
    Ok(Redirect::to(&format!("/t/agent_jobs/{job_id}")))
}

async fn job_owner(studio: &Studio, job_id: Uuid) -> Result<JobOwner, AppError> {
    let store: Option<Option<Uuid>> = entity::agent_jobs::Entity::find_by_id(job_id)
        .select_only()
        .column(entity::agent_jobs::Column::StoreId)
        .into_tuple()
        .one(studio.db())
        .await?;
    match store.ok_or(AppError::NotFound("agent_job"))? {
        Some(store_id) => Ok(JobOwner::from(store_scope(studio, store_id).await?)),
        None => Ok(JobOwner::SYSTEM),
    }
}

/// `POST /stores/{id}/status` (`to`): a move of the store's status machine.
pub(crate) async fn store_status(
    State(studio): State<Studio>,
    Path(store): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Redirect, AppError> {
    check_csrf(&studio, &form.csrf)?;
    let store_id = id(&store, "store")?;
    let to = target(&form, StoreStatus::iter())?;
    let scope = store_scope(&studio, store_id).await?;
    domain::stores::transition(studio.db(), &scope, to).await?;
    Ok(Redirect::to(&format!("/stores/{store_id}")))
}

/// `POST /products/{id}/status` (`to`): a move of the product's status machine.
pub(crate) async fn product_status(
    State(studio): State<Studio>,
    Path(product): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Redirect, AppError> {
    check_csrf(&studio, &form.csrf)?;
    let product_id = id(&product, "product")?;
    let to = target(&form, ProductStatus::iter())?;
    let scope = product_scope(&studio, product_id).await?;
    domain::products::transition(studio.db(), &scope, product_id, to).await?;
    Ok(Redirect::to(&format!("/products/{product_id}")))
}

/// `POST /products/{id}/stock` (`delta`): stock of a product without variants.
pub(crate) async fn product_stock(
    State(studio): State<Studio>,
    Path(product): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Redirect, AppError> {
    check_csrf(&studio, &form.csrf)?;
    let product_id = id(&product, "product")?;
    let delta = delta(&form)?;
    let scope = product_scope(&studio, product_id).await?;
    domain::products::update_stock(studio.db(), &scope, product_id, delta).await?;
    Ok(Redirect::to(&format!("/products/{product_id}")))
}

/// `POST /variants/{id}/stock` (`delta`): a variant's stock (and its product's total).
pub(crate) async fn variant_stock(
    State(studio): State<Studio>,
    Path(variant): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Redirect, AppError> {
    check_csrf(&studio, &form.csrf)?;
    let variant_id = id(&variant, "variant")?;
    let delta = delta(&form)?;
    let product_id: Uuid = entity::product_variants::Entity::find_by_id(variant_id)
        .select_only()
        .column(entity::product_variants::Column::ProductId)
        .into_tuple()
        .one(studio.db())
        .await?
        .ok_or(AppError::NotFound("variant"))?;
    let scope = product_scope(&studio, product_id).await?;
    domain::products::variants::update_stock(studio.db(), &scope, variant_id, delta).await?;
    Ok(Redirect::to(&format!("/products/{product_id}")))
}

/// `POST /products/{id}/delete`: soft-delete.
pub(crate) async fn product_delete(
    State(studio): State<Studio>,
    Path(product): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Redirect, AppError> {
    check_csrf(&studio, &form.csrf)?;
    let product_id = id(&product, "product")?;
    let scope = product_scope(&studio, product_id).await?;
    domain::products::soft_delete(studio.db(), &scope, product_id).await?;
    Ok(Redirect::to(&format!("/products/{product_id}")))
}

/// `POST /products/{id}/restore`.
pub(crate) async fn product_restore(
    State(studio): State<Studio>,
    Path(product): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Redirect, AppError> {
    check_csrf(&studio, &form.csrf)?;
    let product_id = id(&product, "product")?;
    let scope = product_scope(&studio, product_id).await?;
    domain::products::restore(studio.db(), &scope, product_id).await?;
    Ok(Redirect::to(&format!("/products/{product_id}")))
}
