//! eBay's JSON shapes, named as the Inventory and Fulfillment API references
//! name them, and the pure mapping between them and the neutral model:
//! here what the adapter sends, in [`answers`] what eBay sends back. No I/O,
//! so the mapping is unit-tested against the documentation's examples
//! (see `tests.rs`).

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};

use super::Settings;
use crate::{ProductPush, VariantPush};

mod answers;

pub use self::answers::*;

/// eBay's limit on `product.title` and the group `title` (80 characters).
pub const TITLE_MAX: usize = 80;
/// eBay's limit on SKUs and inventory item group keys (50 characters).
pub const KEY_MAX: usize = 50;

// ---------------------------------------------------------------- requests

/// The `{"requests": [...]}` envelope of every Inventory API bulk call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Requests<T> {
    pub requests: Vec<T>,
}

/// `InventoryItemWithSkuLocale` (bulkCreateOrReplaceInventoryItem).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InventoryItemWithSkuLocale {
    pub sku: String,
    pub locale: String,
    pub product: ProductDetails,
    pub condition: String,
    pub availability: Availability,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package_weight_and_size: Option<PackageWeightAndSize>,
}

/// `Product`: what the buyer sees of one inventory item.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductDetails {
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub aspects: BTreeMap<String, Vec<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub image_urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub upc: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ean: Vec<String>,
}

/// `Availability.shipToLocationAvailability`: the item's total stock.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Availability {
    pub ship_to_location_availability: ShipTo,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShipTo {
    pub quantity: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PackageWeightAndSize {
    pub weight: Weight,
}

/// `Weight` (`unit` is a `WeightUnitOfMeasureEnum`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Weight {
    pub value: f64,
    pub unit: &'static str,
}

/// `InventoryItemGroup` (createOrReplaceInventoryItemGroup).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InventoryItemGroup {
    pub title: String,
    pub description: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub image_urls: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub aspects: BTreeMap<String, Vec<String>>,
    #[serde(rename = "variantSKUs")]
    pub variant_skus: Vec<String>,
    pub varies_by: VariesBy,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VariesBy {
    pub aspects_image_varies_by: Vec<String>,
    pub specifications: Vec<Specification>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Specification {
    pub name: String,
    pub values: Vec<String>,
}

/// `Amount`: eBay sends and takes money as a decimal string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Amount {
    pub value: String,
    pub currency: String,
}

impl Amount {
    pub fn new(value: Decimal, currency: &str) -> Self {
        Amount {
            value: value.normalize().to_string(),
            currency: currency.to_owned(),
        }
    }

    pub fn decimal(&self) -> Option<Decimal> {
        self.value.trim().parse().ok()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PricingSummary {
    pub price: Amount,
    /// The strike-through "was" price.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_retail_price: Option<Amount>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListingPolicies {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fulfillment_policy_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_policy_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_policy_id: Option<String>,
}

/// `EbayOfferDetailsWithKeys` (bulkCreateOffer) when the keys are set;
/// `EbayOfferDetailsWithId` (updateOffer) when they are not.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OfferDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marketplace_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<&'static str>,
    pub available_quantity: i64,
    pub pricing_summary: PricingSummary,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merchant_location_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listing_description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listing_policies: Option<ListingPolicies>,
}

/// `PriceQuantity` (bulkUpdatePriceQuantity): one SKU and its offers.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceQuantity {
    pub sku: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ship_to_location_availability: Option<ShipTo>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub offers: Vec<OfferPriceQuantity>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OfferPriceQuantity {
    pub offer_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available_quantity: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<Amount>,
}

/// `OfferKeyWithId` (bulkPublishOffer).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OfferKey {
    pub offer_id: String,
}

/// `GetInventoryItem` (bulkGetInventoryItem).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SkuKey {
    pub sku: String,
}

/// `PublishByInventoryItemGroupRequest` / `WithdrawByInventoryItemGroupRequest`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupKey {
    pub inventory_item_group_key: String,
    pub marketplace_id: String,
}

// ----------------------------------------------------------------- mapping

pub(crate) fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// A key eBay accepts as SKU or group key: 1–50 characters.
pub fn valid_key(key: &str) -> bool {
    !key.trim().is_empty() && key.chars().count() <= KEY_MAX
}

/// The inventory item group key of a multi-variant product: its external id
/// once it has one, else the caller's key when eBay can take it as is, else
/// a stable digest of the key.
pub fn group_key(product: &ProductPush) -> String {
    if let Some(id) = product.external_id.as_deref().filter(|id| valid_key(id)) {
        return id.to_owned();
    }
    let key = product.key.as_str();
    if valid_key(key)
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return key.to_owned();
    }
    use sha2::Digest;
    let digest = sha2::Sha256::digest(key.as_bytes());
    format!("g{}", &hex::encode(digest)[..32])
}

/// The item aspects a variant's options and the product's brand give.
fn aspects(product: &ProductPush, variant: Option<&VariantPush>) -> BTreeMap<String, Vec<String>> {
    let mut aspects = BTreeMap::new();
    if let Some(vendor) = product.vendor.as_deref().filter(|v| !v.trim().is_empty()) {
        aspects.insert("Brand".to_owned(), vec![vendor.to_owned()]);
    }
    if let Some(variant) = variant {
        for (name, value) in product.options.iter().zip(&variant.option_values) {
            aspects.insert(name.clone(), vec![value.clone()]);
        }
    }
    aspects
}

/// The inventory item for one variant of `product`.
pub fn inventory_item(
    product: &ProductPush,
    variant: &VariantPush,
    settings: &Settings,
) -> InventoryItemWithSkuLocale {
    let barcode = variant
        .barcode
        .as_deref()
        .map(str::trim)
        .filter(|b| b.chars().all(|c| c.is_ascii_digit()));
    let (upc, ean) = match barcode {
        Some(b) if b.len() == 12 => (vec![b.to_owned()], vec![]),
        Some(b) if b.len() == 13 => (vec![], vec![b.to_owned()]),
        _ => (vec![], vec![]),
    };
    InventoryItemWithSkuLocale {
        sku: variant.sku.clone(),
        locale: settings.locale.clone(),
        product: ProductDetails {
            title: truncate(&product.title, TITLE_MAX),
            description: product.description.clone(),
            aspects: aspects(product, Some(variant)),
            image_urls: product.images.clone(),
            brand: product.vendor.clone(),
            upc,
            ean,
        },
        condition: settings.condition.clone(),
        availability: Availability {
            ship_to_location_availability: ShipTo {
                quantity: variant.quantity.max(0),
            },
        },
        package_weight_and_size: variant
            .weight_grams
            .and_then(|w| w.to_f64())
            .filter(|w| *w > 0.0)
            .map(|value| PackageWeightAndSize {
                weight: Weight {
                    value,
                    unit: "GRAM",
                },
            }),
    }
}

/// The group of a multi-variant product: its variants vary by its options.
pub fn inventory_group(product: &ProductPush) -> InventoryItemGroup {
    let specifications = product
        .options
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let mut values: Vec<String> = Vec::new();
            for variant in &product.variants {
                if let Some(value) = variant.option_values.get(i)
                    && !values.contains(value)
                {
                    values.push(value.clone());
                }
            }
            Specification {
                name: name.clone(),
                values,
            }
        })
        .collect();
    InventoryItemGroup {
        title: truncate(&product.title, TITLE_MAX),
        description: product
            .description
            .clone()
            .unwrap_or_else(|| product.title.clone()),
        image_urls: product.images.clone(),
        aspects: aspects(product, None),
        variant_skus: product.variants.iter().map(|v| v.sku.clone()).collect(),
        varies_by: VariesBy {
            aspects_image_varies_by: product.options.iter().take(1).cloned().collect(),
            specifications,
        },
    }
}

/// The offer for one variant: with its keys (SKU, marketplace, format) for
/// bulkCreateOffer, without them for updateOffer.
pub fn offer(
    product: &ProductPush,
    variant: &VariantPush,
    settings: &Settings,
    with_keys: bool,
) -> OfferDetails {
    let policies = ListingPolicies {
        fulfillment_policy_id: settings.fulfillment_policy_id.clone(),
        payment_policy_id: settings.payment_policy_id.clone(),
        return_policy_id: settings.return_policy_id.clone(),
    };
    let has_policies = policies.fulfillment_policy_id.is_some()
        || policies.payment_policy_id.is_some()
        || policies.return_policy_id.is_some();
    OfferDetails {
        sku: with_keys.then(|| variant.sku.clone()),
        marketplace_id: with_keys.then(|| settings.marketplace_id.clone()),
        format: with_keys.then_some("FIXED_PRICE"),
        available_quantity: variant.quantity.max(0),
        pricing_summary: PricingSummary {
            price: Amount::new(variant.price, &variant.currency),
            original_retail_price: variant
                .compare_at_price
                .filter(|was| *was > variant.price)
                .map(|was| Amount::new(was, &variant.currency)),
        },
        category_id: settings.category_id.clone(),
        merchant_location_key: settings.merchant_location_key.clone(),
        // A variation listing takes its description from the group.
        listing_description: if product.variants.len() > 1 {
            None
        } else {
            product.description.clone()
        },
        listing_policies: has_policies.then_some(policies),
    }
}
