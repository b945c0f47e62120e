//! Orders: placed through the simulator's control API, read back with the
//! Fulfillment API's getOrders (filter, limit ≤ 200 default 50, offset).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::store::{Answer, Order, OrderLine, Store};
use crate::SimOrderLine;

fn fulfillment_error(status: u16, id: i64, message: impl Into<String>) -> Answer {
    (
        status,
        Some(json!({"errors": [{
            "errorId": id,
            "domain": "API_FULFILLMENT",
            "category": "REQUEST",
            "message": message.into(),
        }]})),
    )
}

/// A `[start..end]` range of a `creationdate`/`lastmodifieddate` filter.
type Range = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

fn parse_range(text: &str) -> Option<Range> {
    let inner = text.strip_prefix('[')?.strip_suffix(']')?;
    let (start, end) = inner.split_once("..")?;
    let when = |s: &str| -> Option<Option<DateTime<Utc>>> {
        if s.is_empty() {
            return Some(None);
        }
        DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|d| Some(d.with_timezone(&Utc)))
    };
    let start = when(start)?;
    start?;
    Some((start, when(end)?))
}

/// Which date a getOrders `filter` selects on, and its range.
#[derive(Clone, Copy)]
struct DateFilter {
    modified: bool,
    range: Range,
}

impl DateFilter {
    fn holds(&self, order: &Order) -> bool {
        let at = if self.modified {
            order.modified
        } else {
            order.created
        };
        let (start, end) = self.range;
        start.is_none_or(|s| at >= s) && end.is_none_or(|e| at <= e)
    }
}

/// The date range of a getOrders `filter`, on the creation or the last
/// modification date.
fn parse_filter(filter: &str) -> Result<DateFilter, Answer> {
    let mut range = DateFilter {
        modified: false,
        range: (None, None),
    };
    for criterion in filter.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let Some((name, value)) = criterion.split_once(':') else {
            return Err(fulfillment_error(
                400,
                30700,
                format!("Invalid filter name: {criterion}"),
            ));
        };
        match name {
            "creationdate" | "lastmodifieddate" => {
                range = DateFilter {
                    modified: name == "lastmodifieddate",
                    range: parse_range(value)
                        .ok_or_else(|| fulfillment_error(400, 30810, "Invalid date format"))?,
                };
            }
            "orderfulfillmentstatus" => {}
            other => {
                return Err(fulfillment_error(
                    400,
                    30700,
                    format!("Invalid filter name: {other}"),
                ));
            }
        }
    }
    Ok(range)
}

impl Store {
    /// A buyer checks out: every line must be a live listing with the stock.
    pub fn place_order(&mut self, lines: &[SimOrderLine]) -> Result<String, String> {
        let mut order_lines = Vec::new();
        for line in lines {
            let item = self
                .items
                .get(&line.sku)
                .ok_or_else(|| format!("no inventory item {}", line.sku))?;
            let offer = self
                .offer_of(&line.sku)
                .filter(|o| o.published())
                .ok_or_else(|| format!("{} is not on sale", line.sku))?;
            let available = item.quantity.min(offer.available_quantity);
            let wanted: i64 = lines
                .iter()
                .filter(|l| l.sku == line.sku)
                .fold(0i64, |sum, l| sum.saturating_add(l.quantity));
            if available < wanted {
                return Err(format!("only {available} of {} left", line.sku));
            }
            order_lines.push(OrderLine {
                sku: line.sku.clone(),
                quantity: line.quantity,
                listing_id: offer.listing_id.clone().unwrap_or_default(),
                title: item.product["title"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                price: offer.price.clone(),
            });
        }
        for line in &order_lines {
            if let Some(item) = self.items.get_mut(&line.sku) {
                item.quantity -= line.quantity;
            }
            if let Some(offer) = self.offers.values_mut().find(|o| o.sku == line.sku) {
                offer.available_quantity = (offer.available_quantity - line.quantity).max(0);
            }
        }
        let n = self.orders.len() as u64 + 1;
        let order_id = format!("27-{:05}-{:05}", n / 100_000, n % 100_000);
        let now = Utc::now();
        self.orders.push(Order {
            order_id: order_id.clone(),
            created: now,
            modified: now,
            cancelled: false,
            lines: order_lines,
        });
        Ok(order_id)
    }

    /// The seller cancels an order: its units are for sale again, and
    /// getOrders reports `cancelState` `CANCELED`, modified now.
    pub fn cancel_order(&mut self, order_id: &str) -> Result<(), String> {
        let order = self
            .orders
            .iter_mut()
            .find(|o| o.order_id == order_id)
            .ok_or_else(|| format!("no order {order_id}"))?;
        if order.cancelled {
            return Err(format!("order {order_id} is cancelled already"));
        }
        order.cancelled = true;
        order.modified = Utc::now();
        let lines = order.lines.clone();
        for line in &lines {
            if let Some(item) = self.items.get_mut(&line.sku) {
                item.quantity += line.quantity;
            }
            if let Some(offer) = self.offers.values_mut().find(|o| o.sku == line.sku) {
                offer.available_quantity += line.quantity;
            }
        }
        Ok(())
    }

    fn order_json(order: &Order, seller: &str) -> Value {
        let created = order.created.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
        let modified = order.modified.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
        let cancel_state = if order.cancelled {
            "CANCELED"
        } else {
            "NONE_REQUESTED"
        };
        let lines: Vec<Value> = order
            .lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let mut line = json!({
                    "lineItemId": format!("{}{:03}", order.order_id.replace('-', ""), i + 1),
                    "legacyItemId": l.listing_id,
                    "sku": l.sku,
                    "title": l.title,
                    "quantity": l.quantity,
                    "lineItemFulfillmentStatus": "NOT_STARTED",
                });
                if let Some((value, currency)) = &l.price
                    && let Some(cost) = value.checked_mul(rust_decimal::Decimal::from(l.quantity))
                {
                    line["lineItemCost"] = json!({"value": cost.to_string(), "currency": currency});
                }
                line
            })
            .collect();
        json!({
            "orderId": order.order_id,
            "legacyOrderId": order.order_id,
            "creationDate": created,
            "lastModifiedDate": modified,
            "orderFulfillmentStatus": "NOT_STARTED",
            "orderPaymentStatus": "PAID",
            "sellerId": seller,
            "cancelStatus": {"cancelState": cancel_state, "cancelRequests": []},
            "lineItems": lines,
        })
    }

    /// getOrders.
    pub fn get_orders(
        &self,
        base: &str,
        seller: &str,
        filter: Option<&str>,
        limit: Option<&str>,
        offset: Option<&str>,
    ) -> Answer {
        let dates = match filter.map(parse_filter).transpose() {
            Ok(dates) => dates.unwrap_or(DateFilter {
                modified: false,
                range: (None, None),
            }),
            Err(answer) => return answer,
        };
        let limit = match limit.map(str::parse::<usize>) {
            None => 50,
            Some(Ok(l)) if (1..=200).contains(&l) => l,
            _ => {
                return fulfillment_error(
                    400,
                    31100,
                    format!("Invalid limit: {}", limit.unwrap_or_default()),
                );
            }
        };
        let offset = match offset.map(str::parse::<usize>) {
            None => 0,
            Some(Ok(o)) => o,
            _ => {
                return fulfillment_error(
                    400,
                    31000,
                    format!("Invalid offset: {}", offset.unwrap_or_default()),
                );
            }
        };
        let matching: Vec<&Order> = self.orders.iter().filter(|o| dates.holds(o)).collect();
        let total = matching.len();
        let orders: Vec<Value> = matching
            .iter()
            .skip(offset)
            .take(limit)
            .map(|o| Self::order_json(o, seller))
            .collect();
        let href = |o: usize| {
            let mut url = reqwest::Url::parse(&format!("{base}/sell/fulfillment/v1/order"))
                .expect("simulator base URL");
            {
                let mut q = url.query_pairs_mut();
                if let Some(f) = filter {
                    q.append_pair("filter", f);
                }
                q.append_pair("limit", &limit.to_string());
                q.append_pair("offset", &o.to_string());
            }
            url.to_string()
        };
        let mut body = json!({
            "href": href(offset),
            "total": total,
            "limit": limit,
            "offset": offset,
            "orders": orders,
            "warnings": [],
        });
        if offset + limit < total {
            body["next"] = json!(href(offset + limit));
        }
        (200, Some(body))
    }
}
