//! The value types of a job's queue columns: who holds it, how far it is.

use uuid::Uuid;

use super::MAX_WORKER_ID;
use crate::error::{Error, Result, Violation};

/// Who holds a job while it runs (`agent_jobs.locked_by`): 1 to [`MAX_WORKER_ID`] characters,
/// no control character. Make it unique per worker process and task, e.g. with
/// [`WorkerId::generate`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WorkerId(String);

impl WorkerId {
    /// Checks a worker id.
    ///
    /// # Errors
    /// [`Error::Invalid`] (`agent_jobs.locked_by`): [`Violation::Empty`], [`Violation::TooLong`],
    /// [`Violation::ControlCharacter`] or [`Violation::Format`] (surrounding whitespace).
    pub fn parse(id: impl Into<String>) -> Result<Self> {
        let id = id.into();
        if id.trim().is_empty() {
            return Err(Error::Invalid {
                field: "agent_jobs.locked_by",
                violation: Violation::Empty,
            });
        }
        if id.chars().count() > MAX_WORKER_ID {
            return Err(Error::Invalid {
                field: "agent_jobs.locked_by",
                violation: Violation::TooLong { max: MAX_WORKER_ID },
            });
        }
        // Any control character, tab and line breaks included: an id is one line.
        if id.chars().any(char::is_control) {
            return Err(Error::Invalid {
                field: "agent_jobs.locked_by",
                violation: Violation::ControlCharacter,
            });
        }
        // A job's holder is compared exactly; MariaDB ignores trailing spaces even in a
        // binary collation, so `w1` and `w1 ` would hold each other's jobs there.
        if id.trim() != id {
            return Err(Error::Invalid {
                field: "agent_jobs.locked_by",
                violation: Violation::Format,
            });
        }
        Ok(Self(id))
    }

    /// A fresh unique id, `<prefix>-<uuid>`; the prefix (without its control characters, cut
    /// to 200 characters) says what the worker is, e.g. `"copywriter"`.
    pub fn generate(prefix: &str) -> Self {
        let prefix: String = prefix
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect::<String>()
            .trim()
            .to_owned();
        Self(format!("{prefix}-{}", Uuid::now_v7().simple()))
    }

    /// The id as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for WorkerId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for WorkerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Progress of a job in percent, 0 to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Progress(u8);

impl Progress {
    /// Done.
    pub const DONE: Progress = Progress(100);

    /// Checks a percentage.
    ///
    /// # Errors
    /// [`Error::Invalid`] (`agent_jobs.progress`) with [`Violation::OutOfRange`] above 100.
    pub fn new(percent: u8) -> Result<Self> {
        if percent > 100 {
            return Err(Error::Invalid {
                field: "agent_jobs.progress",
                violation: Violation::OutOfRange { min: 0, max: 100 },
            });
        }
        Ok(Self(percent))
    }

    /// The percentage.
    pub fn percent(self) -> u8 {
        self.0
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]

        /// Worker ids: no panic; an accepted id is one line within the limit, without
        /// surrounding whitespace, and parses to itself; a generated id always parses.
        #[test]
        fn worker_ids_are_one_exact_line(input in super::super::payload::strategies::edgy()) {
            if let Ok(id) = WorkerId::parse(input.clone()) {
                prop_assert!(id.as_str().chars().count() <= MAX_WORKER_ID);
                prop_assert!(!id.as_str().chars().any(char::is_control));
                prop_assert_eq!(id.as_str().trim(), id.as_str());
                prop_assert_eq!(WorkerId::parse(id.as_str()).ok(), Some(id.clone()));
            }
            let generated = WorkerId::generate(&input);
            prop_assert_eq!(WorkerId::parse(generated.as_str()).ok(), Some(generated));
        }

        /// Progress: exactly 0 to 100.
        #[test]
        fn progress_is_a_percentage(percent in any::<u8>()) {
            prop_assert_eq!(Progress::new(percent).is_ok(), percent <= 100);
        }
    }
}

/// A job's uniqueness key (`agent_jobs.unique_key`): while a job of the same owner with this
/// key is PENDING or PROCESSING, creating another returns that job instead. 1 to
/// [`MAX_UNIQUE_KEY`] characters, no control character, no surrounding whitespace; compared
/// exactly (case and accents count) on every backend.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UniqueKey(String);

/// Longest unique key, in characters (`unique_key` is a `varchar(255)`).
pub const MAX_UNIQUE_KEY: usize = 255;

impl UniqueKey {
    /// Checks a key.
    ///
    /// # Errors
    /// [`Error::Invalid`] (`agent_jobs.unique_key`): [`Violation::Empty`],
    /// [`Violation::TooLong`], [`Violation::ControlCharacter`] or [`Violation::Format`]
    /// (surrounding whitespace, which MariaDB would not compare exactly).
    pub fn parse(key: impl Into<String>) -> Result<Self> {
        let key = key.into();
        let invalid = |violation| Error::Invalid {
            field: "agent_jobs.unique_key",
            violation,
        };
        if key.trim().is_empty() {
            return Err(invalid(Violation::Empty));
        }
        if key.chars().count() > MAX_UNIQUE_KEY {
            return Err(invalid(Violation::TooLong {
                max: MAX_UNIQUE_KEY,
            }));
        }
        if key.chars().any(char::is_control) {
            return Err(invalid(Violation::ControlCharacter));
        }
        if key.trim() != key {
            return Err(invalid(Violation::Format));
        }
        Ok(Self(key))
    }

    /// The key as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for UniqueKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
