//! A job as services see it, and how a stored row becomes one.

use chrono::{DateTime, FixedOffset};
use entity::agent_jobs;
use uuid::Uuid;

use super::{AgentType, JobInput, JobOutput, JobStatus, Progress};
use crate::error::{Error, Result, Table};
use crate::paging::UndecodableRow;

/// An agent job as services see it: typed input and output, and its place in the queue.
#[derive(Clone, PartialEq, Eq)]
pub struct AgentJob {
    /// The job's id (UUID v7: ordered by creation).
    pub id: Uuid,
    /// The store it works for; `None` for a system job, or once the store is deleted.
    pub store_id: Option<Uuid>,
    /// What the agent is given; its variant is the job's agent type.
    pub input: JobInput,
    /// Where the job is in its life.
    pub status: JobStatus,
    /// Higher runs first.
    pub priority: i32,
    /// What the agent produced, once completed.
    pub output: Option<JobOutput>,
    /// The last error: of the last failed attempt, or the reason it was rescued.
    pub error: Option<String>,
    /// Percent done of the current (or last) attempt.
    pub progress: Progress,
    /// What the agent is doing now, as it last said.
    pub current_step: Option<String>,
    /// Attempts started so far.
    pub attempts: i32,
    /// Attempts allowed before the job fails for good.
    pub max_attempts: i32,
    /// Not claimable before this instant.
    pub run_at: DateTime<FixedOffset>,
    /// When the current (or last) attempt started.
    pub started_at: Option<DateTime<FixedOffset>>,
    /// When the job finished (completed, failed for good, or cancelled).
    pub completed_at: Option<DateTime<FixedOffset>>,
    /// The worker that holds (or last held) the job.
    pub locked_by: Option<String>,
    /// The holder's last sign of life.
    pub heartbeat_at: Option<DateTime<FixedOffset>>,
    /// When the job was enqueued.
    pub created_at: DateTime<FixedOffset>,
    /// When the job last changed.
    pub updated_at: DateTime<FixedOffset>,
    /// Its uniqueness key, if it has one (held while it is PENDING or PROCESSING).
    pub unique_key: Option<String>,
    /// How many of the jobs it depends on have not COMPLETED yet; claimable only at 0.
    pub waiting_for: i32,
    /// The job whose failure or cancellation cancelled this one.
    pub cancelled_by: Option<Uuid>,
}

impl AgentJob {
    /// The agent type that runs the job.
    pub fn agent_type(&self) -> AgentType {
        self.input.agent_type()
    }
}

impl std::fmt::Debug for AgentJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The error can be long; its start is enough to recognise it.
        let error = self
            .error
            .as_deref()
            .map(|e| e.chars().take(80).collect::<String>());
        f.debug_struct("AgentJob")
            .field("id", &self.id)
            .field("store_id", &self.store_id)
            .field("type", &self.agent_type())
            .field("status", &self.status)
            .field("priority", &self.priority)
            .field("attempts", &self.attempts)
            .field("max_attempts", &self.max_attempts)
            .field("progress", &self.progress.percent())
            .field("current_step", &self.current_step)
            .field("run_at", &self.run_at)
            .field("unique_key", &self.unique_key)
            .field("waiting_for", &self.waiting_for)
            .field("cancelled_by", &self.cancelled_by)
            .field("locked_by", &self.locked_by)
            .field("error", &error)
            .field("input", &self.input)
            .field("output", &self.output)
            .finish_non_exhaustive()
    }
}

impl AgentJob {
    /// Reads a row, typing its input and output by the row's agent type. A column that does
    /// not decode (JSON that does not fit the type, a progress outside 0–100: a row written
    /// by other means) is reported, never replaced by a default.
    pub(crate) fn decode(row: agent_jobs::Model) -> Result<Self, UndecodableRow> {
        let id = row.id;
        let undecodable = |column| UndecodableRow {
            table: Table::AgentJobs,
            column,
            row: id,
        };
        let input = JobInput::from_json(row.r#type, row.input).ok_or(undecodable("input"))?;
        let output = match row.output {
            Some(json) => {
                Some(JobOutput::from_json(row.r#type, json).ok_or(undecodable("output"))?)
            }
            None => None,
        };
        let progress = u8::try_from(row.progress)
            .ok()
            .and_then(|p| Progress::new(p).ok())
            .ok_or(undecodable("progress"))?;
        Ok(Self {
            id: row.id,
            store_id: row.store_id,
            input,
            status: row.status,
            priority: row.priority,
            output,
            error: row.error,
            progress,
            current_step: row.current_step,
            attempts: row.attempts,
            max_attempts: row.max_attempts,
            run_at: row.run_at,
            started_at: row.started_at,
            completed_at: row.completed_at,
            locked_by: row.locked_by,
            heartbeat_at: row.heartbeat_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
            unique_key: row.unique_key,
            waiting_for: row.waiting_for,
            cancelled_by: row.cancelled_by,
        })
    }
}

impl TryFrom<agent_jobs::Model> for AgentJob {
    type Error = Error;

    /// Reads a row, typing its input and output by the row's agent type.
    ///
    /// # Errors
    /// [`Error::Undecodable`] naming `agent_jobs` and the column (`input`, `output`,
    /// `progress`) when a stored value does not fit its type.
    fn try_from(row: agent_jobs::Model) -> Result<Self> {
        Self::decode(row).map_err(Error::from)
    }
}
