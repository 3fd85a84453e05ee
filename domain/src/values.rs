//! Value types shared by several modules: slugs, URLs, currencies and bounded text.
//!
//! Each has a private field and one fallible constructor that names the input field in its
//! error, so a value that exists is a valid one.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, Violation};

/// The longest slug, in characters.
pub const SLUG_MAX: usize = 100;
/// How many readable suffixes (`-2` … `-N`) a taken derived slug tries before a random one.
pub const READABLE_SUFFIXES: u32 = 25;
/// The longest URL, in bytes.
pub const URL_MAX: usize = 2_048;

fn invalid(field: &'static str, violation: Violation) -> Error {
    Error::Invalid { field, violation }
}

/// Checks that `value` holds no NUL and no other control character but tab, line feed and
/// carriage return: Postgres refuses NUL in text and JSON, the other backends store it, and
/// none of them is ever meant in a name, an id or a page.
///
/// # Errors
/// [`Error::Invalid`] naming `field` with [`Violation::ControlCharacter`].
pub fn printable(field: &'static str, value: &str) -> Result<()> {
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err(invalid(field, Violation::ControlCharacter));
    }
    Ok(())
}

/// Trims `value` and checks that it is not empty, at most `max` characters and
/// [`printable`].
///
/// # Errors
/// [`Error::Invalid`] naming `field`: [`Violation::Empty`], [`Violation::TooLong`] or
/// [`Violation::ControlCharacter`].
pub fn required_text(field: &'static str, value: &str, max: usize) -> Result<String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(invalid(field, Violation::Empty));
    }
    if trimmed.chars().count() > max {
        return Err(invalid(field, Violation::TooLong { max }));
    }
    printable(field, trimmed)?;
    Ok(trimmed.to_owned())
}

/// Checks a JSON document before it is stored: at most `max_bytes` once serialized (so that
/// every backend's packet and column limits hold), and no NUL in any string or key (Postgres
/// refuses `\u0000` in `jsonb`).
///
/// # Errors
/// [`Error::Invalid`] naming `field`: [`Violation::TooLarge`] or
/// [`Violation::ControlCharacter`] (NUL only: other control characters are escaped in JSON
/// and stored alike everywhere).
pub fn json_document(
    field: &'static str,
    value: &serde_json::Value,
    max_bytes: usize,
) -> Result<()> {
    fn has_nul(value: &serde_json::Value) -> bool {
        match value {
            serde_json::Value::String(s) => s.contains('\0'),
            serde_json::Value::Array(items) => items.iter().any(has_nul),
            serde_json::Value::Object(map) => {
                map.iter().any(|(k, v)| k.contains('\0') || has_nul(v))
            }
            _ => false,
        }
    }
    if has_nul(value) {
        return Err(invalid(field, Violation::ControlCharacter));
    }
    let mut counter = ByteCounter(0);
    // Writing into a counter cannot fail for a `Value`.
    let _ = serde_json::to_writer(&mut counter, value);
    if counter.0 > max_bytes {
        return Err(invalid(field, Violation::TooLarge { max_bytes }));
    }
    Ok(())
}

/// Counts the bytes written to it, so that a document's size is known without a copy.
struct ByteCounter(usize);

impl std::io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Like [`required_text`], but blank input is `None`.
///
/// # Errors
/// [`Error::Invalid`] naming `field` with [`Violation::TooLong`].
pub fn optional_text(
    field: &'static str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => required_text(field, v, max).map(Some),
    }
}

/// A URL path segment: lower-case ASCII letters, digits and single hyphens, at most
/// [`SLUG_MAX`] characters, no hyphen at either end.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Slug(String);

impl Slug {
    /// Validates a slug given as is (not derived).
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `field`: [`Violation::Empty`], [`Violation::TooLong`] or
    /// [`Violation::Format`].
    pub fn parse(field: &'static str, value: &str) -> Result<Self> {
        if value.is_empty() {
            return Err(invalid(field, Violation::Empty));
        }
        if value.len() > SLUG_MAX {
            return Err(invalid(field, Violation::TooLong { max: SLUG_MAX }));
        }
        let well_formed = value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !value.starts_with('-')
            && !value.ends_with('-')
            && !value.contains("--");
        if !well_formed {
            return Err(invalid(field, Violation::Format));
        }
        Ok(Self(value.to_owned()))
    }

    /// Derives a slug from a title (transliterated to ASCII: "Café Été" → "cafe-ete"); a
    /// title with no letter or digit gives `fallback`.
    pub fn from_title(title: &str, fallback: &str) -> Self {
        let mut slug = slug::slugify(title);
        if slug.len() > SLUG_MAX {
            slug.truncate(SLUG_MAX);
            slug = slug.trim_end_matches('-').to_owned();
        }
        if slug.is_empty() {
            slug = fallback.to_owned();
        }
        Self(slug)
    }

    /// The `n`th alternative when this slug is taken: `lamp` → `lamp-2`, `lamp-3`, … (the base
    /// is shortened so that the result still fits [`SLUG_MAX`]).
    pub fn with_suffix(&self, n: u32) -> Self {
        let suffix = format!("-{n}");
        let keep = SLUG_MAX.saturating_sub(suffix.len()).min(self.0.len());
        let base = self.0[..keep].trim_end_matches('-');
        Self(format!("{base}{suffix}"))
    }

    /// The `n`th slug to try for a derived slug (1-based): this one, then `-2` … `-N` for
    /// [`READABLE_SUFFIXES`], then a random five-digit suffix, which settles a popular name
    /// under heavy concurrency in one more try.
    pub fn candidate(&self, n: u32) -> Self {
        match n {
            0 | 1 => self.clone(),
            n if n <= READABLE_SUFFIXES => self.with_suffix(n),
            _ => self.with_suffix(10_000 + (uuid::Uuid::now_v7().as_u128() % 90_000) as u32),
        }
    }

    /// The slug as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Slug {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An absolute `http` or `https` URL with a host, at most [`URL_MAX`] bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HttpUrl(String);

impl HttpUrl {
    /// Validates a URL.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `field`: [`Violation::Empty`], [`Violation::TooLong`] or
    /// [`Violation::Format`] (not a URL, not http(s), no host).
    pub fn parse(field: &'static str, value: &str) -> Result<Self> {
        let value = value.trim();
        if value.is_empty() {
            return Err(invalid(field, Violation::Empty));
        }
        if value.len() > URL_MAX {
            return Err(invalid(field, Violation::TooLong { max: URL_MAX }));
        }
        let url = url::Url::parse(value).map_err(|_| invalid(field, Violation::Format))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
            return Err(invalid(field, Violation::Format));
        }
        // What is stored is the parser's serialisation (spaces percent-encoded, the host
        // lower-cased), so that is the form the limits apply to, and it must parse back to
        // itself: reading a stored URL goes through this same function.
        let stored = String::from(url);
        if stored.len() > URL_MAX {
            return Err(invalid(field, Violation::TooLong { max: URL_MAX }));
        }
        if url::Url::parse(&stored).map(String::from).as_deref() != Ok(stored.as_str()) {
            return Err(invalid(field, Violation::Format));
        }
        Ok(Self(stored))
    }

    /// The URL as text (normalised by the parser, e.g. a lower-case scheme and host).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for HttpUrl {
    type Error = Error;

    fn try_from(value: String) -> Result<Self> {
        Self::parse("url", &value)
    }
}

impl From<HttpUrl> for String {
    fn from(url: HttpUrl) -> Self {
        url.0
    }
}

impl AsRef<str> for HttpUrl {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An ISO 4217 currency code, e.g. `USD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency(iso_currency::Currency);

impl Currency {
    /// US dollars, the default currency of products and stores.
    pub const USD: Currency = Currency(iso_currency::Currency::USD);

    /// Validates the currency of a price: a current ISO 4217 code, in upper case as ISO writes
    /// it, of money that prices are paid in. Codes that are not (`XXX` "no currency", `XTS`
    /// for tests, the precious metals `XAU` `XAG` `XPT` `XPD`, units of account such as `XDR`,
    /// funds such as `USN` or `CLF`) and superseded codes (`HRK`, `BGN` …) are refused.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `field` with [`Violation::Format`] for anything else.
    pub fn parse(field: &'static str, code: &str) -> Result<Self> {
        iso_currency::Currency::from_code(code)
            .filter(|currency| currency.flags().is_empty())
            .map(Self)
            .ok_or_else(|| invalid(field, Violation::Format))
    }

    /// Reads a stored currency code: any ISO 4217 code, including those that
    /// [`Currency::parse`] no longer takes for new prices, so that rows written before a code
    /// was superseded still read.
    pub(crate) fn from_stored(code: &str) -> Option<Self> {
        iso_currency::Currency::from_code(code).map(Self)
    }

    /// The three-letter code.
    pub fn code(self) -> &'static str {
        self.0.code()
    }
}

impl Default for Currency {
    fn default() -> Self {
        Self::USD
    }
}

impl TryFrom<String> for Currency {
    type Error = Error;

    /// Reads a currency from JSON: any ISO 4217 code, so that a stored document always reads
    /// back, even one written before its code was superseded; inputs are held to
    /// [`Currency::parse`] by the constructor of the type that carries them.
    fn try_from(value: String) -> Result<Self> {
        Self::from_stored(&value).ok_or_else(|| invalid("currency", Violation::Format))
    }
}

impl From<Currency> for String {
    fn from(currency: Currency) -> Self {
        currency.code().to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn violation(result: Result<impl fmt::Debug>) -> Violation {
        match result {
            Err(Error::Invalid { violation, .. }) => violation,
            other => panic!("expected an invalid input, got {other:?}"),
        }
    }

    #[test]
    fn slugs_are_derived_from_titles_in_ascii() {
        assert_eq!(
            Slug::from_title("Café Été — Neon Lamp!", "p").as_str(),
            "cafe-ete-neon-lamp"
        );
        assert_eq!(Slug::from_title("!!!", "product").as_str(), "product");
        let long = Slug::from_title(&"a".repeat(300), "p");
        assert_eq!(long.as_str().len(), SLUG_MAX);
        assert_eq!(long.with_suffix(12).as_str().len(), SLUG_MAX);
        assert!(long.with_suffix(12).as_str().ends_with("-12"));
        assert_eq!(
            Slug::from_title("Lamp", "p").with_suffix(2).as_str(),
            "lamp-2"
        );
    }

    #[test]
    fn a_given_slug_must_be_lower_case_words_joined_by_single_hyphens() {
        assert!(Slug::parse("slug", "neon-lamp-2").is_ok());
        for bad in ["Neon", "neon lamp", "-neon", "neon-", "neon--lamp", "néon"] {
            assert_eq!(
                violation(Slug::parse("slug", bad)),
                Violation::Format,
                "{bad}"
            );
        }
        assert_eq!(violation(Slug::parse("slug", "")), Violation::Empty);
        assert_eq!(
            violation(Slug::parse("slug", &"a".repeat(101))),
            Violation::TooLong { max: SLUG_MAX }
        );
    }

    #[test]
    fn urls_must_be_absolute_http_with_a_host() {
        assert_eq!(
            HttpUrl::parse("url", " HTTPS://CDN.Example.com/a.png ")
                .map(|u| u.as_str().to_owned())
                .ok(),
            Some("https://cdn.example.com/a.png".to_owned())
        );
        for bad in [
            "cdn.example.com/a.png",
            "ftp://example.com/a",
            "javascript:alert(1)",
            "https://",
        ] {
            assert_eq!(
                violation(HttpUrl::parse("url", bad)),
                Violation::Format,
                "{bad}"
            );
        }
    }

    #[test]
    fn currencies_are_iso_4217_codes() {
        assert_eq!(
            Currency::parse("currency", "EUR").map(Currency::code).ok(),
            Some("EUR")
        );
        for bad in ["usd", "XXY", "US", "DOLLAR"] {
            assert_eq!(
                violation(Currency::parse("currency", bad)),
                Violation::Format,
                "{bad}"
            );
        }
    }

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(
            required_text("name", "  Neon  ", 10).ok().as_deref(),
            Some("Neon")
        );
        assert_eq!(
            violation(required_text("name", "   ", 10)),
            Violation::Empty
        );
        assert_eq!(
            violation(required_text("name", "ééééé", 4)),
            Violation::TooLong { max: 4 }
        );
        assert_eq!(optional_text("name", Some("  "), 4).ok(), Some(None));
    }
}
