//! What the router tells about itself: who answered, how often, and each replica's state.

use std::time::Duration;

/// Which server answered a read connection's statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServedBy {
    /// The primary.
    Primary,
    /// The replica at this index of [`super::ReplicaConfig::urls`].
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
