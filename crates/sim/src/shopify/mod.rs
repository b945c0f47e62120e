//! Simulated Shopify: the GraphQL Admin API as far as Shelfsync uses it,
//! Shopify's OAuth, cost-based throttling and signed webhooks.
//!
//! Routes (under `/shopify`, then the shop's own host as a path segment):
//! * `POST /{shop}/admin/api/{version}/graphql.json`: the GraphQL Admin API
//!   (https://shopify.dev/docs/api/admin-graphql), header
//!   `X-Shopify-Access-Token` (https://shopify.dev/docs/api/usage/authentication).
//!   Operations are recognised by their root fields (aliases allowed):
//!   productSet, productVariantsBulkUpdate, inventorySetQuantities, products,
//!   orders, locations, webhookSubscriptionCreate (see `store.rs`).
//! * `GET /{shop}/admin/oauth/authorize` and `POST /{shop}/admin/oauth/access_token`:
//!   the authorization code grant
//!   (https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/authorization-code-grant);
//!   consent is automatic, offline tokens do not expire.
//!
//! Rate limit (https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits,
//! https://shopify.dev/docs/api/usage/limits): calculated query cost in a
//! leaky bucket per app and store. The Standard plan restores 100 points a
//! second; its bucket holds 2,000 points (the `maximumAvailable` Shopify
//! reports with `restoreRate: 100`). A single query may not request more
//! than 1,000 points (`MAX_COST_EXCEEDED`). The requested cost is charged
//! before the query runs and the difference to the actual cost refunded
//! after. A throttled call is answered `200` with
//! `errors[].extensions.code = "THROTTLED"` and `actualQueryCost: null`, and
//! every answer carries `extensions.cost.throttleStatus`.
//!
//! Webhooks (https://shopify.dev/docs/apps/build/webhooks/verify-deliveries):
//! `X-Shopify-Hmac-Sha256` is the base64 HMAC-SHA256 of the raw body under
//! the app's client secret; `X-Shopify-Topic`, `X-Shopify-Shop-Domain`,
//! `X-Shopify-Webhook-Id`, `X-Shopify-Event-Id`, `X-Shopify-Triggered-At`
//! and `X-Shopify-API-Version` come with it. Payloads are the REST-style
//! resources of https://shopify.dev/docs/api/webhooks (orders/create,
//! products/update).

mod answer;
mod gql;
mod mutations;
mod payloads;
mod store;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};
use shelfsync_core::quota::{Limit, QuotaModel, Scope};

use self::gql::OpKind;
use self::store::{Shop, gid, parse_gid};
use crate::{SimCore, SimEdit, SimListing, SimOrderLine, SimPlatform, SimRefundLine, SimVariant};

/// The API version the simulator reports (the latest stable one).
pub const API_VERSION: &str = "2026-07";
/// Standard plan: 100 points a second, 2,000-point bucket (see the module docs).
pub const STANDARD_BUCKET: f64 = 2000.0;
pub const STANDARD_RESTORE_PER_SEC: f64 = 100.0;
/// No single query may request more than this.
pub const MAX_QUERY_COST: f64 = 1000.0;

const NAME: &str = "shopify";

#[derive(Default)]
pub struct Shopify {
    shops: Mutex<HashMap<String, Shop>>,
    /// Scopes granted with each authorization code, for the token answer.
    scopes: Mutex<HashMap<String, String>>,
}

#[derive(Clone)]
struct AppState {
    sim: Arc<Shopify>,
    core: Arc<SimCore>,
}

fn error_json(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

impl Shopify {
    fn with_shop<T>(&self, shop: &str, f: impl FnOnce(&mut Shop) -> T) -> T {
        let mut shops = self.shops.lock().unwrap();
        f(shops.entry(shop.to_owned()).or_default())
    }
}

/// The index and limit of the account's points bucket, for `throttleStatus`.
fn points_limit(model: &QuotaModel) -> Option<(usize, Limit)> {
    model
        .limits
        .iter()
        .enumerate()
        .find(|(_, l)| l.limit.counts_points())
        .map(|(i, l)| (i, l.limit))
}

fn throttle_status(core: &SimCore, shop: &str, model: &QuotaModel) -> Value {
    match points_limit(model) {
        Some((index, limit)) => json!({
            "maximumAvailable": limit.capacity(),
            "currentlyAvailable": core.limiter.available(NAME, shop, model, index).floor(),
            "restoreRate": limit.refill_per_sec(),
        }),
        None => json!({"maximumAvailable": 0.0, "currentlyAvailable": 0.0, "restoreRate": 0.0}),
    }
}

/// The defined cost of a mutation root field (the payload's selection is not charged).
fn mutation_cost(field: &gql::Field) -> f64 {
    match field.name.as_str() {
        "productSet" => mutations::product_set_cost(field),
        "productVariantsBulkUpdate" => mutations::variants_bulk_cost(field),
        _ => 10.0,
    }
}

async fn graphql(
    State(s): State<AppState>,
    Path((shop, version)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let core = &s.core;
    let valid_version = version == "unstable"
        || (version.len() == 7
            && version.as_bytes()[4] == b'-'
            && version[..4].bytes().all(|b| b.is_ascii_digit())
            && version[5..].bytes().all(|b| b.is_ascii_digit()));
    if !valid_version {
        core.stats.call(NAME, &shop, "graphql", 404, 0.0);
        return error_json(StatusCode::NOT_FOUND, json!({"errors": "Not Found"}));
    }
    let token = headers
        .get("x-shopify-access-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if core.accounts.authenticate(NAME, token).as_deref() != Some(shop.as_str()) {
        core.stats.call(NAME, &shop, "graphql", 401, 0.0);
        return error_json(
            StatusCode::UNAUTHORIZED,
            json!({"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}),
        );
    }
    let request: Value = match serde_json::from_slice(&body) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            core.stats.call(NAME, &shop, "graphql", 400, 0.0);
            return error_json(
                StatusCode::BAD_REQUEST,
                json!({"errors": {"query": "Required parameter missing or invalid"}}),
            );
        }
    };
    let Some(query) = request.get("query").and_then(Value::as_str) else {
        core.stats.call(NAME, &shop, "graphql", 400, 0.0);
        return error_json(
            StatusCode::BAD_REQUEST,
            json!({"errors": {"query": "Required parameter missing or invalid"}}),
        );
    };
    let variables = request
        .get("variables")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let op = match gql::parse(query, &variables) {
        Ok(op) => op,
        Err(message) => {
            core.stats.call(NAME, &shop, "graphql", 200, 0.0);
            return answer(
                json!({"errors": [{"message": message, "extensions": {"code": "PARSE_ERROR"}}]}),
            );
        }
    };
    let operation = op
        .fields
        .first()
        .map(|f| f.name.clone())
        .unwrap_or_else(|| "graphql".into());
    let requested = match op.kind {
        OpKind::Mutation => op.fields.iter().map(mutation_cost).sum::<f64>(),
        OpKind::Query => op.fields.iter().map(answer::requested_cost).sum::<f64>(),
    };
    // Whole points, without float noise (ten aliases of 10.2 are 102).
    let requested = (requested - 1e-6).ceil();
    let model = core.quota(s.sim.as_ref(), &shop);
    if requested > MAX_QUERY_COST {
        core.stats.call(NAME, &shop, &operation, 200, 0.0);
        return answer(json!({"errors": [{
            "message": format!("Query cost is {requested}, which exceeds the single query max cost limit ({MAX_QUERY_COST})."),
            "extensions": {"code": "MAX_COST_EXCEEDED", "cost": requested, "maxCost": MAX_QUERY_COST,
                           "documentation": "https://shopify.dev/api/usage/rate-limits"},
        }]}));
    }
    if core
        .limiter
        .admit(NAME, &shop, &model, &operation, requested)
        .is_err()
    {
        core.stats.throttled_in_body(NAME, &shop, &operation);
        return answer(json!({
            "errors": [{"message": "Throttled", "extensions": {
                "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
            "extensions": {"cost": {
                "requestedQueryCost": requested, "actualQueryCost": null,
                "throttleStatus": throttle_status(core, &shop, &model)}},
        }));
    }
    let now = Utc::now();
    let mut errors: Vec<Value> = Vec::new();
    let mut data = Map::new();
    {
        let mut shops = s.sim.shops.lock().unwrap();
        let state = shops.entry(shop.clone()).or_default();
        for field in &op.fields {
            let resolved = match (op.kind, field.name.as_str()) {
                (OpKind::Mutation, "productSet") => state.product_set(field, now),
                (OpKind::Mutation, "productVariantsBulkUpdate") => {
                    state.variants_bulk_update(field, now)
                }
                (OpKind::Mutation, "inventorySetQuantities") => state.inventory_set(field, now),
                (OpKind::Mutation, "webhookSubscriptionCreate") => {
                    payloads::subscribe(core, &shop, field, now)
                }
                (OpKind::Query, "products") => state.products_page(field),
                (OpKind::Query, "orders") => state.orders_page(field),
                (OpKind::Query, "locations") => state.locations_page(field),
                (OpKind::Query, "productVariants") => state.variants_page(field),
                (OpKind::Query, "product") => state.product_by_id(field),
                (OpKind::Query, "order") => state.order_by_id(field),
                (kind, name) => Err(format!(
                    "Field '{name}' doesn't exist on type '{}'",
                    if kind == OpKind::Query {
                        "QueryRoot"
                    } else {
                        "Mutation"
                    }
                )),
            };
            match resolved {
                Ok(value) => {
                    let projected = answer::project(field, &value, &mut errors);
                    data.insert(field.key().to_owned(), projected);
                }
                Err(message) => {
                    errors.push(json!({"message": message, "path": [field.key()],
                                       "extensions": {"code": "INVALID_VARIABLE"}}));
                    data.insert(field.key().to_owned(), Value::Null);
                }
            }
        }
    }
    let actual = match op.kind {
        OpKind::Mutation => requested,
        OpKind::Query => op
            .fields
            .iter()
            .map(|f| answer::actual_cost(f, data.get(f.key()).unwrap_or(&Value::Null)))
            .sum::<f64>()
            .ceil()
            .min(requested),
    };
    for (index, scoped) in model.limits.iter().enumerate() {
        if scoped.limit.counts_points() && scoped.scope.applies_to(&operation) {
            core.limiter
                .refund(NAME, &shop, &model, index, requested - actual);
        }
    }
    core.stats.call(NAME, &shop, &operation, 200, actual);
    let mut body = Map::new();
    let undefined = errors
        .iter()
        .any(|e| e["extensions"]["code"] == json!("undefinedField"));
    body.insert(
        "data".into(),
        if undefined {
            Value::Null
        } else {
            Value::Object(data)
        },
    );
    if !errors.is_empty() {
        body.insert("errors".into(), Value::Array(errors));
    }
    body.insert(
        "extensions".into(),
        json!({"cost": {"requestedQueryCost": requested, "actualQueryCost": actual,
                        "throttleStatus": throttle_status(core, &shop, &model)}}),
    );
    answer(Value::Object(body))
}

fn answer(body: Value) -> Response {
    let mut response = (StatusCode::OK, axum::Json(body)).into_response();
    response.headers_mut().insert(
        "x-shopify-api-version",
        HeaderValue::from_static(API_VERSION),
    );
    response
}

async fn authorize(
    State(s): State<AppState>,
    Path(shop): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (Some(redirect_uri), Some(_client_id)) = (q.get("redirect_uri"), q.get("client_id")) else {
        return (
            StatusCode::BAD_REQUEST,
            "Oauth error invalid_request: client_id and redirect_uri are required",
        )
            .into_response();
    };
    let account = q
        .get("sim_account")
        .cloned()
        .or_else(|| s.core.accounts.exists(NAME, &shop).then(|| shop.clone()))
        .or_else(|| s.core.accounts.first_account(NAME))
        .unwrap_or(shop);
    let code = s
        .core
        .accounts
        .issue_code(NAME, &account, redirect_uri, None);
    s.sim
        .scopes
        .lock()
        .unwrap()
        .insert(code.clone(), q.get("scope").cloned().unwrap_or_default());
    let timestamp = Utc::now().timestamp().to_string();
    let mut params = vec![
        ("code", code.as_str()),
        ("shop", account.as_str()),
        ("timestamp", timestamp.as_str()),
    ];
    if let Some(state) = q.get("state") {
        params.push(("state", state.as_str()));
    }
    params.sort();
    let message: String = params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let hmac = hex::encode(payloads::hmac_sha256(
        crate::SIM_CLIENT_SECRET.as_bytes(),
        message.as_bytes(),
    ));
    let Ok(mut url) = url_parse(redirect_uri) else {
        return (
            StatusCode::BAD_REQUEST,
            "Oauth error invalid_request: redirect_uri is not a URL",
        )
            .into_response();
    };
    {
        let mut qp = url.query_pairs_mut();
        for (k, v) in &params {
            qp.append_pair(k, v);
        }
        qp.append_pair("hmac", &hmac);
    }
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(location) = HeaderValue::from_str(url.as_str()) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

fn url_parse(s: &str) -> Result<reqwest::Url, ()> {
    reqwest::Url::parse(s).map_err(|_| ())
}

async fn access_token(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let params: HashMap<String, String> = if is_json {
        serde_json::from_slice::<HashMap<String, Value>>(&body)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_owned())))
            .collect()
    } else {
        serde_urlencoded_pairs(&body)
    };
    let code = params.get("code").cloned().unwrap_or_default();
    match s.core.accounts.exchange_code(
        NAME,
        &code,
        None,
        None,
        params.get("client_secret").map(String::as_str),
    ) {
        Ok(tokens) => {
            let scope = s
                .sim
                .scopes
                .lock()
                .unwrap()
                .remove(&code)
                .unwrap_or_default();
            axum::Json(json!({"access_token": tokens.access_token, "scope": scope})).into_response()
        }
        Err(refusal) => error_json(
            StatusCode::BAD_REQUEST,
            json!({"error": refusal.code(), "error_description": refusal.description()}),
        ),
    }
}

fn serde_urlencoded_pairs(body: &[u8]) -> HashMap<String, String> {
    reqwest::Url::parse(&format!("http://x/?{}", String::from_utf8_lossy(body)))
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default()
}

impl SimPlatform for Shopify {
    fn name(&self) -> &'static str {
        NAME
    }

    fn default_quota(&self) -> QuotaModel {
        QuotaModel::unlimited().with(
            Scope::All,
            Limit::CostPoints {
                capacity: STANDARD_BUCKET,
                restore_per_sec: STANDARD_RESTORE_PER_SEC,
            },
        )
    }

    fn token_lifetime(&self) -> Option<Duration> {
        None
    }

    fn router(self: Arc<Self>, core: Arc<SimCore>) -> Router {
        Router::new()
            .route("/{shop}/admin/api/{version}/graphql.json", post(graphql))
            .route("/{shop}/admin/oauth/authorize", get(authorize))
            .route("/{shop}/admin/oauth/access_token", post(access_token))
            .route(
                "/{shop}/admin/api_permissions/current.json",
                axum::routing::delete(uninstall),
            )
            .with_state(AppState { sim: self, core })
    }

    fn listings(&self, account: &str) -> Vec<SimListing> {
        self.with_shop(account, |shop| {
            shop.products
                .values()
                .map(|p| SimListing {
                    external_id: gid("Product", p.id),
                    title: p.title.clone(),
                    status: p.status.to_lowercase(),
                    variants: p
                        .variants
                        .iter()
                        .map(|v| SimVariant {
                            external_id: gid("ProductVariant", v.id),
                            sku: v.sku.clone(),
                            price: v.price,
                            quantity: v.available,
                        })
                        .collect(),
                })
                .collect()
        })
    }

    fn place_order(
        &self,
        core: &Arc<SimCore>,
        account: &str,
        lines: &[SimOrderLine],
    ) -> Result<String, String> {
        if !core.accounts.exists(NAME, account) {
            return Err(format!("no shop {account}"));
        }
        let lines: Vec<(String, i64)> = lines.iter().map(|l| (l.sku.clone(), l.quantity)).collect();
        let (order, payload) = self.with_shop(account, |shop| {
            let order = shop.place_order(&lines, Utc::now())?;
            let payload = payloads::order(shop, &order);
            Ok::<_, String>((order, payload))
        })?;
        payloads::deliver(core, account, "orders/create", &payload);
        Ok(gid("Order", order.id))
    }

    fn refund_order(
        &self,
        core: &Arc<SimCore>,
        account: &str,
        order_id: &str,
        lines: &[SimRefundLine],
    ) -> Result<String, String> {
        let id =
            parse_gid("Order", order_id).ok_or_else(|| format!("{order_id} is not an order id"))?;
        let lines: Vec<(String, i64, String)> = lines
            .iter()
            .map(|l| (l.sku.clone(), l.quantity, l.restock_type.clone()))
            .collect();
        let (refund, payload) = self.with_shop(account, |shop| {
            let (order, refund) = shop.refund_order(id, &lines, Utc::now())?;
            let payload = payloads::refund(shop, &order, &refund);
            Ok::<_, String>((refund, payload))
        })?;
        payloads::deliver(core, account, "refunds/create", &payload);
        Ok(gid("Refund", refund.id))
    }

    fn cancel_order(
        &self,
        core: &Arc<SimCore>,
        account: &str,
        order_id: &str,
    ) -> Result<(), String> {
        let id =
            parse_gid("Order", order_id).ok_or_else(|| format!("{order_id} is not an order id"))?;
        let payload = self.with_shop(account, |shop| {
            let order = shop.cancel_order(id, Utc::now())?;
            Ok::<_, String>(payloads::order(shop, &order))
        })?;
        payloads::deliver(core, account, "orders/cancelled", &payload);
        Ok(())
    }

    fn edit_product(
        &self,
        core: &Arc<SimCore>,
        account: &str,
        external_id: &str,
        edit: &SimEdit,
    ) -> Result<(), String> {
        let id = parse_gid("Product", external_id)
            .ok_or_else(|| format!("{external_id} is not a product id"))?;
        let payload = self.with_shop(account, |shop| {
            let product = shop
                .products
                .get_mut(&id)
                .ok_or_else(|| format!("no product {external_id}"))?;
            if let Some(title) = &edit.title {
                product.title = title.clone();
            }
            if let Some(price) = edit.price {
                for v in &mut product.variants {
                    v.price = price.max(Decimal::ZERO);
                }
            }
            product.updated_at = Utc::now();
            Ok::<_, String>(payloads::product(product))
        })?;
        payloads::deliver(core, account, "products/update", &payload);
        Ok(())
    }
}

/// `DELETE /admin/api_permissions/current.json`: the app uninstalls itself
/// and its token stops working (200 with an empty object, as Shopify answers).
async fn uninstall(
    State(s): State<AppState>,
    Path(shop): Path<String>,
    headers: HeaderMap,
) -> axum::response::Response {
    let token = headers
        .get("x-shopify-access-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if s.core.accounts.authenticate(NAME, token).as_deref() != Some(shop.as_str()) {
        s.core.stats.call(NAME, &shop, "api_permissions", 401, 0.0);
        return error_json(
            StatusCode::UNAUTHORIZED,
            json!({"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}),
        );
    }
    s.core.accounts.revoke(NAME, token);
    s.core.stats.call(NAME, &shop, "api_permissions", 200, 0.0);
    (StatusCode::OK, axum::Json(json!({}))).into_response()
}
