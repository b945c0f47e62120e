//! The master catalog's shapes: what a merchant sends in and what we hand back.
//!
//! Inputs are parsed with `deny_unknown_fields` so a misspelt field is an error
//! rather than silently ignored, and validated as a whole so every problem is
//! reported at once.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{LocationId, ProductId, VariantId};
use crate::money::{Currency, Price};
use crate::slug::is_valid_handle;
use crate::validation::ValidationErrors;

pub const MAX_TITLE_LEN: usize = 255;
pub const MAX_SKU_LEN: usize = 255;
pub const MAX_VARIANTS: usize = 250;
pub const MAX_OPTIONS: usize = 3;
pub const MAX_TAGS: usize = 250;
pub const MAX_IMAGES: usize = 250;
pub const MAX_DESCRIPTION_LEN: usize = 65_536;

/// Whether a product is for sale. Mirrors Shopify's product status.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ProductStatus {
    #[default]
    Active,
    Draft,
    Archived,
}

impl ProductStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            ProductStatus::Active => "active",
            ProductStatus::Draft => "draft",
            ProductStatus::Archived => "archived",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "active" => Some(Self::Active),
            "draft" => Some(Self::Draft),
            "archived" => Some(Self::Archived),
            _ => None,
        }
    }
}

/// A stock-keeping unit as a merchant writes it: trimmed, no whitespace inside,
/// so it survives every channel's SKU rules and CSV round trips.
pub fn validate_sku(sku: &str) -> Result<(), String> {
    if sku.is_empty() {
        return Err("must not be empty".into());
    }
    if sku.len() > MAX_SKU_LEN {
        return Err(format!("must be at most {MAX_SKU_LEN} characters"));
    }
    if sku.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces or control characters".into());
    }
    Ok(())
}

/// A variant as sent on create or bulk upsert.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantInput {
    /// Unique within the tenant; the key every channel is matched by.
    pub sku: String,
    #[serde(default)]
    pub barcode: Option<String>,
    /// Option values in the order of the product's `options`, e.g. `["M", "Red"]`.
    #[serde(default)]
    pub options: Vec<String>,
    pub price: Price,
    #[serde(default)]
    pub compare_at_price: Option<Price>,
    #[serde(default)]
    pub currency: Option<Currency>,
    #[serde(default)]
    pub weight_grams: Option<i64>,
    /// Stock at the default location. On create it is the starting stock; on
    /// bulk upsert it sets stock when given and leaves it alone when omitted.
    #[serde(default)]
    pub inventory_quantity: Option<i64>,
}

impl VariantInput {
    pub fn validate(&self, option_count: usize) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        if let Err(e) = validate_sku(&self.sku) {
            errors.push("sku", e);
        }
        if let Some(b) = &self.barcode
            && (b.len() > 64 || b.chars().any(char::is_control))
        {
            errors.push("barcode", "must be at most 64 printable characters");
        }
        if self.options.len() > option_count.max(1) || self.options.len() > MAX_OPTIONS {
            errors.push(
                "options",
                format!(
                    "has {} values but the product has {} options",
                    self.options.len(),
                    option_count
                ),
            );
        }
        if self
            .options
            .iter()
            .any(|o| o.trim().is_empty() || o.len() > 255)
        {
            errors.push(
                "options",
                "values must be non-empty and at most 255 characters",
            );
        }
        if let Some(w) = self.weight_grams
            && w < 0
        {
            errors.push("weight_grams", "must not be negative");
        }
        if let Some(q) = self.inventory_quantity
            && q < 0
        {
            errors.push("inventory_quantity", "must not be negative");
        }
        if let Some(c) = self.compare_at_price
            && c.amount() < self.price.amount()
            && !c.amount().is_zero()
        {
            errors.push("compare_at_price", "must not be below price");
        }
        errors.into_result()
    }
}

/// A product as sent on create or bulk upsert.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProduct {
    pub title: String,
    /// URL name; derived from the title when omitted.
    #[serde(default)]
    pub handle: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub vendor: Option<String>,
    #[serde(default)]
    pub product_type: Option<String>,
    #[serde(default)]
    pub status: ProductStatus,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Image URLs, first is the main image.
    #[serde(default)]
    pub images: Vec<String>,
    /// Option names, e.g. `["Size", "Colour"]`; at most three.
    #[serde(default)]
    pub options: Vec<String>,
    pub variants: Vec<VariantInput>,
}

fn validate_text(errors: &mut ValidationErrors, field: &str, value: &str, max: usize) {
    if value.len() > max {
        errors.push(field, format!("must be at most {max} characters"));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        errors.push(field, "must not contain control characters");
    }
}

/// Borrowed view of the product-level fields, shared by create and patch validation.
#[derive(Default)]
struct ProductFields<'a> {
    title: Option<&'a str>,
    handle: Option<&'a str>,
    description: Option<&'a str>,
    vendor: Option<&'a str>,
    product_type: Option<&'a str>,
    tags: Option<&'a [String]>,
    images: Option<&'a [String]>,
    options: Option<&'a [String]>,
}

fn validate_product_fields(errors: &mut ValidationErrors, fields: ProductFields<'_>) {
    let ProductFields {
        title,
        handle,
        description,
        vendor,
        product_type,
        tags,
        images,
        options,
    } = fields;
    if let Some(t) = title {
        if t.trim().is_empty() {
            errors.push("title", "must not be empty");
        }
        validate_text(errors, "title", t, MAX_TITLE_LEN);
    }
    if let Some(h) = handle
        && !is_valid_handle(h)
    {
        errors.push(
            "handle",
            "must be lower-case letters, digits and single hyphens",
        );
    }
    if let Some(d) = description {
        validate_text(errors, "description", d, MAX_DESCRIPTION_LEN);
    }
    if let Some(v) = vendor {
        validate_text(errors, "vendor", v, MAX_TITLE_LEN);
    }
    if let Some(p) = product_type {
        validate_text(errors, "product_type", p, MAX_TITLE_LEN);
    }
    if let Some(tags) = tags {
        if tags.len() > MAX_TAGS {
            errors.push("tags", format!("at most {MAX_TAGS} tags"));
        }
        if tags
            .iter()
            .any(|t| t.trim().is_empty() || t.len() > 255 || t.contains(','))
        {
            errors.push(
                "tags",
                "each tag must be 1 to 255 characters without commas",
            );
        }
    }
    if let Some(images) = images {
        if images.len() > MAX_IMAGES {
            errors.push("images", format!("at most {MAX_IMAGES} images"));
        }
        if images
            .iter()
            .any(|u| !(u.starts_with("https://") || u.starts_with("http://")) || u.len() > 2048)
        {
            errors.push(
                "images",
                "each image must be an http(s) URL of at most 2048 characters",
            );
        }
    }
    if let Some(options) = options {
        if options.len() > MAX_OPTIONS {
            errors.push("options", format!("at most {MAX_OPTIONS} options"));
        }
        if options.iter().any(|o| o.trim().is_empty() || o.len() > 255) {
            errors.push("options", "option names must be 1 to 255 characters");
        }
    }
}

impl NewProduct {
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        validate_product_fields(
            &mut errors,
            ProductFields {
                title: Some(&self.title),
                handle: self.handle.as_deref(),
                description: self.description.as_deref(),
                vendor: self.vendor.as_deref(),
                product_type: self.product_type.as_deref(),
                tags: Some(&self.tags),
                images: Some(&self.images),
                options: Some(&self.options),
            },
        );
        if self.variants.is_empty() {
            errors.push("variants", "a product needs at least one variant");
        }
        if self.variants.len() > MAX_VARIANTS {
            errors.push("variants", format!("at most {MAX_VARIANTS} variants"));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, v) in self.variants.iter().enumerate() {
            if let Err(e) = v.validate(self.options.len()) {
                errors.extend_nested(&format!("variants[{i}]."), e);
            }
            if !seen.insert(v.sku.as_str()) {
                errors.push(
                    format!("variants[{i}].sku"),
                    "is repeated within the product",
                );
            }
        }
        errors.into_result()
    }

    /// Tags trimmed and de-duplicated, in first-seen order.
    pub fn normalised_tags(&self) -> Vec<String> {
        normalise_tags(&self.tags)
    }
}

pub fn normalise_tags(tags: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for t in tags {
        let t = t.trim();
        if !t.is_empty() && !out.iter().any(|o| o == t) {
            out.push(t.to_string());
        }
    }
    out
}

/// A partial update of a product's own fields. Absent fields are left alone.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductPatch {
    pub title: Option<String>,
    pub handle: Option<String>,
    pub description: Option<String>,
    pub vendor: Option<String>,
    pub product_type: Option<String>,
    pub status: Option<ProductStatus>,
    pub tags: Option<Vec<String>>,
    pub images: Option<Vec<String>>,
    pub options: Option<Vec<String>>,
}

impl ProductPatch {
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        validate_product_fields(
            &mut errors,
            ProductFields {
                title: self.title.as_deref(),
                handle: self.handle.as_deref(),
                description: self.description.as_deref(),
                vendor: self.vendor.as_deref(),
                product_type: self.product_type.as_deref(),
                tags: self.tags.as_deref(),
                images: self.images.as_deref(),
                options: self.options.as_deref(),
            },
        );
        errors.into_result()
    }

    pub fn is_empty(&self) -> bool {
        self == &ProductPatch::default()
    }
}

/// A partial update of one variant. Absent fields are left alone.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantPatch {
    pub sku: Option<String>,
    pub barcode: Option<String>,
    pub options: Option<Vec<String>>,
    pub price: Option<Price>,
    pub compare_at_price: Option<Price>,
    pub currency: Option<Currency>,
    pub weight_grams: Option<i64>,
}

impl VariantPatch {
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        if let Some(s) = &self.sku
            && let Err(e) = validate_sku(s)
        {
            errors.push("sku", e);
        }
        if let Some(w) = self.weight_grams
            && w < 0
        {
            errors.push("weight_grams", "must not be negative");
        }
        if let Some(o) = &self.options
            && (o.len() > MAX_OPTIONS || o.iter().any(|v| v.trim().is_empty()))
        {
            errors.push("options", "at most three non-empty values");
        }
        errors.into_result()
    }
}

/// A change to one variant's stock at one location: either an absolute count
/// (a stock take) or a relative adjustment (a delivery, a breakage).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InventoryChange {
    /// Defaults to the tenant's default location.
    #[serde(default)]
    pub location_id: Option<LocationId>,
    /// Set available stock to this count.
    #[serde(default)]
    pub set: Option<i64>,
    /// Add this (negative to remove) to available stock.
    #[serde(default)]
    pub adjust: Option<i64>,
    /// Why: shown in the inventory history.
    #[serde(default)]
    pub reason: Option<String>,
}

/// What an [`InventoryChange`] does once validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockOperation {
    Set(i64),
    Adjust(i64),
}

impl StockOperation {
    /// The new count, or `None` when it would take stock below zero.
    pub fn apply(self, current: i64) -> Option<i64> {
        let next = match self {
            StockOperation::Set(n) => n,
            StockOperation::Adjust(d) => current.checked_add(d)?,
        };
        (next >= 0).then_some(next)
    }
}

impl InventoryChange {
    pub fn operation(&self) -> Result<StockOperation, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        if let Some(r) = &self.reason
            && r.len() > 255
        {
            errors.push("reason", "must be at most 255 characters");
        }
        let op = match (self.set, self.adjust) {
            (Some(n), None) if n < 0 => {
                errors.push("set", "stock must not be negative");
                None
            }
            (Some(n), None) => Some(StockOperation::Set(n)),
            (None, Some(d)) => Some(StockOperation::Adjust(d)),
            (Some(_), Some(_)) => {
                errors.push("set", "give either `set` or `adjust`, not both");
                None
            }
            (None, None) => {
                errors.push("set", "give `set` (absolute) or `adjust` (relative)");
                None
            }
        };
        errors.into_result()?;
        Ok(op.expect("an operation whenever there are no errors"))
    }
}

/// Stock of one variant at one location.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InventoryLevel {
    pub location_id: LocationId,
    pub available: i64,
}

/// A variant as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Variant {
    pub id: VariantId,
    pub product_id: ProductId,
    pub sku: String,
    pub barcode: Option<String>,
    pub title: String,
    pub options: Vec<String>,
    pub price: Price,
    pub compare_at_price: Option<Price>,
    pub currency: Currency,
    pub weight_grams: Option<i64>,
    pub position: i32,
    /// Available stock summed over locations.
    pub inventory_quantity: i64,
    pub inventory: Vec<InventoryLevel>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A product with its variants, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Product {
    pub id: ProductId,
    pub handle: String,
    pub title: String,
    pub description: Option<String>,
    pub vendor: Option<String>,
    pub product_type: Option<String>,
    pub status: ProductStatus,
    pub tags: Vec<String>,
    pub images: Vec<String>,
    pub options: Vec<String>,
    pub variants: Vec<Variant>,
    /// Bumped on every change; lets channels and caches spot staleness.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A variant's display title: its option values joined, as Shopify shows them.
pub fn variant_title(options: &[String]) -> String {
    if options.is_empty() {
        "Default Title".to_string()
    } else {
        options.join(" / ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variant(sku: &str) -> VariantInput {
        VariantInput {
            sku: sku.into(),
            barcode: None,
            options: vec![],
            price: "10.00".parse().unwrap(),
            compare_at_price: None,
            currency: None,
            weight_grams: None,
            inventory_quantity: Some(3),
        }
    }

    fn product() -> NewProduct {
        NewProduct {
            title: "Tee".into(),
            handle: None,
            description: None,
            vendor: None,
            product_type: None,
            status: ProductStatus::Active,
            tags: vec![],
            images: vec![],
            options: vec![],
            variants: vec![variant("TEE-1")],
        }
    }

    #[test]
    fn a_plain_product_is_valid() {
        product().validate().unwrap();
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut p = product();
        p.title = " ".into();
        p.variants = vec![variant("A B"), variant("A B")];
        p.variants[1].inventory_quantity = Some(-1);
        let errors = p.validate().unwrap_err();
        let fields: Vec<_> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"title"));
        assert!(fields.contains(&"variants[0].sku"));
        assert!(fields.contains(&"variants[1].inventory_quantity"));
        assert!(errors.summary().contains("repeated"));
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err =
            serde_json::from_str::<NewProduct>(r#"{"title":"x","variants":[],"colour":"red"}"#)
                .unwrap_err();
        assert!(err.to_string().contains("unknown field `colour`"));
    }

    #[test]
    fn stock_never_goes_negative() {
        assert_eq!(StockOperation::Adjust(-3).apply(5), Some(2));
        assert_eq!(StockOperation::Adjust(-6).apply(5), None);
        assert_eq!(StockOperation::Set(0).apply(5), Some(0));
        assert_eq!(StockOperation::Adjust(i64::MAX).apply(1), None);
    }

    #[test]
    fn inventory_change_needs_exactly_one_operation() {
        let both = InventoryChange {
            location_id: None,
            set: Some(1),
            adjust: Some(1),
            reason: None,
        };
        assert!(both.operation().is_err());
        let neither = InventoryChange {
            location_id: None,
            set: None,
            adjust: None,
            reason: None,
        };
        assert!(neither.operation().is_err());
        let negative = InventoryChange {
            location_id: None,
            set: Some(-1),
            adjust: None,
            reason: None,
        };
        assert!(
            negative
                .operation()
                .unwrap_err()
                .summary()
                .contains("negative")
        );
    }
}
