//! Reading an owner's jobs: one by id, or a page of them.

use entity::agent_jobs::{Column, Entity};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::queue::owned_by;
use super::{AgentJob, AgentType, JobOwner, JobStatus};
use crate::error::{Error, Result, Table};
use crate::paging::{Page, PageRequest, UndecodableRow};

/// The job `id` of `owner`, if there is one.
///
/// # Errors
/// [`Error::Undecodable`] naming `agent_jobs` and `input`, `output` or `progress` when a
/// stored value of this job does not read as its type (a row written by other means: nothing
/// this crate writes is refused on the way back); [`Error::Database`].
#[tracing::instrument(skip_all, err, fields(job_id = %id, store_id))]
pub async fn find<C: ConnectionTrait>(
    db: &C,
    owner: impl Into<JobOwner>,
    id: Uuid,
) -> Result<Option<AgentJob>> {
    let owner = owner.into();
    owner.record();
    Entity::find_by_id(id)
        .filter(owned_by(owner))
        .one(db)
        .await?
        .map(AgentJob::try_from)
        .transpose()
}

/// The job `id` of `owner`.
///
/// # Errors
/// [`Error::NotFound`] ([`Table::AgentJobs`]) when it does not exist or belongs to another
/// owner; [`Error::Undecodable`] as [`find`] says; [`Error::Database`].
#[tracing::instrument(skip_all, err, fields(job_id = %id, store_id))]
pub async fn get<C: ConnectionTrait>(
    db: &C,
    owner: impl Into<JobOwner>,
    id: Uuid,
) -> Result<AgentJob> {
    find(db, owner, id).await?.ok_or(Error::NotFound {
        entity: Table::AgentJobs,
    })
}

/// Which jobs [`list`] returns (every job of the owner by default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFilter {
    /// Only jobs in this status.
    pub status: Option<JobStatus>,
    /// Only jobs of this agent type.
    pub agent_type: Option<AgentType>,
}

/// A page of `owner`'s jobs that pass `filter`, newest first.
///
/// Each job of the page is in its place: decoded, or, when a stored value of it does not
/// read as its type (a row written by other means than this crate, which refuses such
/// payloads at the write), reported as an [`UndecodableRow`] naming the column, so that one
/// bad row never fails the page; [`get`] on that job answers the same as an
/// [`Error::Undecodable`]. [`Page::decoded`] and [`Page::undecodable`] split the page.
///
/// # Errors
/// [`Error::Invalid`] (`limit`, [`crate::error::Violation::OutOfRange`]); [`Error::Database`].
#[tracing::instrument(skip_all, err, fields(store_id))]
pub async fn list<C: ConnectionTrait>(
    db: &C,
    owner: impl Into<JobOwner>,
    filter: &JobFilter,
    page: PageRequest,
) -> Result<Page<Result<AgentJob, UndecodableRow>>> {
    let limit = page.checked_limit()?;
    let owner = owner.into();
    owner.record();
    let mut query = Entity::find().filter(owned_by(owner));
    if let Some(status) = filter.status {
        query = query.filter(Column::Status.eq(status));
    }
    if let Some(agent_type) = filter.agent_type {
        query = query.filter(Column::Type.eq(agent_type));
    }
    if let Some(after) = page.after {
        query = query.filter(Column::Id.lt(after.last_id()));
    }
    let rows = query
        .order_by_desc(Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    Ok(Page::from_rows(rows, limit, |row| row.id).map(|row| {
        AgentJob::decode(row).inspect_err(|bad| {
            tracing::warn!(job_id = %bad.row, column = bad.column, "an agent job's stored value does not decode");
        })
    }))
}
