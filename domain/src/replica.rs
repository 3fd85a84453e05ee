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

// Only the module docs above name it.
#[cfg(doc)]
use sea_orm::ConnectionTrait;

mod config;
mod health;
mod mark;
mod read;
mod router;
mod status;

pub use config::{
    DEFAULT_MAX_LAG, DEFAULT_POLL_INTERVAL, DEFAULT_WAIT, MAX_SETTING_MS, REPLICA_ACQUIRE_TIMEOUT,
    ReplicaConfig, WAIT_STEP,
};
pub use mark::WriteMark;
pub use read::ReadConnection;
pub use router::Router;
pub use status::{ReadStats, ReplicaStatus, ServedBy};
