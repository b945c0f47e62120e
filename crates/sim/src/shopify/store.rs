//! One simulated shop's data, its objects as the Admin API shows them, and
//! the queries on it (mutations are in `mutations.rs`).
//!
//! Each resolver takes the root field as parsed (arguments resolved) and
//! returns the whole object Shopify would return for it; `answer::project`
//! then keeps only what the client selected. Objects and connections follow
//! the 2026-07 reference (https://shopify.dev/docs/api/admin-graphql/2026-07/objects/Product,
//! .../objects/ProductVariant, .../objects/Order, .../objects/LineItem,
//! .../queries/products, .../queries/productVariants, .../queries/orders,
//! .../queries/locations).

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::answer;
use super::gql::Field;

/// Shop ids start above 2^53 so that clients reading them through a float
/// lose digits and fail the tests, as they would on real Shopify ids.
const FIRST_ID: u64 = 9_100_000_000_000_001;

pub fn gid(kind: &str, id: u64) -> String {
    format!("gid://shopify/{kind}/{id}")
}

/// The numeric id of a `gid://shopify/{kind}/{id}` (or a bare number).
pub fn parse_gid(kind: &str, value: &str) -> Option<u64> {
    let prefix = format!("gid://shopify/{kind}/");
    value.strip_prefix(&prefix).unwrap_or(value).parse().ok()
}

pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[derive(Debug, Clone)]
pub struct Variant {
    pub id: u64,
    pub inventory_item_id: u64,
    pub sku: String,
    pub price: Decimal,
    pub compare_at_price: Option<Decimal>,
    pub barcode: Option<String>,
    pub options: Vec<(String, String)>,
    pub available: i64,
    pub tracked: bool,
}

#[derive(Debug, Clone)]
pub struct Product {
    pub id: u64,
    pub title: String,
    pub handle: String,
    pub description_html: String,
    pub vendor: String,
    pub product_type: String,
    pub tags: Vec<String>,
    pub status: String,
    pub options: Vec<(String, Vec<String>)>,
    pub variants: Vec<Variant>,
    pub files: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct OrderLine {
    pub id: u64,
    pub sku: String,
    pub quantity: i64,
    pub variant_id: u64,
    pub product_id: u64,
    pub title: String,
    pub price: Decimal,
}

#[derive(Debug, Clone)]
pub struct Order {
    pub id: u64,
    pub number: u64,
    pub created_at: DateTime<Utc>,
    /// Moves with every cancellation and refund, as Shopify's does.
    pub updated_at: DateTime<Utc>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub lines: Vec<OrderLine>,
    pub refunds: Vec<Refund>,
}

impl Order {
    /// Units of a line not refunded yet.
    fn refundable(&self, line: &OrderLine) -> i64 {
        let refunded: i64 = self
            .refunds
            .iter()
            .flat_map(|r| &r.lines)
            .filter(|l| l.line_item_id == line.id)
            .map(|l| l.quantity)
            .sum();
        line.quantity - refunded
    }
}

/// A refund of some of an order's line items (the REST Refund resource).
#[derive(Debug, Clone)]
pub struct Refund {
    pub id: u64,
    pub created_at: DateTime<Utc>,
    pub lines: Vec<RefundLine>,
}

#[derive(Debug, Clone)]
pub struct RefundLine {
    pub id: u64,
    pub line_item_id: u64,
    pub quantity: i64,
    /// `cancel`, `return` or `no_restock`, as `refundCreate` accepts them.
    pub restock_type: String,
}

/// Everything one shop holds.
#[derive(Debug)]
pub struct Shop {
    pub(super) next_id: u64,
    pub location_id: u64,
    pub products: BTreeMap<u64, Product>,
    /// Product id by handle, so a shop of 100,000 products answers in
    /// constant time what Shopify answers from its index.
    pub(super) handles: HashMap<String, u64>,
    pub orders: Vec<Order>,
    /// `@idempotent` keys seen, with the arguments and the answer given.
    pub(super) idempotency: HashMap<String, (Value, Value)>,
}

impl Default for Shop {
    fn default() -> Self {
        let mut shop = Shop {
            next_id: FIRST_ID,
            location_id: 0,
            products: BTreeMap::new(),
            handles: HashMap::new(),
            orders: Vec::new(),
            idempotency: HashMap::new(),
        };
        shop.location_id = shop.id();
        shop
    }
}

pub(super) fn user_error(field: &[&str], message: impl Into<String>, code: &str) -> Value {
    json!({"field": field, "message": message.into(), "code": code})
}

pub(super) fn money(value: &Value) -> Option<Decimal> {
    match value {
        Value::String(s) => Decimal::from_str(s.trim()).ok(),
        Value::Number(n) => Decimal::from_str(&n.to_string()).ok(),
        _ => None,
    }
}

pub(super) fn text(input: &Value, key: &str) -> Option<String> {
    input.get(key).and_then(Value::as_str).map(str::to_owned)
}

impl Shop {
    pub(super) fn id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    pub fn variant_by_sku(&self, sku: &str) -> Option<(&Product, &Variant)> {
        self.products
            .values()
            .flat_map(|p| p.variants.iter().map(move |v| (p, v)))
            .find(|(_, v)| v.sku == sku)
    }

    pub fn variant_json(&self, product: &Product, v: &Variant) -> Value {
        json!({
            "__typename": "ProductVariant",
            "id": gid("ProductVariant", v.id),
            "legacyResourceId": v.id.to_string(),
            "title": v.options.iter().map(|(_, value)| value.as_str()).collect::<Vec<_>>().join(" / "),
            "sku": v.sku,
            "price": v.price.to_string(),
            "compareAtPrice": v.compare_at_price.map(|p| p.to_string()),
            "barcode": v.barcode,
            "inventoryQuantity": v.available,
            "selectedOptions": v.options.iter().map(|(name, value)| json!({"name": name, "value": value})).collect::<Vec<_>>(),
            "inventoryItem": {
                "__typename": "InventoryItem",
                "id": gid("InventoryItem", v.inventory_item_id),
                "sku": v.sku,
                "tracked": v.tracked,
            },
            "product": {"__typename": "Product", "id": gid("Product", product.id), "title": product.title},
        })
    }

    pub fn product_json(&self, p: &Product) -> Value {
        json!({
            "__typename": "Product",
            "id": gid("Product", p.id),
            "legacyResourceId": p.id.to_string(),
            "title": p.title,
            "handle": p.handle,
            "descriptionHtml": p.description_html,
            "vendor": p.vendor,
            "productType": p.product_type,
            "tags": p.tags,
            "status": p.status,
            "createdAt": timestamp(p.created_at),
            "updatedAt": timestamp(p.updated_at),
            "options": p.options.iter().enumerate().map(|(i, (name, values))| json!({
                "__typename": "ProductOption",
                "name": name,
                "position": i + 1,
                "values": values,
                "optionValues": values.iter().map(|v| json!({"name": v, "hasVariants": true})).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "variants": p.variants.iter().map(|v| self.variant_json(p, v)).collect::<Vec<_>>(),
        })
    }

    /// `products(first:, after:)`, oldest first.
    pub fn products_page(&self, field: &Field) -> Result<Value, String> {
        let items = self
            .products
            .values()
            .map(|p| self.product_json(p))
            .collect();
        answer::connection(field, items)
    }

    /// `orders(first:, after:, query: "created_at:>=…" or "updated_at:>=…",
    /// sortKey:)`, oldest first by the key searched on.
    pub fn orders_page(&self, field: &Field) -> Result<Value, String> {
        let since = match field.arg("query").and_then(Value::as_str) {
            Some(q) => Some(parse_since(q)?),
            None => None,
        };
        let mut orders: Vec<&Order> = self
            .orders
            .iter()
            .filter(|o| match since {
                None => true,
                Some((OrderDate::Created, s)) => o.created_at >= s,
                Some((OrderDate::Updated, s)) => o.updated_at >= s,
            })
            .collect();
        if field.arg("sortKey").and_then(Value::as_str) == Some("UPDATED_AT") {
            orders.sort_by_key(|o| (o.updated_at, o.id));
        }
        let items = orders.into_iter().map(|o| self.order_json(o)).collect();
        answer::connection(field, items)
    }

    /// `productVariants(first:, after:, query: "sku:\"A\" OR sku:\"B\"")`.
    pub fn variants_page(&self, field: &Field) -> Result<Value, String> {
        let skus = match field.arg("query").and_then(Value::as_str) {
            Some(q) => Some(parse_sku_query(q)?),
            None => None,
        };
        let items = self
            .products
            .values()
            .flat_map(|p| p.variants.iter().map(move |v| (p, v)))
            .filter(|(_, v)| skus.as_ref().is_none_or(|s| s.contains(&v.sku)))
            .map(|(p, v)| self.variant_json(p, v))
            .collect();
        answer::connection(field, items)
    }

    /// `product(id:)`.
    pub fn product_by_id(&self, field: &Field) -> Result<Value, String> {
        let id = field
            .arg("id")
            .and_then(Value::as_str)
            .ok_or("Variable $id of type ID! was provided invalid value")?;
        Ok(parse_gid("Product", id)
            .and_then(|id| self.products.get(&id))
            .map(|p| self.product_json(p))
            .unwrap_or(Value::Null))
    }

    /// `order(id:)`.
    pub fn order_by_id(&self, field: &Field) -> Result<Value, String> {
        let id = field
            .arg("id")
            .and_then(Value::as_str)
            .ok_or("Variable $id of type ID! was provided invalid value")?;
        Ok(parse_gid("Order", id)
            .and_then(|id| self.orders.iter().find(|o| o.id == id))
            .map(|o| self.order_json(o))
            .unwrap_or(Value::Null))
    }

    pub fn order_json(&self, o: &Order) -> Value {
        json!({
            "__typename": "Order",
            "id": gid("Order", o.id),
            "legacyResourceId": o.id.to_string(),
            "name": format!("#{}", o.number),
            "createdAt": timestamp(o.created_at),
            "updatedAt": timestamp(o.updated_at),
            "cancelledAt": o.cancelled_at.map(timestamp),
            "lineItems": o.lines.iter().map(|l| json!({
                "__typename": "LineItem",
                "id": gid("LineItem", l.id),
                "sku": l.sku,
                "quantity": l.quantity,
                "title": l.title,
                "variant": {"__typename": "ProductVariant", "id": gid("ProductVariant", l.variant_id)},
                "product": {"__typename": "Product", "id": gid("Product", l.product_id)},
            })).collect::<Vec<_>>(),
        })
    }

    pub fn locations_page(&self, field: &Field) -> Result<Value, String> {
        let location = json!({"__typename": "Location", "id": gid("Location", self.location_id), "name": "Shop location", "isActive": true});
        answer::connection(field, vec![location])
    }

    /// Place an order for `lines` (sku, quantity); stock drops.
    pub fn place_order(
        &mut self,
        lines: &[(String, i64)],
        now: DateTime<Utc>,
    ) -> Result<Order, String> {
        let mut order_lines = Vec::new();
        for (sku, quantity) in lines {
            let (product, variant) = self
                .variant_by_sku(sku)
                .ok_or_else(|| format!("no variant with SKU {sku}"))?;
            if variant.tracked && variant.available < *quantity {
                return Err(format!("only {} of SKU {sku} in stock", variant.available));
            }
            order_lines.push((
                product.id,
                variant.id,
                sku.clone(),
                *quantity,
                product.title.clone(),
                variant.price,
            ));
        }
        let mut lines_out = Vec::new();
        for (pid, vid, sku, quantity, title, price) in order_lines {
            if let Some(v) = self
                .products
                .get_mut(&pid)
                .and_then(|p| p.variants.iter_mut().find(|v| v.id == vid))
            {
                v.available -= quantity;
            }
            lines_out.push(OrderLine {
                id: self.id(),
                sku,
                quantity,
                variant_id: vid,
                product_id: pid,
                title,
                price,
            });
        }
        let order = Order {
            id: self.id(),
            number: 1001 + self.orders.len() as u64,
            created_at: now,
            updated_at: now,
            cancelled_at: None,
            lines: lines_out,
            refunds: Vec::new(),
        };
        self.orders.push(order.clone());
        Ok(order)
    }

    /// Put `quantity` of a variant back in stock.
    fn restock(&mut self, product: u64, variant: u64, quantity: i64) {
        if let Some(v) = self
            .products
            .get_mut(&product)
            .and_then(|p| p.variants.iter_mut().find(|v| v.id == variant))
        {
            v.available += quantity;
        }
    }

    /// Refund `lines` (sku, quantity, restock type) of an order, as
    /// `refundCreate` does: each at most what is left unrefunded of its
    /// line; restocked lines go back on the shelf.
    pub fn refund_order(
        &mut self,
        order_id: u64,
        lines: &[(String, i64, String)],
        now: DateTime<Utc>,
    ) -> Result<(Order, Refund), String> {
        let index = self
            .orders
            .iter()
            .position(|o| o.id == order_id)
            .ok_or_else(|| format!("no order {order_id}"))?;
        let mut refund_lines = Vec::new();
        let mut restocks = Vec::new();
        for (sku, quantity, restock_type) in lines {
            if !matches!(restock_type.as_str(), "cancel" | "return" | "no_restock") {
                return Err(format!("restock type {restock_type} is not accepted"));
            }
            let order = &self.orders[index];
            let line = order
                .lines
                .iter()
                .find(|l| &l.sku == sku)
                .ok_or_else(|| format!("the order has no line with SKU {sku}"))?;
            if *quantity <= 0 || *quantity > order.refundable(line) {
                return Err(format!(
                    "cannot refund {quantity} of {sku}: {} left to refund",
                    order.refundable(line)
                ));
            }
            if restock_type != "no_restock" {
                restocks.push((line.product_id, line.variant_id, *quantity));
            }
            refund_lines.push((line.id, *quantity, restock_type.clone()));
        }
        for (product, variant, quantity) in restocks {
            self.restock(product, variant, quantity);
        }
        let lines = refund_lines
            .into_iter()
            .map(|(line_item_id, quantity, restock_type)| RefundLine {
                id: self.id(),
                line_item_id,
                quantity,
                restock_type,
            })
            .collect();
        let refund = Refund {
            id: self.id(),
            created_at: now,
            lines,
        };
        let order = &mut self.orders[index];
        order.refunds.push(refund.clone());
        order.updated_at = now;
        Ok((order.clone(), refund))
    }

    /// Cancel an order, restocking what is not refunded yet (`orderCancel`
    /// with `restock: true`).
    pub fn cancel_order(&mut self, order_id: u64, now: DateTime<Utc>) -> Result<Order, String> {
        let order = self
            .orders
            .iter_mut()
            .find(|o| o.id == order_id)
            .ok_or_else(|| format!("no order {order_id}"))?;
        if order.cancelled_at.is_some() {
            return Err(format!("order {order_id} is cancelled already"));
        }
        order.cancelled_at = Some(now);
        order.updated_at = now;
        let order = order.clone();
        for line in &order.lines {
            self.restock(line.product_id, line.variant_id, order.refundable(line));
        }
        Ok(order)
    }
}

/// `sku:"A" OR sku:B` terms of a productVariants search query.
fn parse_sku_query(query: &str) -> Result<Vec<String>, String> {
    query
        .split(" OR ")
        .map(|term| {
            let value = term.trim().strip_prefix("sku:").ok_or_else(|| {
                format!("the simulator only understands sku: searches, not {term:?}")
            })?;
            Ok(
                match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
                    Some(quoted) => quoted.replace("\\\"", "\"").replace("\\\\", "\\"),
                    None => value.to_owned(),
                },
            )
        })
        .collect()
}

/// Which date an orders search filters on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OrderDate {
    Created,
    Updated,
}

/// The `created_at:>=…` or `updated_at:>=…` term of an orders search query
/// (https://shopify.dev/docs/api/usage/search-syntax).
fn parse_since(query: &str) -> Result<(OrderDate, DateTime<Utc>), String> {
    let (date, term) = query
        .split_whitespace()
        .find_map(|t| {
            t.strip_prefix("created_at:>=")
                .map(|v| (OrderDate::Created, v))
                .or_else(|| t.strip_prefix("updated_at:>=").map(|v| (OrderDate::Updated, v)))
        })
        .ok_or_else(|| {
            format!(
                "the simulator only understands created_at:>= and updated_at:>= queries, not {query:?}"
            )
        })?;
    let term = term.trim_matches(|c| c == '\'' || c == '"');
    DateTime::parse_from_rfc3339(term)
        .map(|d| (date, d.with_timezone(&Utc)))
        .map_err(|e| format!("invalid date in query: {e}"))
}
