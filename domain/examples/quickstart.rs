//! The main flows of the data layer, end to end, on whatever `DATABASE_URL` names (by default
//! the embedded SQLite file `zyenta.db` in the working directory):
//!
//! register and sign in → connect a supplier → create a store with a brand identity → import
//! products → enqueue a brand-generator job → run a worker that processes it with progress.
//!
//! ```sh
//! cargo run -p domain --example quickstart
//! ```
//!
//! Every run uses a new user, so it can be run again on the same database.

use std::time::Duration;

use domain::agent_jobs::{
    self as jobs, AgentType, BrandBrief, BrandIdentity, JobFailure, JobInput, JobOutput, NewJob,
    Wakeup, Worker, WorkerId, WorkerOptions,
};
use domain::crypto::{KeyRing, Secret};
use domain::money::Money;
use domain::products::images::NewImage;
use domain::products::variants::NewVariant;
use domain::products::{self, NewProduct, ProductStatus, Sku, SupplierProvider};
use domain::stores::{self, NewStore, StorePatch};
use domain::supplier_accounts::{self, ApiKey, ApiSecret, NewSupplierAccount};
use domain::users::{self, Argon2Params, Email, NewUser, Password, PasswordHasher, sessions};
use domain::values::HttpUrl;
use domain::{Config, Result, StoreScope};
use rust_decimal::Decimal;

#[tokio::main]
async fn main() -> Result<()> {
    let mut config = Config::from_env()?;
    config.migrate_on_start = true;
    let db = domain::connect(&config).await?;
    println!(
        "connected to {} (round trip {:?})",
        config.redacted_url(),
        domain::health(&db).await?
    );

    // 1. Register and sign in. The hasher is built once per process (argon2id, OWASP cost).
    let hasher = PasswordHasher::new(Argon2Params::OWASP)?;
    let email = Email::parse(&format!(
        "Merchant+{}@Example.com",
        uuid::Uuid::now_v7().simple()
    ))?;
    let password = Password::parse("a long and secret passphrase")?;
    let user = users::create(
        &db,
        &hasher,
        NewUser {
            email: email.clone(),
            password: password.clone(),
            name: None,
            image: None,
        },
    )
    .await?;
    let signed_in = users::authenticate(&db, &hasher, &email, &password).await?;
    let session = sessions::create(&db, signed_in.id, Duration::from_secs(3600)).await?;
    let resolved = sessions::find_by_token(&db, session.token.expose()).await?;
    println!(
        "1. registered {} and signed in (session resolves: {})",
        user.email,
        resolved.is_some()
    );

    // 2. Connect a supplier: the credentials are encrypted at rest and read back explicitly.
    let keys = KeyRing::from_env()?;
    let supplier = supplier_accounts::create(
        &db,
        &keys,
        user.id,
        NewSupplierAccount {
            provider: SupplierProvider::Aliexpress,
            api_key: ApiKey::parse(Secret::new("quickstart-app-key"))?,
            api_secret: Some(ApiSecret::parse(Secret::new("quickstart-app-secret"))?),
            account_id: None,
        },
    )
    .await?;
    let credentials = supplier_accounts::get_credentials(&db, &keys, user.id, supplier.id).await?;
    println!(
        "2. connected {:?} (key decrypts: {})",
        supplier.provider,
        credentials.api_key.expose() == "quickstart-app-key"
    );

    // 3. A store with its brand identity; the standard legal pages come with it.
    let store = stores::create(
        &db,
        user.id,
        NewStore {
            name: "Neon Quickstart".into(),
            niche: "Cyberpunk home decor".into(),
            ..Default::default()
        },
    )
    .await?;
    let scope = StoreScope::obtain(&db, user.id, store.id).await?;
    let brand = BrandIdentity::parse(
        "NeonNest",
        ["#FF00FF", "#00FFFF", "#FFFF00"],
        ["Orbitron", "Inter"],
        "futuristic",
        None,
    )?;
    stores::update(
        &db,
        &scope,
        StorePatch {
            brand_identity: Some(Some(brand)),
            ..Default::default()
        },
    )
    .await?;
    println!(
        "3. created store {} at subdomain {}",
        store.name, store.subdomain
    );

    // 4. Import products from the supplier: idempotent by source id.
    for (source_id, title, cents) in [
        ("QS-1", "Holo Desk Lamp", 3_999),
        ("QS-2", "Circuit Rug", 5_400),
    ] {
        // Inputs hold parsed values: a bad price, SKU or URL is refused here, naming its field.
        let price = Money::parse("products.selling_price", Decimal::new(cents, 2))?;
        let cost = Money::parse("products.cost_price", Decimal::new(cents / 3, 2))?;
        let mut product =
            NewProduct::new(SupplierProvider::Aliexpress, source_id, title, cost, price);
        product.status = Some(ProductStatus::Active);
        let mut variant = NewVariant::new("Standard", price, cost);
        variant.sku = Some(Sku::parse(
            "product_variants.sku",
            &format!("{source_id}-STD"),
        )?);
        variant.stock = 12;
        product.variants.push(variant);
        product.images.push(NewImage {
            original_url: HttpUrl::parse(
                "product_images.original_url",
                &format!("https://cdn.example.com/{source_id}.jpg"),
            )?,
            alt_text: Some(title.into()),
        });
        let (imported, outcome) = products::import(&db, &scope, product).await?;
        println!(
            "4. {outcome:?} {} ({} at {}, stock {})",
            imported.title, imported.slug, imported.selling_price, imported.stock_quantity
        );
    }

    // 5. Enqueue a brand-generator job for the store.
    let job = jobs::create(
        &db,
        &scope,
        NewJob::new(JobInput::BrandGenerator(BrandBrief {
            niche: "Cyberpunk home decor".into(),
            tone: "futuristic".into(),
            store_name: Some(store.name.clone()),
        }))
        .priority(10),
    )
    .await?;
    println!("5. enqueued job {} ({:?})", job.id, job.status);

    // 6. A worker processes it, reporting progress, and stops once it is done.
    let wakeup = Wakeup::listen(&db).await?;
    let worker = Worker::new(WorkerId::generate("quickstart")).only([AgentType::BrandGenerator]);
    let done = std::sync::Arc::new(tokio::sync::Notify::new());
    let finished = done.clone();
    let our_job = job.id;
    let stats = worker
        .run(
            &db,
            &wakeup,
            &WorkerOptions::default(),
            async move { finished.notified().await },
            |claimed, db| {
                let done = done.clone();
                Box::pin(async move {
                    let JobInput::BrandGenerator(brief) = claimed.input().clone() else {
                        return Err(JobFailure::permanent("not a brand brief"));
                    };
                    for (percent, step) in [
                        (25, "reading the niche"),
                        (60, "choosing colours"),
                        (90, "pairing fonts"),
                    ] {
                        claimed.update_progress(db, percent, Some(step)).await?;
                        println!("   progress {percent:>3}%  {step}");
                    }
                    let brand = BrandIdentity::parse(
                        "NeonNest",
                        ["#FF00FF", "#00FFFF", "#FFFF00"],
                        ["Orbitron", "Inter"],
                        &brief.tone,
                        None,
                    )
                    .map_err(|e| JobFailure::permanent(e.to_string()))?;
                    // Other brand jobs may be waiting in a shared database: stop after ours.
                    if claimed.id() == our_job {
                        done.notify_one();
                    }
                    Ok(JobOutput::BrandGenerator(brand))
                })
            },
        )
        .await;
    let job = jobs::get(&db, &scope, job.id).await?;
    println!(
        "6. worker finished: {stats:?}; job is {:?} at {}%",
        job.status,
        job.progress.percent()
    );
    if let Some(JobOutput::BrandGenerator(brand)) = job.output {
        println!(
            "   generated brand {} with primary colour {}",
            brand.name(),
            brand.colors().primary.as_str()
        );
    }
    Ok(())
}
