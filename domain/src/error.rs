//! The one error type of the crate.

use entity::sea_orm_active_enums::AgentType;
use sea_orm::DbErr;
use uuid::Uuid;

use crate::agent_jobs::ReleaseReason;
use crate::rules::{CheckRule, ForeignKeyRule, UniqueRule};

/// The result type of every fallible function of the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the data layer. Callers match on variants, never on the
/// message text; no variant carries a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The row does not exist, or belongs to someone else (the two are not told apart, so
    /// that nobody can probe for another tenant's rows).
    #[error("{entity} not found")]
    NotFound {
        /// The kind of row, e.g. `"store"`.
        entity: &'static str,
    },

    /// A uniqueness rule refused the write: the value is taken.
    #[error("{rule} is already taken")]
    Conflict {
        /// The rule that was broken.
        rule: UniqueRule,
    },

    /// A foreign key refused the write: the referenced row does not exist.
    #[error("{rule} refers to a row that does not exist")]
    MissingReference {
        /// The foreign key that was broken.
        rule: ForeignKeyRule,
    },

    /// An input broke a validation rule (in Rust, or a CHECK of the database).
    #[error("invalid {field}: {violation}")]
    Invalid {
        /// The input field or column, e.g. `"email"` or `"products.cost_price"`.
        field: &'static str,
        /// The rule it broke.
        violation: Violation,
    },

    /// A state machine refused a transition.
    #[error("{entity} cannot go from {from} to {to}")]
    InvalidTransition {
        /// The kind of row, e.g. `"store"`.
        entity: &'static str,
        /// The current state, spelled as stored.
        from: &'static str,
        /// The requested state, spelled as stored.
        to: &'static str,
    },

    /// A stock decrement would go below zero.
    #[error("insufficient stock: {requested} requested, {available} available")]
    InsufficientStock {
        /// How many units were asked for.
        requested: i32,
        /// How many were left.
        available: i32,
    },

    /// Sign-in failed. Deliberately says neither whether the account exists nor which part of
    /// the credentials was wrong.
    #[error("authentication failed")]
    AuthenticationFailed,

    /// The configuration from the environment is unusable.
    #[error("configuration: {variable}: {reason}")]
    Config {
        /// The environment variable at fault.
        variable: &'static str,
        /// What is wrong with it (never its value).
        reason: ConfigProblem,
    },

    /// A worker's handle on an agent job no longer holds it: the job was cancelled, or its
    /// lease ran out and it was rescued (and perhaps claimed again). Nothing the worker writes
    /// through the handle changes the job any more; it should stop working on it.
    #[error("agent job {job_id} is no longer held by this worker: {reason}")]
    JobReleased {
        /// The job the worker was holding.
        job_id: Uuid,
        /// Why the worker lost it.
        reason: ReleaseReason,
    },

    /// Any other database error (connection lost, timeout, …), kept for its source.
    #[error("database error: {0}")]
    Database(#[source] DbErr),
}

/// Why an input was refused; each variant names the rule, with its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Violation {
    /// Empty, or only whitespace.
    #[error("must not be empty")]
    Empty,
    /// Shorter than allowed (in characters).
    #[error("must be at least {min} characters")]
    TooShort {
        /// The minimum length.
        min: usize,
    },
    /// Longer than allowed (in characters).
    #[error("must be at most {max} characters")]
    TooLong {
        /// The maximum length.
        max: usize,
    },
    /// Outside the allowed range.
    #[error("must be between {min} and {max}")]
    OutOfRange {
        /// The smallest allowed value.
        min: i64,
        /// The largest allowed value.
        max: i64,
    },
    /// Does not have the required format.
    #[error("has an invalid format")]
    Format,
    /// A CHECK constraint of the database refused the value.
    #[error("violates {}", .0.name())]
    Check(CheckRule),
    /// Lower than the value it replaces, where the value may only grow (job progress).
    #[error("must not go below the current {current}")]
    Backwards {
        /// The value already stored.
        current: i64,
    },
    /// A payload of one agent type given for a job of another (an output that does not fit
    /// the job).
    #[error("belongs to {found:?} but the job is {expected:?}")]
    AgentTypeMismatch {
        /// The type of the job.
        expected: AgentType,
        /// The type of the payload given.
        found: AgentType,
    },
}

/// Why a configuration variable was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigProblem {
    /// Not a number where one is expected.
    #[error("expected a whole number")]
    NotANumber,
    /// Not `true`/`false` (or `1`/`0`, `yes`/`no`, `on`/`off`).
    #[error("expected true or false")]
    NotABool,
    /// A number outside the allowed range.
    #[error("must be between {min} and {max}")]
    OutOfRange {
        /// The smallest allowed value.
        min: u64,
        /// The largest allowed value.
        max: u64,
    },
    /// A database URL of an unsupported scheme.
    #[error("expected a postgres://, mysql:// or sqlite: URL")]
    UnsupportedUrl,
}

impl From<DbErr> for Error {
    /// Translates violations of the schema's rules into [`Error::Conflict`],
    /// [`Error::MissingReference`] and [`Error::Invalid`]; see [`crate::rules::translate`].
    fn from(err: DbErr) -> Self {
        crate::rules::translate(err, None)
    }
}
