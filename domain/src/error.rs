//! The one error type of the crate.

use entity::sea_orm_active_enums::{AgentType, JobStatus, ProductStatus, StoreStatus};
use sea_orm::{ActiveEnum, DbErr};
use uuid::Uuid;

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
    #[error("{entity} row not found")]
    NotFound {
        /// The table the row was looked up in.
        entity: Table,
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
    ///
    /// `field` follows one scheme, so that the same rule is named alike whether Rust or a
    /// database CHECK caught it: a value that is stored is named by where it lands,
    /// `table.column` (`"products.cost_price"`, `"product_variants.sku"`), followed by the path
    /// inside a JSON column (`"agent_jobs.input.niche"`, `"stores.settings.currency"`); an
    /// argument that is not stored as given is named as the argument (`"limit"`, `"cursor"`,
    /// `"password"`, `"age"`).
    #[error("invalid {field}: {violation}")]
    Invalid {
        /// Where the value lands (`table.column[.json.path]`), or the argument's name.
        field: &'static str,
        /// The rule it broke.
        violation: Violation,
    },

    /// A state machine refused a transition; the data says which machine, from where and to
    /// where, as the status enums.
    #[error("{0}")]
    InvalidTransition(Transition),

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

    /// A single-use or time-limited token was valid once but its lifetime is over.
    #[error("the {entity} row has expired")]
    Expired {
        /// The table of the token, e.g. [`Table::VerificationTokens`].
        entity: Table,
    },

    /// A stored row holds a value this build cannot decode (JSON that does not fit its type,
    /// an unknown currency, …): written by hand, or by another version. The row is left as it
    /// is; the error names where it is so that an operator can repair it.
    #[error("{table}.{column} of row {row} cannot be decoded")]
    Undecodable {
        /// The table of the row.
        table: Table,
        /// The column that does not decode.
        column: &'static str,
        /// The row's id.
        row: Uuid,
    },

    /// A stored secret could not be decrypted: it was altered, or it was written under a key
    /// that the key ring does not hold. Decryption never hands back garbage instead.
    #[error("cannot decrypt {field}: {problem}")]
    Decryption {
        /// The column, e.g. `"supplier_accounts.api_key"`.
        field: &'static str,
        /// Why the stored value was refused.
        problem: DecryptionProblem,
    },

    /// A cryptographic primitive failed for a reason unrelated to the input (no secret in it).
    #[error("cryptography failed: {0}")]
    Crypto(CryptoFailure),

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

    /// The transaction lost a deadlock, a serialization conflict or a lock wait, and the
    /// database rolled it back **whole** (on MariaDB even when the call ran inside the caller's
    /// transaction: every earlier write of that transaction is gone too). Nothing was wrong
    /// with the input: run the whole transaction again, for example with
    /// [`crate::transaction`], which does so by itself.
    #[error("the transaction was rolled back by a deadlock or lock timeout; run it again")]
    Transient(#[source] DbErr),

    /// The first connection to the database failed. The message names the host and port (or
    /// the SQLite file), the cause (refused, authentication, unknown database, read-only
    /// folder, …) and the fix; never the password.
    #[error("{0}")]
    Connect(migration::connection::ConnectError),

    /// Applying migrations was refused: the database holds migrations this build does not know
    /// (a newer build applied them), and changing its schema from an older build could break it.
    #[error(
        "the database has applied migrations this build does not know ({}); refusing to migrate: \
         run the migrations of the newest build",
        .unknown.join(", ")
    )]
    SchemaIsNewer {
        /// The names of the unknown applied migrations.
        unknown: Vec<String>,
    },

    /// Any other database error (connection lost, timeout, …), kept for its source.
    #[error("database error: {0}")]
    Database(#[source] DbErr),
}

/// The tables of the schema, named as in the database: what a row-level error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Table {
    /// `users`
    Users,
    /// `accounts` (OAuth links)
    Accounts,
    /// `sessions`
    Sessions,
    /// `verification_tokens`
    VerificationTokens,
    /// `supplier_accounts`
    SupplierAccounts,
    /// `stores`
    Stores,
    /// `products`
    Products,
    /// `product_variants`
    ProductVariants,
    /// `product_images`
    ProductImages,
    /// `pages`
    Pages,
    /// `media_assets`
    MediaAssets,
    /// `agent_jobs`
    AgentJobs,
}

impl Table {
    /// Every table, in the order of the schema.
    pub const ALL: [Table; 12] = [
        Table::Users,
        Table::Accounts,
        Table::Sessions,
        Table::VerificationTokens,
        Table::SupplierAccounts,
        Table::Stores,
        Table::Products,
        Table::ProductVariants,
        Table::ProductImages,
        Table::Pages,
        Table::MediaAssets,
        Table::AgentJobs,
    ];

    /// The table's name in the database.
    pub fn name(self) -> &'static str {
        match self {
            Table::Users => "users",
            Table::Accounts => "accounts",
            Table::Sessions => "sessions",
            Table::VerificationTokens => "verification_tokens",
            Table::SupplierAccounts => "supplier_accounts",
            Table::Stores => "stores",
            Table::Products => "products",
            Table::ProductVariants => "product_variants",
            Table::ProductImages => "product_images",
            Table::Pages => "pages",
            Table::MediaAssets => "media_assets",
            Table::AgentJobs => "agent_jobs",
        }
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A transition a state machine refused, with the statuses as their enums.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transition {
    /// A store's status (`stores.status`).
    Store {
        /// The current status.
        from: StoreStatus,
        /// The status asked for.
        to: StoreStatus,
    },
    /// A product's status (`products.status`).
    Product {
        /// The current status.
        from: ProductStatus,
        /// The status asked for.
        to: ProductStatus,
    },
    /// An agent job's status (`agent_jobs.status`).
    AgentJob {
        /// The current status.
        from: JobStatus,
        /// The status asked for.
        to: JobStatus,
    },
}

impl std::fmt::Display for Transition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The statuses as the database spells them, from the generated enums themselves.
        let (table, from, to) = match self {
            Transition::Store { from, to } => (Table::Stores, from.to_value(), to.to_value()),
            Transition::Product { from, to } => (Table::Products, from.to_value(), to.to_value()),
            Transition::AgentJob { from, to } => (Table::AgentJobs, from.to_value(), to.to_value()),
        };
        let (from, to) = (from.value, to.value);
        write!(f, "{table}.status cannot go from {from} to {to}")
    }
}

/// Why a worker lost its hold on an agent job ([`Error::JobReleased`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum ReleaseReason {
    /// Someone cancelled the job.
    #[error("it was cancelled")]
    Cancelled,
    /// The worker's lease ran out: the job was rescued and claimed again (by another worker,
    /// or as a new attempt).
    #[error("its lease ran out and it was claimed again")]
    LeaseLost,
}

impl Error {
    /// Whether running the same transaction again may succeed ([`Error::Transient`]).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Transient(_))
    }
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
    /// Contains NUL or another control character (other than tab, line feed and carriage
    /// return), which no backend stores alike (Postgres refuses NUL in text and JSON).
    #[error("must not contain NUL or other control characters")]
    ControlCharacter,
    /// Larger than allowed, in bytes once serialized (JSON payloads).
    #[error("must be at most {max_bytes} bytes")]
    TooLarge {
        /// The largest size allowed, in bytes.
        max_bytes: usize,
    },
    /// A time outside the range every backend stores and orders alike.
    #[error("must be between {earliest} and {latest}")]
    TimeOutOfRange {
        /// The earliest time allowed (RFC 3339).
        earliest: &'static str,
        /// The latest time allowed (RFC 3339).
        latest: &'static str,
    },
    /// Must be greater than another field's value (e.g. a compare-at price above the price).
    #[error("must be greater than {other}")]
    NotAbove {
        /// The other field.
        other: &'static str,
    },
    /// A list has more entries than allowed.
    #[error("must have at most {max} entries")]
    TooMany {
        /// The most entries allowed.
        max: usize,
    },
    /// The value is kept for the platform (e.g. a reserved subdomain).
    #[error("is reserved")]
    Reserved,
    /// A URL of another scheme than the one required.
    #[error("must be a {expected}:// URL")]
    Scheme {
        /// The required scheme, e.g. `"https"`.
        expected: &'static str,
    },
    /// A lifetime that is zero, or longer than allowed.
    #[error("must be positive and at most {max_seconds} seconds")]
    Lifetime {
        /// The longest lifetime allowed, in seconds.
        max_seconds: i64,
    },
    /// Required to be set first (e.g. marking Stripe onboarding done for a user with no Stripe
    /// account).
    #[error("is not set")]
    NotSet,
    /// A CHECK constraint of the database refused the value.
    #[error("violates {}", .0.name())]
    Check(CheckRule),
    /// A MIME type that does not fit the media asset's type: an image, logo or background
    /// must be `image/*`, a video `video/*`.
    #[error("does not fit the media type")]
    MediaTypeMismatch,
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
    /// Not set, where it is required (an encryption key in production).
    #[error("must be set in production")]
    Missing,
    /// An encryption key list that does not follow `v<version>:<base64 of 32 bytes>[,…]`.
    #[error("expected v<version>:<32 bytes in base64>, comma-separated, current key first")]
    MalformedKey,
    /// Two keys of a key list share a version.
    #[error("key version {version} appears twice")]
    DuplicateKeyVersion {
        /// The repeated version.
        version: u32,
    },
    /// A deployment environment other than `production`, `development` or `test`.
    #[error("expected production, development or test")]
    UnknownEnvironment,
    /// The local key file (used when no key is configured outside production) could not be
    /// read or created.
    #[error("the local key file is unusable: {kind}")]
    KeyFile {
        /// What the file system answered.
        kind: std::io::ErrorKind,
    },
}

/// Why a stored ciphertext was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecryptionProblem {
    /// Not a ciphertext of the format the crate writes.
    #[error("not a ciphertext of a known format")]
    Malformed,
    /// Written under a key version that the key ring does not hold.
    #[error("written under key version {version}, which the key ring does not hold")]
    UnknownKeyVersion {
        /// The version named by the ciphertext.
        version: u32,
    },
    /// The authentication tag does not match: the value or its binding to its row was altered,
    /// or the key of that version is not the one it was written with.
    #[error("failed authentication (altered, or a different key)")]
    Inauthentic,
}

/// A cryptographic operation that failed for a reason unrelated to its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoFailure {
    /// The operating system's random number generator did not answer.
    #[error("the system random number generator failed")]
    Randomness,
    /// The cipher refused to encrypt (only possible for absurdly long input).
    #[error("encryption failed")]
    Encryption,
    /// Argon2 refused to hash a password.
    #[error("password hashing failed")]
    PasswordHashing,
    /// A stored password hash is not a PHC string argon2 understands.
    #[error("a stored password hash is malformed")]
    StoredPasswordHash,
}
