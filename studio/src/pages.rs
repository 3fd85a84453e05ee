//! The tenant-first pages: the overview, a user with their stores, a store with its brand,
//! pages, media and catalog, a product with its variants, images, prices and stock.

use axum::extract::{Path, State};
use axum::response::Html;
use domain::products::ProductStatus;
use domain::stores::StoreStatus;
use maud::html;
use sea_orm::{ColumnTrait, EntityTrait, Iterable, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;
use serde_json::Value as Json;
use uuid::Uuid;

use crate::html::{self as ui, action, bytes, is_hex_color};
use crate::tables::{self, Size, cell_text, find_row, related, relations, row_fields, table};
use crate::{AppError, Studio};

/// Users listed on the overview.
const OVERVIEW_USERS: u64 = 50;
/// Rows of each related list on a user, store or product page.
const RELATED_ROWS: u64 = 50;

/// The database spelling of an enum value (`OutOfStock` → `OUT_OF_STOCK`).
pub(crate) fn enum_name<T: Serialize>(value: &T) -> String {
    let name = serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

fn parse_id(id: &str, what: &'static str) -> Result<Uuid, AppError> {
    Uuid::parse_str(id).map_err(|_| AppError::NotFound(what))
}

/// `GET /`: every table with its size, the users (the way into a tenant), the job queue.
pub(crate) async fn overview(State(studio): State<Studio>) -> Result<Html<String>, AppError> {
    let db = studio.db();
    let sizes = tables::table_sizes(db).await?;
    let users = entity::users::Entity::find()
        .select_only()
        .column(entity::users::Column::Id)
        .column(entity::users::Column::Email)
        .column(entity::users::Column::Name)
        .order_by_asc(entity::users::Column::Id)
        .limit(OVERVIEW_USERS)
        .into_tuple::<(Uuid, String, Option<String>)>()
        .all(db)
        .await?;
    let backend = format!("{:?}", db.get_database_backend());
    Ok(ui::page(
        &studio,
        "Overview",
        html! {
            p { "Database: " (backend) ". " a href="/jobs" { "Job queue »" } }
            h2 { "Tables" }
            table #tables {
                thead { tr { th { "table" } th { "rows" } } }
                tbody {
                    @for (name, size) in &sizes {
                        tr {
                            td { a href=(format!("/t/{name}")) { (name) } }
                            td.num {
                                @match size {
                                    Size::Exact(n) => { (n) }
                                    Size::Estimate(n) => { "≈ " (n) " (planner estimate)" }
                                    Size::MoreThan(n) => { "more than " (n) }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "Users" }
            p { "Start from a user: their stores, then a store's catalog." }
            table #users {
                thead { tr { th { "email" } th { "name" } } }
                tbody {
                    @for (id, email, name) in &users {
                        tr {
                            td { a href=(format!("/users/{id}")) { (email) } }
                            td { (ui::opt(name.as_deref())) }
                        }
                    }
                }
            }
            @if users.len() as u64 == OVERVIEW_USERS {
                p { a href="/t/users" { "all users »" } }
            }
        },
    ))
}

/// `GET /users/{id}`: the user (no secret), their stores, OAuth links and supplier accounts.
pub(crate) async fn user(
    State(studio): State<Studio>,
    Path(id): Path<String>,
) -> Result<Html<String>, AppError> {
    let db = studio.db();
    let meta = table("users").ok_or(AppError::NotFound("table"))?;
    let (columns, row) = find_row(db, meta, &id).await?;
    let user_id = parse_id(&id, "user")?;
    let stores = entity::stores::Entity::find()
        .filter(entity::stores::Column::UserId.eq(user_id))
        .order_by_desc(entity::stores::Column::Id)
        .limit(RELATED_ROWS)
        .all(db)
        .await?;
    let accounts = related(db, "accounts", "user_id", &id, RELATED_ROWS, false).await?;
    let suppliers = related(db, "supplier_accounts", "user_id", &id, RELATED_ROWS, false).await?;
    let sessions = related(db, "sessions", "user_id", &id, RELATED_ROWS, true).await?;
    let title = row.get("email").map(cell_text).unwrap_or_default();
    Ok(ui::page(
        &studio,
        &format!("User {title}"),
        html! {
            (row_fields(meta, &columns, &row))
            h2 { "Stores" }
            table #stores {
                thead { tr { th { "name" } th { "slug" } th { "status" } th { "deleted" } } }
                tbody {
                    @for s in &stores {
                        tr.deleted[s.deleted_at.is_some()] {
                            td { a href=(format!("/stores/{}", s.id)) { (s.name) } }
                            td { (s.slug) }
                            td { (enum_name(&s.status)) }
                            td { (ui::opt(s.deleted_at)) }
                        }
                    }
                }
            }
            @if stores.is_empty() { p { "No stores." } }
            h2 { "OAuth accounts" } (accounts)
            h2 { "Supplier accounts" } (suppliers)
            h2 { "Sessions" } (sessions)
        },
    ))
}

/// `GET /stores/{id}`: the store, its brand as swatches and fonts, catalog, pages, media with
/// their total size, and its jobs.
pub(crate) async fn store(
    State(studio): State<Studio>,
    Path(id): Path<String>,
) -> Result<Html<String>, AppError> {
    let db = studio.db();
    let meta = table("stores").ok_or(AppError::NotFound("table"))?;
    let store_id = parse_id(&id, "store")?;
    let store = entity::stores::Entity::find_by_id(store_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("store"))?;
    let (columns, row) = find_row(db, meta, &id).await?;
    // The total as a 64-bit integer on every backend (SUM of a bigint is numeric on
    // Postgres and DECIMAL on MariaDB).
    let integer = if db.get_database_backend() == sea_orm::DbBackend::MySql {
        "SIGNED"
    } else {
        "BIGINT"
    };
    let (media_count, media_bytes) = entity::media_assets::Entity::find()
        .select_only()
        .column_as(entity::media_assets::Column::Id.count(), "n")
        .column_as(
            sea_orm::sea_query::Expr::cust(format!("CAST(COALESCE(SUM(size), 0) AS {integer})")),
            "total",
        )
        .filter(entity::media_assets::Column::StoreId.eq(store_id))
        .into_tuple::<(i64, i64)>()
        .one(db)
        .await?
        .unwrap_or((0, 0));
    let products = related(db, "products", "store_id", &id, RELATED_ROWS, true).await?;
    let pages = related(db, "pages", "store_id", &id, RELATED_ROWS, false).await?;
    let media = related(db, "media_assets", "store_id", &id, RELATED_ROWS, false).await?;
    let jobs = related(db, "agent_jobs", "store_id", &id, RELATED_ROWS, true).await?;
    let brand = store.brand_identity.clone().unwrap_or(Json::Null);
    let colors: Vec<(String, String)> = brand
        .get("colors")
        .and_then(Json::as_object)
        .map(|c| c.iter().map(|(k, v)| (k.clone(), cell_text(v))).collect())
        .unwrap_or_default();
    let fonts: Vec<(String, String)> = brand
        .get("fonts")
        .and_then(Json::as_object)
        .map(|c| c.iter().map(|(k, v)| (k.clone(), cell_text(v))).collect())
        .unwrap_or_default();
    let moves: Vec<StoreStatus> = StoreStatus::iter()
        .filter(|to| domain::stores::can_transition(store.status, *to))
        .collect();
    Ok(ui::page(
        &studio,
        &format!("Store {}", store.name),
        html! {
            p {
                "Owner: " a href=(format!("/users/{}", store.user_id)) { (store.user_id) }
                " · status " strong #status { (enum_name(&store.status)) }
                @if store.deleted_at.is_some() { " " span.badge { "deleted" } }
            }
            @for to in &moves {
                (action(&studio, &format!("/stores/{id}/status"), &format!("→ {}", enum_name(to)),
                    html! { input type="hidden" name="to" value=(enum_name(to)); }))
            }
            h2 { "Brand identity" }
            @if brand.is_null() { p { "None yet." } } @else {
                p { "Name: " (brand.get("name").map(cell_text).unwrap_or_default())
                    " · tone: " (brand.get("tone").map(cell_text).unwrap_or_default()) }
                div #swatches {
                    @for (role, color) in &colors {
                        span {
                            @if is_hex_color(color) {
                                span.swatch style=(format!("background:{color}")) title=(color) {}
                            }
                            (role) " " code { (color) } " "
                        }
                    }
                }
                ul #fonts { @for (role, font) in &fonts { li { (role) ": " (font) } } }
            }
            h2 { "Products" } (products)
            h2 { "Pages" } (pages)
            h2 { "Media" }
            p #media-total { (media_count) " assets, " (bytes(media_bytes)) " in total" }
            (media)
            h2 { "Agent jobs" } (jobs)
            h2 { "Fields" }
            (row_fields(meta, &columns, &row))
            (relations(meta, &row))
        },
    ))
}

/// `GET /products/{id}`: prices, stock and status, variants and images, and the actions.
pub(crate) async fn product(
    State(studio): State<Studio>,
    Path(id): Path<String>,
) -> Result<Html<String>, AppError> {
    let db = studio.db();
    let meta = table("products").ok_or(AppError::NotFound("table"))?;
    let product_id = parse_id(&id, "product")?;
    let product = entity::products::Entity::find_by_id(product_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("product"))?;
    let (columns, row) = find_row(db, meta, &id).await?;
    let variants = entity::product_variants::Entity::find()
        .filter(entity::product_variants::Column::ProductId.eq(product_id))
        .order_by_asc(entity::product_variants::Column::Id)
        .limit(RELATED_ROWS)
        .all(db)
        .await?;
    let images = related(db, "product_images", "product_id", &id, RELATED_ROWS, false).await?;
    let moves: Vec<ProductStatus> = ProductStatus::iter()
        .filter(|to| domain::products::can_transition(product.status, *to))
        .collect();
    let money = |d: rust_decimal::Decimal| {
        let mut d = d;
        d.rescale(2);
        format!("{d} {}", product.currency)
    };
    let deleted = product.deleted_at.is_some();
    Ok(ui::page(
        &studio,
        &format!("Product {}", product.title),
        html! {
            p {
                "Store: " a href=(format!("/stores/{}", product.store_id)) { (product.store_id) }
                " · status " strong #status { (enum_name(&product.status)) }
                @if deleted { " " span.badge #deleted { "soft-deleted" } }
            }
            table #prices {
                tr { th { "selling price" } td.num { (money(product.selling_price)) } }
                tr { th { "cost price" } td.num { (money(product.cost_price)) } }
                tr { th { "compare-at price" } td.num { (ui::opt(product.compare_at_price.map(money))) } }
                tr { th { "stock" } td.num #stock { (product.stock_quantity) } }
                tr { th { "inventory tracked" } td { (product.track_inventory) } }
            }
            @if !deleted {
                @for to in &moves {
                    (action(&studio, &format!("/products/{id}/status"), &format!("→ {}", enum_name(to)),
                        html! { input type="hidden" name="to" value=(enum_name(to)); }))
                }
                @if variants.is_empty() {
                    (action(&studio, &format!("/products/{id}/stock"), "adjust stock",
                        html! { input type="number" name="delta" value="0" required; }))
                }
                (action(&studio, &format!("/products/{id}/delete"), "soft-delete", html! {}))
            } @else {
                (action(&studio, &format!("/products/{id}/restore"), "restore", html! {}))
            }
            h2 { "Variants" }
            table #variants {
                thead { tr { th { "title" } th { "SKU" } th { "price" } th { "cost" } th { "stock" } th { "options" } } }
                tbody {
                    @for v in &variants {
                        tr {
                            td { a href=(format!("/t/product_variants/{}", v.id)) { (v.title) } }
                            td { (ui::opt(v.sku.as_deref())) }
                            td.num { (money(v.price)) }
                            td.num { (money(v.cost_price)) }
                            td.num {
                                (v.stock)
                                @if !deleted {
                                    " " (action(&studio, &format!("/variants/{}/stock", v.id), "adjust",
                                        html! { input type="number" name="delta" value="0" size="4" required; }))
                                }
                            }
                            td { code { (v.options.to_string()) } }
                        }
                    }
                }
            }
            @if variants.is_empty() { p { "No variants." } }
            h2 { "Images" } (images)
            h2 { "Fields" }
            (row_fields(meta, &columns, &row))
            (relations(meta, &row))
        },
    ))
}
