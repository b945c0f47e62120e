//! One simulated seller's inventory items, groups, offers and orders, and
//! what the inventory item and group calls do to them (offers are in
//! `offers.rs`, orders in `orders.rs`). Pure: the
//! HTTP side (auth, limits, headers) is in `mod.rs`, so these rules read
//! like the reference pages they follow (cited there).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};

/// eBay's bulk calls take at most 25 entries.
pub const BULK_LIMIT: usize = 25;

/// An answer: HTTP status and body (`None` for 204 No Content).
pub type Answer = (u16, Option<Value>);

/// One `ErrorDetailV3`.
pub fn error(id: i64, category: &str, message: impl Into<String>) -> Value {
    let message = message.into();
    json!({
        "errorId": id,
        "domain": "API_INVENTORY",
        "category": category,
        "message": message,
        "longMessage": message,
    })
}

/// A whole-call refusal, `{"errors": [...]}`.
pub fn refuse(status: u16, id: i64, message: impl Into<String>) -> Answer {
    (
        status,
        Some(json!({ "errors": [error(id, "REQUEST", message)] })),
    )
}

pub(super) fn not_found(what: &str) -> Answer {
    refuse(
        404,
        25710,
        format!(
            "We didn't find the resource/entity you are requesting. Please verify the request ({what})"
        ),
    )
}

pub(super) fn offer_unavailable(id: &str) -> Value {
    error(
        25713,
        "REQUEST",
        format!("This Offer is not available : {id}."),
    )
}

#[derive(Debug, Clone)]
pub struct Item {
    pub locale: Option<String>,
    pub product: Value,
    pub condition: Option<String>,
    pub quantity: i64,
    pub package: Option<Value>,
}

#[derive(Debug, Clone)]
pub struct Group {
    pub body: Value,
    pub variant_skus: Vec<String>,
}

impl Group {
    pub fn title(&self) -> String {
        self.body["title"].as_str().unwrap_or_default().to_owned()
    }
}

#[derive(Debug, Clone)]
pub struct Offer {
    pub offer_id: String,
    pub sku: String,
    pub marketplace_id: String,
    pub format: String,
    pub available_quantity: i64,
    pub price: Option<(Decimal, String)>,
    /// The rest of the offer as last written (category, location, policies…).
    pub details: Value,
    pub listing_id: Option<String>,
}

impl Offer {
    pub fn published(&self) -> bool {
        self.listing_id.is_some()
    }

    pub(super) fn to_json(&self) -> Value {
        let mut body = self.details.clone();
        if !body.is_object() {
            body = json!({});
        }
        body["offerId"] = json!(self.offer_id);
        body["sku"] = json!(self.sku);
        body["marketplaceId"] = json!(self.marketplace_id);
        body["format"] = json!(self.format);
        body["availableQuantity"] = json!(self.available_quantity);
        if let Some((value, currency)) = &self.price {
            body["pricingSummary"] =
                json!({"price": {"value": value.to_string(), "currency": currency}});
        }
        body["status"] = json!(if self.published() {
            "PUBLISHED"
        } else {
            "UNPUBLISHED"
        });
        if let Some(listing) = &self.listing_id {
            body["listing"] = json!({"listingId": listing, "listingStatus": "ACTIVE"});
        }
        body
    }
}

#[derive(Debug, Clone)]
pub struct OrderLine {
    pub sku: String,
    pub quantity: i64,
    pub listing_id: String,
    pub title: String,
    pub price: Option<(Decimal, String)>,
}

#[derive(Debug, Clone)]
pub struct Order {
    pub order_id: String,
    pub created: DateTime<Utc>,
    /// `lastModifiedDate`: moves when the order is cancelled.
    pub modified: DateTime<Utc>,
    /// `cancelStatus.cancelState` is `CANCELED`.
    pub cancelled: bool,
    pub lines: Vec<OrderLine>,
}

/// One seller's catalog on eBay.
#[derive(Debug, Default)]
pub struct Store {
    pub items: BTreeMap<String, Item>,
    pub groups: BTreeMap<String, Group>,
    pub offers: BTreeMap<String, Offer>,
    pub orders: Vec<Order>,
    next_id: u64,
}

pub(super) fn requests(body: &Value) -> Result<&Vec<Value>, Answer> {
    match body.get("requests").and_then(Value::as_array) {
        Some(list) if list.is_empty() => Err(refuse(400, 25709, "Invalid value for requests.")),
        Some(list) if list.len() > BULK_LIMIT => Err(refuse(
            400,
            25727,
            format!("The number of InventoryItems in the request cannot exceed {BULK_LIMIT}."),
        )),
        Some(list) => Ok(list),
        None => Err(refuse(400, 25709, "Invalid value for requests.")),
    }
}

/// 200 when every entry succeeded, 207 Multi-Status otherwise.
pub(super) fn multi(responses: Vec<Value>) -> Answer {
    let all_ok = responses.iter().all(|r| {
        r["statusCode"]
            .as_u64()
            .is_some_and(|s| (200..300).contains(&s))
    });
    (
        if all_ok { 200 } else { 207 },
        Some(json!({ "responses": responses })),
    )
}

pub(super) fn valid_key(key: &str) -> bool {
    !key.trim().is_empty() && key.chars().count() <= 50
}

/// `Amount` → decimal and currency; `Err` for a value eBay would call invalid.
pub(super) fn amount(value: &Value) -> Result<(Decimal, String), Value> {
    let parsed = value["value"]
        .as_str()
        .and_then(|v| v.parse::<Decimal>().ok())
        .filter(|v| *v > Decimal::ZERO);
    match (parsed, value["currency"].as_str()) {
        (Some(v), Some(c)) if c.len() == 3 => Ok((v, c.to_owned())),
        _ => Err(error(25003, "REQUEST", "Invalid price.")),
    }
}

impl Store {
    pub(super) fn next(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub fn groups_of(&self, sku: &str) -> Vec<String> {
        self.groups
            .iter()
            .filter(|(_, g)| g.variant_skus.iter().any(|s| s == sku))
            .map(|(k, _)| k.clone())
            .collect()
    }

    pub fn offer_of(&self, sku: &str) -> Option<&Offer> {
        self.offers.values().find(|o| o.sku == sku)
    }

    pub fn item_json(&self, sku: &str, item: &Item) -> Value {
        let mut body = json!({
            "sku": sku,
            "product": item.product,
            "availability": {"shipToLocationAvailability": {"quantity": item.quantity}},
        });
        if let Some(locale) = &item.locale {
            body["locale"] = json!(locale);
        }
        if let Some(condition) = &item.condition {
            body["condition"] = json!(condition);
        }
        if let Some(package) = &item.package {
            body["packageWeightAndSize"] = package.clone();
        }
        let groups = self.groups_of(sku);
        if !groups.is_empty() {
            body["groupIds"] = json!(groups);
            body["inventoryItemGroupKeys"] = json!(groups);
        }
        body
    }

    /// bulkCreateOrReplaceInventoryItem.
    pub fn bulk_create_or_replace_items(&mut self, body: &Value) -> Answer {
        let list = match requests(body) {
            Ok(list) => list,
            Err(answer) => return answer,
        };
        let mut skus: Vec<&str> = list.iter().filter_map(|r| r["sku"].as_str()).collect();
        skus.sort_unstable();
        if skus.windows(2).any(|w| w[0] == w[1]) {
            return refuse(
                400,
                25728,
                "InventoryItems should be unique in the request.",
            );
        }
        let mut responses = Vec::new();
        for request in list {
            let sku = request["sku"].as_str().unwrap_or_default().to_owned();
            let locale = request["locale"].as_str().map(str::to_owned);
            let quantity = request["availability"]["shipToLocationAvailability"]["quantity"]
                .as_i64()
                .unwrap_or(0);
            let failure = if !request.get("product").is_none_or(Value::is_object) {
                Some(error(25709, "REQUEST", "Invalid value for product."))
            } else if !valid_key(&sku) {
                Some(error(
                    25707,
                    "REQUEST",
                    "Invalid sku. sku has to be alphanumeric with upto 50 characters in length",
                ))
            } else if quantity < 0 {
                Some(error(25004, "REQUEST", "Invalid quantity."))
            } else if request["product"]["title"]
                .as_str()
                .is_some_and(|t| t.chars().count() > 80)
            {
                Some(error(
                    25016,
                    "REQUEST",
                    "Invalid title. The title may not exceed 80 characters.",
                ))
            } else {
                None
            };
            if let Some(failure) = failure {
                responses.push(
                    json!({"statusCode": 400, "sku": sku, "locale": locale, "errors": [failure]}),
                );
                continue;
            }
            let item = Item {
                locale: locale.clone(),
                product: request.get("product").cloned().unwrap_or_else(|| json!({})),
                condition: request["condition"].as_str().map(str::to_owned),
                quantity,
                package: request.get("packageWeightAndSize").cloned(),
            };
            self.items.insert(sku.clone(), item);
            responses.push(json!({"statusCode": 200, "sku": sku, "locale": locale}));
        }
        multi(responses)
    }

    /// getInventoryItems: `limit` 1–200 (default 25), `offset` the page number.
    pub fn inventory_items(&self, base: &str, limit: Option<&str>, offset: Option<&str>) -> Answer {
        let limit = match limit.map(|l| l.parse::<usize>()) {
            None => 25,
            Some(Ok(l)) if (1..=200).contains(&l) => l,
            _ => {
                return refuse(
                    400,
                    25706,
                    "You have provided invalid pagination values. limit",
                );
            }
        };
        let page = match offset.map(|o| o.parse::<usize>()) {
            None => 0,
            Some(Ok(o)) => o,
            _ => {
                return refuse(
                    400,
                    25706,
                    "You have provided invalid pagination values. offset",
                );
            }
        };
        let total = self.items.len();
        let pages = total.div_ceil(limit);
        let items: Vec<Value> = self
            .items
            .iter()
            .skip(page.saturating_mul(limit))
            .take(limit)
            .map(|(sku, item)| self.item_json(sku, item))
            .collect();
        let href =
            |p: usize| format!("{base}/sell/inventory/v1/inventory_item?offset={p}&limit={limit}");
        let mut body = json!({
            "href": href(page),
            "limit": limit,
            "size": pages,
            "total": total,
            "inventoryItems": items,
        });
        if page + 1 < pages {
            body["next"] = json!(href(page + 1));
        }
        if page > 0 {
            body["prev"] = json!(href(page - 1));
        }
        (200, Some(body))
    }

    /// bulkGetInventoryItem.
    pub fn bulk_get_items(&self, body: &Value) -> Answer {
        let list = match requests(body) {
            Ok(list) => list,
            Err(answer) => return answer,
        };
        let responses = list
            .iter()
            .map(|r| {
                let sku = r["sku"].as_str().unwrap_or_default();
                match self.items.get(sku) {
                    Some(item) => json!({"statusCode": 200, "sku": sku, "inventoryItem": self.item_json(sku, item)}),
                    None => json!({"statusCode": 404, "sku": sku, "errors": [error(25702, "REQUEST", format!("SKU {sku} is not available in the system"))]}),
                }
            })
            .collect();
        multi(responses)
    }

    /// createOrReplaceInventoryItemGroup.
    pub fn put_group(&mut self, key: &str, body: &Value) -> Answer {
        let variant_skus: Vec<String> = body["variantSKUs"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if !valid_key(key) {
            return refuse(400, 25709, "Invalid value for inventoryItemGroupKey.");
        }
        if !body.is_object() {
            return refuse(
                400,
                2004,
                "Invalid request. The request body is not a JSON object.",
            );
        }
        if variant_skus.is_empty() {
            return refuse(
                400,
                25013,
                "Invalid InventoryItemGroup information. variantSKUs is missing.",
            );
        }
        let mut body = body.clone();
        body["inventoryItemGroupKey"] = json!(key);
        self.groups
            .insert(key.to_owned(), Group { body, variant_skus });
        (204, None)
    }

    pub fn get_group(&self, key: &str) -> Answer {
        match self.groups.get(key) {
            Some(group) => (200, Some(group.body.clone())),
            None => not_found(key),
        }
    }
}
