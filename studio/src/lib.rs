//! The studio: a browser view of the Zyenta data that knows the domain.
//!
//! - Read-only unless started with `--write`, and enforced twice: the connection is a
//!   read-only session ([`domain::db::connect_read_only`]), and every request other than GET or
//!   HEAD answers 403.
//! - With `--write`, only domain actions (cancel or retry a job, store and product status
//!   moves, stock, soft-delete and restore), each through `domain`, behind a form with a CSRF
//!   token. No raw column is ever edited.
//! - Secrets are never shown: password hashes, token digests and encrypted credentials are
//!   shown as what they are ([`tables::secret_label`]), in pages, exports and error pages.
//! - Pages are server-rendered HTML ([`maud`]); no JavaScript.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use domain::{Config, DatabaseConnection};
use subtle::ConstantTimeEq;

mod actions;
mod html;
mod jobs;
mod pages;
pub mod tables;

/// The address the studio listens on unless `--bind` says otherwise.
pub const DEFAULT_BIND: &str = "127.0.0.1";
/// The port the studio listens on unless `--port` says otherwise.
pub const DEFAULT_PORT: u16 = 5555;
/// The environment variable holding the access token required off loopback.
pub const TOKEN_VARIABLE: &str = "ZYENTA_STUDIO_TOKEN";
/// The shortest access token accepted, in characters.
pub const MIN_TOKEN_LEN: usize = 16;

/// Everything a request handler needs.
#[derive(Clone)]
pub struct Studio {
    db: DatabaseConnection,
    write: bool,
    csrf: Arc<str>,
    access_token: Option<Arc<str>>,
}

impl std::fmt::Debug for Studio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Studio")
            .field("write", &self.write)
            .field("csrf", &"***")
            .field("access_token", &self.access_token.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

impl Studio {
    /// A studio on `db`. `write` allows the domain actions; `access_token`, when set, is
    /// required on every request (HTTP Basic password or Bearer token).
    ///
    /// # Errors
    /// [`domain::Error::Crypto`] when the system's random number generator fails (the CSRF
    /// token is random).
    pub fn new(
        db: DatabaseConnection,
        write: bool,
        access_token: Option<String>,
    ) -> domain::Result<Self> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)
            .map_err(|_| domain::Error::Crypto(domain::error::CryptoFailure::Randomness))?;
        let csrf: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Ok(Self {
            db,
            write,
            csrf: csrf.into(),
            access_token: access_token.map(Into::into),
        })
    }

    /// The CSRF token every form of this studio carries (tests post it back).
    pub fn csrf_token(&self) -> &str {
        &self.csrf
    }

    /// Whether the domain actions are allowed.
    pub fn writes(&self) -> bool {
        self.write
    }

    /// The database handle the studio reads through.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }
}

/// Opens the studio's connection: a read-only session on every backend, or an ordinary pool
/// with `write`. Both use `domain`'s configuration and connect code.
///
/// # Errors
/// [`domain::Error::Database`] when the database cannot be reached.
pub async fn open(config: &Config, write: bool) -> domain::Result<DatabaseConnection> {
    if write {
        let mut config = config.clone();
        // The studio never migrates: that is a deployment step.
        config.migrate_on_start = false;
        domain::connect(&config).await
    } else {
        domain::db::connect_read_only(config).await
    }
}

/// Every route of the studio.
pub fn router(studio: Studio) -> Router {
    Router::new()
        .route("/", get(pages::overview))
        .route("/users/{id}", get(pages::user))
        .route("/stores/{id}", get(pages::store))
        .route("/stores/{id}/status", post(actions::store_status))
        .route("/products/{id}", get(pages::product))
        .route("/products/{id}/status", post(actions::product_status))
        .route("/products/{id}/stock", post(actions::product_stock))
        .route("/products/{id}/delete", post(actions::product_delete))
        .route("/products/{id}/restore", post(actions::product_restore))
        .route("/variants/{id}/stock", post(actions::variant_stock))
        .route("/jobs", get(jobs::queue))
        .route("/jobs/{id}/cancel", post(actions::job_cancel))
        .route("/jobs/{id}/retry", post(actions::job_retry))
        .route("/t/{table}", get(tables::browse))
        .route("/t/{table}/export.csv", get(tables::export_csv))
        .route("/t/{table}/export.json", get(tables::export_json))
        .route("/t/{table}/{id}", get(tables::row))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(studio.clone(), guard))
        .with_state(studio)
}

async fn not_found() -> Response {
    AppError::NotFound("page").into_response()
}

/// Access token (off loopback) and the read-only rule, before any handler runs.
async fn guard(State(studio): State<Studio>, request: Request, next: Next) -> Response {
    if let Some(token) = &studio.access_token
        && !authorized(request.headers(), token)
    {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"zyenta studio\"")],
            "an access token is required (ZYENTA_STUDIO_TOKEN)",
        )
            .into_response();
    }
    if !matches!(*request.method(), Method::GET | Method::HEAD) && !studio.write {
        return AppError::ReadOnly.into_response();
    }
    next.run(request).await
}

/// `Authorization: Bearer <token>` or HTTP Basic with the token as password, compared in
/// constant time.
fn authorized(headers: &HeaderMap, token: &str) -> bool {
    use base64::Engine as _;
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let presented: Vec<u8> = if let Some(bearer) = value.strip_prefix("Bearer ") {
        bearer.trim().as_bytes().to_vec()
    } else if let Some(basic) = value.strip_prefix("Basic ") {
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(basic.trim()) else {
            return false;
        };
        match decoded.iter().position(|&b| b == b':') {
            Some(colon) => decoded[colon + 1..].to_vec(),
            None => return false,
        }
    } else {
        return false;
    };
    presented.ct_eq(token.as_bytes()).into()
}

/// Checks a form's CSRF token in constant time.
pub(crate) fn check_csrf(studio: &Studio, presented: &str) -> Result<(), AppError> {
    if bool::from(presented.as_bytes().ct_eq(studio.csrf.as_bytes())) {
        Ok(())
    } else {
        Err(AppError::Csrf)
    }
}

/// What a handler can fail with, rendered as an HTML error page that never carries a stored
/// value (database errors are logged, and shown only as "database error").
#[derive(Debug)]
pub(crate) enum AppError {
    NotFound(&'static str),
    BadRequest(String),
    ReadOnly,
    Csrf,
    Domain(domain::Error),
}

impl From<domain::Error> for AppError {
    fn from(err: domain::Error) -> Self {
        match err {
            domain::Error::NotFound { entity } => AppError::NotFound(entity.name()),
            other => AppError::Domain(other),
        }
    }
}

impl From<sea_orm::DbErr> for AppError {
    fn from(err: sea_orm::DbErr) -> Self {
        AppError::Domain(domain::Error::Database(err))
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            AppError::NotFound(what) => (StatusCode::NOT_FOUND, format!("no such {what}")),
            AppError::BadRequest(why) => (StatusCode::BAD_REQUEST, why.clone()),
            AppError::ReadOnly => (
                StatusCode::FORBIDDEN,
                "the studio is read-only: start it with --write to allow domain actions".into(),
            ),
            AppError::Csrf => (
                StatusCode::FORBIDDEN,
                "the form's CSRF token is missing or wrong: reload the page and try again".into(),
            ),
            AppError::Domain(domain::Error::Database(err)) => {
                tracing::error!(error = %err, "database error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "database error (the details are in the studio's log)".into(),
                )
            }
            AppError::Domain(err) => {
                // Typed domain errors name fields, rules and states, never stored values.
                let status = match err {
                    domain::Error::InvalidTransition { .. }
                    | domain::Error::InsufficientStock { .. }
                    | domain::Error::Conflict { .. } => StatusCode::CONFLICT,
                    domain::Error::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
                    _ => StatusCode::INTERNAL_SERVER_ERROR,
                };
                (status, err.to_string())
            }
        };
        (status, html::error_page(status, &message)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue, header};

    use super::authorized;

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(value).expect("header"),
        );
        headers
    }

    #[test]
    fn only_the_exact_token_is_let_in() {
        use base64::Engine as _;
        let token = "s3cret-studio-token-0001";
        let basic = |user_pass: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(user_pass)
            )
        };
        assert!(authorized(&with(&format!("Bearer {token}")), token));
        assert!(authorized(&with(&basic(&format!("admin:{token}"))), token));
        assert!(authorized(&with(&basic(&format!(":{token}"))), token));
        assert!(!authorized(&HeaderMap::new(), token));
        for wrong in [
            "Bearer s3cret-studio-token-000".to_owned(),
            "Bearer s3cret-studio-token-00011".to_owned(),
            "Bearer S3CRET-STUDIO-TOKEN-0001".to_owned(),
            format!("Token {token}"),
            basic(token),
            basic(&format!("admin:{token}x")),
            "Basic !!!".to_owned(),
            "Bearer ".to_owned(),
        ] {
            assert!(!authorized(&with(&wrong), token), "{wrong}");
        }
    }
}
