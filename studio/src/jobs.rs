//! The job queue: counts by status × agent type, running jobs with progress and heartbeat
//! age, stale heartbeats (what `rescue` would take), failed jobs, and scheduled jobs.

use axum::extract::State;
use axum::response::Html;
use chrono::{DateTime, FixedOffset};
use domain::agent_jobs::{AgentType, JobStatus};
use entity::agent_jobs::{Column, Entity, Model};
use maud::{Markup, html};
use sea_orm::{ColumnTrait, EntityTrait, Iterable, QueryFilter, QueryOrder, QuerySelect};
use serde_json::{Map, Value as Json};

use crate::html::{self as ui, action};
use crate::pages::enum_name;
use crate::tables::cell_text;
use crate::{AppError, Studio};

/// A PROCESSING job whose heartbeat is older than this is shown as stale: what
/// `domain::agent_jobs::rescue` with the same lease would take back.
pub const STALE_AFTER: chrono::Duration = chrono::Duration::minutes(5);
/// Jobs listed per section.
const SECTION_ROWS: u64 = 50;

fn age(now: DateTime<FixedOffset>, then: Option<DateTime<FixedOffset>>) -> String {
    match then {
        Some(t) => format!("{} s ago", (now - t).num_seconds()),
        None => "never".into(),
    }
}

/// `GET /jobs`.
pub(crate) async fn queue(State(studio): State<Studio>) -> Result<Html<String>, AppError> {
    let db = studio.db();
    let now = domain::clock::now();
    let counts = Entity::find()
        .select_only()
        .column(Column::Type)
        .column(Column::Status)
        .column_as(Column::Id.count(), "n")
        .group_by(Column::Type)
        .group_by(Column::Status)
        .into_tuple::<(AgentType, JobStatus, i64)>()
        .all(db)
        .await?;
    let count = |t: AgentType, s: JobStatus| {
        counts
            .iter()
            .filter(|(ct, cs, _)| *ct == t && *cs == s)
            .map(|(_, _, n)| *n)
            .sum::<i64>()
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
                thead { tr { th { "job" } th { "type" } th { "priority" } th { "run at" } th {} } }
                tbody { @for j in &scheduled { tr {
                    td { (job_link(j)) } td { (enum_name(&j.r#type)) } td.num { (j.priority) }
                    td { (j.run_at) @if j.run_at > now { " (in " ((j.run_at - now).num_seconds()) " s)" } }
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
