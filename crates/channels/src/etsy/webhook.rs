//! Etsy's webhooks: verifying and parsing one delivery.
//!
//! Etsy's webhooks (<https://developers.etsy.com/documentation/essentials/webhooks>,
//! announced in <https://github.com/etsy/open-api/discussions/1509>) are for
//! commercial apps only and are set up in the developer portal's webhook
//! portal, per app, not through the API. Each delivery carries the headers
//! `webhook-id`, `webhook-timestamp` (epoch seconds) and `webhook-signature`,
//! signed with the endpoint's `whsec_…` signing secret. That is the Standard
//! Webhooks scheme
//! (<https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md>):
//! the signature is `v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}"))
//! where the key is the base64 part of the secret after `whsec_`, and the
//! header may list several space-separated signatures (during rotation).
//!
//! The payload is small: `{"event_type": "order.paid", "resource_url":
//! ".../shops/{shop_id}/receipts/{receipt_id}", "shop_id": …}` (the shape
//! Etsy confirmed in <https://github.com/etsy/open-api/discussions/1564>; the
//! documentation's older nested `data` form is not sent). It names the
//! receipt but not its lines, so an `order.paid` event becomes an order
//! with no lines: whoever acts on it reads the lines with
//! [`crate::Channel::recent_orders`].

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use http::HeaderMap;
use serde::Deserialize;

use crate::error::WebhookError;
use crate::model::{ChannelOrder, WebhookEvent, WebhookKind};
use crate::standard_webhooks::{self, HeaderNames, SigningSecret};

/// The HMAC key of a signing secret: the base64 after `whsec_`, decoded.
/// A secret that is not base64 is used as it is, so a secret typed by hand
/// (or a simulator's) still verifies consistently with its signer.
pub fn signing_key(secret: &str) -> Vec<u8> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    STANDARD
        .decode(encoded)
        .or_else(|_| URL_SAFE_NO_PAD.decode(encoded))
        .or_else(|_| URL_SAFE.decode(encoded))
        .unwrap_or_else(|_| secret.as_bytes().to_vec())
}

#[derive(Deserialize)]
struct Payload {
    event_type: String,
    #[serde(default)]
    resource_url: Option<String>,
    #[serde(default)]
    shop_id: Option<serde_json::Value>,
}

/// Check a delivery's signature with `secret` and parse it for `shop_id`.
/// Etsy sends one app's events for every shop to the same endpoint, so an
/// event for another shop is refused here rather than applied to this one.
pub fn verify(
    secret: &str,
    shop_id: u64,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<WebhookEvent, WebhookError> {
    let secret = SigningSecret::from_bytes(&signing_key(secret));
    let verified = standard_webhooks::verify(&[secret], HeaderNames::STANDARD, headers, body)?;
    let (id, occurred_at) = (verified.id, verified.timestamp);
    let payload: Payload =
        serde_json::from_slice(body).map_err(|e| WebhookError::Malformed(e.to_string()))?;
    let event_shop = payload.shop_id.as_ref().and_then(|v| match v {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    });
    if event_shop.is_some_and(|s| s != shop_id) {
        return Err(WebhookError::Malformed(format!(
            "the event is for shop {}, not this connection's shop",
            event_shop.unwrap_or_default()
        )));
    }
    let receipt_id = payload
        .resource_url
        .as_deref()
        .and_then(|url| url.split('?').next())
        .and_then(|path| {
            let mut parts = path.trim_end_matches('/').rsplit('/');
            let id = parts.next()?;
            (parts.next()? == "receipts" && id.parse::<u64>().is_ok()).then(|| id.to_owned())
        });
    let order =
        |receipt_id: Option<String>, cancelled: bool| -> Result<ChannelOrder, WebhookError> {
            Ok(ChannelOrder {
                external_id: receipt_id.ok_or_else(|| {
                    WebhookError::Malformed("resource_url does not name a receipt".into())
                })?,
                created_at: Some(occurred_at),
                lines: Vec::new(),
                cancelled,
            })
        };
    let kind = match payload.event_type.to_ascii_lowercase().as_str() {
        "order.paid" | "order_paid" => WebhookKind::OrderCreated {
            order: order(receipt_id, false)?,
        },
        "order.canceled" | "order_canceled" => WebhookKind::OrderCancelled {
            order: order(receipt_id, true)?,
        },
        _ => WebhookKind::Other,
    };
    Ok(WebhookEvent {
        event_id: id,
        topic: payload.event_type,
        occurred_at: Some(occurred_at),
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(id: &str, ts: &str, sig: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("webhook-id", HeaderValue::from_str(id).unwrap());
        h.insert("webhook-timestamp", HeaderValue::from_str(ts).unwrap());
        h.insert("webhook-signature", HeaderValue::from_str(sig).unwrap());
        h
    }

    fn sign(secret: &str, id: &str, ts: &str, body: &[u8]) -> String {
        let mut msg = format!("{id}.{ts}.").into_bytes();
        msg.extend_from_slice(body);
        format!(
            "v1,{}",
            crate::signature::hmac_sha256_base64(&signing_key(secret), &msg)
        )
    }

    // The Standard Webhooks specification's test vector
    // (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md).
    #[test]
    fn the_standard_webhooks_test_vector_verifies() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let h = headers(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "1614265330",
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        );
        let event = verify(secret, 1, &h, br#"{"test": 2432232314}"#);
        // The signature holds; the body is not an Etsy payload.
        assert!(
            matches!(event, Err(WebhookError::Malformed(_))),
            "{event:?}"
        );
        let h = headers(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "1614265330",
            "v1,AAAA v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        );
        assert!(!matches!(
            verify(secret, 1, &h, br#"{"test": 2432232314}"#),
            Err(WebhookError::BadSignature)
        ));
        assert_eq!(
            verify(secret, 1, &h, br#"{"test": 2432232315}"#),
            Err(WebhookError::BadSignature)
        );
    }

    // The order.paid payload Etsy confirmed in
    // https://github.com/etsy/open-api/discussions/1564.
    #[test]
    fn an_order_paid_event_names_its_receipt() {
        let body = br#"{"event_type": "order.paid", "resource_url": "https://openapi.etsy.com/v3/application/shops/12345/receipts/54321", "shop_id": 12345}"#;
        let secret = "whsec_c2VjcmV0LWZvci10ZXN0cw==";
        let h = headers(
            "msg_1",
            "1758153645",
            &sign(secret, "msg_1", "1758153645", body),
        );
        let event = verify(secret, 12345, &h, body).unwrap();
        assert_eq!(event.event_id, "msg_1");
        assert_eq!(event.topic, "order.paid");
        assert_eq!(event.occurred_at.unwrap().timestamp(), 1758153645);
        match event.kind {
            WebhookKind::OrderCreated { order } => {
                assert_eq!(order.external_id, "54321");
                assert!(order.lines.is_empty());
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            verify(secret, 999, &h, body),
            Err(WebhookError::Malformed(_))
        ));
        let mut missing = h.clone();
        missing.remove("webhook-id");
        assert_eq!(
            verify(secret, 12345, &missing, body),
            Err(WebhookError::MissingHeader("webhook-id"))
        );
        let other = headers(
            "msg_1",
            "1758153645",
            &sign("whsec_b3RoZXI=", "msg_1", "1758153645", body),
        );
        assert_eq!(
            verify(secret, 12345, &other, body),
            Err(WebhookError::BadSignature)
        );
    }
}
