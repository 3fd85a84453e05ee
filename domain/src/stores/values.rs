//! Value types of a store: its subdomain, custom domain and brand colours.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, Violation};

/// The longest DNS label.
pub const LABEL_MAX: usize = 63;
/// The longest host name.
pub const HOSTNAME_MAX: usize = 253;

/// Subdomains the platform keeps for itself: a store cannot take them.
pub const RESERVED_SUBDOMAINS: &[&str] = &[
    "admin",
    "api",
    "app",
    "assets",
    "auth",
    "billing",
    "blog",
    "cdn",
    "dashboard",
    "dev",
    "docs",
    "ftp",
    "help",
    "imap",
    "internal",
    "login",
    "mail",
    "media",
    "pop",
    "root",
    "shop",
    "smtp",
    "stage",
    "staging",
    "static",
    "status",
    "store",
    "support",
    "test",
    "www",
    "zyenta",
];

pub(super) fn invalid(field: &'static str, violation: Violation) -> Error {
    Error::Invalid { field, violation }
}

/// Whether `label` is a DNS label: 1 to 63 of `a-z`, `0-9` and `-`, no hyphen at either end.
fn is_dns_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= LABEL_MAX
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

/// The store's label under the platform's domain (`<subdomain>.<base domain>`): a lower-case
/// DNS label that is not reserved.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Subdomain(String);

impl Subdomain {
    /// Validates a subdomain; upper-case input is lower-cased.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `stores.subdomain`: [`Violation::Empty`],
    /// [`Violation::TooLong`], [`Violation::Format`] (not a DNS label) or
    /// [`Violation::Reserved`].
    pub fn parse(value: &str) -> Result<Self> {
        let field = "stores.subdomain";
        let label = value.trim().to_ascii_lowercase();
        if label.is_empty() {
            return Err(invalid(field, Violation::Empty));
        }
        if label.len() > LABEL_MAX {
            return Err(invalid(field, Violation::TooLong { max: LABEL_MAX }));
        }
        if !is_dns_label(&label) {
            return Err(invalid(field, Violation::Format));
        }
        if RESERVED_SUBDOMAINS.contains(&label.as_str()) {
            return Err(invalid(field, Violation::Reserved));
        }
        Ok(Self(label))
    }

    /// The label as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Subdomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A merchant's own host name for their store, e.g. `shop.neonnest.com`: lower-cased, in
/// ASCII (international names are converted to punycode), at least two labels, no IP address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CustomDomain(String);

impl CustomDomain {
    /// Validates a host name.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `stores.custom_domain`: [`Violation::Empty`],
    /// [`Violation::TooLong`] or [`Violation::Format`].
    pub fn parse(value: &str) -> Result<Self> {
        let field = "stores.custom_domain";
        let trimmed = value.trim().trim_end_matches('.');
        if trimmed.is_empty() {
            return Err(invalid(field, Violation::Empty));
        }
        let ascii =
            idna::domain_to_ascii(trimmed).map_err(|_| invalid(field, Violation::Format))?;
        if ascii.len() > HOSTNAME_MAX {
            return Err(invalid(field, Violation::TooLong { max: HOSTNAME_MAX }));
        }
        let labels: Vec<&str> = ascii.split('.').collect();
        let tld_is_numeric = labels
            .last()
            .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()));
        if labels.len() < 2 || tld_is_numeric || !labels.iter().all(|l| is_dns_label(l)) {
            return Err(invalid(field, Violation::Format));
        }
        Ok(Self(ascii))
    }

    /// The host name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CustomDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A colour as `#RRGGBB` (upper case; `#rgb` and lower case are accepted and normalised).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HexColor(String);

impl HexColor {
    /// Validates a colour for the input field `field`.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `field` with [`Violation::Format`].
    pub fn parse(field: &'static str, value: &str) -> Result<Self> {
        let digits = value
            .trim()
            .strip_prefix('#')
            .filter(|d| matches!(d.len(), 3 | 6) && d.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| invalid(field, Violation::Format))?;
        let full: String = if digits.len() == 3 {
            digits.chars().flat_map(|c| [c, c]).collect()
        } else {
            digits.to_owned()
        };
        Ok(Self(format!("#{}", full.to_ascii_uppercase())))
    }

    /// The colour as `#RRGGBB`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for HexColor {
    type Error = Error;

    fn try_from(value: String) -> Result<Self> {
        Self::parse("color", &value)
    }
}

impl From<HexColor> for String {
    fn from(color: HexColor) -> Self {
        color.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn violation<T: fmt::Debug>(result: Result<T>) -> (&'static str, Violation) {
        match result {
            Err(Error::Invalid { field, violation }) => (field, violation),
            other => panic!("expected an invalid input, got {other:?}"),
        }
    }

    #[test]
    fn subdomains_are_lower_case_dns_labels_that_are_not_reserved() {
        assert_eq!(
            Subdomain::parse(" Test-Store ")
                .map(|s| s.0)
                .ok()
                .as_deref(),
            Some("test-store")
        );
        assert_eq!(
            violation(Subdomain::parse("www")),
            ("stores.subdomain", Violation::Reserved)
        );
        assert_eq!(
            violation(Subdomain::parse("")),
            ("stores.subdomain", Violation::Empty)
        );
        for bad in ["-neon", "neon-", "ne.on", "neon_lamp", "néon"] {
            assert_eq!(
                violation(Subdomain::parse(bad)),
                ("stores.subdomain", Violation::Format),
                "{bad}"
            );
        }
        assert_eq!(
            violation(Subdomain::parse(&"a".repeat(64))),
            ("stores.subdomain", Violation::TooLong { max: 63 })
        );
    }

    #[test]
    fn custom_domains_are_lower_cased_host_names() {
        let parse = |s: &str| CustomDomain::parse(s).map(|d| d.0);
        assert_eq!(
            parse("Shop.NeonNest.com.").ok().as_deref(),
            Some("shop.neonnest.com")
        );
        assert_eq!(
            parse("bücher.example").ok().as_deref(),
            Some("xn--bcher-kva.example")
        );
        for bad in [
            "localhost",
            "192.168.0.1",
            "-a.example.com",
            "a..example.com",
            "a b.com",
            "http://a.com",
        ] {
            assert_eq!(
                violation(parse(bad)),
                ("stores.custom_domain", Violation::Format),
                "{bad}"
            );
        }
    }

    #[test]
    fn colours_are_normalised_to_upper_case_six_digits() {
        assert_eq!(
            HexColor::parse("c", "#ff00ff").map(|c| c.0).ok().as_deref(),
            Some("#FF00FF")
        );
        assert_eq!(
            HexColor::parse("c", "#0fa").map(|c| c.0).ok().as_deref(),
            Some("#00FFAA")
        );
        for bad in ["FF00FF", "#GG0000", "#12345", "red"] {
            assert_eq!(
                violation(HexColor::parse("c", bad)),
                ("c", Violation::Format),
                "{bad}"
            );
        }
    }
}
