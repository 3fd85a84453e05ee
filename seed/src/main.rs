//! `cargo run -p seed`: migrate the configured database (by default the SQLite file
//! `zyenta.db` in the working directory) and show what it holds, table by table.

use std::process::ExitCode;

use domain::{Config, DatabaseConnection};
use sea_orm::{EntityTrait, PaginatorTrait};

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("seed: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> domain::Result<()> {
    let mut config = Config::from_env()?;
    config.migrate_on_start = true;
    println!("database: {}", config.redacted_url());
    let db = domain::connect(&config).await?;
    println!("migrations: up to date");
    print_counts(&db).await
}

async fn print_counts(db: &DatabaseConnection) -> domain::Result<()> {
    use entity::prelude::*;
    let counts = [
        ("users", Users::find().count(db).await?),
        ("accounts", Accounts::find().count(db).await?),
        ("sessions", Sessions::find().count(db).await?),
        (
            "verification_tokens",
            VerificationTokens::find().count(db).await?,
        ),
        (
            "supplier_accounts",
            SupplierAccounts::find().count(db).await?,
        ),
        ("stores", Stores::find().count(db).await?),
        ("products", Products::find().count(db).await?),
        ("product_variants", ProductVariants::find().count(db).await?),
        ("product_images", ProductImages::find().count(db).await?),
        ("pages", Pages::find().count(db).await?),
        ("media_assets", MediaAssets::find().count(db).await?),
        ("agent_jobs", AgentJobs::find().count(db).await?),
    ];
    println!("{:<22}{:>8}", "table", "rows");
    for (table, rows) in counts {
        println!("{table:<22}{rows:>8}");
    }
    Ok(())
}
