//! Simulated Amazon Selling Partner API, for one or more sellers, under
//! `/amazon` followed by SP-API's real paths.
//!
//! Follows the same documentation as the adapter:
//! * Listings Items API v2021-08-01 (put, patch, search):
//!   <https://developer-docs.amazon.com/sp-api/docs/listings-items-api-v2021-08-01-reference>,
//!   model `listingsItems_2021-08-01.json` in amzn/selling-partner-api-models.
//!   JSON Patch ops add/replace/merge/delete on top-level attributes:
//!   <https://developer-docs.amazon.com/sp-api/docs/partially-update-a-listing>,
//!   <https://developer-docs.amazon.com/sp-api/docs/merge-a-listing>.
//! * Orders API v0 (getOrders, getOrderItems):
//!   <https://developer-docs.amazon.com/sp-api/reference/getorders>,
//!   <https://developer-docs.amazon.com/sp-api/reference/getorderitems>.
//! * Auth: `x-amz-access-token` on every call, refused with 403
//!   `{"errors":[{"code":"Unauthorized","message":"Access to requested resource is denied.",…}]}`
//!   (amzn/selling-partner-api-models issue #826); LWA token endpoint
//!   `/auth/o2/token` (form body with client id and secret, tokens live 3600 s);
//!   consent page `/apps/authorize/consent` that redirects back with
//!   `spapi_oauth_code`, `state` and `selling_partner_id`
//!   (<https://developer-docs.amazon.com/sp-api/docs/website-authorization-workflow>).
//! * Rate limits: per-operation token buckets with the default usage plans
//!   (putListingsItem and patchListingsItem 5/s burst 5 per
//!   <https://developer-docs.amazon.com/sp-api/docs/listings-items-api-rate-limits>;
//!   searchListingsItems 5/s burst 5 per its reference; getOrders 0.0167/s
//!   burst 20; getOrderItems 0.5/s burst 30 per their references). Throttled
//!   calls get 429 with `{"errors":[{"code":"QuotaExceeded","message":"You exceeded your quota for the requested resource.","details":""}]}`
//!   (issue #418) and no `Retry-After`; admitted calls carry
//!   `x-amzn-RateLimit-Limit` (the plan's rate) and `x-amzn-RequestId`.
//! * No webhooks: SP-API notifications go to SQS or EventBridge, which the
//!   simulator does not model; `place_order` and `edit_product` only change
//!   what getOrders and searchListingsItems return.
//!
//! Where the simulator is simpler than Amazon (its own choices):
//! submissions take effect at once (Amazon processes them asynchronously);
//! validation checks only `item_name` and `condition_type` (issue 90220, as
//! in the documented example), not the product type's schema; a patch of an
//! unknown SKU is INVALID with issue code `SKU_NOT_FOUND`; `merge` matches
//! array entries by the selector fields present (`fulfillment_channel_code`,
//! `marketplace_id`, `currency`, `audience`); orders are `Unshipped` and
//! seller-fulfilled; marketplaces are echoed, not kept apart.

mod listings;
mod orders;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post, put};
use axum::{Form, Json, Router};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};
use shelfsync_core::quota::{Limit, QuotaModel, Scope};

use crate::{SimCore, SimEdit, SimListing, SimOrderLine, SimPlatform, SimVariant};

const NAME: &str = "amazon";
const OP_PUT_ITEM: &str = "putListingsItem";
const OP_PATCH_ITEM: &str = "patchListingsItem";
const OP_SEARCH_ITEMS: &str = "searchListingsItems";
const OP_GET_ORDERS: &str = "getOrders";
const OP_GET_ORDER_ITEMS: &str = "getOrderItems";

/// Amazon's sellers: listing items by SKU and orders, per selling partner id.
#[derive(Default)]
pub struct Amazon {
    sellers: Mutex<HashMap<String, Seller>>,
}

#[derive(Default)]
struct Seller {
    items: BTreeMap<String, Item>,
    orders: Vec<Order>,
}

/// A listing item as submitted: its product type and attributes.
#[derive(Debug, Clone)]
struct Item {
    product_type: String,
    attributes: Map<String, Value>,
    asin: String,
    created: DateTime<Utc>,
    updated: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct Order {
    id: String,
    purchased: DateTime<Utc>,
    /// `LastUpdateDate`: moves when the order is canceled.
    updated: DateTime<Utc>,
    canceled: bool,
    lines: Vec<OrderItem>,
}

#[derive(Debug, Clone)]
struct OrderItem {
    item_id: String,
    sku: String,
    asin: String,
    title: String,
    quantity: i64,
    price: Option<(String, Decimal)>,
}

fn first<'a>(attributes: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    attributes.get(name).and_then(|v| v.get(0))
}

fn decimal(value: &Value) -> Option<Decimal> {
    match value {
        Value::Number(n) => n.to_string().parse().ok(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

impl Item {
    fn text(&self, name: &str) -> Option<String> {
        first(&self.attributes, name)
            .and_then(|v| v.get("value"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    fn title(&self) -> String {
        self.text("item_name").unwrap_or_default()
    }

    /// The offer's currency and `our_price`.
    fn price(&self) -> Option<(String, Decimal)> {
        let offer = first(&self.attributes, "purchasable_offer")?;
        let currency = offer
            .get("currency")
            .and_then(Value::as_str)
            .unwrap_or("USD");
        let amount = offer.pointer("/our_price/0/schedule/0/value_with_tax")?;
        Some((currency.to_owned(), decimal(amount)?))
    }

    fn set_price(&mut self, price: Decimal) {
        let number = serde_json::Number::from_f64(price.to_string().parse().unwrap_or(0.0))
            .map(Value::Number)
            .unwrap_or(Value::Null);
        if let Some(Value::Array(offers)) = self.attributes.get_mut("purchasable_offer") {
            for offer in offers {
                offer["our_price"] = json!([{ "schedule": [{ "value_with_tax": number }] }]);
            }
        }
    }

    fn quantity(&self) -> Option<i64> {
        self.attributes
            .get("fulfillment_availability")?
            .as_array()?
            .iter()
            .find(|f| f.get("fulfillment_channel_code").and_then(Value::as_str) == Some("DEFAULT"))?
            .get("quantity")?
            .as_i64()
    }

    fn set_quantity(&mut self, quantity: i64) {
        if let Some(Value::Array(entries)) = self.attributes.get_mut("fulfillment_availability") {
            for entry in entries {
                if entry
                    .get("fulfillment_channel_code")
                    .and_then(Value::as_str)
                    == Some("DEFAULT")
                {
                    entry["quantity"] = json!(quantity);
                }
            }
        }
    }

    fn parent_sku(&self) -> Option<String> {
        first(&self.attributes, "child_parent_sku_relationship")
            .and_then(|r| r.get("parent_sku"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    fn is_parent(&self) -> bool {
        self.text("parentage_level").as_deref() == Some("parent")
    }

    /// BUYABLE when it has an offer and stock; DISCOVERABLE once it exists.
    fn statuses(&self) -> Vec<&'static str> {
        if !self.is_parent() && self.price().is_some() && self.quantity().unwrap_or(0) > 0 {
            vec!["BUYABLE", "DISCOVERABLE"]
        } else {
            vec!["DISCOVERABLE"]
        }
    }
}

/// What handlers share.
#[derive(Clone)]
struct Ctx {
    sim: Arc<Amazon>,
    core: Arc<SimCore>,
}

fn request_id(response: &mut Response) {
    if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        response.headers_mut().insert("x-amzn-requestid", id);
    }
}

/// An `ErrorList` answer.
fn errors(status: StatusCode, code: &str, message: &str, details: &str) -> Response {
    let body = json!({ "errors": [{ "code": code, "message": message, "details": details }] });
    let mut response = (status, Json(body)).into_response();
    request_id(&mut response);
    response
}

fn bad_request(details: &str) -> (StatusCode, Value) {
    (
        StatusCode::BAD_REQUEST,
        json!({ "errors": [{ "code": "BAD_REQUEST", "message": "Invalid input", "details": details }] }),
    )
}

impl Ctx {
    fn seller<R>(&self, seller: &str, f: impl FnOnce(&mut Seller) -> R) -> R {
        let mut sellers = self.sim.sellers.lock().unwrap();
        f(sellers.entry(seller.to_owned()).or_default())
    }

    /// Check the access token (and that it acts for `seller`, when the path
    /// names one), then charge the operation's usage plan. The account and
    /// the plan's rate on success; Amazon's refusal otherwise.
    fn admit(
        &self,
        headers: &HeaderMap,
        seller: Option<&str>,
        operation: &str,
    ) -> Result<(String, Option<f64>), Box<Response>> {
        let denied = |details: &str| {
            errors(
                StatusCode::FORBIDDEN,
                "Unauthorized",
                "Access to requested resource is denied.",
                details,
            )
        };
        let Some(token) = headers
            .get("x-amz-access-token")
            .and_then(|v| v.to_str().ok())
        else {
            self.core
                .stats
                .call(NAME, seller.unwrap_or("*"), operation, 403, 0.0);
            return Err(Box::new(denied(
                "Access token is missing in the request header.",
            )));
        };
        let account = match self.core.accounts.authenticate(NAME, token) {
            Some(account) if seller.is_none_or(|s| s == account) => account,
            _ => {
                self.core
                    .stats
                    .call(NAME, seller.unwrap_or("*"), operation, 403, 0.0);
                return Err(Box::new(denied("")));
            }
        };
        let quota = self.core.quota(self.sim.as_ref(), &account);
        match self
            .core
            .limiter
            .admit(NAME, &account, &quota, operation, 1.0)
        {
            Ok(admitted) => Ok((account, admitted.first().map(|a| a.refill_per_sec))),
            Err(_) => {
                self.core.stats.call(NAME, &account, operation, 429, 0.0);
                Err(Box::new(errors(
                    StatusCode::TOO_MANY_REQUESTS,
                    "QuotaExceeded",
                    "You exceeded your quota for the requested resource.",
                    "",
                )))
            }
        }
    }

    /// Record an admitted call and answer it with SP-API's headers.
    fn finish(
        &self,
        account: &str,
        operation: &str,
        rate: Option<f64>,
        (status, body): (StatusCode, Value),
    ) -> Response {
        self.core
            .stats
            .call(NAME, account, operation, status.as_u16(), 1.0);
        let mut response = (status, Json(body)).into_response();
        request_id(&mut response);
        if let Some(rate) = rate
            && let Ok(value) = HeaderValue::from_str(&format!("{rate:?}"))
        {
            response
                .headers_mut()
                .insert("x-amzn-ratelimit-limit", value);
        }
        response
    }
}

/// The consent page, approved at once: back to `redirect_uri` with the code.
async fn consent(State(ctx): State<Ctx>, Query(query): Query<HashMap<String, String>>) -> Response {
    let Some(redirect) = query
        .get("redirect_uri")
        .and_then(|r| reqwest::Url::parse(r).ok())
    else {
        return (StatusCode::BAD_REQUEST, "redirect_uri is required").into_response();
    };
    if query.get("application_id").is_none_or(|a| a.is_empty()) {
        return (StatusCode::BAD_REQUEST, "application_id is required").into_response();
    }
    let Some(account) = query
        .get("sim_account")
        .cloned()
        .or_else(|| ctx.core.accounts.first_account(NAME))
    else {
        return (StatusCode::NOT_FOUND, "no seller account to authorize").into_response();
    };
    let code = ctx
        .core
        .accounts
        .issue_code(NAME, &account, redirect.as_str(), None);
    let mut target = redirect;
    {
        let mut pairs = target.query_pairs_mut();
        pairs.append_pair("spapi_oauth_code", &code);
        if let Some(state) = query.get("state") {
            pairs.append_pair("state", state);
        }
        pairs.append_pair("selling_partner_id", &account);
    }
    Redirect::to(target.as_str()).into_response()
}

/// Login with Amazon's token endpoint: authorization codes and refresh tokens.
async fn token(State(ctx): State<Ctx>, Form(form): Form<HashMap<String, String>>) -> Response {
    let field = |name: &str| form.get(name).map(String::as_str);
    let secret_ok = field("client_secret") == Some(crate::SIM_CLIENT_SECRET);
    let issued = match field("grant_type") {
        Some("authorization_code") => ctx.core.accounts.exchange_code(
            NAME,
            field("code").unwrap_or_default(),
            field("redirect_uri"),
            None,
            field("client_secret"),
        ),
        Some("refresh_token") if !secret_ok => Err(crate::accounts::OAuthRefusal::InvalidClient),
        Some("refresh_token") => ctx
            .core
            .accounts
            .refresh(NAME, field("refresh_token").unwrap_or_default()),
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({ "error": "unsupported_grant_type",
                             "error_description": "grant_type must be authorization_code or refresh_token" })),
            )
                .into_response();
        }
    };
    match issued {
        Ok(tokens) => Json(json!({
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "token_type": "bearer",
            "expires_in": tokens.expires_in.unwrap_or(3600),
        }))
        .into_response(),
        Err(refusal) => {
            let status = match refusal {
                crate::accounts::OAuthRefusal::InvalidClient => StatusCode::UNAUTHORIZED,
                _ => StatusCode::BAD_REQUEST,
            };
            (
                status,
                Json(
                    json!({ "error": refusal.code(), "error_description": refusal.description() }),
                ),
            )
                .into_response()
        }
    }
}

impl SimPlatform for Amazon {
    fn name(&self) -> &'static str {
        NAME
    }

    fn default_quota(&self) -> QuotaModel {
        let plan = |rate_per_sec, burst| Limit::TokenBucket {
            rate_per_sec,
            burst,
        };
        QuotaModel::unlimited()
            .with(Scope::Operation(OP_PUT_ITEM.into()), plan(5.0, 5.0))
            .with(Scope::Operation(OP_PATCH_ITEM.into()), plan(5.0, 5.0))
            .with(Scope::Operation(OP_SEARCH_ITEMS.into()), plan(5.0, 5.0))
            .with(Scope::Operation(OP_GET_ORDERS.into()), plan(0.0167, 20.0))
            .with(Scope::Operation(OP_GET_ORDER_ITEMS.into()), plan(0.5, 30.0))
    }

    /// LWA access tokens live one hour.
    fn token_lifetime(&self) -> Option<Duration> {
        Some(Duration::from_secs(3600))
    }

    fn router(self: Arc<Self>, core: Arc<SimCore>) -> Router {
        let ctx = Ctx { sim: self, core };
        Router::new()
            .route("/apps/authorize/consent", get(consent))
            .route("/auth/o2/token", post(token))
            .route(
                "/listings/2021-08-01/items/{seller_id}",
                get(listings::search),
            )
            .route(
                "/listings/2021-08-01/items/{seller_id}/{sku}",
                put(listings::put_item).patch(listings::patch_item),
            )
            .route("/orders/v0/orders", get(orders::get_orders))
            .route(
                "/orders/v0/orders/{order_id}/orderItems",
                get(orders::get_order_items),
            )
            .with_state(ctx)
    }

    /// Families under their parent SKU; standalone items as themselves.
    fn listings(&self, account: &str) -> Vec<SimListing> {
        let sellers = self.sellers.lock().unwrap();
        let Some(seller) = sellers.get(account) else {
            return Vec::new();
        };
        let mut listings: BTreeMap<String, SimListing> = BTreeMap::new();
        for (sku, item) in &seller.items {
            let key = item.parent_sku().unwrap_or_else(|| sku.clone());
            let listing = listings.entry(key.clone()).or_insert_with(|| SimListing {
                external_id: key.clone(),
                title: String::new(),
                status: String::new(),
                variants: Vec::new(),
            });
            if item.parent_sku().is_none() || listing.title.is_empty() {
                listing.title = item.title();
                listing.status = item.statuses().join(",");
            }
            if item.is_parent() {
                continue;
            }
            listing.variants.push(SimVariant {
                external_id: sku.clone(),
                sku: sku.clone(),
                price: item.price().map(|(_, p)| p).unwrap_or_default(),
                quantity: item.quantity().unwrap_or(0),
            });
        }
        listings.into_values().collect()
    }

    /// An order visible to getOrders; each SKU's seller-fulfilled quantity
    /// drops. Amazon sells no more than is available, so neither does this.
    fn place_order(
        &self,
        _core: &Arc<SimCore>,
        account: &str,
        lines: &[SimOrderLine],
    ) -> Result<String, String> {
        let mut sellers = self.sellers.lock().unwrap();
        let seller = sellers
            .get_mut(account)
            .ok_or_else(|| format!("seller {account} has no listings"))?;
        let mut items = Vec::new();
        for (n, line) in lines.iter().enumerate() {
            let item = seller
                .items
                .get(&line.sku)
                .filter(|i| !i.is_parent())
                .ok_or_else(|| format!("no buyable listing item with SKU {}", line.sku))?;
            let available = item.quantity().unwrap_or(0);
            if available < line.quantity {
                return Err(format!("only {available} of {} available", line.sku));
            }
            items.push(OrderItem {
                item_id: format!(
                    "{:014}",
                    rand::random::<u64>() % 100_000_000_000_000 + n as u64
                ),
                sku: line.sku.clone(),
                asin: item.asin.clone(),
                title: item.title(),
                quantity: line.quantity,
                price: item.price(),
            });
        }
        for line in lines {
            if let Some(item) = seller.items.get_mut(&line.sku) {
                let left = item.quantity().unwrap_or(0) - line.quantity;
                item.set_quantity(left);
            }
        }
        let id = format!(
            "{:03}-{:07}-{:07}",
            111 + seller.orders.len() % 800,
            rand::random::<u32>() % 10_000_000,
            rand::random::<u32>() % 10_000_000
        );
        let now = Utc::now();
        seller.orders.push(Order {
            id: id.clone(),
            purchased: now,
            updated: now,
            canceled: false,
            lines: items,
        });
        Ok(id)
    }

    /// The seller cancels an unshipped order: its units are for sale again,
    /// and getOrders reports it `Canceled`, updated now.
    fn cancel_order(
        &self,
        _core: &Arc<SimCore>,
        account: &str,
        order_id: &str,
    ) -> Result<(), String> {
        let mut sellers = self.sellers.lock().unwrap();
        let seller = sellers
            .get_mut(account)
            .ok_or_else(|| format!("no seller {account}"))?;
        let order = seller
            .orders
            .iter_mut()
            .find(|o| o.id == order_id)
            .ok_or_else(|| format!("no order {order_id}"))?;
        if order.canceled {
            return Err(format!("order {order_id} is canceled already"));
        }
        order.canceled = true;
        order.updated = Utc::now();
        let lines = order.lines.clone();
        for line in lines {
            if let Some(item) = seller.items.get_mut(&line.sku) {
                let back = item.quantity().unwrap_or(0) + line.quantity;
                item.set_quantity(back);
            }
        }
        Ok(())
    }

    /// A merchant's edit in Seller Central: the title of the item with that
    /// SKU, the price of it or (for a parent) of its children.
    fn edit_product(
        &self,
        _core: &Arc<SimCore>,
        account: &str,
        external_id: &str,
        edit: &SimEdit,
    ) -> Result<(), String> {
        let mut sellers = self.sellers.lock().unwrap();
        let seller = sellers
            .get_mut(account)
            .ok_or_else(|| format!("seller {account} has no listings"))?;
        if !seller.items.contains_key(external_id) {
            return Err(format!("no listing item with SKU {external_id}"));
        }
        let now = Utc::now();
        for (sku, item) in seller.items.iter_mut() {
            let own = sku == external_id;
            let child = item.parent_sku().as_deref() == Some(external_id);
            if !own && !child {
                continue;
            }
            if let (true, Some(title)) = (own, &edit.title) {
                let tag = first(&item.attributes, "item_name")
                    .cloned()
                    .unwrap_or_else(|| json!({}));
                let mut name = tag;
                name["value"] = json!(title);
                item.attributes.insert("item_name".into(), json!([name]));
            }
            if let Some(price) = edit.price {
                item.set_price(price);
            }
            item.updated = now;
        }
        Ok(())
    }
}
