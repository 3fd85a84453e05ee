//! A service starting up, for the tests that start several at once: reads the configuration
//! like every binary (`.env`, `DATABASE_URL`, …), connects with migrate-on-start, and prints
//! the migration status. Exit status 0 when it started.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let config = domain::Config::from_env();
    // Logging as a service sets it up: RUST_LOG, else the configuration's default filter.
    let filter = config
        .as_ref()
        .map(domain::Config::default_log_filter)
        .unwrap_or_else(|_| "warn".into());
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| filter.into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let result: domain::Result<()> = async {
        let mut config = config?;
        config.migrate_on_start = true;
        let db = domain::connect(&config).await?;
        let status = domain::migration_status(&db).await?;
        println!(
            "started: {} applied, {} pending, {} unknown",
            status.applied.len(),
            status.pending.len(),
            status.unknown.len()
        );
        domain::Result::Ok(())
    }
    .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let url = std::env::var("DATABASE_URL").unwrap_or_default();
            eprintln!(
                "start failed: {}",
                migration::connection::scrub(&err.to_string(), &url)
            );
            ExitCode::FAILURE
        }
    }
}
