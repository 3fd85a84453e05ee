//! Shared setup of the studio's tests: the demo data, known secrets, and requests through
//! the router without a socket.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use domain::crypto::{EncryptionKey, KeyRing, Secret};
use domain::products::SupplierProvider;
use domain::supplier_accounts::{self, ApiKey, ApiSecret, NewSupplierAccount};
use domain::users::accounts::{
    self, AccessToken, AccountKind, IdToken, OAuthProfile, OAuthProvider, OAuthTokens,
    ProviderAccountId, RefreshToken, TokenType,
};
use domain::users::{
    self, Argon2Params, Email, NewUser, Password, PasswordHasher, sessions, verification_tokens,
};
use sea_orm::DatabaseConnection;
use studio::Studio;
use tower::ServiceExt;
use uuid::Uuid;

/// A cheap argon2id (tests only) and a fresh key ring.
pub fn crypto() -> (PasswordHasher, KeyRing) {
    let hasher =
        PasswordHasher::new(Argon2Params::new(1024, 1, 1).expect("params")).expect("hasher");
    let key = EncryptionKey::generate(1).expect("key");
    let keys = KeyRing::parse(key.encode().expose()).expect("ring");
    (hasher, keys)
}

/// Seeds the demo data (the cyberpunk store and its catalog, jobs in every state).
pub async fn demo(db: &DatabaseConnection) -> (Uuid, Uuid) {
    let (hasher, keys) = crypto();
    match seed::demo::seed(db, &hasher, &keys)
        .await
        .expect("demo data")
    {
        seed::demo::Outcome::Created { user_id, store_id } => (user_id, store_id),
        other => panic!("expected fresh demo data, got {other:?}"),
    }
}

/// Plain secrets seeded on purpose, which no page may show.
#[derive(Debug)]
pub struct KnownSecrets {
    pub plaintexts: Vec<String>,
    pub user_id: Uuid,
}

pub const PASSWORD: &str = "crawl-Password-7f3a9c";
pub const REFRESH: &str = "crawl-refresh-token-51d2";
pub const ACCESS: &str = "crawl-access-token-8e44";
pub const ID_TOKEN: &str = "crawl-id-token-c0ffee";
pub const API_KEY: &str = "crawl-supplier-key-a1b2";
pub const API_SECRET: &str = "crawl-supplier-secret-d4e5";

/// A user with a password, a session, a pending verification token, an OAuth link with all
/// three tokens and a supplier account with key and secret: every kind of secret.
pub async fn known_secrets(db: &DatabaseConnection) -> KnownSecrets {
    let (hasher, keys) = crypto();
    let email = Email::parse("crawl@example.com").expect("email");
    let user = users::create(
        db,
        &hasher,
        NewUser {
            email: email.clone(),
            password: Password::parse(PASSWORD).expect("password"),
            name: None,
            image: None,
        },
    )
    .await
    .expect("register");
    let session = sessions::create(db, user.id, Duration::from_secs(3600))
        .await
        .expect("session");
    let issued = verification_tokens::create(db, &email, Duration::from_secs(3600))
        .await
        .expect("verification token");
    accounts::authenticate(
        db,
        &keys,
        OAuthProfile {
            provider: OAuthProvider::parse("github").expect("provider"),
            provider_account_id: ProviderAccountId::parse("crawl-gh-1")
                .expect("provider account id"),
            kind: AccountKind::parse("oauth").expect("kind"),
            email: Some(email.clone()),
            email_verified: true,
            name: None,
            image: None,
            tokens: OAuthTokens {
                refresh_token: Some(
                    RefreshToken::parse(Secret::new(REFRESH)).expect("refresh_token"),
                ),
                access_token: Some(AccessToken::parse(Secret::new(ACCESS)).expect("access_token")),
                id_token: Some(IdToken::parse(Secret::new(ID_TOKEN)).expect("id_token")),
                expires_at: None,
                token_type: Some(TokenType::parse("Bearer").expect("token_type")),
                scope: None,
                session_state: None,
            },
        },
    )
    .await
    .expect("oauth link");
    supplier_accounts::create(
        db,
        &keys,
        user.id,
        NewSupplierAccount {
            provider: SupplierProvider::CjDropshipping,
            api_key: ApiKey::parse(Secret::new(API_KEY)).expect("api key"),
            api_secret: Some(ApiSecret::parse(Secret::new(API_SECRET)).expect("api secret")),
            account_id: None,
        },
    )
    .await
    .expect("supplier account");
    KnownSecrets {
        plaintexts: vec![
            PASSWORD.into(),
            REFRESH.into(),
            ACCESS.into(),
            ID_TOKEN.into(),
            API_KEY.into(),
            API_SECRET.into(),
            session.token.expose().to_owned(),
            issued.token.expose().to_owned(),
        ],
        user_id: user.id,
    }
}

/// A studio on the test's database: read-only, or with `--write`.
pub async fn studio(t: &tests::TestDb, write: bool) -> Studio {
    let db = studio::open(&t.config, write)
        .await
        .expect("studio connection");
    Studio::new(db, write, None).expect("studio")
}

/// The answer to one request through the router (no socket).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub location: Option<String>,
    pub content_type: String,
    pub body: String,
}

pub async fn request(studio: &Studio, method: Method, uri: &str, form: Option<String>) -> Answer {
    let mut builder = Request::builder().method(method).uri(uri);
    let body = match form {
        Some(form) => {
            builder = builder.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            Body::from(form)
        }
        None => Body::empty(),
    };
    let response = studio::router(studio.clone())
        .oneshot(builder.body(body).expect("request"))
        .await
        .expect("the router answers");
    let status = response.status();
    let location = response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    Answer {
        status,
        location,
        content_type,
        body: String::from_utf8(bytes.to_vec()).expect("UTF-8 body"),
    }
}

pub async fn get(studio: &Studio, uri: &str) -> Answer {
    request(studio, Method::GET, uri, None).await
}

/// A GET that must answer 200.
pub async fn page(studio: &Studio, uri: &str) -> String {
    let answer = get(studio, uri).await;
    assert_eq!(answer.status, StatusCode::OK, "GET {uri}: {}", answer.body);
    answer.body
}

/// The local links of an HTML page (`href="/…"`), with `&amp;` decoded.
pub fn links(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|href| href.starts_with('/'))
        .map(|href| href.replace("&amp;", "&"))
        .collect()
}
