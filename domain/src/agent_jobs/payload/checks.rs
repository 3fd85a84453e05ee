//! The rules every payload field is checked against before it is stored.

use rust_decimal::Decimal;

use super::MAX_URL;
use super::input::MAX_SHORT_TEXT;
use crate::error::{Error, Result, Violation};

pub(super) fn invalid(field: &'static str, violation: Violation) -> Error {
    Error::Invalid { field, violation }
}

pub(super) fn short_text(field: &'static str, value: &str) -> Result<()> {
    text(field, value, MAX_SHORT_TEXT)
}

/// Not blank, at most `max` characters, no NUL or other control character (tab and line
/// breaks are text). Kept as given, not trimmed, so that it reads back exactly.
pub(super) fn text(field: &'static str, value: &str, max: usize) -> Result<()> {
    if value.trim().is_empty() {
        return Err(invalid(field, Violation::Empty));
    }
    if value.chars().count() > max {
        return Err(invalid(field, Violation::TooLong { max }));
    }
    crate::values::printable(field, value)
}

/// A supplier's price: 0 to [`crate::Money::MAX`], at most two decimals.
pub(super) fn price(field: &'static str, value: Decimal) -> Result<()> {
    crate::Money::parse(field, value).map(|_| ())
}

pub(super) fn in_range(field: &'static str, value: i64, min: i64, max: i64) -> Result<()> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(invalid(field, Violation::OutOfRange { min, max }))
    }
}

pub(super) fn count(field: &'static str, len: usize, max: usize) -> Result<()> {
    if len == 0 {
        return Err(invalid(field, Violation::Empty));
    }
    if len > max {
        return Err(invalid(
            field,
            Violation::OutOfRange {
                min: 1,
                max: i64::try_from(max).unwrap_or(i64::MAX),
            },
        ));
    }
    Ok(())
}

/// A BCP 47 tag in its common shape: 2–3 letters, then optional `-` subtags of 2–8
/// letters or digits.
pub(super) fn language(field: &'static str, tag: &str) -> Result<()> {
    let mut parts = tag.split('-');
    let primary_ok = parts
        .next()
        .is_some_and(|p| (2..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphabetic()));
    let rest_ok =
        parts.all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()));
    if primary_ok && rest_ok {
        Ok(())
    } else {
        Err(invalid(field, Violation::Format))
    }
}

pub(super) fn http_url(field: &'static str, url: &str) -> Result<()> {
    if url.chars().count() > MAX_URL {
        return Err(invalid(field, Violation::TooLong { max: MAX_URL }));
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let host = rest.and_then(|r| r.split(['/', '?', '#']).next());
    match host {
        Some(host)
            if !host.is_empty() && !url.chars().any(|c| c.is_whitespace() || c.is_control()) =>
        {
            Ok(())
        }
        _ => Err(invalid(field, Violation::Format)),
    }
}
