//! Medusa 2.x, through its Admin API (`{server}/admin/…`).
//!
//! Written against Medusa's documentation and checked against the route
//! validators of the pinned release (`@medusajs/medusa` 2.21.2,
//! `dist/api/admin/*/validators.js`), which the test harness runs:
//! * Admin API reference and authentication:
//!   <https://docs.medusajs.com/api/admin> (a secret API key is sent as
//!   `Authorization: Basic base64("{sk_…}:")`, the key as user, no password);
//!   secret keys: <https://docs.medusajs.com/resources/commerce-modules/api-key/concepts>
//! * prices in major units (19.99, not 1999):
//!   <https://docs.medusajs.com/resources/lint/rules/prices-in-major-units>
//! * `POST /admin/products/batch` (`{create, update, delete}` answered by
//!   `{created, updated, deleted}`; the `fields` query shapes the answer;
//!   one refused product fails the whole call, nothing is written):
//!   <https://docs.medusajs.com/api/admin#products_postproductsbatch>
//! * `GET /admin/products`, `GET /admin/product-variants?sku[]=…`:
//!   <https://docs.medusajs.com/api/admin#products_getproducts>,
//!   <https://docs.medusajs.com/api/admin#product-variants_getproductvariants>
//! * `GET /admin/inventory-items?sku[]=…|id[]=…` and
//!   `POST /admin/inventory-items/location-levels/batch` (`{create, update}`
//!   of `{inventory_item_id, location_id, stocked_quantity}`; creating a
//!   level that exists or updating one that does not fails the call):
//!   <https://docs.medusajs.com/api/admin#inventory-items_getinventoryitems>,
//!   <https://docs.medusajs.com/api/admin#inventory-items_postinventoryitemslocationlevelsbatch>
//! * `GET /admin/stores` (`default_sales_channel_id`, `default_location_id`):
//!   <https://docs.medusajs.com/api/admin#stores_getstores>
//! * `GET /admin/orders?created_at[$gte]=…`:
//!   <https://docs.medusajs.com/api/admin#orders_getorders>
//!
//! **Credentials.** A secret API key (`sk_…`), created by an admin user
//! (Settings → Secret API Keys, or `POST /admin/api-keys` with
//! `type: "secret"`). The API takes it as a token the merchant already has
//! (`credentials: {"access_token": "sk_…"}`), so it is stored as
//! [`Credentials::OAuth`] with no refresh token and no expiry; the adapter
//! sends it as the Basic user. It never appears in errors or logs.
//!
//! **Quota.** Medusa documents no rate limit on the Admin API; the server
//! is usually the merchant's own. [`published_quota`] is a generous local
//! model that only keeps us from flooding it; the connection's `quota`
//! setting replaces it where a host in front limits harder.
//!
//! **Settings.** `stock_location_id` and `sales_channel_id` (where stock is
//! kept and what new products are sold in; when absent, the store's
//! `default_location_id` and `default_sales_channel_id` are read once and
//! cached), `currency` (which price to read back when a variant has
//! several), `page_size` (1–200 products per read-back page, default 50),
//! `quota`.
//!
//! **Mapping.** Options and variants map one to one (a product without
//! options gets Medusa's own "Default option"); each variant carries one
//! price in its currency and its inventory is managed by Medusa, with one
//! level at the configured location. The quantity we push is what may be
//! sold, so the level's `stocked_quantity` is set to it plus what orders
//! have reserved there, and read back as stocked less reserved. Tags,
//! vendor and product type are not sent: Medusa takes tags and types by
//! id only and has no vendor. Compare-at prices have no place on a Medusa
//! variant (sales are price lists) and are not sent.
//!
//! **Webhooks.** Medusa sends none; orders are polled through
//! [`Channel::recent_orders`].

mod channel;
mod plan;
mod wire;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use reqwest::Method;
use serde_json::Value;
use shelfsync_core::quota::{Limit, QuotaModel, QuotaReport, Scope};
use shelfsync_core::vault::{ExposeSecret, SecretString};
use tokio::sync::OnceCell;
use url::Url;

use crate::http::{ChannelHttp, Reply};
use crate::model::*;
use crate::{Channel, ChannelDeps, ChannelError, ConnectionConfig, Credentials, PlatformEndpoints};

pub use plan::{INVENTORY_BATCH, PRODUCT_BATCH, SKU_LOOKUP};

mod op {
    pub const STORES_LIST: &str = "stores.list";
    pub const VARIANTS_LIST: &str = "variants.list";
    pub const PRODUCTS_BATCH: &str = "products.batch";
    pub const PRODUCTS_LIST: &str = "products.list";
    pub const INVENTORY_LIST: &str = "inventory_items.list";
    pub const LEVELS_BATCH: &str = "levels.batch";
    pub const ORDERS_LIST: &str = "orders.list";
}

/// Products one read-back page holds unless the `page_size` setting says otherwise.
const DEFAULT_PAGE_SIZE: usize = 50;
const MAX_PAGE_SIZE: usize = 200;
/// Orders per `GET /admin/orders` page, and the pages one poll may walk.
const ORDER_PAGE: usize = 100;
const MAX_ORDER_PAGES: usize = 100;

/// What the sync reads of a product, in Medusa's `fields` syntax: enough to
/// link variants and set their stock at our location.
const PRODUCT_FIELDS: &str = "id,handle,title,status,updated_at,variants.id,variants.sku,\
variants.prices.amount,variants.prices.currency_code,\
variants.inventory_items.inventory_item_id,\
variants.inventory_items.inventory.id,\
variants.inventory_items.inventory.location_levels.location_id,\
variants.inventory_items.inventory.location_levels.stocked_quantity,\
variants.inventory_items.inventory.location_levels.reserved_quantity";

/// No published limit: a generous local pace (50 calls a second, bursts of
/// 50) that keeps a sync from swamping a small self-hosted server.
pub fn published_quota() -> QuotaModel {
    QuotaModel::unlimited().with(
        Scope::All,
        Limit::TokenBucket {
            rate_per_sec: 50.0,
            burst: 50.0,
        },
    )
}

/// A Medusa server is its own URL: the account is that URL (`base`, when
/// given, wins: a sandbox or a test server).
pub fn endpoints(account: &str, base: Option<&Url>) -> PlatformEndpoints {
    let url = base
        .cloned()
        .or_else(|| {
            Url::parse(account.trim())
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        })
        .unwrap_or_else(|| Url::parse("http://localhost:9000").expect("static URL"));
    PlatformEndpoints {
        api: url.clone(),
        auth: url,
    }
}

/// Where stock is kept and where new products are sold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub location: String,
    pub sales_channel: String,
}

/// The adapter for one Medusa server.
pub fn connect(
    config: ConnectionConfig,
    deps: &ChannelDeps,
) -> Result<Arc<dyn Channel>, ChannelError> {
    let key = match &config.secrets.credentials {
        Credentials::OAuth(tokens) => tokens.access_token.clone(),
        Credentials::ConsumerKey { .. } => {
            return Err(ChannelError::Config(
                "Medusa connects with a secret API key given as the access token".into(),
            ));
        }
    };
    if !key.expose_secret().starts_with("sk_") {
        return Err(ChannelError::Config(
            "the Medusa credential must be a secret API key (sk_…)".into(),
        ));
    }
    let settings = &config.settings;
    let text = |name: &str| {
        settings
            .get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let page_size = match settings.get("page_size") {
        None => DEFAULT_PAGE_SIZE,
        Some(v) => v
            .as_u64()
            .filter(|n| (1..=MAX_PAGE_SIZE as u64).contains(n))
            .map(|n| n as usize)
            .ok_or_else(|| ChannelError::Config("page_size must be 1 to 200".into()))?,
    };
    let quota = crate::quota_from_settings(settings, published_quota());
    let placement = OnceCell::new();
    if let (Some(location), Some(sales_channel)) =
        (text("stock_location_id"), text("sales_channel_id"))
    {
        let _ = placement.set(Placement {
            location,
            sales_channel,
        });
    }
    Ok(Arc::new(Medusa {
        http: deps.http(&config, quota.with_burst_reserve()),
        api: config.endpoints.api.clone(),
        key,
        quota,
        page_size,
        currency: text("currency").map(|c| c.to_ascii_lowercase()),
        location_setting: text("stock_location_id"),
        sales_channel_setting: text("sales_channel_id"),
        placement,
    }))
}

/// One Medusa server's adapter.
pub struct Medusa {
    http: ChannelHttp,
    api: Url,
    key: SecretString,
    quota: QuotaModel,
    page_size: usize,
    currency: Option<String>,
    location_setting: Option<String>,
    sales_channel_setting: Option<String>,
    /// The settings, completed from the store's defaults on first need.
    placement: OnceCell<Placement>,
}

/// Medusa sends no quota headers; a 429 from a proxy in front is honoured
/// through `Retry-After` by the shared client.
fn inspect(reply: &Reply) -> QuotaReport {
    QuotaReport {
        available: None,
        actual_cost: None,
        throttled: reply.status.as_u16() == 429,
        retry_after_secs: None,
    }
}

/// A 4xx answer as an error with Medusa's `type: message`.
fn success(reply: Reply) -> Result<Reply, ChannelError> {
    if reply.status.is_success() {
        return Ok(reply);
    }
    let message = match wire::ErrorBody::summary(&reply.body) {
        Some((kind, message)) => format!("{kind}: {message}"),
        None => reply.body_excerpt(),
    };
    if reply.status.as_u16() == 403 {
        return Err(ChannelError::Unauthorized(message));
    }
    Err(ChannelError::Rejected {
        status: reply.status.as_u16(),
        message,
    })
}

/// A refusal of one product sent alone: Medusa's `type` as the code
/// (`invalid_data`, `duplicate_error`, `not_found`), never worth retrying
/// unchanged.
fn refusal(error: &ChannelError) -> Option<ItemError> {
    match error {
        ChannelError::Rejected { status, message } if *status < 500 => {
            let code = message.split(':').next().unwrap_or("rejected").trim();
            Some(ItemError::permanent(code, message.clone()))
        }
        _ => None,
    }
}

impl Medusa {
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
                        .basic_auth(self.key.expose_secret(), None::<&str>)
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

    /// Whether a call would first have to read the store's defaults.
    fn placement_cold(&self) -> bool {
        !self.placement.initialized()
    }

    /// The configured location and sales channel, completed once from the
    /// store's defaults.
    async fn placement(&self) -> Result<&Placement, ChannelError> {
        self.placement
            .get_or_try_init(|| async {
                let query = [(
                    "fields",
                    "id,default_sales_channel_id,default_location_id".to_owned(),
                )];
                let reply = self
                    .call(op::STORES_LIST, Method::GET, "admin/stores", &query, None)
                    .await?;
                let stores: wire::StoreList = reply.json()?;
                let store = stores.stores.into_iter().next();
                let location = self
                    .location_setting
                    .clone()
                    .or_else(|| store.as_ref()?.default_location_id.clone())
                    .ok_or_else(|| {
                        ChannelError::Config(
                            "no stock location: set `stock_location_id`, or give the store a \
                             default location"
                                .into(),
                        )
                    })?;
                let sales_channel = self
                    .sales_channel_setting
                    .clone()
                    .or_else(|| store.as_ref()?.default_sales_channel_id.clone())
                    .ok_or_else(|| {
                        ChannelError::Config(
                            "no sales channel: set `sales_channel_id`, or give the store a \
                             default sales channel"
                                .into(),
                        )
                    })?;
                Ok(Placement {
                    location,
                    sales_channel,
                })
            })
            .await
    }

    /// Variants already in Medusa with these SKUs, one call per group.
    async fn variants_by_sku(&self, skus: &[String]) -> Result<Vec<wire::Variant>, ChannelError> {
        let mut query: Vec<(&str, String)> = skus.iter().map(|s| ("sku[]", s.clone())).collect();
        query.push(("fields", "id,sku,product_id".into()));
        query.push(("limit", (skus.len() * 2).max(1).to_string()));
        let reply = self
            .call(
                op::VARIANTS_LIST,
                Method::GET,
                "admin/product-variants",
                &query,
                None,
            )
            .await?;
        Ok(reply.json::<wire::VariantList>()?.variants)
    }

    /// Inventory items by id or by SKU (`key` is `id[]` or `sku[]`), with
    /// their levels.
    async fn inventory_items(
        &self,
        key: &'static str,
        values: &[String],
    ) -> Result<Vec<wire::InventoryItem>, ChannelError> {
        let mut query: Vec<(&str, String)> = values.iter().map(|v| (key, v.clone())).collect();
        query.push((
            "fields",
            "id,sku,location_levels.location_id,location_levels.stocked_quantity,\
             location_levels.reserved_quantity"
                .into(),
        ));
        query.push(("limit", (values.len() * 2).max(1).to_string()));
        let reply = self
            .call(
                op::INVENTORY_LIST,
                Method::GET,
                "admin/inventory-items",
                &query,
                None,
            )
            .await?;
        Ok(reply.json::<wire::InventoryItemList>()?.inventory_items)
    }

    /// One `location-levels/batch` call.
    async fn write_levels(
        &self,
        creates: Vec<Value>,
        updates: Vec<Value>,
    ) -> Result<(), ChannelError> {
        let mut body = serde_json::Map::new();
        if !creates.is_empty() {
            body.insert("create".into(), Value::Array(creates));
        }
        if !updates.is_empty() {
            body.insert("update".into(), Value::Array(updates));
        }
        self.call(
            op::LEVELS_BATCH,
            Method::POST,
            "admin/inventory-items/location-levels/batch",
            &[],
            Some(&Value::Object(body)),
        )
        .await?;
        Ok(())
    }

    /// One `products/batch` call; the answer's products by position in
    /// `creates` (matched by handle) and `updates` (matched by id).
    async fn batch(
        &self,
        creates: &[(String, Value)],
        updates: &[(String, Value)],
    ) -> Result<(Vec<wire::Product>, Vec<wire::Product>), ChannelError> {
        let mut body = serde_json::Map::new();
        if !creates.is_empty() {
            let items = creates.iter().map(|(_, v)| v.clone()).collect();
            body.insert("create".into(), Value::Array(items));
        }
        if !updates.is_empty() {
            let items = updates.iter().map(|(_, v)| v.clone()).collect();
            body.insert("update".into(), Value::Array(items));
        }
        let query = [("fields", PRODUCT_FIELDS.to_owned())];
        let reply = self
            .call(
                op::PRODUCTS_BATCH,
                Method::POST,
                "admin/products/batch",
                &query,
                Some(&Value::Object(body)),
            )
            .await?;
        let answer: wire::BatchAnswer = reply.json()?;
        let pick = |wanted: &[(String, Value)],
                    answered: &[wire::Product],
                    by: fn(&wire::Product) -> Option<&str>|
         -> Result<Vec<wire::Product>, ChannelError> {
            wanted
                .iter()
                .map(|(key, _)| {
                    answered
                        .iter()
                        .find(|p| by(p) == Some(key.as_str()))
                        .cloned()
                        .ok_or_else(|| {
                            ChannelError::Protocol(format!(
                                "products/batch answered without `{key}`"
                            ))
                        })
                })
                .collect()
        };
        let created = pick(creates, &answer.created, |p| p.handle.as_deref())?;
        let updated = pick(updates, &answer.updated, |p| Some(p.id.as_str()))?;
        Ok((created, updated))
    }
}
