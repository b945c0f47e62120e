//! Orders API v0: getOrders and getOrderItems (sources in `mod.rs`).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::{Ctx, OP_GET_ORDER_ITEMS, OP_GET_ORDERS, Order};

type Answer = (StatusCode, Value);

fn invalid(message: &str) -> Answer {
    (
        StatusCode::BAD_REQUEST,
        json!({ "errors": [{ "code": "InvalidInput", "message": message, "details": "" }] }),
    )
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn date(query: &HashMap<String, String>, name: &str) -> Result<Option<DateTime<Utc>>, Answer> {
    query
        .get(name)
        .map(|d| {
            DateTime::parse_from_rfc3339(d)
                .map(|d| d.with_timezone(&Utc))
                .map_err(|_| invalid(&format!("{name} is not an ISO 8601 date-time")))
        })
        .transpose()
}

pub(super) async fn get_orders(
    State(ctx): State<Ctx>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let (account, rate) = match ctx.admit(&headers, None, OP_GET_ORDERS) {
        Ok(admitted) => admitted,
        Err(refused) => return *refused,
    };
    let answer = list(&ctx, &account, &query).unwrap_or_else(|a| a);
    ctx.finish(&account, OP_GET_ORDERS, rate, answer)
}

/// Orders purchased (`CreatedAfter`) or last updated (`LastUpdatedAfter`)
/// in the window, oldest first. The `NextToken` carries the window, which
/// date it is on and the position, so later pages keep the first page's filter.
fn list(ctx: &Ctx, account: &str, query: &HashMap<String, String>) -> Result<Answer, Answer> {
    let marketplace = query
        .get("MarketplaceIds")
        .and_then(|m| m.split(',').next())
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| invalid("MarketplaceIds is required"))?
        .to_owned();
    let per_page: usize = match query.get("MaxResultsPerPage") {
        None => 100,
        Some(n) => n
            .parse()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| invalid("MaxResultsPerPage must be 1 to 100"))?,
    };
    let (offset, window) = match query.get("NextToken") {
        Some(token) => decode(token).ok_or_else(|| invalid("Invalid NextToken"))?,
        None => {
            let created = date(query, "CreatedAfter")?;
            let updated = date(query, "LastUpdatedAfter")?;
            let window = match (created, updated) {
                (Some(_), Some(_)) => {
                    return Err(invalid(
                        "CreatedAfter and LastUpdatedAfter cannot be specified together",
                    ));
                }
                (Some(after), None) => Window {
                    updated: false,
                    after,
                    before: date(query, "CreatedBefore")?,
                },
                (None, Some(after)) => Window {
                    updated: true,
                    after,
                    before: date(query, "LastUpdatedBefore")?,
                },
                (None, None) => {
                    return Err(invalid(
                        "Either CreatedAfter or LastUpdatedAfter must be specified",
                    ));
                }
            };
            (0, window)
        }
    };
    let body = ctx.seller(account, |seller| {
        let mut matching: Vec<&Order> = seller.orders.iter().filter(|o| window.holds(o)).collect();
        matching.sort_by_key(|o| window.date(o));
        let end = (offset + per_page).min(matching.len());
        let orders: Vec<Value> = matching
            .get(offset.min(end)..end)
            .unwrap_or_default()
            .iter()
            .map(|o| order_json(o, &marketplace))
            .collect();
        let mut payload = Map::new();
        payload.insert("Orders".into(), json!(orders));
        if end < matching.len() {
            payload.insert("NextToken".into(), json!(encode(end, &window)));
        }
        json!({ "payload": payload })
    });
    Ok((StatusCode::OK, body))
}

/// A getOrders date window: on the purchase or the last update date.
struct Window {
    updated: bool,
    after: DateTime<Utc>,
    before: Option<DateTime<Utc>>,
}

impl Window {
    fn date(&self, order: &Order) -> DateTime<Utc> {
        if self.updated {
            order.updated
        } else {
            order.purchased
        }
    }

    fn holds(&self, order: &Order) -> bool {
        let at = self.date(order);
        at >= self.after && self.before.is_none_or(|b| at <= b)
    }
}

fn encode(offset: usize, window: &Window) -> String {
    let before = window.before.map(stamp).unwrap_or_default();
    let on = if window.updated { "u" } else { "c" };
    URL_SAFE_NO_PAD.encode(format!("{offset}|{}|{before}|{on}", stamp(window.after)))
}

fn decode(token: &str) -> Option<(usize, Window)> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
    let mut parts = text.split('|');
    let offset = parts.next()?.parse().ok()?;
    let after = DateTime::parse_from_rfc3339(parts.next()?)
        .ok()?
        .with_timezone(&Utc);
    let before = match parts.next()? {
        "" => None,
        b => Some(DateTime::parse_from_rfc3339(b).ok()?.with_timezone(&Utc)),
    };
    let updated = parts.next()? == "u";
    Some((
        offset,
        Window {
            updated,
            after,
            before,
        },
    ))
}

fn order_json(order: &Order, marketplace: &str) -> Value {
    let units: i64 = order.lines.iter().map(|l| l.quantity).sum();
    let mut json = json!({
        "AmazonOrderId": order.id,
        "PurchaseDate": stamp(order.purchased),
        "LastUpdateDate": stamp(order.updated),
        "OrderStatus": if order.canceled { "Canceled" } else { "Unshipped" },
        "FulfillmentChannel": "MFN",
        "SalesChannel": "Amazon.com",
        "NumberOfItemsShipped": 0,
        "NumberOfItemsUnshipped": if order.canceled { 0 } else { units },
        "PaymentMethod": "Other",
        "MarketplaceId": marketplace,
        "OrderType": "StandardOrder",
        "IsBusinessOrder": false,
        "IsPrime": false,
        "IsPremiumOrder": false,
    });
    let priced: Option<Vec<_>> = order.lines.iter().map(|l| l.price.clone()).collect();
    if let Some(prices) = priced.filter(|p| !p.is_empty()) {
        let total: rust_decimal::Decimal = prices
            .iter()
            .zip(&order.lines)
            .map(|((_, p), l)| *p * rust_decimal::Decimal::from(l.quantity))
            .sum();
        json["OrderTotal"] =
            json!({ "CurrencyCode": prices[0].0, "Amount": format!("{total:.2}") });
    }
    json
}

pub(super) async fn get_order_items(
    State(ctx): State<Ctx>,
    Path(order_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (account, rate) = match ctx.admit(&headers, None, OP_GET_ORDER_ITEMS) {
        Ok(admitted) => admitted,
        Err(refused) => return *refused,
    };
    let answer = ctx.seller(&account, |seller| {
        let Some(order) = seller.orders.iter().find(|o| o.id == order_id) else {
            return (
                StatusCode::NOT_FOUND,
                json!({ "errors": [{ "code": "InvalidInput",
                                     "message": "The resource specified does not exist.", "details": "" }] }),
            );
        };
        let items: Vec<Value> = order
            .lines
            .iter()
            .map(|l| {
                let mut item = json!({
                    "ASIN": l.asin, "OrderItemId": l.item_id, "SellerSKU": l.sku, "Title": l.title,
                    "QuantityOrdered": l.quantity, "QuantityShipped": 0,
                });
                if let Some((currency, price)) = &l.price {
                    let amount = *price * rust_decimal::Decimal::from(l.quantity);
                    item["ItemPrice"] =
                        json!({ "CurrencyCode": currency, "Amount": format!("{amount:.2}") });
                }
                item
            })
            .collect();
        (
            StatusCode::OK,
            json!({ "payload": { "AmazonOrderId": order.id, "OrderItems": items } }),
        )
    });
    ctx.finish(&account, OP_GET_ORDER_ITEMS, rate, answer)
}
