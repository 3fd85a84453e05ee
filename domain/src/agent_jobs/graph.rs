//! Jobs that wait for other jobs: unique keys, dependency edges, and whole graphs created in
//! one transaction.

use entity::agent_job_dependencies as edges;
use entity::agent_jobs::{self, Column, Entity};
use sea_orm::sea_query::{ExprTrait, LockType};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QuerySelect, TransactionSession, TransactionTrait,
};
use uuid::Uuid;

use super::queue::owned_by;
use super::{AgentJob, JobOwner, JobStatus, NewJob, wakeup};
use crate::clock;
use crate::db::begin_write;
use crate::error::{Error, Result, Table, Violation};
use crate::rules::UniqueRule;
use crate::txn::retry_transient;
use crate::violations::OnTable;

/// The most jobs one job may wait for.
pub const MAX_PARENTS: usize = 1_000;
/// The most jobs one [`Graph`] may hold.
pub const MAX_GRAPH_JOBS: usize = 10_000;
/// How the error of a job cancelled because a job it waits for ended begins.
pub const DEPENDENCY_ENDED: &str = "cancelled: a job it depends on did not complete";

/// A set of jobs and the order between them, created together by [`create_graph`]: every
/// job or none. A job may only wait for jobs added before it (or for existing jobs, through
/// [`NewJob::after`]), so a graph has no cycle by construction.
///
/// ```
/// use domain::agent_jobs::{BrandBrief, Graph, JobInput, NewJob, ProductSearch, VideoBrief};
/// use domain::products::SupplierProvider;
/// let mut graph = Graph::new();
/// let brand = graph.add(NewJob::new(JobInput::BrandGenerator(BrandBrief {
///     niche: "Cyberpunk home decor".into(), tone: "futuristic".into(), store_name: None,
/// })));
/// let scout = graph.add_after(NewJob::new(JobInput::ProductScout(ProductSearch {
///     provider: SupplierProvider::Aliexpress, query: "neon lamp".into(), limit: 10,
/// })), &[brand]);
/// assert_eq!(graph.len(), 2);
/// # let _ = scout;
/// ```
#[derive(Debug, Clone, Default)]
pub struct Graph {
    id: Uuid,
    nodes: Vec<(NewJob, Vec<usize>)>,
    foreign: bool,
}

/// A job of a [`Graph`], to make later jobs of the same graph wait for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GraphNode {
    graph: Uuid,
    index: usize,
}

impl Graph {
    /// An empty graph.
    pub fn new() -> Self {
        Self {
            id: Uuid::now_v7(),
            nodes: Vec::new(),
            foreign: false,
        }
    }

    /// Adds a job that waits for nothing in the graph (it may still wait for existing jobs
    /// through [`NewJob::after`]).
    pub fn add(&mut self, job: NewJob) -> GraphNode {
        self.add_after(job, &[])
    }

    /// Adds a job that is claimable only once every one of `parents` (jobs of this graph)
    /// has COMPLETED. A node of another graph makes [`create_graph`] refuse the graph.
    pub fn add_after(&mut self, job: NewJob, parents: &[GraphNode]) -> GraphNode {
        let mut after = Vec::with_capacity(parents.len());
        for parent in parents {
            if parent.graph != self.id || parent.index >= self.nodes.len() {
                self.foreign = true;
            } else if !after.contains(&parent.index) {
                after.push(parent.index);
            }
        }
        self.nodes.push((job, after));
        GraphNode {
            graph: self.id,
            index: self.nodes.len() - 1,
        }
    }

    /// How many jobs the graph holds.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the graph holds no job.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

/// Creates every job of `graph` for `owner` in one transaction, with its edges: a job whose
/// parents have not all COMPLETED is created waiting, and becomes claimable when the last of
/// them completes. Returns the jobs in the order they were added. A job with a
/// [`NewJob::unique`] key that is taken resolves to the job holding it (and the graph's later
/// jobs wait for that one).
///
/// # Errors
/// [`Error::Invalid`]: a job's own fields (nothing is written), `parents`
/// ([`Violation::Format`]) for a node of another graph, ([`Violation::TooMany`]) past
/// [`MAX_PARENTS`] parents, `agent_jobs` ([`Violation::TooMany`]) past [`MAX_GRAPH_JOBS`];
/// [`Error::NotFound`] ([`Table::AgentJobs`]) when an existing parent is missing or
/// another owner's; [`Error::Transient`]; [`Error::Database`].
#[tracing::instrument(skip_all, err, fields(store_id, jobs = graph.len()))]
pub async fn create_graph<C>(
    db: &C,
    owner: impl Into<JobOwner>,
    graph: Graph,
) -> Result<Vec<AgentJob>>
where
    C: ConnectionTrait + TransactionTrait,
{
    let owner = owner.into();
    owner.record();
    if graph.foreign {
        return Err(Error::Invalid {
            field: "parents",
            violation: Violation::Format,
        });
    }
    if graph.len() > MAX_GRAPH_JOBS {
        return Err(Error::Invalid {
            field: "agent_jobs",
            violation: Violation::TooMany {
                max: MAX_GRAPH_JOBS,
            },
        });
    }
    let now = clock::now();
    let mut planned = Vec::with_capacity(graph.len());
    for (job, after) in graph.nodes {
        let existing = job.depends_on.clone();
        if existing.len() + after.len() > MAX_PARENTS {
            return Err(Error::Invalid {
                field: "parents",
                violation: Violation::TooMany { max: MAX_PARENTS },
            });
        }
        planned.push((job.into_row(owner, now)?, after, existing));
    }
    retry_transient(db, || async {
        let txn = begin_write(db).await?;
        let mut created: Vec<AgentJob> = Vec::with_capacity(planned.len());
        for (row, after, existing) in &planned {
            let mut parents: Vec<Uuid> = after.iter().map(|&i| created[i].id).collect();
            for id in existing {
                if !parents.contains(id) {
                    parents.push(*id);
                }
            }
            created.push(insert_job(&txn, owner, row.clone(), &parents).await?);
        }
        wakeup::notify(&txn, [None]).await?;
        txn.commit().await?;
        Ok(created)
    })
    .await
}

/// Inserts one job inside `txn` after its `parents` (locked first, so that none of them
/// completes unseen meanwhile): waiting for those not COMPLETED yet, or CANCELLED at once
/// when one of them failed or was cancelled. A job whose unique key is taken is not
/// inserted: the job holding the key is returned.
pub(super) async fn insert_job<C>(
    txn: &C,
    owner: JobOwner,
    mut row: agent_jobs::Model,
    parents: &[Uuid],
) -> Result<AgentJob>
where
    C: ConnectionTrait + TransactionTrait,
{
    if !parents.is_empty() {
        let found: Vec<(Uuid, JobStatus)> = Entity::find()
            .select_only()
            .columns([Column::Id, Column::Status])
            .filter(Column::Id.is_in(parents.iter().copied()))
            .filter(owned_by(owner))
            .lock(LockType::Update)
            .into_tuple()
            .all(txn)
            .await?;
        if found.len() != parents.len() {
            return Err(Error::NotFound {
                entity: Table::AgentJobs,
            });
        }
        row.waiting_for = found
            .iter()
            .filter(|(_, status)| matches!(status, JobStatus::Pending | JobStatus::Processing))
            .count()
            .try_into()
            .unwrap_or(i32::MAX);
        if let Some((parent, status)) = found
            .iter()
            .find(|(_, status)| matches!(status, JobStatus::Failed | JobStatus::Cancelled))
        {
            row.status = JobStatus::Cancelled;
            row.cancelled_by = Some(*parent);
            row.error = Some(ended_reason(*parent, *status));
            row.completed_at = Some(row.created_at);
        }
    }
    let job = match &row.unique_key {
        Some(key) if row.status == JobStatus::Pending => {
            let key = key.clone();
            match insert_unique(txn, owner, row.clone(), &key).await? {
                Some(existing) => return Ok(existing),
                None => AgentJob::try_from(row.clone())?,
            }
        }
        _ => {
            insert_row(txn, row.clone()).await?;
            AgentJob::try_from(row.clone())?
        }
    };
    if !parents.is_empty() {
        add_edges(txn, row.id, parents).await?;
    }
    Ok(job)
}

/// Inserts a row with a unique key in a savepoint: `None` when it was inserted, the job
/// holding the key when the key is taken.
async fn insert_unique<C>(
    txn: &C,
    owner: JobOwner,
    row: agent_jobs::Model,
    key: &str,
) -> Result<Option<AgentJob>>
where
    C: ConnectionTrait + TransactionTrait,
{
    // The holder may finish between the refused insert and the read: a few rounds settle it.
    for _ in 0..5 {
        let savepoint = txn.begin().await?;
        match insert_row(&savepoint, row.clone()).await {
            Ok(()) => {
                savepoint.commit().await?;
                return Ok(None);
            }
            Err(Error::Conflict {
                rule: UniqueRule::AgentJobsStoreUniqueKey,
            }) => savepoint.rollback().await?,
            Err(err) => return Err(err),
        }
        // A locking read: it sees the holder that just committed, whatever the isolation.
        let holder = Entity::find()
            .filter(owned_by(owner))
            .filter(Column::UniqueKey.eq(key))
            .filter(Column::Status.is_in([JobStatus::Pending, JobStatus::Processing]))
            .lock(LockType::Update)
            .one(txn)
            .await?;
        if let Some(holder) = holder {
            tracing::debug!(job_id = %holder.id, "unique key taken; returning the job holding it");
            return Ok(Some(AgentJob::try_from(holder)?));
        }
    }
    Err(Error::Conflict {
        rule: UniqueRule::AgentJobsStoreUniqueKey,
    })
}

async fn insert_row<C: ConnectionTrait>(db: &C, row: agent_jobs::Model) -> Result<()> {
    Entity::insert(row.into_active_model())
        .exec_without_returning(db)
        .await
        .on_table("agent_jobs")?;
    Ok(())
}

/// Records that `job` waits for `parents` (each once), and marks the parents as having
/// dependants (so that finishing them takes the path that updates their dependants).
pub(super) async fn add_edges<C: ConnectionTrait>(
    db: &C,
    job: Uuid,
    parents: &[Uuid],
) -> Result<()> {
    if parents.is_empty() {
        return Ok(());
    }
    edges::Entity::insert_many(parents.iter().map(|&parent| edges::ActiveModel {
        job_id: Set(job),
        depends_on: Set(parent),
    }))
    .exec_without_returning(db)
    .await
    .on_table("agent_job_dependencies")?;
    Entity::update_many()
        .set(agent_jobs::ActiveModel {
            has_dependants: Set(true),
            ..Default::default()
        })
        .filter(Column::Id.is_in(parents.iter().copied()))
        // A PROCESSING parent gets a new row version even when it is already marked: its
        // worker may be completing it in one statement right now, and that statement
        // writes nothing when the row changed under it (`dependants::complete_at_once`).
        .filter(
            Column::HasDependants
                .eq(false)
                .or(Column::Status.eq(JobStatus::Processing)),
        )
        .exec(db)
        .await
        .on_table("agent_jobs")?;
    Ok(())
}

/// The error kept on a job cancelled because `parent` ended as `status`.
pub(super) fn ended_reason(parent: Uuid, status: JobStatus) -> String {
    let ended = match status {
        JobStatus::Failed => "failed",
        _ => "was cancelled",
    };
    format!("{DEPENDENCY_ENDED}: job {parent} {ended}")
}
