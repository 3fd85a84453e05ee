//! The AEAD cipher of secrets at rest, its stored format, and the bindings that tie each
//! ciphertext to its column and owner.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use entity::sea_orm_active_enums::SupplierProvider;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::keys::{EncryptionKey, KeyRing};
use super::secret::{Secret, random_bytes};
use crate::error::{CryptoFailure, DecryptionProblem, Error, Result};

const FORMAT: &str = "xc1";
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

fn cipher(key: &EncryptionKey) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(&Key::from(*key.bytes()))
}

impl KeyRing {
    /// Encrypts `plaintext` under the current key, bound to `binding`.
    pub(crate) fn encrypt(&self, plaintext: &str, binding: &Binding) -> Result<String> {
        let key = self.current();
        let mut nonce = [0u8; NONCE_LEN];
        random_bytes(&mut nonce)?;
        let aad = binding.aad();
        let sealed = cipher(key)
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| Error::Crypto(CryptoFailure::Encryption))?;
        let mut body = Vec::with_capacity(NONCE_LEN + sealed.len());
        body.extend_from_slice(&nonce);
        body.extend_from_slice(&sealed);
        Ok(format!(
            "{FORMAT}:{}:{}",
            key.version(),
            URL_SAFE_NO_PAD.encode(body)
        ))
    }

    /// Decrypts a value written by [`KeyRing::encrypt`] with the same `binding`.
    ///
    /// # Errors
    /// [`Error::Decryption`] naming the binding's field: [`DecryptionProblem::Malformed`],
    /// [`DecryptionProblem::UnknownKeyVersion`] or [`DecryptionProblem::Inauthentic`].
    pub(crate) fn decrypt(&self, stored: &str, binding: &Binding) -> Result<Secret> {
        let fail = |problem| Error::Decryption {
            field: binding.field,
            problem,
        };
        let (version, body) = parse_stored(stored).ok_or(fail(DecryptionProblem::Malformed))?;
        let key = self
            .key(version)
            .ok_or(fail(DecryptionProblem::UnknownKeyVersion { version }))?;
        let (nonce, sealed) = body.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce
            .try_into()
            .map_err(|_| fail(DecryptionProblem::Malformed))?;
        let aad = binding.aad();
        let plain = Zeroizing::new(
            cipher(key)
                .decrypt(
                    &XNonce::from(nonce),
                    Payload {
                        msg: sealed,
                        aad: &aad,
                    },
                )
                .map_err(|_| fail(DecryptionProblem::Inauthentic))?,
        );
        let text = std::str::from_utf8(&plain).map_err(|_| fail(DecryptionProblem::Malformed))?;
        Ok(Secret::new(text))
    }

    /// Whether `stored` was written under the current key (and so needs no rotation).
    pub(crate) fn is_current(&self, stored: &str) -> bool {
        parse_stored(stored).is_some_and(|(version, _)| version == self.current_version())
    }
}

/// `xc1:<version>:<base64url>` → the version and the decoded nonce ‖ ciphertext ‖ tag.
fn parse_stored(stored: &str) -> Option<(u32, Vec<u8>)> {
    let mut parts = stored.splitn(3, ':');
    if parts.next()? != FORMAT {
        return None;
    }
    let version = parts.next()?.parse().ok()?;
    let body = URL_SAFE_NO_PAD.decode(parts.next()?).ok()?;
    (body.len() >= NONCE_LEN + TAG_LEN).then_some((version, body))
}

/// What a ciphertext belongs to: its column and its owner. Both are authenticated with the
/// value, so a ciphertext moved to another row or column does not decrypt.
///
/// The spelling of each column is part of the stored format (it is the associated data of
/// every value written): a binding is made only by the named constructors below, one per
/// encrypted column, so that a typo cannot compile, and a unit test pins every spelling.
#[derive(Debug, Clone)]
pub(crate) struct Binding {
    field: &'static str,
    owner: String,
}

impl Binding {
    /// `accounts.refresh_token` of the OAuth link `account_id`.
    pub(crate) fn accounts_refresh_token(account_id: Uuid) -> Self {
        Self::new("accounts.refresh_token", account_id.to_string())
    }

    /// `accounts.access_token` of the OAuth link `account_id`.
    pub(crate) fn accounts_access_token(account_id: Uuid) -> Self {
        Self::new("accounts.access_token", account_id.to_string())
    }

    /// `accounts.id_token` of the OAuth link `account_id`.
    pub(crate) fn accounts_id_token(account_id: Uuid) -> Self {
        Self::new("accounts.id_token", account_id.to_string())
    }

    /// `supplier_accounts.api_key` of the user's account with `provider`.
    pub(crate) fn supplier_accounts_api_key(user_id: Uuid, provider: &SupplierProvider) -> Self {
        Self::supplier("supplier_accounts.api_key", user_id, provider)
    }

    /// `supplier_accounts.api_secret` of the user's account with `provider`.
    pub(crate) fn supplier_accounts_api_secret(user_id: Uuid, provider: &SupplierProvider) -> Self {
        Self::supplier("supplier_accounts.api_secret", user_id, provider)
    }

    /// A value of column `field` (`table.column`) owned by `owner` (a row id, or another key
    /// that does not change while the value lives).
    fn new(field: &'static str, owner: String) -> Self {
        Self { field, owner }
    }

    /// A supplier account's column: owned by the user and the provider, the row's unique key
    /// (a reconnect that updates the row in place keeps it).
    fn supplier(field: &'static str, user_id: Uuid, provider: &SupplierProvider) -> Self {
        // Spelled out rather than taken from the entity, so that a renamed variant can never
        // silently change the binding of stored values.
        let provider = match provider {
            SupplierProvider::Aliexpress => "ALIEXPRESS",
            SupplierProvider::CjDropshipping => "CJ_DROPSHIPPING",
            SupplierProvider::Spocket => "SPOCKET",
        };
        Self::new(field, format!("{user_id}/{provider}"))
    }

    fn aad(&self) -> Vec<u8> {
        format!("{}\u{0}{}", self.field, self.owner).into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::keys::KEY_LEN;

    fn ring(version: u32, byte: u8) -> KeyRing {
        KeyRing::new(EncryptionKey::from_bytes(version, [byte; KEY_LEN]), []).expect("ring")
    }

    fn owner(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn binding() -> Binding {
        Binding::supplier_accounts_api_key(owner(1), &SupplierProvider::Aliexpress)
    }

    /// The associated data of every encrypted column, byte for byte. These spellings are part
    /// of every stored value: changing one makes the values already written undecryptable, so
    /// a rename in Rust must never reach them.
    #[test]
    fn every_binding_keeps_its_stored_spelling() {
        let id = Uuid::parse_str("0190f5a3-7c1e-7d2a-9b3c-4d5e6f708192").expect("uuid");
        let cases = [
            (
                Binding::accounts_refresh_token(id),
                "accounts.refresh_token\u{0}0190f5a3-7c1e-7d2a-9b3c-4d5e6f708192",
            ),
            (
                Binding::accounts_access_token(id),
                "accounts.access_token\u{0}0190f5a3-7c1e-7d2a-9b3c-4d5e6f708192",
            ),
            (
                Binding::accounts_id_token(id),
                "accounts.id_token\u{0}0190f5a3-7c1e-7d2a-9b3c-4d5e6f708192",
            ),
            (
                Binding::supplier_accounts_api_key(id, &SupplierProvider::Aliexpress),
                "supplier_accounts.api_key\u{0}0190f5a3-7c1e-7d2a-9b3c-4d5e6f708192/ALIEXPRESS",
            ),
            (
                Binding::supplier_accounts_api_key(id, &SupplierProvider::CjDropshipping),
                "supplier_accounts.api_key\u{0}0190f5a3-7c1e-7d2a-9b3c-4d5e6f708192/CJ_DROPSHIPPING",
            ),
            (
                Binding::supplier_accounts_api_key(id, &SupplierProvider::Spocket),
                "supplier_accounts.api_key\u{0}0190f5a3-7c1e-7d2a-9b3c-4d5e6f708192/SPOCKET",
            ),
            (
                Binding::supplier_accounts_api_secret(id, &SupplierProvider::Aliexpress),
                "supplier_accounts.api_secret\u{0}0190f5a3-7c1e-7d2a-9b3c-4d5e6f708192/ALIEXPRESS",
            ),
            (
                Binding::supplier_accounts_api_secret(id, &SupplierProvider::CjDropshipping),
                "supplier_accounts.api_secret\u{0}0190f5a3-7c1e-7d2a-9b3c-4d5e6f708192/CJ_DROPSHIPPING",
            ),
            (
                Binding::supplier_accounts_api_secret(id, &SupplierProvider::Spocket),
                "supplier_accounts.api_secret\u{0}0190f5a3-7c1e-7d2a-9b3c-4d5e6f708192/SPOCKET",
            ),
        ];
        for (binding, expected) in cases {
            assert_eq!(String::from_utf8(binding.aad()).expect("utf-8"), expected);
            let column = expected.split('\u{0}').next().expect("column");
            assert_eq!(binding.field, column, "errors name the same column");
        }
    }

    /// Values written before the bindings became named constructors (key `v1`, 32 bytes of
    /// 0x5a) still decrypt, each only under its own binding.
    #[test]
    fn ciphertexts_written_by_earlier_builds_still_decrypt() {
        let keys = KeyRing::new(EncryptionKey::from_bytes(1, [0x5a; KEY_LEN]), []).expect("ring");
        let account = Uuid::parse_str("0190f5a3-7c1e-7d2a-9b3c-4d5e6f708192").expect("uuid");
        let user = Uuid::parse_str("0190f5a3-7c1e-7000-8000-00000000abcd").expect("uuid");
        let stored = [
            (
                Binding::accounts_refresh_token(account),
                "plain accounts.refresh_token",
                "xc1:1:6zW6fi-OZoPKx5kE0Jn9egsiXicfhgg6kHsC0TN76L1Z5FlSotX5JqhIahskDgcHTZdpWqtQltmvACptzMqPA5GqxI8",
            ),
            (
                Binding::accounts_access_token(account),
                "plain accounts.access_token",
                "xc1:1:kCFKFOaKpucVew-DZo_vRdt7UeyXDGU_cVD34RmPPxqIOBBdbUyIMjfsOXFNJBCs1Qp9siD5AD9NvyWzEDikXk5Bvw",
            ),
            (
                Binding::accounts_id_token(account),
                "plain accounts.id_token",
                "xc1:1:nAdAq7zA08NDA6QCKMOTwqogFLFyjFtGnYkYxX-3En0E17nHBWAD7UEEWYxsR-mgyn0PB0PSFfipT-nveNpa",
            ),
            (
                Binding::supplier_accounts_api_key(user, &SupplierProvider::Aliexpress),
                "plain supplier_accounts.api_key ALIEXPRESS",
                "xc1:1:kAitX1Fw7OX98kR-zBGn72Yi2DTzdb2qwbDku1slAMPHS0wh6OG-aE3ItX8rmZzSNpKcoTfLI56AUlH-w65TFDn3FIVJetUqBcbXD7IRbSO-Fw",
            ),
            (
                Binding::supplier_accounts_api_key(user, &SupplierProvider::CjDropshipping),
                "plain supplier_accounts.api_key CJ_DROPSHIPPING",
                "xc1:1:eJN6tBprZq4IuQDScz3tVq8heB3w3oa8nkQ4XmDemRrBlX-LcQ8PvDj6oWSIyqUZ9fSTn529jZ9xuFwRw6JI-OZkUCcn6b9cf_XKm20O_5ZvIZXRqyWH",
            ),
            (
                Binding::supplier_accounts_api_key(user, &SupplierProvider::Spocket),
                "plain supplier_accounts.api_key SPOCKET",
                "xc1:1:M_VEjE_5_5jVHCOQJwSJJBQ4k12GT3W3UZp8Cu8kOX0FSXYvJUHloMgES3xdtwL4m5q8d6YmrdbnHCvqInslUBSIuV2vk6E4iUSSn2V7Hw",
            ),
            (
                Binding::supplier_accounts_api_secret(user, &SupplierProvider::Aliexpress),
                "plain supplier_accounts.api_secret ALIEXPRESS",
                "xc1:1:mw3VOROBEXKq84Ij4orNkEcd_oi9C5DDr6DVxIHvnHhWRZZNq84jn1ey3uG-Ig7JD8EdUgxino10v9Mtl9dgOAUpyx_8iYNi9wdwvl8OVjuga5EN_g",
            ),
            (
                Binding::supplier_accounts_api_secret(user, &SupplierProvider::CjDropshipping),
                "plain supplier_accounts.api_secret CJ_DROPSHIPPING",
                "xc1:1:cgd7HkZlAw30FFlSvENPitNuS351HEElO74ke8i6P-e1GPER3kqCpMTgYYuBMJZp4cpxrT-FKa0KrEq78EXLp7MxXECuABga1GozstoF50KliBbuMR7iHdup",
            ),
            (
                Binding::supplier_accounts_api_secret(user, &SupplierProvider::Spocket),
                "plain supplier_accounts.api_secret SPOCKET",
                "xc1:1:lwqtLoAJTZleYZZTCWY3QmzgqadUyp0aDwpA5aOOQLZI3sTsW-fXjqFUFOU4OQteHd5f5KjYHvkTPil20PNh_9-ltr4IXEKBQE2bbLDXxC2BKg",
            ),
        ];
        for (binding, plain, ciphertext) in &stored {
            assert_eq!(
                keys.decrypt(ciphertext, binding).expect(plain).expose(),
                *plain
            );
        }
        for (i, (binding, _, _)) in stored.iter().enumerate() {
            for (j, (_, plain, ciphertext)) in stored.iter().enumerate() {
                if i != j {
                    assert!(
                        matches!(
                            keys.decrypt(ciphertext, binding),
                            Err(Error::Decryption {
                                problem: DecryptionProblem::Inauthentic,
                                ..
                            })
                        ),
                        "{plain} opened under another binding"
                    );
                }
            }
        }
    }

    #[test]
    fn a_value_round_trips_and_its_ciphertext_differs_every_time() {
        let keys = ring(1, 7);
        let a = keys.encrypt("sk_live_abc", &binding()).expect("encrypt");
        let b = keys.encrypt("sk_live_abc", &binding()).expect("encrypt");
        assert_ne!(a, b, "a fresh nonce per value");
        assert!(a.starts_with("xc1:1:"), "{a}");
        assert!(!a.contains("sk_live_abc"));
        assert_eq!(
            keys.decrypt(&a, &binding()).expect("decrypt").expose(),
            "sk_live_abc"
        );
    }

    #[test]
    fn a_tampered_ciphertext_is_refused_as_inauthentic() {
        let keys = ring(1, 7);
        let stored = keys.encrypt("secret", &binding()).expect("encrypt");
        let (head, body) = stored.rsplit_once(':').expect("format");
        let mut bytes = URL_SAFE_NO_PAD.decode(body).expect("base64");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let tampered = format!("{head}:{}", URL_SAFE_NO_PAD.encode(bytes));
        assert!(matches!(
            keys.decrypt(&tampered, &binding()),
            Err(Error::Decryption {
                field: "supplier_accounts.api_key",
                problem: DecryptionProblem::Inauthentic
            })
        ));
    }

    #[test]
    fn a_ciphertext_moved_to_another_owner_is_refused() {
        let keys = ring(1, 7);
        let stored = keys.encrypt("secret", &binding()).expect("encrypt");
        let elsewhere = Binding::supplier_accounts_api_key(owner(2), &SupplierProvider::Aliexpress);
        assert!(matches!(
            keys.decrypt(&stored, &elsewhere),
            Err(Error::Decryption {
                problem: DecryptionProblem::Inauthentic,
                ..
            })
        ));
    }

    #[test]
    fn a_wrong_key_of_the_same_version_is_inauthentic_and_an_unknown_version_is_named() {
        let stored = ring(1, 7).encrypt("secret", &binding()).expect("encrypt");
        assert!(matches!(
            ring(1, 8).decrypt(&stored, &binding()),
            Err(Error::Decryption {
                problem: DecryptionProblem::Inauthentic,
                ..
            })
        ));
        assert!(matches!(
            ring(2, 7).decrypt(&stored, &binding()),
            Err(Error::Decryption {
                problem: DecryptionProblem::UnknownKeyVersion { version: 1 },
                ..
            })
        ));
        for garbage in [
            "",
            "plain",
            "xc1:1:",
            "xc1:x:AAAA",
            "xc2:1:AAAA",
            "xc1:1:***",
        ] {
            assert!(
                matches!(
                    ring(1, 7).decrypt(garbage, &binding()),
                    Err(Error::Decryption {
                        problem: DecryptionProblem::Malformed,
                        ..
                    })
                ),
                "{garbage}"
            );
        }
    }

    #[test]
    fn old_keys_decrypt_and_only_the_current_key_encrypts() {
        let old = EncryptionKey::from_bytes(1, [1; KEY_LEN]);
        let new = EncryptionKey::from_bytes(2, [2; KEY_LEN]);
        let stored = KeyRing::new(old.clone(), [])
            .expect("ring")
            .encrypt("secret", &binding())
            .expect("encrypt");
        let ring = KeyRing::new(new, [old]).expect("ring");
        assert_eq!(ring.versions(), vec![2, 1]);
        assert!(!ring.is_current(&stored));
        assert_eq!(
            ring.decrypt(&stored, &binding()).expect("old").expose(),
            "secret"
        );
        assert!(ring.is_current(&ring.encrypt("x", &binding()).expect("encrypt")));
    }
}
