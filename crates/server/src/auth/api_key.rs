//! API keys: 32 random bytes, shown once, stored only as a SHA-256 hash.
//!
//! A key carries 256 bits of entropy, so a fast hash is enough (there is nothing
//! to brute-force) and lets the lookup be an index hit on every request.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Every key starts with this, so secret scanners and people recognise one.
pub const KEY_PREFIX: &str = "ssk_";

/// A freshly minted key: the secret (shown once) and what we store.
pub struct NewKey {
    pub secret: String,
    pub hash: Vec<u8>,
    /// Enough of the key to tell keys apart in a list, not enough to use.
    pub display_prefix: String,
}

pub fn generate() -> NewKey {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = format!(
        "{KEY_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    from_secret(&secret)
}

/// The stored form of a key a person chose (the bootstrap key).
pub fn from_secret(secret: &str) -> NewKey {
    NewKey {
        secret: secret.to_string(),
        hash: hash(secret),
        display_prefix: secret.chars().take(KEY_PREFIX.len() + 6).collect(),
    }
}

pub fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Whether a bearer token is shaped like one of our keys (else it may be a JWT).
pub fn looks_like_key(token: &str) -> bool {
    token.starts_with(KEY_PREFIX)
}

/// Constant-time comparison of two hashes.
pub fn hashes_match(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_hash_stably() {
        let a = generate();
        let b = generate();
        assert_ne!(a.secret, b.secret);
        assert!(looks_like_key(&a.secret));
        assert_eq!(hash(&a.secret), a.hash);
        assert!(hashes_match(&a.hash, &from_secret(&a.secret).hash));
        assert!(!hashes_match(&a.hash, &b.hash));
        assert!(!a.display_prefix.contains(&a.secret[12..]));
    }
}
