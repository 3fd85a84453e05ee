//! Opaque random tokens (sessions, email verification) and the digests the database keeps
//! instead of them.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::secret::{Secret, random_bytes};
use crate::error::Result;

/// Random bytes in a session or verification token: 256 bits.
pub const TOKEN_BYTES: usize = 32;

/// A new opaque token: [`TOKEN_BYTES`] random bytes, base64url without padding (43 characters).
pub(crate) fn random_token() -> Result<Secret> {
    let mut bytes = Zeroizing::new([0u8; TOKEN_BYTES]);
    random_bytes(bytes.as_mut())?;
    Ok(Secret::new(URL_SAFE_NO_PAD.encode(*bytes)))
}

/// The SHA-256 digest of a token, lower-case hex: what the database stores instead of it.
pub(crate) fn digest(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Compares two digests in constant time.
pub(crate) fn digests_match(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bit_url_safe_and_stored_as_their_digest() {
        let token = random_token().expect("token");
        assert_eq!(token.expose().len(), 43);
        assert!(
            token
                .expose()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_ne!(token, random_token().expect("token"));
        let d = digest(token.expose());
        assert_eq!(d.len(), 64);
        assert!(digests_match(&d, &digest(token.expose())));
        assert!(!digests_match(&d, &digest("other")));
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
