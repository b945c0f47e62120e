//! Shopify's webhooks: verified by HMAC, then parsed.
//!
//! * Verification (https://shopify.dev/docs/apps/build/webhooks/verify-deliveries):
//!   `X-Shopify-Hmac-Sha256` is the base64 HMAC-SHA256 of the raw body under
//!   the app's client secret. Because that secret is the app's, one shop's
//!   delivery would verify against another shop's connection too, so the
//!   `X-Shopify-Shop-Domain` must also be this connection's shop.
//! * Headers (https://shopify.dev/docs/apps/build/webhooks/subscribe/https):
//!   `X-Shopify-Topic`, `X-Shopify-Event-Id` (the same for every delivery of
//!   one event, so it deduplicates), `X-Shopify-Webhook-Id`,
//!   `X-Shopify-Triggered-At`.
//! * Payloads (https://shopify.dev/docs/api/webhooks, topics orders/create,
//!   orders/cancelled, refunds/create, products/update, products/delete) are
//!   the REST resources, whose numeric ids can exceed 2^53: they are read as
//!   exact integers or strings, never through a float.
//! * A refund (the REST Refund resource) names its order by `order_id` and
//!   lists `refund_line_items`, each with the refunded `quantity`, the
//!   `line_item` it refunds (variant id, SKU) and a `restock_type`
//!   (https://shopify.dev/docs/api/admin-graphql/latest/enums/RefundLineItemRestockType):
//!   `cancel` (unfulfilled units put back), `return` (fulfilled units sent
//!   back) and the deprecated `legacy_restock` go back on the shelf;
//!   `no_restock` does not.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use http::HeaderMap;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::Value;

use crate::error::WebhookError;
use crate::model::{
    ChannelListing, ChannelOrder, ChannelRefund, ChannelVariant, OrderLine, WebhookEvent,
    WebhookKind,
};
use crate::signature;

/// The signature: base64 HMAC-SHA256 of the raw body.
pub const HMAC_HEADER: &str = "X-Shopify-Hmac-Sha256";
/// The topic, in REST form (`orders/create`).
pub const TOPIC_HEADER: &str = "X-Shopify-Topic";
/// The shop the delivery is about; must be the connection's.
pub const SHOP_HEADER: &str = "X-Shopify-Shop-Domain";
/// The event, the same on every retry of it: the deduplication key.
pub const EVENT_ID_HEADER: &str = "X-Shopify-Event-Id";
/// The delivery; used for deduplication when no event id came.
pub const WEBHOOK_ID_HEADER: &str = "X-Shopify-Webhook-Id";
/// When the event happened, for replay windows.
pub const TRIGGERED_AT_HEADER: &str = "X-Shopify-Triggered-At";

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// An id as text: exact for integers beyond 2^53, or as the string given.
fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => n.as_u64().map(|n| n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// The GraphQL id of a REST resource, as the rest of the adapter names it.
fn gid(kind: &str, admin_graphql_api_id: Option<&str>, id: Option<&Value>) -> Option<String> {
    admin_graphql_api_id.map(str::to_owned).or_else(|| {
        id.and_then(id_text)
            .map(|id| format!("gid://shopify/{kind}/{id}"))
    })
}

fn datetime(s: Option<&str>) -> Option<DateTime<Utc>> {
    s.and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|d| d.with_timezone(&Utc))
}

#[derive(Deserialize)]
struct RestLineItem {
    #[serde(default)]
    sku: Option<String>,
    #[serde(default)]
    quantity: i64,
    #[serde(default)]
    variant_id: Option<Value>,
}

#[derive(Deserialize)]
struct RestOrder {
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    admin_graphql_api_id: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    line_items: Vec<RestLineItem>,
}

#[derive(Deserialize)]
struct RestRefundLine {
    #[serde(default)]
    quantity: i64,
    #[serde(default)]
    restock_type: Option<String>,
    #[serde(default)]
    line_item: Option<RestLineItem>,
}

#[derive(Deserialize)]
struct RestRefund {
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    admin_graphql_api_id: Option<String>,
    #[serde(default)]
    order_id: Option<Value>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    refund_line_items: Vec<RestRefundLine>,
}

/// The restock types whose units go back on the shelf.
const RESTOCKED: &[&str] = &["cancel", "return", "legacy_restock"];

#[derive(Deserialize)]
struct RestVariant {
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    admin_graphql_api_id: Option<String>,
    #[serde(default)]
    sku: Option<String>,
    #[serde(default)]
    price: Option<Value>,
    #[serde(default)]
    inventory_quantity: Option<i64>,
}

#[derive(Deserialize)]
struct RestProduct {
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    admin_graphql_api_id: Option<String>,
    #[serde(default)]
    title: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    updated_at: Option<String>,
    #[serde(default)]
    variants: Vec<RestVariant>,
}

fn parse_order(body: &[u8]) -> Result<ChannelOrder, WebhookError> {
    let o: RestOrder =
        serde_json::from_slice(body).map_err(|e| WebhookError::Malformed(format!("order: {e}")))?;
    let external_id = gid("Order", o.admin_graphql_api_id.as_deref(), o.id.as_ref())
        .ok_or_else(|| WebhookError::Malformed("order without an id".into()))?;
    Ok(ChannelOrder {
        external_id,
        created_at: datetime(o.created_at.as_deref()),
        lines: o
            .line_items
            .iter()
            .map(|l| OrderLine {
                sku: l.sku.clone().filter(|s| !s.is_empty()),
                external_variant_id: gid("ProductVariant", None, l.variant_id.as_ref()),
                quantity: l.quantity,
            })
            .collect(),
        cancelled: false,
    })
}

fn parse_refund(body: &[u8]) -> Result<ChannelRefund, WebhookError> {
    let r: RestRefund = serde_json::from_slice(body)
        .map_err(|e| WebhookError::Malformed(format!("refund: {e}")))?;
    let refund_id = gid("Refund", r.admin_graphql_api_id.as_deref(), r.id.as_ref())
        .ok_or_else(|| WebhookError::Malformed("refund without an id".into()))?;
    let order_external_id = gid("Order", None, r.order_id.as_ref())
        .ok_or_else(|| WebhookError::Malformed("refund without an order_id".into()))?;
    let (mut lines, mut kept) = (Vec::new(), Vec::new());
    for l in r.refund_line_items.iter().filter(|l| l.quantity > 0) {
        let item = l
            .line_item
            .as_ref()
            .ok_or_else(|| WebhookError::Malformed("a refund line without its line_item".into()))?;
        let line = OrderLine {
            sku: item.sku.clone().filter(|s| !s.is_empty()),
            external_variant_id: gid("ProductVariant", None, item.variant_id.as_ref()),
            quantity: l.quantity,
        };
        match l.restock_type.as_deref() {
            Some(t) if RESTOCKED.contains(&t) => lines.push(line),
            _ => kept.push(line),
        }
    }
    Ok(ChannelRefund {
        order_external_id,
        refund_id,
        created_at: datetime(r.created_at.as_deref()),
        lines,
        kept,
    })
}

fn parse_product(body: &[u8]) -> Result<ChannelListing, WebhookError> {
    let p: RestProduct = serde_json::from_slice(body)
        .map_err(|e| WebhookError::Malformed(format!("product: {e}")))?;
    let external_id = gid("Product", p.admin_graphql_api_id.as_deref(), p.id.as_ref())
        .ok_or_else(|| WebhookError::Malformed("product without an id".into()))?;
    Ok(ChannelListing {
        external_id,
        title: p.title,
        status: p.status.map(|s| s.to_lowercase()),
        updated_at: datetime(p.updated_at.as_deref()),
        variants: p
            .variants
            .iter()
            .filter_map(|v| {
                Some(ChannelVariant {
                    external_id: gid(
                        "ProductVariant",
                        v.admin_graphql_api_id.as_deref(),
                        v.id.as_ref(),
                    )?,
                    sku: v.sku.clone().filter(|s| !s.is_empty()),
                    price: v.price.as_ref().and_then(|p| match p {
                        Value::String(s) => Decimal::from_str(s).ok(),
                        Value::Number(n) => Decimal::from_str(&n.to_string()).ok(),
                        _ => None,
                    }),
                    quantity: v.inventory_quantity,
                })
            })
            .collect(),
    })
}

/// Verify a delivery for `shop` against `secret` and parse it.
pub fn verify(
    headers: &HeaderMap,
    body: &[u8],
    secret: &[u8],
    shop: &str,
) -> Result<WebhookEvent, WebhookError> {
    let signature = header(headers, HMAC_HEADER).ok_or(WebhookError::MissingHeader(HMAC_HEADER))?;
    if !signature::verify_base64(secret, body, signature) {
        return Err(WebhookError::BadSignature);
    }
    let domain = header(headers, SHOP_HEADER).ok_or(WebhookError::MissingHeader(SHOP_HEADER))?;
    if !domain.eq_ignore_ascii_case(shop) {
        return Err(WebhookError::Malformed(format!(
            "delivery for shop {domain}, not this connection's"
        )));
    }
    let topic = header(headers, TOPIC_HEADER).ok_or(WebhookError::MissingHeader(TOPIC_HEADER))?;
    let event_id = header(headers, EVENT_ID_HEADER)
        .or_else(|| header(headers, WEBHOOK_ID_HEADER))
        .ok_or(WebhookError::MissingHeader(EVENT_ID_HEADER))?;
    let kind = match topic {
        "orders/create" => WebhookKind::OrderCreated {
            order: parse_order(body)?,
        },
        "orders/cancelled" => WebhookKind::OrderCancelled {
            order: ChannelOrder {
                cancelled: true,
                ..parse_order(body)?
            },
        },
        "refunds/create" => WebhookKind::OrderRefunded {
            refund: parse_refund(body)?,
        },
        "products/update" => WebhookKind::ProductUpdated {
            listing: parse_product(body)?,
        },
        "products/delete" => {
            let v: Value = serde_json::from_slice(body)
                .map_err(|e| WebhookError::Malformed(format!("products/delete: {e}")))?;
            WebhookKind::ProductDeleted {
                external_id: gid("Product", None, v.get("id")).ok_or_else(|| {
                    WebhookError::Malformed("products/delete without an id".into())
                })?,
            }
        }
        _ => WebhookKind::Other,
    };
    Ok(WebhookEvent {
        event_id: event_id.to_owned(),
        topic: topic.to_owned(),
        occurred_at: datetime(header(headers, TRIGGERED_AT_HEADER)),
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"app-client-secret";
    const SHOP: &str = "acme.myshopify.com";

    // The orders/create example payload of https://shopify.dev/docs/api/webhooks
    // (topic orders/create), trimmed to the fields that matter here; note the
    // ids beyond 2^53.
    const ORDER: &str = r##"{"id":820982911946154508,"admin_graphql_api_id":"gid://shopify/Order/820982911946154508",
      "cancel_reason":"customer","cancelled_at":"2024-06-26T12:33:21-04:00","created_at":"2024-06-26T12:33:21-04:00",
      "currency":"USD","name":"#9999","line_items":[
        {"id":866550311766439020,"admin_graphql_api_id":"gid://shopify/LineItem/866550311766439020","current_quantity":1,
         "name":"The Videographer Snowboard","price":"885.95","product_id":9313716535612,"quantity":1,"sku":null,
         "variant_id":49121760117052,"variant_inventory_management":"shopify"},
        {"id":141249953214522974,"quantity":2,"sku":"SNOW-COMPLETE","variant_id":49121760182588}]}"##;

    // The refunds/create payload: the REST Refund resource of
    // https://shopify.dev/docs/api/admin-rest/latest/resources/refund (its
    // example refund), trimmed, with one line of each restock kind.
    const REFUND: &str = r#"{"id":929361464,"order_id":450789469,"created_at":"2020-01-14T10:34:55-05:00",
      "note":"wrong size","restock":true,"admin_graphql_api_id":"gid://shopify/Refund/929361464",
      "refund_line_items":[
        {"id":1058498311,"quantity":1,"line_item_id":518995019,"location_id":487838322,"restock_type":"return",
         "subtotal":199.0,"line_item":{"id":518995019,"variant_id":49148385,"quantity":3,"sku":"IPOD2008RED"}},
        {"id":1058498312,"quantity":2,"line_item_id":518995020,"location_id":null,"restock_type":"no_restock",
         "line_item":{"id":518995020,"variant_id":49148386,"quantity":2,"sku":"IPOD2008BLUE"}},
        {"id":1058498313,"quantity":1,"line_item_id":518995021,"location_id":487838322,"restock_type":"cancel",
         "line_item":{"id":518995021,"variant_id":49148387,"quantity":1,"sku":""}},
        {"id":1058498314,"quantity":1,"line_item_id":518995022,"restock_type":"legacy_restock",
         "line_item":{"id":518995022,"variant_id":49148388,"quantity":1,"sku":"IPOD2008GOLD"}}],
      "transactions":[{"id":1072844685,"order_id":450789469,"kind":"refund","amount":"41.94"}]}"#;

    #[test]
    fn a_refund_names_its_order_and_the_lines_to_restock() {
        let event = verify(
            &headers("refunds/create", REFUND.as_bytes(), SECRET),
            REFUND.as_bytes(),
            SECRET,
            SHOP,
        )
        .unwrap();
        let WebhookKind::OrderRefunded { refund } = event.kind else {
            panic!("not a refund: {:?}", event.kind)
        };
        assert_eq!(refund.order_external_id, "gid://shopify/Order/450789469");
        assert_eq!(refund.refund_id, "gid://shopify/Refund/929361464");
        assert!(refund.created_at.is_some());
        // The no_restock line is kept by the buyer; the others come back.
        let lines: Vec<_> = refund
            .lines
            .iter()
            .map(|l| {
                (
                    l.sku.as_deref(),
                    l.external_variant_id.as_deref(),
                    l.quantity,
                )
            })
            .collect();
        assert_eq!(
            lines,
            vec![
                (
                    Some("IPOD2008RED"),
                    Some("gid://shopify/ProductVariant/49148385"),
                    1
                ),
                (None, Some("gid://shopify/ProductVariant/49148387"), 1),
                (
                    Some("IPOD2008GOLD"),
                    Some("gid://shopify/ProductVariant/49148388"),
                    1
                ),
            ]
        );
        assert_eq!(refund.kept.len(), 1);
        assert_eq!(refund.kept[0].sku.as_deref(), Some("IPOD2008BLUE"));
        assert_eq!(refund.kept[0].quantity, 2);
        let orphan = br#"{"id":1,"refund_line_items":[]}"#;
        assert!(matches!(
            verify(
                &headers("refunds/create", orphan, SECRET),
                orphan,
                SECRET,
                SHOP
            ),
            Err(WebhookError::Malformed(_))
        ));
    }

    // The products/update example payload of https://shopify.dev/docs/api/webhooks
    // (topic products/update), trimmed.
    const PRODUCT: &str = r#"{"admin_graphql_api_id":"gid://shopify/Product/788032119674292922","body_html":"An example T-Shirt",
      "handle":"example-t-shirt","id":788032119674292922,"product_type":"Shirts","title":"Example T-Shirt",
      "updated_at":"2021-12-31T19:00:00-05:00","vendor":"Acme","status":"active","tags":"example, mens, t-shirt",
      "variants":[{"admin_graphql_api_id":"gid://shopify/ProductVariant/642667041472713922","id":642667041472713922,
        "price":"19.99","sku":"example-shirt-s","inventory_quantity":75,"compare_at_price":"24.99"}]}"#;

    fn headers(topic: &str, body: &[u8], secret: &[u8]) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            HMAC_HEADER,
            signature::hmac_sha256_base64(secret, body).parse().unwrap(),
        );
        h.insert(TOPIC_HEADER, topic.parse().unwrap());
        h.insert(SHOP_HEADER, SHOP.parse().unwrap());
        h.insert(
            WEBHOOK_ID_HEADER,
            "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043".parse().unwrap(),
        );
        h.insert(
            EVENT_ID_HEADER,
            "e1d5b3a4-7f16-4c4b-a6c3-4f6b8e7c1e9a".parse().unwrap(),
        );
        h.insert(
            TRIGGERED_AT_HEADER,
            "2026-07-01T12:00:00.000Z".parse().unwrap(),
        );
        h
    }

    #[test]
    fn an_order_delivery_verifies_and_keeps_big_ids_exact() {
        let event = verify(
            &headers("orders/create", ORDER.as_bytes(), SECRET),
            ORDER.as_bytes(),
            SECRET,
            SHOP,
        )
        .unwrap();
        assert_eq!(event.event_id, "e1d5b3a4-7f16-4c4b-a6c3-4f6b8e7c1e9a");
        assert_eq!(event.topic, "orders/create");
        assert!(event.occurred_at.is_some());
        let WebhookKind::OrderCreated { order } = event.kind else {
            panic!("not an order")
        };
        assert_eq!(order.external_id, "gid://shopify/Order/820982911946154508");
        assert_eq!(order.lines[0].sku, None);
        assert_eq!(
            order.lines[0].external_variant_id.as_deref(),
            Some("gid://shopify/ProductVariant/49121760117052")
        );
        assert_eq!(order.lines[1].quantity, 2);
        let cancelled = verify(
            &headers("orders/cancelled", ORDER.as_bytes(), SECRET),
            ORDER.as_bytes(),
            SECRET,
            SHOP,
        )
        .unwrap();
        let WebhookKind::OrderCancelled { order } = cancelled.kind else {
            panic!("not a cancellation")
        };
        assert!(order.cancelled);
    }

    #[test]
    fn product_deliveries_parse() {
        let event = verify(
            &headers("products/update", PRODUCT.as_bytes(), SECRET),
            PRODUCT.as_bytes(),
            SECRET,
            SHOP,
        )
        .unwrap();
        let WebhookKind::ProductUpdated { listing } = event.kind else {
            panic!("not a product")
        };
        assert_eq!(
            listing.external_id,
            "gid://shopify/Product/788032119674292922"
        );
        assert_eq!(listing.variants[0].price, Some(Decimal::new(1999, 2)));
        assert_eq!(listing.variants[0].quantity, Some(75));
        let deleted = br#"{"id":788032119674292922}"#;
        let event = verify(
            &headers("products/delete", deleted, SECRET),
            deleted,
            SECRET,
            SHOP,
        )
        .unwrap();
        assert_eq!(
            event.kind,
            WebhookKind::ProductDeleted {
                external_id: "gid://shopify/Product/788032119674292922".into()
            }
        );
        let other = br#"{}"#;
        assert_eq!(
            verify(&headers("shop/update", other, SECRET), other, SECRET, SHOP)
                .unwrap()
                .kind,
            WebhookKind::Other
        );
    }

    // A delivery signed by Shopify's own library, not by us: the official PHP
    // library's webhook test
    // (https://github.com/Shopify/shopify-api-php/blob/main/tests/Webhooks/RegistryTest.php,
    // `$processHeaders` and `$processBody`, which `testProcessWebhook`
    // accepts) carries this X-Shopify-Hmac-Sha256 for the body
    // json_encode(['foo' => 'bar']) under the app secret 'steffi' that
    // tests/BaseTestCase.php configures.
    #[test]
    fn shopifys_own_library_test_vector_verifies() {
        const SECRET: &[u8] = b"steffi";
        const SHOP: &str = "test-shop.myshopify.io";
        const BODY: &[u8] = br#"{"foo":"bar"}"#;
        const HMAC: &str = "/Redz4YXHLnSmmSN8grr5/Jl/Ua3d7yX3iWbjb8R8wo=";
        let delivery = |hmac: &str| {
            let mut h = HeaderMap::new();
            h.insert(HMAC_HEADER, hmac.parse().unwrap());
            // The topic is not signed; one we do not act on keeps the body,
            // which is no product, from mattering.
            h.insert(TOPIC_HEADER, "app/uninstalled".parse().unwrap());
            h.insert(SHOP_HEADER, SHOP.parse().unwrap());
            h.insert(
                WEBHOOK_ID_HEADER,
                "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043".parse().unwrap(),
            );
            h
        };
        let event = verify(&delivery(HMAC), BODY, SECRET, SHOP).unwrap();
        assert_eq!(event.kind, WebhookKind::Other);
        assert_eq!(
            verify(&delivery(HMAC), br#"{"foo":"baz"}"#, SECRET, SHOP),
            Err(WebhookError::BadSignature)
        );
        assert_eq!(
            verify(&delivery(HMAC), br#"{"foo": "bar"}"#, SECRET, SHOP),
            Err(WebhookError::BadSignature)
        );
        assert_eq!(
            verify(&delivery(HMAC), BODY, b"steffi2", SHOP),
            Err(WebhookError::BadSignature)
        );
        let flipped = HMAC.replacen('R', "r", 1);
        assert_eq!(
            verify(&delivery(&flipped), BODY, SECRET, SHOP),
            Err(WebhookError::BadSignature)
        );
    }

    #[test]
    fn tampered_foreign_or_incomplete_deliveries_are_refused() {
        let h = headers("orders/create", ORDER.as_bytes(), SECRET);
        let tampered = ORDER.replace("\"quantity\":2", "\"quantity\":20");
        assert_eq!(
            verify(&h, tampered.as_bytes(), SECRET, SHOP),
            Err(WebhookError::BadSignature)
        );
        assert_eq!(
            verify(&h, ORDER.as_bytes(), b"other-secret", SHOP),
            Err(WebhookError::BadSignature)
        );
        assert!(matches!(
            verify(&h, ORDER.as_bytes(), SECRET, "evil.myshopify.com"),
            Err(WebhookError::Malformed(_))
        ));
        let mut h2 = h.clone();
        h2.remove(HMAC_HEADER);
        assert_eq!(
            verify(&h2, ORDER.as_bytes(), SECRET, SHOP),
            Err(WebhookError::MissingHeader(HMAC_HEADER))
        );
        let mut h3 = h.clone();
        h3.remove(EVENT_ID_HEADER);
        assert_eq!(
            verify(&h3, ORDER.as_bytes(), SECRET, SHOP)
                .unwrap()
                .event_id,
            "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
        );
        let garbage = b"not json";
        assert!(matches!(
            verify(
                &headers("orders/create", garbage, SECRET),
                garbage,
                SECRET,
                SHOP
            ),
            Err(WebhookError::Malformed(_))
        ));
    }
}
