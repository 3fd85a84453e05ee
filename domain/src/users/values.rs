//! The validated inputs of identity: email address, display name, image URL and Stripe
//! account id. Each has one way in, `parse`, whose error names the field and the rule.
//!
//! # What equality means
//! Every one of them is compared exactly, code point for code point, on every backend (the
//! columns are binary on MariaDB), in the form `parse` gives:
//! - An email is trimmed, lower-cased (Unicode's full lower-casing) and put in Unicode
//!   Normalization Form C, so `Ann@Example.com` and `ann@example.com` are one account, and so
//!   are a composed `á` and an `a` followed by a combining accent (one text, two encodings;
//!   RFC 6532 asks for NFC). Nothing else is folded: `ánn@…` is not `ann@…`, a full-width
//!   `ａnn@…` is not `ann@…`, a Cyrillic `а` is not a Latin `a`. Those are other mailboxes,
//!   and a provider vouching for one of them never reaches the account of the other.
//! - A Stripe account id keeps its case: Stripe's ids are case-sensitive.

use unicode_normalization::UnicodeNormalization;

use crate::error::{Error, Result, Violation};

/// The longest email address: the 254 characters of a forward path (RFC 5321 § 4.5.3.1.3).
pub const EMAIL_MAX_LEN: usize = 254;
/// The longest display name, in characters.
pub const DISPLAY_NAME_MAX_LEN: usize = 100;
/// The longest image URL, in characters.
pub const IMAGE_URL_MAX_LEN: usize = 2_048;
/// The longest Stripe account id (Stripe's ids are far shorter; the column holds 255).
pub const STRIPE_ACCOUNT_ID_MAX_LEN: usize = 255;

fn invalid(field: &'static str, violation: Violation) -> Error {
    Error::Invalid { field, violation }
}

/// An email address, trimmed, lower-cased and in Unicode NFC (so that `Ann@Example.com` and
/// `ann@example.com` are one account; see the module documentation for what else is and is
/// not one account), with a real address syntax check: no display name, no IP literal, a
/// domain with at least two labels, no control character.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email(String);

impl Email {
    /// Validates and normalises `input`.
    ///
    /// # Errors
    /// [`Error::Invalid`] for field `users.email`: [`Violation::Empty`], [`Violation::TooLong`]
    /// (over [`EMAIL_MAX_LEN`] characters once normalised),
    /// [`Violation::ControlCharacter`] or [`Violation::Format`].
    pub fn parse(input: &str) -> Result<Self> {
        let trimmed = input.trim();
        if trimmed.chars().any(char::is_control) {
            return Err(invalid("users.email", Violation::ControlCharacter));
        }
        let email: String = trimmed.to_lowercase().nfc().collect();
        if email.is_empty() {
            return Err(invalid("users.email", Violation::Empty));
        }
        if email.chars().count() > EMAIL_MAX_LEN {
            return Err(invalid(
                "users.email",
                Violation::TooLong { max: EMAIL_MAX_LEN },
            ));
        }
        let options = email_address::Options::default()
            .without_display_text()
            .without_domain_literal()
            .with_required_tld();
        email_address::EmailAddress::parse_with_options(&email, options)
            .map_err(|_| invalid("users.email", Violation::Format))?;
        Ok(Self(email))
    }

    /// A value read back from the database: only parsed values are written, so anything that
    /// is not its own normal form was written some other way, and is `None`.
    pub(crate) fn from_stored(stored: String) -> Option<Self> {
        Self::parse(&stored).ok().filter(|email| email.0 == stored)
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A person's display name: trimmed, 1 to [`DISPLAY_NAME_MAX_LEN`] characters, no control
/// characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DisplayName(String);

impl DisplayName {
    /// Validates and trims `input`.
    ///
    /// # Errors
    /// [`Error::Invalid`] for field `users.name`: [`Violation::Empty`], [`Violation::TooLong`] or
    /// [`Violation::ControlCharacter`] (any, tab and line breaks included: a name is one
    /// line).
    pub fn parse(input: &str) -> Result<Self> {
        let name = input.trim();
        if name.is_empty() {
            return Err(invalid("users.name", Violation::Empty));
        }
        if name.chars().count() > DISPLAY_NAME_MAX_LEN {
            return Err(invalid(
                "users.name",
                Violation::TooLong {
                    max: DISPLAY_NAME_MAX_LEN,
                },
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(invalid("users.name", Violation::ControlCharacter));
        }
        Ok(Self(name.to_owned()))
    }
}

impl AsRef<str> for DisplayName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// The URL of a profile picture: an absolute `https://` URL with a host, at most
/// [`IMAGE_URL_MAX_LEN`] characters, kept in its normalised form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageUrl(String);

impl ImageUrl {
    /// Validates `input`.
    ///
    /// # Errors
    /// [`Error::Invalid`] for field `users.image`: [`Violation::Empty`], [`Violation::TooLong`]
    /// (before or after normalisation: the stored form is what is limited),
    /// [`Violation::ControlCharacter`] (the URL parser would silently drop a tab or a line
    /// break), [`Violation::Format`] (not a URL, or no host) or [`Violation::Scheme`] (not
    /// https).
    pub fn parse(input: &str) -> Result<Self> {
        let input = input.trim();
        if input.is_empty() {
            return Err(invalid("users.image", Violation::Empty));
        }
        if input.chars().any(char::is_control) {
            return Err(invalid("users.image", Violation::ControlCharacter));
        }
        if input.chars().count() > IMAGE_URL_MAX_LEN {
            return Err(invalid(
                "users.image",
                Violation::TooLong {
                    max: IMAGE_URL_MAX_LEN,
                },
            ));
        }
        let url = url::Url::parse(input).map_err(|_| invalid("users.image", Violation::Format))?;
        if url.scheme() != "https" {
            return Err(invalid(
                "users.image",
                Violation::Scheme { expected: "https" },
            ));
        }
        if url.host_str().is_none_or(str::is_empty) || !url.username().is_empty() {
            return Err(invalid("users.image", Violation::Format));
        }
        let normalised = String::from(url);
        if normalised.chars().count() > IMAGE_URL_MAX_LEN {
            return Err(invalid(
                "users.image",
                Violation::TooLong {
                    max: IMAGE_URL_MAX_LEN,
                },
            ));
        }
        Ok(Self(normalised))
    }
}

impl AsRef<str> for ImageUrl {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A Stripe Connect account id: `acct_` followed by letters and digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StripeAccountId(String);

impl StripeAccountId {
    /// Validates `input` (surrounding whitespace is trimmed; case is kept, Stripe's ids are
    /// case-sensitive).
    ///
    /// # Errors
    /// [`Error::Invalid`] for field `users.stripe_account_id`: [`Violation::Empty`],
    /// [`Violation::TooLong`] or [`Violation::Format`].
    pub fn parse(input: &str) -> Result<Self> {
        let id = input.trim();
        if id.is_empty() {
            return Err(invalid("users.stripe_account_id", Violation::Empty));
        }
        if id.len() > STRIPE_ACCOUNT_ID_MAX_LEN {
            return Err(invalid(
                "users.stripe_account_id",
                Violation::TooLong {
                    max: STRIPE_ACCOUNT_ID_MAX_LEN,
                },
            ));
        }
        match id.strip_prefix("acct_") {
            Some(rest) if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric()) => {
                Ok(Self(id.to_owned()))
            }
            _ => Err(invalid("users.stripe_account_id", Violation::Format)),
        }
    }
}

impl AsRef<str> for StripeAccountId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn violation<T: std::fmt::Debug>(result: Result<T>, field: &str) -> Violation {
        match result {
            Err(Error::Invalid {
                field: f,
                violation,
            }) if f == field => violation,
            other => panic!("expected Invalid for {field}, got {other:?}"),
        }
    }

    #[test]
    fn an_email_is_trimmed_and_lower_cased() {
        let email = Email::parse("  Ann.Lee+shop@Example.COM \n").expect("valid");
        assert_eq!(email.as_ref(), "ann.lee+shop@example.com");
        assert_eq!(
            email,
            Email::parse("ann.lee+shop@example.com").expect("valid")
        );
    }

    #[test]
    fn an_email_that_is_not_an_address_is_refused_with_its_rule() {
        assert_eq!(
            violation(Email::parse("  "), "users.email"),
            Violation::Empty
        );
        for bad in [
            "ann",
            "ann@",
            "@example.com",
            "ann@localhost",
            "ann@@example.com",
            "Ann <ann@example.com>",
            "ann@[127.0.0.1]",
            "ann lee@example.com",
            "ann@exa mple.com",
            "ann@example..com",
        ] {
            assert_eq!(
                violation(Email::parse(bad), "users.email"),
                Violation::Format,
                "{bad}"
            );
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(
            violation(Email::parse(&long), "users.email"),
            Violation::TooLong { max: 254 }
        );
    }

    #[test]
    fn a_display_name_is_trimmed_and_bounded() {
        assert_eq!(
            DisplayName::parse("  Zoë Nakamura ")
                .expect("valid")
                .as_ref(),
            "Zoë Nakamura"
        );
        assert_eq!(
            violation(DisplayName::parse(" \t "), "users.name"),
            Violation::Empty
        );
        assert_eq!(
            violation(DisplayName::parse(&"é".repeat(101)), "users.name"),
            Violation::TooLong { max: 100 }
        );
        assert!(DisplayName::parse(&"é".repeat(100)).is_ok());
        assert_eq!(
            violation(DisplayName::parse("Ann\u{0}Lee"), "users.name"),
            Violation::ControlCharacter
        );
    }

    #[test]
    fn an_image_url_must_be_https_with_a_host() {
        assert_eq!(
            ImageUrl::parse("https://cdn.example.com/a b.png")
                .expect("valid")
                .as_ref(),
            "https://cdn.example.com/a%20b.png"
        );
        assert_eq!(
            violation(ImageUrl::parse(""), "users.image"),
            Violation::Empty
        );
        assert_eq!(
            violation(
                ImageUrl::parse("http://cdn.example.com/a.png"),
                "users.image"
            ),
            Violation::Scheme { expected: "https" }
        );
        assert_eq!(
            violation(ImageUrl::parse("javascript:alert(1)"), "users.image"),
            Violation::Scheme { expected: "https" }
        );
        for bad in [
            "not a url",
            "/relative.png",
            "https://",
            "https://user:pw@host/a.png",
        ] {
            assert_eq!(
                violation(ImageUrl::parse(bad), "users.image"),
                Violation::Format,
                "{bad}"
            );
        }
        let long = format!("https://cdn.example.com/{}", "a".repeat(2_048));
        assert_eq!(
            violation(ImageUrl::parse(&long), "users.image"),
            Violation::TooLong { max: 2_048 }
        );
    }

    #[test]
    fn a_stripe_account_id_starts_with_acct() {
        assert_eq!(
            StripeAccountId::parse(" acct_1Nv0FGQ9RKHgCVdK ")
                .expect("valid")
                .as_ref(),
            "acct_1Nv0FGQ9RKHgCVdK"
        );
        assert_eq!(
            violation(StripeAccountId::parse(""), "users.stripe_account_id"),
            Violation::Empty
        );
        for bad in ["acct_", "cus_123", "acct_12-3", "acct_ 123"] {
            assert_eq!(
                violation(StripeAccountId::parse(bad), "users.stripe_account_id"),
                Violation::Format,
                "{bad}"
            );
        }
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    /// Text an adversary would try: arbitrary Unicode, and strings built from the characters
    /// that break naive checks (NUL and other controls, combining marks, full-width and
    /// Cyrillic look-alikes, odd whitespace, case-changing letters such as `İ` and `ẞ`).
    fn edgy() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            proptest::string::string_regex(
                "[aA@.\\-_+é\\u{301}\\u{0}\\u{1}\\t\\n\\r \\u{3000}\\u{ff41}\\u{430}İẞΣς]{0,40}"
            )
            .expect("regex"),
            proptest::string::string_regex(
                "[a-zA-Z0-9.+_\\-éÉñÑ\\u{301}\\u{ff41}\\u{430}İ]{1,30}@[a-zA-Z0-9\\-é]{1,20}\\.[a-zA-Z]{2,6}"
            )
            .expect("regex"),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        /// Whatever comes in, `Email::parse` does not panic, and an accepted address is in
        /// its stored form: NFC, lower-cased, no control character, within the limit, and
        /// parsing that form again gives the same address.
        #[test]
        fn an_accepted_email_is_its_own_normal_form(input in edgy()) {
            if let Ok(email) = Email::parse(&input) {
                let stored = email.as_ref();
                prop_assert!(stored.chars().count() <= EMAIL_MAX_LEN);
                prop_assert!(!stored.chars().any(char::is_control));
                prop_assert!(unicode_normalization::is_nfc(stored));
                prop_assert_eq!(Email::parse(stored).ok(), Some(email.clone()));
                prop_assert_eq!(Email::from_stored(stored.to_owned()), Some(email));
            }
        }

        /// A composed and a decomposed spelling are one address; an accent, a full-width
        /// letter or a Cyrillic look-alike make another one.
        #[test]
        fn look_alike_emails_are_other_addresses(local in "[a-z]{1,10}", domain in "[a-z]{1,10}") {
            let plain = Email::parse(&format!("a{local}@{domain}.com")).expect("plain");
            let composed = Email::parse(&format!("\u{e1}{local}@{domain}.com")).expect("composed");
            let decomposed = Email::parse(&format!("a\u{301}{local}@{domain}.com")).expect("decomposed");
            prop_assert_eq!(&composed, &decomposed);
            prop_assert_ne!(&plain, &composed);
            prop_assert_eq!(Email::parse(&format!("A{local}@{}.COM", domain.to_uppercase())).ok(), Some(plain.clone()));
            for look_alike in [format!("\u{ff41}{local}@{domain}.com"), format!("\u{430}{local}@{domain}.com")] {
                if let Ok(other) = Email::parse(&look_alike) {
                    prop_assert_ne!(&other, &plain);
                }
            }
        }

        /// Display names, image URLs and Stripe ids: no panic; an accepted value is in its
        /// stored form (parsing it again gives it back) and within its limit.
        #[test]
        fn other_identity_values_parse_to_a_stable_stored_form(input in edgy()) {
            if let Ok(name) = DisplayName::parse(&input) {
                prop_assert!(name.as_ref().chars().count() <= DISPLAY_NAME_MAX_LEN);
                prop_assert!(!name.as_ref().chars().any(char::is_control));
                prop_assert_eq!(DisplayName::parse(name.as_ref()).ok(), Some(name.clone()));
            }
            let url = format!("https://cdn.example.com/{input}");
            if let Ok(image) = ImageUrl::parse(&url) {
                prop_assert!(image.as_ref().chars().count() <= IMAGE_URL_MAX_LEN);
                prop_assert_eq!(ImageUrl::parse(image.as_ref()).ok(), Some(image.clone()));
            }
            if let Ok(id) = StripeAccountId::parse(&format!("acct_{input}")) {
                prop_assert!(id.as_ref().len() <= STRIPE_ACCOUNT_ID_MAX_LEN);
                prop_assert_eq!(StripeAccountId::parse(id.as_ref()).ok(), Some(id.clone()));
            }
        }

        /// Stripe ids keep their case: two ids that differ only by case are two ids.
        #[test]
        fn stripe_ids_that_differ_by_case_are_distinct(id in "[a-zA-Z0-9]{1,30}") {
            let lower = StripeAccountId::parse(&format!("acct_{}", id.to_lowercase())).expect("lower");
            let upper = StripeAccountId::parse(&format!("acct_{}", id.to_uppercase())).expect("upper");
            prop_assert_eq!(lower == upper, id.to_lowercase() == id.to_uppercase());
        }
    }

    #[test]
    fn control_characters_are_refused_by_name() {
        for bad in [
            "ann\0@example.com",
            "ann@exa\u{1}mple.com",
            "ann\u{7f}@example.com",
        ] {
            assert!(matches!(
                Email::parse(bad),
                Err(Error::Invalid {
                    field: "users.email",
                    violation: Violation::ControlCharacter
                })
            ));
        }
        assert!(matches!(
            ImageUrl::parse("https://cdn.example.com/a\tb.png"),
            Err(Error::Invalid {
                field: "users.image",
                violation: Violation::ControlCharacter
            })
        ));
    }
}
