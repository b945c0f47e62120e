//! The simulated store's HTTP surface: the host's rate limit, WooCommerce's
//! key check, and the handlers.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::Value;

use super::store::{Store, WpError};
use super::{NAME, WooCommerce, ping, store_base};
use crate::SimCore;
use crate::limiter::Admitted;

#[derive(Clone)]
pub(super) struct Ctx {
    pub(super) sim: Arc<WooCommerce>,
    pub(super) core: Arc<SimCore>,
}

pub(super) fn router(sim: Arc<WooCommerce>, core: Arc<SimCore>) -> Router {
    let api = "/{store}/wp-json/wc/v3";
    Router::new()
        .route(&format!("{api}/products"), get(list_products))
        .route(
            &format!("{api}/products/batch"),
            axum::routing::post(batch_products),
        )
        .route(
            &format!("{api}/products/{{id}}/variations"),
            get(list_variations),
        )
        .route(
            &format!("{api}/products/{{id}}/variations/batch"),
            axum::routing::post(batch_variations),
        )
        .route(&format!("{api}/orders"), get(list_orders))
        .route(
            &format!("{api}/webhooks"),
            get(list_webhooks).post(create_webhook),
        )
        .route(
            "/{store}/wc-auth/v1/authorize",
            get(super::authorize::authorize),
        )
        .with_state(Ctx { sim, core })
}

/// Which refusal core gives a caller without valid keys, per kind of call.
struct Denial(&'static str, &'static str);
const CANNOT_VIEW: Denial = Denial(
    "woocommerce_rest_cannot_view",
    "Sorry, you cannot list resources.",
);
const CANNOT_CREATE: Denial = Denial(
    "woocommerce_rest_cannot_create",
    "Sorry, you are not allowed to create resources.",
);
const CANNOT_BATCH: Denial = Denial(
    "woocommerce_rest_cannot_batch",
    "Sorry, you are not allowed to batch manipulate this resource.",
);

pub(super) type Params = HashMap<String, String>;

/// What the host's limiter said about an admitted call.
struct Call<'a> {
    ctx: &'a Ctx,
    store: &'a str,
    operation: &'static str,
    limit: Option<Admitted>,
}

fn limit_headers(headers: &mut HeaderMap, state: &Admitted) {
    let reset = Utc::now().timestamp() as f64
        + ((state.capacity - state.remaining) / state.refill_per_sec.max(1e-9)).ceil();
    let pairs = [
        ("ratelimit-limit", state.capacity.floor()),
        ("ratelimit-remaining", state.remaining.max(0.0).floor()),
        ("ratelimit-reset", reset),
    ];
    for (name, value) in pairs {
        headers.insert(name, HeaderValue::from(value as i64));
    }
}

fn wp_error(error: &WpError) -> Response {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, Json(error.body())).into_response()
}

/// Basic credentials, or the documented query-string fallback.
fn credentials(headers: &HeaderMap, params: &Params) -> Option<(String, String)> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|v| STANDARD.decode(v.trim()).ok())
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|pair| {
            pair.split_once(':')
                .map(|(k, s)| (k.to_owned(), s.to_owned()))
        });
    basic.or_else(|| {
        Some((
            params.get("consumer_key")?.clone(),
            params.get("consumer_secret")?.clone(),
        ))
    })
}

/// The host's limit (before WordPress runs), then the key check.
fn admit<'a>(
    ctx: &'a Ctx,
    store: &'a str,
    headers: &HeaderMap,
    params: &Params,
    operation: &'static str,
    denial: Denial,
) -> Result<Call<'a>, Box<Response>> {
    let quota = ctx.core.quota(ctx.sim.as_ref(), store);
    let mut limit = None;
    if !quota.limits.is_empty() {
        match ctx.core.limiter.admit(NAME, store, &quota, operation, 1.0) {
            Ok(states) => {
                limit = states
                    .into_iter()
                    .min_by(|a, b| a.remaining.total_cmp(&b.remaining));
            }
            Err(refused) => {
                ctx.core.stats.call(NAME, store, operation, 429, 0.0);
                let wait = refused.retry_after.ceil().clamp(1.0, 86_400.0) as i64;
                let error = WpError::new(
                    "too_many_requests",
                    format!("Too many requests. Please wait {wait} seconds before trying again."),
                    429,
                );
                let mut response = wp_error(&error);
                let h = response.headers_mut();
                h.insert(header::RETRY_AFTER, HeaderValue::from(wait));
                h.insert("ratelimit-retry-after", HeaderValue::from(wait));
                h.insert(
                    "ratelimit-limit",
                    HeaderValue::from(refused.capacity.floor() as i64),
                );
                h.insert("ratelimit-remaining", HeaderValue::from(0));
                h.insert(
                    "ratelimit-reset",
                    HeaderValue::from(Utc::now().timestamp() + wait),
                );
                return Err(Box::new(response));
            }
        }
    }
    let account = credentials(headers, params)
        .and_then(|(key, secret)| ctx.core.accounts.authenticate_consumer(NAME, &key, &secret));
    if account.as_deref() != Some(store) {
        ctx.core.stats.call(NAME, store, operation, 401, 1.0);
        return Err(Box::new(wp_error(&WpError::new(denial.0, denial.1, 401))));
    }
    Ok(Call {
        ctx,
        store,
        operation,
        limit,
    })
}

impl Call<'_> {
    fn base(&self) -> String {
        store_base(&self.ctx.core, self.store)
    }

    fn store<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        self.ctx.sim.with_store(self.store, f)
    }

    /// Record the call and answer it.
    fn answer(
        &self,
        result: Result<Value, WpError>,
        status: StatusCode,
        extra: Vec<(&'static str, String)>,
    ) -> Response {
        let mut response = match result {
            Ok(body) => (status, Json(body)).into_response(),
            Err(error) => wp_error(&error),
        };
        self.ctx.core.stats.call(
            NAME,
            self.store,
            self.operation,
            response.status().as_u16(),
            1.0,
        );
        if let Some(state) = &self.limit {
            limit_headers(response.headers_mut(), state);
        }
        for (name, value) in extra {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}

fn json_body(bytes: &Bytes) -> Result<Value, WpError> {
    serde_json::from_slice(bytes)
        .map_err(|_| WpError::new("rest_invalid_json", "Invalid JSON body passed.", 400))
}

/// `page` and `per_page` as WordPress validates them.
fn paging(params: &Params) -> Result<(usize, usize), WpError> {
    let number = |key: &str, default: usize, max: usize| match params.get(key) {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| WpError {
                code: "rest_invalid_param".into(),
                message: format!("Invalid parameter(s): {key}"),
                status: 400,
            }),
    };
    Ok((number("page", 1, usize::MAX)?, number("per_page", 10, 100)?))
}

pub(super) fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One page of `items`, with `X-WP-Total`, `X-WP-TotalPages` and `Link`.
fn page_of(call: &Call, path: &str, params: &Params, items: Vec<Value>) -> Response {
    let (page, per_page) = match paging(params) {
        Ok(p) => p,
        Err(e) => return call.answer(Err(e), StatusCode::BAD_REQUEST, vec![]),
    };
    let total = items.len();
    let pages = total.div_ceil(per_page);
    let shown: Vec<Value> = items
        .into_iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .collect();
    let link_to = |n: usize, rel: &str| {
        let mut query: Vec<String> = params
            .iter()
            .filter(|(k, _)| k.as_str() != "page" && !k.starts_with("consumer_"))
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        query.sort();
        query.push(format!("page={n}"));
        format!(
            "<{}/wp-json/wc/v3/{path}?{}>; rel=\"{rel}\"",
            call.base(),
            query.join("&")
        )
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(link_to(page - 1, "prev"));
    }
    if page < pages {
        links.push(link_to(page + 1, "next"));
    }
    let mut extra = vec![
        ("x-wp-total", total.to_string()),
        ("x-wp-totalpages", pages.to_string()),
    ];
    if !links.is_empty() {
        extra.push(("link", links.join(", ")));
    }
    call.answer(Ok(Value::Array(shown)), StatusCode::OK, extra)
}

fn descending(params: &Params) -> bool {
    params.get("order").is_none_or(|o| o != "asc")
}

async fn list_products(
    State(ctx): State<Ctx>,
    Path(store): Path<String>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let call = match admit(
        &ctx,
        &store,
        &headers,
        &params,
        "products.list",
        CANNOT_VIEW,
    ) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let base = call.base();
    let by_id = params.get("orderby").is_some_and(|o| o == "id");
    let items = call.store(|s| {
        let mut products: Vec<_> = s
            .products
            .values()
            .filter(|p| params.get("sku").is_none_or(|sku| &p.sku == sku))
            .filter(|p| {
                params
                    .get("status")
                    .is_none_or(|st| st == "any" || &p.status == st)
            })
            .collect();
        if by_id {
            products.sort_by_key(|p| p.id);
        } else {
            products.sort_by_key(|p| (p.created, p.id));
        }
        if descending(&params) {
            products.reverse();
        }
        products
            .into_iter()
            .map(|p| s.product_json(p, &base))
            .collect()
    });
    page_of(&call, "products", &params, items)
}

async fn batch_products(
    State(ctx): State<Ctx>,
    Path(store): Path<String>,
    Query(params): Query<Params>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let call = match admit(
        &ctx,
        &store,
        &headers,
        &params,
        "products.batch",
        CANNOT_BATCH,
    ) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let base = call.base();
    let result = json_body(&body)
        .and_then(|body| call.store(|s| s.batch_products(&body, &base, Utc::now())));
    call.answer(result, StatusCode::OK, vec![])
}

fn product_id(text: &str) -> Result<u64, WpError> {
    text.parse().map_err(|_| {
        WpError::new(
            "rest_no_route",
            "No route was found matching the URL and request method.",
            404,
        )
    })
}

async fn list_variations(
    State(ctx): State<Ctx>,
    Path((store, id)): Path<(String, String)>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let call = match admit(
        &ctx,
        &store,
        &headers,
        &params,
        "variations.list",
        CANNOT_VIEW,
    ) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let base = call.base();
    let items = product_id(&id).and_then(|id| {
        call.store(|s| {
            if !s.products.contains_key(&id) {
                return Err(WpError::new(
                    "woocommerce_rest_product_invalid_id",
                    "Invalid ID.",
                    404,
                ));
            }
            let mut list: Vec<Value> = s
                .variations
                .values()
                .filter(|v| v.parent == id)
                .map(|v| s.variation_json(v, &base))
                .collect();
            if descending(&params) {
                list.reverse();
            }
            Ok(list)
        })
    });
    match items {
        Ok(items) => page_of(&call, &format!("products/{id}/variations"), &params, items),
        Err(e) => call.answer(Err(e), StatusCode::OK, vec![]),
    }
}

async fn batch_variations(
    State(ctx): State<Ctx>,
    Path((store, id)): Path<(String, String)>,
    Query(params): Query<Params>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let call = match admit(
        &ctx,
        &store,
        &headers,
        &params,
        "variations.batch",
        CANNOT_BATCH,
    ) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let base = call.base();
    let result = product_id(&id).and_then(|id| {
        let body = json_body(&body)?;
        call.store(|s| s.batch_variations(id, &body, &base, Utc::now()))
    });
    call.answer(result, StatusCode::OK, vec![])
}

/// ISO 8601 with or without an offset; without one it is the site's time (UTC here).
fn instant(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
                .ok()
                .map(|n| n.and_utc())
        })
}

async fn list_orders(
    State(ctx): State<Ctx>,
    Path(store): Path<String>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let call = match admit(&ctx, &store, &headers, &params, "orders.list", CANNOT_VIEW) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let after = match params.get("after").map(|a| instant(a).ok_or(a)) {
        Some(Err(_)) => {
            return call.answer(Err(WpError::invalid_param("after")), StatusCode::OK, vec![]);
        }
        Some(Ok(at)) => Some(at),
        None => None,
    };
    let modified_after = match params.get("modified_after").map(|a| instant(a).ok_or(a)) {
        Some(Err(_)) => {
            return call.answer(
                Err(WpError::invalid_param("modified_after")),
                StatusCode::OK,
                vec![],
            );
        }
        Some(Ok(at)) => Some(at),
        None => None,
    };
    let statuses: Vec<&str> = params
        .get("status")
        .map(|s| s.split(',').map(str::trim).collect())
        .unwrap_or_default();
    let base = call.base();
    let items = call.store(|s| {
        let mut orders: Vec<_> = s
            .orders
            .values()
            .filter(|o| after.is_none_or(|at| o.created > at))
            .filter(|o| modified_after.is_none_or(|at| o.modified > at))
            .filter(|o| {
                statuses.is_empty()
                    || statuses.contains(&"any")
                    || statuses.contains(&o.status.as_str())
            })
            .collect();
        orders.sort_by_key(|o| (o.created, o.id));
        if descending(&params) {
            orders.reverse();
        }
        orders.into_iter().map(|o| s.order_json(o, &base)).collect()
    });
    page_of(&call, "orders", &params, items)
}

async fn list_webhooks(
    State(ctx): State<Ctx>,
    Path(store): Path<String>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let call = match admit(
        &ctx,
        &store,
        &headers,
        &params,
        "webhooks.list",
        CANNOT_VIEW,
    ) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let base = call.base();
    let status = params
        .get("status")
        .cloned()
        .unwrap_or_else(|| "all".into());
    let items = call.store(|s| {
        s.webhooks
            .values()
            .rev()
            .filter(|w| status == "all" || w.status == status)
            .map(|w| s.webhook_json(w, &base))
            .collect()
    });
    page_of(&call, "webhooks", &params, items)
}

async fn create_webhook(
    State(ctx): State<Ctx>,
    Path(store): Path<String>,
    Query(params): Query<Params>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let call = match admit(
        &ctx,
        &store,
        &headers,
        &params,
        "webhooks.create",
        CANNOT_CREATE,
    ) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let default_secret = ctx
        .core
        .accounts
        .webhook_secret(NAME, &store)
        .unwrap_or_default();
    let base = call.base();
    let created = json_body(&body).and_then(|body| {
        call.store(|s| {
            let id = s.create_webhook(&body, &default_secret, Utc::now())?;
            Ok((
                s.webhooks[&id].clone(),
                s.webhook_json(&s.webhooks[&id], &base),
            ))
        })
    });
    let (webhook, shown) = match created {
        Ok(c) => c,
        Err(e) => return call.answer(Err(e), StatusCode::OK, vec![]),
    };
    if webhook.status == "active" {
        ctx.core.subscriptions.add(crate::webhooks::Subscription {
            id: webhook.id.to_string(),
            platform: NAME.into(),
            account: store.clone(),
            url: webhook.delivery_url.clone(),
            secret: webhook.secret.clone(),
            topics: vec![webhook.topic.clone()],
        });
    }
    ping(&ctx.core, &webhook.delivery_url, webhook.id).await;
    let location = format!("{base}/wp-json/wc/v3/webhooks/{}", webhook.id);
    call.answer(Ok(shown), StatusCode::CREATED, vec![("location", location)])
}
