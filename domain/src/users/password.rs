//! Passwords: the validated input, and argon2id hashing with deliberate parameters.
//!
//! # Parameters
//! [`Argon2Params::OWASP`] is the production default: argon2id, 19 MiB of memory
//! (m = 19456 KiB), 2 passes (t = 2), 1 lane (p = 1), a 16-byte random salt and a 32-byte
//! output, the first of the equivalent settings the OWASP Password Storage Cheat Sheet lists.
//! It costs tens of milliseconds per hash on one core, enough to make guessing expensive, and
//! a single lane keeps one sign-in from occupying several cores of a small server. The
//! parameters are written into every PHC string, so raising them later leaves old hashes
//! verifiable. Tests may pass cheaper parameters ([`Argon2Params::new`]); they stay argon2id.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use zeroize::Zeroizing;

use crate::crypto::random_bytes;
use crate::error::{CryptoFailure, Error, Result, Violation};

/// The shortest password, in characters.
pub const PASSWORD_MIN_LEN: usize = 8;
/// The longest password, in characters (long enough for passphrases, short enough that
/// hashing cannot be used to burn CPU).
pub const PASSWORD_MAX_LEN: usize = 128;
/// Bytes of random salt per hash.
pub const SALT_LEN: usize = 16;

/// A password as typed: 8 to 128 characters, not only whitespace. Held in memory that is
/// wiped on drop; never stored, never shown (`Debug` is `Password(***)`, no `Display`).
#[derive(Clone)]
pub struct Password(Zeroizing<String>);

impl Password {
    /// Validates `input`. Whitespace is kept: it is part of the password.
    ///
    /// # Errors
    /// [`Error::Invalid`] for field `password`: [`Violation::Empty`] (empty or only
    /// whitespace), [`Violation::TooShort`] or [`Violation::TooLong`]. The error never holds
    /// the password.
    pub fn parse(input: &str) -> Result<Self> {
        let invalid = |violation| Error::Invalid {
            field: "password",
            violation,
        };
        if input.trim().is_empty() {
            return Err(invalid(Violation::Empty));
        }
        let len = input.chars().count();
        if len < PASSWORD_MIN_LEN {
            return Err(invalid(Violation::TooShort {
                min: PASSWORD_MIN_LEN,
            }));
        }
        if len > PASSWORD_MAX_LEN {
            return Err(invalid(Violation::TooLong {
                max: PASSWORD_MAX_LEN,
            }));
        }
        Ok(Self(Zeroizing::new(input.to_owned())))
    }

    fn bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// The cost of an argon2id hash. See the module documentation for the production choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
}

impl Argon2Params {
    /// The production default: m = 19456 KiB, t = 2, p = 1 (OWASP).
    pub const OWASP: Self = Self {
        memory_kib: 19_456,
        iterations: 2,
        parallelism: 1,
    };

    /// Custom costs, e.g. cheaper ones for tests.
    ///
    /// # Errors
    /// [`Error::Invalid`] with [`Violation::OutOfRange`] naming `argon2.memory_kib` (under
    /// 8 KiB per lane), `argon2.iterations` (zero) or `argon2.parallelism` (outside 1..=16).
    pub fn new(memory_kib: u32, iterations: u32, parallelism: u32) -> Result<Self> {
        let out_of_range = |field, min: i64, max: i64| Error::Invalid {
            field,
            violation: Violation::OutOfRange { min, max },
        };
        if !(1..=16).contains(&parallelism) {
            return Err(out_of_range("argon2.parallelism", 1, 16));
        }
        if memory_kib < 8 * parallelism {
            return Err(out_of_range(
                "argon2.memory_kib",
                i64::from(8 * parallelism),
                i64::from(u32::MAX),
            ));
        }
        if iterations == 0 {
            return Err(out_of_range("argon2.iterations", 1, i64::from(u32::MAX)));
        }
        Ok(Self {
            memory_kib,
            iterations,
            parallelism,
        })
    }

    /// Memory per hash, in KiB.
    pub fn memory_kib(self) -> u32 {
        self.memory_kib
    }

    /// Passes over the memory.
    pub fn iterations(self) -> u32 {
        self.iterations
    }

    /// Lanes.
    pub fn parallelism(self) -> u32 {
        self.parallelism
    }
}

impl Default for Argon2Params {
    fn default() -> Self {
        Self::OWASP
    }
}

/// Hashes and verifies passwords with argon2id on the blocking thread pool (a hash takes tens
/// of milliseconds and must not stall the async workers). Holds a dummy hash of the same cost
/// so that a sign-in for an unknown email does the same work as one with a wrong password.
/// Cheap to clone.
#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

struct Inner {
    params: Argon2Params,
    argon2: Argon2<'static>,
    dummy_hash: String,
    verifications: AtomicU64,
}

impl PasswordHasher {
    /// A hasher with `params`; computes its dummy hash once, here.
    ///
    /// # Errors
    /// [`Error::Crypto`]: [`CryptoFailure::PasswordHashing`] when argon2 refuses the
    /// parameters, [`CryptoFailure::Randomness`] when no salt can be drawn.
    pub fn new(params: Argon2Params) -> Result<Self> {
        let argon2_params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|_| Error::Crypto(CryptoFailure::PasswordHashing))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon2_params);
        let mut dummy_password = Zeroizing::new([0u8; 32]);
        random_bytes(dummy_password.as_mut())?;
        let dummy_hash = hash_with(&argon2, dummy_password.as_ref())?;
        Ok(Self {
            inner: Arc::new(Inner {
                params,
                argon2,
                dummy_hash,
                verifications: AtomicU64::new(0),
            }),
        })
    }

    /// The parameters new hashes get.
    pub fn params(&self) -> Argon2Params {
        self.inner.params
    }

    /// How many hash verifications this hasher has run (real or against the dummy hash): a
    /// sign-in does exactly one whatever the outcome, which tests check.
    pub fn verifications(&self) -> u64 {
        self.inner.verifications.load(Ordering::Relaxed)
    }

    /// Hashes `password` with a fresh random salt; the PHC string to store.
    pub(crate) async fn hash(&self, password: &Password) -> Result<String> {
        let inner = Arc::clone(&self.inner);
        let password = password.clone();
        tokio::task::spawn_blocking(move || hash_with(&inner.argon2, password.bytes()))
            .await
            .map_err(|_| Error::Crypto(CryptoFailure::PasswordHashing))?
    }

    /// Whether `password` matches `stored`; with no stored hash (unknown user, or one who
    /// only signs in through OAuth) it verifies against the dummy hash and answers `false`,
    /// so that both cases take the same time.
    pub(crate) async fn verify(&self, password: &Password, stored: Option<String>) -> Result<bool> {
        let inner = Arc::clone(&self.inner);
        let password = password.clone();
        tokio::task::spawn_blocking(move || {
            inner.verifications.fetch_add(1, Ordering::Relaxed);
            let (hash, real) = match &stored {
                Some(hash) => (hash.as_str(), true),
                None => (inner.dummy_hash.as_str(), false),
            };
            match inner.argon2.verify_password(password.bytes(), hash) {
                Ok(()) => Ok(real),
                Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
                Err(_) => Err(Error::Crypto(CryptoFailure::StoredPasswordHash)),
            }
        })
        .await
        .map_err(|_| Error::Crypto(CryptoFailure::PasswordHashing))?
    }
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.inner.params)
            .finish_non_exhaustive()
    }
}

fn hash_with(argon2: &Argon2<'_>, password: &[u8]) -> Result<String> {
    let mut salt = [0u8; SALT_LEN];
    random_bytes(&mut salt)?;
    argon2
        .hash_password_with_salt(password, &salt)
        .map(|hash| hash.to_string())
        .map_err(|_| Error::Crypto(CryptoFailure::PasswordHashing))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn violation(input: &str) -> Violation {
        match Password::parse(input) {
            Err(Error::Invalid {
                field: "password",
                violation,
            }) => violation,
            other => panic!("expected Invalid password, got {other:?}"),
        }
    }

    #[test]
    fn a_password_is_8_to_128_characters_and_not_only_whitespace() {
        assert_eq!(violation(""), Violation::Empty);
        assert_eq!(violation("          "), Violation::Empty);
        assert_eq!(violation("short7!"), Violation::TooShort { min: 8 });
        assert_eq!(violation(&"x".repeat(129)), Violation::TooLong { max: 128 });
        assert!(Password::parse("eight ch").is_ok());
        assert!(
            Password::parse(&"é".repeat(128)).is_ok(),
            "characters, not bytes"
        );
    }

    #[test]
    fn a_password_never_shows_itself() {
        let password = Password::parse("correct horse battery").expect("valid");
        assert_eq!(format!("{password:?}"), "Password(***)");
        let err = Password::parse("hunter2").expect_err("short");
        assert!(!format!("{err} {err:?}").contains("hunter2"));
    }

    #[test]
    fn parameters_out_of_range_name_the_parameter() {
        assert!(matches!(
            Argon2Params::new(19_456, 0, 1),
            Err(Error::Invalid {
                field: "argon2.iterations",
                ..
            })
        ));
        assert!(matches!(
            Argon2Params::new(4, 1, 1),
            Err(Error::Invalid {
                field: "argon2.memory_kib",
                ..
            })
        ));
        assert!(matches!(
            Argon2Params::new(1024, 1, 0),
            Err(Error::Invalid {
                field: "argon2.parallelism",
                ..
            })
        ));
        assert_eq!(Argon2Params::default(), Argon2Params::OWASP);
    }

    #[tokio::test]
    async fn a_hash_is_argon2id_with_the_chosen_costs_and_verifies_only_its_password() {
        let hasher =
            PasswordHasher::new(Argon2Params::new(1_024, 1, 1).expect("params")).expect("hasher");
        let password = Password::parse("correct horse battery").expect("valid");
        let hash = hasher.hash(&password).await.expect("hash");
        assert!(hash.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{hash}");
        assert!(!hash.contains("correct horse battery"));
        assert_ne!(hash, hasher.hash(&password).await.expect("hash"), "salted");
        assert!(
            hasher
                .verify(&password, Some(hash.clone()))
                .await
                .expect("verify")
        );
        let wrong = Password::parse("incorrect horse").expect("valid");
        assert!(!hasher.verify(&wrong, Some(hash)).await.expect("verify"));
        assert!(!hasher.verify(&password, None).await.expect("dummy"));
        assert_eq!(hasher.verifications(), 3);
        assert!(matches!(
            hasher.verify(&password, Some("not a hash".into())).await,
            Err(Error::Crypto(CryptoFailure::StoredPasswordHash))
        ));
    }

    #[test]
    fn the_production_parameters_are_owasps() {
        let hasher = PasswordHasher::new(Argon2Params::OWASP).expect("hasher");
        assert!(
            hasher
                .inner
                .dummy_hash
                .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{}",
            hasher.inner.dummy_hash
        );
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]

        /// No input makes `Password::parse` panic, and the rule is exactly: 8 to 128
        /// characters, not only whitespace.
        #[test]
        fn a_password_is_accepted_exactly_by_its_rule(input in any::<String>()) {
            let len = input.chars().count();
            let expected = !input.trim().is_empty()
                && (PASSWORD_MIN_LEN..=PASSWORD_MAX_LEN).contains(&len);
            prop_assert_eq!(Password::parse(&input).is_ok(), expected);
        }

        /// Argon2 parameters: no panic for any triple, and an accepted one builds a hasher's
        /// parameters (checked cheaply: the ranges argon2 itself enforces).
        #[test]
        fn argon2_parameters_never_panic(m in any::<u32>(), t in any::<u32>(), p in any::<u32>()) {
            if let Ok(params) = Argon2Params::new(m, t, p) {
                prop_assert!((1..=16).contains(&params.parallelism()));
                prop_assert!(params.memory_kib() >= 8 * params.parallelism());
                prop_assert!(params.iterations() >= 1);
            }
        }
    }
}
