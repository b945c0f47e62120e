//! The Shopify adapter, on the GraphQL Admin API (version [`API_VERSION`]).
//!
//! Documentation it follows:
//! * API and versions: https://shopify.dev/docs/api/admin-graphql,
//!   https://shopify.dev/docs/api/usage/versioning (2026-07 is the latest
//!   stable version, https://shopify.dev/changelog/release-notes/2026-07).
//! * Auth: https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/authorization-code-grant
//!   (authorize at `https://{shop}/admin/oauth/authorize`, comma-separated
//!   scopes; token from `https://{shop}/admin/oauth/access_token` with the
//!   client id and secret in the body; offline tokens do not expire).
//! * Writes: productSet (https://shopify.dev/docs/api/admin-graphql/2026-07/mutations/productSet,
//!   upsert by identifier since 2025-04: https://shopify.dev/changelog/productset-and-customerset-mutations-now-support-upserts),
//!   productVariantsBulkUpdate (https://shopify.dev/docs/api/admin-graphql/2026-07/mutations/productVariantsBulkUpdate),
//!   inventorySetQuantities (https://shopify.dev/docs/api/admin-graphql/2026-07/mutations/inventorySetQuantities,
//!   `changeFromQuantity` mandatory since 2026-04, `@idempotent` keys:
//!   https://shopify.dev/docs/api/usage/idempotent-requests),
//!   webhookSubscriptionCreate (https://shopify.dev/docs/api/admin-graphql/2026-07/mutations/webhookSubscriptionCreate).
//! * Reads: products, productVariants, orders, locations connections
//!   (https://shopify.dev/docs/api/admin-graphql/2026-07/queries/products and siblings;
//!   search syntax https://shopify.dev/docs/api/usage/search-syntax).
//! * Rate limit: https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits
//!   and https://shopify.dev/docs/api/usage/limits: calculated query cost,
//!   per app and shop, Standard plan 100 points/second; the bucket holds
//!   2,000 points (the `maximumAvailable` Shopify reports beside
//!   `restoreRate: 100`); no query may request more than 1,000.
//! * Webhooks: see [`webhook`].
//!
//! Why aliases: productSet costs 10 points plus 0.2 per variant per
//! invocation whether it travels alone or aliased with others, so batching
//! several products in one request saves round trips without costing
//! points. A batch is kept to [`PRODUCTS_PER_CALL`] products and to the
//! smaller of the 1,000-point query cap and the bucket, so one throttle or
//! timeout re-sends little, and every product is upserted by id or handle,
//! so a re-sent batch cannot duplicate anything.

mod graphql;
mod mapping;
mod reads;
pub mod webhook;
mod writes;

use std::sync::Arc;

use async_trait::async_trait;
use http::HeaderMap;
use serde_json::Value;
use shelfsync_core::Platform;
use shelfsync_core::quota::{Limit, QuotaModel, Scope};
use shelfsync_core::vault::ExposeSecret;
use url::Url;

use self::graphql::{Client, MAX_QUERY_COST};
pub use self::writes::{PriceOutcome, PriceUpdate};
use crate::oauth::{ClientAuth, OAuthEndpoints};
use crate::{
    BatchLimits, CallPlan, Channel, ChannelDeps, ChannelError, ChannelOrder, ConnectionConfig,
    InventoryOutcome, InventoryPush, ItemError, ListingPage, PlatformEndpoints, ProductOutcome,
    ProductPush, WebhookError, WebhookEvent,
};

/// The Admin API version every call is pinned to.
pub const API_VERSION: &str = "2026-07";
/// Standard plan: a 2,000-point bucket restored at 100 points a second.
pub const STANDARD_BUCKET: f64 = 2000.0;
pub const STANDARD_RESTORE_PER_SEC: f64 = 100.0;
/// Products (productSet aliases) in one request.
pub const PRODUCTS_PER_CALL: usize = 10;
/// Stock levels in one inventorySetQuantities call (the API's input array limit).
pub const INVENTORY_PER_CALL: usize = 250;
/// SKUs looked up per productVariants query.
const SKUS_PER_LOOKUP: usize = 50;
/// Variants read with each product, and lines with each order; the rest
/// are read in follow-up pages.
const LISTING_VARIANTS: usize = 50;
const ORDER_LINES: usize = 25;
/// Pages one recent_orders call reads at most.
const MAX_ORDER_PAGES: usize = 500;
/// Access scopes the app asks for.
pub const SCOPES: &[&str] = &[
    "read_products",
    "write_products",
    "read_inventory",
    "write_inventory",
    "read_orders",
    "read_locations",
];
/// Topics subscribed, as GraphQL enum values.
pub const TOPICS: &[&str] = &[
    "ORDERS_CREATE",
    "ORDERS_CANCELLED",
    "REFUNDS_CREATE",
    "PRODUCTS_UPDATE",
    "PRODUCTS_DELETE",
];

/// Shopify's published limit for a Standard-plan shop; plans with more
/// (Advanced 200/s, Plus 1000/s) set a `quota` override in the settings.
pub fn published_quota() -> QuotaModel {
    QuotaModel::unlimited().with(
        Scope::All,
        Limit::CostPoints {
            capacity: STANDARD_BUCKET,
            restore_per_sec: STANDARD_RESTORE_PER_SEC,
        },
    )
}

/// The adapter for one shop.
pub fn connect(
    config: ConnectionConfig,
    deps: &ChannelDeps,
) -> Result<Arc<dyn Channel>, ChannelError> {
    Ok(Arc::new(ShopifyChannel::new(config, deps)?))
}

/// A shop is its own host (`acme.myshopify.com`); under `base` (the
/// simulator) the same paths sit below `{base}/{shop}`.
pub fn endpoints(account: &str, base: Option<&Url>) -> PlatformEndpoints {
    let shop = account
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let url = match base {
        Some(base) => crate::join(base, shop),
        None => format!("https://{shop}")
            .parse()
            .unwrap_or_else(|_| "https://invalid.myshopify.com".parse().expect("static URL")),
    };
    PlatformEndpoints {
        api: url.clone(),
        auth: url,
    }
}

/// Shopify's authorization code grant for the shop.
pub fn oauth_endpoints(endpoints: &PlatformEndpoints) -> OAuthEndpoints {
    OAuthEndpoints {
        authorize: crate::join(&endpoints.auth, "admin/oauth/authorize"),
        token: crate::join(&endpoints.auth, "admin/oauth/access_token"),
        revoke: None,
        scopes: SCOPES.iter().map(|s| (*s).to_owned()).collect(),
        scope_separator: ",",
        pkce: false,
        client_auth: ClientAuth::Body,
        code_param: "code",
        client_id_param: "client_id",
    }
}

/// One Shopify shop, spoken to over the GraphQL Admin API.
pub struct ShopifyChannel {
    config: ConnectionConfig,
    quota: QuotaModel,
    gql: Client,
    location: tokio::sync::OnceCell<String>,
}

fn setting<'a>(config: &'a ConnectionConfig, key: &str) -> Option<&'a Value> {
    config.settings.get(key).filter(|v| !v.is_null())
}

impl ShopifyChannel {
    /// The adapter for `config`, which must carry an OAuth access token.
    pub fn new(config: ConnectionConfig, deps: &ChannelDeps) -> Result<Self, ChannelError> {
        let token = config
            .secrets
            .oauth()
            .ok_or_else(|| {
                ChannelError::Config("a Shopify connection needs an OAuth access token".into())
            })?
            .access_token
            .clone();
        let quota = crate::quota_from_settings(&config.settings, published_quota());
        let http = deps.http(&config, quota.clone());
        let url = crate::join(
            &config.endpoints.api,
            &format!("admin/api/{API_VERSION}/graphql.json"),
        );
        Ok(Self {
            gql: Client { http, url, token },
            quota,
            config,
            location: tokio::sync::OnceCell::new(),
        })
    }

    /// Points one request may request: the query cap, or a smaller bucket.
    fn budget(&self) -> f64 {
        self.quota
            .limits
            .iter()
            .filter(|l| l.limit.counts_points())
            .map(|l| l.limit.capacity())
            .fold(MAX_QUERY_COST, f64::min)
            .max(1.0)
    }

    /// Page size of a connection whose nodes cost `node`, within the budget.
    fn page_size(&self, node: f64, overhead: f64) -> usize {
        (((self.budget() - overhead - 2.0) / node).floor() as usize).clamp(1, 250)
    }
}

#[async_trait]
impl Channel for ShopifyChannel {
    fn platform(&self) -> Platform {
        Platform::Shopify
    }

    fn quota_model(&self) -> &QuotaModel {
        &self.quota
    }

    fn batch_limits(&self) -> BatchLimits {
        BatchLimits {
            products: PRODUCTS_PER_CALL,
            inventory: INVENTORY_PER_CALL,
        }
    }

    /// [`mapping::check`]: the shared rules and Shopify's limits.
    fn validate_push(&self, product: &ProductPush) -> Vec<ItemError> {
        let currency = setting(&self.config, "currency").and_then(Value::as_str);
        mapping::check(product, currency)
    }

    /// Shopify's location lookup while cold, then productSet requests as
    /// [`ShopifyChannel::upsert`] packs them; `quota_units` are the points
    /// reserved for them.
    fn plan_upsert(&self, products: &[ProductPush]) -> CallPlan {
        self.plan(products)
    }

    fn plan_inventory(&self, levels: &[InventoryPush]) -> CallPlan {
        self.plan_levels(levels)
    }

    /// productSet per product, aliased in batches; stock goes with it (at
    /// the connection's location). A batch Shopify refuses as a whole is
    /// re-sent one product at a time, so the refusal lands on its product.
    async fn upsert_products(
        &self,
        products: &[ProductPush],
    ) -> Result<Vec<ProductOutcome>, ChannelError> {
        self.upsert(products).await
    }

    /// inventorySetQuantities, 250 levels a call, absolute "available"
    /// quantities at the connection's location. The mutation is all or
    /// nothing, so the levels it refuses get their errors and the rest are
    /// sent again (with a new idempotency key: the arguments changed).
    async fn set_inventory(
        &self,
        levels: &[InventoryPush],
    ) -> Result<Vec<InventoryOutcome>, ChannelError> {
        self.set_levels(levels).await
    }

    /// One page of products (as many as fit the budget, oldest first), each
    /// with all its variants.
    async fn read_listings(&self, cursor: Option<&str>) -> Result<ListingPage, ChannelError> {
        self.listings_page(cursor).await
    }

    /// Orders created or updated since `since` (a cancellation updates the
    /// order), every page, each with all its lines; cancelled ones flagged.
    async fn recent_orders(
        &self,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<ChannelOrder>, ChannelError> {
        self.orders_since(since).await
    }

    /// webhookSubscriptionCreate for each topic in one request. A topic
    /// already sent to `callback` counts as subscribed.
    async fn subscribe_webhooks(&self, callback: &Url) -> Result<(), ChannelError> {
        self.subscribe(callback).await
    }

    /// Uninstalls the app from the shop, which revokes its access token:
    /// `DELETE /admin/api_permissions/current.json`
    /// (https://shopify.dev/docs/apps/build/authentication-authorization/app-installation/uninstall-app-api-request).
    async fn revoke_access(&self) -> Result<(), ChannelError> {
        let url = crate::join(
            &self.config.endpoints.api,
            "admin/api_permissions/current.json",
        );
        let response = self
            .gql
            .http
            .client()
            .delete(url)
            .header("X-Shopify-Access-Token", self.gql.token.expose_secret())
            .send()
            .await
            .map_err(|e| ChannelError::Transient(e.without_url().to_string()))?;
        match response.status().as_u16() {
            200..=299 => Ok(()),
            // Already uninstalled: the token is gone either way.
            401 | 404 => Ok(()),
            status => Err(ChannelError::Rejected {
                status,
                message: "the shop did not confirm the uninstall".into(),
            }),
        }
    }

    fn verify_webhook(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<WebhookEvent, WebhookError> {
        // Shopify signs with the app's client secret.
        let secret = self
            .config
            .secrets
            .webhook_secret
            .as_ref()
            .or(self.config.app.as_ref().map(|a| &a.client_secret))
            .ok_or(WebhookError::NoSecret)?;
        webhook::verify(
            headers,
            body,
            secret.expose_secret().as_bytes(),
            endpoints_shop(&self.config.account),
        )
    }
}

/// The shop's domain from the connection's account.
fn endpoints_shop(account: &str) -> &str {
    account
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_the_shop_host_or_under_the_base() {
        let e = endpoints("acme.myshopify.com", None);
        assert_eq!(e.api.as_str(), "https://acme.myshopify.com/");
        let base: Url = "http://127.0.0.1:9/shopify".parse().unwrap();
        let e = endpoints("acme.myshopify.com", Some(&base));
        assert_eq!(
            e.api.as_str(),
            "http://127.0.0.1:9/shopify/acme.myshopify.com"
        );
        let o = oauth_endpoints(&endpoints("https://acme.myshopify.com/", None));
        assert_eq!(
            o.authorize.as_str(),
            "https://acme.myshopify.com/admin/oauth/authorize"
        );
        assert_eq!(
            o.token.as_str(),
            "https://acme.myshopify.com/admin/oauth/access_token"
        );
        assert_eq!(o.scope_separator, ",");
        assert_eq!(o.client_auth, ClientAuth::Body);
    }

    #[test]
    fn the_published_quota_is_the_standard_plan() {
        let q = published_quota();
        assert_eq!(q.limits[0].limit.capacity(), 2000.0);
        assert_eq!(q.per_minute("productSet"), Some(6000.0));
    }
}
