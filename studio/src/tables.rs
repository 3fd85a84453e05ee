//! The browser of every table: columns from the entities, keyset (cursor) paging, a filter on
//! any column, sorting on indexed columns, streamed CSV and JSON exports, and each row's page
//! with its relations both ways. Secret columns pass through [`secret_label`] on the way out,
//! the one place every page and export gets its values from.

use std::collections::HashMap;
use std::str::FromStr;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use base64::Engine as _;
use futures_util::StreamExt;
use futures_util::stream::{self, BoxStream};
use maud::{Markup, html};
use rust_decimal::Decimal;
use sea_orm::sea_query::{ColumnType, Expr, ExprTrait, Func};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    IdenStatic, Iterable, Order, PrimaryKeyToColumn, QueryFilter, QueryOrder, QuerySelect, Value,
};
use serde::Serialize;
use serde_json::{Map, Value as Json};

use crate::{AppError, Studio, html as ui};

/// Rows on a page unless `limit` says otherwise.
pub const DEFAULT_PAGE: u64 = 50;
/// The largest page `limit` accepts.
pub const MAX_PAGE: u64 = 500;
/// Rows per query while an export streams.
pub const EXPORT_CHUNK: u64 = 500;

/// What the studio knows about a table beyond its entity.
#[derive(Debug)]
pub struct Table {
    /// The table's name, as in the schema.
    pub name: &'static str,
    /// Columns whose values are never shown (see [`secret_label`]).
    pub secrets: &'static [&'static str],
    /// Columns with an index (and no NULLs), offered for sorting.
    pub sortable: &'static [&'static str],
    /// The column the cursor continues after (the primary key, or its first column).
    pub key: &'static str,
    /// Whether rows have a page of their own (not for `verification_tokens`, whose key
    /// contains a token digest).
    pub row_pages: bool,
    /// Foreign keys out: (column, table it points at).
    pub parents: &'static [(&'static str, &'static str)],
    /// Foreign keys in: (table, its column that points here).
    pub children: &'static [(&'static str, &'static str)],
}

/// Every table of the schema, in the overview's order.
pub const TABLES: &[Table] = &[
    Table {
        name: "users",
        secrets: &["password_hash"],
        sortable: &["id", "email"],
        key: "id",
        row_pages: true,
        parents: &[],
        children: &[
            ("stores", "user_id"),
            ("accounts", "user_id"),
            ("sessions", "user_id"),
            ("supplier_accounts", "user_id"),
        ],
    },
    Table {
        name: "accounts",
        secrets: &["refresh_token", "access_token", "id_token"],
        sortable: &["id", "user_id"],
        key: "id",
        row_pages: true,
        parents: &[("user_id", "users")],
        children: &[],
    },
    Table {
        name: "sessions",
        secrets: &["session_token"],
        sortable: &["id", "user_id"],
        key: "id",
        row_pages: true,
        parents: &[("user_id", "users")],
        children: &[],
    },
    Table {
        name: "verification_tokens",
        secrets: &["token"],
        sortable: &["identifier"],
        key: "identifier",
        row_pages: false,
        parents: &[],
        children: &[],
    },
    Table {
        name: "supplier_accounts",
        secrets: &["api_key", "api_secret"],
        sortable: &["id", "user_id"],
        key: "id",
        row_pages: true,
        parents: &[("user_id", "users")],
        children: &[],
    },
    Table {
        name: "stores",
        secrets: &[],
        sortable: &["id", "user_id", "status", "slug", "subdomain"],
        key: "id",
        row_pages: true,
        parents: &[("user_id", "users")],
        children: &[
            ("products", "store_id"),
            ("pages", "store_id"),
            ("media_assets", "store_id"),
            ("agent_jobs", "store_id"),
        ],
    },
    Table {
        name: "products",
        secrets: &[],
        sortable: &["id", "store_id", "status"],
        key: "id",
        row_pages: true,
        parents: &[("store_id", "stores")],
        children: &[
            ("product_variants", "product_id"),
            ("product_images", "product_id"),
        ],
    },
    Table {
        name: "product_variants",
        secrets: &[],
        sortable: &["id", "product_id"],
        key: "id",
        row_pages: true,
        parents: &[("product_id", "products")],
        children: &[],
    },
    Table {
        name: "product_images",
        secrets: &[],
        sortable: &["id", "product_id"],
        key: "id",
        row_pages: true,
        parents: &[("product_id", "products")],
        children: &[],
    },
    Table {
        name: "pages",
        secrets: &[],
        sortable: &["id", "store_id"],
        key: "id",
        row_pages: true,
        parents: &[("store_id", "stores")],
        children: &[],
    },
    Table {
        name: "media_assets",
        secrets: &[],
        sortable: &["id", "store_id", "type"],
        key: "id",
        row_pages: true,
        parents: &[("store_id", "stores")],
        children: &[],
    },
    Table {
        name: "agent_jobs",
        secrets: &[],
        sortable: &["id", "status", "type"],
        key: "id",
        row_pages: true,
        parents: &[("store_id", "stores")],
        children: &[],
    },
];

/// The table called `name`.
pub fn table(name: &str) -> Option<&'static Table> {
    TABLES.iter().find(|t| t.name == name)
}

/// What a secret column shows instead of its value: `None` for a column that is no secret.
///
/// A stored value is only ever described ("argon2id hash", "SHA-256 digest", "encrypted with
/// key v1"), never shown, whatever its form.
pub fn secret_label(table: &str, column: &str, value: &Json) -> Option<Json> {
    let meta = self::table(table)?;
    if !meta.secrets.contains(&column) {
        return None;
    }
    let Some(stored) = value.as_str() else {
        return Some(Json::Null);
    };
    let label = match (table, column) {
        ("users", "password_hash") if stored.starts_with("$argon2id$") => "argon2id hash".into(),
        ("users", "password_hash") => "password hash".into(),
        ("sessions", _) | ("verification_tokens", _) => "SHA-256 digest".into(),
        _ => match stored.split(':').collect::<Vec<_>>().as_slice() {
            ["xc1", version, _] if version.chars().all(|c| c.is_ascii_digit()) => {
                format!("encrypted with key v{version}")
            }
            _ => "encrypted value".into(),
        },
    };
    Some(Json::String(label))
}

/// Runs `$body` with `$E` the entity of the table called `$name`.
macro_rules! with_entity {
    ($name:expr, $E:ident => $body:expr) => {
        match $name {
            "users" => {
                type $E = entity::users::Entity;
                $body
            }
            "accounts" => {
                type $E = entity::accounts::Entity;
                $body
            }
            "sessions" => {
                type $E = entity::sessions::Entity;
                $body
            }
            "verification_tokens" => {
                type $E = entity::verification_tokens::Entity;
                $body
            }
            "supplier_accounts" => {
                type $E = entity::supplier_accounts::Entity;
                $body
            }
            "stores" => {
                type $E = entity::stores::Entity;
                $body
            }
            "products" => {
                type $E = entity::products::Entity;
                $body
            }
            "product_variants" => {
                type $E = entity::product_variants::Entity;
                $body
            }
            "product_images" => {
                type $E = entity::product_images::Entity;
                $body
            }
            "pages" => {
                type $E = entity::pages::Entity;
                $body
            }
            "media_assets" => {
                type $E = entity::media_assets::Entity;
                $body
            }
            "agent_jobs" => {
                type $E = entity::agent_jobs::Entity;
                $body
            }
            _ => return Err(AppError::NotFound("table")),
        }
    };
}

/// A view of a table: filters, sort and where to continue, from the query string
/// (`f.<column>=<value>`, `sort`, `dir=desc`, `after`, `limit`).
#[derive(Debug, Clone)]
pub struct View {
    table: &'static Table,
    filters: Vec<(String, String)>,
    sort: &'static str,
    desc: bool,
    after: Option<Vec<String>>,
    limit: u64,
}

impl View {
    fn parse(table: &'static Table, params: &HashMap<String, String>) -> Result<Self, AppError> {
        let mut filters: Vec<(String, String)> = params
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("f.")?.to_owned(), v.clone())))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        filters.sort();
        for (column, _) in &filters {
            if table.secrets.contains(&column.as_str()) {
                return Err(AppError::BadRequest(format!(
                    "filter: the column {column} holds secrets and cannot be filtered on"
                )));
            }
        }
        let sort = match params.get("sort").map(String::as_str) {
            None | Some("") => table.key,
            Some(s) => *table.sortable.iter().find(|c| **c == s).ok_or_else(|| {
                AppError::BadRequest(format!(
                    "sort: {s} is not an indexed column of {} (one of: {})",
                    table.name,
                    table.sortable.join(", ")
                ))
            })?,
        };
        let desc = match params.get("dir").map(String::as_str) {
            None | Some("" | "asc") => false,
            Some("desc") => true,
            Some(_) => return Err(AppError::BadRequest("dir: asc or desc".into())),
        };
        let limit = match params.get("limit").map(String::as_str) {
            None | Some("") => DEFAULT_PAGE,
            Some(l) => l
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=MAX_PAGE).contains(n))
                .ok_or_else(|| {
                    AppError::BadRequest(format!("limit: a whole number from 1 to {MAX_PAGE}"))
                })?,
        };
        let after = match params.get("after").map(String::as_str) {
            None | Some("") => None,
            Some(c) => Some(decode_cursor(c)?),
        };
        Ok(View {
            table,
            filters,
            sort,
            desc,
            after,
            limit,
        })
    }

    /// The query string of this view, with `after` replaced.
    fn query(&self, after: Option<&str>) -> String {
        let mut parts: Vec<String> = self
            .filters
            .iter()
            .map(|(k, v)| format!("f.{}={}", enc(k), enc(v)))
            .collect();
        if self.sort != self.table.key {
            parts.push(format!("sort={}", self.sort));
        }
        if self.desc {
            parts.push("dir=desc".into());
        }
        if self.limit != DEFAULT_PAGE {
            parts.push(format!("limit={}", self.limit));
        }
        if let Some(after) = after {
            parts.push(format!("after={after}"));
        }
        parts.join("&")
    }
}

/// `path?query`, or `path` alone when there is no query.
fn with_query(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A cursor is the sort value and the key of the last row shown, base64url JSON.
fn encode_cursor(values: &[String]) -> String {
    let json = serde_json::to_vec(values).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

fn decode_cursor(cursor: &str) -> Result<Vec<String>, AppError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Vec<String>>(&bytes).ok())
        .filter(|v| !v.is_empty() && v.len() <= 2)
        .ok_or_else(|| AppError::BadRequest("after: not a cursor of this studio".into()))
}

fn column<E: EntityTrait>(name: &str) -> Result<E::Column, AppError> {
    E::Column::from_str(name).map_err(|_| AppError::BadRequest(format!("no column {name}")))
}

/// Parses `text` as a value of a column of type `ty`, for a filter or a cursor.
fn parse_value(column: &str, ty: &ColumnType, text: &str) -> Result<Value, AppError> {
    let bad = |rule: &str| AppError::BadRequest(format!("filter {column}: {rule}"));
    Ok(match ty {
        ColumnType::Uuid => {
            Value::from(uuid::Uuid::parse_str(text.trim()).map_err(|_| bad("expects a UUID"))?)
        }
        ColumnType::Integer => Value::from(
            text.trim()
                .parse::<i32>()
                .map_err(|_| bad("expects a whole number"))?,
        ),
        ColumnType::BigInteger => Value::from(
            text.trim()
                .parse::<i64>()
                .map_err(|_| bad("expects a whole number"))?,
        ),
        ColumnType::SmallInteger => Value::from(
            text.trim()
                .parse::<i16>()
                .map_err(|_| bad("expects a whole number"))?,
        ),
        ColumnType::Boolean => Value::from(match text.trim() {
            "true" | "1" => true,
            "false" | "0" => false,
            _ => return Err(bad("expects true or false")),
        }),
        ColumnType::Decimal(_) | ColumnType::Money(_) => Value::from(
            Decimal::from_str(text.trim()).map_err(|_| bad("expects a decimal number"))?,
        ),
        ColumnType::TimestampWithTimeZone | ColumnType::Timestamp | ColumnType::DateTime => {
            Value::from(
                chrono::DateTime::parse_from_rfc3339(text.trim())
                    .map_err(|_| bad("expects an RFC 3339 timestamp"))?,
            )
        }
        ColumnType::Json | ColumnType::JsonBinary => {
            return Err(bad("JSON columns cannot be filtered on"));
        }
        ColumnType::Enum { variants, .. } => {
            let wanted = text.trim();
            if !variants.iter().any(|v| v.to_string() == wanted) {
                let names: Vec<String> = variants.iter().map(ToString::to_string).collect();
                return Err(bad(&format!("one of {}", names.join(", "))));
            }
            Value::from(wanted.to_owned())
        }
        _ => Value::from(text.to_owned()),
    })
}

/// A model as a JSON object in column order, with database spellings of enums, money at two
/// decimals, and secrets replaced by their label.
fn to_row<E: EntityTrait>(table: &str, model: &E::Model) -> Map<String, Json>
where
    E::Model: Serialize,
{
    let mut raw = match serde_json::to_value(model) {
        Ok(Json::Object(map)) => map,
        _ => Map::new(),
    };
    let mut row = Map::new();
    for col in E::Column::iter() {
        let name = col.as_str();
        let value = raw.remove(name).unwrap_or(Json::Null);
        let value = if let Some(label) = secret_label(table, name, &value) {
            label
        } else {
            match (col.def().get_column_type(), value) {
                (ColumnType::Enum { variants, .. }, Json::String(s)) => {
                    let folded = s.to_ascii_lowercase();
                    let db = variants
                        .iter()
                        .map(ToString::to_string)
                        .find(|v| v.replace('_', "").to_ascii_lowercase() == folded)
                        .unwrap_or(s);
                    Json::String(db)
                }
                (ColumnType::Decimal(_) | ColumnType::Money(_), Json::String(s)) => {
                    match Decimal::from_str(&s) {
                        Ok(mut d) => {
                            d.rescale(2);
                            Json::String(d.to_string())
                        }
                        Err(_) => Json::String(s),
                    }
                }
                (_, v) => v,
            }
        };
        row.insert(name.to_owned(), value);
    }
    row
}

/// The text form of a cell, as filters and cursors take it back.
pub(crate) fn cell_text(value: &Json) -> String {
    match value {
        Json::Null => String::new(),
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The column side of a comparison or an ORDER BY. MariaDB orders an ENUM by its
/// declaration but compares it with a text value as text: there the sort and the cursor both
/// use the text, so that they agree.
fn sort_side<C: ColumnTrait>(col: C, backend: DbBackend) -> Expr {
    match (col.def().get_column_type(), backend) {
        (ColumnType::Enum { .. }, DbBackend::MySql) => {
            Expr::col(col.as_column_ref()).cast_as("CHAR")
        }
        // Qualified: unqualified, Postgres would order by the output column of the same
        // name, which SeaORM selects as text.
        _ => Expr::col(col.as_column_ref()),
    }
}

/// The value side: on Postgres an enum value is cast to the column's enum type, so that the
/// comparison follows the enum's order (the ORDER BY's) and can use the column's index.
fn value_side<C: ColumnTrait>(col: C, backend: DbBackend, value: Value) -> Expr {
    match (col.def().get_column_type(), backend) {
        (ColumnType::Enum { name, .. }, DbBackend::Postgres) => {
            Expr::val(value).cast_as(name.clone())
        }
        _ => Expr::val(value),
    }
}

/// Below this many rows expected for a view's filters, Postgres sorts the filter's rows
/// rather than walking the key's index (see `fetch`).
const NARROW_BELOW: f64 = 50_000.0;

/// The planner's estimate of the rows `select` finds (Postgres `EXPLAIN`, values bound).
async fn estimated_rows<E: EntityTrait>(
    db: &DatabaseConnection,
    select: &sea_orm::Select<E>,
) -> Result<f64, AppError> {
    let statement = sea_orm::QueryTrait::build(select, DbBackend::Postgres);
    let explain = sea_orm::Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!("EXPLAIN (FORMAT JSON) {}", statement.sql),
        statement.values.map(|v| v.0).unwrap_or_default(),
    );
    let plan: Option<Json> = db
        .query_one_raw(explain)
        .await?
        .and_then(|r| r.try_get_by_index::<Json>(0).ok());
    Ok(plan
        .as_ref()
        .and_then(|p| p.get(0)?.get("Plan")?.get("Plan Rows")?.as_f64())
        .unwrap_or(f64::MAX))
}

/// One page of `view`: the rows (at most `limit`) and the cursor of the next page.
async fn fetch<E>(
    db: &DatabaseConnection,
    view: &View,
) -> Result<(Vec<Map<String, Json>>, Option<String>), AppError>
where
    E: EntityTrait,
    E::Model: Serialize,
{
    let table = view.table;
    let backend = db.get_database_backend();
    let mut select = E::find();
    for (name, text) in &view.filters {
        let col = column::<E>(name)?;
        let value = parse_value(name, col.def().get_column_type(), text)?;
        select = select.filter(Expr::col(col.as_column_ref()).eq(value_side(col, backend, value)));
    }
    let sort = column::<E>(view.sort)?;
    let key = column::<E>(table.key)?;
    let forward = !view.desc;
    let cmp = |col: E::Column, value: Value| {
        let (left, right) = (sort_side(col, backend), value_side(col, backend, value));
        if forward {
            left.gt(right)
        } else {
            left.lt(right)
        }
    };
    let order = if view.desc { Order::Desc } else { Order::Asc };
    // With an equality filter on an indexed column (a store's products, a product's variants),
    // Postgres would rather walk the whole primary key backwards for `ORDER BY id LIMIT n`,
    // hoping to meet the filter's rows early (580 ms for a store's first page among a million
    // products). When the planner expects few rows for the filter, ordering by
    // `COALESCE(id, id)` (the same order, which no index provides) makes it take the filter's
    // index and sort those rows (a store's 10,000 products: 25 ms). When it expects many (a
    // store that owns a million finished jobs), the key's walk is the right plan and stays.
    let narrowed = backend == DbBackend::Postgres
        && view.filters.iter().any(|(name, _)| {
            name != table.key
                && table.sortable.contains(&name.as_str())
                && column::<E>(name)
                    .is_ok_and(|c| !matches!(c.def().get_column_type(), ColumnType::Enum { .. }))
        })
        && estimated_rows(db, &select).await? < NARROW_BELOW;
    let key_order = || -> Expr {
        if narrowed {
            Func::coalesce([
                Expr::col(key.as_column_ref()),
                Expr::col(key.as_column_ref()),
            ])
            .into()
        } else {
            Expr::col(key.as_column_ref())
        }
    };
    let key_after = match &view.after {
        Some(after) => Some(parse_value(
            table.key,
            key.def().get_column_type(),
            &after[after.len() - 1],
        )?),
        None => None,
    };
    if let (true, ColumnType::Enum { variants, .. }) =
        (view.sort != table.key, sort.def().get_column_type())
    {
        // An enum has few values: the page is read value after value, each an equality on
        // the sort column ordered by the key. Postgres then walks the key's index (or the
        // column's, for a rare value) instead of sorting a million rows to find the first
        // page; at most one query per value, whatever the page size.
        let mut values: Vec<String> = variants.iter().map(ToString::to_string).collect();
        if backend != DbBackend::Postgres {
            // Text order elsewhere (SQLite stores text; MariaDB sorts by the text here too).
            values.sort();
        }
        if view.desc {
            values.reverse();
        }
        let start = match view.after.as_deref() {
            Some([value, _]) => values
                .iter()
                .position(|v| v == value)
                .ok_or_else(|| AppError::BadRequest("after: not a cursor of this view".into()))?,
            Some(_) => {
                return Err(AppError::BadRequest(
                    "after: not a cursor of this view".into(),
                ));
            }
            None => 0,
        };
        let mut models = Vec::new();
        for (i, value) in values.iter().enumerate().skip(start) {
            let wanted = (view.limit + 1).saturating_sub(models.len() as u64);
            if wanted == 0 {
                break;
            }
            let mut query = select
                .clone()
                .filter(Expr::col(sort.as_column_ref()).eq(value_side(
                    sort,
                    backend,
                    Value::from(value.clone()),
                )));
            if i == start
                && let Some(k) = &key_after
            {
                query = query.filter(cmp(key, k.clone()));
            }
            models.extend(
                query
                    .order_by(key_order(), order.clone())
                    .limit(wanted)
                    .all(db)
                    .await?,
            );
        }
        return finish::<E>(view, models);
    }
    if let (Some(after), Some(key_value)) = (&view.after, key_after) {
        if view.sort == table.key || after.len() == 1 {
            select = select.filter(cmp(key, key_value));
        } else {
            let sort_value = parse_value(view.sort, sort.def().get_column_type(), &after[0])?;
            let same = sort_side(sort, backend).eq(value_side(sort, backend, sort_value.clone()));
            select = select.filter(
                Condition::any()
                    .add(cmp(sort, sort_value))
                    .add(Condition::all().add(same).add(cmp(key, key_value))),
            );
        }
    }
    if view.sort != table.key {
        select = select.order_by(sort_side(sort, backend), order.clone());
    }
    select = select.order_by(key_order(), order.clone());
    // The remaining primary-key columns make the order total (verification_tokens).
    for pk in E::PrimaryKey::iter().map(PrimaryKeyToColumn::into_column) {
        if pk.as_str() != table.key {
            select = select.order_by(pk, order.clone());
        }
    }
    let models = select.limit(view.limit + 1).all(db).await?;
    finish::<E>(view, models)
}

/// The rows of a page (at most `limit` of the `limit + 1` read) and the next page's cursor.
#[expect(clippy::type_complexity, reason = "rows and cursor, said once")]
fn finish<E>(
    view: &View,
    models: Vec<E::Model>,
) -> Result<(Vec<Map<String, Json>>, Option<String>), AppError>
where
    E: EntityTrait,
    E::Model: Serialize,
{
    let table = view.table;
    let mut rows: Vec<Map<String, Json>> =
        models.iter().map(|m| to_row::<E>(table.name, m)).collect();
    let more = rows.len() as u64 > view.limit;
    if !more {
        return Ok((rows, None));
    }
    rows.truncate(usize::try_from(view.limit).unwrap_or(usize::MAX));
    if table.key != table.name_key_unique() {
        // The key is not unique (verification_tokens: identifier): the page ends at the last
        // whole group, so that the cursor never needs the secret part of the key.
        let next_key = to_row::<E>(table.name, &models[rows.len()])
            .get(table.key)
            .map(cell_text);
        let last_key = rows.last().and_then(|r| r.get(table.key)).map(cell_text);
        if next_key == last_key
            && rows
                .iter()
                .any(|r| r.get(table.key).map(cell_text) != last_key)
        {
            rows.retain(|r| r.get(table.key).map(cell_text) != last_key);
        }
    }
    let last = rows.last().map(|r| {
        let key_text = r.get(table.key).map(cell_text).unwrap_or_default();
        if view.sort == table.key {
            vec![key_text]
        } else {
            vec![
                r.get(view.sort).map(cell_text).unwrap_or_default(),
                key_text,
            ]
        }
    });
    Ok((rows, last.map(|l| encode_cursor(&l))))
}

impl Table {
    /// The column that identifies one row alone (`key` when it is the whole primary key).
    fn name_key_unique(&self) -> &'static str {
        if self.name == "verification_tokens" {
            "identifier+token"
        } else {
            self.key
        }
    }
}

fn columns<E: EntityTrait>() -> Vec<&'static str> {
    E::Column::iter().map(|c| c.as_str()).collect()
}

/// `GET /t/{table}`: a page of the table.
pub(crate) async fn browse(
    State(studio): State<Studio>,
    Path(name): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Html<String>, AppError> {
    let table = table(&name).ok_or(AppError::NotFound("table"))?;
    let view = View::parse(table, &params)?;
    let (columns, (rows, next)) = with_entity!(name.as_str(), E => {
        (columns::<E>(), fetch::<E>(studio.db(), &view).await?)
    });
    Ok(ui::page(
        &studio,
        table.name,
        render_table(table, &view, &columns, &rows, next.as_deref()),
    ))
}

fn render_table(
    table: &Table,
    view: &View,
    columns: &[&str],
    rows: &[Map<String, Json>],
    next: Option<&str>,
) -> Markup {
    let base = format!("/t/{}", table.name);
    let export = view.query(None);
    html! {
        form method="get" action=(base) {
            @for col in columns {
                @if !table.secrets.contains(col) {
                    label { (col) " " input type="text" size="10" name=(format!("f.{col}"))
                        value=(view.filters.iter().find(|(k, _)| k == col).map(|(_, v)| v.as_str()).unwrap_or("")); }
                    " "
                }
            }
            label { "sort " select name="sort" {
                @for s in table.sortable {
                    option value=(s) selected[*s == view.sort] { (s) }
                }
            } }
            " "
            label { "order " select name="dir" {
                option value="asc" selected[!view.desc] { "ascending" }
                option value="desc" selected[view.desc] { "descending" }
            } }
            " "
            label { "rows " input type="number" name="limit" min="1" max=(MAX_PAGE) value=(view.limit); }
            " " button type="submit" { "Apply" }
        }
        p {
            "Export this view: "
            a href=(with_query(&format!("{base}/export.csv"), &export)) { "CSV" } " · "
            a href=(with_query(&format!("{base}/export.json"), &export)) { "JSON" }
        }
        table #rows {
            thead { tr { @for col in columns { th { (col) } } } }
            tbody {
                @for row in rows {
                    tr {
                        @for col in columns {
                            (render_cell(table, col, row.get(*col).unwrap_or(&Json::Null)))
                        }
                    }
                }
            }
        }
        @if rows.is_empty() { p { "No rows." } }
        nav.pager {
            @if view.after.is_some() { a href=(with_query(&base, &view.query(None))) { "« first page" } }
            @if let Some(next) = next { a #next href=(format!("{base}?{}", view.query(Some(next)))) { "next page »" } }
        }
    }
}

/// A cell: links for keys and foreign keys, labels for secrets, JSON shortened.
fn render_cell(table: &Table, column: &str, value: &Json) -> Markup {
    let text = cell_text(value);
    if value.is_null() {
        return html! { td { span.null { "NULL" } } };
    }
    if table.secrets.contains(&column) {
        return html! { td { span.secret { (text) } } };
    }
    if column == "id" && table.row_pages {
        return html! { td { a href=(row_link(table.name, &text)) { (text) } } };
    }
    if let Some((_, parent)) = table.parents.iter().find(|(c, _)| *c == column) {
        return html! { td { a href=(row_link(parent, &text)) { (text) } } };
    }
    let shown: String = if value.is_object() || value.is_array() {
        let mut s: String = text.chars().take(160).collect();
        if text.chars().count() > 160 {
            s.push('…');
        }
        s
    } else {
        text
    };
    if value.is_number() {
        html! { td.num { (shown) } }
    } else {
        html! { td { (shown) } }
    }
}

/// Where a row is best shown: the domain page for users, stores and products, the row page
/// otherwise.
pub(crate) fn row_link(table: &str, id: &str) -> String {
    match table {
        "users" => format!("/users/{id}"),
        "stores" => format!("/stores/{id}"),
        "products" => format!("/products/{id}"),
        other => format!("/t/{other}/{id}"),
    }
}

/// One row by its key, as a JSON object (secrets labelled).
pub(crate) async fn find_row(
    db: &DatabaseConnection,
    table: &'static Table,
    id: &str,
) -> Result<(Vec<&'static str>, Map<String, Json>), AppError> {
    if !table.row_pages {
        return Err(AppError::NotFound("row page"));
    }
    with_entity!(table.name, E => {
        let key = column::<E>(table.key)?;
        let value = parse_value(table.key, key.def().get_column_type(), id)
            .map_err(|_| AppError::NotFound("row"))?;
        let model = E::find().filter(key.eq(value)).one(db).await?.ok_or(AppError::NotFound("row"))?;
        Ok((columns::<E>(), to_row::<E>(table.name, &model)))
    })
}

/// `GET /t/{table}/{id}`: a row with its relations both ways.
pub(crate) async fn row(
    State(studio): State<Studio>,
    Path((name, id)): Path<(String, String)>,
) -> Result<Html<String>, AppError> {
    let table = table(&name).ok_or(AppError::NotFound("table"))?;
    let (columns, row) = find_row(studio.db(), table, &id).await?;
    let extra = if table.name == "agent_jobs" {
        crate::jobs::job_actions(&studio, &row)
    } else {
        html! {}
    };
    Ok(ui::page(
        &studio,
        &format!("{} {id}", table.name),
        html! {
            (row_fields(table, &columns, &row))
            (extra)
            (relations(table, &row))
        },
    ))
}

/// A row as a two-column table of fields.
pub(crate) fn row_fields(table: &Table, columns: &[&str], row: &Map<String, Json>) -> Markup {
    html! {
        table.fields {
            @for col in columns {
                tr { th { (col) } (render_cell(table, col, row.get(*col).unwrap_or(&Json::Null))) }
            }
        }
    }
}

/// Links to the rows this one points at, and to the rows that point at it.
pub(crate) fn relations(table: &Table, row: &Map<String, Json>) -> Markup {
    let id = row.get(table.key).map(cell_text).unwrap_or_default();
    html! {
        h2 { "Relations" }
        ul #relations {
            @for (col, parent) in table.parents {
                @if let Some(v) = row.get(*col).filter(|v| !v.is_null()) {
                    li { (col) " → " a href=(row_link(parent, &cell_text(v))) { (parent) " " (cell_text(v)) } }
                }
            }
            @for (child, col) in table.children {
                li { a href=(format!("/t/{child}?f.{col}={}", enc(&id))) { (child) " whose " (col) " is this " (table.name) } }
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Format {
    Csv,
    Json,
}

fn export_stream<E>(
    db: DatabaseConnection,
    mut view: View,
    format: Format,
) -> BoxStream<'static, Result<Vec<u8>, std::io::Error>>
where
    E: EntityTrait,
    E::Model: Serialize,
{
    view.limit = EXPORT_CHUNK;
    view.after = None;
    let columns = columns::<E>();
    let head = match format {
        Format::Csv => csv_line(columns.iter().map(|c| (*c).to_owned())).into_bytes(),
        Format::Json => b"[".to_vec(),
    };
    let state = (db, view, false, true);
    let body = stream::unfold(state, move |(db, view, done, first)| {
        let columns = columns.clone();
        async move {
            if done {
                return None;
            }
            match fetch::<E>(&db, &view).await {
                Ok((rows, next)) => {
                    let mut out = Vec::new();
                    let mut first = first;
                    for row in &rows {
                        match format {
                            Format::Csv => out.extend_from_slice(
                                csv_line(
                                    columns
                                        .iter()
                                        .map(|c| cell_text(row.get(*c).unwrap_or(&Json::Null))),
                                )
                                .as_bytes(),
                            ),
                            Format::Json => {
                                if !first {
                                    out.push(b',');
                                }
                                first = false;
                                out.extend_from_slice(
                                    &serde_json::to_vec(&Json::Object(row.clone()))
                                        .unwrap_or_default(),
                                );
                                out.push(b'\n');
                            }
                        }
                    }
                    let done = next.is_none();
                    let mut view = view;
                    view.after = next.map(|n| decode_cursor(&n).unwrap_or_default());
                    Some((Ok(out), (db, view, done, first)))
                }
                Err(err) => {
                    tracing::error!(?err, "export stopped");
                    Some((
                        Err(std::io::Error::other("export stopped: database error")),
                        (db, view, true, first),
                    ))
                }
            }
        }
    });
    let tail = match format {
        Format::Csv => Vec::new(),
        Format::Json => b"]\n".to_vec(),
    };
    stream::once(async move { Ok(head) })
        .chain(body)
        .chain(stream::once(async move { Ok(tail) }))
        .boxed()
}

/// One CSV record (RFC 4180 quoting), ending with CRLF.
fn csv_line(fields: impl Iterator<Item = String>) -> String {
    let mut line = fields
        .map(|f| {
            if f.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", f.replace('"', "\"\""))
            } else {
                f
            }
        })
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

async fn export(
    studio: Studio,
    name: String,
    params: HashMap<String, String>,
    format: Format,
) -> Result<Response, AppError> {
    let table = table(&name).ok_or(AppError::NotFound("table"))?;
    let view = View::parse(table, &params)?;
    // The first page is checked here, so that a bad filter is an error page, not a broken
    // download.
    let mut probe = view.clone();
    probe.limit = 1;
    let stream = with_entity!(table.name, E => {
        fetch::<E>(studio.db(), &probe).await?;
        export_stream::<E>(studio.db().clone(), view, format)
    });
    let (mime, ext) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
        Format::Json => ("application/json", "json"),
    };
    Ok((
        [
            (header::CONTENT_TYPE, mime.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}.{ext}\"", table.name),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// `GET /t/{table}/export.csv`: the current view (every page of it) as CSV, streamed.
pub(crate) async fn export_csv(
    State(studio): State<Studio>,
    Path(name): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, AppError> {
    export(studio, name, params, Format::Csv).await
}

/// `GET /t/{table}/export.json`: the current view as a JSON array, streamed.
pub(crate) async fn export_json(
    State(studio): State<Studio>,
    Path(name): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, AppError> {
    export(studio, name, params, Format::Json).await
}

/// How many rows a table has, as far as the overview cares to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// Counted.
    Exact(i64),
    /// The planner's estimate (Postgres `pg_class.reltuples`, MariaDB
    /// `information_schema.TABLES.TABLE_ROWS`), for a big table.
    Estimate(i64),
    /// More than this many rows: a big table with no estimate (never analyzed, or SQLite).
    MoreThan(i64),
}

/// Above this many rows a table is never counted.
pub const COUNT_UP_TO: i64 = 100_000;

/// Rows of every table: exact for small tables; for big ones the planner's estimate where the
/// backend keeps one, else "more than [`COUNT_UP_TO`]" from a count that stops there. The
/// overview never counts a million rows.
pub(crate) async fn table_sizes(
    db: &DatabaseConnection,
) -> Result<Vec<(&'static str, Size)>, AppError> {
    let backend = db.get_database_backend();
    let estimates: HashMap<String, i64> = match backend {
        DbBackend::Postgres => db
            .query_all_raw(sea_orm::Statement::from_string(
                backend,
                "SELECT relname::text AS name, reltuples::bigint AS n FROM pg_class \
                 WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace",
            ))
            .await?
            .iter()
            .filter_map(|r| Some((r.try_get::<String>("", "name").ok()?, r.try_get::<i64>("", "n").ok()?)))
            .collect(),
        DbBackend::MySql => db
            .query_all_raw(sea_orm::Statement::from_string(
                backend,
                "SELECT CAST(TABLE_NAME AS CHAR) AS name, CAST(COALESCE(TABLE_ROWS, 0) AS SIGNED) AS n \
                 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()",
            ))
            .await?
            .iter()
            .filter_map(|r| Some((r.try_get::<String>("", "name").ok()?, r.try_get::<i64>("", "n").ok()?)))
            .collect(),
        _ => HashMap::new(),
    };
    let mut sizes = Vec::new();
    for table in TABLES {
        let estimate = estimates.get(table.name).copied().unwrap_or(-1);
        if estimate > COUNT_UP_TO {
            sizes.push((table.name, Size::Estimate(estimate)));
            continue;
        }
        // A count that stops after COUNT_UP_TO + 1 rows.
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                backend,
                format!(
                    "SELECT COUNT(*) AS n FROM (SELECT 1 AS one FROM {} LIMIT {}) bounded",
                    table.name,
                    COUNT_UP_TO + 1
                ),
            ))
            .await?;
        let n = row
            .and_then(|r| r.try_get::<i64>("", "n").ok())
            .unwrap_or(0);
        sizes.push((
            table.name,
            if n > COUNT_UP_TO {
                Size::MoreThan(COUNT_UP_TO)
            } else {
                Size::Exact(n)
            },
        ));
    }
    Ok(sizes)
}

/// The rows of `child` whose `column` is `id`, as a compact table with a link to the whole
/// filtered view: one query, at most `limit` rows.
pub(crate) async fn related(
    db: &DatabaseConnection,
    child: &str,
    column_name: &str,
    id: &str,
    limit: u64,
    newest_first: bool,
) -> Result<Markup, AppError> {
    let table = table(child).ok_or(AppError::NotFound("table"))?;
    let view = View {
        table,
        filters: vec![(column_name.to_owned(), id.to_owned())],
        sort: table.key,
        desc: newest_first,
        after: None,
        limit,
    };
    let (columns, (rows, next)) = with_entity!(child, E => {
        (columns::<E>(), fetch::<E>(db, &view).await?)
    });
    let all = with_query(&format!("/t/{child}"), &view.query(None));
    Ok(html! {
        table.related data-table=(child) {
            thead { tr { @for col in &columns { th { (col) } } } }
            tbody {
                @for row in &rows {
                    tr { @for col in &columns { (render_cell(table, col, row.get(*col).unwrap_or(&Json::Null))) } }
                }
            }
        }
        @if rows.is_empty() { p { "None." } }
        @if next.is_some() { p { a href=(all) { "all " (child) " of this row »" } } }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_secret_column_is_described_and_never_passed_through() {
        let cases = [
            (
                "users",
                "password_hash",
                "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
                "argon2id hash",
            ),
            (
                "sessions",
                "session_token",
                "q83vEjRWeJCrze8SNFZ4kA",
                "SHA-256 digest",
            ),
            ("verification_tokens", "token", "abc", "SHA-256 digest"),
            (
                "accounts",
                "refresh_token",
                "xc1:3:AAAA",
                "encrypted with key v3",
            ),
            (
                "accounts",
                "access_token",
                "plain-looking",
                "encrypted value",
            ),
            (
                "supplier_accounts",
                "api_key",
                "xc1:1:BBBB",
                "encrypted with key v1",
            ),
            (
                "supplier_accounts",
                "api_secret",
                "xc1:x:BBBB",
                "encrypted value",
            ),
        ];
        for (table, column, stored, label) in cases {
            assert_eq!(
                secret_label(table, column, &Json::String(stored.into())),
                Some(Json::String(label.into())),
                "{table}.{column}"
            );
        }
        assert_eq!(
            secret_label("users", "email", &Json::String("a@b".into())),
            None
        );
        assert_eq!(
            secret_label("users", "password_hash", &Json::Null),
            Some(Json::Null)
        );
    }

    #[test]
    fn csv_fields_are_quoted_when_they_must_be() {
        assert_eq!(
            csv_line(["a".into(), "b,c".into(), "say \"hi\"".into(), "x\ny".into()].into_iter()),
            "a,\"b,c\",\"say \"\"hi\"\"\",\"x\ny\"\r\n"
        );
    }

    #[test]
    fn a_cursor_round_trips_and_garbage_is_refused() {
        let c = encode_cursor(&["ACTIVE".into(), "0190-x".into()]);
        assert_eq!(
            decode_cursor(&c).ok(),
            Some(vec!["ACTIVE".to_owned(), "0190-x".to_owned()])
        );
        assert!(decode_cursor("not base64 !").is_err());
        assert!(decode_cursor(&encode_cursor(&[])).is_err());
    }
}
