//! Medusa's JSON, both ways: the product bodies we send to
//! `POST /admin/products/batch`, the location levels we send to
//! `POST /admin/inventory-items/location-levels/batch`, and lenient readers
//! for what the Admin API answers.
//!
//! Medusa keeps prices in major units (19.99, not 1999) and answers with
//! JSON numbers, so amounts go out as JSON numbers written from the
//! decimal's own text and come back read from the number's text, never
//! through arithmetic on a float. Every field we read is optional except
//! ids; an answer without one fails the parse, which the caller turns into
//! `ChannelError::Protocol`.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Map, Number, Value, json};

use crate::model::{
    ChannelListing, ChannelOrder, ChannelVariant, ItemError, OrderLine, ProductPush, PushStatus,
    VariantPush,
};
use crate::validate;

/// The option Medusa's own admin gives a product that has none: Medusa
/// refuses a product without options ("Product options are not provided"),
/// so a product with one plain variant carries this one.
pub const DEFAULT_OPTION: &str = "Default option";
/// The one value of [`DEFAULT_OPTION`].
pub const DEFAULT_OPTION_VALUE: &str = "Default option value";

/// `published` sells; `draft` is hidden from the storefront, which is what
/// both unfinished and archived mean to us (Medusa's other statuses,
/// `proposed` and `rejected`, belong to its review flow).
pub fn status(status: PushStatus) -> &'static str {
    match status {
        PushStatus::Active => "published",
        PushStatus::Draft | PushStatus::Archived => "draft",
    }
}

/// Why a push cannot be a Medusa product, before any call: the shared
/// rules, several variants without options (Medusa tells variants apart by
/// option values only), and an external id that is not a Medusa product id.
pub fn check(product: &ProductPush) -> Vec<ItemError> {
    let mut errors = validate::common(product);
    errors.extend(validate::options_for_variants(product, "Medusa"));
    if let Some(id) = product.external_id.as_deref()
        && !id.starts_with("prod_")
    {
        errors.push(ItemError::permanent(
            validate::INVALID_EXTERNAL_ID,
            format!("external_id: `{id}` is not a Medusa product id"),
        ));
    }
    errors
}

/// A decimal as a JSON number with the same digits (`19.99`, `25`).
pub fn amount(value: Decimal) -> Value {
    Number::from_str(&value.normalize().to_string())
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// A variant's option values by option title, as Medusa takes them.
fn option_map(product: &ProductPush, variant: &VariantPush) -> Map<String, Value> {
    if product.options.is_empty() {
        let mut map = Map::new();
        map.insert(DEFAULT_OPTION.into(), json!(DEFAULT_OPTION_VALUE));
        return map;
    }
    product
        .options
        .iter()
        .zip(&variant.option_values)
        .map(|(name, value)| (name.clone(), json!(value)))
        .collect()
}

/// A variant's title: its option values, as Medusa's admin names them.
fn variant_title(product: &ProductPush, variant: &VariantPush) -> String {
    if variant.option_values.is_empty() || product.options.is_empty() {
        product.title.clone()
    } else {
        variant.option_values.join(" / ")
    }
}

/// One variant of a create or update: its id when it has one (an update
/// without it creates the variant), SKU, barcode, weight (grams, Medusa's
/// weights carry no unit of their own), option values and its one price.
pub fn variant_body(product: &ProductPush, variant: &VariantPush, id: Option<&str>) -> Value {
    let mut body = Map::new();
    if let Some(id) = id {
        body.insert("id".into(), json!(id));
    } else {
        body.insert("manage_inventory".into(), json!(true));
    }
    body.insert("title".into(), json!(variant_title(product, variant)));
    body.insert("sku".into(), json!(variant.sku));
    if let Some(barcode) = &variant.barcode {
        body.insert("barcode".into(), json!(barcode));
    }
    if let Some(grams) = variant.weight_grams {
        body.insert("weight".into(), amount(grams));
    }
    body.insert(
        "options".into(),
        Value::Object(option_map(product, variant)),
    );
    body.insert(
        "prices".into(),
        json!([{
            "currency_code": variant.currency.to_ascii_lowercase(),
            "amount": amount(variant.price),
        }]),
    );
    Value::Object(body)
}

/// The options of a new product, each with the values its variants use,
/// in first-use order.
fn options_body(product: &ProductPush) -> Value {
    if product.options.is_empty() {
        return json!([{ "title": DEFAULT_OPTION, "values": [DEFAULT_OPTION_VALUE] }]);
    }
    let options: Vec<Value> = product
        .options
        .iter()
        .enumerate()
        .map(|(index, title)| {
            let mut values: Vec<&str> = Vec::new();
            for variant in &product.variants {
                if let Some(value) = variant.option_values.get(index)
                    && !values.contains(&value.as_str())
                {
                    values.push(value);
                }
            }
            json!({ "title": title, "values": values })
        })
        .collect();
    Value::Array(options)
}

/// A product for the `create` list of `products/batch`: options, variants,
/// images, and the sales channel it is sold in.
pub fn create_body(product: &ProductPush, sales_channel: &str) -> Value {
    let mut body = common_fields(product);
    body.insert("options".into(), options_body(product));
    let variants: Vec<Value> = product
        .variants
        .iter()
        .map(|v| variant_body(product, v, None))
        .collect();
    body.insert("variants".into(), Value::Array(variants));
    if !product.images.is_empty() {
        let images: Vec<Value> = product.images.iter().map(|u| json!({"url": u})).collect();
        body.insert("images".into(), Value::Array(images));
    }
    body.insert("sales_channels".into(), json!([{ "id": sales_channel }]));
    Value::Object(body)
}

/// A product for the `update` list of `products/batch`. Medusa replaces a
/// product's variants with the list sent (variants left out are deleted),
/// so every variant goes, with its id where known. Options are not sent:
/// since Medusa 2.16 they change through their own routes, so a new option
/// value on an existing product is refused by Medusa. Images are left
/// alone (resending would replace the merchant's).
pub fn update_body(product: &ProductPush, id: &str, variant_ids: &[Option<String>]) -> Value {
    let mut body = common_fields(product);
    body.insert("id".into(), json!(id));
    let variants: Vec<Value> = product
        .variants
        .iter()
        .zip(variant_ids)
        .map(|(v, id)| variant_body(product, v, id.as_deref()))
        .collect();
    body.insert("variants".into(), Value::Array(variants));
    Value::Object(body)
}

fn common_fields(product: &ProductPush) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("title".into(), json!(product.title));
    body.insert("handle".into(), json!(product.handle));
    body.insert("status".into(), json!(status(product.status)));
    if let Some(description) = &product.description {
        body.insert("description".into(), json!(description));
    }
    body
}

// ---------------------------------------------------------------- reading

fn de_opt_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

/// A number (or numeric string) as the decimal it spells.
pub fn decimal(value: &Value) -> Option<Decimal> {
    match value {
        Value::Number(n) => {
            let text = n.to_string();
            Decimal::from_str(&text)
                .or_else(|_| Decimal::from_scientific(&text))
                .ok()
        }
        Value::String(s) => Decimal::from_str(s.trim()).ok(),
        _ => None,
    }
}

fn de_opt_decimal<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    Ok(Option::<Value>::deserialize(d)?.as_ref().and_then(decimal))
}

/// A quantity: Medusa answers whole numbers, possibly as `5` or `5.0`.
fn de_opt_quantity<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(Option::<Value>::deserialize(d)?
        .as_ref()
        .and_then(decimal)
        .and_then(|q| i64::try_from(q.trunc()).ok()))
}

/// An ISO 8601 timestamp as Medusa writes them (`2026-11-30T00:55:09.988Z`).
pub fn timestamp(text: Option<&str>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text?.trim())
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// A stock location's level of one inventory item.
#[derive(Debug, Clone, Deserialize)]
pub struct LocationLevel {
    #[serde(default, deserialize_with = "de_opt_text")]
    pub location_id: Option<String>,
    #[serde(default, deserialize_with = "de_opt_quantity")]
    pub stocked_quantity: Option<i64>,
    #[serde(default, deserialize_with = "de_opt_quantity")]
    pub reserved_quantity: Option<i64>,
}

impl LocationLevel {
    /// Units that can still be sold here: stocked less reserved by orders.
    pub fn available(&self) -> Option<i64> {
        self.stocked_quantity
            .map(|s| s - self.reserved_quantity.unwrap_or(0))
    }
}

/// An inventory item as `GET /admin/inventory-items` lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct InventoryItem {
    pub id: String,
    #[serde(default, deserialize_with = "de_opt_text")]
    pub sku: Option<String>,
    #[serde(default)]
    pub location_levels: Vec<LocationLevel>,
}

impl InventoryItem {
    /// The item's level at `location`, if it is stocked there.
    pub fn level_at(&self, location: &str) -> Option<&LocationLevel> {
        self.location_levels
            .iter()
            .find(|l| l.location_id.as_deref() == Some(location))
    }
}

/// A variant's link to an inventory item, with the item when asked for.
#[derive(Debug, Clone, Deserialize)]
pub struct VariantInventory {
    pub inventory_item_id: String,
    #[serde(default)]
    pub inventory: Option<InventoryItem>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Price {
    #[serde(default, deserialize_with = "de_opt_text")]
    pub currency_code: Option<String>,
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub amount: Option<Decimal>,
}

/// A variant as products, the batch answer and the variants list give it.
#[derive(Debug, Clone, Deserialize)]
pub struct Variant {
    pub id: String,
    #[serde(default, deserialize_with = "de_opt_text")]
    pub sku: Option<String>,
    #[serde(default, deserialize_with = "de_opt_text")]
    pub product_id: Option<String>,
    #[serde(default)]
    pub prices: Vec<Price>,
    #[serde(default)]
    pub inventory_items: Vec<VariantInventory>,
}

impl Variant {
    /// The inventory item that holds this variant's stock (the first link;
    /// Medusa creates exactly one for a variant whose inventory it manages).
    pub fn inventory(&self) -> Option<&VariantInventory> {
        self.inventory_items.first()
    }

    /// The variant as read back: its price in `currency` (or its only
    /// price), and what can be sold at `location`.
    pub fn channel_variant(&self, currency: Option<&str>, location: &str) -> ChannelVariant {
        let in_currency = currency.and_then(|code| {
            self.prices
                .iter()
                .find(|p| {
                    p.currency_code
                        .as_deref()
                        .is_some_and(|c| c.eq_ignore_ascii_case(code))
                })
                .and_then(|p| p.amount)
        });
        let only = match self.prices.as_slice() {
            [only] => only.amount,
            _ => None,
        };
        let price = in_currency.or(only);
        let quantity = self
            .inventory()
            .and_then(|i| i.inventory.as_ref())
            .map(|item| {
                item.level_at(location)
                    .and_then(LocationLevel::available)
                    .unwrap_or(0)
            });
        ChannelVariant {
            external_id: self.id.clone(),
            sku: self.sku.clone(),
            price,
            quantity,
        }
    }
}

/// A product as `GET /admin/products` and `products/batch` answer it.
#[derive(Debug, Clone, Deserialize)]
pub struct Product {
    pub id: String,
    #[serde(default, deserialize_with = "de_opt_text")]
    pub handle: Option<String>,
    #[serde(default, deserialize_with = "de_opt_text")]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "de_opt_text")]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "de_opt_text")]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub variants: Vec<Variant>,
}

impl Product {
    pub fn listing(&self, currency: Option<&str>, location: &str) -> ChannelListing {
        ChannelListing {
            external_id: self.id.clone(),
            title: self.title.clone().unwrap_or_default(),
            status: self.status.clone(),
            variants: self
                .variants
                .iter()
                .map(|v| v.channel_variant(currency, location))
                .collect(),
            updated_at: timestamp(self.updated_at.as_deref()),
        }
    }
}

/// `POST /admin/products/batch`'s answer (we send no deletes).
#[derive(Debug, Clone, Deserialize)]
pub struct BatchAnswer {
    #[serde(default)]
    pub created: Vec<Product>,
    #[serde(default)]
    pub updated: Vec<Product>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ProductList {
    pub products: Vec<Product>,
    #[serde(default)]
    pub count: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct VariantList {
    pub variants: Vec<Variant>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InventoryItemList {
    pub inventory_items: Vec<InventoryItem>,
}

/// The store's defaults, from `GET /admin/stores`.
#[derive(Debug, Clone, Deserialize)]
pub struct Store {
    #[serde(default, deserialize_with = "de_opt_text")]
    pub default_sales_channel_id: Option<String>,
    #[serde(default, deserialize_with = "de_opt_text")]
    pub default_location_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StoreList {
    pub stores: Vec<Store>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OrderItem {
    #[serde(default, deserialize_with = "de_opt_text")]
    pub variant_id: Option<String>,
    #[serde(default, deserialize_with = "de_opt_text")]
    pub variant_sku: Option<String>,
    #[serde(default, deserialize_with = "de_opt_quantity")]
    pub quantity: Option<i64>,
}

/// An order as `GET /admin/orders` lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct Order {
    pub id: String,
    #[serde(default, deserialize_with = "de_opt_text")]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "de_opt_text")]
    pub created_at: Option<String>,
    #[serde(default, deserialize_with = "de_opt_text")]
    pub canceled_at: Option<String>,
    #[serde(default)]
    pub items: Vec<OrderItem>,
}

impl Order {
    /// Whether the order is one at all: a draft has reserved nothing yet.
    pub fn is_placed(&self) -> bool {
        self.status.as_deref() != Some("draft")
    }

    /// `status: canceled`, or a `canceled_at` set: its units went back.
    pub fn is_canceled(&self) -> bool {
        self.status.as_deref() == Some("canceled") || self.canceled_at.is_some()
    }

    pub fn order(&self) -> ChannelOrder {
        ChannelOrder {
            cancelled: self.is_canceled(),
            external_id: self.id.clone(),
            created_at: timestamp(self.created_at.as_deref()),
            lines: self
                .items
                .iter()
                .map(|item| OrderLine {
                    sku: item.variant_sku.clone(),
                    external_variant_id: item.variant_id.clone(),
                    quantity: item.quantity.unwrap_or(0),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct OrderList {
    pub orders: Vec<Order>,
    #[serde(default)]
    pub count: Option<u64>,
}

/// Medusa's error body: `{"type", "message"}`.
#[derive(Debug, Clone, Deserialize)]
pub struct ErrorBody {
    #[serde(default, rename = "type", deserialize_with = "de_opt_text")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "de_opt_text")]
    pub message: Option<String>,
}

impl ErrorBody {
    /// `type: message` when the body is one.
    pub fn summary(body: &[u8]) -> Option<(String, String)> {
        let error: ErrorBody = serde_json::from_slice(body).ok()?;
        Some((
            error.kind.unwrap_or_else(|| "error".into()),
            error.message.unwrap_or_default(),
        ))
    }
}
