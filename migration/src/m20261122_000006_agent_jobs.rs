//! The work queue of the AI agents.

use sea_orm_migration::prelude::*;

use crate::m20261122_000003_stores::Stores;
use crate::schema::{
    DbEnum, create_enum, drop_enum, enum_check, enumeration, foreign_key, index, json,
    non_negative_check, pk_uuid, string_null, text_null, timestamptz, timestamptz_now,
};

const AGENT_TYPE: DbEnum = DbEnum {
    name: "agent_type",
    variants: &[
        "BRAND_GENERATOR",
        "PRODUCT_SCOUT",
        "COPYWRITER",
        "IMAGE_PROCESSOR",
        "VIDEO_GENERATOR",
    ],
};

const JOB_STATUS: DbEnum = DbEnum {
    name: "job_status",
    variants: &["PENDING", "PROCESSING", "COMPLETED", "FAILED", "CANCELLED"],
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        create_enum(manager, AGENT_TYPE).await?;
        create_enum(manager, JOB_STATUS).await?;

        let mut jobs = Table::create();
        jobs.table(AgentJobs::Table)
            .col(pk_uuid(AgentJobs::Id))
            // Null for system jobs, and once the store is deleted: the job history stays.
            .col(ColumnDef::new(AgentJobs::StoreId).uuid().null())
            .col(enumeration(AgentJobs::Type, AGENT_TYPE).not_null())
            .col(
                enumeration(AgentJobs::Status, JOB_STATUS)
                    .not_null()
                    .default("PENDING"),
            )
            // Higher runs first.
            .col(
                ColumnDef::new(AgentJobs::Priority)
                    .integer()
                    .not_null()
                    .default(0),
            )
            .col(json(AgentJobs::Input).not_null())
            .col(json(AgentJobs::Output).null())
            .col(text_null(AgentJobs::Error))
            .col(timestamptz(db, AgentJobs::StartedAt).null())
            .col(timestamptz(db, AgentJobs::CompletedAt).null())
            .col(
                ColumnDef::new(AgentJobs::Progress)
                    .integer()
                    .not_null()
                    .default(0),
            )
            .col(string_null(AgentJobs::CurrentStep))
            .col(timestamptz_now(db, AgentJobs::CreatedAt))
            .col(timestamptz_now(db, AgentJobs::UpdatedAt))
            .col(
                ColumnDef::new(AgentJobs::Attempts)
                    .integer()
                    .not_null()
                    .default(0),
            )
            .col(
                ColumnDef::new(AgentJobs::MaxAttempts)
                    .integer()
                    .not_null()
                    .default(3),
            )
            // Not claimable before this instant: scheduling and retry back-off.
            .col(timestamptz_now(db, AgentJobs::RunAt))
            // The worker holding a PROCESSING job, and its lease: a heartbeat older than the
            // lease means the worker is gone and the job may be rescued.
            .col(string_null(AgentJobs::LockedBy))
            .col(timestamptz(db, AgentJobs::HeartbeatAt).null())
            .foreign_key(&mut foreign_key(
                "fk_agent_jobs_store_id",
                (AgentJobs::Table, AgentJobs::StoreId),
                (Stores::Table, Stores::Id),
                ForeignKeyAction::SetNull,
            ))
            .check(Check::named(
                "ck_agent_jobs_progress",
                Expr::col(AgentJobs::Progress).between(0, 100),
            ))
            .check(non_negative_check(
                "ck_agent_jobs_attempts",
                AgentJobs::Attempts,
            ))
            .check(Check::named(
                "ck_agent_jobs_max_attempts",
                Expr::col(AgentJobs::MaxAttempts).gte(1),
            ));
        for check in [
            enum_check(db, "ck_agent_jobs_type", AgentJobs::Type, AGENT_TYPE),
            enum_check(db, "ck_agent_jobs_status", AgentJobs::Status, JOB_STATUS),
        ]
        .into_iter()
        .flatten()
        {
            jobs.check(check);
        }
        manager.create_table(jobs).await?;

        manager
            .create_index(index(
                "idx_agent_jobs_store_id",
                AgentJobs::Table,
                [AgentJobs::StoreId],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_agent_jobs_status",
                AgentJobs::Table,
                [AgentJobs::Status],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_agent_jobs_type",
                AgentJobs::Table,
                [AgentJobs::Type],
            ))
            .await?;
        // "Claim the next runnable job" filters on status and orders by priority (highest
        // first), then run_at, then id (UUID v7, so oldest first): this index answers it with
        // an index scan in that exact order.
        manager
            .create_index(
                Index::create()
                    .name("idx_agent_jobs_claim")
                    .table(AgentJobs::Table)
                    .col(AgentJobs::Status)
                    .col((AgentJobs::Priority, IndexOrder::Desc))
                    .col(AgentJobs::RunAt)
                    .col(AgentJobs::Id)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AgentJobs::Table).to_owned())
            .await?;
        drop_enum(manager, JOB_STATUS).await?;
        drop_enum(manager, AGENT_TYPE).await
    }
}

#[derive(DeriveIden)]
pub(crate) enum AgentJobs {
    Table,
    Id,
    StoreId,
    Type,
    Status,
    Priority,
    Input,
    Output,
    Error,
    StartedAt,
    CompletedAt,
    Progress,
    CurrentStep,
    CreatedAt,
    UpdatedAt,
    Attempts,
    MaxAttempts,
    RunAt,
    LockedBy,
    HeartbeatAt,
}
