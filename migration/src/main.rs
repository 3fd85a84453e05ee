//! The migration CLI: `sea-orm-cli migrate up|down|status|fresh|refresh|reset` runs it
//! (`cargo run --manifest-path ./migration/Cargo.toml -- <sub>`), and in production it runs as a
//! built binary, without cargo or the source tree: `migration up`.
//!
//! It reads its configuration like every binary of the workspace: `.env` first (never over a
//! variable that is set), `DATABASE_URL` (default: the SQLite file `zyenta.db` in the working
//! directory) or `-u <url>`, `DATABASE_ACQUIRE_TIMEOUT_MS` for the first connection. It changes
//! the schema under a database-wide lock, refuses to change a schema that a newer build
//! migrated, and reports failures as one message that never contains the password.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use migration::connection::{self, DEFAULT_DATABASE_URL, SUPPORTED_SCHEMES};
use migration::runner::{self, Operation, Status};
use migration::sea_orm::{ConnectOptions, Database};

/// Apply, roll back and inspect the Zyenta schema's migrations.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Show debug messages.
    #[arg(short = 'v', long, global = true)]
    verbose: bool,
    /// Database schema (accepted for sea-orm-cli; the schema is the URL's default one).
    #[arg(
        short = 's',
        long,
        global = true,
        env = "DATABASE_SCHEMA",
        hide_env_values = true
    )]
    database_schema: Option<String>,
    /// Database URL [default: $DATABASE_URL, else sqlite://zyenta.db?mode=rwc].
    #[arg(short = 'u', long, global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show applied, pending and unknown migrations (changes nothing).
    Status,
    /// Apply pending migrations (the default).
    Up {
        /// Apply only this many.
        #[arg(short = 'n', long)]
        num: Option<u32>,
    },
    /// Roll back applied migrations (one by default).
    Down {
        /// Roll back this many.
        #[arg(short = 'n', long, default_value_t = 1)]
        num: u32,
    },
    /// Drop every table, then apply every migration (destroys data).
    Fresh,
    /// Roll back every migration, then apply every one (destroys data).
    Refresh,
    /// Roll back every migration (destroys data).
    Reset,
}

#[tokio::main]
async fn main() -> ExitCode {
    connection::load_env_file();
    let cli = Cli::parse();
    let filter = if cli.verbose {
        "sea_orm_migration=debug,migration=debug"
    } else {
        "sea_orm_migration=info"
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .without_time()
        .with_writer(std::io::stderr)
        .init();
    let url = cli
        .database_url
        .clone()
        .or_else(|| std::env::var("DATABASE_URL").ok())
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
    match run(&cli, &url).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            // Every message passes through scrub: whatever the driver quoted, no password.
            eprintln!("migration failed: {}", connection::scrub(&message, &url));
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: &Cli, url: &str) -> Result<(), String> {
    if !SUPPORTED_SCHEMES.iter().any(|s| url.starts_with(s)) {
        return Err("DATABASE_URL: expected a postgres://, mysql:// or sqlite: URL".into());
    }
    let timeout = match std::env::var("DATABASE_ACQUIRE_TIMEOUT_MS") {
        Ok(v) if !v.trim().is_empty() => Duration::from_millis(
            v.trim()
                .parse::<u64>()
                .ok()
                .filter(|ms| (1..=3_600_000).contains(ms))
                .ok_or(
                    "DATABASE_ACQUIRE_TIMEOUT_MS: expected a whole number between 1 and 3600000",
                )?,
        ),
        _ => Duration::from_secs(5),
    };
    // Dropping every table is refused in production, before connecting (ZYENTA_ENV as in
    // every binary; `down` stays available for a deliberate rollback).
    if matches!(
        cli.command,
        Some(Command::Fresh | Command::Refresh | Command::Reset)
    ) && std::env::var("ZYENTA_ENV").is_ok_and(|v| v.trim().eq_ignore_ascii_case("production"))
    {
        return Err(
            "fresh, refresh and reset drop every table: refused when ZYENTA_ENV=production".into(),
        );
    }
    println!("database: {}", connection::redact_url(url));
    connection::probe(url, timeout)
        .await
        .map_err(|e| e.to_string())?;
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(2)
        .acquire_timeout(timeout)
        .connect_timeout(timeout)
        .sqlx_logging(false);
    let db = Database::connect(options)
        .await
        .map_err(|e| connection::diagnose(url, &e).to_string())?;
    let operation = match cli.command {
        Some(Command::Status) => {
            let status = runner::status(&db).await.map_err(|e| e.to_string())?;
            print_status(&status);
            return Ok(());
        }
        None => Operation::Up(None),
        Some(Command::Up { num }) => Operation::Up(num),
        Some(Command::Down { num }) => Operation::Down(Some(num)),
        Some(Command::Fresh) => Operation::Fresh,
        Some(Command::Refresh) => Operation::Refresh,
        Some(Command::Reset) => Operation::Reset,
    };
    let outcome = runner::run(&db, operation)
        .await
        .map_err(|e| e.to_string())?;
    db.close().await.ok();
    if outcome.before == outcome.after && matches!(operation, Operation::Up(_)) {
        println!(
            "nothing to apply: {} migrations applied",
            outcome.after.applied.len()
        );
    }
    print_status(&outcome.after);
    Ok(())
}

fn print_status(status: &Status) {
    for name in &status.applied {
        println!("applied  {name}");
    }
    for name in &status.pending {
        println!("pending  {name}");
    }
    for name in &status.unknown {
        println!("unknown  {name}  (applied by a newer build)");
    }
    println!(
        "{} applied, {} pending, {} unknown",
        status.applied.len(),
        status.pending.len(),
        status.unknown.len()
    );
}
