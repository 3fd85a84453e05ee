//! Which replicas to use and how: the settings and their environment variables.

use std::time::Duration;

use crate::config::redact_url;
use crate::error::{ConfigProblem, Error, Result};

/// A replica whose lag exceeds this is skipped, unless `DATABASE_REPLICA_MAX_LAG_MS` says
/// otherwise.
pub const DEFAULT_MAX_LAG: Duration = Duration::from_secs(1);
/// How long a read carrying a [`super::WriteMark`] may wait for a replica to replay past it, unless
/// `DATABASE_REPLICA_WAIT_MS` says otherwise.
pub const DEFAULT_WAIT: Duration = Duration::from_millis(50);
/// How often the router probes each replica (health, replay position, lag) and samples the
/// primary's WAL position.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(100);
/// While a marked read waits, how often it asks the replica for its replay position.
pub const WAIT_STEP: Duration = Duration::from_millis(2);
/// How long a statement waits for a replica connection before it goes to the primary instead.
/// Short on purpose: with the replica down, every new connection is refused, and the pool would
/// otherwise retry until its acquire timeout.
pub const REPLICA_ACQUIRE_TIMEOUT: Duration = Duration::from_millis(250);
/// The largest `DATABASE_REPLICA_MAX_LAG_MS` and `DATABASE_REPLICA_WAIT_MS`.
pub const MAX_SETTING_MS: u64 = 3_600_000;

/// Which replicas to use and how.
///
/// `Debug` hides the passwords of the URLs.
#[derive(Clone, PartialEq, Eq)]
pub struct ReplicaConfig {
    /// `DATABASE_REPLICA_URLS`: the replicas' URLs, comma-separated (`postgres://…`); none by
    /// default, so every read goes to the primary.
    pub urls: Vec<String>,
    /// `DATABASE_REPLICA_MAX_LAG_MS`: a replica that lags more is skipped until it catches up;
    /// default [`DEFAULT_MAX_LAG`].
    pub max_lag: Duration,
    /// `DATABASE_REPLICA_WAIT_MS`: how long a marked read may wait for a replica before it
    /// reads from the primary; default [`DEFAULT_WAIT`]. 0 never waits.
    pub wait: Duration,
    /// How often replicas are probed; [`DEFAULT_POLL_INTERVAL`] (no variable).
    pub poll_interval: Duration,
}

impl Default for ReplicaConfig {
    fn default() -> Self {
        Self {
            urls: Vec::new(),
            max_lag: DEFAULT_MAX_LAG,
            wait: DEFAULT_WAIT,
            poll_interval: DEFAULT_POLL_INTERVAL,
        }
    }
}

impl std::fmt::Debug for ReplicaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let urls: Vec<String> = self.urls.iter().map(|u| redact_url(u)).collect();
        f.debug_struct("ReplicaConfig")
            .field("urls", &urls)
            .field("max_lag", &self.max_lag)
            .field("wait", &self.wait)
            .field("poll_interval", &self.poll_interval)
            .finish()
    }
}

impl ReplicaConfig {
    /// Reads `DATABASE_REPLICA_URLS`, `DATABASE_REPLICA_MAX_LAG_MS` and
    /// `DATABASE_REPLICA_WAIT_MS` from the process environment.
    ///
    /// # Errors
    /// [`Error::Config`] naming the variable when a value is set but unusable.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the same variables through `lookup` (the environment, or a map in tests).
    ///
    /// # Errors
    /// [`Error::Config`] naming the variable: a URL that is not `postgres://`, `mysql://` or
    /// `sqlite:` ([`ConfigProblem::UnsupportedUrl`]), a duration that is not a whole number of
    /// milliseconds or is above [`MAX_SETTING_MS`].
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let mut config = Self::default();
        if let Some(list) = get("DATABASE_REPLICA_URLS") {
            for url in list.split(',').map(str::trim).filter(|u| !u.is_empty()) {
                if !is_supported_url(url) {
                    return Err(config_error(
                        "DATABASE_REPLICA_URLS",
                        ConfigProblem::UnsupportedUrl,
                    ));
                }
                config.urls.push(url.to_owned());
            }
        }
        if let Some(v) = get("DATABASE_REPLICA_MAX_LAG_MS") {
            config.max_lag = millis("DATABASE_REPLICA_MAX_LAG_MS", &v)?;
        }
        if let Some(v) = get("DATABASE_REPLICA_WAIT_MS") {
            config.wait = millis("DATABASE_REPLICA_WAIT_MS", &v)?;
        }
        Ok(config)
    }
}

fn is_supported_url(url: &str) -> bool {
    [
        "postgres://",
        "postgresql://",
        "mysql://",
        "mariadb://",
        "sqlite:",
    ]
    .iter()
    .any(|scheme| url.starts_with(scheme))
}

pub(super) fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

pub(super) fn config_error(variable: &'static str, reason: ConfigProblem) -> Error {
    Error::Config { variable, reason }
}

fn millis(variable: &'static str, value: &str) -> Result<Duration> {
    let n: u64 = value
        .trim()
        .parse()
        .map_err(|_| config_error(variable, ConfigProblem::NotANumber))?;
    if n > MAX_SETTING_MS {
        return Err(config_error(
            variable,
            ConfigProblem::OutOfRange {
                min: 0,
                max: MAX_SETTING_MS,
            },
        ));
    }
    Ok(Duration::from_millis(n))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn from(pairs: &[(&str, &str)]) -> Result<ReplicaConfig> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ReplicaConfig::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn nothing_set_means_no_replicas_and_the_documented_bounds() {
        let config = from(&[]).expect("defaults");
        assert_eq!(config, ReplicaConfig::default());
        assert!(config.urls.is_empty());
        assert_eq!(config.max_lag, Duration::from_secs(1));
        assert_eq!(config.wait, Duration::from_millis(50));
    }

    #[test]
    fn every_variable_is_read() {
        let config = from(&[
            (
                "DATABASE_REPLICA_URLS",
                " postgres://app:pw@r1/z , postgresql://r2/z,",
            ),
            ("DATABASE_REPLICA_MAX_LAG_MS", "250"),
            ("DATABASE_REPLICA_WAIT_MS", "0"),
        ])
        .expect("valid");
        assert_eq!(config.urls, ["postgres://app:pw@r1/z", "postgresql://r2/z"]);
        assert_eq!(config.max_lag, Duration::from_millis(250));
        assert_eq!(config.wait, Duration::ZERO);
    }

    #[test]
    fn bad_values_name_their_variable() {
        assert!(matches!(
            from(&[("DATABASE_REPLICA_URLS", "postgres://a/b,http://c/d")]),
            Err(Error::Config {
                variable: "DATABASE_REPLICA_URLS",
                reason: ConfigProblem::UnsupportedUrl
            })
        ));
        assert!(matches!(
            from(&[("DATABASE_REPLICA_WAIT_MS", "-1")]),
            Err(Error::Config {
                variable: "DATABASE_REPLICA_WAIT_MS",
                reason: ConfigProblem::NotANumber
            })
        ));
        assert!(matches!(
            from(&[("DATABASE_REPLICA_MAX_LAG_MS", "3600001")]),
            Err(Error::Config {
                variable: "DATABASE_REPLICA_MAX_LAG_MS",
                reason: ConfigProblem::OutOfRange {
                    min: 0,
                    max: 3_600_000
                }
            })
        ));
        assert!(from(&[("DATABASE_REPLICA_MAX_LAG_MS", "3600000")]).is_ok());
    }

    #[test]
    fn debug_hides_replica_passwords() {
        let config = from(&[("DATABASE_REPLICA_URLS", "postgres://app:s3cret@r1/z")]).expect("ok");
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("app:***@r1"), "{shown}");
    }
}
