//! Shopify's webhooks: subscriptions made through the API, the REST-style
//! payloads of https://shopify.dev/docs/api/webhooks (orders/create,
//! orders/cancelled, refunds/create, products/update), and the signed delivery of
//! https://shopify.dev/docs/apps/build/webhooks/verify-deliveries.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::gql::Field;
use super::store::{Order, Product, Refund, Shop, gid, timestamp};
use super::{API_VERSION, NAME};
use crate::SimCore;
use crate::webhooks::{self, Subscription};

pub fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// GraphQL topic enum to the topic name webhooks carry.
fn topic_name(topic: &str) -> Option<&'static str> {
    Some(match topic {
        "ORDERS_CREATE" => "orders/create",
        "ORDERS_CANCELLED" => "orders/cancelled",
        "ORDERS_UPDATED" => "orders/updated",
        "REFUNDS_CREATE" => "refunds/create",
        "PRODUCTS_CREATE" => "products/create",
        "PRODUCTS_UPDATE" => "products/update",
        "PRODUCTS_DELETE" => "products/delete",
        "INVENTORY_LEVELS_UPDATE" => "inventory_levels/update",
        "APP_UNINSTALLED" => "app/uninstalled",
        _ => return None,
    })
}

/// `webhookSubscriptionCreate(topic:, webhookSubscription: {uri, format})`.
/// Shopify only delivers over HTTPS; the simulator also accepts plain HTTP
/// to loopback addresses, where tests listen.
pub fn subscribe(
    core: &Arc<SimCore>,
    shop: &str,
    field: &Field,
    now: DateTime<Utc>,
) -> Result<Value, String> {
    let topic = field
        .arg("topic")
        .and_then(Value::as_str)
        .ok_or("Variable $topic of type WebhookSubscriptionTopic! was provided invalid value")?;
    let Some(name) = topic_name(topic) else {
        return Err(format!(
            "Argument 'topic' on Field 'webhookSubscriptionCreate' has an invalid value ({topic})."
        ));
    };
    let input = field
        .arg("webhookSubscription")
        .cloned()
        .unwrap_or(Value::Null);
    let uri = input
        .get("uri")
        .or_else(|| input.get("callbackUrl"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let payload = |subscription: Value, errors: Vec<Value>| json!({"__typename": "WebhookSubscriptionCreatePayload", "webhookSubscription": subscription, "userErrors": errors});
    let error = |message: &str| json!({"field": ["webhookSubscription", "callbackUrl"], "message": message});
    let parsed = reqwest::Url::parse(&uri);
    let allowed = match &parsed {
        Ok(u) if u.scheme() == "https" => true,
        Ok(u) if u.scheme() == "http" => {
            matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"))
        }
        _ => false,
    };
    if !allowed {
        let message = match &parsed {
            Ok(u) => format!("Address protocol {}:// is not supported", u.scheme()),
            Err(_) => "Address is invalid".into(),
        };
        return Ok(payload(Value::Null, vec![error(&message)]));
    }
    let existing = core.subscriptions.for_account(NAME, shop);
    if existing
        .iter()
        .any(|s| s.url == uri && s.topics.iter().any(|t| t == name))
    {
        return Ok(payload(
            Value::Null,
            vec![error("Address for this topic has already been taken")],
        ));
    }
    let id = uuid::Uuid::now_v7().as_u128() as u64 >> 1;
    core.subscriptions.add(Subscription {
        id: gid("WebhookSubscription", id),
        platform: NAME.into(),
        account: shop.into(),
        url: uri.clone(),
        secret: crate::SIM_CLIENT_SECRET.into(),
        topics: vec![name.into()],
    });
    Ok(payload(
        json!({"__typename": "WebhookSubscription", "id": gid("WebhookSubscription", id), "topic": topic,
               "uri": uri, "format": "JSON", "apiVersion": {"handle": API_VERSION},
               "createdAt": timestamp(now), "updatedAt": timestamp(now)}),
        Vec::new(),
    ))
}

/// The orders/create payload: the REST order resource.
pub fn order(shop: &Shop, order: &Order) -> Value {
    let total: rust_decimal::Decimal = order
        .lines
        .iter()
        .map(|l| l.price * rust_decimal::Decimal::from(l.quantity))
        .sum();
    json!({
        "id": order.id,
        "admin_graphql_api_id": gid("Order", order.id),
        "name": format!("#{}", order.number),
        "order_number": order.number,
        "created_at": timestamp(order.created_at),
        "updated_at": timestamp(order.updated_at),
        "cancelled_at": order.cancelled_at.map(timestamp),
        "cancel_reason": null,
        "currency": "USD",
        "financial_status": "paid",
        "fulfillment_status": null,
        "location_id": shop.location_id,
        "total_price": total.to_string(),
        "test": true,
        "line_items": order.lines.iter().map(|l| json!({
            "id": l.id,
            "admin_graphql_api_id": gid("LineItem", l.id),
            "sku": l.sku,
            "quantity": l.quantity,
            "current_quantity": l.quantity,
            "variant_id": l.variant_id,
            "product_id": l.product_id,
            "title": l.title,
            "name": l.title,
            "price": l.price.to_string(),
            "variant_inventory_management": "shopify",
        })).collect::<Vec<_>>(),
    })
}

/// The refunds/create payload: the REST Refund resource
/// (https://shopify.dev/docs/api/admin-rest/latest/resources/refund), each
/// refund line carrying the line item it refunds.
pub fn refund(shop: &Shop, order: &Order, refund: &Refund) -> Value {
    let lines: Vec<Value> = refund
        .lines
        .iter()
        .filter_map(|r| {
            let l = order.lines.iter().find(|l| l.id == r.line_item_id)?;
            let subtotal = l.price * rust_decimal::Decimal::from(r.quantity);
            Some(json!({
                "id": r.id,
                "quantity": r.quantity,
                "line_item_id": l.id,
                "location_id": (r.restock_type != "no_restock").then_some(shop.location_id),
                "restock_type": r.restock_type,
                "subtotal": subtotal.to_string(),
                "total_tax": "0.00",
                "line_item": {
                    "id": l.id,
                    "admin_graphql_api_id": gid("LineItem", l.id),
                    "variant_id": l.variant_id,
                    "product_id": l.product_id,
                    "sku": l.sku,
                    "quantity": l.quantity,
                    "title": l.title,
                    "name": l.title,
                    "price": l.price.to_string(),
                    "variant_inventory_management": "shopify",
                },
            }))
        })
        .collect();
    json!({
        "id": refund.id,
        "admin_graphql_api_id": gid("Refund", refund.id),
        "order_id": order.id,
        "created_at": timestamp(refund.created_at),
        "processed_at": timestamp(refund.created_at),
        "note": null,
        "user_id": null,
        "restock": refund.lines.iter().any(|l| l.restock_type != "no_restock"),
        "refund_line_items": lines,
        "transactions": [],
        "order_adjustments": [],
    })
}

/// The products/update payload: the REST product resource.
pub fn product(p: &Product) -> Value {
    json!({
        "id": p.id,
        "admin_graphql_api_id": gid("Product", p.id),
        "title": p.title,
        "body_html": p.description_html,
        "vendor": p.vendor,
        "product_type": p.product_type,
        "handle": p.handle,
        "status": p.status.to_lowercase(),
        "tags": p.tags.join(", "),
        "created_at": timestamp(p.created_at),
        "updated_at": timestamp(p.updated_at),
        "options": p.options.iter().enumerate().map(|(i, (name, values))| json!({
            "product_id": p.id, "name": name, "position": i + 1, "values": values,
        })).collect::<Vec<_>>(),
        "variants": p.variants.iter().enumerate().map(|(i, v)| json!({
            "id": v.id,
            "admin_graphql_api_id": gid("ProductVariant", v.id),
            "product_id": p.id,
            "title": v.options.iter().map(|(_, value)| value.as_str()).collect::<Vec<_>>().join(" / "),
            "sku": v.sku,
            "price": v.price.to_string(),
            "compare_at_price": v.compare_at_price.map(|c| c.to_string()),
            "position": i + 1,
            "inventory_item_id": v.inventory_item_id,
            "inventory_quantity": v.available,
            "option1": v.options.first().map(|(_, value)| value),
            "option2": v.options.get(1).map(|(_, value)| value),
            "option3": v.options.get(2).map(|(_, value)| value),
        })).collect::<Vec<_>>(),
    })
}

/// Send `payload` on `topic` to the shop's subscribers, signed with each
/// subscription's secret (the app's client secret). Copies sent because of
/// an injected duplicate fault carry the same event id, as Shopify's retries do.
pub fn deliver(core: &Arc<SimCore>, shop: &str, topic: &str, payload: &Value) {
    let body = serde_json::to_vec(payload).unwrap_or_default();
    let event_id = uuid::Uuid::new_v4().to_string();
    let webhook_id = uuid::Uuid::new_v4().to_string();
    let triggered_at = timestamp(Utc::now());
    let (topic_owned, shop_owned) = (topic.to_owned(), shop.to_owned());
    webhooks::deliver(core, NAME, shop, topic, body, move |subscription, body| {
        vec![
            ("X-Shopify-Topic".into(), topic_owned.clone()),
            (
                "X-Shopify-Hmac-Sha256".into(),
                STANDARD.encode(hmac_sha256(subscription.secret.as_bytes(), body)),
            ),
            ("X-Shopify-Shop-Domain".into(), shop_owned.clone()),
            ("X-Shopify-Webhook-Id".into(), webhook_id.clone()),
            ("X-Shopify-Event-Id".into(), event_id.clone()),
            ("X-Shopify-Triggered-At".into(), triggered_at.clone()),
            ("X-Shopify-API-Version".into(), API_VERSION.into()),
        ]
    });
}
