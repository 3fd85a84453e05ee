//! The agent pipeline: unique jobs, dependencies between jobs, periodic schedules and the
//! gates that serialise capped claims.
//!
//! - `agent_jobs.unique_key`: while a job with a key is PENDING or PROCESSING, no other job of
//!   the same owner (store, or the system) may carry it. `uq_agent_jobs_store_id_unique_key`
//!   enforces it on every backend, in the form each one has:
//!   - Postgres: a partial unique index on `(store_id, unique_key) NULLS NOT DISTINCT`
//!     (Postgres 15+), so that system jobs (no store) share one namespace;
//!   - SQLite: a partial unique index on `(ifnull(store_id, x''), unique_key)`;
//!   - MariaDB/MySQL (no partial indexes): a unique index on a virtual column that holds the
//!     owner and the key while the job is active, and NULL (never equal) otherwise.
//! - `agent_jobs.waiting_for`: how many of the jobs it depends on are not COMPLETED yet. A job
//!   is claimable only at 0; the claim index leads with `(status, waiting_for)`, so blocked
//!   jobs cost the claim nothing.
//! - `agent_jobs.has_dependants`: set when a job gets its first dependant, so that finishing
//!   a job that has none stays the single UPDATE it always was.
//! - `agent_jobs.cancelled_by`: the job whose failure or cancellation cancelled this one (no
//!   foreign key: the history outlives a purged parent).
//! - `idx_agent_jobs_store_id_status`, `idx_agent_jobs_type_status` replace the single-column
//!   indexes on `store_id` and `type`: a capped claim counts the running jobs of a store or
//!   type through them.
//! - `agent_job_dependencies (job_id, depends_on)`: the edges, removed with either job.
//! - `agent_job_schedules (name, next_run_at)`: one row per periodic schedule; a tick is taken
//!   by moving `next_run_at` with a compare-and-set, so each tick is taken once.
//! - `agent_job_gates (gate)`: one row per capped key (`store:<id>`, `type:<agent type>`),
//!   locked by a capped claim while it counts the running jobs of that key.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

use crate::m20261122_000006_agent_jobs::AgentJobs;
use crate::m20261128_000009_exact_text::exact_collation;
use crate::schema::{foreign_key, index, string, timestamptz, timestamptz_now, uuid};

#[derive(DeriveMigrationName)]
pub struct Migration;

const ACTIVE: &str = "status IN ('PENDING', 'PROCESSING')";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let db = manager.get_connection();
        manager
            .alter_table(
                Table::alter()
                    .table(AgentJobs::Table)
                    .add_column(ColumnDef::new(Pipeline::UniqueKey).string().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AgentJobs::Table)
                    .add_column(ColumnDef::new(Pipeline::CancelledBy).uuid().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AgentJobs::Table)
                    .add_column(
                        ColumnDef::new(Pipeline::HasDependants)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .to_owned(),
            )
            .await?;
        // A named CHECK on an added column: SQLite takes it only inline.
        let waiting_for = match backend {
            DbBackend::Sqlite => {
                "ALTER TABLE agent_jobs ADD COLUMN waiting_for integer NOT NULL DEFAULT 0 \
                 CONSTRAINT ck_agent_jobs_waiting_for CHECK (waiting_for >= 0)"
            }
            DbBackend::MySql => {
                "ALTER TABLE agent_jobs ADD COLUMN waiting_for int NOT NULL DEFAULT 0, \
                 ADD CONSTRAINT ck_agent_jobs_waiting_for CHECK (waiting_for >= 0)"
            }
            _ => {
                "ALTER TABLE agent_jobs ADD COLUMN waiting_for integer NOT NULL DEFAULT 0, \
                 ADD CONSTRAINT ck_agent_jobs_waiting_for CHECK (waiting_for >= 0)"
            }
        };
        db.execute_unprepared(waiting_for).await?;

        match backend {
            DbBackend::Postgres => {
                db.execute_unprepared(&format!(
                    "CREATE UNIQUE INDEX uq_agent_jobs_store_id_unique_key ON agent_jobs \
                     (store_id, unique_key) NULLS NOT DISTINCT \
                     WHERE unique_key IS NOT NULL AND {ACTIVE}"
                ))
                .await?;
            }
            DbBackend::Sqlite => {
                db.execute_unprepared(&format!(
                    "CREATE UNIQUE INDEX uq_agent_jobs_store_id_unique_key ON agent_jobs \
                     (ifnull(store_id, x''), unique_key) \
                     WHERE unique_key IS NOT NULL AND {ACTIVE}"
                ))
                .await?;
            }
            _ => {
                // The owner's 16 bytes (zeros for the system) then the key's, while active.
                db.execute_unprepared(&format!(
                    "ALTER TABLE agent_jobs ADD COLUMN unique_slot varbinary(1040) AS \
                     (IF(unique_key IS NOT NULL AND {ACTIVE}, \
                     CONCAT(IFNULL(store_id, REPEAT(CHAR(0), 16)), CAST(unique_key AS BINARY)), \
                     NULL)) VIRTUAL, \
                     ADD UNIQUE INDEX uq_agent_jobs_store_id_unique_key (unique_slot)"
                ))
                .await?;
            }
        }

        drop_claim_index(manager).await?;
        manager.create_index(claim_index(true)).await?;
        // A capped claim counts the PROCESSING jobs of one store or one agent type: by
        // `(store_id, status)` and `(type, status)` that is a few index entries, where the
        // single-column indexes made it a walk through the store's (type's) whole history.
        // Each replaces its single-column index, whose lookups it serves as well.
        for (old, new, column) in widened_indexes() {
            manager
                .create_index(index(new, AgentJobs::Table, [column, AgentJobs::Status]))
                .await?;
            drop_index(manager, old).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Dependencies::Table)
                    .col(uuid(Dependencies::JobId))
                    .col(uuid(Dependencies::DependsOn))
                    .primary_key(
                        Index::create()
                            .name("pk_agent_job_dependencies")
                            .col(Dependencies::JobId)
                            .col(Dependencies::DependsOn),
                    )
                    .foreign_key(&mut foreign_key(
                        "fk_agent_job_dependencies_job_id",
                        (Dependencies::Table, Dependencies::JobId),
                        (AgentJobs::Table, AgentJobs::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_agent_job_dependencies_depends_on",
                        (Dependencies::Table, Dependencies::DependsOn),
                        (AgentJobs::Table, AgentJobs::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .check(Check::named(
                        "ck_agent_job_dependencies_depends_on",
                        Expr::col(Dependencies::DependsOn).ne(Expr::col(Dependencies::JobId)),
                    ))
                    .to_owned(),
            )
            .await?;
        // Completing or failing a job looks up the jobs that wait for it.
        manager
            .create_index(index(
                "idx_agent_job_dependencies_depends_on",
                Dependencies::Table,
                [Dependencies::DependsOn],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Schedules::Table)
                    .col(string(Schedules::Name).primary_key())
                    .col(timestamptz(backend, Schedules::NextRunAt).not_null())
                    .col(timestamptz(backend, Schedules::LastRunAt).null())
                    .col(timestamptz_now(backend, Schedules::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Gates::Table)
                    .col(string(Gates::Gate).primary_key())
                    .to_owned(),
            )
            .await?;
        if backend == DbBackend::MySql {
            let collation = exact_collation(db).await?;
            for table in ["agent_job_schedules", "agent_job_gates"] {
                db.execute_unprepared(&format!(
                    "ALTER TABLE `{table}` CONVERT TO CHARACTER SET utf8mb4 COLLATE {collation}"
                ))
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let db = manager.get_connection();
        for table in [
            Dependencies::Table.to_string(),
            Schedules::Table.to_string(),
            Gates::Table.to_string(),
        ] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        drop_claim_index(manager).await?;
        manager.create_index(claim_index(false)).await?;
        for (old, new, column) in widened_indexes() {
            manager
                .create_index(index(old, AgentJobs::Table, [column]))
                .await?;
            drop_index(manager, new).await?;
        }
        match backend {
            DbBackend::MySql => {
                db.execute_unprepared(
                    "ALTER TABLE agent_jobs DROP INDEX uq_agent_jobs_store_id_unique_key, \
                     DROP COLUMN unique_slot, DROP CONSTRAINT ck_agent_jobs_waiting_for",
                )
                .await?;
            }
            DbBackend::Postgres => {
                db.execute_unprepared(
                    "DROP INDEX uq_agent_jobs_store_id_unique_key; \
                     ALTER TABLE agent_jobs DROP CONSTRAINT ck_agent_jobs_waiting_for",
                )
                .await?;
            }
            _ => {
                db.execute_unprepared("DROP INDEX uq_agent_jobs_store_id_unique_key")
                    .await?;
            }
        }
        // SQLite drops a column whose CHECK is its own column constraint, once no index
        // names it (both indexes are gone or rebuilt above).
        for column in [
            Pipeline::HasDependants,
            Pipeline::WaitingFor,
            Pipeline::CancelledBy,
            Pipeline::UniqueKey,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(AgentJobs::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

async fn drop_claim_index(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    drop_index(manager, "idx_agent_jobs_claim").await
}

/// Drops an index of `agent_jobs` (MariaDB names the table; the others do not).
async fn drop_index(manager: &SchemaManager<'_>, name: &str) -> Result<(), DbErr> {
    let sql = match manager.get_database_backend() {
        DbBackend::MySql => format!("DROP INDEX {name} ON agent_jobs"),
        _ => format!("DROP INDEX {name}"),
    };
    manager.get_connection().execute_unprepared(&sql).await?;
    Ok(())
}

/// The claim's index: `(status, waiting_for, priority DESC, run_at, id)` once dependencies
/// exist, `(status, priority DESC, run_at, id)` before.
fn claim_index(with_waiting_for: bool) -> IndexCreateStatement {
    let mut index = Index::create();
    index
        .name("idx_agent_jobs_claim")
        .table(AgentJobs::Table)
        .col(AgentJobs::Status);
    if with_waiting_for {
        index.col(Pipeline::WaitingFor);
    }
    index
        .col((AgentJobs::Priority, IndexOrder::Desc))
        .col(AgentJobs::RunAt)
        .col(AgentJobs::Id)
        .to_owned()
}

#[derive(DeriveIden)]
enum Pipeline {
    UniqueKey,
    HasDependants,
    WaitingFor,
    CancelledBy,
}

#[derive(DeriveIden)]
enum Dependencies {
    #[sea_orm(iden = "agent_job_dependencies")]
    Table,
    JobId,
    DependsOn,
}

#[derive(DeriveIden)]
enum Schedules {
    #[sea_orm(iden = "agent_job_schedules")]
    Table,
    Name,
    NextRunAt,
    LastRunAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Gates {
    #[sea_orm(iden = "agent_job_gates")]
    Table,
    Gate,
}

/// The single-column indexes of `agent_jobs` that this migration widens with `status`:
/// `(old name, new name, column)`.
fn widened_indexes() -> [(&'static str, &'static str, AgentJobs); 2] {
    [
        (
            "idx_agent_jobs_store_id",
            "idx_agent_jobs_store_id_status",
            AgentJobs::StoreId,
        ),
        (
            "idx_agent_jobs_type",
            "idx_agent_jobs_type_status",
            AgentJobs::Type,
        ),
    ]
}
