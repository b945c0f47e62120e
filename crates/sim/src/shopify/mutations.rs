//! The mutations of the simulated Admin API, with their defined costs.
//! Inputs, payloads and error codes follow the 2026-07 reference:
//! * productSet: https://shopify.dev/docs/api/admin-graphql/2026-07/mutations/productSet
//!   (ProductSetInput, ProductVariantSetInput, ProductSetIdentifiers, ProductSetUserErrorCode)
//! * productVariantsBulkUpdate: https://shopify.dev/docs/api/admin-graphql/2026-07/mutations/productVariantsBulkUpdate
//! * inventorySetQuantities: https://shopify.dev/docs/api/admin-graphql/2026-07/mutations/inventorySetQuantities
//!   (InventorySetQuantityInput.changeFromQuantity, InventorySetQuantitiesUserErrorCode,
//!   `@idempotent`: https://shopify.dev/docs/api/usage/idempotent-requests)

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::gql::Field;
use super::store::{Product, Shop, Variant, gid, money, parse_gid, text, timestamp, user_error};

impl Shop {
    /// `productSet(input:, identifier:, synchronous:)`.
    pub fn product_set(&mut self, field: &Field, now: DateTime<Utc>) -> Result<Value, String> {
        let input = field
            .arg("input")
            .filter(|v| v.is_object())
            .ok_or("Variable $input of type ProductSetInput! was provided invalid value")?
            .clone();
        let payload = |product: Value, errors: Vec<Value>| json!({"__typename": "ProductSetPayload", "product": product, "productSetOperation": null, "userErrors": errors});
        let identifier = field.arg("identifier").cloned().unwrap_or(Value::Null);
        if identifier.is_object() && input.get("id").is_some_and(|v| !v.is_null()) {
            let e = user_error(
                &["input", "id"],
                "The id field is not allowed if identifier is provided.",
                "ID_NOT_ALLOWED",
            );
            return Ok(payload(Value::Null, vec![e]));
        }
        let by_id = identifier
            .get("id")
            .or_else(|| input.get("id"))
            .and_then(Value::as_str);
        let existing = if let Some(id) = by_id {
            match parse_gid("Product", id).filter(|id| self.products.contains_key(id)) {
                Some(id) => Some(id),
                None => {
                    let e = user_error(
                        &["identifier", "id"],
                        "Product does not exist",
                        "PRODUCT_DOES_NOT_EXIST",
                    );
                    return Ok(payload(Value::Null, vec![e]));
                }
            }
        } else if let Some(handle) = identifier.get("handle").and_then(Value::as_str) {
            self.handles.get(handle).copied()
        } else {
            None
        };
        let handle = text(&input, "handle")
            .or_else(|| text(&identifier, "handle"))
            .filter(|h| !h.is_empty());
        if let Some(h) = &handle
            && self
                .handles
                .get(h)
                .is_some_and(|owner| Some(*owner) != existing)
        {
            let e = user_error(
                &["input", "handle"],
                "Handle already in use. Please provide a new handle.",
                "HANDLE_NOT_UNIQUE",
            );
            return Ok(payload(Value::Null, vec![e]));
        }
        let mut product = match existing.and_then(|id| self.products.get(&id)) {
            Some(p) => p.clone(),
            None => {
                let title = text(&input, "title").unwrap_or_default();
                if title.trim().is_empty() {
                    let e = user_error(
                        &["input", "title"],
                        "Title can't be blank",
                        "INVALID_PRODUCT",
                    );
                    return Ok(payload(Value::Null, vec![e]));
                }
                let id = self.id();
                Product {
                    id,
                    title: title.clone(),
                    handle: handle.clone().unwrap_or_else(|| {
                        title
                            .to_lowercase()
                            .split_whitespace()
                            .collect::<Vec<_>>()
                            .join("-")
                    }),
                    description_html: String::new(),
                    vendor: String::new(),
                    product_type: String::new(),
                    tags: Vec::new(),
                    status: "ACTIVE".into(),
                    options: vec![("Title".into(), vec!["Default Title".into()])],
                    variants: Vec::new(),
                    files: Vec::new(),
                    created_at: now,
                    updated_at: now,
                }
            }
        };
        if let Some(t) = text(&input, "title") {
            product.title = t;
        }
        if let Some(h) = handle {
            product.handle = h;
        }
        if let Some(d) = text(&input, "descriptionHtml") {
            product.description_html = d;
        }
        if let Some(v) = text(&input, "vendor") {
            product.vendor = v;
        }
        if let Some(t) = text(&input, "productType") {
            product.product_type = t;
        }
        if let Some(tags) = input.get("tags").and_then(Value::as_array) {
            product.tags = tags
                .iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect();
        }
        if let Some(status) = text(&input, "status") {
            if !matches!(
                status.as_str(),
                "ACTIVE" | "DRAFT" | "ARCHIVED" | "UNLISTED"
            ) {
                return Err(format!(
                    "Variable $input of type ProductSetInput! was provided invalid value for status (Expected \"{status}\" to be one of: ACTIVE, ARCHIVED, DRAFT, UNLISTED)"
                ));
            }
            product.status = status;
        }
        if let Some(files) = input.get("files").and_then(Value::as_array) {
            product.files = files
                .iter()
                .filter_map(|f| text(f, "originalSource"))
                .collect();
        }
        if let Some(options) = input.get("productOptions").and_then(Value::as_array) {
            let mut parsed: Vec<(String, Vec<String>)> = Vec::new();
            for (i, o) in options.iter().enumerate() {
                let i = i.to_string();
                let name = text(o, "name").unwrap_or_default();
                if parsed.iter().any(|(n, _)| n == &name) {
                    let e = user_error(
                        &["input", "productOptions", &i, "name"],
                        "Duplicated option name.",
                        "DUPLICATED_OPTION_NAME",
                    );
                    return Ok(payload(Value::Null, vec![e]));
                }
                let values: Vec<String> = o
                    .get("values")
                    .and_then(Value::as_array)
                    .map(|vs| vs.iter().filter_map(|v| text(v, "name")).collect())
                    .unwrap_or_default();
                if name.is_empty() || values.is_empty() {
                    let e = user_error(
                        &["input", "productOptions", &i],
                        "Option values are missing.",
                        "OPTION_VALUES_MISSING",
                    );
                    return Ok(payload(Value::Null, vec![e]));
                }
                parsed.push((name, values));
            }
            product.options = parsed;
        }
        if let Some(variants) = input.get("variants").and_then(Value::as_array) {
            let mut next: Vec<Variant> = Vec::new();
            for (i, v) in variants.iter().enumerate() {
                let i = i.to_string();
                let err = |field: &str, message: &str, code: &str| {
                    user_error(&["input", "variants", &i, field], message, code)
                };
                let mut options = Vec::new();
                for (name, allowed) in &product.options {
                    let value = v
                        .get("optionValues")
                        .and_then(Value::as_array)
                        .and_then(|ovs| {
                            ovs.iter()
                                .find(|ov| text(ov, "optionName").as_deref() == Some(name.as_str()))
                        })
                        .and_then(|ov| text(ov, "name"));
                    match value {
                        Some(value) if allowed.contains(&value) => {
                            options.push((name.clone(), value))
                        }
                        Some(_) => {
                            return Ok(payload(
                                Value::Null,
                                vec![err(
                                    "optionValues",
                                    "Option value does not exist.",
                                    "OPTION_VALUE_DOES_NOT_EXIST",
                                )],
                            ));
                        }
                        None => {
                            return Ok(payload(
                                Value::Null,
                                vec![err(
                                    "optionValues",
                                    "Option values are missing.",
                                    "OPTION_VALUES_MISSING",
                                )],
                            ));
                        }
                    }
                }
                if next.iter().any(|n| n.options == options) {
                    return Ok(payload(
                        Value::Null,
                        vec![err(
                            "optionValues",
                            "The variant already exists.",
                            "DUPLICATED_OPTION_VALUE",
                        )],
                    ));
                }
                let price = match v.get("price") {
                    None | Some(Value::Null) => Decimal::ZERO,
                    Some(p) => match money(p).filter(|p| !p.is_sign_negative()) {
                        Some(p) => p,
                        None => {
                            return Ok(payload(
                                Value::Null,
                                vec![err(
                                    "price",
                                    "Price must be greater than or equal to 0.",
                                    "INVALID_VARIANT",
                                )],
                            ));
                        }
                    },
                };
                let matched = match v.get("id").and_then(Value::as_str) {
                    Some(id) => match parse_gid("ProductVariant", id)
                        .and_then(|id| product.variants.iter().find(|x| x.id == id))
                    {
                        Some(found) => Some(found.clone()),
                        None => {
                            return Ok(payload(
                                Value::Null,
                                vec![err(
                                    "id",
                                    "Product variant does not exist",
                                    "PRODUCT_VARIANT_DOES_NOT_EXIST",
                                )],
                            ));
                        }
                    },
                    None => product
                        .variants
                        .iter()
                        .find(|x| x.options == options)
                        .cloned(),
                };
                let mut variant = match matched {
                    Some(found) => found,
                    None => Variant {
                        id: self.id(),
                        inventory_item_id: self.id(),
                        sku: String::new(),
                        price,
                        compare_at_price: None,
                        barcode: None,
                        options: Vec::new(),
                        available: 0,
                        tracked: false,
                    },
                };
                variant.options = options;
                variant.price = price;
                variant.compare_at_price = v.get("compareAtPrice").and_then(money);
                variant.barcode = text(v, "barcode");
                if let Some(sku) = text(v, "sku") {
                    variant.sku = sku;
                }
                if let Some(item) = v.get("inventoryItem") {
                    if let Some(sku) = text(item, "sku") {
                        variant.sku = sku;
                    }
                    if let Some(tracked) = item.get("tracked").and_then(Value::as_bool) {
                        variant.tracked = tracked;
                    }
                }
                for q in v
                    .get("inventoryQuantities")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let location = text(q, "locationId").and_then(|l| parse_gid("Location", &l));
                    if location != Some(self.location_id) {
                        return Ok(payload(
                            Value::Null,
                            vec![err(
                                "inventoryQuantities",
                                "Location not found.",
                                "INVALID_INPUT",
                            )],
                        ));
                    }
                    if let Some(n) = q.get("quantity").and_then(Value::as_i64) {
                        variant.available = n;
                    }
                }
                next.push(variant);
            }
            if next.is_empty() {
                return Ok(payload(
                    Value::Null,
                    vec![user_error(
                        &["input", "variants"],
                        "Variants input is missing.",
                        "VARIANTS_INPUT_MISSING",
                    )],
                ));
            }
            product.variants = next;
        } else if product.variants.is_empty() {
            product.variants.push(Variant {
                id: self.id(),
                inventory_item_id: self.id(),
                sku: String::new(),
                price: Decimal::ZERO,
                compare_at_price: None,
                barcode: None,
                options: product
                    .options
                    .iter()
                    .map(|(n, vs)| (n.clone(), vs.first().cloned().unwrap_or_default()))
                    .collect(),
                available: 0,
                tracked: false,
            });
        }
        product.updated_at = now;
        let answer = self.product_json(&product);
        if let Some(old) = self.products.get(&product.id)
            && old.handle != product.handle
        {
            self.handles.remove(&old.handle);
        }
        self.handles.insert(product.handle.clone(), product.id);
        self.products.insert(product.id, product);
        Ok(payload(answer, Vec::new()))
    }

    /// `productVariantsBulkUpdate(productId:, variants:, allowPartialUpdates:)`.
    pub fn variants_bulk_update(
        &mut self,
        field: &Field,
        now: DateTime<Utc>,
    ) -> Result<Value, String> {
        let product_id = field
            .arg("productId")
            .and_then(Value::as_str)
            .ok_or("Variable $productId of type ID! was provided invalid value")?;
        let inputs = field
            .arg("variants")
            .and_then(Value::as_array)
            .ok_or("Variable $variants of type [ProductVariantsBulkInput!]! was provided invalid value")?
            .clone();
        let partial = field
            .arg("allowPartialUpdates")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let payload = |product: Value, variants: Value, errors: Vec<Value>| json!({"__typename": "ProductVariantsBulkUpdatePayload", "product": product, "productVariants": variants, "userErrors": errors});
        let Some(mut product) = parse_gid("Product", product_id)
            .and_then(|id| self.products.get(&id))
            .cloned()
        else {
            let e = user_error(
                &["productId"],
                "Product does not exist",
                "PRODUCT_DOES_NOT_EXIST",
            );
            return Ok(payload(Value::Null, Value::Null, vec![e]));
        };
        let mut errors = Vec::new();
        let mut updated = Vec::new();
        for (i, input) in inputs.iter().enumerate() {
            let i = i.to_string();
            let target = text(input, "id")
                .and_then(|id| parse_gid("ProductVariant", &id))
                .and_then(|id| product.variants.iter().position(|v| v.id == id));
            let Some(index) = target else {
                errors.push(user_error(
                    &["variants", &i, "id"],
                    "Product variant does not exist",
                    "PRODUCT_VARIANT_DOES_NOT_EXIST",
                ));
                continue;
            };
            let mut variant = product.variants[index].clone();
            if let Some(p) = input.get("price") {
                match money(p).filter(|p| !p.is_sign_negative()) {
                    Some(p) => variant.price = p,
                    None => {
                        errors.push(user_error(
                            &["variants", &i, "price"],
                            "Price cannot take a negative value.",
                            "NEGATIVE_PRICE_VALUE",
                        ));
                        continue;
                    }
                }
            }
            if let Some(c) = input.get("compareAtPrice") {
                variant.compare_at_price = money(c);
            }
            updated.push((index, variant));
        }
        if !errors.is_empty() && !partial {
            return Ok(payload(Value::Null, Value::Null, errors));
        }
        for (index, variant) in &updated {
            product.variants[*index] = variant.clone();
        }
        product.updated_at = now;
        let variants: Vec<Value> = updated
            .iter()
            .map(|(_, v)| self.variant_json(&product, v))
            .collect();
        let answer = self.product_json(&product);
        self.products.insert(product.id, product);
        Ok(payload(answer, Value::Array(variants), errors))
    }

    /// `inventorySetQuantities(input:) @idempotent(key:)`: all or nothing.
    pub fn inventory_set(&mut self, field: &Field, now: DateTime<Utc>) -> Result<Value, String> {
        let input = field
            .arg("input")
            .filter(|v| v.is_object())
            .ok_or(
                "Variable $input of type InventorySetQuantitiesInput! was provided invalid value",
            )?
            .clone();
        let key = field
            .directive("idempotent")
            .and_then(|d| d.get("key"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        if let Some(key) = &key
            && let Some((args, answer)) = self.idempotency.get(key)
        {
            if args == &input {
                return Ok(answer.clone());
            }
            let e = user_error(
                &["input"],
                "The same idempotency key cannot be used with different operation parameters.",
                "IDEMPOTENCY_KEY_PARAMETER_MISMATCH",
            );
            return Ok(
                json!({"__typename": "InventorySetQuantitiesPayload", "inventoryAdjustmentGroup": null, "userErrors": [e]}),
            );
        }
        let mut errors = Vec::new();
        let name = text(&input, "name").unwrap_or_default();
        if !matches!(name.as_str(), "available" | "on_hand") {
            errors.push(user_error(
                &["input", "name"],
                "The quantity name must be either 'available' or 'on_hand'.",
                "INVALID_NAME",
            ));
        }
        let reason = text(&input, "reason").unwrap_or_default();
        const REASONS: &[&str] = &[
            "correction",
            "cycle_count_available",
            "damaged",
            "movement_created",
            "movement_updated",
            "movement_received",
            "movement_canceled",
            "other",
            "promotion",
            "quality_control",
            "received",
            "reservation_created",
            "reservation_deleted",
            "reservation_updated",
            "restock",
            "safety_stock",
            "shrinkage",
        ];
        if !REASONS.contains(&reason.as_str()) {
            errors.push(user_error(
                &["input", "reason"],
                "The specified reason is invalid.",
                "INVALID_REASON",
            ));
        }
        let quantities = input
            .get("quantities")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        // Where each inventory item is, looked up once per call.
        let items: HashMap<u64, (u64, usize)> = self
            .products
            .iter()
            .flat_map(|(pid, p)| {
                p.variants
                    .iter()
                    .enumerate()
                    .map(move |(vi, v)| (v.inventory_item_id, (*pid, vi)))
            })
            .collect();
        let mut changes = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (i, q) in quantities.iter().enumerate() {
            let i = i.to_string();
            let item = text(q, "inventoryItemId").and_then(|id| parse_gid("InventoryItem", &id));
            let found = item.and_then(|item| items.get(&item).copied());
            let Some((pid, vi)) = found else {
                errors.push(user_error(
                    &["input", "quantities", &i, "inventoryItemId"],
                    "The specified inventory item could not be found.",
                    "INVALID_INVENTORY_ITEM",
                ));
                continue;
            };
            if let Some(item) = item
                && !seen.insert(item)
            {
                errors.push(user_error(
                    &["input", "quantities", &i, "inventoryItemId"],
                    "The combination of inventoryItemId and locationId must be unique.",
                    "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR",
                ));
                continue;
            }
            if text(q, "locationId").and_then(|l| parse_gid("Location", &l))
                != Some(self.location_id)
            {
                errors.push(user_error(
                    &["input", "quantities", &i, "locationId"],
                    "The specified location could not be found.",
                    "INVALID_LOCATION",
                ));
                continue;
            }
            let Some(quantity) = q.get("quantity").and_then(Value::as_i64) else {
                return Err("Variable $input of type InventorySetQuantitiesInput! was provided invalid value for quantities.quantity".into());
            };
            if quantity < 0 {
                errors.push(user_error(
                    &["input", "quantities", &i, "quantity"],
                    "The quantity can't be negative.",
                    "INVALID_QUANTITY_NEGATIVE",
                ));
                continue;
            }
            if quantity > 1_000_000_000 {
                errors.push(user_error(
                    &["input", "quantities", &i, "quantity"],
                    "The total quantity can't be higher than 1,000,000,000.",
                    "INVALID_QUANTITY_TOO_HIGH",
                ));
                continue;
            }
            let current = self.products[&pid].variants[vi].available;
            match q.get("changeFromQuantity") {
                None => return Err("InventorySetQuantityInput.changeFromQuantity must be given (null to skip the check) as of 2026-04".into()),
                Some(Value::Null) => {}
                Some(expected) if expected.as_i64() == Some(current) => {}
                Some(_) => {
                    errors.push(user_error(&["input", "quantities", &i, "changeFromQuantity"], "The changeFromQuantity value does not match persisted value.", "CHANGE_FROM_QUANTITY_STALE"));
                    continue;
                }
            }
            changes.push((pid, vi, quantity, current));
        }
        let answer = if errors.is_empty() {
            let mut out = Vec::new();
            for (pid, vi, quantity, current) in changes {
                if let Some(p) = self.products.get_mut(&pid) {
                    p.variants[vi].available = quantity;
                    p.updated_at = now;
                    out.push(json!({"__typename": "InventoryChange", "name": name, "delta": quantity - current, "quantityAfterChange": quantity}));
                }
            }
            let group = self.id();
            json!({"__typename": "InventorySetQuantitiesPayload", "inventoryAdjustmentGroup": {
                "__typename": "InventoryAdjustmentGroup", "id": gid("InventoryAdjustmentGroup", group),
                "reason": reason, "createdAt": timestamp(now), "changes": out,
            }, "userErrors": []})
        } else {
            json!({"__typename": "InventorySetQuantitiesPayload", "inventoryAdjustmentGroup": null, "userErrors": errors})
        };
        if let Some(key) = key {
            self.idempotency.insert(key, (input, answer.clone()));
        }
        Ok(answer)
    }
}

/// The variables or literal arguments of a `productSet` field, for its
/// dynamic cost (https://shopify.dev/changelog/dynamic-complexity-cost-for-productset-mutation):
/// `10 + 0.2 × variants + 0.6 × variant files + 0.4 × variant metafields
/// + 0.4 × product metafields + 1.9 × product files`.
pub fn product_set_cost(field: &Field) -> f64 {
    let input = field.arg("input").cloned().unwrap_or(Value::Null);
    let count =
        |v: &Value, key: &str| v.get(key).and_then(Value::as_array).map_or(0, Vec::len) as f64;
    let variants = input
        .get("variants")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let variant_files = variants
        .iter()
        .filter(|v| v.get("file").is_some_and(|f| !f.is_null()))
        .count() as f64;
    let variant_metafields: f64 = variants.iter().map(|v| count(v, "metafields")).sum();
    10.0 + 0.2 * variants.len() as f64
        + 0.6 * variant_files
        + 0.4 * variant_metafields
        + 0.4 * count(&input, "metafields")
        + 1.9 * count(&input, "files")
}

/// `productVariantsBulkUpdate` is priced like productSet's variants
/// (https://shopify.dev/changelog/dynamic-complexity-for-productvariantsbulkcreate-and-productvariantsbulkupdate-mutations
/// announces dynamic costs without the figures we could read; this is an assumption).
pub fn variants_bulk_cost(field: &Field) -> f64 {
    10.0 + 0.2
        * field
            .arg("variants")
            .and_then(Value::as_array)
            .map_or(0, Vec::len) as f64
}
