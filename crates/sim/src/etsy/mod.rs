//! Simulated Etsy: Open API v3 as far as Shelfsync uses it.
//!
//! Follows the same documentation as the adapter:
//! * <https://developers.etsy.com/documentation/essentials/requests>: every
//!   call needs `x-api-key: keystring:shared_secret` (the reference's
//!   `api_key` scheme; <https://github.com/etsy/open-api/discussions/1531>)
//!   and `Authorization: Bearer`; errors are `{"error": "…"}` (`ErrorSchema`).
//! * <https://developers.etsy.com/documentation/essentials/authentication>:
//!   `GET /oauth/connect` (PKCE S256 required; auto-approved here, the shop
//!   is `sim_account` or the first account) and
//!   `POST /v3/public/oauth/token` (authorization_code with `code_verifier`,
//!   refresh_token); access tokens live one hour.
//! * <https://developers.etsy.com/documentation/reference>: `createDraftListing`,
//!   `getListingsByShop`, `updateListing`, `getListingsByListingIds`,
//!   `getListingInventory`, `updateListingInventory`, `getShopReceipts`,
//!   `getShopReceipt`, with their paths, form or JSON bodies, `limit`/`offset`
//!   paging (limit 1–100) and `Money` prices.
//! * <https://developers.etsy.com/documentation/essentials/rate-limits>: per
//!   token, queries per second and per rolling day, 10 and 10,000 by default
//!   (overridable per account); admitted answers carry `x-limit-per-second`,
//!   `x-remaining-this-second`, `x-limit-per-day`, `x-remaining-today`; a call
//!   over either limit is answered 429 with `retry-after` and none of those.
//! * <https://developers.etsy.com/documentation/essentials/webhooks>: orders
//!   send `order.paid` (`{"event_type", "resource_url", "shop_id"}`), signed the
//!   Standard Webhooks way (`webhook-id`, `webhook-timestamp`,
//!   `webhook-signature: v1,…`). Etsy has no listing webhooks, so merchant
//!   edits send nothing.
//!
//! Deviations, on purpose: activating a draft does not require an image
//! (the adapter uploads none), shipping and processing profiles are not
//! required, and product ids are kept per SKU across inventory writes.

mod inventory;
mod listings;
mod oauth;
mod orders;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use shelfsync_core::quota::{Limit, QuotaModel, Scope};

use crate::{
    SIM_CLIENT_SECRET, SimCore, SimEdit, SimListing, SimOrderLine, SimPlatform, SimVariant,
};

const NAME: &str = "etsy";

/// Simulated Etsy shops, keyed by account (the shop id).
#[derive(Default)]
pub struct Etsy {
    shops: Mutex<HashMap<String, Shop>>,
}

#[derive(Default)]
struct Shop {
    listings: BTreeMap<u64, Listing>,
    receipts: Vec<Receipt>,
}

#[derive(Debug, Clone)]
struct Listing {
    listing_id: u64,
    title: String,
    description: String,
    state: String,
    tags: Vec<String>,
    taxonomy_id: u64,
    who_made: String,
    when_made: String,
    created: i64,
    updated: i64,
    inventory: Inventory,
}

#[derive(Debug, Clone, Default)]
struct Inventory {
    products: Vec<Product>,
    price_on_property: Vec<u64>,
    quantity_on_property: Vec<u64>,
    sku_on_property: Vec<u64>,
}

#[derive(Debug, Clone)]
struct Product {
    product_id: u64,
    sku: String,
    property_values: Vec<PropertyValue>,
    offering_id: u64,
    /// In cents (USD, divisor 100).
    price: i64,
    quantity: i64,
    is_enabled: bool,
    readiness_state_id: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
struct PropertyValue {
    property_id: u64,
    property_name: Option<String>,
    scale_id: Option<u64>,
    value_ids: Vec<u64>,
    values: Vec<String>,
}

#[derive(Debug, Clone)]
struct Receipt {
    receipt_id: u64,
    created: i64,
    /// `update_timestamp`: moves when the receipt is canceled.
    updated: i64,
    canceled: bool,
    lines: Vec<ReceiptLine>,
}

#[derive(Debug, Clone)]
struct ReceiptLine {
    transaction_id: u64,
    listing_id: u64,
    product_id: u64,
    sku: String,
    title: String,
    quantity: i64,
    price: i64,
}

impl Listing {
    fn quantity(&self) -> i64 {
        self.inventory
            .products
            .iter()
            .filter(|p| p.is_enabled)
            .map(|p| p.quantity)
            .sum()
    }

    /// An active listing with nothing left is sold out, and back when restocked.
    fn settle_state(&mut self) {
        let quantity = self.quantity();
        if self.state == "active" && quantity == 0 {
            self.state = "sold_out".into();
        } else if self.state == "sold_out" && quantity > 0 {
            self.state = "active".into();
        }
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1_000_000_001);

/// Etsy ids are large integers, unique across everything here.
fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn money(cents: i64) -> Value {
    json!({"amount": cents, "divisor": 100, "currency_code": "USD"})
}

/// The shop id as Etsy writes it (a number), for a numeric account.
fn shop_id(account: &str) -> Value {
    account
        .parse::<u64>()
        .map(Value::from)
        .unwrap_or_else(|_| Value::from(account))
}

/// `{"error": "…"}` with `status`.
fn error(status: StatusCode, message: impl Into<String>) -> (StatusCode, Value) {
    (status, json!({"error": message.into()}))
}

fn respond((status, body): (StatusCode, Value)) -> Response {
    (status, axum::Json(body)).into_response()
}

/// Key/value pairs of a query string or form body.
fn pairs(raw: Option<&str>) -> Vec<(String, String)> {
    let Some(raw) = raw else { return Vec::new() };
    let Ok(mut url) = reqwest::Url::parse("http://sim/") else {
        return Vec::new();
    };
    url.set_query(Some(raw));
    url.query_pairs().into_owned().collect()
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[derive(Clone)]
struct Ctx {
    etsy: Arc<Etsy>,
    core: Arc<SimCore>,
}

/// A call that passed the key, token and rate checks.
struct Admission {
    account: String,
    rate_headers: Vec<(&'static str, String)>,
}

impl Ctx {
    /// Etsy's checks in order: app key, token, then the rate limits (which
    /// count every call they admit), then that the shop is the token's.
    fn admit(
        &self,
        headers: &HeaderMap,
        operation: &str,
        path_shop: Option<&str>,
    ) -> Result<Admission, Box<Response>> {
        let unknown = path_shop.unwrap_or("*");
        let key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
        let key_error = match key.map(|k| k.split_once(':')) {
            None => Some("Missing x-api-key header"),
            Some(None) => Some("Shared secret is required in x-api-key header."),
            Some(Some((keystring, secret)))
                if keystring.is_empty() || secret != SIM_CLIENT_SECRET =>
            {
                Some("Invalid API key")
            }
            Some(Some(_)) => None,
        };
        if let Some(message) = key_error {
            self.core.stats.call(NAME, unknown, operation, 403, 0.0);
            return Err(Box::new(respond(error(StatusCode::FORBIDDEN, message))));
        }
        let account = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .and_then(|token| self.core.accounts.authenticate(NAME, token.trim()));
        let Some(account) = account else {
            self.core.stats.call(NAME, unknown, operation, 401, 0.0);
            return Err(Box::new(
                (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({"error": "invalid_token", "error_description": "access token is invalid or expired"})),
            )
                .into_response(),
            ));
        };
        let model = self.core.quota(self.etsy.as_ref(), &account);
        let admitted = match self
            .core
            .limiter
            .admit(NAME, &account, &model, operation, 1.0)
        {
            Ok(admitted) => admitted,
            Err(refused) => {
                self.core.stats.call(NAME, &account, operation, 429, 0.0);
                let wait = refused.retry_after.ceil().clamp(1.0, 86_400.0) as u64;
                let mut response = respond(error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "You have exceeded your rate limit. Please try again later.",
                ));
                response
                    .headers_mut()
                    .insert("retry-after", HeaderValue::from(wait));
                return Err(Box::new(response));
            }
        };
        let mut rate_headers = Vec::new();
        for ((_, scoped), state) in model.applicable(operation).zip(&admitted) {
            match scoped.limit {
                Limit::TokenBucket { rate_per_sec, .. } => {
                    rate_headers.push(("x-limit-per-second", format!("{}", rate_per_sec.round())));
                    rate_headers.push((
                        "x-remaining-this-second",
                        format!("{}", state.remaining.max(0.0).floor()),
                    ));
                }
                Limit::DailyCap { calls } => {
                    rate_headers.push(("x-limit-per-day", format!("{}", calls.round())));
                    rate_headers.push((
                        "x-remaining-today",
                        format!("{}", state.remaining.max(0.0).floor()),
                    ));
                }
                _ => {}
            }
        }
        let admission = Admission {
            account,
            rate_headers,
        };
        if let Some(shop) = path_shop
            && shop != admission.account
        {
            return Err(Box::new(self.finish(
                &admission,
                operation,
                error(
                    StatusCode::FORBIDDEN,
                    "The shop does not belong to the authenticated user",
                ),
            )));
        }
        Ok(admission)
    }

    /// Count the admitted call and answer it with the rate headers.
    fn finish(
        &self,
        admission: &Admission,
        operation: &str,
        (status, body): (StatusCode, Value),
    ) -> Response {
        self.core
            .stats
            .call(NAME, &admission.account, operation, status.as_u16(), 1.0);
        let mut response = respond((status, body));
        for (name, value) in &admission.rate_headers {
            if let Ok(value) = HeaderValue::from_str(value) {
                response.headers_mut().insert(*name, value);
            }
        }
        response
    }

    fn with_shop<T>(&self, account: &str, f: impl FnOnce(&mut Shop) -> T) -> T {
        let mut shops = self.etsy.shops.lock().unwrap();
        f(shops.entry(account.to_owned()).or_default())
    }
}

impl SimPlatform for Etsy {
    fn name(&self) -> &'static str {
        NAME
    }

    /// 10 queries per second, 10,000 per rolling day (Etsy's published defaults).
    fn default_quota(&self) -> QuotaModel {
        QuotaModel::unlimited()
            .with(
                Scope::All,
                Limit::TokenBucket {
                    rate_per_sec: 10.0,
                    burst: 10.0,
                },
            )
            .with(Scope::All, Limit::DailyCap { calls: 10_000.0 })
    }

    fn token_lifetime(&self) -> Option<Duration> {
        Some(Duration::from_secs(3600))
    }

    fn router(self: Arc<Self>, core: Arc<SimCore>) -> Router {
        let ctx = Ctx { etsy: self, core };
        Router::new()
            .route("/oauth/connect", get(oauth::authorize))
            .route("/v3/public/oauth/token", post(oauth::token))
            .route(
                "/v3/application/shops/{shop_id}/listings",
                post(listings::create).get(listings::by_shop),
            )
            .route(
                "/v3/application/shops/{shop_id}/listings/{listing_id}",
                patch(listings::update),
            )
            .route("/v3/application/listings/batch", get(listings::batch))
            .route(
                "/v3/application/listings/{listing_id}/inventory",
                get(listings::get_inventory).put(listings::put_inventory),
            )
            .route(
                "/v3/application/shops/{shop_id}/receipts",
                get(orders::receipts),
            )
            .route(
                "/v3/application/shops/{shop_id}/receipts/{receipt_id}",
                get(orders::receipt),
            )
            .with_state(ctx)
    }

    fn listings(&self, account: &str) -> Vec<SimListing> {
        let shops = self.shops.lock().unwrap();
        let Some(shop) = shops.get(account) else {
            return Vec::new();
        };
        shop.listings
            .values()
            .map(|l| SimListing {
                external_id: l.listing_id.to_string(),
                title: l.title.clone(),
                status: l.state.clone(),
                variants: l
                    .inventory
                    .products
                    .iter()
                    .map(|p| SimVariant {
                        external_id: p.product_id.to_string(),
                        sku: p.sku.clone(),
                        price: Decimal::new(p.price, 2),
                        quantity: p.quantity,
                    })
                    .collect(),
            })
            .collect()
    }

    fn place_order(
        &self,
        core: &Arc<SimCore>,
        account: &str,
        lines: &[SimOrderLine],
    ) -> Result<String, String> {
        orders::place(self, core, account, lines)
    }

    fn cancel_order(
        &self,
        _core: &Arc<SimCore>,
        account: &str,
        order_id: &str,
    ) -> Result<(), String> {
        orders::cancel(self, account, order_id)
    }

    fn edit_product(
        &self,
        _core: &Arc<SimCore>,
        account: &str,
        external_id: &str,
        edit: &SimEdit,
    ) -> Result<(), String> {
        let mut shops = self.shops.lock().unwrap();
        let listing = external_id
            .parse::<u64>()
            .ok()
            .and_then(|id| shops.get_mut(account)?.listings.get_mut(&id))
            .ok_or_else(|| format!("no listing {external_id} in shop {account}"))?;
        if let Some(title) = &edit.title {
            listing.title = title.clone();
        }
        if let Some(price) = edit.price {
            let cents = (price * Decimal::ONE_HUNDRED)
                .round()
                .try_into()
                .map_err(|_| "price out of range".to_owned())?;
            for product in &mut listing.inventory.products {
                product.price = cents;
            }
        }
        listing.updated = now();
        // Etsy sends no webhook for listing changes.
        Ok(())
    }
}
