//! Etsy's wire shapes and their mapping to and from the neutral model.
//!
//! Shapes follow the Open API v3 reference
//! (<https://developers.etsy.com/documentation/reference>, generated from
//! <https://www.etsy.com/openapi/generated/oas/3.0.0.json>): `ShopListing`,
//! `ListingInventory`, `ListingInventoryProduct`, `ListingPropertyValue`,
//! `ListingInventoryProductOffering`, `Money`, `ShopReceipt`,
//! `ShopReceiptTransaction` and `ErrorSchema`. Every field we do not need
//! is ignored and every field Etsy documents as nullable is optional, so
//! a shape we do not understand becomes a protocol error, never a panic.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};

use crate::model::{
    ChannelListing, ChannelOrder, ChannelVariant, ItemError, OrderLine, ProductPush,
};

/// Etsy's ids for the first and second custom variation properties. Custom
/// variations (a property the seller names, with free-text values) use
/// these two ids in `property_values`; taxonomy-defined properties have
/// their own ids, which a channel-neutral product does not know.
pub const CUSTOM_PROPERTY_IDS: [u64; 2] = [513, 514];

/// A `Money` object: `amount / divisor` in `currency_code`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Money {
    pub amount: i64,
    pub divisor: i64,
    #[serde(default)]
    pub currency_code: Option<String>,
}

impl Money {
    /// The amount as a decimal; `None` for a divisor Etsy should never send.
    pub fn to_decimal(&self) -> Option<Decimal> {
        if self.divisor <= 0 {
            return None;
        }
        Some(Decimal::from(self.amount) / Decimal::from(self.divisor))
    }
}

/// `{"count": …, "results": […]}`, Etsy's list envelope.
#[derive(Debug, Deserialize)]
pub struct Page<T> {
    #[serde(default)]
    pub count: Option<u64>,
    pub results: Vec<T>,
}

/// `ErrorSchema`: `{"error": "…"}` (the OAuth layer adds `error_description`).
#[derive(Debug, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    #[serde(default)]
    pub error_description: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ShopListing {
    pub listing_id: u64,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub updated_timestamp: Option<i64>,
    #[serde(default)]
    pub last_modified_timestamp: Option<i64>,
    /// Present when asked for with `includes=Inventory`.
    #[serde(default)]
    pub inventory: Option<ListingInventory>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ListingInventory {
    #[serde(default)]
    pub products: Vec<InventoryProduct>,
    #[serde(default)]
    pub price_on_property: Vec<u64>,
    #[serde(default)]
    pub quantity_on_property: Vec<u64>,
    #[serde(default)]
    pub sku_on_property: Vec<u64>,
    #[serde(default)]
    pub readiness_state_on_property: Option<Vec<u64>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InventoryProduct {
    pub product_id: u64,
    #[serde(default)]
    pub sku: Option<String>,
    #[serde(default)]
    pub is_deleted: bool,
    #[serde(default)]
    pub offerings: Vec<InventoryOffering>,
    #[serde(default)]
    pub property_values: Vec<PropertyValue>,
}

impl InventoryProduct {
    /// The offering buyers see: the first one not deleted.
    pub fn offering(&self) -> Option<&InventoryOffering> {
        self.offerings.iter().find(|o| !o.is_deleted)
    }

    /// The SKU, with Etsy's empty string read as none.
    pub fn sku(&self) -> Option<&str> {
        self.sku.as_deref().filter(|s| !s.is_empty())
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct InventoryOffering {
    pub quantity: i64,
    #[serde(default = "yes")]
    pub is_enabled: bool,
    #[serde(default)]
    pub is_deleted: bool,
    pub price: Money,
    #[serde(default)]
    pub readiness_state_id: Option<u64>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PropertyValue {
    pub property_id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_id: Option<u64>,
    #[serde(default)]
    pub value_ids: Vec<u64>,
    #[serde(default)]
    pub values: Vec<String>,
}

/// The body of `updateListingInventory`: the listing's whole inventory,
/// which replaces what Etsy holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InventoryUpdate {
    pub products: Vec<ProductUpdate>,
    pub price_on_property: Vec<u64>,
    pub quantity_on_property: Vec<u64>,
    pub sku_on_property: Vec<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readiness_state_on_property: Option<Vec<u64>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProductUpdate {
    pub sku: Option<String>,
    pub property_values: Vec<PropertyValue>,
    pub offerings: Vec<OfferingUpdate>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OfferingUpdate {
    /// A float, `amount / divisor` (the reference says so for writes).
    pub price: f64,
    pub quantity: i64,
    pub is_enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readiness_state_id: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ShopReceipt {
    pub receipt_id: u64,
    /// `paid`, `completed`, `open`, `payment processing`, `canceled`,
    /// `fully refunded`, `partially refunded` (any case).
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub create_timestamp: Option<i64>,
    #[serde(default)]
    pub created_timestamp: Option<i64>,
    #[serde(default)]
    pub transactions: Vec<Transaction>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Transaction {
    #[serde(default)]
    pub product_id: Option<u64>,
    #[serde(default)]
    pub sku: Option<String>,
    pub quantity: i64,
}

/// Epoch seconds as a UTC time; `None` for values chrono cannot hold.
pub fn epoch(secs: Option<i64>) -> Option<DateTime<Utc>> {
    secs.and_then(|s| DateTime::from_timestamp(s, 0))
}

/// A decimal price as the float Etsy's writes take. Fails only for values
/// no price has (beyond `f64`).
pub fn price_float(price: Decimal) -> Result<f64, ItemError> {
    price.to_f64().filter(|p| p.is_finite()).ok_or_else(|| {
        ItemError::permanent("invalid_price", format!("price {price} is out of range"))
    })
}

/// What reconciliation needs of a listing read back with its inventory.
pub fn to_channel_listing(listing: &ShopListing) -> ChannelListing {
    let variants = listing
        .inventory
        .as_ref()
        .map(|inventory| {
            inventory
                .products
                .iter()
                .filter(|p| !p.is_deleted)
                .map(|p| {
                    let offering = p.offering();
                    ChannelVariant {
                        external_id: p.product_id.to_string(),
                        sku: p.sku().map(str::to_owned),
                        price: offering.and_then(|o| o.price.to_decimal()),
                        quantity: offering.map(|o| o.quantity),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    ChannelListing {
        external_id: listing.listing_id.to_string(),
        title: listing.title.clone(),
        status: listing.state.clone(),
        variants,
        updated_at: epoch(
            listing
                .updated_timestamp
                .or(listing.last_modified_timestamp),
        ),
    }
}

/// A receipt as the order lines that move stock.
/// A canceled or fully refunded receipt counts as a cancellation.
pub fn to_channel_order(receipt: &ShopReceipt) -> ChannelOrder {
    let status = receipt.status.as_deref().unwrap_or_default();
    ChannelOrder {
        cancelled: status.eq_ignore_ascii_case("canceled")
            || status.eq_ignore_ascii_case("fully refunded"),
        external_id: receipt.receipt_id.to_string(),
        created_at: epoch(receipt.create_timestamp.or(receipt.created_timestamp)),
        lines: receipt
            .transactions
            .iter()
            .map(|t| OrderLine {
                sku: t.sku.clone().filter(|s| !s.is_empty()),
                external_variant_id: t.product_id.map(|id| id.to_string()),
                quantity: t.quantity,
            })
            .collect(),
    }
}

/// The inventory a product should have on Etsy: one Etsy product per
/// variant, its options as custom variation properties, one offering each.
/// Every property drives price, quantity and SKU, which Etsy accepts
/// whether or not the values differ, so the `*_on_property` rules of
/// `updateListingInventory` always hold.
pub fn inventory_for(
    product: &ProductPush,
    readiness_state_id: Option<u64>,
) -> Result<InventoryUpdate, ItemError> {
    let property_ids: Vec<u64> = CUSTOM_PROPERTY_IDS
        .iter()
        .take(product.options.len())
        .copied()
        .collect();
    let mut products = Vec::with_capacity(product.variants.len());
    for variant in &product.variants {
        let property_values = product
            .options
            .iter()
            .zip(&variant.option_values)
            .zip(&property_ids)
            .map(|((name, value), id)| PropertyValue {
                property_id: *id,
                property_name: Some(name.clone()),
                scale_id: None,
                value_ids: Vec::new(),
                values: vec![value.clone()],
            })
            .collect();
        products.push(ProductUpdate {
            sku: Some(variant.sku.clone()),
            property_values,
            offerings: vec![OfferingUpdate {
                price: price_float(variant.price)?,
                quantity: variant.quantity.max(0),
                is_enabled: true,
                readiness_state_id,
            }],
        });
    }
    Ok(InventoryUpdate {
        products,
        price_on_property: property_ids.clone(),
        quantity_on_property: property_ids.clone(),
        sku_on_property: property_ids,
        readiness_state_on_property: None,
    })
}

/// The inventory Etsy holds, written back unchanged but for the quantities
/// in `quantities` (by product id): setting one SKU's stock means sending
/// the listing's whole inventory.
pub fn inventory_with_quantities(
    inventory: &ListingInventory,
    quantities: &std::collections::HashMap<u64, i64>,
) -> Result<InventoryUpdate, ItemError> {
    let mut products = Vec::new();
    for product in inventory.products.iter().filter(|p| !p.is_deleted) {
        let mut offerings = Vec::new();
        for offering in product.offerings.iter().filter(|o| !o.is_deleted) {
            let price = offering.price.to_decimal().ok_or_else(|| {
                ItemError::permanent(
                    "etsy_protocol",
                    format!("product {} has a price with divisor 0", product.product_id),
                )
            })?;
            offerings.push(OfferingUpdate {
                price: price_float(price)?,
                quantity: quantities
                    .get(&product.product_id)
                    .copied()
                    .unwrap_or(offering.quantity)
                    .max(0),
                is_enabled: offering.is_enabled,
                readiness_state_id: offering.readiness_state_id,
            });
        }
        products.push(ProductUpdate {
            sku: product.sku.clone(),
            property_values: product.property_values.clone(),
            offerings,
        });
    }
    Ok(InventoryUpdate {
        products,
        price_on_property: inventory.price_on_property.clone(),
        quantity_on_property: inventory.quantity_on_property.clone(),
        sku_on_property: inventory.sku_on_property.clone(),
        readiness_state_on_property: inventory.readiness_state_on_property.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PushStatus, VariantPush};
    use std::collections::HashMap;

    // Shaped after the "Example Response for getListingInventory" on
    // https://developers.etsy.com/documentation/tutorials/third-variation
    // (product 12345678979, offering 34567891284, quantity 9, price
    // 100/100 USD, readiness state 1020304051823, empty SKU), with the
    // property values of ListingPropertyValue in the reference.
    const INVENTORY: &str = r#"{
      "products": [
        {
          "product_id": 12345678979,
          "sku": "",
          "is_deleted": false,
          "offerings": [
            {
              "offering_id": 34567891284,
              "quantity": 9,
              "is_enabled": true,
              "is_deleted": false,
              "price": { "amount": 100, "divisor": 100, "currency_code": "USD" },
              "readiness_state_id": 1020304051823
            }
          ],
          "property_values": [
            { "property_id": 513, "property_name": "Size", "scale_id": null,
              "scale_name": null, "value_ids": [1234], "values": ["Large"] }
          ]
        },
        {
          "product_id": 12345678980,
          "sku": "MUG-S",
          "is_deleted": false,
          "offerings": [
            {
              "offering_id": 34567891285,
              "quantity": 0,
              "is_enabled": false,
              "is_deleted": false,
              "price": { "amount": 2500, "divisor": 100, "currency_code": "USD" },
              "readiness_state_id": 1020304051823
            }
          ],
          "property_values": [
            { "property_id": 513, "property_name": "Size", "value_ids": [1235], "values": ["Small"] }
          ]
        }
      ],
      "price_on_property": [513],
      "quantity_on_property": [513],
      "sku_on_property": [513]
    }"#;

    // The createDraftListing 201 example of the reference
    // (https://developers.etsy.com/documentation/reference#operation/createDraftListing),
    // abridged, with its price as the Money object the schema defines.
    const LISTING: &str = r#"{
      "listing_id": 123456789, "user_id": 456789, "shop_id": 123456,
      "title": "Handmade Ceramic Mug — Stoneware",
      "description": "Beautifully crafted handmade ceramic mug, kiln-fired in our Brooklyn studio.",
      "state": "active", "creation_timestamp": 1758153645, "updated_timestamp": 1758153645,
      "quantity": 1, "url": "https://www.etsy.com/listing/123456789",
      "price": { "amount": 2500, "divisor": 100, "currency_code": "USD" },
      "taxonomy_id": 1234, "who_made": "i_did", "when_made": "made_to_order"
    }"#;

    // The ShopReceipt and ShopReceiptTransaction examples of the reference
    // (https://developers.etsy.com/documentation/reference#operation/getShopReceipts).
    const RECEIPTS: &str = r#"{
      "count": 1,
      "results": [
        {
          "receipt_id": 234567890, "receipt_type": 1, "seller_user_id": 456789,
          "status": "paid", "is_paid": true, "is_shipped": true,
          "create_timestamp": 1758153645, "created_timestamp": 1758153645,
          "grandtotal": { "amount": 2500, "divisor": 100, "currency_code": "USD" },
          "transactions": [
            {
              "transaction_id": 345678901, "title": "Handmade Ceramic Mug — Stoneware",
              "seller_user_id": 456789, "buyer_user_id": 456789,
              "create_timestamp": 1758153645, "quantity": 1, "receipt_id": 234567890,
              "listing_id": 123456789, "transaction_type": "listing",
              "product_id": 567890123, "sku": "SKU-12345",
              "price": { "amount": 2500, "divisor": 100, "currency_code": "USD" }
            },
            { "transaction_id": 345678902, "quantity": 2, "listing_id": null,
              "product_id": null, "sku": null }
          ]
        }
      ]
    }"#;

    #[test]
    fn money_is_amount_over_divisor() {
        let m = Money {
            amount: 2599,
            divisor: 100,
            currency_code: Some("USD".into()),
        };
        assert_eq!(m.to_decimal(), Some(Decimal::new(2599, 2)));
        let bad = Money {
            amount: 1,
            divisor: 0,
            currency_code: None,
        };
        assert_eq!(bad.to_decimal(), None);
    }

    #[test]
    fn a_listing_with_inventory_maps_to_variants() {
        let mut listing: ShopListing = serde_json::from_str(LISTING).unwrap();
        listing.inventory = Some(serde_json::from_str(INVENTORY).unwrap());
        let mapped = to_channel_listing(&listing);
        assert_eq!(mapped.external_id, "123456789");
        assert_eq!(mapped.status.as_deref(), Some("active"));
        assert_eq!(mapped.updated_at.unwrap().timestamp(), 1758153645);
        assert_eq!(mapped.variants.len(), 2);
        assert_eq!(mapped.variants[0].external_id, "12345678979");
        assert_eq!(mapped.variants[0].sku, None, "an empty SKU is no SKU");
        assert_eq!(mapped.variants[0].price, Some(Decimal::ONE));
        assert_eq!(mapped.variants[0].quantity, Some(9));
        assert_eq!(mapped.variants[1].sku.as_deref(), Some("MUG-S"));
        assert_eq!(mapped.variants[1].price, Some(Decimal::new(25, 0)));
    }

    #[test]
    fn receipts_map_to_order_lines() {
        let page: Page<ShopReceipt> = serde_json::from_str(RECEIPTS).unwrap();
        assert_eq!(page.count, Some(1));
        let order = to_channel_order(&page.results[0]);
        assert_eq!(order.external_id, "234567890");
        assert_eq!(order.created_at.unwrap().timestamp(), 1758153645);
        assert_eq!(order.lines[0].sku.as_deref(), Some("SKU-12345"));
        assert_eq!(
            order.lines[0].external_variant_id.as_deref(),
            Some("567890123")
        );
        assert_eq!(order.lines[0].quantity, 1);
        assert_eq!(order.lines[1].sku, None);
        assert_eq!(order.lines[1].external_variant_id, None);
    }

    #[test]
    fn setting_one_quantity_writes_the_whole_inventory_back() {
        let inventory: ListingInventory = serde_json::from_str(INVENTORY).unwrap();
        let update =
            inventory_with_quantities(&inventory, &HashMap::from([(12345678980, 7)])).unwrap();
        let body = serde_json::to_value(&update).unwrap();
        assert_eq!(body["products"].as_array().unwrap().len(), 2);
        assert_eq!(body["products"][0]["offerings"][0]["quantity"], 9);
        assert_eq!(body["products"][0]["offerings"][0]["price"], 1.0);
        assert_eq!(
            body["products"][0]["offerings"][0]["readiness_state_id"],
            1020304051823u64
        );
        assert_eq!(body["products"][1]["offerings"][0]["quantity"], 7);
        assert_eq!(body["products"][1]["offerings"][0]["is_enabled"], false);
        assert_eq!(body["products"][1]["offerings"][0]["price"], 25.0);
        assert_eq!(
            body["products"][1]["property_values"][0]["value_ids"][0],
            1235
        );
        assert_eq!(body["price_on_property"][0], 513);
        assert!(body.get("readiness_state_on_property").is_none());
    }

    fn shirt() -> ProductPush {
        ProductPush {
            key: "k".into(),
            external_id: None,
            handle: "shirt".into(),
            title: "Shirt".into(),
            description: None,
            vendor: None,
            product_type: None,
            tags: vec![],
            status: PushStatus::Active,
            options: vec!["Size".into(), "Colour".into()],
            images: vec![],
            variants: vec![
                VariantPush {
                    sku: "S-RED".into(),
                    external_id: None,
                    option_values: vec!["S".into(), "Red".into()],
                    price: Decimal::new(1999, 2),
                    compare_at_price: None,
                    currency: "USD".into(),
                    barcode: None,
                    weight_grams: None,
                    quantity: 3,
                },
                VariantPush {
                    sku: "M-RED".into(),
                    external_id: None,
                    option_values: vec!["M".into(), "Red".into()],
                    price: Decimal::new(2199, 2),
                    compare_at_price: None,
                    currency: "USD".into(),
                    barcode: None,
                    weight_grams: None,
                    quantity: -2,
                },
            ],
        }
    }

    #[test]
    fn variants_become_custom_properties_with_one_offering_each() {
        let body = serde_json::to_value(inventory_for(&shirt(), Some(77)).unwrap()).unwrap();
        let p = &body["products"][0];
        assert_eq!(p["sku"], "S-RED");
        assert_eq!(p["property_values"][0]["property_id"], 513);
        assert_eq!(p["property_values"][0]["property_name"], "Size");
        assert_eq!(p["property_values"][0]["values"][0], "S");
        assert_eq!(p["property_values"][1]["property_id"], 514);
        assert_eq!(p["property_values"][1]["values"][0], "Red");
        assert_eq!(p["offerings"][0]["price"], 19.99);
        assert_eq!(p["offerings"][0]["readiness_state_id"], 77);
        assert_eq!(
            body["products"][1]["offerings"][0]["quantity"], 0,
            "negative stock is sent as none"
        );
        assert_eq!(body["price_on_property"], serde_json::json!([513, 514]));
        assert_eq!(body["sku_on_property"], serde_json::json!([513, 514]));
    }

    #[test]
    fn unknown_shapes_fail_to_parse_instead_of_panicking() {
        assert!(serde_json::from_str::<ShopListing>(r#"{"title": "x"}"#).is_err());
        assert!(
            serde_json::from_str::<Page<ShopReceipt>>(r#"{"results": [{"receipt_id": "x"}]}"#)
                .is_err()
        );
        assert!(
            serde_json::from_str::<ListingInventory>(
                r#"{"products": [{"product_id": 1, "offerings": [{"quantity": 1}]}]}"#
            )
            .is_err()
        );
    }
}
