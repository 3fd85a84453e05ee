//! Secrets at rest and in transit through the crate: the encryption key ring, the AEAD cipher
//! that encrypts supplier credentials and OAuth tokens, random tokens with their digests, and
//! key rotation.
//!
//! # The key
//! `ZYENTA_ENCRYPTION_KEY` holds one or more keys, comma-separated, current key first:
//! `v<version>:<base64 of 32 random bytes>`, e.g. `v2:<new>,v1:<old>`. New values are always
//! encrypted under the first (current) key; the others are kept so that values written under
//! them still read while `supplier_accounts::rotate_keys` and `users::accounts::rotate_keys`
//! re-encrypt them. A key is made with `echo "v1:$(openssl rand -base64 32)"`.
//!
//! With `ZYENTA_ENV=production` a missing or malformed key stops start-up with
//! [`Error::Config`] naming the variable. Outside production a missing key falls back to a
//! key file created on first use ([`LOCAL_KEY_FILE`], owner-only permissions) and a warning.
//!
//! # The stored format
//! `xc1:<version>:<base64url of nonce ‖ ciphertext ‖ tag>`: XChaCha20-Poly1305 with a fresh
//! random 24-byte nonce per value (random nonces of that size never collide in practice). The
//! associated data binds each value to its column and its owner (the row, or the user and
//! provider), so a ciphertext copied into another row or column fails to decrypt.

mod cipher;
mod keys;
mod rotation;
mod secret;
mod tokens;

#[cfg(doc)]
use crate::error::Error;

pub use keys::{
    ENVIRONMENT_VARIABLE, EncryptionKey, KEY_LEN, KEY_VARIABLE, KeyRing, LOCAL_KEY_FILE,
};
pub use rotation::{MAX_ROTATION_BATCH, RotationReport};
pub use secret::Secret;
pub use tokens::TOKEN_BYTES;

pub(crate) use cipher::Binding;
pub(crate) use rotation::{Sealed, Walk, rotate_table};
pub(crate) use secret::random_bytes;
pub(crate) use tokens::{digest, digests_match, random_token};
