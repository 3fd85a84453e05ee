//! Value types of a store: its subdomain, custom domain, brand identity and settings.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, Violation};
use crate::money::Money;
use crate::values::{Currency, HttpUrl, required_text};

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

fn invalid(field: &'static str, violation: Violation) -> Error {
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
    /// [`Error::Invalid`] naming `subdomain`: [`Violation::Empty`], [`Violation::TooLong`],
    /// [`Violation::Format`] (not a DNS label) or [`Violation::Reserved`].
    pub fn parse(value: &str) -> Result<Self> {
        let label = value.trim().to_ascii_lowercase();
        if label.is_empty() {
            return Err(invalid("subdomain", Violation::Empty));
        }
        if label.len() > LABEL_MAX {
            return Err(invalid("subdomain", Violation::TooLong { max: LABEL_MAX }));
        }
        if !is_dns_label(&label) {
            return Err(invalid("subdomain", Violation::Format));
        }
        if RESERVED_SUBDOMAINS.contains(&label.as_str()) {
            return Err(invalid("subdomain", Violation::Reserved));
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
    /// [`Error::Invalid`] naming `custom_domain`: [`Violation::Empty`], [`Violation::TooLong`]
    /// or [`Violation::Format`].
    pub fn parse(value: &str) -> Result<Self> {
        let field = "custom_domain";
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

/// The three brand colours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrandColors {
    /// The main colour (buttons, links).
    pub primary: HexColor,
    /// The supporting colour.
    pub secondary: HexColor,
    /// The highlight colour.
    pub accent: HexColor,
}

/// The two brand fonts, by family name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrandFonts {
    /// Font family of headings, e.g. `Orbitron`.
    pub heading: String,
    /// Font family of body text, e.g. `Inter`.
    pub body: String,
}

/// A store's brand identity, stored in `stores.brand_identity` (usually written by the brand
/// generator agent).
///
/// Reading one from JSON validates it exactly as [`BrandIdentity::validated`] does, so a
/// document that reads is one that could have been written, and one that was written
/// (trimmed and checked) reads back equal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "BrandIdentityDocument")]
pub struct BrandIdentity {
    /// The brand's name, e.g. `NeonNest`.
    pub name: String,
    /// Brand colours.
    pub colors: BrandColors,
    /// Brand fonts.
    pub fonts: BrandFonts,
    /// The voice of the copy, e.g. `futuristic`.
    pub tone: String,
    /// The logo, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_url: Option<HttpUrl>,
}

/// The longest brand name, font name or tone, in characters.
pub const BRAND_TEXT_MAX: usize = 100;

/// [`BrandIdentity`] as it is in JSON, before validation.
#[derive(Deserialize)]
struct BrandIdentityDocument {
    name: String,
    colors: BrandColors,
    fonts: BrandFonts,
    tone: String,
    #[serde(default)]
    logo_url: Option<HttpUrl>,
}

impl TryFrom<BrandIdentityDocument> for BrandIdentity {
    type Error = Error;

    fn try_from(doc: BrandIdentityDocument) -> Result<Self> {
        Self {
            name: doc.name,
            colors: doc.colors,
            fonts: doc.fonts,
            tone: doc.tone,
            logo_url: doc.logo_url,
        }
        .validated()
    }
}

impl BrandIdentity {
    /// Builds a brand identity from plain text, as a brand generator produces it:
    /// `colors` are primary, secondary, accent; `fonts` are heading, body.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the field (`brand_identity.colors.primary`, …,
    /// `brand_identity.logo_url`) and the rule.
    pub fn parse(
        name: &str,
        colors: [&str; 3],
        fonts: [&str; 2],
        tone: &str,
        logo_url: Option<&str>,
    ) -> Result<Self> {
        let [primary, secondary, accent] = colors;
        let [heading, body] = fonts;
        Self {
            name: name.to_owned(),
            colors: BrandColors {
                primary: HexColor::parse("brand_identity.colors.primary", primary)?,
                secondary: HexColor::parse("brand_identity.colors.secondary", secondary)?,
                accent: HexColor::parse("brand_identity.colors.accent", accent)?,
            },
            fonts: BrandFonts {
                heading: heading.to_owned(),
                body: body.to_owned(),
            },
            tone: tone.to_owned(),
            logo_url: logo_url
                .map(|url| HttpUrl::parse("brand_identity.logo_url", url))
                .transpose()?,
        }
        .validated()
    }

    /// Checks the free-text fields (colours and URL are checked by their types) and trims them.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `brand_identity.name`, `brand_identity.fonts.heading`,
    /// `brand_identity.fonts.body` or `brand_identity.tone`.
    pub fn validated(mut self) -> Result<Self> {
        self.name = required_text("brand_identity.name", &self.name, BRAND_TEXT_MAX)?;
        self.fonts.heading = required_text(
            "brand_identity.fonts.heading",
            &self.fonts.heading,
            BRAND_TEXT_MAX,
        )?;
        self.fonts.body = required_text(
            "brand_identity.fonts.body",
            &self.fonts.body,
            BRAND_TEXT_MAX,
        )?;
        self.tone = required_text("brand_identity.tone", &self.tone, BRAND_TEXT_MAX)?;
        Ok(self)
    }
}

/// A store's settings, stored in `stores.settings`; every field has a default, so a store
/// without settings reads as [`StoreSettings::default`]. Reading them from JSON checks them
/// as [`StoreSettings::validated`] does (but for the currency, which reads as any ISO 4217
/// code so that settings stored before a code was superseded still read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, try_from = "StoreSettingsDocument")]
pub struct StoreSettings {
    /// The currency prices are shown in.
    pub currency: Currency,
    /// The storefront's language, as a two-letter ISO 639-1 code.
    pub language: String,
    /// Whether products that are out of stock are listed in the storefront.
    pub show_out_of_stock: bool,
    /// Orders from this amount ship free; `None` for never.
    pub free_shipping_threshold: Option<Money>,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            currency: Currency::USD,
            language: "en".into(),
            show_out_of_stock: false,
            free_shipping_threshold: None,
        }
    }
}

/// [`StoreSettings`] as it is in JSON, before validation.
#[derive(Deserialize)]
#[serde(default)]
struct StoreSettingsDocument {
    currency: Currency,
    language: String,
    show_out_of_stock: bool,
    free_shipping_threshold: Option<Money>,
}

impl Default for StoreSettingsDocument {
    fn default() -> Self {
        let StoreSettings {
            currency,
            language,
            show_out_of_stock,
            free_shipping_threshold,
        } = StoreSettings::default();
        Self {
            currency,
            language,
            show_out_of_stock,
            free_shipping_threshold,
        }
    }
}

impl TryFrom<StoreSettingsDocument> for StoreSettings {
    type Error = Error;

    fn try_from(doc: StoreSettingsDocument) -> Result<Self> {
        Self {
            currency: doc.currency,
            language: doc.language,
            show_out_of_stock: doc.show_out_of_stock,
            free_shipping_threshold: doc.free_shipping_threshold,
        }
        .checked_language()
    }
}

impl StoreSettings {
    /// Checks the fields that their types do not: the language, and that the currency is one
    /// that prices may use ([`Currency::parse`]).
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `settings.language` or `settings.currency` with
    /// [`Violation::Format`].
    pub fn validated(self) -> Result<Self> {
        Currency::parse("settings.currency", self.currency.code())?;
        self.checked_language()
    }

    fn checked_language(mut self) -> Result<Self> {
        self.language = self.language.trim().to_ascii_lowercase();
        if self.language.len() != 2 || !self.language.bytes().all(|b| b.is_ascii_lowercase()) {
            return Err(invalid("settings.language", Violation::Format));
        }
        Ok(self)
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
            ("subdomain", Violation::Reserved)
        );
        assert_eq!(
            violation(Subdomain::parse("")),
            ("subdomain", Violation::Empty)
        );
        for bad in ["-neon", "neon-", "ne.on", "neon_lamp", "néon"] {
            assert_eq!(
                violation(Subdomain::parse(bad)),
                ("subdomain", Violation::Format),
                "{bad}"
            );
        }
        assert_eq!(
            violation(Subdomain::parse(&"a".repeat(64))),
            ("subdomain", Violation::TooLong { max: 63 })
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
                ("custom_domain", Violation::Format),
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

    #[test]
    fn settings_default_and_read_back_from_partial_json() {
        let settings: StoreSettings =
            serde_json::from_value(serde_json::json!({"currency": "EUR"})).expect("partial");
        assert_eq!(settings.currency.code(), "EUR");
        assert_eq!(settings.language, "en");
        assert!(
            serde_json::from_value::<StoreSettings>(serde_json::json!({"currency": "EURO"}))
                .is_err()
        );
    }
}
