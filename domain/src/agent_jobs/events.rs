//! The queue's `tracing` events, for logs and dashboards. Their target is
//! `zyenta::agent_jobs` and their field names are stable:
//!
//! | `event` | fields |
//! |---|---|
//! | `job_claimed` | `job_id`, `agent_type`, `store_id`, `worker_id`, `attempt`, `queue_latency_ms` (from run-at to claim) |
//! | `job_completed` | `job_id`, `agent_type`, `store_id`, `attempt`, `run_time_ms` (from claim to completion) |
//! | `job_retrying` | `job_id`, `agent_type`, `store_id`, `attempt`, `run_time_ms`, `retry_at`, `error` |
//! | `job_failed` | `job_id`, `agent_type`, `store_id`, `attempt`, `run_time_ms`, `error` |
//! | `job_snoozed` | `job_id`, `agent_type`, `store_id`, `attempt`, `delay_ms` |
//! | `dependants_cancelled` | `job_id`, `cancelled` |
//!
//! `store_id` is empty for a system job. An error is the message the worker gave, cut to 200
//! characters; it is the handler's text, so a handler must not put secrets in it.

use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use sea_orm::ActiveEnum;

use super::AgentJob;
use crate::clock;

/// The target of every event of the queue.
pub const TARGET: &str = "zyenta::agent_jobs";

fn type_name(job: &AgentJob) -> String {
    job.agent_type().to_value().value.into_owned()
}

fn store(job: &AgentJob) -> String {
    job.store_id.map(|id| id.to_string()).unwrap_or_default()
}

fn millis(from: DateTime<FixedOffset>, to: DateTime<FixedOffset>) -> i64 {
    (to - from).num_milliseconds().max(0)
}

fn run_time_ms(job: &AgentJob, now: DateTime<FixedOffset>) -> i64 {
    job.started_at.map_or(0, |started| millis(started, now))
}

fn short(error: &str) -> String {
    super::cut(error, 200)
}

pub(super) fn claimed(job: &AgentJob, worker: &str) {
    let latency = job
        .started_at
        .map_or(0, |started| millis(job.run_at, started));
    tracing::info!(
        target: "zyenta::agent_jobs",
        event = "job_claimed",
        job_id = %job.id,
        agent_type = %type_name(job),
        store_id = %store(job),
        worker_id = %worker,
        attempt = job.attempts,
        queue_latency_ms = latency,
    );
}

pub(super) fn completed(job: &AgentJob, now: DateTime<FixedOffset>) {
    tracing::info!(
        target: "zyenta::agent_jobs",
        event = "job_completed",
        job_id = %job.id,
        agent_type = %type_name(job),
        store_id = %store(job),
        attempt = job.attempts,
        run_time_ms = run_time_ms(job, now),
    );
}

pub(super) fn retrying(job: &AgentJob, error: &str, retry_at: DateTime<FixedOffset>) {
    tracing::info!(
        target: "zyenta::agent_jobs",
        event = "job_retrying",
        job_id = %job.id,
        agent_type = %type_name(job),
        store_id = %store(job),
        attempt = job.attempts,
        run_time_ms = run_time_ms(job, clock::now()),
        retry_at = %retry_at,
        error = %short(error),
    );
}

pub(super) fn failed(job: &AgentJob, error: &str) {
    tracing::warn!(
        target: "zyenta::agent_jobs",
        event = "job_failed",
        job_id = %job.id,
        agent_type = %type_name(job),
        store_id = %store(job),
        attempt = job.attempts,
        run_time_ms = run_time_ms(job, clock::now()),
        error = %short(error),
    );
}

pub(super) fn snoozed(job: &AgentJob, delay: Duration) {
    tracing::info!(
        target: "zyenta::agent_jobs",
        event = "job_snoozed",
        job_id = %job.id,
        agent_type = %type_name(job),
        store_id = %store(job),
        attempt = job.attempts,
        delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
    );
}
