//! `cargo run -p seed`: migrate the configured database (by default the SQLite file
//! `zyenta.db` in the working directory), create the demo data (idempotent), and show what the
//! database holds. `--stores N --products M` adds bulk volume; `--reset` empties it first.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use domain::crypto::KeyRing;
use domain::users::{Argon2Params, PasswordHasher};
use domain::{Config, DatabaseConnection};
use indicatif::{ProgressBar, ProgressStyle};
use seed::bulk::{self, BulkOptions};
use seed::demo::{self, Outcome};

/// Migrate the database, seed the demo data, optionally add bulk volume, and report.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Drop every table of the schema and migrate again before seeding.
    #[arg(long)]
    reset: bool,
    /// Bulk volume: this many stores (each with its own owner).
    #[arg(long, requires = "products")]
    stores: Option<u32>,
    /// Bulk volume: this many products per store.
    #[arg(long, requires = "stores")]
    products: Option<u32>,
    /// Seed of the bulk data's random choices: the same seed gives the same data.
    #[arg(long, default_value_t = 42)]
    rng_seed: u64,
    /// Products per multi-row insert in bulk mode.
    #[arg(long, default_value_t = bulk::DEFAULT_BATCH_SIZE)]
    batch_size: usize,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    // The configuration is read (and `.env` loaded) before logging starts, so that
    // DATABASE_LOG_QUERIES can choose the default filter.
    let config = Config::from_env();
    let filter = config
        .as_ref()
        .map(Config::default_log_filter)
        .unwrap_or_else(|_| "warn".into());
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| filter.into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let url = config
        .as_ref()
        .map(|c| c.database_url.clone())
        .unwrap_or_default();
    match run(config, args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // Whatever a driver quoted, the password of the URL never reaches the terminal.
            eprintln!(
                "seed failed: {}",
                migration::connection::scrub(&err.to_string(), &url)
            );
            eprintln!("nothing was left half-written: each step is one transaction.");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: domain::Result<Config>, args: Args) -> domain::Result<()> {
    let mut config = config?;
    // Seeding always brings the schema up to date first.
    config.migrate_on_start = true;
    println!("database: {}", config.redacted_url());
    // Everything that can be checked is checked before the first write: the key (required in
    // production) and the hasher come before connect, which migrates.
    let hasher = PasswordHasher::new(Argon2Params::OWASP)?;
    let keys = KeyRing::from_env()?;
    let db = domain::connect(&config).await?;
    if args.reset {
        migration::runner::run(&db, migration::runner::Operation::Refresh).await?;
        println!("reset: every table dropped and migrated again");
    }
    println!("migrations: up to date");

    match demo::seed(&db, &hasher, &keys).await? {
        Outcome::Created { .. } => println!("demo data: created"),
        Outcome::AlreadySeeded { .. } => println!("demo data: already there, nothing changed"),
    }

    if let (Some(stores), Some(products)) = (args.stores, args.products) {
        let options = BulkOptions {
            stores,
            products_per_store: products,
            rng_seed: args.rng_seed,
            batch_size: args.batch_size,
        };
        run_bulk(&db, &options, &hasher).await?;
    }

    println!();
    print!(
        "{}",
        seed::report::render(&seed::report::counts(&db).await?)
    );
    println!();
    println!(
        "sign in as {} with the password {}",
        demo::TEST_EMAIL,
        demo::TEST_PASSWORD
    );
    println!(
        "the demo store is \"Test Cyberpunk Store\" (subdomain {})",
        demo::TEST_STORE_SLUG
    );
    Ok(())
}

async fn run_bulk(
    db: &DatabaseConnection,
    options: &BulkOptions,
    hasher: &PasswordHasher,
) -> domain::Result<()> {
    let total = u64::from(options.stores) * u64::from(options.products_per_store);
    println!(
        "bulk: {} stores x {} products (rng seed {})",
        options.stores, options.products_per_store, options.rng_seed
    );
    let started = std::time::Instant::now();
    let report = if std::io::stdout().is_terminal() {
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} products {per_sec} eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let report = bulk::generate(db, options, hasher, |done| bar.set_position(done)).await?;
        bar.finish();
        report
    } else {
        // Plain lines, about every tenth, for logs and pipes.
        let step = (total / 10).max(1);
        let mut next = step;
        bulk::generate(db, options, hasher, |done| {
            if done >= next || done == total {
                println!("bulk: {done}/{total} products");
                next = done + step;
            }
        })
        .await?
    };
    println!(
        "bulk: {} stores created, {} already there, {} products in {:.1}s",
        report.stores_created,
        report.stores_skipped,
        report.products,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
