//! Bulk volume for load and benchmark work: owners, stores, products with variants and
//! images, pages, media and jobs in realistic proportions.
//!
//! Reproducible: the same `rng_seed` gives the same names, prices, stock and statuses (ids and
//! timestamps are new). Memory stays flat as the volume grows: products are generated and
//! written `batch_size` at a time, in multi-row inserts, and nothing is kept afterwards.
//! Each store is written in one transaction, so an interrupted run leaves whole stores only;
//! running again with the same seed skips the stores that exist.

use std::collections::BTreeMap;

use domain::MediaType;
use domain::StoreScope;
use domain::agent_jobs::{self as jobs, BrandBrief, JobInput, NewJob, ProductSearch};
use domain::media_assets::{self, NewMediaAsset};
use domain::money::Money;
use domain::prelude::TransactionTrait;
use domain::products::images::NewImage;
use domain::products::variants::NewVariant;
use domain::products::{self, NewProduct, ProductStatus, Sku, SupplierProvider};
use domain::stores::{self, NewStore, StoreStatus, Subdomain};
use domain::users::{self, DisplayName, Email, NewUser, Password, PasswordHasher};
use domain::values::{HttpUrl, Slug};
use domain::{DatabaseConnection, Result};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;

/// The password of every bulk owner: load-test data only.
pub const BULK_PASSWORD: &str = "zyenta-bulk-password";
/// Products written per multi-row insert unless told otherwise.
pub const DEFAULT_BATCH_SIZE: usize = 500;

/// How much to generate.
#[derive(Debug, Clone)]
pub struct BulkOptions {
    /// Stores to create, each with its own owner.
    pub stores: u32,
    /// Products in each store (3 variants and 2 images each; about half ACTIVE).
    pub products_per_store: u32,
    /// Seed of the random choices: the same seed gives the same data.
    pub rng_seed: u64,
    /// Products per multi-row insert.
    pub batch_size: usize,
}

impl Default for BulkOptions {
    fn default() -> Self {
        Self {
            stores: 1,
            products_per_store: 100,
            rng_seed: 42,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

/// What [`generate`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BulkReport {
    /// Stores created (stores of the same seed that already existed are skipped).
    pub stores_created: u32,
    /// Stores skipped because an earlier run with the same seed made them.
    pub stores_skipped: u32,
    /// Products created.
    pub products: u64,
}

const ADJECTIVES: &[&str] = &[
    "Neon", "Chrome", "Holo", "Quantum", "Retro", "Cyber", "Glitch", "Laser", "Plasma", "Synth",
    "Vapor", "Pixel", "Orbit", "Nova", "Static", "Circuit",
];
const NOUNS: &[&str] = &[
    "Lamp",
    "Sign",
    "Rug",
    "Speaker",
    "Poster",
    "Clock",
    "Mirror",
    "Shelf",
    "Cushion",
    "Vase",
    "Lightstrip",
    "Mug",
    "Blanket",
    "Planter",
    "Figurine",
    "Keyboard",
];
const COLORS: &[&str] = &["Magenta", "Cyan", "Yellow", "Violet", "Lime", "Chrome"];
const SIZES: &[&str] = &["S", "M", "L"];
const PROVIDERS: [SupplierProvider; 3] = [
    SupplierProvider::Aliexpress,
    SupplierProvider::CjDropshipping,
    SupplierProvider::Spocket,
];

/// Generates the bulk volume; `progress` is called with the number of products written so
/// far after every batch.
///
/// # Errors
/// Any error of the domain calls; the store being written is rolled back whole.
pub async fn generate(
    db: &DatabaseConnection,
    options: &BulkOptions,
    hasher: &PasswordHasher,
    mut progress: impl FnMut(u64),
) -> Result<BulkReport> {
    let mut rng = ChaCha8Rng::seed_from_u64(options.rng_seed);
    let mut report = BulkReport::default();
    let batch_size = options.batch_size.max(1);
    for s in 0..options.stores {
        let email = Email::parse(&format!("bulk-{}-{s}@example.com", options.rng_seed))?;
        let slug = format!("bulk-{}-{s}", options.rng_seed);
        // The random stream advances the same way whether the store is written or skipped.
        let mut store_rng = ChaCha8Rng::seed_from_u64(rng.random());
        if users::find_by_email(db, &email).await?.is_some() {
            report.stores_skipped += 1;
            report.products += u64::from(options.products_per_store);
            progress(report.products);
            continue;
        }
        let txn = db.begin().await?;
        let owner = users::create(
            &txn,
            hasher,
            NewUser {
                email,
                password: Password::parse(BULK_PASSWORD)?,
                name: Some(DisplayName::parse(&format!("Bulk Owner {s}"))?),
                image: None,
            },
        )
        .await?;
        let store = stores::create(
            &txn,
            owner.id,
            NewStore {
                name: format!(
                    "{} {} Store {s}",
                    pick(&mut store_rng, ADJECTIVES),
                    pick(&mut store_rng, NOUNS)
                ),
                niche: "Cyberpunk home decor".into(),
                description: None,
                slug: Some(Slug::parse("stores.slug", &slug)?),
                subdomain: Some(Subdomain::parse(&slug)?),
            },
        )
        .await?;
        let scope = StoreScope::obtain(&txn, owner.id, store.id).await?;
        stores::transition(&txn, &scope, StoreStatus::PendingReview).await?;
        stores::transition(&txn, &scope, StoreStatus::Active).await?;

        let mut written = 0u32;
        while written < options.products_per_store {
            let n = (options.products_per_store - written)
                .min(u32::try_from(batch_size).unwrap_or(u32::MAX));
            let batch = (written..written + n)
                .map(|i| product(&mut store_rng, s, i))
                .collect::<Result<Vec<NewProduct>>>()?;
            products::create_many(&txn, &scope, batch).await?;
            written += n;
            progress(report.products + u64::from(written));
        }

        for k in 0..5 {
            let (media_type, name) = if k == 0 {
                (MediaType::Logo, "logo")
            } else {
                (MediaType::Image, "banner")
            };
            media_assets::create(
                &txn,
                &scope,
                NewMediaAsset {
                    media_type,
                    filename: format!("{name}-{k}.png"),
                    mime_type: "image/png".into(),
                    size: store_rng.random_range(10_000..5_000_000),
                    url: HttpUrl::parse(
                        "media_assets.url",
                        &format!("https://cdn.example.com/bulk/{s}/{name}-{k}.png"),
                    )?,
                    original_url: None,
                    metadata: None,
                },
            )
            .await?;
        }
        jobs::create_many(
            &txn,
            &scope,
            [
                NewJob::new(JobInput::BrandGenerator(BrandBrief {
                    niche: "Cyberpunk home decor".into(),
                    tone: "futuristic".into(),
                    store_name: None,
                })),
                NewJob::new(JobInput::ProductScout(ProductSearch {
                    provider: PROVIDERS[store_rng.random_range(0..PROVIDERS.len())],
                    query: format!(
                        "{} {}",
                        pick(&mut store_rng, ADJECTIVES),
                        pick(&mut store_rng, NOUNS)
                    )
                    .to_lowercase(),
                    limit: 20,
                })),
            ],
        )
        .await?;
        txn.commit().await?;
        report.stores_created += 1;
        report.products += u64::from(options.products_per_store);
    }
    Ok(report)
}

fn pick<'a>(rng: &mut ChaCha8Rng, items: &[&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

fn cents(rng: &mut ChaCha8Rng, low: i64, high: i64) -> Decimal {
    Decimal::new(rng.random_range(low..high), 2)
}

/// Product `i` of store `s`: distinct titles (so distinct slugs), 3 variants, 2 images.
fn product(rng: &mut ChaCha8Rng, s: u32, i: u32) -> Result<NewProduct> {
    let title = format!("{} {} {i}", pick(rng, ADJECTIVES), pick(rng, NOUNS));
    let price = cents(rng, 500, 20_000);
    let cost = (price * Decimal::new(rng.random_range(35..70), 2)).round_dp(2);
    let provider = PROVIDERS[rng.random_range(0..PROVIDERS.len())];
    let (cost, price) = (
        Money::parse("products.cost_price", cost)?,
        Money::parse("products.selling_price", price)?,
    );
    let mut new = NewProduct::new(provider, format!("bulk-{s}-{i}"), title, cost, price);
    new.description = "Generated for load tests.".into();
    if rng.random_bool(0.3) {
        new.compare_at_price = Some(Money::parse(
            "products.compare_at_price",
            price.amount() + cents(rng, 100, 5_000),
        )?);
    }
    new.status = Some(if rng.random_bool(0.5) {
        ProductStatus::Active
    } else {
        ProductStatus::Draft
    });
    new.variants = (0..3)
        .map(|v| {
            Ok(NewVariant {
                sku: Some(Sku::parse(
                    "product_variants.sku",
                    &format!("B{s}-{i}-{v}"),
                )?),
                title: format!("{} / {}", COLORS[v % COLORS.len()], SIZES[v % SIZES.len()]),
                price,
                cost_price: cost,
                stock: rng.random_range(0..50),
                options: BTreeMap::from([
                    ("color".to_owned(), COLORS[v % COLORS.len()].to_owned()),
                    ("size".to_owned(), SIZES[v % SIZES.len()].to_owned()),
                ]),
            })
        })
        .collect::<Result<_>>()?;
    new.images = (0..2)
        .map(|k| {
            HttpUrl::parse(
                "product_images.original_url",
                &format!("https://cdn.example.com/bulk/{s}/{i}/{k}.jpg"),
            )
            .map(NewImage::new)
        })
        .collect::<Result<_>>()?;
    Ok(new)
}
