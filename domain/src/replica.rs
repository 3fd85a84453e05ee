//! Read replicas: writes and transactions on the primary, reads on streaming replicas, and
//! read-your-writes through write marks.
//!
//! A service builds one [`Router`] ([`Router::connect`] with a [`ReplicaConfig`], usually
//! [`ReplicaConfig::from_env`]) and hands the repositories either
//! - [`Router::primary`] for writes and transactions (a plain pool: `begin()` works on it), or
//! - a [`ReadConnection`] from [`Router::read`] / [`Router::read_after`] for reads. It
//!   implements [`ConnectionTrait`], so the same repository functions take it: a service
//!   chooses per call or per request, with no duplicate functions.
//!
//! ```no_run
//! # async fn example(config: &domain::Config, scope: &domain::StoreScope,
//! #                  new: domain::products::NewProduct) -> domain::Result<()> {
//! use domain::replica::{ReplicaConfig, Router, WriteMark};
//! let router = Router::connect(config, &ReplicaConfig::from_env()?).await?;
//!
//! // A write, then its mark, kept in the user's session (serde, or `WriteMark::encode`).
//! let product = domain::products::create(router.primary(), scope, new).await?;
//! let mark: WriteMark = router.mark().await?;
//!
//! // The next request of that user reads with the mark: it sees its own write.
//! let db = router.read_after(Some(&mark)).await;
//! let again = domain::products::get(&db, scope, product.id).await?;
//! # Ok(()) }
//! ```
//!
//! # Configuration
//! [`ReplicaConfig::from_env`] reads `DATABASE_REPLICA_URLS` (comma-separated; none: every
//! read goes to the primary), `DATABASE_REPLICA_MAX_LAG_MS` (default 1000,
//! [`DEFAULT_MAX_LAG`]) and `DATABASE_REPLICA_WAIT_MS` (default 50, [`DEFAULT_WAIT`]). Lagging
//! or failed replicas are skipped and callers never see their errors.
//!
//! The contract tests use a real streaming replica: `.ci/replica.sh up` starts one on port
//! 5433 (`TEST_REPLICA_URL=postgres://postgres@127.0.0.1:5433/postgres`), `.ci/replica.sh
//! down` removes it. The bench's `replica_reads` workload (`BENCH_ONLY=replica_reads`)
//! measures the share of reads the replica serves. The replica setup in detail, and the plan
//! for sharding by store with Citus (per table, with the test that holds the schema to it):
//! `docs/scale-out.md` in the repository.
//!
//! # Read-your-writes
//! On Postgres a [`WriteMark`] is the primary's WAL insert position, taken after the write
//! committed (`pg_current_wal_insert_lsn()`), so it is at or after the commit record. A read
//! that carries it goes to a replica only once that replica's replay position
//! (`pg_last_wal_replay_lsn()`) is at or past the mark; from then on the replica's snapshots
//! contain the write. The router keeps each replica's last known replay position (polled every
//! [`ReplicaConfig::poll_interval`]):
//! 1. a healthy replica already known to be past the mark serves the read at once;
//! 2. otherwise, if a healthy replica lags by no more than [`ReplicaConfig::wait`] (so it can be
//!    expected to catch up within it), the router asks it for its replay position every
//!    [`WAIT_STEP`] until it is past the mark, for at most `wait` (default
//!    [`DEFAULT_WAIT`], 50 ms: the bound on the extra latency of a marked read);
//! 3. otherwise the primary serves the read, without waiting: a replica that lags by 500 ms
//!    costs a marked read nothing.
//!
//! # Unhealthy replicas
//! A replica is used only while its last probe succeeded, it is still in recovery (a promoted
//! replica is no longer a copy of this primary) and its lag is at most
//! [`ReplicaConfig::max_lag`]. The lag is measured against the primary: the router samples the
//! primary's flushed WAL position at every poll and takes as lag the age of the oldest sample
//! the replica has not replayed yet (0 when it has replayed all of them, so an idle system has
//! no lag). A statement that fails on a replica is run again on the primary, and the caller
//! gets the primary's answer; when the primary succeeds where the replica failed, the replica
//! is set aside until its next successful probe (every `poll_interval`), so an outage moves the
//! reads to the primary within one failed statement and back within one poll after recovery.
//! Reads are idempotent, so running one again is safe.
//!
//! # What a read connection sends to a replica
//! Only `SELECT` statements without a row lock (`FOR UPDATE`, `FOR SHARE`, …) that come
//! through `query_one_raw`/`query_all_raw`; anything else (`execute*`, `INSERT … RETURNING`, a
//! data-modifying `WITH`) goes to the primary, so a write through a read connection still
//! works, on the primary. Once one statement of a read connection fell back to the primary,
//! the rest of its statements stay there.
//!
//! # Other backends
//! Streaming replicas are a PostgreSQL feature here. With a SQLite or MariaDB primary the
//! router ignores configured replicas (with a warning) and sends everything to the primary,
//! with the same API; marks carry no position there.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, ExecResult,
    QueryResult, Statement,
};

use crate::config::{Config, redact_url};
use crate::error::{ConfigProblem, Error, Result, Violation};

/// A replica whose lag exceeds this is skipped, unless `DATABASE_REPLICA_MAX_LAG_MS` says
/// otherwise.
pub const DEFAULT_MAX_LAG: Duration = Duration::from_secs(1);
/// How long a read carrying a [`WriteMark`] may wait for a replica to replay past it, unless
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

fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

fn config_error(variable: &'static str, reason: ConfigProblem) -> Error {
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

/// Where a write left the primary: a read that carries it sees that write.
///
/// On Postgres, a WAL position (LSN); on SQLite and MariaDB no position (reads that carry such
/// a mark go to the primary, as every read does there). Carry it across requests as text
/// ([`WriteMark::encode`] / [`WriteMark::parse`], e.g. `pg:16/B374D848`) or through serde (the
/// same text). Keep the latest of several with [`WriteMark::latest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WriteMark {
    lsn: Option<u64>,
}

impl WriteMark {
    /// A mark with no position: a read carrying it always goes to the primary.
    pub const PRIMARY: WriteMark = WriteMark { lsn: None };

    /// A mark at a Postgres WAL position.
    pub fn at_lsn(lsn: u64) -> Self {
        Self { lsn: Some(lsn) }
    }

    /// The Postgres WAL position, if the mark has one.
    pub fn lsn(&self) -> Option<u64> {
        self.lsn
    }

    /// The later of two marks (a mark without position counts as the latest: it sends reads
    /// to the primary).
    #[must_use]
    pub fn latest(self, other: WriteMark) -> WriteMark {
        match (self.lsn, other.lsn) {
            (Some(a), Some(b)) => WriteMark::at_lsn(a.max(b)),
            _ => WriteMark::PRIMARY,
        }
    }

    /// The mark as text: `pg:<hi>/<lo>` (Postgres' LSN notation) or `primary`.
    pub fn encode(&self) -> String {
        match self.lsn {
            Some(lsn) => format!("pg:{}", format_lsn(lsn)),
            None => "primary".to_owned(),
        }
    }

    /// Reads a mark written by [`WriteMark::encode`].
    ///
    /// # Errors
    /// [`Error::Invalid`] with field `write_mark` and [`Violation::Format`] for anything else.
    pub fn parse(text: &str) -> Result<Self> {
        let invalid = || Error::Invalid {
            field: "write_mark",
            violation: Violation::Format,
        };
        if text == "primary" {
            return Ok(WriteMark::PRIMARY);
        }
        let lsn = text.strip_prefix("pg:").ok_or_else(invalid)?;
        parse_lsn(lsn).map(WriteMark::at_lsn).ok_or_else(invalid)
    }
}

impl From<WriteMark> for String {
    fn from(mark: WriteMark) -> String {
        mark.encode()
    }
}

impl TryFrom<String> for WriteMark {
    type Error = Error;
    fn try_from(text: String) -> Result<Self> {
        WriteMark::parse(&text)
    }
}

/// `16/B374D848` → 0x16_B374D848. Exactly Postgres' text form: hex digits only, one slash,
/// each half at most 8 digits.
fn parse_lsn(text: &str) -> Option<u64> {
    let (hi, lo) = text.split_once('/')?;
    let half = |s: &str| {
        if s.is_empty() || s.len() > 8 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(s, 16).ok()
    };
    Some((u64::from(half(hi)?) << 32) | u64::from(half(lo)?))
}

fn format_lsn(lsn: u64) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn & 0xFFFF_FFFF)
}

/// Which server answered a read connection's statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServedBy {
    /// The primary.
    Primary,
    /// The replica at this index of [`ReplicaConfig::urls`].
    Replica(usize),
}

/// Counters of the statements read connections ran, since the router was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReadStats {
    /// Statements a replica answered.
    pub replica: u64,
    /// Statements the primary answered (writes through a read connection included).
    pub primary: u64,
    /// Statements that failed on a replica and were answered by the primary.
    pub fallbacks: u64,
}

impl ReadStats {
    /// The share of statements a replica answered (0 when there were none).
    pub fn replica_share(&self) -> f64 {
        let total = self.replica + self.primary;
        if total == 0 {
            0.0
        } else {
            // Counts far below 2^52: exact as f64.
            self.replica as f64 / total as f64
        }
    }
}

/// What the router knows about one replica, for a health page or a test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaStatus {
    /// The replica's URL, password hidden.
    pub url: String,
    /// Whether reads go to it now.
    pub usable: bool,
    /// Its replay position at the last probe (Postgres LSN).
    pub replay_lsn: Option<u64>,
    /// Its lag behind the primary at the last probe.
    pub lag: Option<Duration>,
}

#[derive(Debug, Default)]
struct ReplicaState {
    /// The last probe succeeded, the server is in recovery, and no statement failed on it since.
    up: bool,
    replay_lsn: Option<u64>,
    lag: Option<Duration>,
}

struct Replica {
    db: DatabaseConnection,
    url: String,
    state: Mutex<ReplicaState>,
}

impl Replica {
    fn state(&self) -> std::sync::MutexGuard<'_, ReplicaState> {
        // A panic while holding this lock leaves plain data behind: keep using it.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

struct Inner {
    primary: DatabaseConnection,
    replicas: Vec<Replica>,
    max_lag: Duration,
    wait: Duration,
    poll_interval: Duration,
    /// (when, the primary's flushed WAL position then), oldest first.
    samples: Mutex<VecDeque<(Instant, u64)>>,
    next: AtomicUsize,
    replica_reads: AtomicU64,
    primary_reads: AtomicU64,
    fallbacks: AtomicU64,
    monitor: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

// By hand: the pools' own `Debug` would show their connect options, passwords included.
impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let replicas: Vec<&str> = self.replicas.iter().map(|r| r.url.as_str()).collect();
        f.debug_struct("Router")
            .field("primary", &self.primary.get_database_backend())
            .field("replicas", &replicas)
            .field("max_lag", &self.max_lag)
            .field("wait", &self.wait)
            .field("poll_interval", &self.poll_interval)
            .finish_non_exhaustive()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = self
            .monitor
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        {
            task.abort();
        }
    }
}

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
        let target = match mark.lsn {
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
const PRIMARY: usize = usize::MAX;

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

async fn monitor(weak: Weak<Inner>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let Some(inner) = weak.upgrade() else {
            return;
        };
        inner.poll().await;
    }
}

/// Runs a query that answers one LSN as text (or NULL).
async fn query_lsn(db: &DatabaseConnection, sql: &str) -> Result<Option<u64>, DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await?;
    let text: Option<String> = match row {
        Some(row) => row.try_get_by_index(0)?,
        None => None,
    };
    text.map(|t| parse_lsn(&t).ok_or_else(|| DbErr::Custom(format!("not an LSN: {t}"))))
        .transpose()
}

impl Inner {
    /// One round of probing: the primary's flushed position, then every replica's state.
    async fn poll(self: &Arc<Self>) {
        let now = Instant::now();
        match query_lsn(&self.primary, "SELECT pg_current_wal_flush_lsn()::text").await {
            Ok(Some(lsn)) => {
                let mut samples = self
                    .samples
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                samples.push_back((now, lsn));
                // Older samples only matter to tell that a replica lags by more than max_lag.
                let keep = self.max_lag + self.wait + 4 * self.poll_interval;
                while samples
                    .front()
                    .is_some_and(|(at, _)| now.duration_since(*at) > keep)
                    && samples.len() > 1
                {
                    samples.pop_front();
                }
            }
            Ok(None) | Err(_) => {
                // The primary is the caller's business; the replicas keep their last state.
                return;
            }
        }
        let mut probes = tokio::task::JoinSet::new();
        for index in 0..self.replicas.len() {
            let inner = Arc::clone(self);
            probes.spawn(async move { inner.probe(index).await });
        }
        while probes.join_next().await.is_some() {}
    }

    async fn probe(&self, index: usize) {
        let replica = &self.replicas[index];
        let answer = replica
            .db
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text",
            ))
            .await
            .and_then(|row| {
                let row = row.ok_or_else(|| DbErr::Custom("no row".into()))?;
                let in_recovery: bool = row.try_get_by_index(0)?;
                let lsn: Option<String> = row.try_get_by_index(1)?;
                Ok((in_recovery, lsn.as_deref().and_then(parse_lsn)))
            });
        let mut state = replica.state();
        match answer {
            Ok((true, Some(lsn))) => {
                let lag = self.lag_of(lsn);
                if !state.up {
                    tracing::info!(replica = %replica.url, ?lag, "read replica answers");
                }
                state.up = true;
                state.replay_lsn = Some(state.replay_lsn.map_or(lsn, |old| old.max(lsn)));
                state.lag = Some(lag);
            }
            Ok(_) => {
                if state.up {
                    tracing::warn!(replica = %replica.url, "read replica is not in recovery: skipped");
                }
                state.up = false;
            }
            Err(err) => {
                if state.up {
                    tracing::warn!(replica = %replica.url, error = %err, "read replica does not answer: skipped");
                }
                state.up = false;
            }
        }
    }

    /// How long ago the primary had flushed WAL that `replay` does not contain yet.
    fn lag_of(&self, replay: u64) -> Duration {
        let samples = self
            .samples
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        samples
            .iter()
            .find(|(_, lsn)| *lsn > replay)
            .map_or(Duration::ZERO, |(at, _)| at.elapsed())
    }

    fn usable(&self, index: usize) -> bool {
        let state = self.replicas[index].state();
        state.up && state.lag.is_some_and(|lag| lag <= self.max_lag)
    }

    /// The next usable replica (round robin) that `accept`s, if any.
    fn pick(&self, accept: impl Fn(&ReplicaState) -> bool) -> Option<usize> {
        let count = self.replicas.len();
        if count == 0 {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..count)
            .map(|k| (start + k) % count)
            .find(|&i| self.usable(i) && accept(&self.replicas[i].state()))
    }

    /// A usable replica whose replay position is at or past `lsn`, waiting at most `wait`.
    async fn replica_past(&self, lsn: u64) -> Option<usize> {
        if let Some(i) = self.pick(|s| s.replay_lsn.is_some_and(|r| r >= lsn)) {
            return Some(i);
        }
        if self.wait.is_zero() {
            return None;
        }
        // Only replicas that can be expected to catch up within the bound are worth a wait.
        let hopeful: Vec<usize> = (0..self.replicas.len())
            .filter(|&i| {
                self.usable(i) && self.replicas[i].state().lag.is_some_and(|l| l <= self.wait)
            })
            .collect();
        if hopeful.is_empty() {
            return None;
        }
        let deadline = Instant::now() + self.wait;
        loop {
            for &i in &hopeful {
                let remaining = deadline.saturating_duration_since(Instant::now());
                let asked = tokio::time::timeout(
                    remaining,
                    query_lsn(
                        &self.replicas[i].db,
                        "SELECT pg_last_wal_replay_lsn()::text",
                    ),
                )
                .await;
                if let Ok(Ok(Some(replayed))) = asked {
                    let mut state = self.replicas[i].state();
                    state.replay_lsn = Some(state.replay_lsn.map_or(replayed, |r| r.max(replayed)));
                    if replayed >= lsn {
                        return Some(i);
                    }
                }
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return None;
            }
            tokio::time::sleep(remaining.min(WAIT_STEP)).await;
        }
    }

    /// A statement failed on replica `index` where the primary answered: skip the replica until
    /// its next successful probe.
    fn set_aside(&self, index: usize, err: &DbErr) {
        let replica = &self.replicas[index];
        let mut state = replica.state();
        if state.up {
            tracing::warn!(replica = %replica.url, error = %err, "read replica failed a statement: reads go to the primary");
        }
        state.up = false;
    }
}

/// A connection for reads, from [`Router::read`] or [`Router::read_after`]: pass `&it` to any
/// repository function that takes `&C: ConnectionTrait`.
///
/// Reads (`SELECT` without row locks) go to the replica chosen when it was handed out; anything
/// else, and every statement after a replica failure, goes to the primary. A replica failure is
/// never the caller's error: the statement is answered by the primary. Not a transaction: use
/// [`Router::primary`] for those.
#[derive(Debug)]
pub struct ReadConnection {
    inner: Arc<Inner>,
    target: AtomicUsize,
}

enum Query {
    One(Statement),
    All(Statement),
}

enum Answer {
    One(Option<QueryResult>),
    All(Vec<QueryResult>),
}

impl Query {
    fn statement(&self) -> &Statement {
        match self {
            Query::One(s) | Query::All(s) => s,
        }
    }

    async fn run(&self, db: &DatabaseConnection) -> Result<Answer, DbErr> {
        match self {
            Query::One(s) => db.query_one_raw(s.clone()).await.map(Answer::One),
            Query::All(s) => db.query_all_raw(s.clone()).await.map(Answer::All),
        }
    }
}

impl ReadConnection {
    /// Who answers this connection's reads now.
    pub fn served_by(&self) -> ServedBy {
        match self.target.load(Ordering::Relaxed) {
            PRIMARY => ServedBy::Primary,
            i => ServedBy::Replica(i),
        }
    }

    async fn on_primary(&self, query: &Query) -> Result<Answer, DbErr> {
        self.inner.primary_reads.fetch_add(1, Ordering::Relaxed);
        query.run(&self.inner.primary).await
    }

    async fn route(&self, query: Query) -> Result<Answer, DbErr> {
        let target = self.target.load(Ordering::Relaxed);
        if target == PRIMARY || !is_plain_select(&query.statement().sql) {
            return self.on_primary(&query).await;
        }
        match query.run(&self.inner.replicas[target].db).await {
            Ok(answer) => {
                self.inner.replica_reads.fetch_add(1, Ordering::Relaxed);
                Ok(answer)
            }
            Err(replica_err) => {
                self.target.store(PRIMARY, Ordering::Relaxed);
                self.inner.fallbacks.fetch_add(1, Ordering::Relaxed);
                let answer = self.on_primary(&query).await;
                if answer.is_ok() {
                    self.inner.set_aside(target, &replica_err);
                }
                answer
            }
        }
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for ReadConnection {
    fn get_database_backend(&self) -> DbBackend {
        self.inner.primary.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.inner.primary_reads.fetch_add(1, Ordering::Relaxed);
        self.inner.primary.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.inner.primary_reads.fetch_add(1, Ordering::Relaxed);
        self.inner.primary.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match self.route(Query::One(stmt)).await? {
            Answer::One(row) => Ok(row),
            Answer::All(_) => unreachable!("a single-row query answers one row"),
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self.route(Query::All(stmt)).await? {
            Answer::All(rows) => Ok(rows),
            Answer::One(_) => unreachable!("a many-row query answers rows"),
        }
    }
}

/// A `SELECT` that takes no row lock: safe on a hot standby.
fn is_plain_select(sql: &str) -> bool {
    let sql = sql.trim_start();
    let starts_with_select = sql
        .get(..6)
        .is_some_and(|head| head.eq_ignore_ascii_case("select"));
    starts_with_select
        && ![
            "FOR UPDATE",
            "FOR NO KEY UPDATE",
            "FOR SHARE",
            "FOR KEY SHARE",
        ]
        .iter()
        .any(|lock| contains_ignore_ascii_case(sql, lock))
}

fn contains_ignore_ascii_case(haystack: &str, needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
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

    #[test]
    fn lsn_text_round_trips_and_look_alikes_are_refused() {
        assert_eq!(parse_lsn("16/B374D848"), Some(0x16_B374_D848));
        assert_eq!(parse_lsn("0/0"), Some(0));
        assert_eq!(parse_lsn("FFFFFFFF/FFFFFFFF"), Some(u64::MAX));
        assert_eq!(format_lsn(0x16_B374_D848), "16/B374D848");
        for bad in [
            "",
            "/",
            "16/",
            "/1",
            "16B374D848",
            "1/2/3",
            "G/1",
            "+1/1",
            "1/-1",
            " 1/1",
            "100000000/0",
            "1/1\0",
            "１/1",
        ] {
            assert_eq!(parse_lsn(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn marks_encode_parse_and_serialise_as_the_same_text() {
        let mark = WriteMark::at_lsn(0x16_B374_D848);
        assert_eq!(mark.encode(), "pg:16/B374D848");
        assert_eq!(WriteMark::parse("pg:16/B374D848").expect("valid"), mark);
        assert_eq!(
            WriteMark::parse("primary").expect("valid"),
            WriteMark::PRIMARY
        );
        let json = serde_json::to_string(&mark).expect("serialise");
        assert_eq!(json, "\"pg:16/B374D848\"");
        assert_eq!(
            serde_json::from_str::<WriteMark>(&json).expect("read"),
            mark
        );
        for bad in [
            "", "pg:", "pg:1", "PG:1/1", "primary ", "pg:1/1 ", "mysql:1",
        ] {
            assert!(
                matches!(
                    WriteMark::parse(bad),
                    Err(Error::Invalid {
                        field: "write_mark",
                        violation: Violation::Format
                    })
                ),
                "{bad:?}"
            );
        }
        assert!(serde_json::from_str::<WriteMark>("\"pg:x/1\"").is_err());
    }

    #[test]
    fn the_latest_of_two_marks_is_kept() {
        let (a, b) = (WriteMark::at_lsn(10), WriteMark::at_lsn(20));
        assert_eq!(a.latest(b), b);
        assert_eq!(b.latest(a), b);
        assert_eq!(a.latest(WriteMark::PRIMARY), WriteMark::PRIMARY);
    }

    #[test]
    fn only_selects_without_row_locks_may_go_to_a_replica() {
        assert!(is_plain_select(
            r#"SELECT "id" FROM "products" WHERE "id" = $1"#
        ));
        assert!(is_plain_select("  select 1"));
        for sql in [
            r#"INSERT INTO "x" VALUES (1) RETURNING "id""#,
            r#"UPDATE "x" SET "a" = 1 RETURNING *"#,
            "WITH d AS (DELETE FROM x RETURNING *) SELECT * FROM d",
            r#"SELECT "id" FROM "agent_jobs" LIMIT 1 FOR UPDATE SKIP LOCKED"#,
            "select * from t for no key update",
            "SELECT * FROM t FOR SHARE",
            "SELECT * FROM t FOR KEY SHARE",
            "SELEC 1",
            "",
        ] {
            assert!(!is_plain_select(sql), "{sql}");
        }
    }
}
