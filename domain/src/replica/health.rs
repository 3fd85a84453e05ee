//! The router's shared state: each replica's health, replay position and lag, learned by
//! probing in the background, and the choice of a replica for a read.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};

use super::WAIT_STEP;
use super::mark::parse_lsn;

#[derive(Debug, Default)]
pub(super) struct ReplicaState {
    /// The last probe succeeded, the server is in recovery, and no statement failed on it since.
    pub(super) up: bool,
    pub(super) replay_lsn: Option<u64>,
    pub(super) lag: Option<Duration>,
}

pub(super) struct Replica {
    pub(super) db: DatabaseConnection,
    pub(super) url: String,
    pub(super) state: Mutex<ReplicaState>,
}

impl Replica {
    pub(super) fn state(&self) -> std::sync::MutexGuard<'_, ReplicaState> {
        // A panic while holding this lock leaves plain data behind: keep using it.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

pub(super) struct Inner {
    pub(super) primary: DatabaseConnection,
    pub(super) replicas: Vec<Replica>,
    pub(super) max_lag: Duration,
    pub(super) wait: Duration,
    pub(super) poll_interval: Duration,
    /// (when, the primary's flushed WAL position then), oldest first.
    pub(super) samples: Mutex<VecDeque<(Instant, u64)>>,
    pub(super) next: AtomicUsize,
    pub(super) replica_reads: AtomicU64,
    pub(super) primary_reads: AtomicU64,
    pub(super) fallbacks: AtomicU64,
    pub(super) monitor: Mutex<Option<tokio::task::JoinHandle<()>>>,
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

pub(super) async fn monitor(weak: Weak<Inner>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let Some(inner) = weak.upgrade() else {
            return;
        };
        inner.poll().await;
    }
}

/// Runs a query that answers one LSN as text (or NULL).
pub(super) async fn query_lsn(db: &DatabaseConnection, sql: &str) -> Result<Option<u64>, DbErr> {
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
    pub(super) async fn poll(self: &Arc<Self>) {
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

    pub(super) async fn probe(&self, index: usize) {
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
    pub(super) fn lag_of(&self, replay: u64) -> Duration {
        let samples = self
            .samples
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        samples
            .iter()
            .find(|(_, lsn)| *lsn > replay)
            .map_or(Duration::ZERO, |(at, _)| at.elapsed())
    }

    pub(super) fn usable(&self, index: usize) -> bool {
        let state = self.replicas[index].state();
        state.up && state.lag.is_some_and(|lag| lag <= self.max_lag)
    }

    /// The next usable replica (round robin) that `accept`s, if any.
    pub(super) fn pick(&self, accept: impl Fn(&ReplicaState) -> bool) -> Option<usize> {
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
    pub(super) async fn replica_past(&self, lsn: u64) -> Option<usize> {
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
    pub(super) fn set_aside(&self, index: usize, err: &DbErr) {
        let replica = &self.replicas[index];
        let mut state = replica.state();
        if state.up {
            tracing::warn!(replica = %replica.url, error = %err, "read replica failed a statement: reads go to the primary");
        }
        state.up = false;
    }
}
