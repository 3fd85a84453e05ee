//! The job queue: counts by status × agent type, the last hour's throughput and latency
//! (`agent_jobs::stats`), running jobs with progress and heartbeat
//! age, stale heartbeats (what `rescue` would take), failed jobs, and scheduled jobs.

use axum::extract::State;
use axum::response::Html;
use chrono::{DateTime, FixedOffset};
use domain::agent_jobs::{AgentType, JobStatus};
use entity::agent_jobs::{Column, Entity, Model};
use maud::{Markup, html};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, Iterable,
    QueryFilter, QueryOrder, QuerySelect, Statement,
};
use serde_json::{Map, Value as Json};

use crate::html::{self as ui, action};
use crate::pages::enum_name;
use crate::tables::cell_text;
use crate::{AppError, Studio};

/// A PROCESSING job whose heartbeat is older than this is shown as stale: what
/// `domain::agent_jobs::rescue` with the same lease would take back.
pub const STALE_AFTER: chrono::Duration = chrono::Duration::minutes(5);
/// The window of the page's throughput and latency figures.
const STATS_WINDOW: std::time::Duration = std::time::Duration::from_secs(3_600);
/// Jobs listed per section.
const SECTION_ROWS: u64 = 50;

/// `p50 / p95 / max` in milliseconds, or a dash without a sample.
fn latency(l: &domain::agent_jobs::Latency) -> String {
    let ms = |d: Option<std::time::Duration>| {
        d.map_or_else(|| "–".to_owned(), |d| format!("{} ms", d.as_millis()))
    };
    format!("{} / {} / {}", ms(l.p50), ms(l.p95), ms(l.max))
}

fn age(now: DateTime<FixedOffset>, then: Option<DateTime<FixedOffset>>) -> String {
    match then {
        Some(t) => format!("{} s ago", (now - t).num_seconds()),
        None => "never".into(),
    }
}

/// Jobs by (type, status), and whether the figure is the planner's estimate.
///
/// Counted exactly, in one grouped query, unless the table is big on Postgres (a planner
/// estimate above [`crate::tables::COUNT_UP_TO`] rows). Then the live statuses (PENDING,
/// PROCESSING, FAILED: few rows, found through the claim index that leads with `status`) are
/// still counted exactly, and the finished history (COMPLETED, CANCELLED: what `prune` removes,
/// possibly millions of rows) is the planner's estimate for each cell.
async fn counts(
    db: &DatabaseConnection,
) -> Result<Vec<(AgentType, JobStatus, i64, bool)>, AppError> {
    let grouped = |statuses: Option<Vec<JobStatus>>| {
        let mut query = Entity::find()
            .select_only()
            .column(Column::Type)
            .column(Column::Status)
            .column_as(Column::Id.count(), "n")
            .group_by(Column::Type)
            .group_by(Column::Status);
        if let Some(statuses) = statuses {
            query = query.filter(Column::Status.is_in(statuses));
        }
        query.into_tuple::<(AgentType, JobStatus, i64)>()
    };
    let big = db.get_database_backend() == DbBackend::Postgres
        && db
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT reltuples::bigint AS n FROM pg_class \
                 WHERE oid = 'public.agent_jobs'::regclass",
            ))
            .await?
            .and_then(|r| r.try_get::<i64>("", "n").ok())
            .is_some_and(|n| n > crate::tables::COUNT_UP_TO);
    if !big {
        let rows = grouped(None).all(db).await?;
        return Ok(rows.into_iter().map(|(t, s, n)| (t, s, n, false)).collect());
    }
    let live = vec![JobStatus::Pending, JobStatus::Processing, JobStatus::Failed];
    let mut rows: Vec<_> = grouped(Some(live))
        .all(db)
        .await?
        .into_iter()
        .map(|(t, s, n)| (t, s, n, false))
        .collect();
    for status in [JobStatus::Completed, JobStatus::Cancelled] {
        for agent_type in AgentType::iter() {
            // Enum spellings are fixed identifiers, never input.
            let explain = format!(
                "EXPLAIN (FORMAT JSON) SELECT 1 FROM agent_jobs \
                 WHERE status = '{}' AND type = '{}'",
                enum_name(&status),
                enum_name(&agent_type)
            );
            let plan: Option<serde_json::Value> = db
                .query_one_raw(Statement::from_string(DbBackend::Postgres, explain))
                .await?
                .and_then(|r| r.try_get_by_index::<serde_json::Value>(0).ok());
            let n = plan
                .as_ref()
                .and_then(|p| p.get(0)?.get("Plan")?.get("Plan Rows")?.as_f64())
                .unwrap_or(0.0);
            #[expect(clippy::cast_possible_truncation, reason = "a row estimate")]
            rows.push((agent_type, status, n.round() as i64, true));
        }
    }
    Ok(rows)
}

/// `GET /jobs`.
pub(crate) async fn queue(State(studio): State<Studio>) -> Result<Html<String>, AppError> {
    let db = studio.db();
    let now = domain::clock::now();
    let counts = counts(db).await?;
    let count = |t: AgentType, s: JobStatus| {
        let mut total = 0;
        let mut estimated = false;
        for (ct, cs, n, estimate) in &counts {
            if *ct == t && *cs == s {
                total += n;
                estimated |= estimate;
            }
        }
        if estimated {
            format!("≈ {total}")
        } else {
            total.to_string()
        }
    };
    let running = Entity::find()
        .filter(Column::Status.eq(JobStatus::Processing))
        .order_by_asc(Column::HeartbeatAt)
        .limit(SECTION_ROWS)
        .all(db)
        .await?;
    let stale_before = now - STALE_AFTER;
    let stale = Entity::find()
        .filter(Column::Status.eq(JobStatus::Processing))
        .filter(
            sea_orm::Condition::any()
                .add(Column::HeartbeatAt.lt(stale_before))
                .add(Column::HeartbeatAt.is_null()),
        )
        .order_by_asc(Column::HeartbeatAt)
        .limit(SECTION_ROWS)
        .all(db)
        .await?;
    let failed = Entity::find()
        .filter(Column::Status.eq(JobStatus::Failed))
        .order_by_desc(Column::Id)
        .limit(SECTION_ROWS)
        .all(db)
        .await?;
    let scheduled = Entity::find()
        .filter(Column::Status.eq(JobStatus::Pending))
        .order_by_asc(Column::RunAt)
        .order_by_asc(Column::Id)
        .limit(SECTION_ROWS)
        .all(db)
        .await?;
    let stats = domain::agent_jobs::stats(db, STATS_WINDOW).await?;
    let job_link = |j: &Model| html! { a href=(format!("/t/agent_jobs/{}", j.id)) { (j.id) } };
    Ok(ui::page(
        &studio,
        "Job queue",
        html! {
            h2 { "Jobs by status and agent type" }
            table #counts {
                thead { tr { th { "agent type" } @for s in JobStatus::iter() { th { (enum_name(&s)) } } } }
                tbody {
                    @for t in AgentType::iter() {
                        tr { td { (enum_name(&t)) } @for s in JobStatus::iter() {
                            td.num data-type=(enum_name(&t)) data-status=(enum_name(&s)) { (count(t, s)) }
                        } }
                    }
                }
            }
            h2 { "The last hour" }
            table #stats {
                thead { tr {
                    th { "completed" } th { "failed" } th { "cancelled" } th { "jobs/s" }
                    th { "queue latency p50 / p95 / max" } th { "run time p50 / p95 / max" }
                    th { "pending" } th { "processing" }
                } }
                tbody { tr {
                    td.num data-stat="completed" { (stats.completed) }
                    td.num data-stat="failed" { (stats.failed) }
                    td.num data-stat="cancelled" { (stats.cancelled) }
                    td.num { (format!("{:.2}", stats.throughput_per_second)) }
                    td { (latency(&stats.queue_latency)) }
                    td { (latency(&stats.run_time)) }
                    td.num data-stat="pending" { (stats.pending) }
                    td.num data-stat="processing" { (stats.processing) }
                } }
            }
            h2 { "Running" }
            table #running {
                thead { tr { th { "job" } th { "type" } th { "progress" } th { "step" } th { "worker" } th { "heartbeat" } } }
                tbody { @for j in &running { tr {
                    td { (job_link(j)) } td { (enum_name(&j.r#type)) }
                    td.num { (j.progress) " %" } td { (ui::opt(j.current_step.as_deref())) }
                    td { (ui::opt(j.locked_by.as_deref())) } td { (age(now, j.heartbeat_at)) }
                } } }
            }
            h2 { "Stale heartbeats (older than " (STALE_AFTER.num_minutes()) " minutes: what rescue would take)" }
            table #stale {
                thead { tr { th { "job" } th { "type" } th { "worker" } th { "heartbeat" } th { "attempts" } } }
                tbody { @for j in &stale { tr {
                    td { (job_link(j)) } td { (enum_name(&j.r#type)) }
                    td { (ui::opt(j.locked_by.as_deref())) } td { (age(now, j.heartbeat_at)) }
                    td.num { (j.attempts) " / " (j.max_attempts) }
                } } }
            }
            h2 { "Failed" }
            table #failed {
                thead { tr { th { "job" } th { "type" } th { "attempts" } th { "last error" } th {} } }
                tbody { @for j in &failed { tr {
                    td { (job_link(j)) } td { (enum_name(&j.r#type)) }
                    td.num { (j.attempts) " / " (j.max_attempts) }
                    td { (ui::opt(j.error.as_deref())) }
                    td { (action(&studio, &format!("/jobs/{}/retry", j.id), "run again", html! {})) }
                } } }
            }
            h2 { "Pending, by run_at (scheduled ones last run later)" }
            table #scheduled {
                thead { tr { th { "job" } th { "type" } th { "priority" } th { "run at" } th { "waits for" } th {} } }
                tbody { @for j in &scheduled { tr {
                    td { (job_link(j)) } td { (enum_name(&j.r#type)) } td.num { (j.priority) }
                    td { (j.run_at) @if j.run_at > now { " (in " ((j.run_at - now).num_seconds()) " s)" } }
                    td.num { @if j.waiting_for > 0 { (j.waiting_for) " job(s)" } }
                    td { (action(&studio, &format!("/jobs/{}/cancel", j.id), "cancel", html! {})) }
                } } }
            }
        },
    ))
}

/// The forms of a job's row page: cancel (PENDING, PROCESSING) or run again (FAILED).
pub(crate) fn job_actions(studio: &Studio, row: &Map<String, Json>) -> Markup {
    let id = row.get("id").map(cell_text).unwrap_or_default();
    let status = row.get("status").map(cell_text).unwrap_or_default();
    html! {
        p { "Status: " strong #status { (status) } " "
            @if status == "PENDING" || status == "PROCESSING" {
                (action(studio, &format!("/jobs/{id}/cancel"), "cancel", html! {}))
            }
            @if status == "FAILED" {
                (action(studio, &format!("/jobs/{id}/retry"), "run again", html! {}))
            }
        }
    }
}
