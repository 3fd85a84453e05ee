//! The router: the primary for writes, read connections for reads.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend, DbErr};

use super::config::{config_error, is_postgres_url};
use super::health::{Inner, Replica, ReplicaState, monitor, query_lsn};
use super::{
    REPLICA_ACQUIRE_TIMEOUT, ReadConnection, ReadStats, ReplicaConfig, ReplicaStatus, WriteMark,
};
use crate::config::{Config, redact_url};
use crate::error::{ConfigProblem, Error, Result};

/// Hands out the primary for writes and transactions and read connections for reads; probes the
/// replicas in the background. Cheap to clone (one shared state); the probing stops when the
/// last clone is dropped.
#[derive(Debug, Clone)]
pub struct Router {
    inner: Arc<Inner>,
}

impl Router {
    /// Connects to the primary (as [`crate::connect`] does, migrations included) and to the
    /// replicas, probes the replicas once and starts probing them every
    /// [`ReplicaConfig::poll_interval`]. A replica that cannot be reached is not an error: it
    /// is skipped until it answers.
    ///
    /// # Errors
    /// [`Error::Database`] when the primary cannot be reached; [`Error::Config`] naming
    /// `DATABASE_REPLICA_URLS` when the primary is Postgres and a replica URL is not.
    #[tracing::instrument(skip_all, err)]
    pub async fn connect(config: &Config, replicas: &ReplicaConfig) -> Result<Router> {
        let primary = crate::connect(config).await?;
        Self::with_primary(primary, config, replicas).await
    }

    /// Like [`Router::connect`], with a primary pool the caller already has (`config` gives the
    /// replicas' pool size and logging).
    ///
    /// # Errors
    /// [`Error::Config`] naming `DATABASE_REPLICA_URLS` when the primary is Postgres and a
    /// replica URL is not; [`Error::Database`] for a malformed replica URL.
    pub async fn with_primary(
        primary: DatabaseConnection,
        config: &Config,
        replicas: &ReplicaConfig,
    ) -> Result<Router> {
        let mut pools = Vec::new();
        if primary.get_database_backend() == DbBackend::Postgres {
            for url in &replicas.urls {
                if !is_postgres_url(url) {
                    return Err(config_error(
                        "DATABASE_REPLICA_URLS",
                        ConfigProblem::UnsupportedUrl,
                    ));
                }
                pools.push(Replica {
                    db: connect_replica(url, config).await?,
                    url: redact_url(url),
                    state: Mutex::new(ReplicaState::default()),
                });
            }
        } else if !replicas.urls.is_empty() {
            tracing::warn!(
                replicas = replicas.urls.len(),
                "read replicas are used with a PostgreSQL primary only: every read goes to the primary"
            );
        }
        let inner = Arc::new(Inner {
            primary,
            replicas: pools,
            max_lag: replicas.max_lag,
            wait: replicas.wait,
            poll_interval: replicas.poll_interval.max(Duration::from_millis(1)),
            samples: Mutex::new(VecDeque::new()),
            next: AtomicUsize::new(0),
            replica_reads: AtomicU64::new(0),
            primary_reads: AtomicU64::new(0),
            fallbacks: AtomicU64::new(0),
            monitor: Mutex::new(None),
        });
        if !inner.replicas.is_empty() {
            inner.poll().await;
            let weak = Arc::downgrade(&inner);
            let task = tokio::spawn(monitor(weak, inner.poll_interval));
            *inner
                .monitor
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(task);
        }
        Ok(Router { inner })
    }

    /// The primary: for writes, transactions (`begin()`), and reads that must be current.
    pub fn primary(&self) -> &DatabaseConnection {
        &self.inner.primary
    }

    /// The mark of every write committed on the primary so far (call it after the commit).
    ///
    /// # Errors
    /// [`Error::Database`] when the primary does not answer.
    #[tracing::instrument(skip_all, err)]
    pub async fn mark(&self) -> Result<WriteMark> {
        if self.inner.primary.get_database_backend() != DbBackend::Postgres {
            return Ok(WriteMark::PRIMARY);
        }
        let lsn = query_lsn(
            &self.inner.primary,
            "SELECT pg_current_wal_insert_lsn()::text",
        )
        .await?
        .ok_or_else(|| Error::Database(DbErr::Custom("no WAL insert position".into())))?;
        Ok(WriteMark::at_lsn(lsn))
    }

    /// A connection for reads that need not see any particular write: a usable replica (in
    /// turn), or the primary when there is none.
    pub fn read(&self) -> ReadConnection {
        let target = self.inner.pick(|_| true).map_or(PRIMARY, |i| i);
        self.read_connection(target)
    }

    /// A connection for reads that must see the writes before `mark` (none: like
    /// [`Router::read`]): a replica that has replayed past the mark, waiting for one at most
    /// [`ReplicaConfig::wait`], else the primary. Never fails: the worst case is the primary.
    pub async fn read_after(&self, mark: Option<&WriteMark>) -> ReadConnection {
        let Some(mark) = mark else {
            return self.read();
        };
        let target = match mark.lsn() {
            Some(lsn) if !self.inner.replicas.is_empty() => self.inner.replica_past(lsn).await,
            _ => None,
        };
        self.read_connection(target.unwrap_or(PRIMARY))
    }

    fn read_connection(&self, target: usize) -> ReadConnection {
        ReadConnection {
            inner: Arc::clone(&self.inner),
            target: AtomicUsize::new(target),
        }
    }

    /// The statements read connections ran, by who answered them.
    pub fn stats(&self) -> ReadStats {
        ReadStats {
            replica: self.inner.replica_reads.load(Ordering::Relaxed),
            primary: self.inner.primary_reads.load(Ordering::Relaxed),
            fallbacks: self.inner.fallbacks.load(Ordering::Relaxed),
        }
    }

    /// What the router knows about each replica (empty with a SQLite or MariaDB primary).
    pub fn replicas(&self) -> Vec<ReplicaStatus> {
        self.inner
            .replicas
            .iter()
            .map(|r| {
                let state = r.state();
                ReplicaStatus {
                    url: r.url.clone(),
                    usable: state.up && state.lag.is_some_and(|lag| lag <= self.inner.max_lag),
                    replay_lsn: state.replay_lsn,
                    lag: state.lag,
                }
            })
            .collect()
    }
}

/// The index that stands for the primary in a read connection's target.
pub(super) const PRIMARY: usize = usize::MAX;

async fn connect_replica(url: &str, config: &Config) -> Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(config.pool_size)
        .min_connections(0)
        .acquire_timeout(REPLICA_ACQUIRE_TIMEOUT)
        .connect_timeout(REPLICA_ACQUIRE_TIMEOUT)
        .test_before_acquire_if_idle_for(crate::db::PING_IF_IDLE_FOR)
        // A replica that is down at start-up is skipped, not an error.
        .connect_lazy(true)
        .sqlx_logging(true)
        .sqlx_logging_level(if config.log_queries {
            log::LevelFilter::Debug
        } else {
            log::LevelFilter::Off
        })
        .sqlx_slow_statements_logging_settings(log::LevelFilter::Warn, config.slow_query_threshold);
    Ok(Database::connect(options).await?)
}
