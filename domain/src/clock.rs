//! The one source of "now" for rows the domain writes.

use chrono::{DateTime, FixedOffset, TimeZone, Timelike, Utc};

use crate::error::{Error, Result, Violation};

/// The earliest time the domain stores: the Unix epoch.
pub const EARLIEST: &str = "1970-01-01T00:00:00Z";
/// The latest time the domain stores: the last second of year 9999. MariaDB's `datetime`
/// ends there, and SQLite compares times as text, which orders correctly only with
/// four-digit years.
pub const LATEST: &str = "9999-12-31T23:59:59Z";

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

/// Checks that a time given by a caller lies in [`EARLIEST`]..=[`LATEST`], and returns it in
/// UTC at microsecond precision, the form every backend stores and orders alike.
///
/// # Errors
/// [`Error::Invalid`] naming `field` with [`Violation::TimeOutOfRange`].
pub fn bounded<Tz: TimeZone>(
    field: &'static str,
    time: DateTime<Tz>,
) -> Result<DateTime<FixedOffset>> {
    let utc = time.with_timezone(&Utc);
    let earliest = Utc.timestamp_opt(0, 0).single();
    let latest = Utc.timestamp_opt(253_402_300_799, 999_999_000).single();
    if earliest.is_none_or(|e| utc < e) || latest.is_none_or(|l| utc > l) {
        return Err(Error::Invalid {
            field,
            violation: Violation::TimeOutOfRange {
                earliest: EARLIEST,
                latest: LATEST,
            },
        });
    }
    Ok(utc
        .with_nanosecond(utc.nanosecond() / 1_000 * 1_000)
        .unwrap_or(utc)
        .fixed_offset())
}

/// `now - age`: the cut-off for "older than `age`", refusing an age that reaches before
/// [`EARLIEST`] instead of panicking or wrapping. Every public function that takes a span of
/// time takes a [`std::time::Duration`] and converts it here.
///
/// # Errors
/// [`Error::Invalid`] naming `field` with [`Violation::TimeOutOfRange`].
pub fn ago(field: &'static str, age: std::time::Duration) -> Result<DateTime<FixedOffset>> {
    shifted(field, age, false)
}

/// `now + span`, refusing a span that reaches past [`LATEST`].
///
/// # Errors
/// [`Error::Invalid`] naming `field` with [`Violation::TimeOutOfRange`].
pub fn from_now(field: &'static str, span: std::time::Duration) -> Result<DateTime<FixedOffset>> {
    shifted(field, span, true)
}

fn shifted(
    field: &'static str,
    span: std::time::Duration,
    forward: bool,
) -> Result<DateTime<FixedOffset>> {
    let out_of_range = || Error::Invalid {
        field,
        violation: Violation::TimeOutOfRange {
            earliest: EARLIEST,
            latest: LATEST,
        },
    };
    let span = chrono::Duration::from_std(span).map_err(|_| out_of_range())?;
    let now = now();
    let shifted = if forward {
        now.checked_add_signed(span)
    } else {
        now.checked_sub_signed(span)
    };
    bounded(field, shifted.ok_or_else(out_of_range)?)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn spans_past_the_storable_range_are_refused_not_wrapped() {
        assert!(ago("age", Duration::from_secs(60)).is_ok());
        assert!(from_now("lifetime", Duration::from_secs(60)).is_ok());
        for span in [
            Duration::MAX,
            Duration::from_secs(u64::from(u32::MAX) * 1000),
        ] {
            assert!(matches!(
                ago("age", span),
                Err(Error::Invalid {
                    field: "age",
                    violation: Violation::TimeOutOfRange { .. }
                })
            ));
            assert!(matches!(
                from_now("lifetime", span),
                Err(Error::Invalid {
                    field: "lifetime",
                    ..
                })
            ));
        }
    }
}
