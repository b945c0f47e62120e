//! HMAC-SHA256 webhook signatures, checked in constant time.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The HMAC-SHA256 of `message` under `secret`.
pub fn hmac_sha256(secret: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// The base64 form platforms put in headers (Shopify, WooCommerce).
pub fn hmac_sha256_base64(secret: &[u8], message: &[u8]) -> String {
    STANDARD.encode(hmac_sha256(secret, message))
}

/// Whether `signature` (raw bytes) is the HMAC of `message`; constant time.
pub fn verify(secret: &[u8], message: &[u8], signature: &[u8]) -> bool {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.verify_slice(signature).is_ok()
}

/// Whether any of `candidates` (raw bytes) is the HMAC of `message`, each
/// compared in constant time. The HMAC is computed once, so a header that
/// lists several signatures (key rotation) costs one pass over the body.
pub fn verify_any<'a>(
    secret: &[u8],
    message: &[u8],
    candidates: impl IntoIterator<Item = &'a [u8]>,
) -> bool {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(message);
    // Every candidate is checked, so the time taken does not say which matched.
    candidates.into_iter().fold(false, |found, candidate| {
        mac.clone().verify_slice(candidate).is_ok() | found
    })
}

/// [`verify`] for a base64 signature; malformed base64 simply fails.
pub fn verify_base64(secret: &[u8], message: &[u8], signature: &str) -> bool {
    match STANDARD.decode(signature.trim()) {
        Ok(raw) => verify(secret, message, &raw),
        Err(_) => false,
    }
}

/// [`verify`] for a hex signature.
pub fn verify_hex(secret: &[u8], message: &[u8], signature: &str) -> bool {
    match hex::decode(signature.trim()) {
        Ok(raw) => verify(secret, message, &raw),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(verify_hex(
            b"Jefe",
            b"what do ya want for nothing?",
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        ));
    }

    #[test]
    fn any_of_several_signatures_may_match() {
        let good = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let other = hmac_sha256(b"other", b"what do ya want for nothing?");
        let msg: &[u8] = b"what do ya want for nothing?";
        assert!(verify_any(
            b"Jefe",
            msg,
            [other.as_slice(), good.as_slice()]
        ));
        assert!(verify_any(b"Jefe", msg, [good.as_slice(), &good[..8]]));
        assert!(!verify_any(b"Jefe", msg, [other.as_slice(), &good[..8]]));
        assert!(!verify_any(b"Jefe", msg, []));
    }

    #[test]
    fn a_changed_body_or_bad_encoding_fails() {
        let sig = hmac_sha256_base64(b"secret", b"body");
        assert!(verify_base64(b"secret", b"body", &sig));
        assert!(!verify_base64(b"secret", b"body!", &sig));
        assert!(!verify_base64(b"other", b"body", &sig));
        assert!(!verify_base64(b"secret", b"body", "not base64 !!"));
    }
}
