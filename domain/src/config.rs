//! Configuration from the environment, with defaults that work with nothing set.

use std::time::Duration;

use crate::error::{ConfigProblem, Error, Result};

/// The embedded default: a SQLite file in the working directory, created on first use (the
/// same constant the migration CLI uses).
pub const DEFAULT_DATABASE_URL: &str = migration::connection::DEFAULT_DATABASE_URL;
/// Connections in the pool unless `DATABASE_POOL_SIZE` says otherwise.
pub const DEFAULT_POOL_SIZE: u32 = 10;
/// How long a caller waits for a pooled connection before giving up.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// Statements slower than this are logged at WARN.
pub const DEFAULT_SLOW_QUERY_THRESHOLD: Duration = Duration::from_millis(500);
/// The largest pool `DATABASE_POOL_SIZE` accepts.
pub const MAX_POOL_SIZE: u32 = 1_000;

/// How to reach the database and how to behave on it.
///
/// Built by [`Config::from_env`] (every field has an environment variable and a default), or
/// by [`Config::new`] and the public fields. `Debug` hides the password of the URL.
#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    /// `DATABASE_URL`: `postgres://…`, `mysql://…` or `sqlite:…`; default
    /// [`DEFAULT_DATABASE_URL`].
    pub database_url: String,
    /// `DATABASE_POOL_SIZE`: the most connections the pool opens. An in-memory SQLite database
    /// always gets one connection (each connection would otherwise see its own database).
    pub pool_size: u32,
    /// `DATABASE_ACQUIRE_TIMEOUT_MS`: how long to wait for a free connection.
    pub acquire_timeout: Duration,
    /// `DATABASE_LOG_QUERIES`: log every statement at INFO through `tracing` (target
    /// `sqlx::query`; see [`Config::default_log_filter`]).
    pub log_queries: bool,
    /// `DATABASE_SLOW_QUERY_MS`: statements slower than this are logged at WARN.
    pub slow_query_threshold: Duration,
    /// `DATABASE_MIGRATE_ON_START`: apply pending migrations in [`crate::connect`]. Off by
    /// default: production applies migrations as a deployment step (`sea-orm-cli migrate up`).
    pub migrate_on_start: bool,
}

impl Config {
    /// A configuration for `database_url` with every other setting at its default.
    pub fn new(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            pool_size: DEFAULT_POOL_SIZE,
            acquire_timeout: DEFAULT_ACQUIRE_TIMEOUT,
            log_queries: false,
            slow_query_threshold: DEFAULT_SLOW_QUERY_THRESHOLD,
            migrate_on_start: false,
        }
    }

    /// Reads the configuration from the process environment, after loading `.env` from the
    /// working directory or a parent (variables already set win); every binary of the
    /// workspace, the migration CLI included, reads it the same way.
    ///
    /// # Errors
    /// [`Error::Config`] naming the variable when a value is set but unusable.
    pub fn from_env() -> Result<Self> {
        migration::connection::load_env_file();
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests).
    ///
    /// # Errors
    /// [`Error::Config`] naming the variable when a value is set but unusable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let mut config =
            Self::new(get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.into()));
        if !migration::connection::SUPPORTED_SCHEMES
            .iter()
            .any(|scheme| config.database_url.starts_with(scheme))
        {
            return Err(config_error("DATABASE_URL", ConfigProblem::UnsupportedUrl));
        }
        if let Some(v) = get("DATABASE_POOL_SIZE") {
            config.pool_size =
                u32::try_from(number("DATABASE_POOL_SIZE", &v, 1, MAX_POOL_SIZE.into())?)
                    .unwrap_or(MAX_POOL_SIZE);
        }
        if let Some(v) = get("DATABASE_ACQUIRE_TIMEOUT_MS") {
            config.acquire_timeout =
                Duration::from_millis(number("DATABASE_ACQUIRE_TIMEOUT_MS", &v, 1, 3_600_000)?);
        }
        if let Some(v) = get("DATABASE_LOG_QUERIES") {
            config.log_queries = boolean("DATABASE_LOG_QUERIES", &v)?;
        }
        if let Some(v) = get("DATABASE_SLOW_QUERY_MS") {
            config.slow_query_threshold =
                Duration::from_millis(number("DATABASE_SLOW_QUERY_MS", &v, 0, 3_600_000)?);
        }
        if let Some(v) = get("DATABASE_MIGRATE_ON_START") {
            config.migrate_on_start = boolean("DATABASE_MIGRATE_ON_START", &v)?;
        }
        Ok(config)
    }

    /// The URL with its password replaced by `***`, for logs.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.database_url)
    }
}

impl Config {
    /// The `tracing` filter a binary uses when `RUST_LOG` is unset: warnings, plus every
    /// statement (target `sqlx::query`, level INFO) when `DATABASE_LOG_QUERIES` is on, so that
    /// the variable shows the statements without touching `RUST_LOG`.
    pub fn default_log_filter(&self) -> String {
        if self.log_queries {
            "warn,sqlx::query=info".to_owned()
        } else {
            "warn".to_owned()
        }
    }

    /// `text` without the URL's password, in any form it may have been quoted in (see
    /// [`migration::connection::scrub`]); binaries pass every error message through it.
    pub fn scrub(&self, text: &str) -> String {
        migration::connection::scrub(text, &self.database_url)
    }
}

/// The deployment environment, `ZYENTA_ENV`: `production`, `development` (the default) or
/// `test`. Production makes a missing encryption key an error and refuses the operator
/// commands that destroy data (`zyenta-admin truncate`; `migration fresh`, `refresh`, `reset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Environment {
    /// A live deployment.
    Production,
    /// A developer's machine (the default).
    #[default]
    Development,
    /// A test run.
    Test,
}

impl Environment {
    /// Reads `ZYENTA_ENV` (after `.env`, like [`Config::from_env`]).
    ///
    /// # Errors
    /// [`Error::Config`] naming `ZYENTA_ENV` when it is set to anything else.
    pub fn from_env() -> Result<Self> {
        migration::connection::load_env_file();
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads `ZYENTA_ENV` through `lookup`.
    ///
    /// # Errors
    /// [`Error::Config`] naming `ZYENTA_ENV` when it is set to anything else.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        match lookup(crate::crypto::ENVIRONMENT_VARIABLE)
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("" | "development") => Ok(Self::Development),
            Some("test") => Ok(Self::Test),
            Some("production") => Ok(Self::Production),
            Some(_) => Err(config_error(
                crate::crypto::ENVIRONMENT_VARIABLE,
                ConfigProblem::UnknownEnvironment,
            )),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::new(DEFAULT_DATABASE_URL)
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &self.redacted_url())
            .field("pool_size", &self.pool_size)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("log_queries", &self.log_queries)
            .field("slow_query_threshold", &self.slow_query_threshold)
            .field("migrate_on_start", &self.migrate_on_start)
            .finish()
    }
}

/// `scheme://user:secret@host/db` → `scheme://user:***@host/db`, for any URL, malformed ones
/// included (see [`migration::connection::redact_url`]).
pub(crate) fn redact_url(url: &str) -> String {
    migration::connection::redact_url(url)
}

fn config_error(variable: &'static str, reason: ConfigProblem) -> Error {
    Error::Config { variable, reason }
}

fn number(variable: &'static str, value: &str, min: u64, max: u64) -> Result<u64> {
    let n: u64 = value
        .trim()
        .parse()
        .map_err(|_| config_error(variable, ConfigProblem::NotANumber))?;
    if n < min || n > max {
        return Err(config_error(
            variable,
            ConfigProblem::OutOfRange { min, max },
        ));
    }
    Ok(n)
}

fn boolean(variable: &'static str, value: &str) -> Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(config_error(variable, ConfigProblem::NotABool)),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn from(pairs: &[(&str, &str)]) -> Result<Config> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn nothing_set_gives_the_sqlite_file_in_the_working_directory() {
        let config = from(&[]).expect("defaults");
        assert_eq!(config, Config::default());
        assert_eq!(config.database_url, "sqlite://zyenta.db?mode=rwc");
    }

    #[test]
    fn every_variable_is_read() {
        let config = from(&[
            ("DATABASE_URL", "postgres://app@db/zyenta"),
            ("DATABASE_POOL_SIZE", "32"),
            ("DATABASE_ACQUIRE_TIMEOUT_MS", "250"),
            ("DATABASE_LOG_QUERIES", "yes"),
            ("DATABASE_SLOW_QUERY_MS", "40"),
            ("DATABASE_MIGRATE_ON_START", "true"),
        ])
        .expect("valid");
        assert_eq!(config.database_url, "postgres://app@db/zyenta");
        assert_eq!(config.pool_size, 32);
        assert_eq!(config.acquire_timeout, Duration::from_millis(250));
        assert!(config.log_queries);
        assert_eq!(config.slow_query_threshold, Duration::from_millis(40));
        assert!(config.migrate_on_start);
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        let err = from(&[("DATABASE_POOL_SIZE", "lots")]).expect_err("not a number");
        assert!(matches!(
            err,
            Error::Config {
                variable: "DATABASE_POOL_SIZE",
                reason: ConfigProblem::NotANumber
            }
        ));
        let err = from(&[("DATABASE_POOL_SIZE", "0")]).expect_err("zero");
        assert!(matches!(
            err,
            Error::Config {
                variable: "DATABASE_POOL_SIZE",
                reason: ConfigProblem::OutOfRange { min: 1, .. }
            }
        ));
        let err = from(&[("DATABASE_MIGRATE_ON_START", "maybe")]).expect_err("not a bool");
        assert!(matches!(
            err,
            Error::Config {
                variable: "DATABASE_MIGRATE_ON_START",
                reason: ConfigProblem::NotABool
            }
        ));
        let err = from(&[("DATABASE_URL", "redis://localhost")]).expect_err("scheme");
        assert!(matches!(
            err,
            Error::Config {
                variable: "DATABASE_URL",
                reason: ConfigProblem::UnsupportedUrl
            }
        ));
    }

    #[test]
    fn debug_output_hides_the_password_of_the_url() {
        let config = Config::new("postgres://app:s3cr3t-pw@db:5432/zyenta?sslmode=require");
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cr3t-pw"), "{shown}");
        assert!(shown.contains("postgres://app:***@db:5432/zyenta?sslmode=require"));
        assert_eq!(
            redact_url("sqlite://zyenta.db?mode=rwc"),
            "sqlite://zyenta.db?mode=rwc"
        );
        assert_eq!(redact_url("mysql://root@db/x"), "mysql://root@db/x");
    }
}
