//! `zyenta-admin`: the operator's commands on a Zyenta database (see the crate's library for
//! what each does). Built once (`cargo build --release -p admin`), it runs in production
//! without cargo or the source tree: `zyenta-admin migrate`.
//!
//! Configuration as in every binary of the workspace: `.env`, then `DATABASE_URL` and the
//! other `DATABASE_*` variables, `ZYENTA_ENV`. Errors are one line on stderr, never with the
//! password, and exit status 1.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use domain::Config;
use domain::config::Environment;

/// Operator commands for the Zyenta database named by DATABASE_URL.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Health and round trip, migrations applied / pending / unknown, rows per table.
    Status {
        /// Exit with status 2 when migrations are pending or unknown.
        #[arg(long)]
        require_current: bool,
    },
    /// Apply pending migrations under the database-wide lock.
    Migrate,
    /// Delete every row of every table (schema kept). Refused when ZYENTA_ENV=production.
    Truncate {
        /// Confirm: this deletes all data.
        #[arg(long)]
        yes: bool,
    },
    /// Write a backup: pg_dump custom format, mysqldump SQL, or a SQLite copy.
    Dump {
        /// The backup file to create (never overwritten).
        file: PathBuf,
    },
    /// Restore a backup made by `dump` into an empty database, then rescue the jobs that were
    /// PROCESSING when it was taken.
    Restore {
        /// The backup file.
        file: PathBuf,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
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
    match run(cli, config).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!(
                "zyenta-admin: {}",
                migration::connection::scrub(&err.to_string(), &url)
            );
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli, config: domain::Result<Config>) -> admin::Result<ExitCode> {
    let mut config = config?;
    // Checked before anything is written.
    let environment = Environment::from_env()?;
    if let Command::Truncate { yes } = &cli.command {
        if environment == Environment::Production {
            return Err(admin::AdminError::RefusedInProduction {
                command: "truncate",
            });
        }
        if !yes {
            eprintln!("truncate deletes every row of every table: run it again with --yes");
            return Ok(ExitCode::from(2));
        }
    }
    config.migrate_on_start = false;
    let db = domain::connect(&config).await?;
    match cli.command {
        Command::Status { require_current } => {
            let report = admin::status(&config, &db).await?;
            print!("{report}");
            let current =
                report.migrations.pending.is_empty() && report.migrations.unknown.is_empty();
            if require_current && !current {
                return Ok(ExitCode::from(2));
            }
        }
        Command::Migrate => {
            let before = domain::migration_status(&db).await?;
            domain::migrate(&db).await?;
            let after = domain::migration_status(&db).await?;
            println!(
                "migrations: {} applied now, {} in all, {} pending, {} unknown",
                before.pending.len() - after.pending.len(),
                after.applied.len(),
                after.pending.len(),
                after.unknown.len()
            );
        }
        Command::Truncate { .. } => {
            let tables = admin::truncate(&db, environment).await?;
            println!("truncate: every row of {tables} tables deleted");
        }
        Command::Dump { file } => {
            admin::dump(&config, &db, &file).await?;
            println!("dump: {} written", file.display());
        }
        Command::Restore { file } => {
            admin::restore(&config, &db, &file).await?;
            let rescued = admin::rescue_after_restore(&db).await?;
            let status = domain::migration_status(&db).await?;
            println!(
                "restore: {} restored; {} job(s) that were PROCESSING requeued, {} failed \
                 (attempts spent); migrations {} applied, {} pending",
                file.display(),
                rescued.requeued,
                rescued.failed,
                status.applied.len(),
                status.pending.len()
            );
        }
    }
    db.close().await.ok();
    Ok(ExitCode::SUCCESS)
}
