//! `/_sim/…`: how tests and the demo set the simulator up and look inside.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use shelfsync_core::quota::QuotaModel;

use crate::webhooks::Subscription;
use crate::{Faults, SimCore, SimEdit, SimOrderLine, SimPlatform, SimRefundLine};

#[derive(Clone)]
struct Control {
    core: Arc<SimCore>,
    platforms: Arc<HashMap<&'static str, Arc<dyn SimPlatform>>>,
}

impl Control {
    fn platform(&self, name: &str) -> Result<Arc<dyn SimPlatform>, Box<Response>> {
        self.platforms.get(name).cloned().ok_or_else(|| {
            Box::new(
                (
                    StatusCode::NOT_FOUND,
                    Json(json!({"error": format!("no simulated platform `{name}`")})),
                )
                    .into_response(),
            )
        })
    }
}

pub fn router(core: Arc<SimCore>, platforms: Vec<Arc<dyn SimPlatform>>) -> Router {
    let platforms = platforms.into_iter().map(|p| (p.name(), p)).collect();
    let state = Control {
        core,
        platforms: Arc::new(platforms),
    };
    Router::new()
        .route("/_sim/health", get(|| async { "ok" }))
        .route("/_sim/stats", get(stats).delete(reset_stats))
        .route("/_sim/faults", post(set_faults).delete(clear_faults))
        .route("/_sim/{platform}/accounts", post(create_account))
        .route("/_sim/{platform}/{account}/listings", get(listings))
        .route("/_sim/{platform}/{account}/orders", post(place_order))
        .route(
            "/_sim/{platform}/{account}/orders/{order_id}/refunds",
            post(refund_order),
        )
        .route(
            "/_sim/{platform}/{account}/orders/{order_id}/cancel",
            post(cancel_order),
        )
        .route(
            "/_sim/{platform}/{account}/products/{external_id}",
            post(edit_product),
        )
        .route("/_sim/{platform}/{account}/webhooks", post(subscribe))
        .route("/_sim/{platform}/{account}/quota", put(set_quota))
        .route(
            "/_sim/{platform}/{account}/expire-tokens",
            post(expire_tokens),
        )
        .with_state(state)
}

fn bad_request(message: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": message.into()})),
    )
        .into_response()
}

async fn stats(State(c): State<Control>) -> Response {
    Json(c.core.stats.snapshot()).into_response()
}

async fn reset_stats(State(c): State<Control>) -> StatusCode {
    c.core.stats.reset();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct FaultRequest {
    #[serde(default)]
    platform: Option<String>,
    #[serde(flatten)]
    faults: Faults,
}

async fn set_faults(State(c): State<Control>, Json(body): Json<FaultRequest>) -> StatusCode {
    let platform = body.platform.unwrap_or_else(|| "*".into());
    c.core.faults.set(&platform, body.faults);
    StatusCode::NO_CONTENT
}

async fn clear_faults(State(c): State<Control>) -> StatusCode {
    c.core.faults.clear();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAccount {
    account: String,
    #[serde(default)]
    quota: Option<QuotaModel>,
}

async fn create_account(
    State(c): State<Control>,
    Path(platform): Path<String>,
    Json(body): Json<NewAccount>,
) -> Response {
    let platform = match c.platform(&platform) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    if body.account.trim().is_empty() {
        return bad_request("account must not be empty");
    }
    c.core.limiter.reset(platform.name(), &body.account);
    let creds = c
        .core
        .accounts
        .create(platform.name(), &body.account, body.quota);
    (StatusCode::CREATED, Json(creds)).into_response()
}

async fn listings(
    State(c): State<Control>,
    Path((platform, account)): Path<(String, String)>,
) -> Response {
    match c.platform(&platform) {
        Ok(p) => Json(p.listings(&account)).into_response(),
        Err(r) => *r,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewOrder {
    lines: Vec<SimOrderLine>,
}

async fn place_order(
    State(c): State<Control>,
    Path((platform, account)): Path<(String, String)>,
    Json(body): Json<NewOrder>,
) -> Response {
    let platform = match c.platform(&platform) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    if body.lines.is_empty() || body.lines.iter().any(|l| l.quantity <= 0) {
        return bad_request("an order needs lines with positive quantities");
    }
    match platform.place_order(&c.core, &account, &body.lines) {
        Ok(order_id) => (StatusCode::CREATED, Json(json!({"order_id": order_id}))).into_response(),
        Err(message) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"error": message})),
        )
            .into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewRefund {
    lines: Vec<SimRefundLine>,
}

async fn refund_order(
    State(c): State<Control>,
    Path((platform, account, order_id)): Path<(String, String, String)>,
    Json(body): Json<NewRefund>,
) -> Response {
    let platform = match c.platform(&platform) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    if body.lines.is_empty() || body.lines.iter().any(|l| l.quantity <= 0) {
        return bad_request("a refund needs lines with positive quantities");
    }
    match platform.refund_order(&c.core, &account, &order_id, &body.lines) {
        Ok(refund_id) => {
            (StatusCode::CREATED, Json(json!({"refund_id": refund_id}))).into_response()
        }
        Err(message) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"error": message})),
        )
            .into_response(),
    }
}

async fn cancel_order(
    State(c): State<Control>,
    Path((platform, account, order_id)): Path<(String, String, String)>,
) -> Response {
    let platform = match c.platform(&platform) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    match platform.cancel_order(&c.core, &account, &order_id) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(message) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"error": message})),
        )
            .into_response(),
    }
}

async fn edit_product(
    State(c): State<Control>,
    Path((platform, account, external_id)): Path<(String, String, String)>,
    Json(edit): Json<SimEdit>,
) -> Response {
    let platform = match c.platform(&platform) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    match platform.edit_product(&c.core, &account, &external_id, &edit) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(message) => (StatusCode::NOT_FOUND, Json(json!({"error": message}))).into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewSubscription {
    url: String,
    #[serde(default)]
    secret: Option<String>,
    #[serde(default)]
    topics: Vec<String>,
}

async fn subscribe(
    State(c): State<Control>,
    Path((platform, account)): Path<(String, String)>,
    Json(body): Json<NewSubscription>,
) -> Response {
    let platform = match c.platform(&platform) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let secret = body
        .secret
        .or_else(|| c.core.accounts.webhook_secret(platform.name(), &account))
        .unwrap_or_else(|| crate::SIM_CLIENT_SECRET.to_owned());
    let id = uuid::Uuid::now_v7().to_string();
    c.core.subscriptions.add(Subscription {
        id: id.clone(),
        platform: platform.name().to_owned(),
        account,
        url: body.url,
        secret,
        topics: body.topics,
    });
    (StatusCode::CREATED, Json(json!({"id": id}))).into_response()
}

async fn set_quota(
    State(c): State<Control>,
    Path((platform, account)): Path<(String, String)>,
    Json(quota): Json<QuotaModel>,
) -> Response {
    let platform = match c.platform(&platform) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    c.core
        .accounts
        .set_quota(platform.name(), &account, Some(quota));
    c.core.limiter.reset(platform.name(), &account);
    StatusCode::NO_CONTENT.into_response()
}

async fn expire_tokens(
    State(c): State<Control>,
    Path((platform, account)): Path<(String, String)>,
) -> Response {
    let platform = match c.platform(&platform) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    c.core
        .accounts
        .expire_access_tokens(platform.name(), &account);
    StatusCode::NO_CONTENT.into_response()
}
