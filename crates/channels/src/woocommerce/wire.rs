//! WooCommerce's JSON, both ways: the bodies we send (products, variations,
//! stock levels, webhooks) and lenient readers for what stores answer.
//!
//! Stores are untrusted and vary (plugins rewrite responses, the docs
//! themselves show `"status": true` on a variation and `price` as a number
//! on order lines), so every field we read is optional and every number is
//! accepted as a JSON number or a numeric string. Anything we cannot use
//! becomes `None`, never a panic; a missing `id` fails the parse, which the
//! caller turns into `ChannelError::Protocol`.

use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::model::{
    ChannelListing, ChannelOrder, ChannelVariant, ItemError, OrderLine, ProductPush, PushStatus,
    VariantPush,
};
use crate::validate;

/// The unit the store keeps weights in (WooCommerce > Settings > Products >
/// `woocommerce_weight_unit`); the REST API takes weights as bare strings in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightUnit {
    Kg,
    G,
    Lbs,
    Oz,
}

impl WeightUnit {
    /// From the connection's `weight_unit` setting; WooCommerce's default is kg.
    pub fn from_setting(value: Option<&str>) -> Result<Self, String> {
        match value.map(str::to_ascii_lowercase).as_deref() {
            None | Some("kg") => Ok(WeightUnit::Kg),
            Some("g") => Ok(WeightUnit::G),
            Some("lbs") => Ok(WeightUnit::Lbs),
            Some("oz") => Ok(WeightUnit::Oz),
            Some(other) => Err(format!(
                "weight_unit `{other}` is not one of kg, g, lbs, oz"
            )),
        }
    }

    /// Grams as the store's weight string.
    pub fn format(self, grams: Decimal) -> String {
        let value = match self {
            WeightUnit::Kg => grams / Decimal::from(1000),
            WeightUnit::G => grams,
            WeightUnit::Lbs => grams / Decimal::new(45_359_237, 5),
            WeightUnit::Oz => grams / Decimal::new(28_349_523_125, 9),
        };
        value.round_dp(3).normalize().to_string()
    }
}

/// `publish` sells; `draft` is unfinished; `private` hides the product from
/// the shop but keeps it (and its orders) in the admin, which is what
/// archiving means to us. Options from the product properties table.
pub fn status(status: PushStatus) -> &'static str {
    match status {
        PushStatus::Active => "publish",
        PushStatus::Draft => "draft",
        PushStatus::Archived => "private",
    }
}

/// `regular_price` and `sale_price`: a compare-at price above the price means
/// the product is on sale at `price`. An empty `sale_price` clears a sale.
fn prices(variant: &VariantPush) -> (String, String) {
    match variant.compare_at_price {
        Some(compare_at) if compare_at > variant.price => {
            (compare_at.to_string(), variant.price.to_string())
        }
        _ => (variant.price.to_string(), String::new()),
    }
}

/// Whether a push becomes a `simple` product (no options, one variant) or a
/// `variable` one with attributes and variations.
pub fn is_simple(product: &ProductPush) -> bool {
    product.options.is_empty()
}

/// Why a push cannot be expressed as a WooCommerce product, before any
/// call: the shared rules, options for several variants (a `simple`
/// product has one), and an external id that is a WooCommerce id. The REST
/// API documents no limit of its own beyond a required `name`
/// (https://woocommerce.github.io/woocommerce-rest-api-docs/#product-properties).
pub fn check(product: &ProductPush) -> Vec<ItemError> {
    let mut errors = validate::common(product);
    errors.extend(validate::options_for_variants(product, "WooCommerce"));
    if let Some(text) = product.external_id.as_deref()
        && parse_id(text).is_none()
    {
        errors.push(ItemError::permanent(
            validate::INVALID_EXTERNAL_ID,
            format!("external_id: `{text}` is not a WooCommerce id"),
        ));
    }
    errors
}

/// A WooCommerce id: a positive integer.
pub fn parse_id(text: &str) -> Option<u64> {
    text.trim().parse().ok().filter(|id| *id > 0)
}

fn stock_fields(body: &mut Map<String, Value>, quantity: i64) {
    body.insert("manage_stock".into(), Value::Bool(true));
    body.insert("stock_quantity".into(), json!(quantity.max(0)));
}

/// The product object for `products/batch` (create, or update with `id`).
/// Images are sent on create only: WooCommerce downloads every `src` it is
/// given into the media library again, so resending them on each update
/// would pile up copies.
pub fn product_body(product: &ProductPush, id: Option<u64>, unit: WeightUnit) -> Value {
    let mut body = Map::new();
    if let Some(id) = id {
        body.insert("id".into(), json!(id));
    }
    body.insert("name".into(), json!(product.title));
    body.insert("slug".into(), json!(product.handle));
    body.insert("status".into(), json!(status(product.status)));
    if let Some(description) = &product.description {
        body.insert("description".into(), json!(description));
    }
    if id.is_none() && !product.images.is_empty() {
        let images: Vec<Value> = product
            .images
            .iter()
            .map(|src| json!({"src": src}))
            .collect();
        body.insert("images".into(), Value::Array(images));
    }
    if is_simple(product) {
        body.insert("type".into(), json!("simple"));
        if let Some(variant) = product.variants.first() {
            body.insert("sku".into(), json!(variant.sku));
            let (regular, sale) = prices(variant);
            body.insert("regular_price".into(), json!(regular));
            body.insert("sale_price".into(), json!(sale));
            if let Some(grams) = variant.weight_grams {
                body.insert("weight".into(), json!(unit.format(grams)));
            }
            stock_fields(&mut body, variant.quantity);
        }
    } else {
        body.insert("type".into(), json!("variable"));
        let attributes: Vec<Value> = product
            .options
            .iter()
            .enumerate()
            .map(|(index, name)| {
                let mut options: Vec<&str> = Vec::new();
                for variant in &product.variants {
                    if let Some(value) = variant.option_values.get(index)
                        && !options.contains(&value.as_str())
                    {
                        options.push(value);
                    }
                }
                json!({
                    "name": name,
                    "position": index,
                    "visible": true,
                    "variation": true,
                    "options": options,
                })
            })
            .collect();
        body.insert("attributes".into(), Value::Array(attributes));
    }
    Value::Object(body)
}

/// The variation object for `products/{id}/variations/batch`.
pub fn variation_body(
    product: &ProductPush,
    variant: &VariantPush,
    id: Option<u64>,
    unit: WeightUnit,
) -> Value {
    let mut body = Map::new();
    if let Some(id) = id {
        body.insert("id".into(), json!(id));
    }
    body.insert("sku".into(), json!(variant.sku));
    let (regular, sale) = prices(variant);
    body.insert("regular_price".into(), json!(regular));
    body.insert("sale_price".into(), json!(sale));
    if let Some(grams) = variant.weight_grams {
        body.insert("weight".into(), json!(unit.format(grams)));
    }
    let attributes: Vec<Value> = product
        .options
        .iter()
        .zip(&variant.option_values)
        .map(|(name, option)| json!({"name": name, "option": option}))
        .collect();
    body.insert("attributes".into(), Value::Array(attributes));
    stock_fields(&mut body, variant.quantity);
    Value::Object(body)
}

/// A stock level as an update item of either batch endpoint.
pub fn stock_body(id: u64, quantity: i64) -> Value {
    json!({"id": id, "manage_stock": true, "stock_quantity": quantity.max(0)})
}

// ---------------------------------------------------------------- reading

/// An integer given as a number (possibly `12.0`) or a numeric string.
fn int_of(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9e15)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn de_opt_int<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(Option::<Value>::deserialize(d)?.as_ref().and_then(int_of))
}

fn de_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let value = Value::deserialize(d)?;
    int_of(&value)
        .and_then(|i| u64::try_from(i).ok())
        .ok_or_else(|| serde::de::Error::custom(format!("not an id: {value}")))
}

fn de_opt_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::Bool(b)) => Some(b.to_string()),
        _ => None,
    })
}

fn de_ids<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(int_of)
            .filter_map(|i| u64::try_from(i).ok())
            .collect(),
        _ => Vec::new(),
    })
}

/// A price string (`"21.99"`, `""` when unset) as a decimal.
pub fn decimal(text: Option<&str>) -> Option<Decimal> {
    text.and_then(|t| Decimal::from_str(t.trim()).ok())
}

/// A `*_gmt` date: ISO 8601 without an offset, in UTC.
pub fn gmt(text: Option<&str>) -> Option<DateTime<Utc>> {
    let text = text?.trim();
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
        .ok()
        .map(|naive| naive.and_utc())
        .or_else(|| {
            DateTime::parse_from_rfc3339(text)
                .ok()
                .map(|d| d.with_timezone(&Utc))
        })
}

/// A product as `GET /products`, the batch endpoint and webhooks return it.
#[derive(Debug, Clone, Deserialize)]
pub struct WcProduct {
    #[serde(deserialize_with = "de_id")]
    pub id: u64,
    #[serde(default, deserialize_with = "de_opt_text")]
    pub name: Option<String>,
    #[serde(default, rename = "type", deserialize_with = "de_opt_text")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "de_opt_text")]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "de_opt_text")]
    pub sku: Option<String>,
    #[serde(default, deserialize_with = "de_opt_text")]
    pub price: Option<String>,
    #[serde(default, deserialize_with = "de_opt_int")]
    pub stock_quantity: Option<i64>,
    #[serde(default, deserialize_with = "de_ids")]
    pub variations: Vec<u64>,
    #[serde(default, deserialize_with = "de_opt_text")]
    pub date_modified_gmt: Option<String>,
}

impl WcProduct {
    pub fn is_variable(&self) -> bool {
        self.kind.as_deref() == Some("variable")
    }

    /// The product as a listing; a simple product is its own single variant
    /// (our variant id for it is the product id). A variable product's
    /// variants come from [`WcVariation`]s read separately; without them,
    /// only their ids are known.
    pub fn listing(&self, variations: Option<&[WcVariation]>) -> ChannelListing {
        let variants = if self.is_variable() {
            match variations {
                Some(list) => list.iter().map(WcVariation::variant).collect(),
                None => self
                    .variations
                    .iter()
                    .map(|id| ChannelVariant {
                        external_id: id.to_string(),
                        sku: None,
                        price: None,
                        quantity: None,
                    })
                    .collect(),
            }
        } else {
            vec![ChannelVariant {
                external_id: self.id.to_string(),
                sku: self.sku.clone(),
                price: decimal(self.price.as_deref()),
                quantity: self.stock_quantity,
            }]
        };
        ChannelListing {
            external_id: self.id.to_string(),
            title: self.name.clone().unwrap_or_default(),
            status: self.status.clone(),
            variants,
            updated_at: gmt(self.date_modified_gmt.as_deref()),
        }
    }
}

/// A variation as `GET /products/{id}/variations` and its batch endpoint return it.
#[derive(Debug, Clone, Deserialize)]
pub struct WcVariation {
    #[serde(deserialize_with = "de_id")]
    pub id: u64,
    #[serde(default, deserialize_with = "de_opt_text")]
    pub sku: Option<String>,
    #[serde(default, deserialize_with = "de_opt_text")]
    pub price: Option<String>,
    #[serde(default, deserialize_with = "de_opt_int")]
    pub stock_quantity: Option<i64>,
}

impl WcVariation {
    pub fn variant(&self) -> ChannelVariant {
        ChannelVariant {
            external_id: self.id.to_string(),
            sku: self.sku.clone(),
            price: decimal(self.price.as_deref()),
            quantity: self.stock_quantity,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct WcLineItem {
    #[serde(default, deserialize_with = "de_opt_int")]
    pub product_id: Option<i64>,
    #[serde(default, deserialize_with = "de_opt_int")]
    pub variation_id: Option<i64>,
    #[serde(default, deserialize_with = "de_opt_int")]
    pub quantity: Option<i64>,
    #[serde(default, deserialize_with = "de_opt_text")]
    pub sku: Option<String>,
}

/// An order as `GET /orders` and the order webhooks deliver it.
#[derive(Debug, Clone, Deserialize)]
pub struct WcOrder {
    #[serde(deserialize_with = "de_id")]
    pub id: u64,
    #[serde(default, deserialize_with = "de_opt_text")]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "de_opt_text")]
    pub date_created_gmt: Option<String>,
    #[serde(default, deserialize_with = "de_opt_text")]
    pub date_modified_gmt: Option<String>,
    #[serde(default)]
    pub line_items: Vec<WcLineItem>,
}

impl WcOrder {
    /// `cancelled` or `refunded`: WooCommerce's statuses for an order whose
    /// goods are not going to the customer (a full refund moves the order to
    /// `refunded`; partial refunds leave its status alone).
    pub fn is_called_off(&self) -> bool {
        matches!(self.status.as_deref(), Some("cancelled" | "refunded"))
    }

    /// Lines reduced to what moves stock. A line's variant is its variation,
    /// or for a simple product the product itself (as in our variant refs).
    pub fn order(&self) -> ChannelOrder {
        let lines = self
            .line_items
            .iter()
            .map(|line| {
                let variant = line
                    .variation_id
                    .filter(|id| *id > 0)
                    .or(line.product_id.filter(|id| *id > 0));
                OrderLine {
                    sku: line.sku.clone(),
                    external_variant_id: variant.map(|id| id.to_string()),
                    quantity: line.quantity.unwrap_or(0),
                }
            })
            .collect();
        ChannelOrder {
            external_id: self.id.to_string(),
            created_at: gmt(self.date_created_gmt.as_deref()),
            lines,
            cancelled: self.is_called_off(),
        }
    }
}

/// A webhook as `GET /webhooks` lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct WcWebhook {
    #[serde(default, deserialize_with = "de_opt_text")]
    pub topic: Option<String>,
    #[serde(default, deserialize_with = "de_opt_text")]
    pub delivery_url: Option<String>,
    #[serde(default, deserialize_with = "de_opt_text")]
    pub status: Option<String>,
}

/// WordPress's error object: `{"code", "message", "data": {"status"}}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WpError {
    #[serde(default, deserialize_with = "de_opt_text")]
    pub code: Option<String>,
    #[serde(default, deserialize_with = "de_opt_text")]
    pub message: Option<String>,
    #[serde(default)]
    pub data: Option<Value>,
}

impl WpError {
    pub fn status(&self) -> Option<i64> {
        self.data
            .as_ref()
            .and_then(|d| d.get("status"))
            .and_then(int_of)
    }

    /// One batch item's refusal. Worth retrying only when the store says
    /// the fault was its own (5xx) or a conflict; a bad SKU or an unknown
    /// id will be refused again.
    pub fn item_error(&self) -> ItemError {
        let code = self.code.clone().unwrap_or_else(|| "unknown_error".into());
        let message = self.message.clone().unwrap_or_default();
        match self.status() {
            Some(s) if s >= 500 || s == 409 || s == 429 => ItemError::retryable(code, message),
            _ => ItemError::permanent(code, message),
        }
    }

    /// `code: message` for a whole-call error, when the body is one.
    pub fn summary(body: &[u8]) -> Option<String> {
        let error: WpError = serde_json::from_slice(body).ok()?;
        let code = error.code?;
        Some(format!("{code}: {}", error.message.unwrap_or_default()))
    }
}

/// One entry of a batch answer: the object, or `{"id", "error": {…}}`
/// (the shape `WC_REST_Controller::batch_items` builds for a refused item).
pub fn batch_item<T: serde::de::DeserializeOwned>(
    value: &Value,
) -> Result<Result<T, ItemError>, String> {
    if let Some(error) = value.get("error") {
        let error: WpError = serde_json::from_value(error.clone()).unwrap_or_default();
        return Ok(Err(error.item_error()));
    }
    serde_json::from_value(value.clone())
        .map(Ok)
        .map_err(|e| e.to_string())
}

/// The `create` and `update` arrays of a batch answer (we read no `delete` answers).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct BatchAnswer {
    #[serde(default)]
    pub create: Vec<Value>,
    #[serde(default)]
    pub update: Vec<Value>,
}
