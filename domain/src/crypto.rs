//! Secrets at rest and in transit through the crate: the encryption key ring, the AEAD cipher
//! that encrypts supplier credentials and OAuth tokens, random tokens with their digests, and
//! key rotation.
//!
//! # The key
//! `ZYENTA_ENCRYPTION_KEY` holds one or more keys, comma-separated, current key first:
//! `v<version>:<base64 of 32 random bytes>`, e.g. `v2:<new>,v1:<old>`. New values are always
//! encrypted under the first (current) key; the others are kept so that values written under
//! them still read while [`rotate`] re-encrypts them. A key is made with
//! `echo "v1:$(openssl rand -base64 32)"`.
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

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use entity::{accounts, supplier_accounts};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::error::{ConfigProblem, CryptoFailure, DecryptionProblem, Error, Result, Violation};

/// The variable that holds the encryption keys.
pub const KEY_VARIABLE: &str = "ZYENTA_ENCRYPTION_KEY";
/// The variable that names the deployment environment: `production`, `development` (the
/// default) or `test`. Only `production` makes a missing key an error.
pub const ENVIRONMENT_VARIABLE: &str = "ZYENTA_ENV";
/// Where the local fallback key lives, relative to the working directory (ignored by git).
pub const LOCAL_KEY_FILE: &str = ".zyenta/encryption.key";
/// Bytes of an encryption key (XChaCha20-Poly1305 takes 256-bit keys).
pub const KEY_LEN: usize = 32;
/// Random bytes in a session or verification token: 256 bits.
pub const TOKEN_BYTES: usize = 32;
/// The most rows [`rotate`] reads and rewrites per batch.
pub const MAX_ROTATION_BATCH: u64 = 10_000;

const FORMAT: &str = "xc1";
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// A secret string held in memory that is wiped when dropped and never shown: its `Debug` is
/// `Secret(***)` and it has no `Display`. Read it through [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// The secret itself, for the one place that must use it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// One 256-bit encryption key and its version, the number stored with every value it
/// encrypts. `Debug` shows the version only.
#[derive(Clone)]
pub struct EncryptionKey {
    version: u32,
    bytes: Zeroizing<[u8; KEY_LEN]>,
}

impl EncryptionKey {
    /// A key made of `bytes`, known as `version`.
    pub fn from_bytes(version: u32, bytes: [u8; KEY_LEN]) -> Self {
        Self {
            version,
            bytes: Zeroizing::new(bytes),
        }
    }

    /// A new random key.
    ///
    /// # Errors
    /// [`Error::Crypto`] with [`CryptoFailure::Randomness`] when the system RNG fails.
    pub fn generate(version: u32) -> Result<Self> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        random_bytes(bytes.as_mut())?;
        Ok(Self { version, bytes })
    }

    /// The version stored with every value this key encrypts.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The key in the configuration format, `v<version>:<base64>`, e.g. to write a key file.
    pub fn encode(&self) -> Secret {
        Secret::new(format!(
            "v{}:{}",
            self.version,
            STANDARD.encode(*self.bytes)
        ))
    }

    /// Parses one `v<version>:<base64 of 32 bytes>` entry.
    fn parse(entry: &str) -> Option<Self> {
        let (version, key) = entry.trim().split_once(':')?;
        let version: u32 = version.strip_prefix('v')?.parse().ok()?;
        let decoded = Zeroizing::new(STANDARD.decode(key.trim()).ok()?);
        let bytes: [u8; KEY_LEN] = decoded.as_slice().try_into().ok()?;
        Some(Self::from_bytes(version, bytes))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&Key::from(*self.bytes))
    }
}

impl std::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptionKey")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// The keys the crate encrypts and decrypts with: the current key, which encrypts every new
/// value, and older keys, which only decrypt (so that reads keep working during a rotation).
/// Cheap to clone; `Debug` shows the versions only.
#[derive(Clone)]
pub struct KeyRing {
    keys: Arc<Vec<EncryptionKey>>,
}

impl KeyRing {
    /// A ring that encrypts with `current` and also decrypts with `previous`.
    ///
    /// # Errors
    /// [`Error::Config`] for [`KEY_VARIABLE`] with [`ConfigProblem::DuplicateKeyVersion`] when
    /// two keys share a version.
    pub fn new(
        current: EncryptionKey,
        previous: impl IntoIterator<Item = EncryptionKey>,
    ) -> Result<Self> {
        let mut keys = vec![current];
        for key in previous {
            if keys.iter().any(|k| k.version == key.version) {
                return Err(key_error(ConfigProblem::DuplicateKeyVersion {
                    version: key.version,
                }));
            }
            keys.push(key);
        }
        Ok(Self {
            keys: Arc::new(keys),
        })
    }

    /// Parses the [`KEY_VARIABLE`] format: `v<version>:<base64 of 32 bytes>`, comma-separated,
    /// current key first.
    ///
    /// # Errors
    /// [`Error::Config`] for [`KEY_VARIABLE`]: [`ConfigProblem::MalformedKey`] or
    /// [`ConfigProblem::DuplicateKeyVersion`]. The value never appears in the error.
    pub fn parse(value: &str) -> Result<Self> {
        let mut keys = value
            .split(',')
            .map(|entry| EncryptionKey::parse(entry).ok_or(key_error(ConfigProblem::MalformedKey)));
        let current = keys
            .next()
            .unwrap_or(Err(key_error(ConfigProblem::MalformedKey)))?;
        let previous = keys.collect::<Result<Vec<_>>>()?;
        Self::new(current, previous)
    }

    /// The key ring of the process: [`KeyRing::load`] with the environment (after `.env`, as
    /// [`crate::Config::from_env`] reads it) and [`LOCAL_KEY_FILE`] in the working directory.
    ///
    /// # Errors
    /// As [`KeyRing::load`].
    pub fn from_env() -> Result<Self> {
        migration::connection::load_env_file();
        Self::load(|name| std::env::var(name).ok(), Path::new(LOCAL_KEY_FILE))
    }

    /// Reads [`KEY_VARIABLE`] through `lookup`. When it is not set: in production
    /// ([`ENVIRONMENT_VARIABLE`] = `production`) that is an error; elsewhere the key in
    /// `local_key_file` is used, and created (owner-only) when the file does not exist, with a
    /// warning either way.
    ///
    /// # Errors
    /// [`Error::Config`] naming [`KEY_VARIABLE`]: [`ConfigProblem::Missing`] in production,
    /// [`ConfigProblem::MalformedKey`], [`ConfigProblem::DuplicateKeyVersion`],
    /// [`ConfigProblem::KeyFile`]; or naming [`ENVIRONMENT_VARIABLE`] with
    /// [`ConfigProblem::UnknownEnvironment`].
    pub fn load(lookup: impl Fn(&str) -> Option<String>, local_key_file: &Path) -> Result<Self> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let production = match get(ENVIRONMENT_VARIABLE)
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("development" | "test") => false,
            Some("production") => true,
            Some(_) => {
                return Err(Error::Config {
                    variable: ENVIRONMENT_VARIABLE,
                    reason: ConfigProblem::UnknownEnvironment,
                });
            }
        };
        match get(KEY_VARIABLE) {
            Some(value) => Self::parse(&Zeroizing::new(value)),
            None if production => Err(key_error(ConfigProblem::Missing)),
            None => local_key(local_key_file),
        }
    }

    /// The version of the key that encrypts new values.
    pub fn current_version(&self) -> u32 {
        self.current().version
    }

    /// The versions the ring can decrypt, current first.
    pub fn versions(&self) -> Vec<u32> {
        self.keys.iter().map(|k| k.version).collect()
    }

    fn current(&self) -> &EncryptionKey {
        // `new` always puts the current key first.
        &self.keys[0]
    }

    /// Encrypts `plaintext` under the current key, bound to `binding`.
    pub(crate) fn encrypt(&self, plaintext: &str, binding: &Binding) -> Result<String> {
        let key = self.current();
        let mut nonce = [0u8; NONCE_LEN];
        random_bytes(&mut nonce)?;
        let aad = binding.aad();
        let sealed = key
            .cipher()
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
            key.version,
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
            .keys
            .iter()
            .find(|k| k.version == version)
            .ok_or(fail(DecryptionProblem::UnknownKeyVersion { version }))?;
        let (nonce, sealed) = body.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce
            .try_into()
            .map_err(|_| fail(DecryptionProblem::Malformed))?;
        let aad = binding.aad();
        let plain = Zeroizing::new(
            key.cipher()
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

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("versions", &self.versions())
            .finish()
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
#[derive(Debug, Clone)]
pub(crate) struct Binding {
    field: &'static str,
    owner: String,
}

impl Binding {
    /// A value of column `field` (`table.column`) owned by `owner` (a row id, or another key
    /// that does not change while the value lives).
    pub(crate) fn new(field: &'static str, owner: impl Into<String>) -> Self {
        Self {
            field,
            owner: owner.into(),
        }
    }

    /// A supplier account's column: owned by the user and the provider, the row's unique key
    /// (a reconnect that updates the row in place keeps it).
    pub(crate) fn supplier(
        field: &'static str,
        user_id: Uuid,
        provider: &entity::sea_orm_active_enums::SupplierProvider,
    ) -> Self {
        use entity::sea_orm_active_enums::SupplierProvider as P;
        // Spelled out rather than taken from the entity, so that a renamed variant can never
        // silently change the binding of stored values.
        let provider = match provider {
            P::Aliexpress => "ALIEXPRESS",
            P::CjDropshipping => "CJ_DROPSHIPPING",
            P::Spocket => "SPOCKET",
        };
        Self::new(field, format!("{user_id}/{provider}"))
    }

    fn aad(&self) -> Vec<u8> {
        format!("{}\u{0}{}", self.field, self.owner).into_bytes()
    }
}

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

/// Fills `buf` from the operating system's random number generator.
pub(crate) fn random_bytes(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|_| Error::Crypto(CryptoFailure::Randomness))
}

fn key_error(reason: ConfigProblem) -> Error {
    Error::Config {
        variable: KEY_VARIABLE,
        reason,
    }
}

/// The local fallback: read the key file, or create it (owner-only) with a new random key.
fn local_key(path: &Path) -> Result<KeyRing> {
    let file_error = |e: std::io::Error| key_error(ConfigProblem::KeyFile { kind: e.kind() });
    match std::fs::read_to_string(path) {
        Ok(text) => {
            tracing::warn!(
                path = %path.display(),
                "{KEY_VARIABLE} is not set: using the local key file (never do this in production)"
            );
            warn_when_others_can_read(path);
            KeyRing::parse(&Zeroizing::new(text))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = EncryptionKey::generate(1)?;
            match create_key_file(path, &key) {
                Ok(()) => {
                    tracing::warn!(
                        path = %path.display(),
                        "{KEY_VARIABLE} is not set: created a local key file; set the variable \
                         in production (ZYENTA_ENV=production refuses to start without it)"
                    );
                    KeyRing::new(key, [])
                }
                // Another process created it first: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => local_key(path),
                Err(e) => Err(file_error(e)),
            }
        }
        Err(e) => Err(file_error(e)),
    }
}

/// Writes the key to a private temporary file and links it into place, so that nobody ever
/// reads a half-written key file and two processes starting together agree on one key.
fn create_key_file(path: &Path, key: &EncryptionKey) -> std::io::Result<()> {
    use std::io::Write as _;

    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir)?;
    }
    let mut temporary = PathBuf::from(path);
    temporary.set_file_name(format!(".encryption.key.{}", Uuid::now_v7().simple()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&temporary).and_then(|mut file| {
        file.write_all(key.encode().expose().as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()
    });
    let linked = written.and_then(|()| std::fs::hard_link(&temporary, path));
    let _ = std::fs::remove_file(&temporary);
    linked
}

#[cfg(unix)]
fn warn_when_others_can_read(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(path = %path.display(), "the local key file is readable by others: chmod 600 it");
    }
}

#[cfg(not(unix))]
fn warn_when_others_can_read(_path: &Path) {}

/// What [`rotate`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RotationReport {
    /// Rows read.
    pub rows_scanned: u64,
    /// Secret values re-encrypted under the current key.
    pub values_reencrypted: u64,
    /// Rows left alone because they changed (or were deleted) between the read and the write;
    /// whatever was written meanwhile is already under the current key.
    pub rows_skipped: u64,
}

/// Re-encrypts every stored secret (supplier `api_key` and `api_secret`; OAuth
/// `refresh_token`, `access_token` and `id_token`) that is not under the current key of
/// `keys`, `batch_size` rows at a time.
///
/// Safe while the service is live: `keys` still holds the old keys, so reads keep working, and
/// each row is rewritten only if its secrets are still the ones that were read (a row changed
/// meanwhile is skipped: its new values are already under the current key). Safe to run again:
/// values already under the current key are left alone. Once it reports, the old key can be
/// dropped from [`KEY_VARIABLE`].
///
/// # Errors
/// [`Error::Invalid`] for `batch_size` outside 1..=[`MAX_ROTATION_BATCH`];
/// [`Error::Decryption`] for a stored value that no key of the ring opens (nothing after it is
/// rotated; fix it and run again); [`Error::Database`].
#[tracing::instrument(skip_all, err, fields(current = keys.current_version()))]
pub async fn rotate<C: ConnectionTrait>(
    db: &C,
    keys: &KeyRing,
    batch_size: u64,
) -> Result<RotationReport> {
    if !(1..=MAX_ROTATION_BATCH).contains(&batch_size) {
        return Err(Error::Invalid {
            field: "batch_size",
            violation: Violation::OutOfRange {
                min: 1,
                max: MAX_ROTATION_BATCH as i64,
            },
        });
    }
    let mut report = RotationReport::default();
    rotate_supplier_accounts(db, keys, batch_size, &mut report).await?;
    rotate_oauth_accounts(db, keys, batch_size, &mut report).await?;
    tracing::info!(?report, "key rotation finished");
    Ok(report)
}

/// A secret column's new value, and the value it replaces.
struct Rewrite<Col> {
    column: Col,
    old: String,
    new: String,
}

/// Re-encrypts `stored` under the current key when it is under an older one.
fn reencrypt<Col>(
    keys: &KeyRing,
    column: Col,
    stored: Option<&String>,
    binding: Binding,
) -> Result<Option<Rewrite<Col>>> {
    let Some(stored) = stored else {
        return Ok(None);
    };
    if keys.is_current(stored) {
        return Ok(None);
    }
    let plain = keys.decrypt(stored, &binding)?;
    Ok(Some(Rewrite {
        column,
        old: stored.clone(),
        new: keys.encrypt(plain.expose(), &binding)?,
    }))
}

async fn rotate_supplier_accounts<C: ConnectionTrait>(
    db: &C,
    keys: &KeyRing,
    batch_size: u64,
    report: &mut RotationReport,
) -> Result<()> {
    use supplier_accounts::Column;
    let mut after: Option<Uuid> = None;
    loop {
        let mut query = supplier_accounts::Entity::find()
            .order_by_asc(Column::Id)
            .limit(batch_size);
        if let Some(after) = after {
            query = query.filter(Column::Id.gt(after));
        }
        let rows = query.all(db).await?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = Some(last.id);
        for row in rows {
            report.rows_scanned += 1;
            let rewrites: Vec<_> = [
                reencrypt(
                    keys,
                    Column::ApiKey,
                    Some(&row.api_key),
                    Binding::supplier("supplier_accounts.api_key", row.user_id, &row.provider),
                )?,
                reencrypt(
                    keys,
                    Column::ApiSecret,
                    row.api_secret.as_ref(),
                    Binding::supplier("supplier_accounts.api_secret", row.user_id, &row.provider),
                )?,
            ]
            .into_iter()
            .flatten()
            .collect();
            if rewrites.is_empty() {
                continue;
            }
            let mut update = supplier_accounts::Entity::update_many()
                .col_expr(Column::UpdatedAt, Expr::value(crate::clock::now()));
            let mut unchanged = Condition::all().add(Column::Id.eq(row.id));
            for rewrite in &rewrites {
                update = update.col_expr(rewrite.column, Expr::value(rewrite.new.clone()));
                unchanged = unchanged.add(rewrite.column.eq(rewrite.old.clone()));
            }
            let result = update.filter(unchanged).exec(db).await?;
            if result.rows_affected == 0 {
                report.rows_skipped += 1;
            } else {
                report.values_reencrypted += rewrites.len() as u64;
            }
        }
    }
}

async fn rotate_oauth_accounts<C: ConnectionTrait>(
    db: &C,
    keys: &KeyRing,
    batch_size: u64,
    report: &mut RotationReport,
) -> Result<()> {
    use accounts::Column;
    let mut after: Option<Uuid> = None;
    loop {
        let mut query = accounts::Entity::find()
            .order_by_asc(Column::Id)
            .limit(batch_size);
        if let Some(after) = after {
            query = query.filter(Column::Id.gt(after));
        }
        let rows = query.all(db).await?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = Some(last.id);
        for row in rows {
            report.rows_scanned += 1;
            let owner = row.id.to_string();
            let rewrites: Vec<_> = [
                reencrypt(
                    keys,
                    Column::RefreshToken,
                    row.refresh_token.as_ref(),
                    Binding::new("accounts.refresh_token", owner.clone()),
                )?,
                reencrypt(
                    keys,
                    Column::AccessToken,
                    row.access_token.as_ref(),
                    Binding::new("accounts.access_token", owner.clone()),
                )?,
                reencrypt(
                    keys,
                    Column::IdToken,
                    row.id_token.as_ref(),
                    Binding::new("accounts.id_token", owner),
                )?,
            ]
            .into_iter()
            .flatten()
            .collect();
            if rewrites.is_empty() {
                continue;
            }
            let mut update = accounts::Entity::update_many();
            let mut unchanged = Condition::all().add(Column::Id.eq(row.id));
            for rewrite in &rewrites {
                update = update.col_expr(rewrite.column, Expr::value(rewrite.new.clone()));
                unchanged = unchanged.add(rewrite.column.eq(rewrite.old.clone()));
            }
            let result = update.filter(unchanged).exec(db).await?;
            if result.rows_affected == 0 {
                report.rows_skipped += 1;
            } else {
                report.values_reencrypted += rewrites.len() as u64;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(version: u32, byte: u8) -> KeyRing {
        KeyRing::new(EncryptionKey::from_bytes(version, [byte; KEY_LEN]), []).expect("ring")
    }

    fn binding() -> Binding {
        Binding::new("supplier_accounts.api_key", "owner-1")
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
        let elsewhere = Binding::new("supplier_accounts.api_key", "owner-2");
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

    #[test]
    fn the_key_variable_is_parsed_and_a_malformed_one_is_named_without_its_value() {
        let a = EncryptionKey::from_bytes(3, [3; KEY_LEN]).encode();
        let b = EncryptionKey::from_bytes(1, [1; KEY_LEN]).encode();
        let ring = KeyRing::parse(&format!("{}, {}", a.expose(), b.expose())).expect("valid");
        assert_eq!(ring.versions(), vec![3, 1]);
        for bad in [
            "",
            "v1",
            "1:AAAA",
            "v1:not base64!",
            "v1:AAAA",
            &format!("{},", a.expose()),
        ] {
            let err = KeyRing::parse(bad).expect_err(bad);
            assert!(
                matches!(
                    err,
                    Error::Config {
                        variable: "ZYENTA_ENCRYPTION_KEY",
                        reason: ConfigProblem::MalformedKey
                    }
                ),
                "{bad}: {err:?}"
            );
        }
        assert!(matches!(
            KeyRing::parse(&format!("{},{}", a.expose(), a.expose())),
            Err(Error::Config {
                reason: ConfigProblem::DuplicateKeyVersion { version: 3 },
                ..
            })
        ));
        let shown = format!("{ring:?} {:?}", EncryptionKey::from_bytes(3, [3; KEY_LEN]));
        let encoded = a.expose().trim_start_matches("v3:");
        assert!(!shown.contains(encoded), "{shown}");
        assert_eq!(format!("{a:?}"), "Secret(***)");
    }

    fn scratch_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("zyenta-key-{}", Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        dir
    }

    #[test]
    fn production_without_a_key_stops_with_an_error_naming_the_variable() {
        let dir = scratch_dir();
        let file = dir.join(".zyenta/encryption.key");
        let err = KeyRing::load(
            |name| (name == "ZYENTA_ENV").then(|| "production".to_owned()),
            &file,
        )
        .expect_err("missing");
        assert!(matches!(
            err,
            Error::Config {
                variable: "ZYENTA_ENCRYPTION_KEY",
                reason: ConfigProblem::Missing
            }
        ));
        assert!(!file.exists(), "production never falls back to a key file");
        let err = KeyRing::load(
            |name| match name {
                "ZYENTA_ENV" => Some("production".to_owned()),
                "ZYENTA_ENCRYPTION_KEY" => Some("v1:short".to_owned()),
                _ => None,
            },
            &file,
        )
        .expect_err("malformed");
        assert!(matches!(
            err,
            Error::Config {
                variable: "ZYENTA_ENCRYPTION_KEY",
                reason: ConfigProblem::MalformedKey
            }
        ));
        let err = KeyRing::load(
            |name| (name == "ZYENTA_ENV").then(|| "prod".to_owned()),
            &file,
        )
        .expect_err("unknown environment");
        assert!(matches!(
            err,
            Error::Config {
                variable: "ZYENTA_ENV",
                reason: ConfigProblem::UnknownEnvironment
            }
        ));
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn without_a_key_locally_a_private_key_file_is_created_once_and_reused() {
        let dir = scratch_dir();
        let file = dir.join(".zyenta/encryption.key");
        let first = KeyRing::load(|_| None, &file).expect("created");
        let stored = first.encrypt("secret", &binding()).expect("encrypt");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&file).expect("file").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let second = KeyRing::load(
            |name| (name == "ZYENTA_ENV").then(|| "development".to_owned()),
            &file,
        )
        .expect("reused");
        assert_eq!(
            second
                .decrypt(&stored, &binding())
                .expect("same key")
                .expose(),
            "secret"
        );
        let leftovers = std::fs::read_dir(file.parent().expect("dir"))
            .expect("dir")
            .count();
        assert_eq!(leftovers, 1, "no temporary file is left behind");
        std::fs::remove_dir_all(dir).ok();
    }

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
