//! Drops `idx_agent_jobs_status`: `idx_agent_jobs_claim` (status, priority DESC, run_at, id)
//! leads with the same column and serves every filter on status (claim, rescue, prune).
//!
//! The single-column index was worse than redundant: after a burst of enqueues, before
//! autovacuum analyzes the table again, statistics taken over a history of finished jobs say
//! PENDING is rare, and Postgres planned the claim as "every PENDING row through
//! `idx_agent_jobs_status`, then sort, take one". With 20,000 jobs queued each claim sorted
//! them all: the bench's queue drained at about 200 jobs/s instead of about 2,000. Without it
//! the claim is always the ordered scan of `idx_agent_jobs_claim` that stops at the first
//! unlocked row.

use sea_orm_migration::prelude::*;

use crate::m20261122_000006_agent_jobs::AgentJobs;
use crate::schema::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_agent_jobs_status")
                    .table(AgentJobs::Table)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(index(
                "idx_agent_jobs_status",
                AgentJobs::Table,
                [AgentJobs::Status],
            ))
            .await
    }
}
