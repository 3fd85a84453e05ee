//! The demo data: a test user who can sign in, a connected supplier, the "Test Cyberpunk Store"
//! with its NeonNest brand, products with variants and images, the standard pages, a logo and
//! agent jobs in several states.

use std::collections::BTreeMap;
use std::time::Duration;

use domain::MediaType;
use domain::StoreScope;
use domain::agent_jobs::{
    self as jobs, AgentType, BrandBrief, CopyBrief, ImageOperation, ImageWork, JobInput, JobOutput,
    NewJob, ProductSearch, VideoBrief, Worker, WorkerId,
};
use domain::crypto::{KeyRing, Secret};
use domain::media_assets::{self, MediaMetadata, NewMediaAsset};
use domain::money::Money;
use domain::prelude::{ConnectionTrait, TransactionSession, TransactionTrait};
use domain::products::images::NewImage;
use domain::products::variants::NewVariant;
use domain::products::{self, NewProduct, ProductStatus, Sku, SupplierProvider};
use domain::stores::{self, BrandIdentity, NewStore, StorePatch, StoreStatus, Subdomain};
use domain::supplier_accounts::{self, ApiKey, ApiSecret, ExternalAccountId, NewSupplierAccount};
use domain::users::accounts::{
    self, AccessToken, AccountKind, OAuthProfile, OAuthProvider, OAuthTokens, ProviderAccountId,
    RefreshToken, Scope, TokenType,
};
use domain::users::{
    self, DisplayName, Email, NewUser, Password, PasswordHasher, sessions, verification_tokens,
};
use domain::values::{HttpUrl, Slug};
use domain::{Error, Result};
use rust_decimal::Decimal;
use uuid::Uuid;

/// The demo user's email.
pub const TEST_EMAIL: &str = "test@zyenta.com";
/// The demo user's password: demo data only, never a real credential.
pub const TEST_PASSWORD: &str = "zyenta-demo-password";
/// The demo store's slug and subdomain.
pub const TEST_STORE_SLUG: &str = "test-store";

/// What [`seed`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The demo data was created.
    Created {
        /// The test user.
        user_id: Uuid,
        /// The test store.
        store_id: Uuid,
    },
    /// The demo data was there already; nothing was changed.
    AlreadySeeded {
        /// The test user.
        user_id: Uuid,
    },
}

/// Creates the demo data, all in one transaction (a failure leaves nothing behind), unless the
/// test user exists already, in which case nothing is changed.
///
/// # Errors
/// Any error of the domain calls; the transaction is rolled back.
pub async fn seed<C>(db: &C, hasher: &PasswordHasher, keys: &KeyRing) -> Result<Outcome>
where
    C: ConnectionTrait + TransactionTrait,
{
    let email = Email::parse(TEST_EMAIL)?;
    if let Some(user) = users::find_by_email(db, &email).await? {
        return Ok(Outcome::AlreadySeeded { user_id: user.id });
    }
    let txn = db.begin().await?;
    let outcome = seed_in(&txn, hasher, keys, email).await?;
    txn.commit().await?;
    Ok(outcome)
}

async fn seed_in<C>(
    db: &C,
    hasher: &PasswordHasher,
    keys: &KeyRing,
    email: Email,
) -> Result<Outcome>
where
    C: ConnectionTrait + TransactionTrait,
{
    let user = users::create(
        db,
        hasher,
        NewUser {
            email: email.clone(),
            password: Password::parse(TEST_PASSWORD)?,
            name: Some(DisplayName::parse("Test User")?),
            image: None,
        },
    )
    .await?;
    // Verified the way a real user is: a token issued and consumed.
    let issued = verification_tokens::create(db, &email, Duration::from_secs(3600)).await?;
    verification_tokens::delete(db, &email, issued.token.expose()).await?;

    // A Google account linked by its verified email, a signed-in session, and a verification
    // token still waiting to be used: every identity table has a row to look at.
    accounts::authenticate(
        db,
        keys,
        OAuthProfile {
            provider: OAuthProvider::parse("google")?,
            provider_account_id: ProviderAccountId::parse("demo-google-108234567890")?,
            kind: AccountKind::parse("oauth")?,
            email: Some(email.clone()),
            email_verified: true,
            name: Some(DisplayName::parse("Test User")?),
            image: None,
            tokens: OAuthTokens {
                refresh_token: Some(RefreshToken::parse(Secret::new(
                    "demo-google-refresh-token",
                ))?),
                access_token: Some(AccessToken::parse(Secret::new("demo-google-access-token"))?),
                id_token: None,
                expires_at: None,
                token_type: Some(TokenType::parse("Bearer")?),
                scope: Some(Scope::parse("openid email profile")?),
                session_state: None,
            },
        },
    )
    .await?;
    sessions::create(db, user.id, Duration::from_secs(30 * 24 * 3600)).await?;
    verification_tokens::create(db, &email, Duration::from_secs(24 * 3600)).await?;

    supplier_accounts::create(
        db,
        keys,
        user.id,
        NewSupplierAccount {
            provider: SupplierProvider::Aliexpress,
            api_key: ApiKey::parse(Secret::new("demo-aliexpress-app-key"))?,
            api_secret: Some(ApiSecret::parse(Secret::new("demo-aliexpress-app-secret"))?),
            account_id: Some(ExternalAccountId::parse("demo-merchant-001")?),
        },
    )
    .await?;

    let store = stores::create(
        db,
        user.id,
        NewStore {
            name: "Test Cyberpunk Store".into(),
            niche: "Cyberpunk home decor".into(),
            description: Some("Neon lights and chrome for the apartments of 2077.".into()),
            slug: Some(Slug::parse("stores.slug", TEST_STORE_SLUG)?),
            subdomain: Some(Subdomain::parse(TEST_STORE_SLUG)?),
        },
    )
    .await?;
    let scope = StoreScope::obtain(db, user.id, store.id).await?;
    let brand = neon_nest()?;
    stores::update(
        db,
        &scope,
        StorePatch {
            brand_identity: Some(Some(brand.clone())),
            ..Default::default()
        },
    )
    .await?;
    stores::transition(db, &scope, StoreStatus::PendingReview).await?;
    stores::transition(db, &scope, StoreStatus::Active).await?;

    let mut product_ids = Vec::new();
    for product in catalogue()? {
        let (product, _) = products::import(db, &scope, product).await?;
        product_ids.push(product.id);
    }

    media_assets::create(
        db,
        &scope,
        NewMediaAsset {
            media_type: MediaType::Logo,
            filename: "neonnest-logo.png".into(),
            mime_type: "image/png".into(),
            size: 24_576,
            url: HttpUrl::parse(
                "media_assets.url",
                "https://cdn.zyenta.com/demo/neonnest-logo.png",
            )?,
            original_url: None,
            metadata: Some(MediaMetadata::new(Some(512), Some(512), Some("png"), None)?),
        },
    )
    .await?;

    seed_jobs(db, &scope, &product_ids, brand).await?;
    Ok(Outcome::Created {
        user_id: user.id,
        store_id: store.id,
    })
}

fn neon_nest() -> Result<BrandIdentity> {
    BrandIdentity::parse(
        "NeonNest",
        ["#FF00FF", "#00FFFF", "#FFFF00"],
        ["Orbitron", "Inter"],
        "futuristic",
        Some("https://cdn.zyenta.com/demo/neonnest-logo.png"),
    )
}

/// One job in each state: COMPLETED, PROCESSING, FAILED, CANCELLED and PENDING.
async fn seed_jobs<C>(
    db: &C,
    scope: &StoreScope,
    product_ids: &[Uuid],
    brand: BrandIdentity,
) -> Result<()>
where
    C: ConnectionTrait + TransactionTrait,
{
    let first_product = *product_ids.first().ok_or(Error::NotFound {
        entity: domain::Table::Products,
    })?;
    // Higher priority first, so that each worker below claims the job meant for it.
    let ids = jobs::create_many(
        db,
        scope,
        [
            NewJob::new(JobInput::BrandGenerator(BrandBrief {
                niche: "Cyberpunk home decor".into(),
                tone: "futuristic".into(),
                store_name: Some("Test Cyberpunk Store".into()),
            }))
            .priority(50),
            NewJob::new(JobInput::Copywriter(CopyBrief {
                product_ids: product_ids.to_vec(),
                tone: "futuristic".into(),
                language: "en".into(),
            }))
            .priority(40),
            NewJob::new(JobInput::ImageProcessor(ImageWork {
                source_urls: vec!["https://cdn.zyenta.com/demo/products/holo-lamp-1.jpg".into()],
                operations: vec![ImageOperation::RemoveBackground, ImageOperation::Enhance],
            }))
            .priority(30)
            .max_attempts(1),
            NewJob::new(JobInput::VideoGenerator(VideoBrief {
                product_id: first_product,
                duration_seconds: 15,
                style: Some("synthwave".into()),
            }))
            .priority(20),
            NewJob::new(JobInput::ProductScout(ProductSearch {
                provider: SupplierProvider::CjDropshipping,
                query: "neon wall art".into(),
                limit: 25,
            }))
            .priority(10),
        ],
    )
    .await?;

    let brand_worker =
        Worker::new(WorkerId::generate("demo-brand")).only([AgentType::BrandGenerator]);
    if let Some(mut job) = brand_worker.claim(db).await? {
        job.update_progress(db, 60, Some("choosing colours"))
            .await?;
        job.complete(db, JobOutput::BrandGenerator(brand)).await?;
    }
    let copy_worker = Worker::new(WorkerId::generate("demo-copy")).only([AgentType::Copywriter]);
    if let Some(mut job) = copy_worker.claim(db).await? {
        job.update_progress(db, 40, Some("writing descriptions"))
            .await?;
    }
    let image_worker =
        Worker::new(WorkerId::generate("demo-images")).only([AgentType::ImageProcessor]);
    if let Some(job) = image_worker.claim(db).await? {
        job.fail_permanently(db, "source image returned HTTP 404")
            .await?;
    }
    jobs::cancel(db, scope, ids[3]).await?;
    Ok(())
}

fn money(cents: i64) -> Result<Money> {
    Money::parse("price", Decimal::new(cents, 2))
}

fn variant(
    sku: &str,
    title: &str,
    price: i64,
    cost: i64,
    stock: i32,
    options: &[(&str, &str)],
) -> Result<NewVariant> {
    Ok(NewVariant {
        sku: Some(Sku::parse("product_variants.sku", sku)?),
        title: title.into(),
        price: money(price)?,
        cost_price: money(cost)?,
        stock,
        options: options
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
    })
}

fn images(slug: &str, n: usize) -> Result<Vec<NewImage>> {
    (1..=n)
        .map(|i| {
            Ok(NewImage {
                original_url: HttpUrl::parse(
                    "product_images.original_url",
                    &format!("https://cdn.zyenta.com/demo/products/{slug}-{i}.jpg"),
                )?,
                alt_text: Some(format!("{slug} photo {i}")),
            })
        })
        .collect()
}

/// The demo catalogue: five products, most with variants.
fn catalogue() -> Result<Vec<NewProduct>> {
    let mut lamp = NewProduct::new(
        SupplierProvider::Aliexpress,
        "1005006012345",
        "Holo Neon Desk Lamp",
        money(1_250)?,
        money(3_999)?,
    );
    lamp.description = "A desk lamp whose tube shifts from magenta to cyan.".into();
    lamp.compare_at_price = Some(money(5_999)?);
    lamp.status = Some(ProductStatus::Active);
    lamp.variants = vec![
        variant(
            "HOLO-LAMP-MAG",
            "Magenta",
            3_999,
            1_250,
            24,
            &[("color", "Magenta")],
        )?,
        variant(
            "HOLO-LAMP-CYN",
            "Cyan",
            3_999,
            1_250,
            18,
            &[("color", "Cyan")],
        )?,
    ];
    lamp.images = images("holo-lamp", 2)?;
    lamp.meta_title = Some("Holo Neon Desk Lamp | NeonNest".into());

    let mut sign = NewProduct::new(
        SupplierProvider::CjDropshipping,
        "CJ-NEON-SIGN-77",
        "Custom Neon Sign",
        money(3_100)?,
        money(8_900)?,
    );
    sign.description = "Your words in LED neon, on clear acrylic.".into();
    sign.status = Some(ProductStatus::Active);
    sign.variants = vec![
        variant(
            "SIGN-S-PINK",
            "Small / Pink",
            8_900,
            3_100,
            10,
            &[("size", "S"), ("color", "Pink")],
        )?,
        variant(
            "SIGN-M-PINK",
            "Medium / Pink",
            11_900,
            4_200,
            6,
            &[("size", "M"), ("color", "Pink")],
        )?,
        variant(
            "SIGN-M-BLUE",
            "Medium / Blue",
            11_900,
            4_200,
            0,
            &[("size", "M"), ("color", "Blue")],
        )?,
    ];
    sign.images = images("neon-sign", 3)?;

    let mut rug = NewProduct::new(
        SupplierProvider::Spocket,
        "SPK-RUG-2077",
        "Circuit Board Rug",
        money(2_200)?,
        money(5_400)?,
    );
    rug.description = "A soft rug printed with a glowing circuit pattern.".into();
    rug.status = Some(ProductStatus::Active);
    rug.stock_quantity = 7;
    rug.images = images("circuit-rug", 2)?;

    let mut speaker = NewProduct::new(
        SupplierProvider::Aliexpress,
        "1005007654321",
        "Chrome Orb Speaker",
        money(1_800)?,
        money(4_500)?,
    );
    speaker.description = "A mirrored orb speaker with a pulsing light ring.".into();
    speaker.status = Some(ProductStatus::Active);
    speaker.variants = vec![variant(
        "ORB-CHR",
        "Chrome",
        4_500,
        1_800,
        0,
        &[("finish", "Chrome")],
    )?];
    speaker.images = images("orb-speaker", 1)?;

    let mut poster = NewProduct::new(
        SupplierProvider::CjDropshipping,
        "CJ-POSTER-NC",
        "Night City Poster Set",
        money(600)?,
        money(1_900)?,
    );
    poster.description = "Three prints of a rainy neon skyline.".into();
    poster.stock_quantity = 40;
    poster.images = images("night-city-poster", 2)?;

    Ok(vec![lamp, sign, rug, speaker, poster])
}
