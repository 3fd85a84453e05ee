//! job_queue by hand: enqueue in one statement, then workers that claim and complete with
//! the domain's two statements written out.

use std::time::Instant;

use chrono::{DateTime, Utc};
use sea_orm::sqlx::postgres::{PgPool, PgRow};
use sea_orm::sqlx::{self, Row};
use serde_json::Value;
use uuid::Uuid;

use crate::report::{Impl, Measurement, Report, Timer};
use crate::run::concurrently;
use crate::workloads::{CONCURRENCY, job_input, job_output};
use crate::{BenchResult, context};

const ENQUEUE: &str = "INSERT INTO agent_jobs (id, store_id, type, status, priority, input, \
     progress, created_at, updated_at, attempts, max_attempts, run_at) \
     SELECT u.id, $1, u.type::agent_type, 'PENDING', 0, u.input, 0, $2, $2, 0, 3, $2 \
     FROM UNNEST($3::uuid[], $4::text[], $5::jsonb[]) AS u(id, type, input)";

/// Enqueues `jobs` PENDING jobs of `store_id` (the same inputs as the domain's) in one
/// statement.
///
/// # Errors
/// A database error.
pub async fn enqueue(pool: &PgPool, store_id: Option<Uuid>, jobs: usize) -> BenchResult<()> {
    let ids: Vec<Uuid> = (0..jobs).map(|_| Uuid::now_v7()).collect();
    let types: Vec<&str> = vec!["PRODUCT_SCOUT"; jobs];
    let inputs: Vec<Value> = (0..jobs)
        .map(|i| match job_input(i) {
            domain::agent_jobs::JobInput::ProductScout(search) => {
                serde_json::to_value(&search).unwrap_or(Value::Null)
            }
            _ => Value::Null,
        })
        .collect();
    sqlx::query(ENQUEUE)
        .bind(store_id)
        .bind(Utc::now())
        .bind(&ids)
        .bind(&types)
        .bind(&inputs)
        .execute(pool)
        .await
        .map_err(context("sqlx enqueue"))?;
    Ok(())
}

/// The claim of the baseline: the domain's statement, written by hand.
pub const CLAIM: &str = "UPDATE agent_jobs SET status = 'PROCESSING', locked_by = $1, \
     started_at = $2, heartbeat_at = $2, progress = 0, current_step = NULL, updated_at = $2, \
     attempts = attempts + 1 \
     WHERE id = (SELECT id FROM agent_jobs WHERE status = 'PENDING' AND waiting_for = 0 \
     AND run_at <= $2 AND attempts < max_attempts \
     ORDER BY priority DESC, run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) AND status = 'PENDING' \
     RETURNING id, store_id, type::text, status::text, priority, input, output, error, \
     started_at, completed_at, progress, current_step, created_at, updated_at, attempts, \
     max_attempts, run_at, locked_by, heartbeat_at";
/// The completion of the baseline: only while the job is held by this worker and attempt.
pub const COMPLETE: &str = "UPDATE agent_jobs SET status = 'COMPLETED', output = $1, \
     error = NULL, progress = 100, completed_at = $2, heartbeat_at = NULL, updated_at = $2 \
     WHERE id = $3 AND status = 'PROCESSING' AND locked_by = $4 AND attempts = $5 \
     AND has_dependants = false";

/// A claimed job as the baseline reads it: the whole row, as the domain's `AgentJob`.
#[derive(Debug, Clone)]
pub struct Job {
    /// Id.
    pub id: Uuid,
    /// Store.
    pub store_id: Option<Uuid>,
    /// Agent type.
    pub agent_type: String,
    /// Status.
    pub status: String,
    /// Priority.
    pub priority: i32,
    /// Input.
    pub input: Value,
    /// Output.
    pub output: Option<Value>,
    /// Error.
    pub error: Option<String>,
    /// Started.
    pub started_at: Option<DateTime<Utc>>,
    /// Completed.
    pub completed_at: Option<DateTime<Utc>>,
    /// Progress.
    pub progress: i32,
    /// Step.
    pub current_step: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Updated.
    pub updated_at: DateTime<Utc>,
    /// Attempts.
    pub attempts: i32,
    /// Max attempts.
    pub max_attempts: i32,
    /// Runnable from.
    pub run_at: DateTime<Utc>,
    /// Worker.
    pub locked_by: Option<String>,
    /// Heartbeat.
    pub heartbeat_at: Option<DateTime<Utc>>,
}

fn job_from(row: &PgRow) -> Result<Job, sqlx::Error> {
    Ok(Job {
        id: row.try_get(0)?,
        store_id: row.try_get(1)?,
        agent_type: row.try_get(2)?,
        status: row.try_get(3)?,
        priority: row.try_get(4)?,
        input: row.try_get(5)?,
        output: row.try_get(6)?,
        error: row.try_get(7)?,
        started_at: row.try_get(8)?,
        completed_at: row.try_get(9)?,
        progress: row.try_get(10)?,
        current_step: row.try_get(11)?,
        created_at: row.try_get(12)?,
        updated_at: row.try_get(13)?,
        attempts: row.try_get(14)?,
        max_attempts: row.try_get(15)?,
        run_at: row.try_get(16)?,
        locked_by: row.try_get(17)?,
        heartbeat_at: row.try_get(18)?,
    })
}

/// job_queue through the baseline: enqueue (timed apart), then `CONCURRENCY` workers loop
/// claim → complete with the two statements until the queue is empty. Checks exactly-once.
///
/// # Errors
/// A database error.
pub async fn job_queue(
    pool: &PgPool,
    store_id: Option<Uuid>,
    jobs: usize,
    report: &mut Report,
) -> BenchResult<Measurement> {
    let enqueue_started = Instant::now();
    enqueue(pool, store_id, jobs).await?;
    println!(
        "# job_queue impl=sqlx enqueued {jobs} jobs in {:.3} s (not in the figure)",
        enqueue_started.elapsed().as_secs_f64()
    );
    // As the domain's run (crate::analyze_jobs).
    sqlx::query("ANALYZE agent_jobs, agent_job_dependencies")
        .execute(pool)
        .await
        .map_err(context("analyze jobs"))?;
    let output = serde_json::to_value(match job_output() {
        domain::agent_jobs::JobOutput::ProductScout(result) => result,
        _ => domain::agent_jobs::ScoutResult { products: vec![] },
    })
    .map_err(context("output json"))?;
    let timer = Timer::start();
    let claimed = concurrently(CONCURRENCY, |task| {
        let pool = pool.clone();
        let output = output.clone();
        async move {
            let worker = format!("bench-sqlx-{task}-{}", Uuid::now_v7().simple());
            let mut ids = Vec::new();
            loop {
                let now = Utc::now();
                let Some(row) = sqlx::query(CLAIM)
                    .bind(&worker)
                    .bind(now)
                    .fetch_optional(&pool)
                    .await
                    .map_err(context("sqlx claim"))?
                else {
                    break;
                };
                let job = job_from(&row).map_err(context("sqlx claim row"))?;
                let done = sqlx::query(COMPLETE)
                    .bind(&output)
                    .bind(Utc::now())
                    .bind(job.id)
                    .bind(&worker)
                    .bind(job.attempts)
                    .execute(&pool)
                    .await
                    .map_err(context("sqlx complete"))?;
                if done.rows_affected() != 1 {
                    return Err(format!("job {} was not held at completion", job.id));
                }
                ids.push(job.id);
            }
            Ok(ids)
        }
    })
    .await?;
    let mut ids: Vec<Uuid> = claimed.into_iter().flatten().collect();
    let claims = ids.len();
    ids.sort_unstable();
    ids.dedup();
    let row = sqlx::query(
        "SELECT count(*) FILTER (WHERE status = 'COMPLETED' AND attempts = 1), count(*) \
         FROM agent_jobs WHERE store_id IS NOT DISTINCT FROM $1",
    )
    .bind(store_id)
    .fetch_one(pool)
    .await
    .map_err(context("sqlx count"))?;
    let completed_once: i64 = row.try_get(0).map_err(context("count"))?;
    let total: i64 = row.try_get(1).map_err(context("count"))?;
    report.check(
        "job_queue impl=sqlx",
        claims == jobs
            && ids.len() == jobs
            && completed_once == jobs as i64
            && total == jobs as i64,
        &format!(
            "{claims} claims of {} distinct jobs, {completed_once} of {total} jobs COMPLETED \
             after exactly one attempt (expected {jobs} each: every job exactly once)",
            ids.len()
        ),
    );
    Ok(timer.measurement("job_queue", Impl::Sqlx, jobs as u64))
}
