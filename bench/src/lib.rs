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

/// Turns any displayable error into the bench's error, with what was being done.
pub fn context<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> String {
    move |err| format!("{what}: {err}")
}
