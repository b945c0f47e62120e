//! The neutral model to Shopify's GraphQL shapes and back.
//!
//! * ProductSetInput / ProductVariantSetInput / InventoryItemInput:
//!   https://shopify.dev/docs/api/admin-graphql/2026-07/input-objects/ProductSetInput,
//!   https://shopify.dev/docs/api/admin-graphql/2026-07/input-objects/ProductVariantSetInput,
//!   https://shopify.dev/docs/api/admin-graphql/2026-07/input-objects/InventoryItemInput
//! * Product, ProductVariant, Order, LineItem objects:
//!   https://shopify.dev/docs/api/admin-graphql/2026-07/objects/Product (and siblings)

use std::str::FromStr;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};

use super::graphql::{Connection, Node, PageInfo, UserError};
use crate::model::{
    ChannelListing, ChannelOrder, ChannelVariant, ItemError, OrderLine, ProductPush, ProductRef,
    PushStatus, VariantRef,
};
use crate::validate;

/// Variants one product may carry through this adapter: the most one
/// connection page returns, so every variant's ids come back in one answer.
/// Lower than Shopify's own 2,048 per product since 2025-10
/// (https://shopify.dev/changelog/the-product-variant-limit-is-now-2048-for-all-merchants).
pub const MAX_VARIANTS: usize = 250;
/// Options a product may have (ProductSetInput.productOptions).
pub const MAX_OPTIONS: usize = 3;

/// Shopify's name for a product status.
fn status(status: PushStatus) -> &'static str {
    match status {
        PushStatus::Active => "ACTIVE",
        PushStatus::Draft => "DRAFT",
        PushStatus::Archived => "ARCHIVED",
    }
}

/// Money is a decimal string in GraphQL inputs.
fn money(d: Decimal) -> Value {
    Value::String(d.normalize().to_string())
}

/// A product title's limit: 255 characters (Shopify Help Center, "Adding
/// and updating products": titles "can be up to 255 characters").
pub const TITLE_MAX: usize = 255;

/// Everything `productSet` would be refused for that can be known without a
/// call: the shared rules, the title limit, this adapter's variant and
/// option limits (ProductSetInput takes at most three `productOptions`), a
/// handle to upsert by, options for several variants, and prices in the
/// shop's currency when the connection names it. [`product_set_input`]
/// refuses with the first of these, so a dry run and a real run agree.
pub fn check(p: &ProductPush, currency: Option<&str>) -> Vec<ItemError> {
    let mut errors = validate::common(p);
    errors.extend(validate::title_length(p, TITLE_MAX, "Shopify"));
    errors.extend(validate::variant_count(
        p,
        MAX_VARIANTS,
        "this Shopify adapter",
    ));
    errors.extend(validate::option_count(p, MAX_OPTIONS, "Shopify"));
    if p.handle.trim().is_empty() {
        errors.push(ItemError::permanent(
            validate::HANDLE_EMPTY,
            "handle: a Shopify product needs a handle to be upserted by",
        ));
    }
    errors.extend(validate::options_for_variants(p, "Shopify"));
    errors.extend(validate::currency_matches(p, currency));
    errors
}

/// The `productSet` input and identifier for one product, or why it cannot
/// be sent (the first problem [`check`] finds). A product with an id is
/// updated by id; a new one is upserted by handle, so a retried call cannot
/// create it twice.
pub fn product_set_input(
    p: &ProductPush,
    location: Option<&str>,
    currency: Option<&str>,
) -> Result<(Value, Value), ItemError> {
    validate::refusal(check(p, currency))?;
    // Shopify names the single option of a product without options "Title".
    let (names, default_option) = if p.options.is_empty() {
        (vec!["Title".to_owned()], true)
    } else {
        (p.options.clone(), false)
    };
    let mut values: Vec<Vec<String>> = vec![Vec::new(); names.len()];
    let mut variants = Vec::new();
    for v in &p.variants {
        // `check` made every variant give one value per option.
        let option_values: Vec<String> = if default_option {
            vec!["Default Title".to_owned()]
        } else {
            v.option_values.clone()
        };
        for (i, value) in option_values.iter().enumerate() {
            if !values[i].contains(value) {
                values[i].push(value.clone());
            }
        }
        let mut item = json!({"sku": v.sku, "tracked": true});
        if let Some(w) = v
            .weight_grams
            .and_then(|w| w.to_string().parse::<f64>().ok())
        {
            item["measurement"] = json!({"weight": {"unit": "GRAMS", "value": w}});
        }
        let mut variant = json!({
            "optionValues": names.iter().zip(&option_values)
                .map(|(n, value)| json!({"optionName": n, "name": value})).collect::<Vec<_>>(),
            "price": money(v.price),
            "compareAtPrice": v.compare_at_price.map(money),
            "inventoryItem": item,
            "inventoryPolicy": "DENY",
        });
        if let Some(id) = &v.external_id {
            variant["id"] = json!(id);
        }
        if let Some(barcode) = &v.barcode {
            variant["barcode"] = json!(barcode);
        }
        if let Some(location) = location {
            variant["inventoryQuantities"] =
                json!([{"locationId": location, "name": "available", "quantity": v.quantity}]);
        }
        variants.push(variant);
    }
    let mut input = json!({
        "title": p.title,
        "handle": p.handle,
        "status": status(p.status),
        "tags": p.tags,
        "productOptions": names.iter().zip(&values).enumerate().map(|(i, (n, vs))| json!({
            "name": n, "position": i + 1,
            "values": vs.iter().map(|v| json!({"name": v})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "variants": variants,
    });
    if let Some(d) = &p.description {
        input["descriptionHtml"] = json!(d);
    }
    if let Some(v) = &p.vendor {
        input["vendor"] = json!(v);
    }
    if let Some(t) = &p.product_type {
        input["productType"] = json!(t);
    }
    if !p.images.is_empty() {
        input["files"] = Value::Array(
            p.images
                .iter()
                .map(|url| json!({"originalSource": url, "contentType": "IMAGE"}))
                .collect(),
        );
    }
    let identifier = match &p.external_id {
        Some(id) => json!({"id": id}),
        None => json!({"handle": p.handle}),
    };
    Ok((input, identifier))
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetVariant {
    pub id: String,
    #[serde(default)]
    pub sku: Option<String>,
    pub inventory_item: Option<Node>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SetProduct {
    pub id: String,
    pub variants: Connection<SetVariant>,
}

/// One `productSet` (or `productVariantsBulkUpdate`) payload.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetPayload {
    pub product: Option<SetProduct>,
    #[serde(default)]
    pub user_errors: Vec<UserError>,
}

/// A user error as an item error: data Shopify will not take as it is.
pub fn item_error(errors: &[UserError]) -> ItemError {
    let code = errors
        .iter()
        .find_map(|e| e.code.clone())
        .unwrap_or_else(|| "USER_ERROR".into());
    let message = errors
        .iter()
        .map(|e| match &e.field {
            Some(f) if !f.is_empty() => format!("{}: {}", f.join("."), e.message),
            _ => e.message.clone(),
        })
        .collect::<Vec<_>>()
        .join("; ");
    ItemError::permanent(code, message)
}

/// Where a pushed product ended up, or why it did not.
pub fn product_outcome(p: &ProductPush, payload: SetPayload) -> Result<ProductRef, ItemError> {
    if !payload.user_errors.is_empty() {
        return Err(item_error(&payload.user_errors));
    }
    let product = payload.product.ok_or_else(|| {
        ItemError::retryable(
            "NO_PRODUCT",
            "Shopify returned neither a product nor an error",
        )
    })?;
    let variants = p
        .variants
        .iter()
        .filter_map(|pushed| {
            product
                .variants
                .nodes
                .iter()
                .find(|v| v.sku.as_deref() == Some(pushed.sku.as_str()))
                .map(|v| VariantRef {
                    sku: pushed.sku.clone(),
                    external_id: v.id.clone(),
                    inventory_ref: v.inventory_item.as_ref().map(|i| i.id.clone()),
                })
        })
        .collect();
    Ok(ProductRef {
        external_id: product.id,
        variants,
    })
}

fn decimal(v: &Value) -> Option<Decimal> {
    match v {
        Value::String(s) => Decimal::from_str(s.trim()).ok(),
        Value::Number(n) => Decimal::from_str(&n.to_string()).ok(),
        _ => None,
    }
}

fn datetime(s: Option<&str>) -> Option<DateTime<Utc>> {
    s.and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|d| d.with_timezone(&Utc))
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListedVariant {
    pub id: String,
    #[serde(default)]
    pub sku: Option<String>,
    #[serde(default)]
    pub price: Value,
    #[serde(default)]
    pub inventory_quantity: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListedProduct {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
    pub variants: Connection<ListedVariant>,
}

pub fn channel_variant(v: &ListedVariant) -> ChannelVariant {
    ChannelVariant {
        external_id: v.id.clone(),
        sku: v.sku.clone().filter(|s| !s.is_empty()),
        price: decimal(&v.price),
        quantity: v.inventory_quantity,
    }
}

pub fn listing(p: &ListedProduct) -> ChannelListing {
    ChannelListing {
        external_id: p.id.clone(),
        title: p.title.clone(),
        status: p.status.as_ref().map(|s| s.to_lowercase()),
        variants: p.variants.nodes.iter().map(channel_variant).collect(),
        updated_at: datetime(p.updated_at.as_deref()),
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ListedLine {
    #[serde(default)]
    pub sku: Option<String>,
    pub quantity: i64,
    #[serde(default)]
    pub variant: Option<Node>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListedOrder {
    pub id: String,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub cancelled_at: Option<String>,
    pub line_items: Connection<ListedLine>,
}

pub fn order_line(l: &ListedLine) -> OrderLine {
    OrderLine {
        sku: l.sku.clone().filter(|s| !s.is_empty()),
        external_variant_id: l.variant.as_ref().map(|v| v.id.clone()),
        quantity: l.quantity,
    }
}

pub fn order(o: &ListedOrder) -> ChannelOrder {
    ChannelOrder {
        external_id: o.id.clone(),
        created_at: datetime(o.created_at.as_deref()),
        lines: o.line_items.nodes.iter().map(order_line).collect(),
        cancelled: o.cancelled_at.is_some(),
    }
}

/// The rest of a connection that did not fit in the first page.
pub fn more(page: &PageInfo) -> Option<&str> {
    page.end_cursor.as_deref().filter(|_| page.has_next_page)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::VariantPush;

    fn push() -> ProductPush {
        ProductPush {
            key: "k".into(),
            external_id: None,
            handle: "tee".into(),
            title: "Tee".into(),
            description: Some("<p>Soft</p>".into()),
            vendor: Some("Acme".into()),
            product_type: None,
            tags: vec!["summer".into()],
            status: PushStatus::Active,
            options: vec!["Size".into(), "Colour".into()],
            images: vec!["https://cdn.example/tee.png".into()],
            variants: ["S", "M"]
                .iter()
                .map(|s| VariantPush {
                    sku: format!("TEE-{s}"),
                    external_id: None,
                    option_values: vec![(*s).into(), "Red".into()],
                    price: Decimal::new(1990, 2),
                    compare_at_price: None,
                    currency: "USD".into(),
                    barcode: None,
                    weight_grams: Some(Decimal::new(200, 0)),
                    quantity: 4,
                })
                .collect(),
        }
    }

    #[test]
    fn a_product_becomes_a_product_set_input_upserted_by_handle() {
        let (input, identifier) =
            product_set_input(&push(), Some("gid://shopify/Location/1"), Some("USD")).unwrap();
        assert_eq!(identifier, json!({"handle": "tee"}));
        assert_eq!(input["status"], "ACTIVE");
        assert_eq!(
            input["productOptions"][0],
            json!({"name": "Size", "position": 1, "values": [{"name": "S"}, {"name": "M"}]})
        );
        assert_eq!(
            input["productOptions"][1]["values"],
            json!([{"name": "Red"}])
        );
        let v = &input["variants"][1];
        assert_eq!(
            v["optionValues"],
            json!([{"optionName": "Size", "name": "M"}, {"optionName": "Colour", "name": "Red"}])
        );
        assert_eq!(v["price"], "19.9");
        assert_eq!(v["inventoryItem"]["sku"], "TEE-M");
        assert_eq!(
            v["inventoryItem"]["measurement"]["weight"],
            json!({"unit": "GRAMS", "value": 200.0})
        );
        assert_eq!(v["inventoryQuantities"][0]["quantity"], 4);
        assert_eq!(input["files"][0]["contentType"], "IMAGE");
    }

    #[test]
    fn products_shopify_cannot_take_fail_before_sending() {
        let mut p = push();
        p.variants[1].option_values.pop();
        assert_eq!(
            product_set_input(&p, None, None).unwrap_err().code,
            "OPTION_VALUES_MISMATCH"
        );
        let mut p = push();
        p.variants[1].sku = "TEE-S".into();
        assert_eq!(
            product_set_input(&p, None, None).unwrap_err().code,
            "SKU_DUPLICATE"
        );
        assert_eq!(
            product_set_input(&push(), None, Some("EUR"))
                .unwrap_err()
                .code,
            "CURRENCY_MISMATCH"
        );
        let mut p = push();
        p.options.clear();
        p.variants.iter_mut().for_each(|v| v.option_values.clear());
        assert_eq!(
            product_set_input(&p, None, None).unwrap_err().code,
            "OPTIONS_REQUIRED"
        );
        let mut long = push();
        long.title = "T".repeat(TITLE_MAX + 1);
        assert_eq!(
            product_set_input(&long, None, None).unwrap_err().code,
            "TITLE_TOO_LONG"
        );
        long.title = "T".repeat(TITLE_MAX);
        assert!(check(&long, None).is_empty());
        let mut many = push();
        let template = many.variants[0].clone();
        many.variants = (0..=MAX_VARIANTS)
            .map(|n| {
                let mut v = template.clone();
                v.sku = format!("V{n}");
                v.option_values[0] = format!("{n}");
                v
            })
            .collect();
        assert_eq!(check(&many, None)[0].code, "TOO_MANY_VARIANTS");
        let mut bare = push();
        bare.handle = " ".into();
        assert_eq!(check(&bare, None)[0].code, "HANDLE_EMPTY");
        p.variants.truncate(1);
        let (input, _) = product_set_input(&p, None, None).unwrap();
        assert_eq!(
            input["variants"][0]["optionValues"],
            json!([{"optionName": "Title", "name": "Default Title"}])
        );
    }

    #[test]
    fn a_product_set_payload_maps_to_refs_or_errors() {
        // Payload shape of https://shopify.dev/docs/api/admin-graphql/2026-07/mutations/productSet
        let payload: SetPayload = serde_json::from_value(json!({
            "product": {"id": "gid://shopify/Product/20995642", "variants": {"nodes": [
                {"id": "gid://shopify/ProductVariant/1", "sku": "TEE-S", "inventoryItem": {"id": "gid://shopify/InventoryItem/11"}},
                {"id": "gid://shopify/ProductVariant/2", "sku": "TEE-M", "inventoryItem": {"id": "gid://shopify/InventoryItem/12"}}
            ]}},
            "userErrors": []
        }))
        .unwrap();
        let r = product_outcome(&push(), payload).unwrap();
        assert_eq!(r.external_id, "gid://shopify/Product/20995642");
        assert_eq!(
            r.variants[1].inventory_ref.as_deref(),
            Some("gid://shopify/InventoryItem/12")
        );
        let payload: SetPayload = serde_json::from_value(json!({
            "product": null,
            "userErrors": [{"field": ["input", "variants", "0", "price"], "message": "Price must be positive", "code": "INVALID_VARIANT"}]
        }))
        .unwrap();
        let e = product_outcome(&push(), payload).unwrap_err();
        assert_eq!(e.code, "INVALID_VARIANT");
        assert!(!e.retryable);
        assert!(e.message.contains("input.variants.0.price"));
    }

    #[test]
    fn listed_products_and_orders_map_to_the_model() {
        let p: ListedProduct = serde_json::from_value(json!({
            "id": "gid://shopify/Product/1", "title": "Tee", "status": "ACTIVE", "updatedAt": "2026-07-01T10:00:00Z",
            "variants": {"nodes": [{"id": "gid://shopify/ProductVariant/2", "sku": "TEE-S", "price": "19.99", "inventoryQuantity": 3}],
                         "pageInfo": {"hasNextPage": false, "endCursor": null}}
        }))
        .unwrap();
        let l = listing(&p);
        assert_eq!(l.status.as_deref(), Some("active"));
        assert_eq!(l.variants[0].price, Some(Decimal::new(1999, 2)));
        assert_eq!(l.variants[0].quantity, Some(3));
        let o: ListedOrder = serde_json::from_value(json!({
            "id": "gid://shopify/Order/9", "createdAt": "2026-07-01T10:00:00Z", "cancelledAt": null,
            "lineItems": {"nodes": [{"sku": "TEE-S", "quantity": 2, "variant": {"id": "gid://shopify/ProductVariant/2"}},
                                    {"sku": "", "quantity": 1, "variant": null}]}
        }))
        .unwrap();
        let o = order(&o);
        assert_eq!(
            o.lines[0].external_variant_id.as_deref(),
            Some("gid://shopify/ProductVariant/2")
        );
        assert_eq!(o.lines[1].sku, None);
    }
}
