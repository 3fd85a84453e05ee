//! Tests whose assertions are about time (a wake-up within a second, two sign-in paths that
//! take about as long as each other). They are a binary of their own, so that they never run
//! beside the contract tests (cargo runs test binaries one after another), and they take
//! [`ALONE`] so that they do not run beside each other either: a loaded machine would
//! otherwise fail them at random.

mod sign_in;
mod wakeup;

pub use tests::builders::*;
pub use tests::{Backend, TestDb, backend_test};

/// Held for the whole of each test of this binary.
pub static ALONE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
