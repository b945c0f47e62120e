//! One simulated store: products, variations, orders and webhooks, shown
//! in the JSON shapes of WooCommerce's REST API v3, with the batch
//! semantics of `WC_REST_Controller::batch_items` (at most 100 objects a
//! call; each refused item answered as `{"id", "error": {…}}`).

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

/// The batch limit (`woocommerce_rest_batch_items_limit`, default 100).
pub const BATCH_LIMIT: usize = 100;

/// A WordPress REST error, `{"code", "message", "data": {"status"}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct WpError {
    pub code: String,
    pub message: String,
    pub status: u16,
}

impl WpError {
    pub fn new(code: &str, message: impl Into<String>, status: u16) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
            status,
        }
    }

    pub fn invalid_param(name: &str) -> Self {
        Self::new(
            "rest_invalid_param",
            format!("Invalid parameter(s): {name}"),
            400,
        )
    }

    pub fn body(&self) -> Value {
        json!({"code": self.code, "message": self.message, "data": {"status": self.status}})
    }

    /// A refused batch item.
    fn item(&self, id: u64) -> Value {
        json!({"id": id, "error": self.body()})
    }
}

fn invalid_id(resource: &str, status: u16) -> WpError {
    WpError::new(
        &format!("woocommerce_rest_{resource}_invalid_id"),
        "Invalid ID.",
        status,
    )
}

fn duplicated_sku() -> WpError {
    WpError::new("product_invalid_sku", "Invalid or duplicated SKU.", 400)
}

pub fn date(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S").to_string()
}

#[derive(Debug, Clone)]
pub struct Attribute {
    pub name: String,
    pub position: i64,
    pub visible: bool,
    pub variation: bool,
    pub options: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Product {
    pub id: u64,
    pub name: String,
    pub slug: String,
    pub kind: String,
    pub status: String,
    pub description: String,
    pub sku: String,
    pub regular_price: String,
    pub sale_price: String,
    pub manage_stock: bool,
    pub stock_quantity: Option<i64>,
    pub weight: String,
    pub attributes: Vec<Attribute>,
    pub images: Vec<String>,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Variation {
    pub id: u64,
    pub parent: u64,
    pub sku: String,
    pub regular_price: String,
    pub sale_price: String,
    pub status: String,
    pub manage_stock: bool,
    pub stock_quantity: Option<i64>,
    pub weight: String,
    pub attributes: Vec<(String, String)>,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Line {
    pub id: u64,
    pub name: String,
    pub product_id: u64,
    pub variation_id: u64,
    pub sku: String,
    pub quantity: i64,
    pub price: Decimal,
}

#[derive(Debug, Clone)]
pub struct Order {
    pub id: u64,
    pub status: String,
    pub created: DateTime<Utc>,
    /// `date_modified_gmt`: moves when the status changes.
    pub modified: DateTime<Utc>,
    pub lines: Vec<Line>,
}

#[derive(Debug, Clone)]
pub struct Webhook {
    pub id: u64,
    pub name: String,
    pub status: String,
    pub topic: String,
    pub delivery_url: String,
    pub secret: String,
    pub created: DateTime<Utc>,
}

/// One store's state. WordPress ids are one sequence across post types.
pub struct Store {
    next_id: u64,
    pub products: BTreeMap<u64, Product>,
    pub variations: BTreeMap<u64, Variation>,
    pub orders: BTreeMap<u64, Order>,
    pub webhooks: BTreeMap<u64, Webhook>,
}

impl Default for Store {
    fn default() -> Self {
        Self {
            next_id: 10,
            products: BTreeMap::new(),
            variations: BTreeMap::new(),
            orders: BTreeMap::new(),
            webhooks: BTreeMap::new(),
        }
    }
}

pub(super) fn text(body: &Map<String, Value>, key: &str) -> Result<Option<String>, WpError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(WpError::invalid_param(key)),
    }
}

fn price(body: &Map<String, Value>, key: &str) -> Result<Option<String>, WpError> {
    match text(body, key)? {
        Some(p) if !p.is_empty() && Decimal::from_str(&p).is_err() => {
            Err(WpError::invalid_param(key))
        }
        other => Ok(other),
    }
}

fn boolean(body: &Map<String, Value>, key: &str) -> Result<Option<bool>, WpError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(WpError::invalid_param(key)),
    }
}

fn quantity(body: &Map<String, Value>) -> Result<Option<Option<i64>>, WpError> {
    match body.get("stock_quantity") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(v) => v
            .as_i64()
            .map(|q| Some(Some(q)))
            .ok_or_else(|| WpError::invalid_param("stock_quantity")),
    }
}

pub(super) fn one_of(
    value: Option<String>,
    allowed: &[&str],
    key: &str,
) -> Result<Option<String>, WpError> {
    match value {
        Some(v) if !allowed.contains(&v.as_str()) => Err(WpError::invalid_param(key)),
        other => Ok(other),
    }
}

/// The `create`, `update` and `delete` lists of a batch body.
type Parts = (Vec<Value>, Vec<Value>, Vec<Value>);

fn batch_parts(body: &Value) -> Result<Parts, WpError> {
    let body = body
        .as_object()
        .ok_or_else(|| WpError::invalid_param("body"))?;
    let list = |key: &str| match body.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items.clone()),
        Some(_) => Err(WpError::invalid_param(key)),
    };
    let parts = (list("create")?, list("update")?, list("delete")?);
    if parts.0.len() + parts.1.len() + parts.2.len() > BATCH_LIMIT {
        return Err(WpError::new(
            "woocommerce_rest_request_entity_too_large",
            format!("Unable to accept more than {BATCH_LIMIT} items for this request."),
            413,
        ));
    }
    Ok(parts)
}

fn item_id(item: &Value) -> u64 {
    match item {
        Value::Number(n) => n.as_u64().unwrap_or(0),
        Value::String(s) => s.parse().unwrap_or(0),
        Value::Object(o) => o.get("id").map(item_id).unwrap_or(0),
        _ => 0,
    }
}

/// The price a product sells at: the sale price when there is one.
pub(super) fn current(regular: &str, sale: &str) -> String {
    if sale.is_empty() { regular } else { sale }.to_owned()
}

impl Store {
    pub(super) fn next(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn sku_taken(&self, sku: &str, except: u64) -> bool {
        !sku.is_empty()
            && (self
                .products
                .values()
                .any(|p| p.id != except && p.sku == sku)
                || self
                    .variations
                    .values()
                    .any(|v| v.id != except && v.sku == sku))
    }

    pub fn variation_ids(&self, parent: u64) -> Vec<u64> {
        self.variations
            .values()
            .filter(|v| v.parent == parent)
            .map(|v| v.id)
            .collect()
    }

    fn apply_product(&self, p: &mut Product, body: &Value) -> Result<(), WpError> {
        let body = body
            .as_object()
            .ok_or_else(|| WpError::invalid_param("item"))?;
        let kind = one_of(
            text(body, "type")?,
            &["simple", "grouped", "external", "variable"],
            "type",
        )?;
        let status = one_of(
            text(body, "status")?,
            &["draft", "pending", "private", "publish"],
            "status",
        )?;
        if let Some(sku) = text(body, "sku")? {
            if self.sku_taken(&sku, p.id) {
                return Err(duplicated_sku());
            }
            p.sku = sku;
        }
        let attributes = match body.get("attributes") {
            None => None,
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, a)| Attribute {
                        name: a["name"].as_str().unwrap_or_default().to_owned(),
                        position: a["position"].as_i64().unwrap_or(i as i64),
                        visible: a["visible"].as_bool().unwrap_or(false),
                        variation: a["variation"].as_bool().unwrap_or(false),
                        options: a["options"]
                            .as_array()
                            .map(|o| {
                                o.iter()
                                    .filter_map(Value::as_str)
                                    .map(str::to_owned)
                                    .collect()
                            })
                            .unwrap_or_default(),
                    })
                    .collect(),
            ),
            Some(_) => return Err(WpError::invalid_param("attributes")),
        };
        let regular = price(body, "regular_price")?;
        let sale = price(body, "sale_price")?;
        if let Some(v) = text(body, "name")? {
            p.name = v;
        }
        if let Some(v) = text(body, "slug")? {
            p.slug = v;
        }
        if let Some(v) = text(body, "description")? {
            p.description = v;
        }
        if let Some(v) = text(body, "weight")? {
            p.weight = v;
        }
        p.kind = kind.unwrap_or_else(|| p.kind.clone());
        p.status = status.unwrap_or_else(|| p.status.clone());
        p.regular_price = regular.unwrap_or_else(|| p.regular_price.clone());
        p.sale_price = sale.unwrap_or_else(|| p.sale_price.clone());
        p.manage_stock = boolean(body, "manage_stock")?.unwrap_or(p.manage_stock);
        if let Some(q) = quantity(body)? {
            p.stock_quantity = q;
        }
        if let Some(a) = attributes {
            p.attributes = a;
        }
        if let Some(Value::Array(images)) = body.get("images") {
            p.images = images
                .iter()
                .filter_map(|i| i["src"].as_str().map(str::to_owned))
                .collect();
        }
        Ok(())
    }

    fn apply_variation(&self, v: &mut Variation, body: &Value) -> Result<(), WpError> {
        let body = body
            .as_object()
            .ok_or_else(|| WpError::invalid_param("item"))?;
        let status = one_of(
            text(body, "status")?,
            &["draft", "pending", "private", "publish"],
            "status",
        )?;
        if let Some(sku) = text(body, "sku")? {
            if self.sku_taken(&sku, v.id) {
                return Err(duplicated_sku());
            }
            v.sku = sku;
        }
        let attributes = match body.get("attributes") {
            None => None,
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .map(|a| {
                        let name = a["name"].as_str().unwrap_or_default().to_owned();
                        (name, a["option"].as_str().unwrap_or_default().to_owned())
                    })
                    .collect(),
            ),
            Some(_) => return Err(WpError::invalid_param("attributes")),
        };
        let regular = price(body, "regular_price")?;
        let sale = price(body, "sale_price")?;
        v.status = status.unwrap_or_else(|| v.status.clone());
        v.regular_price = regular.unwrap_or_else(|| v.regular_price.clone());
        v.sale_price = sale.unwrap_or_else(|| v.sale_price.clone());
        if let Some(w) = text(body, "weight")? {
            v.weight = w;
        }
        v.manage_stock = boolean(body, "manage_stock")?.unwrap_or(v.manage_stock);
        if let Some(q) = quantity(body)? {
            v.stock_quantity = q;
        }
        if let Some(a) = attributes {
            v.attributes = a;
        }
        Ok(())
    }

    /// `POST /products/batch`.
    pub fn batch_products(
        &mut self,
        body: &Value,
        base: &str,
        now: DateTime<Utc>,
    ) -> Result<Value, WpError> {
        let (creates, updates, deletes) = batch_parts(body)?;
        let mut out = Map::new();
        if !creates.is_empty() {
            let mut answers = Vec::new();
            for item in &creates {
                answers.push(match self.create_product(item, now) {
                    Ok(id) => self.product_json(&self.products[&id], base),
                    Err(e) => e.item(0),
                });
            }
            out.insert("create".into(), Value::Array(answers));
        }
        if !updates.is_empty() {
            let mut answers = Vec::new();
            for item in &updates {
                let id = item_id(item);
                answers.push(match self.update_product(id, item, now) {
                    Ok(()) => self.product_json(&self.products[&id], base),
                    Err(e) => e.item(id),
                });
            }
            out.insert("update".into(), Value::Array(answers));
        }
        if !deletes.is_empty() {
            let mut answers = Vec::new();
            for item in &deletes {
                let id = item_id(item);
                answers.push(match self.products.get(&id) {
                    Some(p) => {
                        let shown = self.product_json(p, base);
                        self.products.remove(&id);
                        self.variations.retain(|_, v| v.parent != id);
                        shown
                    }
                    None => invalid_id("product", 404).item(id),
                });
            }
            out.insert("delete".into(), Value::Array(answers));
        }
        Ok(Value::Object(out))
    }

    fn create_product(&mut self, item: &Value, now: DateTime<Utc>) -> Result<u64, WpError> {
        if item_id(item) != 0 {
            return Err(WpError::new(
                "woocommerce_rest_product_exists",
                "Cannot create existing product.",
                400,
            ));
        }
        let mut p = Product {
            id: 0,
            name: String::new(),
            slug: String::new(),
            kind: "simple".into(),
            status: "publish".into(),
            description: String::new(),
            sku: String::new(),
            regular_price: String::new(),
            sale_price: String::new(),
            manage_stock: false,
            stock_quantity: None,
            weight: String::new(),
            attributes: Vec::new(),
            images: Vec::new(),
            created: now,
            modified: now,
        };
        self.apply_product(&mut p, item)?;
        p.id = self.next();
        if p.slug.is_empty() {
            p.slug = format!("product-{}", p.id);
        }
        self.products.insert(p.id, p.clone());
        Ok(p.id)
    }

    fn update_product(&mut self, id: u64, item: &Value, now: DateTime<Utc>) -> Result<(), WpError> {
        let mut p = self
            .products
            .get(&id)
            .cloned()
            .ok_or_else(|| invalid_id("product", 400))?;
        self.apply_product(&mut p, item)?;
        p.modified = now;
        self.products.insert(id, p);
        Ok(())
    }

    /// `POST /products/{id}/variations/batch`.
    pub fn batch_variations(
        &mut self,
        parent: u64,
        body: &Value,
        base: &str,
        now: DateTime<Utc>,
    ) -> Result<Value, WpError> {
        if !self.products.contains_key(&parent) {
            return Err(invalid_id("product", 404));
        }
        let (creates, updates, deletes) = batch_parts(body)?;
        let mut out = Map::new();
        if !creates.is_empty() {
            let mut answers = Vec::new();
            for item in &creates {
                let mut v = Variation {
                    id: 0,
                    parent,
                    sku: String::new(),
                    regular_price: String::new(),
                    sale_price: String::new(),
                    status: "publish".into(),
                    manage_stock: false,
                    stock_quantity: None,
                    weight: String::new(),
                    attributes: Vec::new(),
                    created: now,
                    modified: now,
                };
                answers.push(match self.apply_variation(&mut v, item) {
                    Ok(()) => {
                        v.id = self.next();
                        self.variations.insert(v.id, v.clone());
                        self.variation_json(&v, base)
                    }
                    Err(e) => e.item(0),
                });
            }
            out.insert("create".into(), Value::Array(answers));
        }
        let mine = |store: &Store, id: u64| {
            store
                .variations
                .get(&id)
                .filter(|v| v.parent == parent)
                .cloned()
        };
        if !updates.is_empty() {
            let mut answers = Vec::new();
            for item in &updates {
                let id = item_id(item);
                let result = mine(self, id)
                    .ok_or_else(|| invalid_id("product_variation", 400))
                    .and_then(|mut v| self.apply_variation(&mut v, item).map(|()| v));
                answers.push(match result {
                    Ok(mut v) => {
                        v.modified = now;
                        self.variations.insert(id, v.clone());
                        self.variation_json(&v, base)
                    }
                    Err(e) => e.item(id),
                });
            }
            out.insert("update".into(), Value::Array(answers));
        }
        if !deletes.is_empty() {
            let mut answers = Vec::new();
            for item in &deletes {
                let id = item_id(item);
                answers.push(match mine(self, id) {
                    Some(v) => {
                        self.variations.remove(&id);
                        self.variation_json(&v, base)
                    }
                    None => invalid_id("product_variation", 404).item(id),
                });
            }
            out.insert("delete".into(), Value::Array(answers));
        }
        Ok(Value::Object(out))
    }
}
