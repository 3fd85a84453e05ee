//! The benchmark of the data layer (`cargo bench -p bench --bench workloads`): the workloads of
//! `bench/README.md` through `domain`, the same work as hand-written SQL through `sqlx` (the
//! baseline), the floor Postgres itself allows for the job queue (`pgbench`), and a scale mode
//! that runs the reads at two data volumes.
//!
//! It is a program, not a test: it prints figures and never fails on a number. It does fail
//! (exit code 1) when one of its own correctness checks fails.

pub mod baseline;
pub mod data;
pub mod floor;
pub mod pipeline;
pub mod replica_reads;
pub mod report;
pub mod run;
pub mod scale;
pub mod settings;
pub mod workloads;

pub use report::{Impl, Measurement, Report};
pub use settings::Settings;

/// Errors of the bench: anything that stops a run, as text for the terminal.
pub type BenchResult<T> = Result<T, String>;

/// After a workload's jobs are enqueued (not timed): the planner's statistics of the queue
/// tables brought up to date on Postgres, as autovacuum keeps them on a queue in service.
/// Without it every job workload would be planned on the statistics of the empty queue
/// each starts from (and the pgbench floor already analyzes before it runs).
///
/// # Errors
/// The database's.
pub async fn analyze_jobs(db: &domain::DatabaseConnection) -> BenchResult<()> {
    use sea_orm::ConnectionTrait;
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        db.execute_unprepared("ANALYZE agent_jobs, agent_job_dependencies")
            .await
            .map_err(context("analyze jobs"))?;
    }
    Ok(())
}

/// Turns any displayable error into the bench's error, with what was being done.
pub fn context<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> String {
    move |err| format!("{what}: {err}")
}
