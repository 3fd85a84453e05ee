//! What the bench is told through the environment.

use std::path::PathBuf;

use crate::BenchResult;

/// The settings of one invocation, read from the environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `BENCH_DATABASE_URL`, or a temporary SQLite file when unset.
    pub database_url: String,
    /// Whether the database is Postgres (the sqlx baseline and pgbench need it).
    pub postgres: bool,
    /// `BENCH_RUNS`: how many times the whole suite runs; medians are printed at the end.
    pub runs: usize,
    /// `BENCH_SCALE=1`: the scale mode instead of the suite.
    pub scale: bool,
    /// `BENCH_SCALE_SMALL`: products at the small volume of the scale mode.
    pub scale_small: u64,
    /// `BENCH_SCALE_LARGE`: products at the large volume of the scale mode.
    pub scale_large: u64,
    /// `BENCH_PGBENCH`: the pgbench binary; otherwise searched in `PATH` and the Postgres
    /// install directories.
    pub pgbench: Option<PathBuf>,
    /// `BENCH_ONLY`: comma-separated workload names to time (all when unset); the others
    /// still prepare their data where later workloads need it.
    pub only: Option<Vec<String>>,
    /// The temporary SQLite file, removed at the end.
    pub temp_file: Option<PathBuf>,
}

impl Settings {
    /// Reads the settings.
    ///
    /// # Errors
    /// A message naming the variable whose value is unusable.
    pub fn from_env() -> BenchResult<Self> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let number = |name: &str, default: u64| -> BenchResult<u64> {
            match var(name) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .replace('_', "")
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("{name}: expected a positive number, got {v:?}")),
            }
        };
        let (database_url, temp_file) = match var("BENCH_DATABASE_URL") {
            Some(url) => (url, None),
            None => {
                let path =
                    std::env::temp_dir().join(format!("zyenta-bench-{}.db", std::process::id()));
                (format!("sqlite://{}?mode=rwc", path.display()), Some(path))
            }
        };
        let postgres =
            database_url.starts_with("postgres://") || database_url.starts_with("postgresql://");
        let scale = matches!(
            var("BENCH_SCALE")
                .as_deref()
                .map(str::to_ascii_lowercase)
                .as_deref(),
            Some("1" | "true" | "yes" | "on")
        );
        Ok(Self {
            database_url,
            postgres,
            runs: usize::try_from(number("BENCH_RUNS", 3)?).unwrap_or(3),
            scale,
            scale_small: number("BENCH_SCALE_SMALL", 10_000)?,
            scale_large: number("BENCH_SCALE_LARGE", 1_000_000)?,
            pgbench: var("BENCH_PGBENCH").map(PathBuf::from),
            only: var("BENCH_ONLY").map(|v| {
                v.split(',')
                    .map(|w| w.trim().to_owned())
                    .filter(|w| !w.is_empty())
                    .collect()
            }),
            temp_file,
        })
    }

    /// Whether `workload` is to be timed.
    pub fn wants(&self, workload: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|w| w == workload))
    }

    /// The URL with its password hidden, for the header.
    pub fn shown_url(&self) -> String {
        domain::Config::new(self.database_url.clone()).redacted_url()
    }
}
