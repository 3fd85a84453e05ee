//! `cargo run -p studio`: serve the database of `DATABASE_URL` (the same configuration as
//! `seed`) on <http://127.0.0.1:5555>, read-only unless started with `--write`.

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

use clap::Parser;
use domain::Config;
use studio::{DEFAULT_BIND, DEFAULT_PORT, MIN_TOKEN_LEN, Studio, TOKEN_VARIABLE};

/// A browser view of the Zyenta data: read-only unless --write, secrets never shown.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The port to listen on.
    #[arg(long, default_value_t = DEFAULT_PORT)]
    port: u16,
    /// The address to listen on. Anything but loopback requires ZYENTA_STUDIO_TOKEN.
    #[arg(long, default_value = DEFAULT_BIND)]
    bind: IpAddr,
    /// Allow the domain actions (cancel or retry a job, status moves, stock, soft-delete and
    /// restore), each through `domain`. Without it the database session is read-only.
    #[arg(long)]
    write: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("studio: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let token = std::env::var(TOKEN_VARIABLE)
        .ok()
        .filter(|t| !t.trim().is_empty());
    let access_token = if args.bind.is_loopback() {
        None
    } else {
        match token {
            Some(t) if t.chars().count() >= MIN_TOKEN_LEN => Some(t),
            Some(_) => {
                return Err(format!(
                    "{TOKEN_VARIABLE} must have at least {MIN_TOKEN_LEN} characters"
                ));
            }
            None => {
                return Err(format!(
                    "binding to {} (not loopback) requires an access token: set {TOKEN_VARIABLE}",
                    args.bind
                ));
            }
        }
    };
    let config = Config::from_env().map_err(|e| format!("configuration: {e}"))?;
    let db = studio::open(&config, args.write)
        .await
        .map_err(|e| format!("cannot open {}: {e}", config.redacted_url()))?;
    let state = Studio::new(db, args.write, access_token.clone()).map_err(|e| e.to_string())?;
    let address = SocketAddr::new(args.bind, args.port);
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| format!("cannot listen on {address}: {e}"))?;
    println!("database: {}", config.redacted_url());
    println!(
        "mode: {}",
        if args.write {
            "WRITE: domain actions allowed (cancel/retry jobs, status moves, stock, soft-delete)"
        } else {
            "read-only (the database session refuses writes; start with --write to allow domain actions)"
        }
    );
    if access_token.is_some() {
        println!(
            "access: not loopback, every request needs the token of {TOKEN_VARIABLE} \
             (HTTP Basic password or Bearer)"
        );
    }
    println!("studio: http://{address}");
    axum::serve(listener, studio::router(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| e.to_string())
}
