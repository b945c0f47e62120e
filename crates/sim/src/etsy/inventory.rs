//! The `updateListingInventory` body, checked the way the reference
//! describes: required fields, one offering per product, the same
//! properties on every product, and prices, quantities and SKUs varying
//! only along the properties named in `*_on_property`.

use std::collections::{HashMap, HashSet};

use axum::http::StatusCode;
use serde_json::Value;

use super::{Inventory, Product, PropertyValue, error};

type Answer = (StatusCode, Value);

fn bad(message: impl Into<String>) -> Answer {
    error(StatusCode::BAD_REQUEST, message)
}

/// A positive price in cents from Etsy's float form.
pub(super) fn cents(price: f64) -> Option<i64> {
    (price.is_finite() && price > 0.0 && price < 1e9).then(|| (price * 100.0).round() as i64)
}

fn ids(value: &Value, field: &str) -> Result<Vec<u64>, Answer> {
    match value.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_u64()
                    .ok_or_else(|| bad(format!("{field} must hold integers")))
            })
            .collect(),
        Some(_) => Err(bad(format!("{field} must be an array"))),
    }
}

/// An `updateListingInventory` body, checked the way the reference says
/// Etsy checks it: required fields, one offering per product, the same
/// properties on every product, and prices, quantities and SKUs varying
/// only along the properties named in `*_on_property`.
pub(super) fn parse(body: &Value, max_properties: usize) -> Result<Inventory, Answer> {
    let products = body
        .get("products")
        .and_then(Value::as_array)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| bad("products must be a non-empty array"))?;
    let mut parsed = Vec::with_capacity(products.len());
    for product in products {
        let sku = match product.get("sku") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(bad("sku must be a string")),
        };
        let mut property_values = Vec::new();
        for pv in product
            .get("property_values")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let property_id = pv
                .get("property_id")
                .and_then(Value::as_u64)
                .ok_or_else(|| bad("property_values need a property_id"))?;
            if pv.get("value_ids").and_then(Value::as_array).is_none() {
                return Err(bad("property_values need value_ids"));
            }
            let values: Vec<String> = pv
                .get("values")
                .and_then(Value::as_array)
                .map(|v| {
                    v.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            if values.is_empty() || values.iter().any(|v| v.contains(['(', ')'])) {
                return Err(bad("property_values need values without parentheses"));
            }
            property_values.push(PropertyValue {
                property_id,
                property_name: pv
                    .get("property_name")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                scale_id: pv.get("scale_id").and_then(Value::as_u64),
                value_ids: ids(pv, "value_ids")?,
                values,
            });
        }
        let offerings = product
            .get("offerings")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("products need offerings"))?;
        let [offering] = offerings.as_slice() else {
            return Err(bad("each product takes exactly one offering"));
        };
        let price = offering
            .get("price")
            .and_then(Value::as_f64)
            .and_then(cents)
            .ok_or_else(|| bad("offering price must be a positive number"))?;
        let quantity = offering
            .get("quantity")
            .and_then(Value::as_i64)
            .filter(|q| *q >= 0)
            .ok_or_else(|| bad("offering quantity must be a non-negative integer"))?;
        let is_enabled = offering
            .get("is_enabled")
            .and_then(Value::as_bool)
            .ok_or_else(|| bad("offering is_enabled must be a boolean"))?;
        parsed.push(Product {
            product_id: 0,
            sku,
            property_values,
            offering_id: 0,
            price,
            quantity,
            is_enabled,
            readiness_state_id: offering.get("readiness_state_id").and_then(Value::as_u64),
        });
    }
    let property_ids: Vec<u64> = parsed[0]
        .property_values
        .iter()
        .map(|v| v.property_id)
        .collect();
    if property_ids.len() > max_properties {
        return Err(bad(format!(
            "a listing takes at most {max_properties} variation properties"
        )));
    }
    let mut combinations = HashSet::new();
    for p in &parsed {
        let ids: Vec<u64> = p.property_values.iter().map(|v| v.property_id).collect();
        if ids != property_ids {
            return Err(bad("every product must have the same properties"));
        }
        let combo: Vec<&Vec<String>> = p.property_values.iter().map(|v| &v.values).collect();
        if !combinations.insert(combo) {
            return Err(bad("two products have the same property values"));
        }
    }
    let inventory = Inventory {
        price_on_property: ids(body, "price_on_property")?,
        quantity_on_property: ids(body, "quantity_on_property")?,
        sku_on_property: ids(body, "sku_on_property")?,
        products: parsed,
    };
    for (name, on) in [
        ("price_on_property", &inventory.price_on_property),
        ("quantity_on_property", &inventory.quantity_on_property),
        ("sku_on_property", &inventory.sku_on_property),
    ] {
        if on.iter().any(|id| !property_ids.contains(id)) {
            return Err(bad(format!(
                "{name} names a property the products do not have"
            )));
        }
    }
    varies_only_on(
        &inventory.products,
        &inventory.price_on_property,
        "price",
        |p| p.price.to_string(),
    )?;
    varies_only_on(
        &inventory.products,
        &inventory.quantity_on_property,
        "quantity",
        |p| p.quantity.to_string(),
    )?;
    varies_only_on(
        &inventory.products,
        &inventory.sku_on_property,
        "sku",
        |p| p.sku.clone(),
    )?;
    Ok(inventory)
}

/// Products alike on the properties in `on` must agree on `field`.
fn varies_only_on(
    products: &[Product],
    on: &[u64],
    field: &str,
    value: impl Fn(&Product) -> String,
) -> Result<(), Answer> {
    let mut seen: HashMap<Vec<&Vec<String>>, String> = HashMap::new();
    for p in products {
        let key: Vec<&Vec<String>> = p
            .property_values
            .iter()
            .filter(|v| on.contains(&v.property_id))
            .map(|v| &v.values)
            .collect();
        let v = value(p);
        if let Some(previous) = seen.insert(key, v.clone())
            && previous != v
        {
            return Err(bad(format!(
                "The {field} of products differs but {field}_on_property does not name the property it varies on"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn product(sku: &str, size: &str, price: f64) -> Value {
        json!({
            "sku": sku,
            "property_values": [{"property_id": 513, "property_name": "Size", "value_ids": [], "values": [size]}],
            "offerings": [{"price": price, "quantity": 1, "is_enabled": true}],
        })
    }

    #[test]
    fn prices_may_differ_only_along_price_on_property() {
        let varied = |on: Value| {
            json!({
                "products": [product("A-S", "S", 10.0), product("A-M", "M", 12.5)],
                "price_on_property": on,
                "sku_on_property": [513],
            })
        };
        let held = parse(&varied(json!([513])), 2).unwrap();
        assert_eq!(held.products[1].price, 1250);
        let refused = parse(&varied(json!([])), 2).unwrap_err();
        assert_eq!(refused.0, StatusCode::BAD_REQUEST);
        assert!(
            refused.1["error"]
                .as_str()
                .unwrap()
                .contains("price_on_property")
        );
    }

    #[test]
    fn products_need_one_offering_and_distinct_values() {
        let mut two = product("A", "S", 1.0);
        two["offerings"] = json!([
            {"price": 1.0, "quantity": 1, "is_enabled": true},
            {"price": 2.0, "quantity": 1, "is_enabled": true}
        ]);
        assert!(parse(&json!({"products": [two]}), 2).is_err());
        let same = json!({"products": [product("A", "S", 1.0), product("B", "S", 1.0)], "sku_on_property": [513]});
        assert!(parse(&same, 2).is_err());
        assert!(parse(&json!({"products": []}), 2).is_err());
    }
}
