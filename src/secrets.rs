//! Secrets at rest: a configuration value may be stored as
//! `ENC:` + base64(nonce ‖ ciphertext ‖ tag), AES-256-GCM with a random 96-bit
//! nonce per value (aws-lc-rs). The key comes from `MCP_GATEWAY_ENCRYPTION_KEY`
//! (base64 of 32 bytes) or, failing that, from a key file such as a mounted
//! secret under `/run/secrets`. During a key change-over a previous key may
//! be given too (`MCP_GATEWAY_PREVIOUS_ENCRYPTION_KEY`, or
//! `backend.google.previous_encryption_key_file`): a value the current key
//! cannot open is tried with it, so replicas can move to the new key one at
//! a time while the config still holds values sealed with the old one
//! (`secrets rotate`, [`crate::cli::secrets_rotate`]). Errors name the
//! setting, never the secret.

use std::path::Path;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The environment variable that holds the key (base64 of 32 bytes).
pub const KEY_ENV: &str = "MCP_GATEWAY_ENCRYPTION_KEY";
/// The environment variable that holds the previous key, during a change-over.
pub const PREVIOUS_KEY_ENV: &str = "MCP_GATEWAY_PREVIOUS_ENCRYPTION_KEY";
/// The prefix that marks an encrypted value.
pub const PREFIX: &str = "ENC:";

/// Why a secret could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The key is missing.
    #[error("{setting} is encrypted but no key is available: set {KEY_ENV} or the key file")]
    NoKey {
        /// The setting that needed it.
        setting: String,
    },
    /// The key is not base64 of 32 bytes.
    #[error("{source_name}: the encryption key must be base64 of exactly 32 bytes")]
    BadKey {
        /// Where the key came from (the variable or the file).
        source_name: String,
    },
    /// Decryption failed: wrong key, or the value was altered.
    #[error("{setting}: cannot decrypt (wrong key, or the value was altered)")]
    Undecryptable {
        /// The setting.
        setting: String,
    },
}

/// A loaded AES-256-GCM key, and the key it replaced during a change-over.
pub struct SecretKey {
    key: LessSafeKey,
    /// Tried when `key` cannot open a value: the key being rotated away.
    previous: Option<Box<SecretKey>>,
}

impl SecretKey {
    /// A key from its base64 text; `source_name` names where it came from in errors.
    pub fn from_base64(text: &str, source_name: &str) -> Result<SecretKey, SecretError> {
        let bad = || SecretError::BadKey {
            source_name: source_name.to_owned(),
        };
        let bytes = STANDARD.decode(text.trim()).map_err(|_| bad())?;
        if bytes.len() != 32 {
            return Err(bad());
        }
        let unbound = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| bad())?;
        Ok(SecretKey {
            key: LessSafeKey::new(unbound),
            previous: None,
        })
    }

    /// This key, falling back to `previous` for values it cannot open.
    pub fn with_previous(mut self, previous: SecretKey) -> SecretKey {
        self.previous = Some(Box::new(previous));
        self
    }

    /// The key from `MCP_GATEWAY_ENCRYPTION_KEY`, else from `key_file`, with
    /// the previous one from `MCP_GATEWAY_PREVIOUS_ENCRYPTION_KEY`, else from
    /// `previous_file`; `None` when there is no current key.
    pub fn with_previous_from_environment(
        key_file: Option<&Path>,
        previous_file: Option<&Path>,
    ) -> Result<Option<SecretKey>, SecretError> {
        let Some(key) = SecretKey::from_environment(key_file)? else {
            return Ok(None);
        };
        let previous = match std::env::var(PREVIOUS_KEY_ENV) {
            Ok(text) => Some(SecretKey::from_base64(&text, PREVIOUS_KEY_ENV)?),
            Err(_) => match previous_file {
                Some(path) => Some(SecretKey::from_file(path)?),
                None => None,
            },
        };
        Ok(Some(match previous {
            Some(previous) => key.with_previous(previous),
            None => key,
        }))
    }

    /// The key in the file at `path` (base64 of 32 bytes).
    pub fn from_file(path: &Path) -> Result<SecretKey, SecretError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|_| SecretError::BadKey {
            source_name: name.clone(),
        })?;
        SecretKey::from_base64(&text, &name)
    }

    /// The key from `MCP_GATEWAY_ENCRYPTION_KEY`, else from `key_file`; `None` when neither exists.
    pub fn from_environment(key_file: Option<&Path>) -> Result<Option<SecretKey>, SecretError> {
        if let Ok(text) = std::env::var(KEY_ENV) {
            return SecretKey::from_base64(&text, KEY_ENV).map(Some);
        }
        match key_file {
            Some(path) if path.exists() => SecretKey::from_file(path).map(Some),
            _ => Ok(None),
        }
    }

    /// Encrypts `plaintext` into an `ENC:` value with a fresh random nonce.
    pub fn encrypt(&self, plaintext: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .expect("the system random generator works");
        let mut sealed = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::empty(),
                &mut sealed,
            )
            .expect("AES-GCM sealing of an in-memory buffer does not fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{PREFIX}{}", STANDARD.encode(out))
    }

    /// Decrypts an `ENC:` value with this key, else the previous one;
    /// `setting` names it in errors.
    pub fn decrypt(&self, value: &str, setting: &str) -> Result<Vec<u8>, SecretError> {
        match self.decrypt_with_this(value, setting) {
            Ok(plain) => Ok(plain),
            Err(error) => match &self.previous {
                Some(previous) => previous.decrypt(value, setting).map_err(|_| error),
                None => Err(error),
            },
        }
    }

    fn decrypt_with_this(&self, value: &str, setting: &str) -> Result<Vec<u8>, SecretError> {
        let fail = || SecretError::Undecryptable {
            setting: setting.to_owned(),
        };
        let encoded = value.strip_prefix(PREFIX).ok_or_else(fail)?;
        let mut bytes = STANDARD.decode(encoded.trim()).map_err(|_| fail())?;
        if bytes.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(fail());
        }
        let nonce: [u8; NONCE_LEN] = bytes[..NONCE_LEN].try_into().map_err(|_| fail())?;
        let opened = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::empty(),
                &mut bytes[NONCE_LEN..],
            )
            .map_err(|_| fail())?;
        Ok(opened.to_vec())
    }
}

/// A value that must never reach a log or an error: its `Debug` prints a placeholder.
#[derive(Clone)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a revealed secret.
    pub fn new(value: T) -> Secret<T> {
        Secret(value)
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

/// Secrets compare by value (a reload must see a changed one), never print.
impl<T: PartialEq> PartialEq for Secret<T> {
    fn eq(&self, other: &Secret<T>) -> bool {
        self.0 == other.0
    }
}

impl<T> std::fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// A new random key, base64: what `secrets generate-key` prints.
pub fn generate_key() -> String {
    let mut key = [0u8; 32];
    SystemRandom::new()
        .fill(&mut key)
        .expect("the system random generator works");
    STANDARD.encode(key)
}

/// The plain value of a setting that may be encrypted: `ENC:` values need `key`.
pub fn reveal(value: &str, setting: &str, key: Option<&SecretKey>) -> Result<Vec<u8>, SecretError> {
    if !value.starts_with(PREFIX) {
        return Ok(value.as_bytes().to_vec());
    }
    let key = key.ok_or_else(|| SecretError::NoKey {
        setting: setting.to_owned(),
    })?;
    key.decrypt(value, setting)
}

#[cfg(test)]
mod tests {
    use super::{PREFIX, SecretError, SecretKey, generate_key, reveal};

    #[test]
    fn a_previous_key_opens_what_the_current_one_cannot() {
        let old = SecretKey::from_base64(&generate_key(), "old").unwrap();
        let sealed_old = old.encrypt(b"old secret");
        let new = SecretKey::from_base64(&generate_key(), "new").unwrap();
        let sealed_new = new.encrypt(b"new secret");
        assert!(new.decrypt(&sealed_old, "s").is_err());
        let both = new.with_previous(old);
        assert_eq!(both.decrypt(&sealed_old, "s").unwrap(), b"old secret");
        assert_eq!(both.decrypt(&sealed_new, "s").unwrap(), b"new secret");
        let stranger = SecretKey::from_base64(&generate_key(), "x")
            .unwrap()
            .encrypt(b"x");
        assert_eq!(
            both.decrypt(&stranger, "s"),
            Err(SecretError::Undecryptable {
                setting: "s".into()
            })
        );
    }

    #[test]
    fn values_round_trip_with_a_fresh_nonce_each_time() {
        let key = SecretKey::from_base64(&generate_key(), "test").unwrap();
        let a = key.encrypt(b"refresh-token-123");
        let b = key.encrypt(b"refresh-token-123");
        assert!(a.starts_with(PREFIX));
        assert_ne!(a, b, "a nonce must never repeat");
        assert!(!a.contains("refresh-token"));
        assert_eq!(
            key.decrypt(&a, "google.refresh_token").unwrap(),
            b"refresh-token-123"
        );
    }

    #[test]
    fn a_wrong_key_or_an_altered_value_names_the_setting() {
        let key = SecretKey::from_base64(&generate_key(), "test").unwrap();
        let other = SecretKey::from_base64(&generate_key(), "test").unwrap();
        let value = key.encrypt(b"secret");
        let expected = SecretError::Undecryptable {
            setting: "google.key".into(),
        };
        assert_eq!(other.decrypt(&value, "google.key"), Err(expected.clone()));
        let mut altered = value.clone().into_bytes();
        let last = altered.len() - 3;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            key.decrypt(std::str::from_utf8(&altered).unwrap(), "google.key"),
            Err(expected)
        );
        let message = other.decrypt(&value, "google.key").unwrap_err().to_string();
        assert_eq!(
            message,
            "google.key: cannot decrypt (wrong key, or the value was altered)"
        );
    }

    #[test]
    fn keys_must_be_32_bytes_and_encrypted_values_need_one() {
        assert!(matches!(
            SecretKey::from_base64("c2hvcnQ=", "MCP_GATEWAY_ENCRYPTION_KEY"),
            Err(SecretError::BadKey { .. })
        ));
        assert_eq!(reveal("plain", "x", None).unwrap(), b"plain");
        assert_eq!(
            reveal("ENC:AAAA", "google.key", None),
            Err(SecretError::NoKey {
                setting: "google.key".into()
            })
        );
    }
}
