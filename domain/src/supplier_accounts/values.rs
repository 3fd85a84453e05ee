//! The validated inputs of a supplier account: its credentials and the merchant's account id
//! at the supplier. Each has one way in, `parse`, whose error names the column.

use crate::crypto::Secret;
use crate::error::{Error, Result, Violation};

/// The longest API key or secret accepted, in bytes.
pub const CREDENTIAL_MAX_LEN: usize = 4_096;
/// The longest supplier-side account id, in characters.
pub const ACCOUNT_ID_MAX_LEN: usize = 255;

/// A credential: not blank, at most [`CREDENTIAL_MAX_LEN`] bytes. Kept exactly as given (a
/// key is never trimmed: the supplier compares it byte for byte).
fn check_credential(field: &'static str, value: &Secret) -> Result<()> {
    let value = value.expose();
    if value.trim().is_empty() {
        return Err(Error::Invalid {
            field,
            violation: Violation::Empty,
        });
    }
    if value.len() > CREDENTIAL_MAX_LEN {
        return Err(Error::Invalid {
            field,
            violation: Violation::TooLong {
                max: CREDENTIAL_MAX_LEN,
            },
        });
    }
    Ok(())
}

/// A supplier API key (`supplier_accounts.api_key`, encrypted at rest). `Debug` redacts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey(Secret);

impl ApiKey {
    /// Validates `input`.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `supplier_accounts.api_key`: [`Violation::Empty`] or
    /// [`Violation::TooLong`].
    pub fn parse(input: Secret) -> Result<Self> {
        check_credential("supplier_accounts.api_key", &input).map(|()| Self(input))
    }

    /// The key itself, for the one place that must use it.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

/// A supplier API secret (`supplier_accounts.api_secret`, encrypted at rest). `Debug` redacts
/// it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiSecret(Secret);

impl ApiSecret {
    /// Validates `input`.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `supplier_accounts.api_secret`: [`Violation::Empty`] or
    /// [`Violation::TooLong`].
    pub fn parse(input: Secret) -> Result<Self> {
        check_credential("supplier_accounts.api_secret", &input).map(|()| Self(input))
    }

    /// The secret itself, for the one place that must use it.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

/// The merchant's account id at the supplier (`supplier_accounts.account_id`): trimmed, 1 to
/// [`ACCOUNT_ID_MAX_LEN`] characters, no control character. Never folded: `supplier-X` and
/// `SUPPLIER-x` are two ids, on every backend.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExternalAccountId(String);

impl ExternalAccountId {
    /// Validates and trims `input`.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `supplier_accounts.account_id`: [`Violation::Empty`],
    /// [`Violation::TooLong`] or [`Violation::ControlCharacter`].
    pub fn parse(input: &str) -> Result<Self> {
        let invalid = |violation| Error::Invalid {
            field: "supplier_accounts.account_id",
            violation,
        };
        let id = input.trim();
        if id.is_empty() {
            return Err(invalid(Violation::Empty));
        }
        if id.chars().count() > ACCOUNT_ID_MAX_LEN {
            return Err(invalid(Violation::TooLong {
                max: ACCOUNT_ID_MAX_LEN,
            }));
        }
        if id.chars().any(char::is_control) {
            return Err(invalid(Violation::ControlCharacter));
        }
        Ok(Self(id.to_owned()))
    }
}

impl AsRef<str> for ExternalAccountId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn violation<T: std::fmt::Debug>(result: Result<T>) -> (&'static str, Violation) {
        match result {
            Err(Error::Invalid { field, violation }) => (field, violation),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn bad_credentials_and_ids_name_their_column() {
        assert_eq!(
            violation(ApiKey::parse(Secret::new(" \t"))),
            ("supplier_accounts.api_key", Violation::Empty)
        );
        assert_eq!(
            violation(ApiSecret::parse(Secret::new("s".repeat(4_097)))),
            (
                "supplier_accounts.api_secret",
                Violation::TooLong { max: 4_096 }
            )
        );
        assert!(ApiSecret::parse(Secret::new("s".repeat(4_096))).is_ok());
        assert_eq!(
            violation(ExternalAccountId::parse("  ")),
            ("supplier_accounts.account_id", Violation::Empty)
        );
        assert_eq!(
            violation(ExternalAccountId::parse("a\u{0}b")),
            ("supplier_accounts.account_id", Violation::ControlCharacter)
        );
        assert_eq!(
            ExternalAccountId::parse(" supplier-X ")
                .expect("valid")
                .as_ref(),
            "supplier-X"
        );
        assert_eq!(
            format!("{:?}", ApiKey::parse(Secret::new("sk_live")).expect("key")),
            "ApiKey(Secret(***))"
        );
    }
}
