//! The validated parts of a provider's answer: each has one way in, `parse`, whose error names
//! the column it is stored in (`accounts.provider`, `accounts.provider_account_id`, …).
//!
//! Provider ids are compared exactly (case, accents and width included, on every backend).
//! MariaDB ignores trailing spaces even in a binary collation ("PAD SPACE"), so `123` and
//! `123 ` would be one id there and two elsewhere; no provider issues such ids, so they are
//! refused.

use crate::crypto::Secret;
use crate::error::{Error, Result, Violation};
use crate::users::{DisplayName, Email, ImageUrl};

/// The longest provider name (`google`, `github`, …).
pub const PROVIDER_MAX_LEN: usize = 50;
/// The longest provider account id, account type, token type or session state, in characters.
pub const SHORT_FIELD_MAX_LEN: usize = 255;
/// The longest token or scope a provider may hand over, in bytes.
pub const TOKEN_MAX_LEN: usize = 16 * 1024;
/// The latest token expiry stored: 9999-12-31T23:59:59Z in Unix seconds, as every other
/// stored time ([`crate::clock::LATEST`]).
const LATEST_UNIX_SECONDS: i64 = 253_402_300_799;

fn invalid<T>(field: &'static str, violation: Violation) -> Result<T> {
    Err(Error::Invalid { field, violation })
}

/// A provider name: lower-case ASCII letters, digits, `-` and `_`.
fn check_provider(field: &'static str, value: &str) -> Result<()> {
    if value.is_empty() {
        return invalid(field, Violation::Empty);
    }
    if value.len() > PROVIDER_MAX_LEN {
        return invalid(
            field,
            Violation::TooLong {
                max: PROVIDER_MAX_LEN,
            },
        );
    }
    let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_';
    if !value.bytes().all(allowed) {
        return invalid(field, Violation::Format);
    }
    Ok(())
}

/// One line of at most [`SHORT_FIELD_MAX_LEN`] characters, not blank, no control character
/// (Postgres stores no NUL, and an id is never meant with one).
fn check_short(field: &'static str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return invalid(field, Violation::Empty);
    }
    if value.chars().count() > SHORT_FIELD_MAX_LEN {
        return invalid(
            field,
            Violation::TooLong {
                max: SHORT_FIELD_MAX_LEN,
            },
        );
    }
    if value.chars().any(char::is_control) {
        return invalid(field, Violation::ControlCharacter);
    }
    Ok(())
}

/// A short field that is compared exactly, so it may not have surrounding whitespace.
fn check_id(field: &'static str, value: &str) -> Result<()> {
    check_short(field, value)?;
    if value.trim() != value {
        return invalid(field, Violation::Format);
    }
    Ok(())
}

/// A token or scope: not empty, at most [`TOKEN_MAX_LEN`] bytes, no control character.
fn check_long(field: &'static str, value: &str) -> Result<()> {
    if value.is_empty() {
        return invalid(field, Violation::Empty);
    }
    if value.len() > TOKEN_MAX_LEN {
        return invalid(field, Violation::TooLong { max: TOKEN_MAX_LEN });
    }
    if value.chars().any(char::is_control) {
        return invalid(field, Violation::ControlCharacter);
    }
    Ok(())
}

/// A text newtype over one column: private field, `parse` the only way in, `AsRef<str>` out.
macro_rules! text_value {
    ($(#[$doc:meta])* $name:ident, $field:literal, $check:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            #[doc = concat!("Validates `input`, kept as given (stored in `", $field, "`).")]
            ///
            /// # Errors
            #[doc = concat!("[`Error::Invalid`] naming `", $field, "` with the rule it breaks.")]
            pub fn parse(input: &str) -> Result<Self> {
                $check($field, input).map(|()| Self(input.to_owned()))
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

/// A secret newtype over one encrypted column: `Debug` redacts it.
macro_rules! secret_value {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(Secret);

        impl $name {
            #[doc = concat!("Validates `input` (stored encrypted in `", $field, "`).")]
            ///
            /// # Errors
            #[doc = concat!("[`Error::Invalid`] naming `", $field, "`: [`Violation::Empty`], ")]
            /// [`Violation::TooLong`] (over [`TOKEN_MAX_LEN`] bytes) or
            /// [`Violation::ControlCharacter`].
            pub fn parse(input: Secret) -> Result<Self> {
                check_long($field, input.expose()).map(|()| Self(input))
            }

            /// The token itself, for the one place that must use it.
            pub fn expose(&self) -> &str {
                self.0.expose()
            }
        }
    };
}

text_value!(
    /// The provider's name (`accounts.provider`): lower-case letters, digits, `-` and `_`,
    /// e.g. `google`.
    OAuthProvider,
    "accounts.provider",
    check_provider
);
text_value!(
    /// The person's id at the provider (`accounts.provider_account_id`), compared exactly.
    ProviderAccountId,
    "accounts.provider_account_id",
    check_id
);
text_value!(
    /// The account type as Auth.js names it (`accounts.type`): `oauth`, `oidc`, …
    AccountKind,
    "accounts.type",
    check_short
);
text_value!(
    /// The token type (`accounts.token_type`), e.g. `Bearer`.
    TokenType,
    "accounts.token_type",
    check_short
);
text_value!(
    /// The provider's session state (`accounts.session_state`).
    SessionState,
    "accounts.session_state",
    check_short
);
text_value!(
    /// The granted scopes (`accounts.scope`).
    Scope,
    "accounts.scope",
    check_long
);
secret_value!(
    /// The provider's refresh token (`accounts.refresh_token`).
    RefreshToken,
    "accounts.refresh_token"
);
secret_value!(
    /// The provider's access token (`accounts.access_token`).
    AccessToken,
    "accounts.access_token"
);
secret_value!(
    /// The OpenID Connect id token (`accounts.id_token`).
    IdToken,
    "accounts.id_token"
);

/// When an access token expires (`accounts.expires_at`), in Unix seconds within the range
/// every stored time keeps ([`crate::clock::EARLIEST`]..=[`crate::clock::LATEST`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenExpiry(i64);

impl TokenExpiry {
    /// Validates `unix_seconds`.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `accounts.expires_at` with [`Violation::TimeOutOfRange`].
    pub fn parse(unix_seconds: i64) -> Result<Self> {
        if !(0..=LATEST_UNIX_SECONDS).contains(&unix_seconds) {
            return invalid(
                "accounts.expires_at",
                Violation::TimeOutOfRange {
                    earliest: crate::clock::EARLIEST,
                    latest: crate::clock::LATEST,
                },
            );
        }
        Ok(Self(unix_seconds))
    }

    /// The expiry in Unix seconds.
    pub fn unix_seconds(self) -> i64 {
        self.0
    }
}

/// What the provider said about the person signing in; every field is already validated.
#[derive(Debug, Clone)]
pub struct OAuthProfile {
    /// The provider's name (e.g. `google`).
    pub provider: OAuthProvider,
    /// The person's id at the provider.
    pub provider_account_id: ProviderAccountId,
    /// The account type, as Auth.js names it (`oauth`, `oidc`, …), stored in `accounts.type`.
    pub kind: AccountKind,
    /// The email the provider reported, if any.
    pub email: Option<Email>,
    /// Whether the provider verified that email.
    pub email_verified: bool,
    /// The name the provider reported, for a new user.
    pub name: Option<DisplayName>,
    /// The picture the provider reported, for a new user.
    pub image: Option<ImageUrl>,
    /// The tokens the provider issued.
    pub tokens: OAuthTokens,
}

/// A provider's tokens and their metadata. The three tokens are encrypted at rest; `Debug`
/// redacts them. On a repeated sign-in a `None` token keeps the stored one (providers send a
/// refresh token only the first time).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OAuthTokens {
    /// The refresh token.
    pub refresh_token: Option<RefreshToken>,
    /// The access token.
    pub access_token: Option<AccessToken>,
    /// The OpenID Connect id token.
    pub id_token: Option<IdToken>,
    /// When the access token expires.
    pub expires_at: Option<TokenExpiry>,
    /// The token type, e.g. `Bearer`.
    pub token_type: Option<TokenType>,
    /// The granted scopes.
    pub scope: Option<Scope>,
    /// The provider's session state.
    pub session_state: Option<SessionState>,
}
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => "[a-zA-Z0-9_\\-]{1,30}",
            1 => any::<String>(),
            1 => "[a \\u{0}\\u{1}\\t\\n\\u{301}\\u{ff41}\\u{430}]{0,10}",
            1 => (250usize..260).prop_map(|n| "\u{1f600}".repeat(n)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]

        /// No input makes a constructor panic; an accepted one is one line, NUL-free, bounded,
        /// an id has no surrounding whitespace and an expiry is in range.
        #[test]
        fn an_accepted_value_is_storable_everywhere(
            provider in prop_oneof!["[a-z0-9_\\-]{1,50}", text()],
            id in text(),
            kind in text(),
            token in text(),
            expires_at in prop_oneof![any::<i64>(), 0i64..253_402_300_800],
        ) {
            if let Ok(provider) = OAuthProvider::parse(&provider) {
                prop_assert!(provider.as_ref().len() <= PROVIDER_MAX_LEN);
            }
            if let Ok(id) = ProviderAccountId::parse(&id) {
                let id = id.as_ref();
                prop_assert!(id.chars().count() <= SHORT_FIELD_MAX_LEN);
                prop_assert_eq!(id.trim(), id);
                prop_assert!(!id.chars().any(char::is_control));
            }
            for kind in [AccountKind::parse(&kind).ok().map(|k| k.0), TokenType::parse(&kind).ok().map(|k| k.0)].into_iter().flatten() {
                prop_assert!(!kind.chars().any(char::is_control));
                prop_assert!(kind.chars().count() <= SHORT_FIELD_MAX_LEN);
            }
            if let Ok(token) = AccessToken::parse(Secret::new(token.clone())) {
                prop_assert!(!token.expose().chars().any(char::is_control));
            }
            if let Ok(scope) = Scope::parse(&token) {
                prop_assert!(!scope.as_ref().chars().any(char::is_control));
            }
            if let Ok(at) = TokenExpiry::parse(expires_at) {
                prop_assert!((0..=253_402_300_799).contains(&at.unix_seconds()));
            }
        }
    }
}
