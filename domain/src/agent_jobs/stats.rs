//! Throughput and latency of the queue over a recent window, for the studio and dashboards.

use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use entity::agent_jobs::{Column, Entity};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::JobStatus;
use crate::clock;
use crate::error::Result;

/// Finished jobs [`stats`] reads at most (the newest); past it the figures are a sample.
pub const MAX_STATS_SAMPLE: u64 = 100_000;

/// Percentiles of a duration over the jobs of a window; `None` without a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Latency {
    /// Half the jobs took at most this.
    pub p50: Option<Duration>,
    /// 95 % of the jobs took at most this.
    pub p95: Option<Duration>,
    /// The longest.
    pub max: Option<Duration>,
}

impl Latency {
    fn of(mut samples: Vec<Duration>) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        samples.sort_unstable();
        let at = |q: f64| {
            // Nearest rank: the smallest sample with at least q of them at or below it.
            let rank = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
            samples[rank - 1]
        };
        Self {
            p50: Some(at(0.50)),
            p95: Some(at(0.95)),
            max: samples.last().copied(),
        }
    }
}

/// The queue over a window ending now.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JobStats {
    /// The window.
    pub window: Duration,
    /// Jobs that completed in the window.
    pub completed: u64,
    /// Jobs that failed for good in the window.
    pub failed: u64,
    /// Jobs cancelled in the window.
    pub cancelled: u64,
    /// Completed jobs per second over the window.
    pub throughput_per_second: f64,
    /// From run-at to claim, of the jobs completed in the window (their last attempt).
    pub queue_latency: Latency,
    /// From claim to completion, of the jobs completed in the window (their last attempt).
    pub run_time: Latency,
    /// Jobs PENDING now (runnable or not).
    pub pending: u64,
    /// Jobs PROCESSING now.
    pub processing: u64,
}

/// Throughput and latency of every owner's jobs over the `window` ending now.
///
/// # Errors
/// [`crate::Error::Invalid`] (`window`, [`crate::Violation::TimeOutOfRange`]) when the window
/// reaches before 1970; [`crate::Error::Database`].
#[tracing::instrument(skip_all, err, fields(window = ?window))]
pub async fn stats<C: ConnectionTrait>(db: &C, window: Duration) -> Result<JobStats> {
    let since = clock::ago("window", window)?;
    type Finished = (
        JobStatus,
        DateTime<FixedOffset>,
        Option<DateTime<FixedOffset>>,
        Option<DateTime<FixedOffset>>,
    );
    let rows: Vec<Finished> = Entity::find()
        .select_only()
        .columns([
            Column::Status,
            Column::RunAt,
            Column::StartedAt,
            Column::CompletedAt,
        ])
        .filter(Column::Status.is_in([
            JobStatus::Completed,
            JobStatus::Failed,
            JobStatus::Cancelled,
        ]))
        .filter(Column::CompletedAt.gte(since))
        .order_by_desc(Column::CompletedAt)
        .limit(MAX_STATS_SAMPLE)
        .into_tuple()
        .all(db)
        .await?;
    let mut stats = JobStats {
        window,
        ..JobStats::default()
    };
    let mut queue = Vec::new();
    let mut run = Vec::new();
    for (status, run_at, started_at, completed_at) in rows {
        match status {
            JobStatus::Completed => {
                stats.completed += 1;
                if let Some(started) = started_at {
                    queue.extend((started - run_at).to_std().ok());
                    if let Some(done) = completed_at {
                        run.extend((done - started).to_std().ok());
                    }
                }
            }
            JobStatus::Failed => stats.failed += 1,
            _ => stats.cancelled += 1,
        }
    }
    stats.queue_latency = Latency::of(queue);
    stats.run_time = Latency::of(run);
    let seconds = window.as_secs_f64();
    if seconds > 0.0 {
        stats.throughput_per_second = stats.completed as f64 / seconds;
    }
    let open: Vec<(JobStatus, i64)> = Entity::find()
        .select_only()
        .column(Column::Status)
        .column_as(Column::Id.count(), "n")
        .filter(Column::Status.is_in([JobStatus::Pending, JobStatus::Processing]))
        .group_by(Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    for (status, n) in open {
        let n = u64::try_from(n).unwrap_or(0);
        match status {
            JobStatus::Pending => stats.pending = n,
            _ => stats.processing = n,
        }
    }
    Ok(stats)
}
