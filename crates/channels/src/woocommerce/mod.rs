//! WooCommerce, through its REST API v3 (`{store}/wp-json/wc/v3`).
//!
//! Written against the official reference:
//! * introduction, errors, pagination (`X-WP-Total`, `X-WP-TotalPages`, `Link`):
//!   <https://woocommerce.github.io/woocommerce-rest-api-docs/#introduction>
//!   (source: github.com/woocommerce/woocommerce-rest-api-docs, `source/includes/wp-api-v3/_introduction.md`)
//! * authentication: <https://woocommerce.github.io/woocommerce-rest-api-docs/#authentication>
//!   (`_authentication.md`): over HTTPS, HTTP Basic with the consumer key as
//!   user and the consumer secret as password; over plain HTTP only OAuth 1.0a
//!   one-legged signatures. This adapter implements Basic only and therefore
//!   refuses `http://` stores, except on loopback: the simulator serves plain
//!   HTTP on 127.0.0.1 and accepts Basic there, which a real store would not.
//! * products and `POST /products/batch` (at most 100 objects per call, create,
//!   update and delete counted together):
//!   <https://woocommerce.github.io/woocommerce-rest-api-docs/#products> (`_products.md`)
//! * variations and `POST /products/{id}/variations/batch`:
//!   <https://woocommerce.github.io/woocommerce-rest-api-docs/#product-variations> (`_product-variations.md`)
//! * orders, `GET /orders?after=…`: <https://woocommerce.github.io/woocommerce-rest-api-docs/#orders> (`_orders.md`)
//! * webhooks, `POST /webhooks`, delivery headers and signature:
//!   <https://woocommerce.github.io/woocommerce-rest-api-docs/#webhooks> (`_webhooks.md`) and
//!   `WC_Webhook::deliver()` / `generate_signature()` in woocommerce/woocommerce
//!   `plugins/woocommerce/includes/class-wc-webhook.php`, which sends
//!   `X-WC-Webhook-Delivery-ID` (the docs' `X-WC-Delivery-ID` is outdated).
//! * per-item batch errors `{"id", "error": {"code", "message", "data"}}`:
//!   `WC_REST_Controller::batch_items()` in woocommerce/woocommerce.
//!
//! **Quota.** WooCommerce core sets no rate limit on the REST API: the v3
//! reference documents none, and its only limiter is the Store API's
//! (`wc/store`), "optional and disabled by default"
//! (<https://developer.woocommerce.com/docs/apis/store-api/rate-limiting>).
//! So the published model is [`QuotaModel::unlimited`]. Hosts and proxies
//! in front of a store often impose one; the connection's `quota` setting
//! describes it, and the adapter then paces itself, reads `RateLimit-Remaining`
//! when the host sends it, and honours `Retry-After` on a 429.
//!
//! **Settings.** `quota` (see above), `page_size` (1–100, products per
//! read-back page, default 100) and `weight_unit` (the store's
//! `kg`/`g`/`lbs`/`oz`, default `kg`).
//!
//! **Mapping.** A product without options is a `simple` product (its SKU,
//! price and stock are the product's; our variant id for it is the product
//! id). A product with options is `variable`: one attribute per option,
//! `variation: true`, and one variation per variant. Tags, vendor and product
//! type are not sent: WooCommerce takes tags and categories by term id only,
//! and has no vendor field.

mod channel;
mod wire;

#[cfg(test)]
mod tests;

use std::net::IpAddr;
use std::sync::Arc;

use ::http::HeaderMap;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use shelfsync_core::Platform;
use shelfsync_core::quota::{QuotaModel, QuotaReport};
use shelfsync_core::vault::{ExposeSecret, SecretString};
use url::Url;

use crate::http::{ChannelHttp, Reply};
use crate::model::*;
use crate::oauth::{ClientAuth, OAuthEndpoints};
use crate::{
    Channel, ChannelDeps, ChannelError, ConnectionConfig, Credentials, PlatformEndpoints,
    WebhookError,
};

pub use wire::WeightUnit;
use wire::{BatchAnswer, WcOrder, WcProduct, WcVariation, WcWebhook, WpError};

/// Objects one batch call may carry (create, update and delete together),
/// per the products and variations batch docs.
pub const BATCH_LIMIT: usize = 100;

/// The largest `per_page` WordPress accepts on collections.
const MAX_PER_PAGE: usize = 100;

/// Topics we subscribe to: orders move stock; product edits made in the
/// store's admin must be reconciled. WooCommerce also sends `product.updated`
/// for changes we make through the API ourselves.
pub const TOPICS: [&str; 4] = [
    "order.created",
    "order.updated",
    "product.updated",
    "product.deleted",
];

/// Order statuses a poll reads: those in which WooCommerce has taken the
/// ordered units out of stock (`wc_maybe_reduce_stock_levels` runs on
/// payment and on the processing, completed and on-hold transitions), and
/// `cancelled` and `refunded`, which an order reaches after them (the poll
/// flags those, so their stock comes back).
const POLLED_STATUSES: &str = "processing,on-hold,completed,cancelled,refunded";

mod op {
    pub const PRODUCTS_BATCH: &str = "products.batch";
    pub const VARIATIONS_BATCH: &str = "variations.batch";
    pub const PRODUCTS_LIST: &str = "products.list";
    pub const VARIATIONS_LIST: &str = "variations.list";
    pub const ORDERS_LIST: &str = "orders.list";
    pub const WEBHOOKS_LIST: &str = "webhooks.list";
    pub const WEBHOOKS_CREATE: &str = "webhooks.create";
}

/// What WooCommerce itself publishes as a limit: none.
pub fn published_quota() -> QuotaModel {
    QuotaModel::unlimited()
}

/// The model our gate paces by: the host's, less one unit of burst. The host
/// counts arrivals, we count departures; a call sent in time can still
/// arrive early on the host's clock when the call before it was slowed on
/// the way (a new connection, a busy network), and with no headroom that
/// is a 429. One unit covers a delay of `1 / rate` seconds.
pub fn with_headroom(model: &QuotaModel) -> QuotaModel {
    model.with_burst_reserve()
}

/// The store's URL from the account: a full URL, a bare host (`https://` is
/// assumed), or, with a `base` (a simulator), a store name under it.
fn store_url(account: &str, base: Option<&Url>) -> Url {
    let account = account.trim().trim_end_matches('/');
    let usable = |url: &Url| matches!(url.scheme(), "http" | "https") && url.host().is_some();
    if let Ok(url) = Url::parse(account)
        && usable(&url)
    {
        return url;
    }
    if let Some(base) = base {
        return crate::join(base, account);
    }
    Url::parse(&format!("https://{account}"))
        .ok()
        .filter(usable)
        .unwrap_or_else(|| Url::parse("https://store.invalid").expect("static URL"))
}

/// `api` is `{store}/wp-json/wc/v3`; `auth` is the store itself (where its
/// `/wc-auth/v1/authorize` key-granting page lives).
pub fn endpoints(account: &str, base: Option<&Url>) -> PlatformEndpoints {
    let store = store_url(account, base);
    PlatformEndpoints {
        api: crate::join(&store, "wp-json/wc/v3"),
        auth: store,
    }
}

/// WooCommerce has no OAuth 2: API keys come from the store's
/// app-authorization page (`/wc-auth/v1/authorize`), which posts them to the
/// app's `callback_url`. This describes that page in the shared shape so
/// callers have a sensible value; `crate::oauth_endpoints` does not use it.
pub fn oauth_endpoints(endpoints: &PlatformEndpoints) -> OAuthEndpoints {
    let authorize = crate::join(&endpoints.auth, "wc-auth/v1/authorize");
    OAuthEndpoints {
        token: authorize.clone(),
        authorize,
        revoke: None,
        scopes: vec!["read_write".into()],
        scope_separator: " ",
        pkce: false,
        client_auth: ClientAuth::Body,
        code_param: "success",
        client_id_param: "app_name",
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host_str() {
        Some("localhost") => true,
        Some(host) => host
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

/// Basic auth sends the secret as is, so only over TLS (or on loopback).
fn require_tls(api: &Url) -> Result<(), ChannelError> {
    if api.scheme() == "https" || (api.scheme() == "http" && is_loopback(api)) {
        Ok(())
    } else {
        Err(ChannelError::Config(
            "WooCommerce accepts API keys over plain HTTP only with OAuth 1.0a signatures, \
             which this adapter does not send; connect the store by its https:// URL"
                .into(),
        ))
    }
}

/// The adapter for one store.
pub fn connect(
    config: ConnectionConfig,
    deps: &ChannelDeps,
) -> Result<Arc<dyn Channel>, ChannelError> {
    let (key, secret) = match &config.secrets.credentials {
        Credentials::ConsumerKey { key, secret } => (key.clone(), secret.clone()),
        Credentials::OAuth(_) => {
            return Err(ChannelError::Config(
                "WooCommerce connects with REST API consumer keys, not OAuth tokens".into(),
            ));
        }
    };
    let api = config.endpoints.api.clone();
    require_tls(&api)?;
    let settings = &config.settings;
    let quota = crate::quota_from_settings(settings, published_quota());
    let page_size = match settings.get("page_size") {
        None => MAX_PER_PAGE,
        Some(v) => v
            .as_u64()
            .filter(|n| (1..=MAX_PER_PAGE as u64).contains(n))
            .map(|n| n as usize)
            .ok_or_else(|| ChannelError::Config("page_size must be 1 to 100".into()))?,
    };
    let weight_unit = WeightUnit::from_setting(settings.get("weight_unit").and_then(Value::as_str))
        .map_err(ChannelError::Config)?;
    let http = deps.http(&config, with_headroom(&quota));
    Ok(Arc::new(WooCommerce {
        http,
        api,
        key,
        secret,
        webhook_secret: config.secrets.webhook_secret.clone(),
        quota,
        page_size,
        weight_unit,
    }))
}

/// One store's adapter.
pub struct WooCommerce {
    http: ChannelHttp,
    api: Url,
    key: SecretString,
    secret: SecretString,
    webhook_secret: Option<SecretString>,
    quota: QuotaModel,
    page_size: usize,
    weight_unit: WeightUnit,
}

/// What a store (or the host in front of it) says about its limit. Core
/// WooCommerce sends nothing; hosts that limit may send `RateLimit-*` (the
/// names WooCommerce's own Store API limiter uses) and `Retry-After`.
fn inspect(reply: &Reply) -> QuotaReport {
    let remaining = reply
        .header_f64("ratelimit-remaining")
        .or_else(|| reply.header_f64("x-ratelimit-remaining"));
    let throttled = reply.status.as_u16() == 429;
    QuotaReport {
        available: if throttled { None } else { remaining },
        actual_cost: None,
        throttled,
        retry_after_secs: if throttled {
            reply
                .header_f64("ratelimit-retry-after")
                .or_else(|| reply.retry_after())
        } else {
            None
        },
    }
}

/// A 4xx answer as an error, with WordPress's `code: message` when the body is one.
fn success(reply: Reply) -> Result<Reply, ChannelError> {
    if reply.status.is_success() {
        return Ok(reply);
    }
    let message = WpError::summary(&reply.body).unwrap_or_else(|| reply.body_excerpt());
    if reply.status.as_u16() == 403 {
        // A read-only key: only the merchant can grant more.
        return Err(ChannelError::Unauthorized(message));
    }
    Err(ChannelError::Rejected {
        status: reply.status.as_u16(),
        message,
    })
}

use wire::parse_id;

/// The products [`wire::check`] passes, with their WooCommerce id when they
/// have one; the others get their refusal in `outcomes`. Shared by
/// `upsert_products` and `plan_upsert`.
fn passing(
    products: &[ProductPush],
    outcomes: &mut [Option<Result<ProductRef, ItemError>>],
) -> Vec<(usize, Option<u64>)> {
    let mut todo = Vec::new();
    for (i, product) in products.iter().enumerate() {
        match crate::validate::refusal(wire::check(product)) {
            Ok(()) => todo.push((i, product.external_id.as_deref().and_then(parse_id))),
            Err(e) => outcomes[i] = Some(Err(e)),
        }
    }
    todo
}

/// A variable product's variations, with their ids where they have one
/// (`product_id` is the product's, once known), one chunk per
/// `variations/batch` call.
fn variation_batches(
    product: &ProductPush,
    product_id: Option<u64>,
) -> Vec<Vec<(usize, Option<u64>)>> {
    let plan: Vec<(usize, Option<u64>)> = product
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| {
            // A simple product turned variable: its old variant id is the product's.
            let id = v.external_id.as_deref().and_then(parse_id);
            (i, id.filter(|id| Some(*id) != product_id))
        })
        .collect();
    plan.chunks(BATCH_LIMIT).map(<[_]>::to_vec).collect()
}

/// The next page after `page`, from `X-WP-TotalPages`, else a `Link: rel="next"`,
/// else whether the page came back full.
fn next_page(reply: &Reply, page: u32, len: usize, per_page: usize) -> Option<u32> {
    if let Some(total) = reply.header_f64("x-wp-totalpages") {
        return (f64::from(page) < total).then_some(page + 1);
    }
    if let Some(link) = reply.header("link") {
        return link.contains("rel=\"next\"").then_some(page + 1);
    }
    (len >= per_page).then_some(page + 1)
}

/// The pages we are willing to walk for one read (10 000 orders at 100 a page).
const MAX_PAGES: u32 = 100;

/// Items of one batch call, in request order, with their answers.
type Answered<T> = Vec<Result<T, ItemError>>;

impl WooCommerce {
    async fn call(
        &self,
        operation: &str,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Reply, ChannelError> {
        let url = crate::join(&self.api, path);
        let reply = self
            .http
            .send(
                operation,
                1.0,
                |client| {
                    let mut request = client
                        .request(method.clone(), url.clone())
                        .basic_auth(self.key.expose_secret(), Some(self.secret.expose_secret()))
                        .header("accept", "application/json");
                    if !query.is_empty() {
                        request = request.query(query);
                    }
                    if let Some(body) = body {
                        request = request.json(body);
                    }
                    request
                },
                &inspect,
            )
            .await?;
        success(reply)
    }

    /// One batch call: `creates` and `updates` (with their ids) go out
    /// together; the answers come back in the same order.
    async fn batch<T: serde::de::DeserializeOwned>(
        &self,
        operation: &str,
        path: &str,
        creates: Vec<Value>,
        updates: Vec<(u64, Value)>,
    ) -> Result<(Answered<T>, Answered<T>), ChannelError> {
        let mut body = serde_json::Map::new();
        if !creates.is_empty() {
            body.insert("create".into(), Value::Array(creates.clone()));
        }
        if !updates.is_empty() {
            let items = updates.iter().map(|(_, v)| v.clone()).collect();
            body.insert("update".into(), Value::Array(items));
        }
        let reply = self
            .call(
                operation,
                Method::POST,
                path,
                &[],
                Some(&Value::Object(body)),
            )
            .await?;
        let answer: BatchAnswer = reply.json()?;
        if answer.create.len() != creates.len() || answer.update.len() != updates.len() {
            return Err(ChannelError::Protocol(format!(
                "{path}: {} created and {} updated answered for {} and {} sent",
                answer.create.len(),
                answer.update.len(),
                creates.len(),
                updates.len()
            )));
        }
        let read = |value: &Value| {
            wire::batch_item::<T>(value).map_err(|e| ChannelError::Protocol(format!("{path}: {e}")))
        };
        let created = answer.create.iter().map(read).collect::<Result<_, _>>()?;
        let mut updated = Vec::with_capacity(updates.len());
        for ((id, _), value) in updates.iter().zip(&answer.update) {
            let answered_id = value.get("id").and_then(Value::as_u64);
            if answered_id.is_some_and(|a| a != *id && a != 0) {
                return Err(ChannelError::Protocol(format!(
                    "{path}: update of {id} answered for {}",
                    answered_id.unwrap_or_default()
                )));
            }
            updated.push(read(value)?);
        }
        Ok((created, updated))
    }

    /// Every variation of a variable product, page by page.
    async fn variations(&self, product: u64) -> Result<Vec<WcVariation>, ChannelError> {
        let mut all = Vec::new();
        let mut page = 1;
        loop {
            let query = [
                ("per_page", MAX_PER_PAGE.to_string()),
                ("page", page.to_string()),
                ("orderby", "id".to_owned()),
                ("order", "asc".to_owned()),
            ];
            let path = format!("products/{product}/variations");
            let reply = self
                .call(op::VARIATIONS_LIST, Method::GET, &path, &query, None)
                .await?;
            let items: Vec<WcVariation> = reply.json()?;
            let next = next_page(&reply, page, items.len(), MAX_PER_PAGE);
            all.extend(items);
            match next {
                Some(n) if n <= MAX_PAGES => page = n,
                Some(_) => return Err(ChannelError::Protocol("too many variation pages".into())),
                None => return Ok(all),
            }
        }
    }

    /// Create or update a variable product's variations; the product's ref
    /// or the first refusal.
    async fn save_variations(
        &self,
        product: &ProductPush,
        product_id: u64,
    ) -> Result<Result<ProductRef, ItemError>, ChannelError> {
        let path = format!("products/{product_id}/variations/batch");
        let mut refs: Vec<Option<VariantRef>> = vec![None; product.variants.len()];
        for chunk in variation_batches(product, Some(product_id)) {
            let mut creates = Vec::new();
            let mut create_index = Vec::new();
            let mut updates = Vec::new();
            let mut update_index = Vec::new();
            for (i, id) in &chunk {
                let body =
                    wire::variation_body(product, &product.variants[*i], *id, self.weight_unit);
                match id {
                    Some(id) => {
                        updates.push((*id, body));
                        update_index.push(*i);
                    }
                    None => {
                        creates.push(body);
                        create_index.push(*i);
                    }
                }
            }
            let (created, updated) = match self
                .batch::<WcVariation>(op::VARIATIONS_BATCH, &path, creates, updates)
                .await
            {
                Ok(answers) => answers,
                Err(e) if e.stops_run() => return Err(e),
                Err(e) => return Ok(Err(e.as_item_error())),
            };
            let answered = create_index
                .iter()
                .zip(created)
                .chain(update_index.iter().zip(updated));
            for (i, result) in answered {
                let variant = &product.variants[*i];
                match result {
                    Ok(v) => {
                        refs[*i] = Some(VariantRef {
                            sku: variant.sku.clone(),
                            external_id: v.id.to_string(),
                            inventory_ref: None,
                        })
                    }
                    Err(mut e) => {
                        e.message = format!("variant {}: {}", variant.sku, e.message);
                        return Ok(Err(e));
                    }
                }
            }
        }
        Ok(Ok(ProductRef {
            external_id: product_id.to_string(),
            variants: refs.into_iter().flatten().collect(),
        }))
    }

    /// Remove products we created whose variations were refused, so that
    /// trying again starts clean instead of creating a second copy.
    async fn roll_back(
        &self,
        created: &[(usize, u64)],
        outcomes: &mut [Option<Result<ProductRef, ItemError>>],
    ) {
        for chunk in created.chunks(BATCH_LIMIT) {
            let ids: Vec<u64> = chunk.iter().map(|(_, id)| *id).collect();
            let body = json!({ "delete": ids });
            let done = self
                .call(
                    op::PRODUCTS_BATCH,
                    Method::POST,
                    "products/batch",
                    &[],
                    Some(&body),
                )
                .await;
            for (index, id) in chunk {
                if let Some(Some(Err(e))) = outcomes.get_mut(*index) {
                    e.message = match &done {
                        Ok(_) => format!("{} (the new product {id} was removed again)", e.message),
                        Err(_) => format!(
                            "{} (the new product {id} could not be removed; remove it in the store)",
                            e.message
                        ),
                    };
                }
            }
        }
    }
}
