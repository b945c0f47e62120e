//! Receipts: `getShopReceipts`, `getShopReceipt`, orders placed through
//! `/_sim`, and the signed `order.paid` webhook they send.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::{
    Ctx, Etsy, NAME, Receipt, ReceiptLine, error, money, next_id, now, pairs, param, shop_id,
};
use crate::{SimCore, SimOrderLine, webhooks};

fn receipt_json(account: &str, r: &Receipt) -> Value {
    let total: i64 = r.lines.iter().map(|l| l.price * l.quantity).sum();
    json!({
        "receipt_id": r.receipt_id,
        "receipt_type": 0,
        "shop_id": shop_id(account),
        "status": if r.canceled { "canceled" } else { "paid" },
        "is_paid": true,
        "is_shipped": false,
        "create_timestamp": r.created,
        "created_timestamp": r.created,
        "update_timestamp": r.updated,
        "updated_timestamp": r.updated,
        "grandtotal": money(total),
        "subtotal": money(total),
        "total_price": money(total),
        "transactions": r.lines.iter().map(|l| json!({
            "transaction_id": l.transaction_id,
            "title": l.title,
            "create_timestamp": r.created,
            "created_timestamp": r.created,
            "paid_timestamp": r.created,
            "quantity": l.quantity,
            "receipt_id": r.receipt_id,
            "is_digital": false,
            "listing_id": l.listing_id,
            "transaction_type": "listing",
            "product_id": l.product_id,
            "sku": l.sku,
            "price": money(l.price),
        })).collect::<Vec<_>>(),
    })
}

/// GET /v3/application/shops/{shop_id}/receipts.
pub(super) async fn receipts(
    State(ctx): State<Ctx>,
    Path(shop): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    const OP: &str = "getShopReceipts";
    let adm = match ctx.admit(&headers, OP, Some(&shop)) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let q = pairs(query.as_deref());
    let answer = (|| {
        let (limit, offset) = super::listings::paging(&q)?;
        let bound = |name: &str| -> Result<Option<i64>, (StatusCode, Value)> {
            match param(&q, name) {
                None => Ok(None),
                Some(v) => v
                    .parse::<i64>()
                    .ok()
                    .filter(|t| *t >= 946_684_800)
                    .map(Some)
                    .ok_or_else(|| {
                        error(
                            StatusCode::BAD_REQUEST,
                            format!("{name} must be a unix timestamp after 2000-01-01"),
                        )
                    }),
            }
        };
        let (min, max) = (bound("min_created")?, bound("max_created")?);
        let (min_modified, max_modified) =
            (bound("min_last_modified")?, bound("max_last_modified")?);
        let ascending = matches!(param(&q, "sort_order"), Some("asc" | "ascending" | "up"));
        let by_update = param(&q, "sort_on") == Some("updated");
        // Every simulated receipt is paid. `was_canceled` left out means
        // false, as Etsy's reference gives it: canceled receipts only when asked.
        let unpaid = param(&q, "was_paid") == Some("false");
        let canceled = param(&q, "was_canceled") == Some("true");
        let body = ctx.with_shop(&adm.account, |s| {
            let mut matching: Vec<&Receipt> = s
                .receipts
                .iter()
                .filter(|r| !unpaid && r.canceled == canceled)
                .filter(|r| {
                    min.is_none_or(|m| r.created >= m) && max.is_none_or(|m| r.created <= m)
                })
                .filter(|r| {
                    min_modified.is_none_or(|m| r.updated >= m)
                        && max_modified.is_none_or(|m| r.updated <= m)
                })
                .collect();
            matching.sort_by_key(|r| (if by_update { r.updated } else { r.created }, r.receipt_id));
            if !ascending {
                matching.reverse();
            }
            json!({
                "count": matching.len(),
                "results": matching.iter().skip(offset).take(limit)
                    .map(|r| receipt_json(&adm.account, r)).collect::<Vec<_>>(),
            })
        });
        Ok((StatusCode::OK, body))
    })()
    .unwrap_or_else(|e: (StatusCode, Value)| e);
    ctx.finish(&adm, OP, answer)
}

/// The seller cancels a receipt: status `canceled`, updated now, and its
/// units back in the listings' inventory.
pub(super) fn cancel(etsy: &Etsy, account: &str, receipt_id: &str) -> Result<(), String> {
    let id: u64 = receipt_id
        .parse()
        .map_err(|_| format!("`{receipt_id}` is not a receipt id"))?;
    let mut shops = etsy.shops.lock().unwrap();
    let shop = shops
        .get_mut(account)
        .ok_or_else(|| format!("no shop {account}"))?;
    let receipt = shop
        .receipts
        .iter_mut()
        .find(|r| r.receipt_id == id)
        .ok_or_else(|| format!("no receipt {id}"))?;
    if receipt.canceled {
        return Err(format!("receipt {id} is canceled already"));
    }
    receipt.canceled = true;
    receipt.updated = now();
    let lines = receipt.lines.clone();
    for line in lines {
        if let Some(listing) = shop.listings.get_mut(&line.listing_id)
            && let Some(product) = listing
                .inventory
                .products
                .iter_mut()
                .find(|p| p.product_id == line.product_id)
        {
            product.quantity += line.quantity;
            listing.settle_state();
            listing.updated = now();
        }
    }
    Ok(())
}

/// GET /v3/application/shops/{shop_id}/receipts/{receipt_id}: what a
/// webhook's `resource_url` points at.
pub(super) async fn receipt(
    State(ctx): State<Ctx>,
    Path((shop, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    const OP: &str = "getShopReceipt";
    let adm = match ctx.admit(&headers, OP, Some(&shop)) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let answer = ctx.with_shop(&adm.account, |s| {
        id.parse::<u64>()
            .ok()
            .and_then(|id| s.receipts.iter().find(|r| r.receipt_id == id))
            .map(|r| (StatusCode::OK, receipt_json(&adm.account, r)))
            .unwrap_or_else(|| error(StatusCode::NOT_FOUND, "Receipt not found"))
    });
    ctx.finish(&adm, OP, answer)
}

/// The HMAC key of a `whsec_` secret (Standard Webhooks: the base64 after
/// the prefix); a secret that is not base64 is used as it is.
fn signing_key(secret: &str) -> Vec<u8> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    STANDARD
        .decode(encoded)
        .or_else(|_| URL_SAFE_NO_PAD.decode(encoded))
        .or_else(|_| URL_SAFE.decode(encoded))
        .unwrap_or_else(|_| secret.as_bytes().to_vec())
}

/// `webhook-signature` for one delivery: `v1,` + base64 HMAC-SHA256 of
/// `{id}.{timestamp}.{body}`.
fn signature(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(&signing_key(secret))
        .expect("HMAC takes keys of any length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// An order on the shop: stock drops on every line's product, a receipt is
/// written, and `order.paid` goes to the subscribers.
pub(super) fn place(
    etsy: &Etsy,
    core: &Arc<SimCore>,
    account: &str,
    lines: &[SimOrderLine],
) -> Result<String, String> {
    let receipt_id = {
        let mut shops = etsy.shops.lock().unwrap();
        let shop = shops
            .get_mut(account)
            .ok_or_else(|| format!("no shop {account}"))?;
        // Check every line before changing anything.
        let mut found = Vec::new();
        for line in lines {
            let (listing_id, index) = shop
                .listings
                .values()
                .find_map(|l| {
                    let i = l
                        .inventory
                        .products
                        .iter()
                        .position(|p| p.sku == line.sku)?;
                    Some((l.listing_id, i))
                })
                .ok_or_else(|| format!("no product with SKU {}", line.sku))?;
            let product = &shop.listings[&listing_id].inventory.products[index];
            if product.quantity < line.quantity {
                return Err(format!("only {} of {} left", product.quantity, line.sku));
            }
            found.push((listing_id, index, line.quantity));
        }
        let mut receipt_lines = Vec::new();
        for (listing_id, index, quantity) in found {
            let Some(listing) = shop.listings.get_mut(&listing_id) else {
                continue;
            };
            let product = &mut listing.inventory.products[index];
            product.quantity -= quantity;
            receipt_lines.push(ReceiptLine {
                transaction_id: next_id(),
                listing_id,
                product_id: product.product_id,
                sku: product.sku.clone(),
                title: listing.title.clone(),
                quantity,
                price: product.price,
            });
            listing.settle_state();
            listing.updated = now();
        }
        let receipt = Receipt {
            receipt_id: next_id(),
            created: now(),
            updated: now(),
            canceled: false,
            lines: receipt_lines,
        };
        let id = receipt.receipt_id;
        shop.receipts.push(receipt);
        id
    };
    let body = json!({
        "event_type": "order.paid",
        "resource_url": format!(
            "{}/{NAME}/v3/application/shops/{account}/receipts/{receipt_id}",
            core.base_url
        ),
        "shop_id": shop_id(account),
    });
    let body = serde_json::to_vec(&body).map_err(|e| e.to_string())?;
    // One id and time per event: a duplicate delivery is recognisably the same event.
    let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
    let timestamp = now();
    webhooks::deliver(
        core,
        NAME,
        account,
        "order.paid",
        body,
        move |subscription, body| {
            vec![
                (
                    "webhook-signature".to_owned(),
                    signature(&subscription.secret, &id, timestamp, body),
                ),
                ("webhook-id".to_owned(), id.clone()),
                ("webhook-timestamp".to_owned(), timestamp.to_string()),
            ]
        },
    );
    Ok(receipt_id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    // The Standard Webhooks specification's test vector
    // (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md).
    #[test]
    fn signs_like_the_standard_webhooks_vector() {
        assert_eq!(
            signature(
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }
}
