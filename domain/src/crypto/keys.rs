//! The encryption key ring: keys and their versions, the `ZYENTA_ENCRYPTION_KEY` format, and
//! the local key file used outside production when no key is configured.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::secret::{Secret, random_bytes};
use crate::error::{ConfigProblem, Error, Result};

/// The variable that holds the encryption keys.
pub const KEY_VARIABLE: &str = "ZYENTA_ENCRYPTION_KEY";
/// The variable that names the deployment environment: `production`, `development` (the
/// default) or `test`. Only `production` makes a missing key an error.
pub const ENVIRONMENT_VARIABLE: &str = "ZYENTA_ENV";
/// Where the local fallback key lives, relative to the working directory (ignored by git).
pub const LOCAL_KEY_FILE: &str = ".zyenta/encryption.key";
/// Bytes of an encryption key (XChaCha20-Poly1305 takes 256-bit keys).
pub const KEY_LEN: usize = 32;

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
    /// [`Error::Crypto`] with [`crate::error::CryptoFailure::Randomness`] when the system RNG fails.
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

    /// The raw key bytes, for the cipher.
    pub(super) fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
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

    /// The key that encrypts new values.
    pub(super) fn current(&self) -> &EncryptionKey {
        // `new` always puts the current key first.
        &self.keys[0]
    }

    /// The key of `version`, if the ring holds it.
    pub(super) fn key(&self, version: u32) -> Option<&EncryptionKey> {
        self.keys.iter().find(|k| k.version == version)
    }
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("versions", &self.versions())
            .finish()
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(second.versions(), first.versions());
        assert_eq!(
            second.current().bytes(),
            first.current().bytes(),
            "the same key"
        );
        let leftovers = std::fs::read_dir(file.parent().expect("dir"))
            .expect("dir")
            .count();
        assert_eq!(leftovers, 1, "no temporary file is left behind");
        std::fs::remove_dir_all(dir).ok();
    }
}
