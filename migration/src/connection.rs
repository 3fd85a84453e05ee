//! Reaching the database named by a URL: a password that never shows, and a first connection
//! that says what is wrong.
//!
//! This lives in the migration crate because it is the bottom of the workspace: its CLI (the
//! binary operators run in production) cannot depend on `domain`, and `domain` uses the same
//! functions, so every binary words a failed connection the same way.

use sea_orm_migration::sea_orm;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sea_orm::sqlx::{self, ConnectOptions as _, Connection as _};
use sea_orm::{DbErr, RuntimeErr};

/// The embedded default of `DATABASE_URL`: a SQLite file in the working directory, created on
/// first use. Every binary of the workspace uses it when the variable is unset.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://zyenta.db?mode=rwc";

/// The URL schemes the workspace connects to.
pub const SUPPORTED_SCHEMES: [&str; 5] = [
    "postgres://",
    "postgresql://",
    "mysql://",
    "mariadb://",
    "sqlite:",
];

/// Reads `.env` from the working directory (or the nearest parent that has one) into the
/// environment, once per process, without overriding variables already set. Every binary of
/// the workspace does this before it reads its configuration (`sea-orm-cli` does it too, so a
/// `.env` file is either honoured by all or by none): a user who migrates with a `.env` file
/// seeds and serves the same database.
pub fn load_env_file() {
    static LOADED: std::sync::Once = std::sync::Once::new();
    LOADED.call_once(|| {
        let _ = dotenvy::dotenv();
    });
}

/// The URL with its password replaced by `***`, whatever the URL looks like.
///
/// The password is everything between the first `:` after the scheme and the **last** `@`:
/// a malformed URL (a bad port, an unencoded `@`, `/` or `?` in the password) is redacted
/// as well as a valid one. A URL without `@` carries no password and is returned unchanged.
pub fn redact_url(url: &str) -> String {
    match password_span(url) {
        Some((start, end)) => format!("{}***{}", &url[..start], &url[end..]),
        None => url.to_owned(),
    }
}

/// `text` with `url` and its password removed: the URL is replaced by its redacted form, and
/// any other occurrence of the password (as written, or percent-decoded as a driver would
/// show it) by `***`. Used on every message that may quote a driver's error.
pub fn scrub(text: &str, url: &str) -> String {
    let mut out = text.replace(url, &redact_url(url));
    if let Some((start, end)) = password_span(url) {
        let raw = &url[start..end];
        let decoded = percent_decode(raw);
        // Whole, then in pieces: a parser that split a malformed URL at an `@`, `/`, `:` or
        // `?` of the password quotes a piece of it ("could not translate host name PW@…").
        let mut secrets = vec![raw.to_owned(), decoded.clone()];
        for whole in [raw, decoded.as_str()] {
            secrets.extend(
                whole
                    .split(['@', '/', ':', '?', '#', '[', ']', '\n'])
                    .filter(|piece| piece.chars().count() >= 2)
                    .map(str::to_owned),
            );
        }
        for secret in secrets {
            if !secret.is_empty() && secret != "***" {
                out = out.replace(&secret, "***");
            }
        }
    }
    out
}

/// URLs of every shape a configuration may hold (bad port, unencoded `@` and `/`, a broken IPv6
/// host, no `//`, percent-encoding, a control character, an unsupported scheme, a refused port,
/// a wrong user), each with a password containing `S3cret`. The tests of every binary run it
/// with each of them and check that `S3cret` appears in none of its output.
pub const REDACTION_CASES: [&str; 11] = [
    "postgres://postgres:S3cretPW@127.0.0.1:55x432/zyenta",
    "postgres://postgres:S3cretPW@@127.0.0.1:5432/zyenta",
    "mysql://root:S3cret/PW@127.0.0.1:3306/zyenta",
    "mysql://root:S3cretPW@[::1:3306/zyenta",
    "postgres:postgres:S3cretPW@127.0.0.1/zyenta",
    "postgres://postgres:S3cr%65tPW@127.0.0.1:55x432/zyenta",
    "mysql://root:S3cret\nPW@127.0.0.1:3306/zyenta",
    "redis://user:S3cretPW@127.0.0.1/0",
    "postgres://postgres:S3cretPW@127.0.0.1:1/zyenta",
    "postgres://zyenta_nobody:S3cretPW@127.0.0.1:5432/zyenta",
    "postgresql://postgres:S3cret?PW#x@127.0.0.1:5432/zyenta",
];

/// Byte range of the password in `url`, if it has one.
fn password_span(url: &str) -> Option<(usize, usize)> {
    let start = url
        .find("://")
        .map_or_else(|| url.find(':').map(|i| i + 1), |i| Some(i + 3))?;
    let at = start + url[start..].rfind('@')?;
    let colon = start + url[start..at].find(':')?;
    Some((colon + 1, at))
}

fn percent_decode(s: &str) -> String {
    let hex = |b: u8| char::from(b).to_digit(16);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'?'));
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Where a URL points, for messages: `host:port` of a server, the file of SQLite.
pub fn target(url: &str) -> String {
    if let Some(path) = sqlite_path(url) {
        return path.display().to_string();
    }
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = match rest.rfind('@') {
        Some(at) => &rest[at + 1..],
        None => rest,
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let host = &rest[..end];
    if host.is_empty() {
        "localhost".to_owned()
    } else {
        host.to_owned()
    }
}

/// The file of a SQLite URL (`None` for other URLs and in-memory databases).
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" || url.contains("mode=memory") {
        return None;
    }
    Some(PathBuf::from(path))
}

/// Why the first connection failed, each with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectProblem {
    /// The URL cannot be parsed (the text is the driver's reason, password removed).
    MalformedUrl(String),
    /// Nothing listens at that host and port.
    Refused,
    /// The host name does not resolve.
    UnknownHost,
    /// The server refused the user name or password.
    Authentication,
    /// The server has no database of that name.
    UnknownDatabase,
    /// No answer within the connect timeout.
    TimedOut(Duration),
    /// The SQLite file's folder does not exist.
    NoSuchDirectory,
    /// The SQLite file or its folder cannot be written.
    ReadOnly,
    /// The SQLite file does not exist and the URL does not ask to create it.
    NoSuchFile,
    /// Anything else (the driver's message, password removed).
    Other(String),
}

impl std::fmt::Display for ConnectProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::MalformedUrl(why) => write!(
                f,
                "the URL is malformed ({why}); check DATABASE_URL (scheme://user:password@host:port/database, \
                 with special characters of the password percent-encoded)"
            ),
            Self::Refused => write!(
                f,
                "connection refused; is the server running and listening on that port?"
            ),
            Self::UnknownHost => write!(f, "unknown host; check the host name in DATABASE_URL"),
            Self::Authentication => write!(
                f,
                "authentication failed; check the user name and password in DATABASE_URL"
            ),
            Self::UnknownDatabase => write!(
                f,
                "the database does not exist; create it (createdb / CREATE DATABASE) or fix its name in DATABASE_URL"
            ),
            Self::TimedOut(after) => write!(
                f,
                "no answer within {} ms; check the host, the port and any firewall \
                 (DATABASE_ACQUIRE_TIMEOUT_MS sets the wait)",
                after.as_millis()
            ),
            Self::NoSuchDirectory => {
                write!(f, "its folder does not exist; create the folder first")
            }
            Self::ReadOnly => write!(
                f,
                "the file or its folder is not writable; fix the permissions or choose another path"
            ),
            Self::NoSuchFile => write!(
                f,
                "the file does not exist; add ?mode=rwc to the URL to create it"
            ),
            Self::Other(message) => write!(f, "{message}"),
        }
    }
}

/// A failed first connection: where to (never with a password) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot connect to {target}: {problem}")]
pub struct ConnectError {
    /// `host:port` of the server, or the SQLite file.
    pub target: String,
    /// What went wrong, and the fix.
    pub problem: ConnectProblem,
}

/// Opens one connection to `url` outside any pool, within `timeout`, and closes it: the
/// driver's own error arrives at once (a pool would retry until its acquire timeout and then
/// only say that it timed out).
///
/// # Errors
/// [`ConnectError`] naming the target and the cause.
pub async fn probe(url: &str, timeout: Duration) -> Result<(), ConnectError> {
    let attempt = async {
        if url.starts_with("postgres") {
            let opts: sqlx::postgres::PgConnectOptions = url.parse()?;
            opts.connect().await?.close_hard().await
        } else if url.starts_with("mysql") || url.starts_with("mariadb") {
            let url = url.replacen("mariadb://", "mysql://", 1);
            let opts: sqlx::mysql::MySqlConnectOptions = url.parse()?;
            opts.connect().await?.close_hard().await
        } else {
            let opts: sqlx::sqlite::SqliteConnectOptions = url.parse()?;
            opts.connect().await?.close_hard().await
        }
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => Err(diagnose_sqlx(url, &err)),
        Err(_) => Err(ConnectError {
            target: target(url),
            problem: ConnectProblem::TimedOut(timeout),
        }),
    }
}

/// Explains a connection error of SeaORM (see [`probe`] for the driver's own).
pub fn diagnose(url: &str, err: &DbErr) -> ConnectError {
    match err {
        DbErr::Conn(RuntimeErr::SqlxError(e)) => diagnose_sqlx(url, e),
        other => ConnectError {
            target: target(url),
            problem: ConnectProblem::Other(scrub(&other.to_string(), url)),
        },
    }
}

fn diagnose_sqlx(url: &str, err: &sqlx::Error) -> ConnectError {
    use std::io::ErrorKind;
    let problem = match err {
        sqlx::Error::Configuration(e) => ConnectProblem::MalformedUrl(scrub(&e.to_string(), url)),
        sqlx::Error::Io(e) if e.kind() == ErrorKind::ConnectionRefused => ConnectProblem::Refused,
        sqlx::Error::Io(e)
            if e.kind() == ErrorKind::NotFound
                || e.to_string().contains("failed to lookup address") =>
        {
            ConnectProblem::UnknownHost
        }
        sqlx::Error::PoolTimedOut => ConnectProblem::TimedOut(Duration::ZERO),
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            match code.as_str() {
                // Postgres: invalid_password, invalid_authorization_specification.
                "28P01" | "28000" => ConnectProblem::Authentication,
                // Postgres: invalid_catalog_name.
                "3D000" => ConnectProblem::UnknownDatabase,
                // MySQL/MariaDB: access denied (1045, 1044 for the database).
                "1045" | "1698" => ConnectProblem::Authentication,
                "1049" | "42000" if db.message().contains("Unknown database") => {
                    ConnectProblem::UnknownDatabase
                }
                "1044" => ConnectProblem::Authentication,
                // SQLite: SQLITE_CANTOPEN (14), SQLITE_READONLY (8).
                "14" => sqlite_open_problem(url),
                "8" => ConnectProblem::ReadOnly,
                _ => ConnectProblem::Other(scrub(db.message(), url)),
            }
        }
        other => ConnectProblem::Other(scrub(&other.to_string(), url)),
    };
    ConnectError {
        target: target(url),
        problem,
    }
}

fn sqlite_open_problem(url: &str) -> ConnectProblem {
    let Some(path) = sqlite_path(url) else {
        return ConnectProblem::Other("unable to open the database".into());
    };
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !folder.is_dir() {
        ConnectProblem::NoSuchDirectory
    } else if !path.exists() && !url.contains("mode=rwc") {
        ConnectProblem::NoSuchFile
    } else if !writable(&folder) || path.exists() && !writable(&path) {
        ConnectProblem::ReadOnly
    } else {
        ConnectProblem::Other("unable to open the database file".into())
    }
}

/// Whether a file or folder can be written, by trying (permissions alone miss root and ACLs).
fn writable(path: &Path) -> bool {
    if path.is_dir() {
        let probe = path.join(format!(".zyenta-write-check-{}", std::process::id()));
        let ok = std::fs::File::create(&probe).is_ok();
        let _ = std::fs::remove_file(&probe);
        ok
    } else {
        std::fs::OpenOptions::new().append(true).open(path).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shape_of_url_loses_its_password() {
        for (url, secret) in [
            (
                "postgres://postgres:S3cretPW@127.0.0.1:55x432/zyenta",
                "S3cretPW",
            ),
            ("postgres://u:S3cret@PW@host/db", "S3cret@PW"),
            ("postgres://u:S3c/ret?x@host/db", "S3c/ret?x"),
            ("mysql://root:p%40ss%2Fw0rd@db:3306/x", "p%40ss%2Fw0rd"),
            ("postgres:u:S3cretPW@host/db", "S3cretPW"),
            ("mysql://root:S3cretPW@[::1:3306/x", "S3cretPW"),
        ] {
            let redacted = redact_url(url);
            assert!(!redacted.contains(secret), "{redacted}");
            assert!(redacted.contains(":***@"), "{redacted}");
            let message = format!("failed for {url}: bad password {secret}");
            assert!(!scrub(&message, url).contains(secret));
        }
        assert!(
            !scrub("driver said p@ss/w0rd", "mysql://root:p%40ss%2Fw0rd@db/x")
                .contains("p@ss/w0rd")
        );
        assert_eq!(
            redact_url("sqlite://zyenta.db?mode=rwc"),
            "sqlite://zyenta.db?mode=rwc"
        );
        assert_eq!(redact_url("mysql://root@db/x"), "mysql://root@db/x");
    }

    #[test]
    fn the_target_is_the_host_and_port_or_the_file() {
        assert_eq!(
            target("postgres://u:pw@db.internal:5433/z?sslmode=require"),
            "db.internal:5433"
        );
        assert_eq!(target("sqlite://data/z.db?mode=rwc"), "data/z.db");
        assert_eq!(target("sqlite:/tmp/z.db"), "/tmp/z.db");
    }
}
