//! The dashboard's numbers: an owner's jobs by agent type and status.

use entity::agent_jobs::{Column, Entity};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use super::queue::owned_by;
use super::{AgentType, JobOwner, JobStatus};
use crate::error::Result;

/// How many jobs an owner has, by agent type and status: the dashboard's numbers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JobCounts {
    entries: Vec<(AgentType, JobStatus, u64)>,
}

impl JobCounts {
    /// Jobs of `agent_type` in `status`.
    pub fn get(&self, agent_type: AgentType, status: JobStatus) -> u64 {
        self.sum(|t, s| t == agent_type && s == status)
    }

    /// Jobs in `status`, of every type.
    pub fn by_status(&self, status: JobStatus) -> u64 {
        self.sum(|_, s| s == status)
    }

    /// Jobs of `agent_type`, in every status.
    pub fn by_type(&self, agent_type: AgentType) -> u64 {
        self.sum(|t, _| t == agent_type)
    }

    /// Every job.
    pub fn total(&self) -> u64 {
        self.sum(|_, _| true)
    }

    /// Each (type, status) that has jobs, with its count.
    pub fn iter(&self) -> impl Iterator<Item = (AgentType, JobStatus, u64)> + '_ {
        self.entries.iter().copied()
    }

    fn sum(&self, keep: impl Fn(AgentType, JobStatus) -> bool) -> u64 {
        self.entries
            .iter()
            .filter(|(t, s, _)| keep(*t, *s))
            .map(|(_, _, n)| n)
            .sum()
    }
}

/// Counts `owner`'s jobs by agent type and status, in one query.
///
/// # Errors
/// [`crate::Error::Database`].
#[tracing::instrument(skip_all, err, fields(store_id))]
pub async fn count<C: ConnectionTrait>(db: &C, owner: impl Into<JobOwner>) -> Result<JobCounts> {
    let owner = owner.into();
    owner.record();
    let rows = Entity::find()
        .select_only()
        .column(Column::Type)
        .column(Column::Status)
        .column_as(Column::Id.count(), "jobs")
        .filter(owned_by(owner))
        .group_by(Column::Type)
        .group_by(Column::Status)
        .into_tuple::<(AgentType, JobStatus, i64)>()
        .all(db)
        .await?;
    Ok(JobCounts {
        entries: rows
            .into_iter()
            .map(|(t, s, n)| (t, s, u64::try_from(n).unwrap_or(0)))
            .collect(),
    })
}
