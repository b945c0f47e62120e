//! Standard Webhooks / Svix signatures, for generic sources and Clerk.
//!
//! The scheme (<https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md>,
//! "Signature scheme" and "Webhook headers"):
//!
//! * The signing secret is `whsec_` + base64 of the key bytes; the HMAC key
//!   is the decoded bytes, not the text.
//! * A delivery carries an id, a Unix timestamp (seconds) and a signature
//!   header, named `webhook-id`, `webhook-timestamp`, `webhook-signature`
//!   (Svix, and so Clerk, send the same values as `svix-id`,
//!   `svix-timestamp`, `svix-signature`).
//! * What is signed is `{id}.{timestamp}.{body}` with HMAC-SHA256; the
//!   signature header is a space-separated list of `v1,<base64>` entries,
//!   so a sender rotating its secret can send one signature per secret.
//!   Other version tags (`v1a,` is ed25519) are for other schemes and are
//!   skipped, so a delivery that also carries them still verifies.
//!
//! [`verify`] checks the signature only. The timestamp is returned, not
//! judged: the webhook receiver applies one replay window to every platform.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use chrono::{DateTime, Utc};
use http::HeaderMap;
use secrecy::zeroize::Zeroize;
use secrecy::{ExposeSecret, SecretSlice};

use crate::error::WebhookError;
use crate::signature;

/// The prefix that marks a Standard Webhooks symmetric secret.
const SECRET_PREFIX: &str = "whsec_";

/// The version tag of HMAC-SHA256 signatures.
const VERSION: &str = "v1";

/// Standard base64 that takes the secret with or without its `=` padding:
/// dashboards show it padded, but the reference libraries also accept it
/// bare, and a secret that verifies there should verify here.
const SECRET_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A signing secret: `whsec_` + base64 of the key bytes (the prefix is
/// optional on input). Held in a zeroizing box, and its `Debug` prints no
/// key, so a secret inside a config or an error cannot leak into a log.
#[derive(Clone)]
pub struct SigningSecret {
    key: SecretSlice<u8>,
}

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecret([REDACTED])")
    }
}

impl SigningSecret {
    /// Read a secret as the platform's dashboard shows it. The error never
    /// quotes the input: a mistyped secret is still mostly the secret.
    pub fn parse(s: &str) -> Result<Self, WebhookError> {
        let s = s.trim();
        let encoded = s.strip_prefix(SECRET_PREFIX).unwrap_or(s);
        let mut key = SECRET_BASE64.decode(encoded).map_err(|_| {
            WebhookError::Malformed(
                "the webhook signing secret is not base64 after its whsec_ prefix".into(),
            )
        })?;
        if key.is_empty() {
            return Err(WebhookError::Malformed(
                "the webhook signing secret is empty".into(),
            ));
        }
        let secret = Self::from_bytes(&key);
        key.zeroize();
        Ok(secret)
    }

    /// A secret from raw key bytes, for keys already decoded or generated.
    pub fn from_bytes(key: &[u8]) -> Self {
        Self {
            key: SecretSlice::from(key.to_vec()),
        }
    }

    /// The `v1,<base64>` signature of `id.timestamp.body` (for tests, the
    /// simulator, benches): what a sender puts in the signature header.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let message = signed_content(id, &timestamp.to_string(), body);
        format!(
            "{VERSION},{}",
            signature::hmac_sha256_base64(self.key.expose_secret(), &message)
        )
    }
}

/// Which header names carry id, timestamp and signatures: the scheme is the
/// same under both names, only the prefix differs by sender.
#[derive(Debug, Clone, Copy)]
pub struct HeaderNames {
    pub id: &'static str,
    pub timestamp: &'static str,
    pub signature: &'static str,
}

impl HeaderNames {
    /// The specification's own names.
    pub const STANDARD: HeaderNames = HeaderNames {
        id: "webhook-id",
        timestamp: "webhook-timestamp",
        signature: "webhook-signature",
    };
    /// Svix's names, which Clerk's deliveries carry.
    pub const SVIX: HeaderNames = HeaderNames {
        id: "svix-id",
        timestamp: "svix-timestamp",
        signature: "svix-signature",
    };
}

/// What a verified delivery says about itself: the id to deduplicate on
/// (the same on every retry) and when this attempt was signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub id: String,
    pub timestamp: DateTime<Utc>,
}

/// `{id}.{timestamp}.{body}`, the bytes that are signed.
fn signed_content(id: &str, timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(id.len() + timestamp.len() + body.len() + 2);
    message.extend_from_slice(id.as_bytes());
    message.push(b'.');
    message.extend_from_slice(timestamp.as_bytes());
    message.push(b'.');
    message.extend_from_slice(body);
    message
}

/// A header's text; absent, empty or not text counts as missing, as the
/// reference libraries treat it.
fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, WebhookError> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or(WebhookError::MissingHeader(name))
}

/// Checks the signature header (space-separated `v1,<b64>` entries; any one
/// matching any of `secrets` passes, which is how rotation works; unknown
/// version prefixes such as `v1a,` and entries that are not `version,base64`
/// are skipped) over `id.timestamp.body`, in constant time. Does NOT check
/// the timestamp window: the caller applies the 5-minute window uniformly
/// for all platforms.
///
/// The timestamp must be decimal seconds and the id must not contain a `.`:
/// both are signed joined by dots, and the specification warns that a dot
/// in either would let one signed message be read as another with a
/// different id, timestamp and body.
pub fn verify(
    secrets: &[SigningSecret],
    names: HeaderNames,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Verified, WebhookError> {
    let id = header(headers, names.id)?;
    let timestamp = header(headers, names.timestamp)?;
    let signatures = header(headers, names.signature)?;
    if secrets.is_empty() {
        return Err(WebhookError::NoSecret);
    }
    if id.contains('.') {
        return Err(WebhookError::Malformed(format!(
            "{} contains a '.'",
            names.id
        )));
    }
    let not_unix_time =
        || WebhookError::Malformed(format!("{} is not a Unix time", names.timestamp));
    if !timestamp.bytes().all(|b| b.is_ascii_digit()) {
        return Err(not_unix_time());
    }
    let signed_at = timestamp
        .parse::<i64>()
        .ok()
        .and_then(|secs| DateTime::from_timestamp(secs, 0))
        .ok_or_else(not_unix_time)?;

    let candidates: Vec<Vec<u8>> = signatures
        .split_ascii_whitespace()
        .filter_map(|entry| match entry.split_once(',') {
            Some((VERSION, sig)) => STANDARD.decode(sig).ok(),
            _ => None,
        })
        .collect();
    let message = signed_content(id, timestamp, body);
    // Every secret is tried, so the time taken does not say which one matched.
    let matched = secrets.iter().fold(false, |found, secret| {
        signature::verify_any(
            secret.key.expose_secret(),
            &message,
            candidates.iter().map(Vec::as_slice),
        ) | found
    });
    if !matched {
        return Err(WebhookError::BadSignature);
    }
    Ok(Verified {
        id: id.to_owned(),
        timestamp: signed_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(names: HeaderNames, id: &str, timestamp: &str, signature: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(names.id, HeaderValue::from_str(id).unwrap());
        h.insert(names.timestamp, HeaderValue::from_str(timestamp).unwrap());
        h.insert(names.signature, HeaderValue::from_str(signature).unwrap());
        h
    }

    fn secret(s: &str) -> SigningSecret {
        SigningSecret::parse(s).unwrap()
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    // The test vector every reference library of the specification signs in
    // its "sign function works" test, e.g.
    // https://github.com/standard-webhooks/standard-webhooks/blob/main/libraries/go/webhook_test.go (TestWebhookSign)
    // https://github.com/standard-webhooks/standard-webhooks/blob/main/libraries/javascript/src/webhook.test.ts ("sign function works")
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TIMESTAMP: i64 = 1614265330;
    const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SPEC_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    // The vector of the reference Rust library's test_sign,
    // https://github.com/standard-webhooks/standard-webhooks/blob/main/libraries/rust/src/lib.rs
    const RUST_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const RUST_ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
    const RUST_TIMESTAMP: i64 = 1649367553;
    const RUST_BODY: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;
    const RUST_SIGNATURE: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";

    #[test]
    fn the_specification_vectors_verify_and_sign() {
        for (s, id, ts, body, sig) in [
            (
                SPEC_SECRET,
                SPEC_ID,
                SPEC_TIMESTAMP,
                SPEC_BODY,
                SPEC_SIGNATURE,
            ),
            (
                RUST_SECRET,
                RUST_ID,
                RUST_TIMESTAMP,
                RUST_BODY,
                RUST_SIGNATURE,
            ),
        ] {
            let h = headers(HeaderNames::STANDARD, id, &ts.to_string(), sig);
            assert_eq!(
                verify(&[secret(s)], HeaderNames::STANDARD, &h, body),
                Ok(Verified {
                    id: id.into(),
                    timestamp: at(ts)
                })
            );
            assert_eq!(secret(s).sign(id, ts, body), sig);
        }
    }

    #[test]
    fn the_secret_prefix_and_padding_are_optional() {
        let h = headers(
            HeaderNames::STANDARD,
            SPEC_ID,
            &SPEC_TIMESTAMP.to_string(),
            SPEC_SIGNATURE,
        );
        let bare = SPEC_SECRET.strip_prefix("whsec_").unwrap();
        assert!(verify(&[secret(bare)], HeaderNames::STANDARD, &h, SPEC_BODY).is_ok());
        // The Rust vector's key is 24 bytes (no padding); the Clerk fixture's
        // 32-byte keys end in '=', and must also parse without it.
        let padded = "whsec_6PYLveTGXNNTNdnubcNiaY7xMEra+6P/Sq5bvftMceM=";
        let unpadded = padded.trim_end_matches('=');
        assert_eq!(
            secret(padded).sign("msg_1", 1, b"{}"),
            secret(unpadded).sign("msg_1", 1, b"{}")
        );
        let raw = STANDARD.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert!(
            verify(
                &[SigningSecret::from_bytes(&raw)],
                HeaderNames::STANDARD,
                &h,
                SPEC_BODY
            )
            .is_ok()
        );
    }

    #[test]
    fn a_bad_secret_is_refused_without_being_echoed() {
        for bad in ["whsec_not base64!!", "whsec_c2VjcmV0*", "whsec_", "   "] {
            let err = SigningSecret::parse(bad).unwrap_err();
            assert!(matches!(err, WebhookError::Malformed(_)), "{err:?}");
            let text = err.to_string();
            let payload = bad.trim().trim_start_matches("whsec_");
            assert!(
                payload.is_empty() || !text.contains(payload),
                "{text} quotes the secret"
            );
        }
        let s = secret(SPEC_SECRET);
        let shown = format!("{s:?}");
        assert_eq!(shown, "SigningSecret([REDACTED])");
        assert!(!shown.contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
    }

    // A Clerk `user.created` delivery signed by the official Python `svix`
    // library (2.9.1), not by this module. The body is Clerk's documented
    // example payload for user.created
    // (https://clerk.com/docs/integrations/webhooks, "Payload structure"),
    // minified as Clerk sends it, in tests/fixtures/clerk_user_created.json
    // (no trailing newline: those exact bytes were signed). The three
    // secrets are random 32-byte keys generated for this fixture. Produced,
    // from crates/channels/tests/fixtures/, with:
    //
    //   pip install svix==2.9.1
    //   python3 -c '
    //   import sys, datetime
    //   from svix.webhooks import Webhook
    //   body = open("clerk_user_created.json").read()
    //   ts = datetime.datetime.fromtimestamp(1764460800, tz=datetime.timezone.utc)
    //   for secret in sys.argv[1:]:
    //       print(Webhook(secret).sign("msg_2pQ7YbV8xKc3LmN5tR1wZ9hJ4dF", ts, body))
    //   ' whsec_6PYLveTGXNNTNdnubcNiaY7xMEra+6P/Sq5bvftMceM= \
    //     whsec_KADaId6hWt5GHd5WRkAI2A0tGw/6jEbl+o9KjRUQ33U= \
    //     whsec_8H+bBKOHG1mzOs3BfgM7nDipUi+cDX/N3izcNby4SPM=
    //
    // which printed CLERK_SIG_NEW, CLERK_SIG_OLD and CLERK_SIG_OTHER in turn.
    const CLERK_BODY: &[u8] = include_bytes!("../tests/fixtures/clerk_user_created.json");
    const CLERK_ID: &str = "msg_2pQ7YbV8xKc3LmN5tR1wZ9hJ4dF";
    const CLERK_TIMESTAMP: &str = "1764460800";
    /// The endpoint's current secret.
    const CLERK_NEW: &str = "whsec_6PYLveTGXNNTNdnubcNiaY7xMEra+6P/Sq5bvftMceM=";
    /// The secret being rotated out.
    const CLERK_OLD: &str = "whsec_KADaId6hWt5GHd5WRkAI2A0tGw/6jEbl+o9KjRUQ33U=";
    /// Some other endpoint's secret, never configured here.
    const CLERK_OTHER: &str = "whsec_8H+bBKOHG1mzOs3BfgM7nDipUi+cDX/N3izcNby4SPM=";
    const CLERK_SIG_NEW: &str = "v1,NyrqY/uyWXbWJEWV9EusQ9ZJPFO15t7KWiQrMFy1b/M=";
    const CLERK_SIG_OLD: &str = "v1,R6kpVNzbQKrm6NNApXQLPabWX4CXjZ/w7H1BXaxAma0=";
    const CLERK_SIG_OTHER: &str = "v1,ZDUa+cute8pQkSEDfDHkPINUvdytii9quEwB6CQy7g8=";

    fn clerk(signature: &str) -> HeaderMap {
        headers(HeaderNames::SVIX, CLERK_ID, CLERK_TIMESTAMP, signature)
    }

    #[test]
    fn a_svix_signed_clerk_delivery_verifies() {
        let verified = verify(
            &[secret(CLERK_NEW)],
            HeaderNames::SVIX,
            &clerk(CLERK_SIG_NEW),
            CLERK_BODY,
        )
        .unwrap();
        assert_eq!(verified.id, CLERK_ID);
        assert_eq!(verified.timestamp, at(1764460800));
        // The fixture is the documented event, not something else that
        // happens to be signed.
        let event: serde_json::Value = serde_json::from_slice(CLERK_BODY).unwrap();
        assert_eq!(event["type"], "user.created");
        assert_eq!(event["data"]["id"], "user_29w83sxmDNGwOuEthce5gg56FcC");
        // The same delivery under the standard names verifies the same way,
        // and under the wrong names is missing its headers.
        let standard = headers(
            HeaderNames::STANDARD,
            CLERK_ID,
            CLERK_TIMESTAMP,
            CLERK_SIG_NEW,
        );
        assert!(
            verify(
                &[secret(CLERK_NEW)],
                HeaderNames::STANDARD,
                &standard,
                CLERK_BODY
            )
            .is_ok()
        );
        assert_eq!(
            verify(
                &[secret(CLERK_NEW)],
                HeaderNames::STANDARD,
                &clerk(CLERK_SIG_NEW),
                CLERK_BODY
            ),
            Err(WebhookError::MissingHeader("webhook-id"))
        );
        // Our signer agrees with Svix's byte for byte.
        assert_eq!(
            secret(CLERK_NEW).sign(CLERK_ID, 1764460800, CLERK_BODY),
            CLERK_SIG_NEW
        );
    }

    #[test]
    fn rotation_accepts_any_listed_signature_under_any_configured_secret() {
        // Two signatures, only the second made with a secret we hold.
        let two = format!("{CLERK_SIG_OTHER} {CLERK_SIG_NEW}");
        assert!(
            verify(
                &[secret(CLERK_NEW)],
                HeaderNames::SVIX,
                &clerk(&two),
                CLERK_BODY
            )
            .is_ok()
        );
        assert_eq!(
            verify(
                &[secret(CLERK_OLD)],
                HeaderNames::SVIX,
                &clerk(&two),
                CLERK_BODY
            ),
            Err(WebhookError::BadSignature)
        );
        // Two secrets configured while rotating; the sender signs with only
        // the new one, which is second.
        let both = [secret(CLERK_OLD), secret(CLERK_NEW)];
        assert!(verify(&both, HeaderNames::SVIX, &clerk(CLERK_SIG_NEW), CLERK_BODY).is_ok());
        assert!(verify(&both, HeaderNames::SVIX, &clerk(CLERK_SIG_OLD), CLERK_BODY).is_ok());
        assert_eq!(
            verify(
                &both,
                HeaderNames::SVIX,
                &clerk(CLERK_SIG_OTHER),
                CLERK_BODY
            ),
            Err(WebhookError::BadSignature)
        );
        // A sender mid-rotation signs with both; either secret alone passes.
        let pair = format!("{CLERK_SIG_OLD} {CLERK_SIG_NEW}");
        for s in [CLERK_OLD, CLERK_NEW] {
            assert!(verify(&[secret(s)], HeaderNames::SVIX, &clerk(&pair), CLERK_BODY).is_ok());
        }
    }

    #[test]
    fn a_tampered_delivery_or_a_wrong_secret_is_refused() {
        let keys = [secret(CLERK_NEW)];
        let h = clerk(CLERK_SIG_NEW);
        let tampered = String::from_utf8(CLERK_BODY.to_vec())
            .unwrap()
            .replace("example@example.org", "attacker@example.org");
        assert_eq!(
            verify(&keys, HeaderNames::SVIX, &h, tampered.as_bytes()),
            Err(WebhookError::BadSignature)
        );
        let mut with_newline = CLERK_BODY.to_vec();
        with_newline.push(b'\n');
        assert_eq!(
            verify(&keys, HeaderNames::SVIX, &h, &with_newline),
            Err(WebhookError::BadSignature)
        );
        // The id and timestamp are signed too: a replay under a new id or a
        // fresh timestamp does not verify.
        let other_id = headers(
            HeaderNames::SVIX,
            "msg_2pQ7YbV8xKc3LmN5tR1wZ9hJ4dG",
            CLERK_TIMESTAMP,
            CLERK_SIG_NEW,
        );
        assert_eq!(
            verify(&keys, HeaderNames::SVIX, &other_id, CLERK_BODY),
            Err(WebhookError::BadSignature)
        );
        let later = headers(HeaderNames::SVIX, CLERK_ID, "1764460801", CLERK_SIG_NEW);
        assert_eq!(
            verify(&keys, HeaderNames::SVIX, &later, CLERK_BODY),
            Err(WebhookError::BadSignature)
        );
        assert_eq!(
            verify(&[secret(CLERK_OTHER)], HeaderNames::SVIX, &h, CLERK_BODY),
            Err(WebhookError::BadSignature)
        );
        // The secret's text is not the key: using it undecoded fails.
        assert_eq!(
            verify(
                &[SigningSecret::from_bytes(CLERK_NEW.as_bytes())],
                HeaderNames::SVIX,
                &h,
                CLERK_BODY
            ),
            Err(WebhookError::BadSignature)
        );
        assert_eq!(
            verify(&[], HeaderNames::SVIX, &h, CLERK_BODY),
            Err(WebhookError::NoSecret)
        );
    }

    #[test]
    fn each_missing_header_is_named() {
        let keys = [secret(CLERK_NEW)];
        for names in [HeaderNames::STANDARD, HeaderNames::SVIX] {
            let full = headers(names, CLERK_ID, CLERK_TIMESTAMP, CLERK_SIG_NEW);
            assert!(verify(&keys, names, &full, CLERK_BODY).is_ok());
            for name in [names.id, names.timestamp, names.signature] {
                let mut h = full.clone();
                h.remove(name);
                assert_eq!(
                    verify(&keys, names, &h, CLERK_BODY),
                    Err(WebhookError::MissingHeader(name))
                );
                h.insert(name, HeaderValue::from_static(""));
                assert_eq!(
                    verify(&keys, names, &h, CLERK_BODY),
                    Err(WebhookError::MissingHeader(name))
                );
            }
        }
    }

    #[test]
    fn malformed_signature_entries_are_skipped_not_trusted() {
        let keys = [secret(SPEC_SECRET)];
        let ts = SPEC_TIMESTAMP.to_string();
        let check = |sig: &str| {
            verify(
                &keys,
                HeaderNames::STANDARD,
                &headers(HeaderNames::STANDARD, SPEC_ID, &ts, sig),
                SPEC_BODY,
            )
        };
        let bare = SPEC_SIGNATURE.strip_prefix("v1,").unwrap();
        for junk in [
            "v1,",
            "v1",
            ",",
            "v1,not base64 at all!",
            "v1,dawfeoifkpqwoekfpqoekf",
            &SPEC_SIGNATURE[..8],
            &SPEC_SIGNATURE[..SPEC_SIGNATURE.len() - 4],
            bare,
            // The right bytes under no version, or the wrong one.
            &format!(",{bare}"),
            &format!("v2,{bare}"),
            &format!("V1,{bare}"),
        ] {
            assert_eq!(check(junk), Err(WebhookError::BadSignature), "{junk:?}");
            // A junk entry does not stop a valid one after it from counting.
            assert!(
                check(&format!("{junk} {SPEC_SIGNATURE}")).is_ok(),
                "{junk:?}"
            );
        }
        // Extra spaces between entries are tolerated.
        assert!(check(&format!("v1,AAAA   {SPEC_SIGNATURE}")).is_ok());
    }

    #[test]
    fn unknown_versions_are_skipped() {
        let keys = [secret(SPEC_SECRET)];
        let ts = SPEC_TIMESTAMP.to_string();
        // The specification's example header pairs a v1 signature with an
        // ed25519 `v1a` one; we verify the v1 and ignore the v1a.
        let v1a = "v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg==";
        let both = format!("{SPEC_SIGNATURE} {v1a}");
        let h = headers(HeaderNames::STANDARD, SPEC_ID, &ts, &both);
        assert!(verify(&keys, HeaderNames::STANDARD, &h, SPEC_BODY).is_ok());
        let only_v1a = headers(HeaderNames::STANDARD, SPEC_ID, &ts, v1a);
        assert_eq!(
            verify(&keys, HeaderNames::STANDARD, &only_v1a, SPEC_BODY),
            Err(WebhookError::BadSignature)
        );
        // The reference libraries' multi-signature case: a v2 entry carrying
        // a v1-shaped signature is skipped.
        let multi = format!(
            "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= {SPEC_SIGNATURE} v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
        );
        let h = headers(HeaderNames::STANDARD, SPEC_ID, &ts, &multi);
        assert!(verify(&keys, HeaderNames::STANDARD, &h, SPEC_BODY).is_ok());
    }

    #[test]
    fn the_timestamp_is_returned_not_judged_and_must_be_unix_seconds() {
        // The vector is years old: verify does not apply a window.
        let keys = [secret(SPEC_SECRET)];
        let h = headers(
            HeaderNames::STANDARD,
            SPEC_ID,
            &SPEC_TIMESTAMP.to_string(),
            SPEC_SIGNATURE,
        );
        assert_eq!(
            verify(&keys, HeaderNames::STANDARD, &h, SPEC_BODY)
                .unwrap()
                .timestamp,
            at(SPEC_TIMESTAMP)
        );
        for bad in [
            "hello",
            "1614265330.5",
            "-1614265330",
            "+1614265330",
            "1e9",
            "99999999999999999999",
        ] {
            let h = headers(HeaderNames::STANDARD, SPEC_ID, bad, SPEC_SIGNATURE);
            assert_eq!(
                verify(&keys, HeaderNames::STANDARD, &h, SPEC_BODY),
                Err(WebhookError::Malformed(
                    "webhook-timestamp is not a Unix time".into()
                )),
                "{bad}"
            );
        }
        let h = headers(HeaderNames::SVIX, SPEC_ID, "soon", SPEC_SIGNATURE);
        assert_eq!(
            verify(&keys, HeaderNames::SVIX, &h, SPEC_BODY),
            Err(WebhookError::Malformed(
                "svix-timestamp is not a Unix time".into()
            ))
        );
    }

    #[test]
    fn an_id_with_a_dot_is_refused_before_it_can_shift_the_signed_fields() {
        // `id.timestamp.body` is ambiguous if the id may hold a dot: the
        // signature of ("msg", 1, "2.{}") is also that of ("msg.1", 2, "{}").
        // Python svix 2.9.1 prints the same signature for both:
        //   Webhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").sign("msg", <1 s>, "2.{}")
        //   Webhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").sign("msg.1", <2 s>, "{}")
        // (timestamps as datetime.fromtimestamp(n, tz=timezone.utc)).
        let sig = "v1,PNOy/IK7aQ2HDpThjA9KGMpQuLgk3esafpxiQQUPQGY=";
        let keys = [secret(SPEC_SECRET)];
        let honest = headers(HeaderNames::STANDARD, "msg", "1", sig);
        assert!(verify(&keys, HeaderNames::STANDARD, &honest, b"2.{}").is_ok());
        let shifted = headers(HeaderNames::STANDARD, "msg.1", "2", sig);
        assert_eq!(
            verify(&keys, HeaderNames::STANDARD, &shifted, b"{}"),
            Err(WebhookError::Malformed("webhook-id contains a '.'".into()))
        );
    }
}
