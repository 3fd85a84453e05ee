//! The one source of "now" for rows the domain writes.

use chrono::{DateTime, FixedOffset, Timelike, Utc};

/// The current time in UTC at microsecond precision.
///
/// Postgres and MariaDB keep microseconds, so a value written and read back compares equal;
/// SQLite stores the text as given, and UTC everywhere keeps its text order equal to time order.
pub fn now() -> DateTime<FixedOffset> {
    let now = Utc::now();
    now.with_nanosecond(now.nanosecond() / 1_000 * 1_000)
        .unwrap_or(now)
        .fixed_offset()
}
