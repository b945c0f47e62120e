//! The token vault: channel credentials encrypted at rest with AES-256-GCM.
//!
//! Each record gets a fresh random 12-byte nonce and carries the id of the
//! key that sealed it, so several keys can be live at once: the newest seals,
//! every configured one opens, and rotation re-seals old records online. The
//! caller binds each ciphertext to its owner (tenant and record id) as
//! associated data, so a ciphertext copied onto another row does not open.
//!
//! Plaintexts come back as [`SecretString`], which prints as `[REDACTED]` and
//! cannot be serialised, so a token cannot reach a log or a response by accident.

use std::fmt;

use aes_gcm::aead::{Aead, Generate, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
pub use secrecy::{ExposeSecret, SecretString};

/// Why the vault could not do what was asked. Never contains key material or plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    #[error("encryption keys: {0}")]
    Config(String),
    #[error("no configured key has id `{0}`")]
    UnknownKey(String),
    #[error("the ciphertext does not open with its key (tampered, or bound to another record)")]
    Corrupt,
}

/// A sealed secret as stored: all three parts are needed to open it.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    pub nonce: Vec<u8>,
    /// Ciphertext followed by the 16-byte tag.
    pub ciphertext: Vec<u8>,
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealed")
            .field("key_id", &self.key_id)
            .field("bytes", &self.ciphertext.len())
            .finish()
    }
}

/// The configured keys, newest first.
pub struct KeyRing {
    keys: Vec<(String, Aes256Gcm)>,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("KeyRing").field("key_ids", &ids).finish()
    }
}

impl KeyRing {
    /// Parses `id:base64key,id:base64key,…` (as in `SHELFSYNC_ENCRYPTION_KEYS`),
    /// newest first. Each key is 32 random bytes, base64-encoded.
    pub fn parse(spec: &str) -> Result<Self, VaultError> {
        let mut keys = Vec::new();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (id, encoded) = entry
                .split_once(':')
                .ok_or_else(|| VaultError::Config("each entry must be `id:base64key`".into()))?;
            let id = id.trim();
            if id.is_empty()
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(VaultError::Config(format!(
                    "key id `{id}` must be letters, digits, `-` or `_`"
                )));
            }
            if keys.iter().any(|(k, _)| k == id) {
                return Err(VaultError::Config(format!("key id `{id}` appears twice")));
            }
            let bytes = STANDARD
                .decode(encoded.trim())
                .map_err(|_| VaultError::Config(format!("key `{id}` is not valid base64")))?;
            let key = Key::<Aes256Gcm>::try_from(bytes.as_slice()).map_err(|_| {
                VaultError::Config(format!(
                    "key `{id}` must be 32 bytes (it is {})",
                    bytes.len()
                ))
            })?;
            keys.push((id.to_owned(), Aes256Gcm::new(&key)));
        }
        if keys.is_empty() {
            return Err(VaultError::Config("no key configured".into()));
        }
        Ok(Self { keys })
    }

    /// A new random key in the form [`KeyRing::parse`] takes, for `shelfsync keys`.
    pub fn generate_entry(id: &str) -> SecretString {
        let key = Key::<Aes256Gcm>::generate();
        SecretString::from(format!("{id}:{}", STANDARD.encode(key.as_slice())))
    }

    /// The id of the key that seals new records.
    pub fn current_id(&self) -> &str {
        &self.keys[0].0
    }

    /// Seals `plaintext` with the newest key, bound to `owner` (e.g. tenant and record id).
    pub fn seal(&self, plaintext: &str, owner: &[u8]) -> Sealed {
        let (id, cipher) = &self.keys[0];
        let nonce = Nonce::generate();
        let ciphertext = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: owner,
                },
            )
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        Sealed {
            key_id: id.clone(),
            nonce: nonce.to_vec(),
            ciphertext,
        }
    }

    /// Opens a record sealed by any configured key.
    pub fn open(&self, sealed: &Sealed, owner: &[u8]) -> Result<SecretString, VaultError> {
        let (_, cipher) = self
            .keys
            .iter()
            .find(|(id, _)| *id == sealed.key_id)
            .ok_or_else(|| VaultError::UnknownKey(sealed.key_id.clone()))?;
        let nonce = Nonce::try_from(sealed.nonce.as_slice()).map_err(|_| VaultError::Corrupt)?;
        let plaintext = cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: &sealed.ciphertext,
                    aad: owner,
                },
            )
            .map_err(|_| VaultError::Corrupt)?;
        String::from_utf8(plaintext)
            .map(SecretString::from)
            .map_err(|_| VaultError::Corrupt)
    }

    /// Whether a record should be re-sealed with the newest key.
    pub fn is_stale(&self, sealed: &Sealed) -> bool {
        sealed.key_id != self.current_id()
    }

    /// Opens with whichever key sealed it and seals again with the newest.
    pub fn reseal(&self, sealed: &Sealed, owner: &[u8]) -> Result<Sealed, VaultError> {
        let plaintext = self.open(sealed, owner)?;
        Ok(self.seal(plaintext.expose_secret(), owner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(ids: &[&str]) -> (KeyRing, Vec<String>) {
        let entries: Vec<String> = ids
            .iter()
            .map(|id| KeyRing::generate_entry(id).expose_secret().to_owned())
            .collect();
        (KeyRing::parse(&entries.join(",")).unwrap(), entries)
    }

    #[test]
    fn a_sealed_token_opens_only_for_its_owner() {
        let (ring, _) = ring(&["k1"]);
        let sealed = ring.seal("shpat_secret", b"ten_a/conn_1");
        assert_eq!(sealed.key_id, "k1");
        assert_eq!(sealed.nonce.len(), 12);
        assert_eq!(sealed.ciphertext.len(), "shpat_secret".len() + 16);
        assert_eq!(
            ring.open(&sealed, b"ten_a/conn_1").unwrap().expose_secret(),
            "shpat_secret"
        );
        assert!(matches!(
            ring.open(&sealed, b"ten_b/conn_1"),
            Err(VaultError::Corrupt)
        ));
    }

    #[test]
    fn every_record_gets_its_own_nonce() {
        let (ring, _) = ring(&["k1"]);
        let a = ring.seal("same", b"x");
        let b = ring.seal("same", b"x");
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.ciphertext, b.ciphertext);
    }

    #[test]
    fn tampering_is_detected() {
        let (ring, _) = ring(&["k1"]);
        let mut sealed = ring.seal("token", b"x");
        sealed.ciphertext[0] ^= 1;
        assert!(matches!(ring.open(&sealed, b"x"), Err(VaultError::Corrupt)));
    }

    #[test]
    fn rotation_keeps_old_records_readable_and_reseals_them() {
        let (old_ring, old_entries) = ring(&["k1"]);
        let sealed = old_ring.seal("token", b"x");
        let new_entry = KeyRing::generate_entry("k2").expose_secret().to_owned();
        let rotated = KeyRing::parse(&format!("{new_entry},{}", old_entries[0])).unwrap();
        assert_eq!(rotated.current_id(), "k2");
        assert!(rotated.is_stale(&sealed));
        assert_eq!(
            rotated.open(&sealed, b"x").unwrap().expose_secret(),
            "token"
        );
        let resealed = rotated.reseal(&sealed, b"x").unwrap();
        assert_eq!(resealed.key_id, "k2");
        assert!(!rotated.is_stale(&resealed));
        // Once the old key is retired, only resealed records open.
        let retired = KeyRing::parse(&new_entry).unwrap();
        assert!(matches!(
            retired.open(&sealed, b"x"),
            Err(VaultError::UnknownKey(_))
        ));
        assert_eq!(
            retired.open(&resealed, b"x").unwrap().expose_secret(),
            "token"
        );
    }

    #[test]
    fn bad_key_configuration_is_refused_clearly() {
        for (spec, expected) in [
            ("", "no key configured"),
            ("k1", "`id:base64key`"),
            ("k1:not base64!", "not valid base64"),
            ("k1:c2hvcnQ=", "must be 32 bytes (it is 5)"),
            ("k 1:c2hvcnQ=", "letters, digits"),
        ] {
            let err = KeyRing::parse(spec).unwrap_err().to_string();
            assert!(err.contains(expected), "{spec:?}: {err}");
        }
        let entry = KeyRing::generate_entry("k1").expose_secret().to_owned();
        let err = KeyRing::parse(&format!("{entry},{entry}"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("appears twice"), "{err}");
    }

    #[test]
    fn nothing_secret_is_printed() {
        let (ring, entries) = ring(&["k1"]);
        let sealed = ring.seal("shpat_secret", b"x");
        let opened = ring.open(&sealed, b"x").unwrap();
        let printed = format!("{ring:?} {sealed:?} {opened:?}");
        assert!(!printed.contains("shpat_secret"), "{printed}");
        let key_b64 = entries[0].split_once(':').unwrap().1;
        assert!(!printed.contains(key_b64), "{printed}");
    }
}
