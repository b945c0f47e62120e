//! SP-API wire shapes and their mapping to and from the channel-neutral model.
//!
//! Shapes follow the published models (`listingsItems_2021-08-01.json`,
//! `ordersV0.json` in amzn/selling-partner-api-models); attribute payloads
//! follow the Listings Items tutorials cited in `mod.rs`. Everything read from
//! Amazon is typed: a missing required field is a protocol error, never a panic.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::error::ChannelError;
use crate::model::{
    ChannelListing, ChannelVariant, ItemError, ListingPage, OrderLine, ProductPush, PushStatus,
    VariantPush,
};

/// `ErrorList`: the body of every non-2xx SP-API answer.
#[derive(Debug, Clone, Deserialize)]
pub struct ErrorList {
    #[serde(default)]
    pub errors: Vec<ApiError>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ApiError {
    pub code: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub details: Option<String>,
}

impl ErrorList {
    /// The first error as `code: message`, for error messages (never echoes
    /// anything but Amazon's own error text).
    pub fn summary(&self) -> String {
        self.errors
            .first()
            .map(|e| match e.details.as_deref().filter(|d| !d.is_empty()) {
                Some(details) => format!("{}: {} ({details})", e.code, e.message),
                None => format!("{}: {}", e.code, e.message),
            })
            .unwrap_or_else(|| "no error detail".into())
    }
}

/// `ListingsItemSubmissionResponse` (put and patch).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmissionResponse {
    pub sku: String,
    pub status: String,
    pub submission_id: String,
    #[serde(default)]
    pub issues: Vec<Issue>,
}

/// `Issue`: why Amazon refused (ERROR) or flagged (WARNING, INFO) a submission.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Issue {
    pub code: String,
    pub message: String,
    pub severity: String,
    #[serde(default)]
    pub attribute_names: Vec<String>,
}

impl SubmissionResponse {
    /// ACCEPTED (or VALID) is success; INVALID becomes an item error carrying
    /// Amazon's first ERROR issue code and every ERROR message. Warnings do
    /// not fail the item: Amazon accepted it.
    pub fn into_result(self) -> Result<(), ItemError> {
        tracing::debug!(sku = %self.sku, submission = %self.submission_id, status = %self.status, "listings submission");
        match self.status.as_str() {
            "ACCEPTED" | "VALID" => Ok(()),
            "INVALID" => {
                let errors: Vec<&Issue> = self
                    .issues
                    .iter()
                    .filter(|i| i.severity == "ERROR")
                    .collect();
                let code = errors
                    .first()
                    .map(|i| i.code.clone())
                    .unwrap_or_else(|| "INVALID".into());
                let message = if errors.is_empty() {
                    format!("SKU {}: submission invalid", self.sku)
                } else {
                    let parts: Vec<String> = errors
                        .iter()
                        .map(|i| match i.attribute_names.is_empty() {
                            true => i.message.clone(),
                            false => format!("{} [{}]", i.message, i.attribute_names.join(", ")),
                        })
                        .collect();
                    format!("SKU {}: {}", self.sku, parts.join("; "))
                };
                Err(ItemError::permanent(code, message))
            }
            other => Err(ItemError::retryable(
                "protocol",
                format!("SKU {}: unknown submission status `{other}`", self.sku),
            )),
        }
    }
}

/// `ItemSearchResults` (searchListingsItems).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemSearchResults {
    #[serde(default)]
    pub pagination: Option<Pagination>,
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    #[serde(default)]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    pub sku: String,
    #[serde(default)]
    pub summaries: Vec<ItemSummary>,
    #[serde(default)]
    pub offers: Vec<ItemOffer>,
    #[serde(default)]
    pub fulfillment_availability: Vec<FulfillmentAvailability>,
    #[serde(default)]
    pub relationships: Vec<RelationshipsByMarketplace>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemSummary {
    pub marketplace_id: String,
    #[serde(default)]
    pub status: Vec<String>,
    #[serde(default)]
    pub item_name: Option<String>,
    pub last_updated_date: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemOffer {
    pub marketplace_id: String,
    pub offer_type: String,
    pub price: Money,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Money {
    /// A decimal string ("100.00"), per the model's `Decimal` definition.
    pub amount: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FulfillmentAvailability {
    pub fulfillment_channel_code: String,
    #[serde(default)]
    pub quantity: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RelationshipsByMarketplace {
    pub marketplace_id: String,
    #[serde(default)]
    pub relationships: Vec<Relationship>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Relationship {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub child_skus: Vec<String>,
    #[serde(default)]
    pub parent_skus: Vec<String>,
}

impl Item {
    fn variation(&self, marketplace: &str) -> impl Iterator<Item = &Relationship> {
        self.relationships
            .iter()
            .filter(move |r| r.marketplace_id == marketplace)
            .flat_map(|r| r.relationships.iter())
            .filter(|r| r.kind == "VARIATION")
    }

    fn parent_sku(&self, marketplace: &str) -> Option<&str> {
        self.variation(marketplace)
            .find_map(|r| r.parent_skus.first())
            .map(String::as_str)
    }

    fn is_parent(&self, marketplace: &str) -> bool {
        self.variation(marketplace)
            .any(|r| !r.child_skus.is_empty())
    }
}

/// One page of read-back: variation children are grouped under their
/// parent SKU (the product's external id); standalone items are their own
/// product. A family split across pages yields one listing per page with
/// the same `external_id`, which callers merge.
pub fn listing_page(
    results: ItemSearchResults,
    marketplace: &str,
) -> Result<ListingPage, ChannelError> {
    let mut listings: Vec<ChannelListing> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for item in &results.items {
        let summary = item
            .summaries
            .iter()
            .find(|s| s.marketplace_id == marketplace)
            .or_else(|| item.summaries.first());
        let title = summary
            .and_then(|s| s.item_name.clone())
            .unwrap_or_default();
        let status = summary
            .filter(|s| !s.status.is_empty())
            .map(|s| s.status.join(","));
        let updated = summary.map(|s| s.last_updated_date);
        let parent = item.parent_sku(marketplace);
        let key = parent.unwrap_or(&item.sku).to_owned();
        let at = *index.entry(key.clone()).or_insert_with(|| {
            listings.push(ChannelListing {
                external_id: key.clone(),
                title: String::new(),
                status: None,
                variants: Vec::new(),
                updated_at: None,
            });
            listings.len() - 1
        });
        let listing = &mut listings[at];
        let own_facts = parent.is_none();
        if own_facts || listing.title.is_empty() {
            listing.title = title;
            listing.status = status;
        }
        listing.updated_at = listing.updated_at.max(updated);
        if item.is_parent(marketplace) && parent.is_none() {
            continue;
        }
        let price = item
            .offers
            .iter()
            .find(|o| o.marketplace_id == marketplace && o.offer_type == "B2C")
            .map(|o| parse_decimal(&o.price.amount))
            .transpose()?;
        let quantity = item
            .fulfillment_availability
            .iter()
            .find(|f| f.fulfillment_channel_code == "DEFAULT")
            .and_then(|f| f.quantity);
        listing.variants.push(ChannelVariant {
            external_id: item.sku.clone(),
            sku: Some(item.sku.clone()),
            price,
            quantity,
        });
    }
    Ok(ListingPage {
        listings,
        next_cursor: results.pagination.and_then(|p| p.next_token),
    })
}

fn parse_decimal(text: &str) -> Result<Decimal, ChannelError> {
    text.trim()
        .parse()
        .map_err(|_| ChannelError::Protocol(format!("not a decimal amount: {text:.40}")))
}

/// `GetOrdersResponse`.
#[derive(Debug, Clone, Deserialize)]
pub struct GetOrdersResponse {
    pub payload: Option<OrdersList>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OrdersList {
    pub orders: Vec<Order>,
    #[serde(default)]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Order {
    pub amazon_order_id: String,
    pub purchase_date: DateTime<Utc>,
    pub order_status: String,
}

/// `GetOrderItemsResponse`.
#[derive(Debug, Clone, Deserialize)]
pub struct GetOrderItemsResponse {
    pub payload: Option<OrderItemsList>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OrderItemsList {
    pub order_items: Vec<OrderItem>,
    #[serde(default)]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OrderItem {
    #[serde(rename = "SellerSKU", default)]
    pub seller_sku: Option<String>,
    pub quantity_ordered: i64,
}

impl OrderItem {
    /// The line as the engine sees it: Amazon's variant id is the SKU.
    pub fn line(&self) -> OrderLine {
        OrderLine {
            sku: self.seller_sku.clone(),
            external_variant_id: self.seller_sku.clone(),
            quantity: self.quantity_ordered,
        }
    }
}

/// Where listings go and how their text is tagged, from the connection settings.
#[derive(Debug, Clone)]
pub struct ListingContext {
    pub marketplace_id: String,
    pub product_type: String,
    pub language_tag: String,
}

/// A variation family: the parent SKU and the theme built from the
/// product's option names (`SIZE`, `SIZE/COLOR`).
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    pub parent_sku: String,
    pub theme: String,
}

impl Family {
    /// Products with several variants and named options form a family;
    /// single-variant products are standalone listing items.
    pub fn of(product: &ProductPush) -> Option<Family> {
        if product.variants.len() < 2 || product.options.is_empty() {
            return None;
        }
        let skus: Vec<&str> = product.variants.iter().map(|v| v.sku.as_str()).collect();
        let parent_sku = product
            .external_id
            .clone()
            .filter(|id| !skus.contains(&id.as_str()))
            .unwrap_or_else(|| product.handle.clone());
        let theme = product
            .options
            .iter()
            .map(|o| option_attribute(o).to_uppercase())
            .collect::<Vec<_>>()
            .join("/");
        Some(Family { parent_sku, theme })
    }
}

/// The attribute an option's values go in: `Size` → `size`, `Colour` → `color`.
fn option_attribute(option: &str) -> String {
    let name = option.trim().to_lowercase().replace([' ', '-'], "_");
    match name.as_str() {
        "colour" => "color".into(),
        _ => name,
    }
}

fn text(value: &str, ctx: &ListingContext) -> Value {
    json!([{ "value": value, "language_tag": ctx.language_tag, "marketplace_id": ctx.marketplace_id }])
}

fn plain(value: Value, ctx: &ListingContext) -> Value {
    json!([{ "value": value, "marketplace_id": ctx.marketplace_id }])
}

fn number(value: Decimal) -> Value {
    value
        .to_f64()
        .and_then(serde_json::Number::from_f64)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// Product facts shared by a family's parent and every standalone or child item.
fn product_facts(product: &ProductPush, ctx: &ListingContext, attrs: &mut Map<String, Value>) {
    if !product.title.trim().is_empty() {
        attrs.insert("item_name".into(), text(&product.title, ctx));
    }
    if let Some(vendor) = product.vendor.as_deref().filter(|v| !v.trim().is_empty()) {
        attrs.insert("brand".into(), text(vendor, ctx));
    }
    if let Some(description) = product.description.as_deref().filter(|d| !d.is_empty()) {
        attrs.insert("product_description".into(), text(description, ctx));
    }
    let locators = product.images.iter().take(9).enumerate();
    for (n, image) in locators {
        let name = match n {
            0 => "main_product_image_locator".to_owned(),
            n => format!("other_product_image_locator_{n}"),
        };
        attrs.insert(
            name,
            json!([{ "media_location": image, "marketplace_id": ctx.marketplace_id }]),
        );
    }
}

/// The `putListingsItem` body for a family's parent: product facts only
/// (`LISTING_PRODUCT_ONLY`), no offer, `parentage_level` parent.
pub fn parent_body(product: &ProductPush, family: &Family, ctx: &ListingContext) -> Value {
    let mut attrs = Map::new();
    product_facts(product, ctx, &mut attrs);
    attrs.insert("parentage_level".into(), plain(json!("parent"), ctx));
    attrs.insert(
        "variation_theme".into(),
        json!([{ "name": family.theme, "marketplace_id": ctx.marketplace_id }]),
    );
    json!({
        "productType": ctx.product_type,
        "requirements": "LISTING_PRODUCT_ONLY",
        "attributes": attrs,
    })
}

/// The `putListingsItem` body for one variant: product facts, the offer
/// and the quantity (`LISTING`), and for a family child its parentage and
/// option values. A draft is put without an offer (`LISTING_PRODUCT_ONLY`),
/// so it exists but cannot be bought; an archived product keeps its offer
/// with nothing available.
pub fn variant_body(
    product: &ProductPush,
    variant: &VariantPush,
    family: Option<&Family>,
    ctx: &ListingContext,
) -> Value {
    let mut attrs = Map::new();
    product_facts(product, ctx, &mut attrs);
    attrs.insert("condition_type".into(), plain(json!("new_new"), ctx));
    if let Some(barcode) = variant.barcode.as_deref() {
        let kind = match barcode.trim().len() {
            12 => Some("upc"),
            13 => Some("ean"),
            14 => Some("gtin"),
            _ => None,
        };
        if let Some(kind) = kind {
            attrs.insert(
                "externally_assigned_product_identifier".into(),
                json!([{ "type": kind, "value": barcode.trim(), "marketplace_id": ctx.marketplace_id }]),
            );
        }
    }
    if let Some(grams) = variant.weight_grams {
        attrs.insert(
            "item_weight".into(),
            json!([{ "unit": "grams", "value": number(grams), "marketplace_id": ctx.marketplace_id }]),
        );
    }
    if let Some(family) = family {
        attrs.insert("parentage_level".into(), plain(json!("child"), ctx));
        attrs.insert(
            "child_parent_sku_relationship".into(),
            json!([{
                "child_relationship_type": "variation",
                "parent_sku": family.parent_sku,
                "marketplace_id": ctx.marketplace_id,
            }]),
        );
        attrs.insert(
            "variation_theme".into(),
            json!([{ "name": family.theme, "marketplace_id": ctx.marketplace_id }]),
        );
        for (option, value) in product.options.iter().zip(&variant.option_values) {
            attrs.insert(option_attribute(option), text(value, ctx));
        }
    }
    let requirements = if product.status == PushStatus::Draft {
        "LISTING_PRODUCT_ONLY"
    } else {
        attrs.insert(
            "purchasable_offer".into(),
            json!([{
                "marketplace_id": ctx.marketplace_id,
                "currency": variant.currency,
                "audience": "ALL",
                "our_price": [{ "schedule": [{ "value_with_tax": number(variant.price) }] }],
            }]),
        );
        if let Some(list) = variant.compare_at_price.filter(|p| *p > variant.price) {
            attrs.insert(
                "list_price".into(),
                json!([{ "value": number(list), "currency": variant.currency, "marketplace_id": ctx.marketplace_id }]),
            );
        }
        let quantity = match product.status {
            PushStatus::Archived => 0,
            _ => variant.quantity.max(0),
        };
        attrs.insert("fulfillment_availability".into(), fulfillment(quantity));
        "LISTING"
    };
    json!({
        "productType": ctx.product_type,
        "requirements": requirements,
        "attributes": attrs,
    })
}

fn fulfillment(quantity: i64) -> Value {
    json!([{ "fulfillment_channel_code": "DEFAULT", "quantity": quantity.max(0) }])
}

/// The `patchListingsItem` body that sets a SKU's seller-fulfilled quantity.
/// `merge` changes only the quantity, keeping a handling time or restock
/// date the merchant set in Seller Central (`replace` would clear them).
pub fn quantity_patch(quantity: i64, ctx: &ListingContext) -> Value {
    json!({
        "productType": ctx.product_type,
        "patches": [{
            "op": "merge",
            "path": "/attributes/fulfillment_availability",
            "value": fulfillment(quantity),
        }],
    })
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
