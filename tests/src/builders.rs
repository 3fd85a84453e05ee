//! Rows with unique random values, written straight through the entities. The foundation
//! tests use them to exercise the schema itself; the repository tests go through `domain`.

use domain::clock::now;
use entity::sea_orm_active_enums::{
    AgentType, JobStatus, MediaType, PageType, ProductStatus, StoreStatus, SupplierProvider,
};
use entity::{
    accounts, agent_jobs, media_assets, pages, product_images, product_variants, products,
    sessions, stores, supplier_accounts, users, verification_tokens,
};
use rust_decimal::Decimal;
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, ModelTrait};
use serde_json::json;
use uuid::Uuid;

/// A short unique suffix for values under unique rules.
pub fn unique() -> String {
    Uuid::now_v7().simple().to_string()[20..].to_owned()
}

/// Inserts `model` as it is and returns what the database gave back.
///
/// # Errors
/// The database's error when it refuses the row (a unique rule, a foreign key, a CHECK): the
/// foundation tests assert exactly those.
pub async fn insert<C, M>(db: &C, model: M) -> Result<M, DbErr>
where
    C: ConnectionTrait,
    M: ModelTrait + IntoActiveModel<<M::Entity as EntityTrait>::ActiveModel>,
    M::Entity: EntityTrait<Model = M>,
    <M::Entity as EntityTrait>::ActiveModel: ActiveModelTrait<Entity = M::Entity> + Send,
{
    <M::Entity as EntityTrait>::insert(model.into_active_model())
        .exec_with_returning(db)
        .await
}

/// A user with a unique email, no password, unverified: the smallest valid `users` row.
pub fn user() -> users::Model {
    let at = now();
    users::Model {
        id: Uuid::now_v7(),
        email: format!("user-{}@example.com", unique()),
        name: Some("Test User".into()),
        password_hash: None,
        email_verified: None,
        image: None,
        stripe_account_id: None,
        stripe_onboarded: false,
        created_at: at,
        updated_at: at,
    }
}

/// A Google OAuth link of `user_id` with a unique provider account id and no tokens.
pub fn account(user_id: Uuid) -> accounts::Model {
    accounts::Model {
        id: Uuid::now_v7(),
        user_id,
        r#type: "oauth".into(),
        provider: "google".into(),
        provider_account_id: unique(),
        refresh_token: None,
        access_token: None,
        expires_at: None,
        token_type: None,
        scope: None,
        id_token: None,
        session_state: None,
    }
}

/// A session of `user_id`, live for 30 days, with a unique stand-in for the token digest.
pub fn session(user_id: Uuid) -> sessions::Model {
    sessions::Model {
        id: Uuid::now_v7(),
        session_token: format!("digest-{}", unique()),
        user_id,
        expires: now() + chrono::Duration::days(30),
        created_at: now(),
    }
}

/// A verification token for a unique email, valid for an hour (a stand-in digest).
pub fn verification_token() -> verification_tokens::Model {
    verification_tokens::Model {
        identifier: format!("user-{}@example.com", unique()),
        token: format!("digest-{}", unique()),
        expires: now() + chrono::Duration::hours(1),
    }
}

/// An active AliExpress account of `user_id`, its API key a placeholder (not real ciphertext).
pub fn supplier_account(user_id: Uuid) -> supplier_accounts::Model {
    let at = now();
    supplier_accounts::Model {
        id: Uuid::now_v7(),
        user_id,
        provider: SupplierProvider::Aliexpress,
        api_key: "ciphertext".into(),
        api_secret: None,
        account_id: None,
        is_active: true,
        created_at: at,
        updated_at: at,
    }
}

/// A CREATING store of `user_id` with a unique name, slug and subdomain.
pub fn store(user_id: Uuid) -> stores::Model {
    let at = now();
    let suffix = unique();
    stores::Model {
        id: Uuid::now_v7(),
        user_id,
        name: format!("Store {suffix}"),
        slug: format!("store-{suffix}"),
        description: None,
        niche: "Cyberpunk home decor".into(),
        status: StoreStatus::Creating,
        brand_identity: None,
        custom_domain: None,
        subdomain: format!("store-{suffix}"),
        settings: None,
        created_at: at,
        updated_at: at,
        published_at: None,
        deleted_at: None,
    }
}

/// A DRAFT product of `store_id` with a unique source id, title and slug, 10 in stock.
pub fn product(store_id: Uuid) -> products::Model {
    let at = now();
    let suffix = unique();
    products::Model {
        id: Uuid::now_v7(),
        store_id,
        source_provider: SupplierProvider::CjDropshipping,
        source_id: format!("src-{suffix}"),
        source_url: None,
        title: format!("Neon lamp {suffix}"),
        original_title: format!("Neon lamp {suffix}"),
        description: "A lamp.".into(),
        slug: format!("neon-lamp-{suffix}"),
        cost_price: Decimal::new(1_250, 2),
        selling_price: Decimal::new(2_999, 2),
        compare_at_price: None,
        currency: "USD".into(),
        stock_quantity: 10,
        track_inventory: true,
        meta_title: None,
        meta_description: None,
        status: ProductStatus::Draft,
        created_at: at,
        updated_at: at,
        deleted_at: None,
        search_title: format!("neon lamp {suffix}"),
    }
}

/// The first image (position 0) of `product_id` in `store_id`.
pub fn product_image(product_id: Uuid, store_id: Uuid) -> product_images::Model {
    product_images::Model {
        id: Uuid::now_v7(),
        product_id,
        store_id,
        original_url: "https://cdn.example.com/a.jpg".into(),
        processed_url: None,
        alt_text: None,
        position: 0,
        created_at: now(),
    }
}

/// A variant of `product_id` in `store_id` with a unique SKU, 5 in stock, colour and size options.
pub fn product_variant(product_id: Uuid, store_id: Uuid) -> product_variants::Model {
    let at = now();
    product_variants::Model {
        id: Uuid::now_v7(),
        product_id,
        store_id,
        sku: Some(format!("SKU-{}", unique())),
        title: "Red / L".into(),
        price: Decimal::new(2_999, 2),
        cost_price: Decimal::new(1_250, 2),
        stock: 5,
        options: json!({"color": "Red", "size": "L"}),
        created_at: at,
        updated_at: at,
    }
}

/// An ABOUT page of `store_id` with a unique slug.
pub fn page(store_id: Uuid) -> pages::Model {
    let at = now();
    pages::Model {
        id: Uuid::now_v7(),
        store_id,
        r#type: PageType::About,
        title: "About".into(),
        slug: format!("about-{}", unique()),
        content: "We sell lamps.".into(),
        created_at: at,
        updated_at: at,
    }
}

/// A 2 KiB PNG logo of `store_id`.
pub fn media_asset(store_id: Uuid) -> media_assets::Model {
    media_assets::Model {
        id: Uuid::now_v7(),
        store_id,
        r#type: MediaType::Logo,
        filename: "logo.png".into(),
        mime_type: "image/png".into(),
        size: 2_048,
        url: "https://cdn.example.com/logo.png".into(),
        original_url: None,
        metadata: None,
        created_at: now(),
    }
}

/// A PENDING brand-generator job of `store_id` (or of no store), runnable now, 3 attempts.
pub fn agent_job(store_id: Option<Uuid>) -> agent_jobs::Model {
    let at = now();
    agent_jobs::Model {
        id: Uuid::now_v7(),
        store_id,
        r#type: AgentType::BrandGenerator,
        status: JobStatus::Pending,
        priority: 0,
        input: json!({"niche": "Cyberpunk home decor"}),
        output: None,
        error: None,
        started_at: None,
        completed_at: None,
        progress: 0,
        current_step: None,
        created_at: at,
        updated_at: at,
        attempts: 0,
        max_attempts: 3,
        run_at: at,
        locked_by: None,
        heartbeat_at: None,
        unique_key: None,
        cancelled_by: None,
        has_dependants: false,
        waiting_for: 0,
    }
}

/// A user with a store, the parents most rows need.
pub async fn user_with_store<C: ConnectionTrait>(db: &C) -> (users::Model, stores::Model) {
    let user = insert(db, user()).await.expect("insert user");
    let store = insert(db, store(user.id)).await.expect("insert store");
    (user, store)
}

/// A decimal from its literal, for money in tests.
pub fn dec(literal: &str) -> Decimal {
    literal.parse().expect("decimal literal")
}

/// The scope of a fresh owner's fresh store, for tests of what a store holds.
pub async fn owner_scope<C: ConnectionTrait>(db: &C) -> domain::StoreScope {
    let (user, store) = user_with_store(db).await;
    domain::StoreScope::obtain(db, user.id, store.id)
        .await
        .expect("scope")
}

/// An amount of money from a literal such as `"19.90"`; panics on one `Money` refuses.
pub fn money(literal: &str) -> domain::Money {
    domain::Money::parse("price", dec(literal)).expect("a valid amount")
}

/// An `https://` URL from a literal; panics on one `HttpUrl` refuses.
pub fn url(literal: &str) -> domain::values::HttpUrl {
    domain::values::HttpUrl::parse("url", literal).expect("a valid URL")
}

/// A SKU from a literal; panics on one `Sku` refuses.
pub fn sku(literal: &str) -> domain::products::Sku {
    domain::products::Sku::parse("product_variants.sku", literal).expect("a valid SKU")
}

/// The field and rule of an [`domain::Error::Invalid`]; panics on any other outcome.
pub fn invalid<T: std::fmt::Debug>(result: domain::Result<T>) -> (&'static str, domain::Violation) {
    match result {
        Err(domain::Error::Invalid { field, violation }) => (field, violation),
        other => panic!("expected Error::Invalid, got {other:?}"),
    }
}

/// Asserts that `result` is [`domain::Error::NotFound`] for `table`.
pub fn assert_not_found<T: std::fmt::Debug>(result: domain::Result<T>, table: domain::Table) {
    match result {
        Err(domain::Error::NotFound { entity }) if entity == table => {}
        other => panic!("expected NotFound for {table}, got {other:?}"),
    }
}

/// How many rows the table of `E` holds.
pub async fn row_count<E, C>(db: &C) -> u64
where
    E: EntityTrait,
    E::Model: Sync,
    C: ConnectionTrait,
{
    use sea_orm::PaginatorTrait;
    E::find().count(db).await.expect("count rows")
}
