//! Simulated eBay: the Sell Inventory API v1 and the Sell Fulfillment API
//! v1 as far as Shelfsync uses them, eBay's OAuth consent and token
//! endpoints, and eBay's daily call limits. Paths are eBay's own under
//! `/ebay` (`/ebay/sell/inventory/v1/...`, `/ebay/identity/v1/oauth2/token`).
//!
//! Followed from eBay's documentation:
//! * Inventory API methods and shapes:
//!   <https://developer.ebay.com/api-docs/sell/inventory/resources/methods> (bulk calls ≤ 25
//!   entries; per-entry `statusCode`/`errors`, 200 when all succeed, 207 otherwise; getInventoryItems
//!   `limit` 1–200 default 25 and `offset` the page number with `next`/`prev` hrefs;
//!   createOrReplaceInventoryItemGroup answers 204; publishing needs price, category, location and
//!   the three listing policies — error 25017 "… is missing").
//! * Fulfillment getOrders: <https://developer.ebay.com/api-docs/sell/fulfillment/resources/order/methods/getOrders>
//!   (`filter=creationdate:[start..end]`, `limit` ≤ 200 default 50, `offset`, errors 30700/30810/31000/31100).
//! * Errors: <https://developer.ebay.com/api-docs/static/handling-error-messages.html>. A missing or
//!   unknown token is 401 with errorId 1001 "Invalid access token".
//! * OAuth: <https://developer.ebay.com/api-docs/static/oauth-authorization-code-grant.html> and
//!   <https://developer.ebay.com/api-docs/static/oauth-auth-code-grant-request.html>: consent at
//!   `/oauth2/authorize` redirects with `code`, `state` and `expires_in`; the token endpoint takes a
//!   form body with HTTP Basic client credentials and answers `access_token`, `expires_in` (7,200 s),
//!   `refresh_token`, `refresh_token_expires_in` (47,304,000 s), `token_type` "User Access Token".
//!   eBay's `redirect_uri` is the app's RuName, which eBay resolves to the registered "auth accepted
//!   URL"; the simulator has no RuName registry, so it redirects to `redirect_uri` itself.
//! * Call limits: <https://developer.ebay.com/develop/api/sell/api_call_limits> — Inventory API
//!   2,000,000 and Fulfillment API 100,000 calls a day. Over the limit eBay answers 429 with
//!   `{"errors":[{"errorId":2001,"domain":"ACCESS","category":"REQUEST","message":"Too many
//!   requests.","longMessage":"The request limit has been reached for the resource."}]}` and no
//!   documented rate-limit headers, which is what the simulator sends.
//!
//! Not simulated: eBay's notifications (ECDSA-signed, see the adapter), so
//! `place_order` and `edit_product` change state without sending webhooks;
//! the OAuth endpoint's own daily limits; the 250-revisions-a-day listing cap.

mod oauth;
mod offers;
mod orders;
mod store;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde_json::{Value, json};
use shelfsync_core::quota::{Limit, QuotaModel, Scope};

use self::store::{Answer, Store};
use crate::{SimCore, SimEdit, SimListing, SimOrderLine, SimPlatform, SimVariant};

/// A connection's settings for publishing to a simulated eBay seller: the
/// category, inventory location and the three business policies eBay
/// requires (error 25017 without them), with the example ids from eBay's
/// documentation.
pub fn seller_settings() -> Value {
    json!({
        "marketplace_id": "EBAY_US", "category_id": "15687", "merchant_location_key": "warehouse-1",
        "fulfillment_policy_id": "6196932000", "payment_policy_id": "6196936000", "return_policy_id": "6196937000",
    })
}

/// Operation name of every Inventory API call (one daily limit for the API).
pub const INVENTORY: &str = "sell.inventory";
/// Operation name of every Fulfillment API call.
pub const FULFILLMENT: &str = "sell.fulfillment";

/// The simulated platform: one [`Store`] per seller account.
#[derive(Default)]
pub struct Ebay {
    stores: Mutex<HashMap<String, Store>>,
}

pub(super) type Ctx = State<(Arc<Ebay>, Arc<SimCore>)>;

impl Ebay {
    fn with_store<T>(&self, account: &str, f: impl FnOnce(&mut Store) -> T) -> T {
        let mut stores = self.stores.lock().unwrap();
        f(stores.entry(account.to_owned()).or_default())
    }
}

fn respond((status, body): Answer) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match body {
        Some(body) => (status, axum::Json(body)).into_response(),
        None => status.into_response(),
    }
}

/// Who is calling, if the call may go through: a valid user token, and a
/// call left in the account's limit for this API.
fn admit(
    core: &SimCore,
    sim: &Ebay,
    headers: &HeaderMap,
    api: &str,
    op: &str,
) -> Result<String, Answer> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(account) = token.and_then(|t| core.accounts.authenticate("ebay", t)) else {
        return Err((
            401,
            Some(json!({"errors": [{
                "errorId": 1001,
                "domain": "OAuth",
                "category": "REQUEST",
                "message": "Invalid access token",
                "longMessage": "Invalid access token. Check the value of the Authorization HTTP request header."
            }]})),
        ));
    };
    let model = core.quota(sim, &account);
    if core
        .limiter
        .admit("ebay", &account, &model, api, 1.0)
        .is_err()
    {
        core.stats.call("ebay", &account, op, 429, 0.0);
        return Err((
            429,
            Some(json!({"errors": [{
                "errorId": 2001,
                "domain": "ACCESS",
                "category": "REQUEST",
                "message": "Too many requests.",
                "longMessage": "The request limit has been reached for the resource."
            }]})),
        ));
    }
    Ok(account)
}

/// Record the admitted call and send its answer.
fn finish(core: &SimCore, account: &str, op: &str, answer: Answer) -> Response {
    core.stats.call("ebay", account, op, answer.0, 1.0);
    respond(answer)
}

/// The JSON body of a write, which must say its language.
fn write_body(headers: &HeaderMap, body: &[u8], needs_language: bool) -> Result<Value, Answer> {
    if needs_language
        && headers
            .get("content-language")
            .and_then(|v| v.to_str().ok())
            .is_none_or(|v| v.trim().is_empty())
    {
        return Err(store::refuse(
            400,
            25709,
            "Invalid value for header Content-Language.",
        ));
    }
    serde_json::from_slice(body).map_err(|_| {
        store::refuse(
            400,
            2004,
            "Invalid request. The request body is not valid JSON.",
        )
    })
}

/// An Inventory API write: admit, parse, apply to the account's store.
fn inventory_write(
    (sim, core): &(Arc<Ebay>, Arc<SimCore>),
    headers: &HeaderMap,
    body: &[u8],
    op: &str,
    needs_language: bool,
    apply: impl FnOnce(&mut Store, &Value) -> Answer,
) -> Response {
    let account = match admit(core, sim, headers, INVENTORY, op) {
        Ok(a) => a,
        Err(refused) => return respond(refused),
    };
    let answer = match write_body(headers, body, needs_language) {
        Ok(value) => sim.with_store(&account, |s| apply(s, &value)),
        Err(answer) => answer,
    };
    finish(core, &account, op, answer)
}

/// An Inventory API read.
fn inventory_read(
    (sim, core): &(Arc<Ebay>, Arc<SimCore>),
    headers: &HeaderMap,
    op: &str,
    read: impl FnOnce(&mut Store) -> Answer,
) -> Response {
    let account = match admit(core, sim, headers, INVENTORY, op) {
        Ok(a) => a,
        Err(refused) => return respond(refused),
    };
    let answer = sim.with_store(&account, read);
    finish(core, &account, op, answer)
}

async fn bulk_items(State(s): Ctx, headers: HeaderMap, body: Bytes) -> Response {
    inventory_write(
        &s,
        &headers,
        &body,
        "bulkCreateOrReplaceInventoryItem",
        true,
        |st, v| st.bulk_create_or_replace_items(v),
    )
}

async fn get_items(
    State(s): Ctx,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let base = format!("{}/ebay", s.1.base_url);
    inventory_read(&s, &headers, "getInventoryItems", |st| {
        st.inventory_items(
            &base,
            q.get("limit").map(String::as_str),
            q.get("offset").map(String::as_str),
        )
    })
}

async fn bulk_get_items(State(s): Ctx, headers: HeaderMap, body: Bytes) -> Response {
    inventory_write(
        &s,
        &headers,
        &body,
        "bulkGetInventoryItem",
        false,
        |st, v| st.bulk_get_items(v),
    )
}

async fn put_group(
    State(s): Ctx,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    inventory_write(
        &s,
        &headers,
        &body,
        "createOrReplaceInventoryItemGroup",
        true,
        |st, v| st.put_group(&key, v),
    )
}

async fn get_group(State(s): Ctx, Path(key): Path<String>, headers: HeaderMap) -> Response {
    inventory_read(&s, &headers, "getInventoryItemGroup", |st| {
        st.get_group(&key)
    })
}

async fn bulk_offers(State(s): Ctx, headers: HeaderMap, body: Bytes) -> Response {
    inventory_write(&s, &headers, &body, "bulkCreateOffer", true, |st, v| {
        st.bulk_create_offers(v)
    })
}

async fn get_offers(
    State(s): Ctx,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    inventory_read(&s, &headers, "getOffers", |st| {
        st.get_offers(
            q.get("sku").map(String::as_str),
            q.get("marketplace_id").map(String::as_str),
            q.get("format").map(String::as_str),
        )
    })
}

async fn update_offer(
    State(s): Ctx,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    inventory_write(&s, &headers, &body, "updateOffer", true, |st, v| {
        st.update_offer(&id, v)
    })
}

async fn withdraw_offer(State(s): Ctx, Path(id): Path<String>, headers: HeaderMap) -> Response {
    inventory_read(&s, &headers, "withdrawOffer", |st| st.withdraw(&id))
}

async fn bulk_publish(State(s): Ctx, headers: HeaderMap, body: Bytes) -> Response {
    inventory_write(&s, &headers, &body, "bulkPublishOffer", false, |st, v| {
        st.bulk_publish(v)
    })
}

async fn publish_group(State(s): Ctx, headers: HeaderMap, body: Bytes) -> Response {
    inventory_write(
        &s,
        &headers,
        &body,
        "publishOfferByInventoryItemGroup",
        false,
        |st, v| st.publish_group(v),
    )
}

async fn withdraw_group(State(s): Ctx, headers: HeaderMap, body: Bytes) -> Response {
    inventory_write(
        &s,
        &headers,
        &body,
        "withdrawOfferByInventoryItemGroup",
        false,
        |st, v| st.withdraw_group(v),
    )
}

async fn bulk_price_quantity(State(s): Ctx, headers: HeaderMap, body: Bytes) -> Response {
    inventory_write(
        &s,
        &headers,
        &body,
        "bulkUpdatePriceQuantity",
        false,
        |st, v| st.bulk_update_price_quantity(v),
    )
}

async fn get_orders(
    State((sim, core)): Ctx,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let op = "getOrders";
    let account = match admit(&core, &sim, &headers, FULFILLMENT, op) {
        Ok(a) => a,
        Err(refused) => return respond(refused),
    };
    let base = format!("{}/ebay", core.base_url);
    let answer = sim.with_store(&account, |st| {
        st.get_orders(
            &base,
            &account,
            q.get("filter").map(String::as_str),
            q.get("limit").map(String::as_str),
            q.get("offset").map(String::as_str),
        )
    });
    finish(&core, &account, op, answer)
}

impl SimPlatform for Ebay {
    fn name(&self) -> &'static str {
        "ebay"
    }

    /// 2,000,000 Inventory API and 100,000 Fulfillment API calls a day
    /// (<https://developer.ebay.com/develop/api/sell/api_call_limits>).
    fn default_quota(&self) -> QuotaModel {
        QuotaModel::unlimited()
            .with(
                Scope::Operation(INVENTORY.into()),
                Limit::DailyCap { calls: 2_000_000.0 },
            )
            .with(
                Scope::Operation(FULFILLMENT.into()),
                Limit::DailyCap { calls: 100_000.0 },
            )
    }

    /// User access tokens live two hours (`expires_in` 7200).
    fn token_lifetime(&self) -> Option<Duration> {
        Some(Duration::from_secs(7200))
    }

    fn router(self: Arc<Self>, core: Arc<SimCore>) -> Router {
        let inv = "/sell/inventory/v1";
        Router::new()
            .route("/oauth2/authorize", get(oauth::authorize))
            .route("/identity/v1/oauth2/token", post(oauth::token))
            .route(
                &format!("{inv}/bulk_create_or_replace_inventory_item"),
                post(bulk_items),
            )
            .route(&format!("{inv}/inventory_item"), get(get_items))
            .route(
                &format!("{inv}/bulk_get_inventory_item"),
                post(bulk_get_items),
            )
            .route(
                &format!("{inv}/inventory_item_group/{{key}}"),
                put(put_group).get(get_group),
            )
            .route(&format!("{inv}/bulk_create_offer"), post(bulk_offers))
            .route(&format!("{inv}/offer"), get(get_offers))
            .route(&format!("{inv}/offer/{{id}}"), put(update_offer))
            .route(
                &format!("{inv}/offer/{{id}}/withdraw"),
                post(withdraw_offer),
            )
            .route(&format!("{inv}/bulk_publish_offer"), post(bulk_publish))
            .route(
                &format!("{inv}/offer/publish_by_inventory_item_group"),
                post(publish_group),
            )
            .route(
                &format!("{inv}/offer/withdraw_by_inventory_item_group"),
                post(withdraw_group),
            )
            .route(
                &format!("{inv}/bulk_update_price_quantity"),
                post(bulk_price_quantity),
            )
            .route("/sell/fulfillment/v1/order", get(get_orders))
            .with_state((self, core))
    }

    fn listings(&self, account: &str) -> Vec<SimListing> {
        self.with_store(account, |st| {
            let variant = |sku: &str| {
                let item = st.items.get(sku)?;
                let offer = st.offer_of(sku);
                Some(SimVariant {
                    external_id: offer
                        .map(|o| o.offer_id.clone())
                        .unwrap_or_else(|| sku.to_owned()),
                    sku: sku.to_owned(),
                    price: offer
                        .and_then(|o| o.price.as_ref())
                        .map(|p| p.0)
                        .unwrap_or_default(),
                    quantity: item.quantity,
                })
            };
            let status = |skus: &[String]| {
                if skus
                    .iter()
                    .any(|s| st.offer_of(s).is_some_and(|o| o.published()))
                {
                    "PUBLISHED".to_owned()
                } else {
                    "UNPUBLISHED".to_owned()
                }
            };
            let mut listings: Vec<SimListing> = st
                .groups
                .iter()
                .map(|(key, group)| SimListing {
                    external_id: key.clone(),
                    title: group.title(),
                    status: status(&group.variant_skus),
                    variants: group
                        .variant_skus
                        .iter()
                        .filter_map(|s| variant(s))
                        .collect(),
                })
                .collect();
            for (sku, item) in &st.items {
                if st.groups_of(sku).is_empty() {
                    listings.push(SimListing {
                        external_id: sku.clone(),
                        title: item.product["title"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                        status: status(std::slice::from_ref(sku)),
                        variants: variant(sku).into_iter().collect(),
                    });
                }
            }
            listings
        })
    }

    fn place_order(
        &self,
        core: &Arc<SimCore>,
        account: &str,
        lines: &[SimOrderLine],
    ) -> Result<String, String> {
        let _ = core;
        self.with_store(account, |st| st.place_order(lines))
    }

    fn cancel_order(
        &self,
        core: &Arc<SimCore>,
        account: &str,
        order_id: &str,
    ) -> Result<(), String> {
        let _ = core;
        self.with_store(account, |st| st.cancel_order(order_id))
    }

    /// A seller's edit in Seller Hub: the group's (or item's) title, every
    /// variant's offer price.
    fn edit_product(
        &self,
        core: &Arc<SimCore>,
        account: &str,
        external_id: &str,
        edit: &SimEdit,
    ) -> Result<(), String> {
        let _ = core;
        self.with_store(account, |st| {
            let skus: Vec<String> = if let Some(group) = st.groups.get_mut(external_id) {
                if let Some(title) = &edit.title {
                    group.body["title"] = json!(title);
                }
                group.variant_skus.clone()
            } else if let Some(item) = st.items.get_mut(external_id) {
                if let Some(title) = &edit.title {
                    item.product["title"] = json!(title);
                }
                vec![external_id.to_owned()]
            } else {
                return Err(format!("no eBay listing {external_id}"));
            };
            if let Some(price) = edit.price {
                for offer in st.offers.values_mut().filter(|o| skus.contains(&o.sku)) {
                    let currency = offer
                        .price
                        .as_ref()
                        .map(|p| p.1.clone())
                        .unwrap_or_else(|| "USD".into());
                    offer.price = Some((price, currency));
                }
            }
            Ok(())
        })
    }
}
