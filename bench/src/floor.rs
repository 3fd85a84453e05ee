//! The floor Postgres allows for the job queue on this machine: pgbench running the claim and
//! completion statements (`pgbench/claim_complete.sql`) with 8 clients.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The pgbench script, shipped beside the bench.
pub const SCRIPT: &str = include_str!("../pgbench/claim_complete.sql");
/// pgbench clients, like the bench's workers.
pub const CLIENTS: u32 = 8;

/// Where pgbench is: `BENCH_PGBENCH`, then `PATH`, then the Debian and PGDG install
/// directories (`/usr/lib/postgresql/<version>/bin`), newest version first.
pub fn find_pgbench(given: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = given {
        return path.is_file().then(|| path.to_path_buf());
    }
    let in_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("pgbench"))
            .find(|p| p.is_file())
    });
    in_path.or_else(|| {
        let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin/pgbench")))
            .filter(|p| p.is_file())
            .collect();
        found.sort();
        found.pop()
    })
}

/// What one pgbench run gave.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Floor {
    /// Transactions (claim + complete) per second, without connection time.
    pub tps: f64,
    /// Transactions run.
    pub transactions: u64,
    /// Wall-clock seconds of the run.
    pub seconds: f64,
}

/// Runs the script with [`CLIENTS`] clients, `per_client` transactions each, against `url`
/// (the queue must hold enough PENDING jobs). An error says what went wrong, with pgbench's
/// own words.
///
/// # Errors
/// pgbench could not run, failed, or printed no rate.
pub fn run(pgbench: &Path, url: &str, per_client: u64) -> Result<Floor, String> {
    let script = std::env::temp_dir().join(format!(
        "zyenta-bench-claim-complete-{}.sql",
        std::process::id()
    ));
    std::fs::write(&script, SCRIPT).map_err(|e| format!("writing {}: {e}", script.display()))?;
    let started = std::time::Instant::now();
    let output = Command::new(pgbench)
        .args(["-n", "-M", "prepared", "-j", "2"])
        .arg("-c")
        .arg(CLIENTS.to_string())
        .arg("-t")
        .arg(per_client.to_string())
        .arg("-f")
        .arg(&script)
        .arg(url)
        .output();
    let seconds = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&script);
    let output = output.map_err(|e| format!("running {}: {e}", pgbench.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!(
            "pgbench failed ({}): {}",
            output.status,
            stderr.lines().rev().take(5).collect::<Vec<_>>().join(" | ")
        ));
    }
    let tps = stdout
        .lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.trim_start_matches("tps = ").split_whitespace().next())
        .and_then(|n| n.parse::<f64>().ok())
        .ok_or_else(|| format!("no tps in pgbench's output: {stdout}"))?;
    let transactions = stdout
        .lines()
        .find(|l| l.starts_with("number of transactions actually processed:"))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|n| n.split('/').next())
        .and_then(|n| n.trim().parse::<u64>().ok())
        .unwrap_or(0);
    Ok(Floor {
        tps,
        transactions,
        seconds,
    })
}
