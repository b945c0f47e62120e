//! Idempotency keys for channel writes.
//!
//! A write to a channel is named by what it writes where: the listing and the
//! hash of the payload. A job retried after a crash derives the same key, finds
//! it in the ledger of applied writes and does not send the write again; one
//! that crashed between sending and recording sends the same key, which
//! channels that take idempotency keys use to drop the repeat.

use sha2::{Digest, Sha256};
use shelfsync_core::ListingId;

/// The hash of a payload as it will be sent. JSON objects from `serde_json`
/// keep their keys sorted, so equal payloads hash equal.
pub fn content_hash(payload: &serde_json::Value) -> Vec<u8> {
    Sha256::digest(payload.to_string().as_bytes()).to_vec()
}

/// The idempotency key of writing `content_hash` to `listing`.
pub fn write_key(listing: ListingId, content_hash: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(listing.as_uuid().as_bytes());
    h.update(content_hash);
    format!("sw_{}", hex::encode(&h.finalize()[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_same_write_gets_the_same_key() {
        let listing = ListingId::new();
        let a = content_hash(&json!({"price": "10.00", "qty": 3}));
        let b = content_hash(&json!({"qty": 3, "price": "10.00"}));
        assert_eq!(write_key(listing, &a), write_key(listing, &b));
    }

    #[test]
    fn another_payload_or_listing_gets_another_key() {
        let listing = ListingId::new();
        let a = content_hash(&json!({"qty": 3}));
        let b = content_hash(&json!({"qty": 4}));
        assert_ne!(write_key(listing, &a), write_key(listing, &b));
        assert_ne!(write_key(listing, &a), write_key(ListingId::new(), &a));
        assert!(write_key(listing, &a).starts_with("sw_"));
    }
}
