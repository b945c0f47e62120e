//! Listings and their inventory: `createDraftListing`, `getListingsByShop`,
//! `updateListing`, `getListingsByListingIds`, `getListingInventory`,
//! `updateListingInventory`.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::inventory::cents;
use super::{Ctx, Inventory, Listing, Product, error, money, next_id, now, pairs, param, shop_id};

const WHO_MADE: [&str; 3] = ["i_did", "someone_else", "collective"];
const WHEN_MADE: [&str; 19] = [
    "made_to_order",
    "2020_2026",
    "2010_2019",
    "2007_2009",
    "before_2007",
    "2000_2006",
    "1990s",
    "1980s",
    "1970s",
    "1960s",
    "1950s",
    "1940s",
    "1930s",
    "1920s",
    "1910s",
    "1900s",
    "1800s",
    "1700s",
    "before_1700",
];
const STATES: [&str; 5] = ["active", "inactive", "sold_out", "draft", "expired"];

type Answer = (StatusCode, Value);

fn bad(message: impl Into<String>) -> Answer {
    error(StatusCode::BAD_REQUEST, message)
}

fn not_found() -> Answer {
    error(StatusCode::NOT_FOUND, "Listing not found")
}

fn inventory_json(inventory: &Inventory) -> Value {
    json!({
        "products": inventory.products.iter().map(|p| json!({
            "product_id": p.product_id,
            "sku": p.sku,
            "is_deleted": false,
            "offerings": [{
                "offering_id": p.offering_id,
                "quantity": p.quantity,
                "is_enabled": p.is_enabled,
                "is_deleted": false,
                "price": money(p.price),
                "readiness_state_id": p.readiness_state_id,
            }],
            "property_values": p.property_values.iter().map(|v| json!({
                "property_id": v.property_id,
                "property_name": v.property_name,
                "scale_id": v.scale_id,
                "scale_name": null,
                "value_ids": v.value_ids,
                "values": v.values,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "price_on_property": inventory.price_on_property,
        "quantity_on_property": inventory.quantity_on_property,
        "sku_on_property": inventory.sku_on_property,
        "readiness_state_on_property": [],
    })
}

fn listing_json(account: &str, l: &Listing, with_inventory: bool) -> Value {
    let price = l
        .inventory
        .products
        .iter()
        .map(|p| p.price)
        .min()
        .unwrap_or(0);
    let mut v = json!({
        "listing_id": l.listing_id,
        "shop_id": shop_id(account),
        "title": l.title,
        "description": l.description,
        "state": l.state,
        "creation_timestamp": l.created,
        "created_timestamp": l.created,
        "last_modified_timestamp": l.updated,
        "updated_timestamp": l.updated,
        "quantity": l.quantity(),
        "url": format!("https://www.etsy.com/listing/{}", l.listing_id),
        "tags": l.tags,
        "who_made": l.who_made,
        "when_made": l.when_made,
        "taxonomy_id": l.taxonomy_id,
        "has_variations": l.inventory.products.iter().any(|p| !p.property_values.is_empty()),
        "listing_type": "physical",
        "price": money(price),
    });
    if with_inventory {
        v["inventory"] = inventory_json(&l.inventory);
    }
    v
}

/// Whether `includes` asks for the inventory (comma-separated or repeated).
fn wants_inventory(query: &[(String, String)]) -> bool {
    query
        .iter()
        .filter(|(k, _)| k == "includes" || k == "includes[]")
        .flat_map(|(_, v)| v.split(','))
        .any(|v| v.trim().eq_ignore_ascii_case("inventory"))
}

fn listing_id(raw: &str) -> Result<u64, Answer> {
    raw.parse::<u64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| bad("listing_id must be a positive integer"))
}

/// POST /v3/application/shops/{shop_id}/listings (form).
pub(super) async fn create(
    State(ctx): State<Ctx>,
    Path(shop): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    const OP: &str = "createDraftListing";
    let adm = match ctx.admit(&headers, OP, Some(&shop)) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let form = pairs(std::str::from_utf8(&body).ok());
    let answer = (|| -> Result<Answer, Answer> {
        for field in [
            "quantity",
            "title",
            "description",
            "price",
            "who_made",
            "when_made",
            "taxonomy_id",
        ] {
            if param(&form, field).is_none_or(|v| v.trim().is_empty()) {
                return Err(bad(format!("Missing required parameter: {field}")));
            }
        }
        let get = |f: &str| param(&form, f).unwrap_or_default();
        let quantity: i64 = get("quantity")
            .parse()
            .ok()
            .filter(|q| *q > 0)
            .ok_or_else(|| bad("quantity must be a positive integer"))?;
        let price = get("price")
            .parse::<f64>()
            .ok()
            .and_then(cents)
            .ok_or_else(|| bad("price must be a positive number"))?;
        let who_made = get("who_made");
        if !WHO_MADE.contains(&who_made) {
            return Err(bad(
                "who_made must be one of i_did, someone_else, collective",
            ));
        }
        let when_made = get("when_made");
        if !WHEN_MADE.contains(&when_made) {
            return Err(bad("when_made is not a valid value"));
        }
        let taxonomy_id: u64 = get("taxonomy_id")
            .parse()
            .ok()
            .filter(|t| *t > 0)
            .ok_or_else(|| bad("taxonomy_id must be a positive integer"))?;
        let created = now();
        let listing = Listing {
            listing_id: next_id(),
            title: get("title").to_owned(),
            description: get("description").to_owned(),
            state: "draft".into(),
            tags: split_tags(param(&form, "tags")),
            taxonomy_id,
            who_made: who_made.to_owned(),
            when_made: when_made.to_owned(),
            created,
            updated: created,
            // Etsy creates the inventory record with the listing: one product, no SKU.
            inventory: Inventory {
                products: vec![Product {
                    product_id: next_id(),
                    sku: String::new(),
                    property_values: Vec::new(),
                    offering_id: next_id(),
                    price,
                    quantity,
                    is_enabled: true,
                    readiness_state_id: param(&form, "readiness_state_id")
                        .and_then(|v| v.parse().ok()),
                }],
                ..Inventory::default()
            },
        };
        let body = listing_json(&adm.account, &listing, false);
        ctx.with_shop(&adm.account, |s| {
            s.listings.insert(listing.listing_id, listing)
        });
        Ok((StatusCode::CREATED, body))
    })()
    .unwrap_or_else(|e| e);
    ctx.finish(&adm, OP, answer)
}

fn split_tags(raw: Option<&str>) -> Vec<String> {
    raw.map(|t| {
        t.split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    })
    .unwrap_or_default()
}

/// GET /v3/application/shops/{shop_id}/listings.
pub(super) async fn by_shop(
    State(ctx): State<Ctx>,
    Path(shop): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    const OP: &str = "getListingsByShop";
    let adm = match ctx.admit(&headers, OP, Some(&shop)) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let q = pairs(query.as_deref());
    let answer = (|| -> Result<Answer, Answer> {
        let state = param(&q, "state").unwrap_or("active");
        if !STATES.contains(&state) {
            return Err(bad(format!("state must be one of {}", STATES.join(", "))));
        }
        let (limit, offset) = paging(&q)?;
        let inventory = wants_inventory(&q);
        let body = ctx.with_shop(&adm.account, |s| {
            // Newest first: sort_on=created, sort_order=desc are the defaults.
            let matching: Vec<&Listing> = s
                .listings
                .values()
                .rev()
                .filter(|l| l.state == state)
                .collect();
            json!({
                "count": matching.len(),
                "results": matching.iter().skip(offset).take(limit)
                    .map(|l| listing_json(&adm.account, l, inventory)).collect::<Vec<_>>(),
            })
        });
        Ok((StatusCode::OK, body))
    })()
    .unwrap_or_else(|e| e);
    ctx.finish(&adm, OP, answer)
}

/// `limit` (1–100, default 25) and `offset` (≥ 0, default 0).
pub(super) fn paging(q: &[(String, String)]) -> Result<(usize, usize), Answer> {
    let limit = match param(q, "limit") {
        None => 25,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=100).contains(l))
            .ok_or_else(|| bad("limit must be an integer between 1 and 100"))?,
    };
    let offset = match param(q, "offset") {
        None => 0,
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| bad("offset must be a non-negative integer"))?,
    };
    Ok((limit, offset))
}

/// PATCH /v3/application/shops/{shop_id}/listings/{listing_id} (form).
pub(super) async fn update(
    State(ctx): State<Ctx>,
    Path((shop, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    const OP: &str = "updateListing";
    let adm = match ctx.admit(&headers, OP, Some(&shop)) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let form = pairs(std::str::from_utf8(&body).ok());
    let answer = (|| -> Result<Answer, Answer> {
        let id = listing_id(&id)?;
        if let Some(state) = param(&form, "state")
            && !["active", "inactive"].contains(&state)
        {
            return Err(bad("state must be active or inactive"));
        }
        if let Some(who) = param(&form, "who_made")
            && !WHO_MADE.contains(&who)
        {
            return Err(bad(
                "who_made must be one of i_did, someone_else, collective",
            ));
        }
        if param(&form, "title").is_some_and(|t| t.trim().is_empty()) {
            return Err(bad("title must not be empty"));
        }
        ctx.with_shop(&adm.account, |s| {
            let listing = s.listings.get_mut(&id).ok_or_else(not_found)?;
            if let Some(title) = param(&form, "title") {
                listing.title = title.to_owned();
            }
            if let Some(description) = param(&form, "description") {
                listing.description = description.to_owned();
            }
            if param(&form, "tags").is_some() {
                listing.tags = split_tags(param(&form, "tags"));
            }
            if let Some(t) = param(&form, "taxonomy_id").and_then(|t| t.parse().ok()) {
                listing.taxonomy_id = t;
            }
            match param(&form, "state") {
                Some("active") if listing.state != "active" && listing.state != "sold_out" => {
                    listing.state = "active".into();
                }
                Some("inactive") => listing.state = "inactive".into(),
                _ => {}
            }
            listing.settle_state();
            listing.updated = now();
            Ok((StatusCode::OK, listing_json(&adm.account, listing, false)))
        })
    })()
    .unwrap_or_else(|e| e);
    ctx.finish(&adm, OP, answer)
}

/// GET /v3/application/listings/batch?listing_ids=….
pub(super) async fn batch(
    State(ctx): State<Ctx>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    const OP: &str = "getListingsByListingIds";
    let adm = match ctx.admit(&headers, OP, None) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let q = pairs(query.as_deref());
    let answer = (|| -> Result<Answer, Answer> {
        let ids: Vec<u64> = q
            .iter()
            .filter(|(k, _)| k == "listing_ids" || k == "listing_ids[]")
            .flat_map(|(_, v)| v.split(','))
            .map(|v| v.trim().parse::<u64>())
            .collect::<Result<_, _>>()
            .map_err(|_| bad("listing_ids must be positive integers"))?;
        if ids.is_empty() {
            return Err(bad("Missing required parameter: listing_ids"));
        }
        if ids.len() > 100 {
            return Err(bad("listing_ids accepts at most 100 ids"));
        }
        let inventory = wants_inventory(&q);
        let body = ctx.with_shop(&adm.account, |s| {
            let found: Vec<Value> = ids
                .iter()
                .filter_map(|id| s.listings.get(id))
                .map(|l| listing_json(&adm.account, l, inventory))
                .collect();
            json!({"count": found.len(), "results": found})
        });
        Ok((StatusCode::OK, body))
    })()
    .unwrap_or_else(|e| e);
    ctx.finish(&adm, OP, answer)
}

/// GET /v3/application/listings/{listing_id}/inventory.
pub(super) async fn get_inventory(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    const OP: &str = "getListingInventory";
    let adm = match ctx.admit(&headers, OP, None) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let answer = listing_id(&id)
        .and_then(|id| {
            ctx.with_shop(&adm.account, |s| {
                s.listings
                    .get(&id)
                    .map(|l| (StatusCode::OK, inventory_json(&l.inventory)))
                    .ok_or_else(not_found)
            })
        })
        .unwrap_or_else(|e| e);
    ctx.finish(&adm, OP, answer)
}

/// PUT /v3/application/listings/{listing_id}/inventory (JSON).
pub(super) async fn put_inventory(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    const OP: &str = "updateListingInventory";
    let adm = match ctx.admit(&headers, OP, None) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let q = pairs(query.as_deref());
    let answer = (|| -> Result<Answer, Answer> {
        let id = listing_id(&id)?;
        let body: Value =
            serde_json::from_slice(&body).map_err(|e| bad(format!("Invalid JSON body: {e}")))?;
        let max_properties = if param(&q, "max_variations_supported") == Some("3") {
            3
        } else {
            2
        };
        let incoming = super::inventory::parse(&body, max_properties)?;
        ctx.with_shop(&adm.account, |s| {
            let listing = s.listings.get_mut(&id).ok_or_else(not_found)?;
            // Keep ids for SKUs the listing already had.
            let old: HashMap<String, (u64, u64)> = listing
                .inventory
                .products
                .iter()
                .filter(|p| !p.sku.is_empty())
                .map(|p| (p.sku.clone(), (p.product_id, p.offering_id)))
                .collect();
            let mut inventory = incoming;
            for p in &mut inventory.products {
                let (product_id, offering_id) = old
                    .get(&p.sku)
                    .copied()
                    .unwrap_or_else(|| (next_id(), next_id()));
                p.product_id = product_id;
                p.offering_id = offering_id;
            }
            listing.inventory = inventory;
            listing.settle_state();
            listing.updated = now();
            Ok((StatusCode::OK, inventory_json(&listing.inventory)))
        })
    })()
    .unwrap_or_else(|e| e);
    ctx.finish(&adm, OP, answer)
}
