//! Listings Items API v2021-08-01: putListingsItem, patchListingsItem,
//! searchListingsItems (sources in `mod.rs`).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Ctx, Item, OP_PATCH_ITEM, OP_PUT_ITEM, OP_SEARCH_ITEMS, Seller, bad_request};

type Answer = (StatusCode, Value);

/// At most this many items can be paged through, per `ItemSearchResults`.
const PAGEABLE: usize = 1000;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PutRequest {
    product_type: String,
    #[serde(default)]
    requirements: Option<String>,
    attributes: Map<String, Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PatchRequest {
    product_type: String,
    patches: Vec<PatchOperation>,
}

#[derive(Deserialize)]
struct PatchOperation {
    op: String,
    path: String,
    #[serde(default)]
    value: Option<Vec<Value>>,
}

fn marketplace(query: &HashMap<String, String>) -> Result<String, Answer> {
    query
        .get("marketplaceIds")
        .map(|m| m.split(',').next().unwrap_or_default().trim().to_owned())
        .filter(|m| !m.is_empty())
        .ok_or_else(|| bad_request("marketplaceIds is required"))
}

fn submission(sku: &str, issues: Vec<Value>) -> Answer {
    let status = if issues.is_empty() {
        "ACCEPTED"
    } else {
        "INVALID"
    };
    (
        StatusCode::OK,
        json!({ "sku": sku, "status": status,
                "submissionId": uuid::Uuid::new_v4().simple().to_string(), "issues": issues }),
    )
}

/// Issue 90220, as in the reference's INVALID example.
fn missing(attribute: &str) -> Value {
    json!({ "code": "90220", "message": format!("'{attribute}' is required but not supplied."),
            "severity": "ERROR", "attributeNames": [attribute], "categories": ["MISSING_ATTRIBUTE"] })
}

fn has_value(attributes: &Map<String, Value>, name: &str) -> bool {
    super::first(attributes, name)
        .and_then(|v| v.get("value"))
        .is_some_and(|v| v.as_str().is_none_or(|s| !s.trim().is_empty()))
}

fn asin_for(sku: &str) -> String {
    let digest = sku.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    format!("B0{:08X}", digest as u32)
}

pub(super) async fn put_item(
    State(ctx): State<Ctx>,
    Path((seller, sku)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (account, rate) = match ctx.admit(&headers, Some(&seller), OP_PUT_ITEM) {
        Ok(admitted) => admitted,
        Err(refused) => return *refused,
    };
    let answer = put(&ctx, &account, &sku, &query, &body).unwrap_or_else(|a| a);
    ctx.finish(&account, OP_PUT_ITEM, rate, answer)
}

fn put(
    ctx: &Ctx,
    account: &str,
    sku: &str,
    query: &HashMap<String, String>,
    body: &[u8],
) -> Result<Answer, Answer> {
    marketplace(query)?;
    let request: PutRequest =
        serde_json::from_slice(body).map_err(|e| bad_request(&e.to_string()))?;
    let requirements = request.requirements.as_deref().unwrap_or("LISTING");
    let (product, offer) = match requirements {
        "LISTING" => (true, true),
        "LISTING_PRODUCT_ONLY" => (true, false),
        "LISTING_OFFER_ONLY" => (false, true),
        _ => return Err(bad_request("unknown requirements")),
    };
    if request.product_type.trim().is_empty() {
        return Err(bad_request("productType is required"));
    }
    let mut issues = Vec::new();
    if product && !has_value(&request.attributes, "item_name") {
        issues.push(missing("item_name"));
    }
    if offer && !has_value(&request.attributes, "condition_type") {
        issues.push(missing("condition_type"));
    }
    if issues.is_empty() {
        let now = Utc::now();
        ctx.seller(account, |seller| {
            let (asin, created) = seller
                .items
                .get(sku)
                .map(|old| (old.asin.clone(), old.created))
                .unwrap_or_else(|| (asin_for(sku), now));
            seller.items.insert(
                sku.to_owned(),
                Item {
                    product_type: request.product_type,
                    attributes: request.attributes,
                    asin,
                    created,
                    updated: now,
                },
            );
        });
    }
    Ok(submission(sku, issues))
}

pub(super) async fn patch_item(
    State(ctx): State<Ctx>,
    Path((seller, sku)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (account, rate) = match ctx.admit(&headers, Some(&seller), OP_PATCH_ITEM) {
        Ok(admitted) => admitted,
        Err(refused) => return *refused,
    };
    let answer = patch(&ctx, &account, &sku, &query, &body).unwrap_or_else(|a| a);
    ctx.finish(&account, OP_PATCH_ITEM, rate, answer)
}

fn patch(
    ctx: &Ctx,
    account: &str,
    sku: &str,
    query: &HashMap<String, String>,
    body: &[u8],
) -> Result<Answer, Answer> {
    marketplace(query)?;
    let request: PatchRequest =
        serde_json::from_slice(body).map_err(|e| bad_request(&e.to_string()))?;
    if request.patches.is_empty() || request.product_type.trim().is_empty() {
        return Err(bad_request(
            "productType and at least one patch are required",
        ));
    }
    let mut ops = Vec::new();
    for patch in request.patches {
        let name = patch
            .path
            .strip_prefix("/attributes/")
            .filter(|n| !n.is_empty() && !n.contains('/'))
            .ok_or_else(|| bad_request("only top-level attributes can be patched"))?
            .to_owned();
        let op: &'static str = match patch.op.as_str() {
            "delete" => "delete",
            "merge" => "merge",
            "add" | "replace" => "replace",
            _ => return Err(bad_request("unsupported patch operation")),
        };
        match (op, patch.value) {
            ("delete", value) => ops.push((op, name, value.unwrap_or_default())),
            (_, Some(value)) => ops.push((op, name, value)),
            _ => return Err(bad_request("add, replace and merge need a value")),
        }
    }
    let found = ctx.seller(account, |seller: &mut Seller| {
        let Some(item) = seller.items.get_mut(sku) else {
            return false;
        };
        for (op, name, value) in ops {
            match op {
                "delete" => {
                    item.attributes.remove(&name);
                }
                "merge" => {
                    let current = item.attributes.remove(&name);
                    item.attributes.insert(name, merge(current, value));
                }
                _ => {
                    item.attributes.insert(name, Value::Array(value));
                }
            }
        }
        item.updated = Utc::now();
        true
    });
    if found {
        return Ok(submission(sku, vec![]));
    }
    Ok(submission(
        sku,
        vec![json!({ "code": "SKU_NOT_FOUND",
                     "message": format!("No listings item with SKU {sku} exists for this seller."),
                     "severity": "ERROR", "categories": [] })],
    ))
}

/// JSON Patch `merge`: each entry updates the existing entry with the same
/// selector values (keys it gives; `null` removes a key) or is added.
fn merge(current: Option<Value>, value: Vec<Value>) -> Value {
    const SELECTORS: [&str; 4] = [
        "fulfillment_channel_code",
        "marketplace_id",
        "currency",
        "audience",
    ];
    let mut entries = match current {
        Some(Value::Array(entries)) => entries,
        _ => Vec::new(),
    };
    for update in value {
        let Value::Object(fields) = update else {
            continue;
        };
        let matches = |entry: &Value| {
            SELECTORS
                .iter()
                .filter(|s| fields.contains_key(**s))
                .all(|s| entry.get(*s) == fields.get(*s))
        };
        match entries.iter_mut().find(|e| matches(e)) {
            Some(Value::Object(entry)) => {
                for (key, field) in fields {
                    if field.is_null() {
                        entry.remove(&key);
                    } else {
                        entry.insert(key, field);
                    }
                }
            }
            _ => entries.push(Value::Object(fields)),
        }
    }
    Value::Array(entries)
}

pub(super) async fn search(
    State(ctx): State<Ctx>,
    Path(seller): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let (account, rate) = match ctx.admit(&headers, Some(&seller), OP_SEARCH_ITEMS) {
        Ok(admitted) => admitted,
        Err(refused) => return *refused,
    };
    let answer = search_items(&ctx, &account, &query).unwrap_or_else(|a| a);
    ctx.finish(&account, OP_SEARCH_ITEMS, rate, answer)
}

fn search_items(
    ctx: &Ctx,
    account: &str,
    query: &HashMap<String, String>,
) -> Result<Answer, Answer> {
    let marketplace = marketplace(query)?;
    let page_size: usize = match query.get("pageSize") {
        None => 10,
        Some(size) => size
            .parse()
            .ok()
            .filter(|s| (1..=20).contains(s))
            .ok_or_else(|| bad_request("pageSize must be 1 to 20"))?,
    };
    let offset: usize = match query.get("pageToken") {
        None => 0,
        Some(token) => URL_SAFE_NO_PAD
            .decode(token)
            .ok()
            .and_then(|raw| String::from_utf8(raw).ok())
            .and_then(|text| text.strip_prefix("offset:")?.parse().ok())
            .ok_or_else(|| bad_request("invalid pageToken"))?,
    };
    let included: Vec<&str> = query
        .get("includedData")
        .map(|d| d.split(',').map(str::trim).collect())
        .unwrap_or_else(|| vec!["summaries"]);
    let by = query
        .get("sortBy")
        .map(String::as_str)
        .unwrap_or("lastUpdatedDate");
    let descending = query.get("sortOrder").map(String::as_str).unwrap_or("DESC") == "DESC";
    let body = ctx.seller(account, |seller| {
        let mut items: Vec<(&String, &Item)> = seller.items.iter().collect();
        match by {
            "sku" => {}
            "createdDate" => items.sort_by_key(|(sku, i)| (i.created, *sku)),
            _ => items.sort_by_key(|(sku, i)| (i.updated, *sku)),
        }
        if descending {
            items.reverse();
        }
        let total = items.len();
        let pageable = total.min(PAGEABLE);
        let end = (offset + page_size).min(pageable);
        let token = |at: usize| URL_SAFE_NO_PAD.encode(format!("offset:{at}"));
        let mut pagination = Map::new();
        if end < pageable {
            pagination.insert("nextToken".into(), json!(token(end)));
        }
        if offset > 0 {
            pagination.insert(
                "previousToken".into(),
                json!(token(offset.saturating_sub(page_size))),
            );
        }
        let page: Vec<Value> = items
            .get(offset.min(end)..end)
            .unwrap_or_default()
            .iter()
            .map(|(sku, item)| item_json(seller, sku, item, &included, &marketplace))
            .collect();
        json!({ "numberOfResults": total, "pagination": pagination, "items": page })
    });
    Ok((StatusCode::OK, body))
}

fn item_json(seller: &Seller, sku: &str, item: &Item, included: &[&str], mp: &str) -> Value {
    let stamp = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    let mut out = Map::new();
    out.insert("sku".into(), json!(sku));
    if included.contains(&"summaries") {
        out.insert(
            "summaries".into(),
            json!([{ "marketplaceId": mp, "asin": item.asin, "productType": item.product_type,
                     "conditionType": item.text("condition_type").unwrap_or_else(|| "new_new".into()),
                     "status": item.statuses(), "itemName": item.title(),
                     "createdDate": stamp(item.created), "lastUpdatedDate": stamp(item.updated) }]),
        );
    }
    if included.contains(&"attributes") {
        out.insert("attributes".into(), Value::Object(item.attributes.clone()));
    }
    if included.contains(&"offers") {
        let offers = match item.price() {
            Some((currency, amount)) => json!([{ "marketplaceId": mp, "offerType": "B2C",
                "price": { "currencyCode": currency, "amount": format!("{amount:.2}") },
                "audience": { "value": "ALL", "displayName": "Sell on Amazon" } }]),
            None => json!([]),
        };
        out.insert("offers".into(), offers);
    }
    if included.contains(&"fulfillmentAvailability") {
        let availability = match item.quantity() {
            Some(quantity) => {
                json!([{ "fulfillmentChannelCode": "DEFAULT", "quantity": quantity }])
            }
            None => json!([]),
        };
        out.insert("fulfillmentAvailability".into(), availability);
    }
    if included.contains(&"issues") {
        out.insert("issues".into(), json!([]));
    }
    if included.contains(&"relationships") {
        let mut relationships = Vec::new();
        let theme = super::first(&item.attributes, "variation_theme")
            .and_then(|t| t.get("name"))
            .and_then(Value::as_str)
            .map(|name| {
                json!({ "attributes": name.split('/').map(str::to_lowercase).collect::<Vec<_>>(),
                                "theme": name })
            });
        if let Some(parent) = item.parent_sku() {
            let mut r = json!({ "type": "VARIATION", "parentSkus": [parent] });
            if let Some(theme) = &theme {
                r["variationTheme"] = theme.clone();
            }
            relationships.push(r);
        }
        if item.is_parent() {
            let children: Vec<&String> = seller
                .items
                .iter()
                .filter(|(_, i)| i.parent_sku().as_deref() == Some(sku))
                .map(|(s, _)| s)
                .collect();
            let mut r = json!({ "type": "VARIATION", "childSkus": children });
            if let Some(theme) = &theme {
                r["variationTheme"] = theme.clone();
            }
            relationships.push(r);
        }
        out.insert(
            "relationships".into(),
            json!([{ "marketplaceId": mp, "relationships": relationships }]),
        );
    }
    Value::Object(out)
}
