//! Sales channels behind one trait.
//!
//! Each platform module maps the channel-neutral [`model`] to its
//! platform's published API and back, reads its platform's quota reports,
//! and verifies its platform's webhooks. Everything they share (quota-aware
//! HTTP with retries, OAuth, HMAC, credentials) lives beside them, so a
//! platform module is only what is truly specific to that platform.
//!
//! Adapters are written against each platform's documentation (cited at
//! the top of each module) and tested against the channel simulator
//! (`shelfsync-sim`), which follows the same documentation.

pub mod amazon;
pub mod credentials;
pub mod ebay;
pub mod error;
pub mod etsy;
pub mod gate;
pub mod http;
pub mod medusa;
pub mod model;
pub mod oauth;
pub mod shopify;
pub mod signature;
pub mod standard_webhooks;
pub mod usage;
pub mod validate;
pub mod woocommerce;

use std::sync::Arc;

use ::http::HeaderMap;
use async_trait::async_trait;
use shelfsync_core::quota::QuotaModel;
use shelfsync_core::{ConnectionId, Platform, TenantId};
use url::Url;

pub use crate::credentials::{AppCredentials, ConnectionSecrets, Credentials, OAuthTokens};
pub use crate::error::{ChannelError, WebhookError};
pub use crate::gate::{LocalGate, QuotaGate, RedisGate};
pub use crate::model::*;
pub use crate::usage::{UsageMeter, UsageRow};

/// One merchant account on one platform, as the adapters see it.
#[async_trait]
pub trait Channel: Send + Sync {
    fn platform(&self) -> Platform;

    /// The limits this connection's calls must stay within.
    fn quota_model(&self) -> &QuotaModel;

    /// How many items one call may carry, so the sync engine batches to fit
    /// and dry runs can count calls.
    fn batch_limits(&self) -> BatchLimits;

    /// What the platform would refuse `product` for, found without a call:
    /// the shared rules of [`validate::common`] and this platform's own
    /// documented limits. Empty when it would be accepted as far as can be
    /// known offline. A dry run shows these per listing; `upsert_products`
    /// runs the same checks first and refuses with the first of them, so a
    /// dry run and a real run never disagree about what is refused.
    fn validate_push(&self, product: &ProductPush) -> Vec<ItemError>;

    /// The HTTP calls `upsert_products(products)` would make on a clean run
    /// (nothing refused by the platform, no throttling, no retries), after
    /// this adapter's own batching, from what it knows now: products and
    /// variants with external ids are updates, the rest creates; products
    /// [`Channel::validate_push`] refuses cost nothing; a one-time lookup
    /// the adapter caches counts only while its cache is cold. Makes no
    /// call. Built from the same batching code as the real path, so a dry
    /// run predicts the real call count exactly.
    fn plan_upsert(&self, products: &[ProductPush]) -> CallPlan;

    /// The calls `set_inventory(levels)` would make on a clean run, as
    /// [`Channel::plan_upsert`] does for products. The default is one call
    /// per [`BatchLimits::inventory`] levels, which adapters that split
    /// stock calls otherwise (by product, by location) override.
    fn plan_inventory(&self, levels: &[InventoryPush]) -> CallPlan {
        let mut plan = CallPlan::default();
        let per_call = self.batch_limits().inventory.max(1);
        let calls = levels.len().div_ceil(per_call) as u32;
        plan.add("set_inventory", calls, f64::from(calls));
        plan
    }

    /// Seconds `plan`'s calls take under this connection's quota, from full
    /// buckets: the burst goes at once, the rest at the sustained rate of
    /// the slowest applicable limit; no limit means no wait. An estimate for
    /// dry runs and progress, not a schedule (other work shares the quota).
    fn estimate_seconds(&self, plan: &CallPlan) -> f64 {
        shelfsync_core::quota::drain_seconds(
            self.quota_model(),
            &plan.by_operation,
            plan.quota_units,
        )
    }

    /// Create or update products with their variants, in as few calls as the
    /// platform allows. One outcome per input, in input order; one bad
    /// product does not fail the others.
    async fn upsert_products(
        &self,
        products: &[ProductPush],
    ) -> Result<Vec<ProductOutcome>, ChannelError>;

    /// Set available quantities, batched where the platform can.
    async fn set_inventory(
        &self,
        levels: &[InventoryPush],
    ) -> Result<Vec<InventoryOutcome>, ChannelError>;

    /// Read what the channel holds, a page at a time, for reconciliation.
    async fn read_listings(&self, cursor: Option<&str>) -> Result<ListingPage, ChannelError>;

    /// Orders placed since `since`, for when webhooks were missed (or the
    /// platform has none).
    async fn recent_orders(
        &self,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<ChannelOrder>, ChannelError>;

    /// Ask the platform to send its webhooks to `callback`, where it has an
    /// API for that; platforms without one are polled through
    /// [`Channel::recent_orders`].
    async fn subscribe_webhooks(&self, callback: &Url) -> Result<(), ChannelError> {
        let _ = callback;
        Ok(())
    }

    /// Tell the platform to forget our access, where it has an API for that
    /// (Shopify's `api_permissions/current`); OAuth platforms with an RFC 7009
    /// endpoint are revoked through [`oauth::revoke`] instead, and the rest
    /// only let the merchant remove the app on their side.
    async fn revoke_access(&self) -> Result<(), ChannelError> {
        Ok(())
    }

    /// Check a webhook's signature against this connection's secret and
    /// parse it. The raw body is what was signed: pass it untouched.
    fn verify_webhook(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<WebhookEvent, WebhookError>;
}

/// Where a platform's API and OAuth endpoints are for one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformEndpoints {
    pub api: Url,
    pub auth: Url,
}

/// Everything an adapter needs to act for one connection.
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    pub tenant: TenantId,
    pub connection: ConnectionId,
    pub platform: Platform,
    /// The account on the platform: shop domain, store URL, seller id, shop id.
    pub account: String,
    pub endpoints: PlatformEndpoints,
    /// Platform-specific settings (location, marketplace, currency, quota overrides).
    pub settings: serde_json::Value,
    pub secrets: ConnectionSecrets,
    /// The app Shelfsync is registered as, for platforms that need it on calls.
    pub app: Option<AppCredentials>,
}

/// What adapters share across connections: one HTTP client, one quota
/// gate, one usage meter.
#[derive(Clone)]
pub struct ChannelDeps {
    pub client: reqwest::Client,
    pub gate: Arc<dyn QuotaGate>,
    pub usage: Arc<UsageMeter>,
}

impl ChannelDeps {
    /// In-process quota buckets; for one process.
    pub fn local() -> Self {
        Self {
            client: default_client(),
            gate: Arc::new(LocalGate::default()),
            usage: Arc::new(UsageMeter::default()),
        }
    }

    /// An HTTP client for `config`, drawing from the shared gate and meter.
    pub fn http(&self, config: &ConnectionConfig, model: QuotaModel) -> http::ChannelHttp {
        http::ChannelHttp::new(
            self.client.clone(),
            self.gate.clone(),
            self.usage.clone(),
            model,
            config.tenant,
            config.connection,
        )
    }
}

/// The HTTP client adapters share: rustls, pooled, with connect timeouts.
pub fn default_client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(concat!("Shelfsync/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(std::time::Duration::from_secs(10))
        .pool_idle_timeout(std::time::Duration::from_secs(90))
        .build()
        .expect("HTTP client builds")
}

/// The adapter for a connection.
pub fn connect(
    config: ConnectionConfig,
    deps: &ChannelDeps,
) -> Result<Arc<dyn Channel>, ChannelError> {
    match config.platform {
        Platform::Shopify => shopify::connect(config, deps),
        Platform::WooCommerce => woocommerce::connect(config, deps),
        Platform::Ebay => ebay::connect(config, deps),
        Platform::Etsy => etsy::connect(config, deps),
        Platform::Amazon => amazon::connect(config, deps),
        Platform::Medusa => medusa::connect(config, deps),
    }
}

/// A platform's endpoints for `account`: its real hosts, or, when `base` is
/// given (the simulator, a sandbox), the same paths under `base`.
pub fn endpoints(platform: Platform, account: &str, base: Option<&Url>) -> PlatformEndpoints {
    match platform {
        Platform::Shopify => shopify::endpoints(account, base),
        Platform::WooCommerce => woocommerce::endpoints(account, base),
        Platform::Ebay => ebay::endpoints(account, base),
        Platform::Etsy => etsy::endpoints(account, base),
        Platform::Amazon => amazon::endpoints(account, base),
        Platform::Medusa => medusa::endpoints(account, base),
    }
}

/// The platform's OAuth endpoints, for platforms that connect by OAuth.
pub fn oauth_endpoints(
    platform: Platform,
    endpoints: &PlatformEndpoints,
) -> Option<oauth::OAuthEndpoints> {
    match platform {
        Platform::Shopify => Some(shopify::oauth_endpoints(endpoints)),
        Platform::Ebay => Some(ebay::oauth_endpoints(endpoints)),
        Platform::Etsy => Some(etsy::oauth_endpoints(endpoints)),
        Platform::Amazon => Some(amazon::oauth_endpoints(endpoints)),
        Platform::WooCommerce | Platform::Medusa => None,
    }
}

/// Endpoints for a platform with one API host and one consent host for
/// every account; with `base` (the simulator, a sandbox) both are `base`.
pub fn fixed_hosts(base: Option<&Url>, api: &'static str, auth: &'static str) -> PlatformEndpoints {
    match base {
        Some(base) => PlatformEndpoints {
            api: base.clone(),
            auth: base.clone(),
        },
        None => PlatformEndpoints {
            api: api.parse().expect("static URL"),
            auth: auth.parse().expect("static URL"),
        },
    }
}

/// Join `path` onto `base` as a sub-path (keeping `base`'s own path).
pub fn join(base: &Url, path: &str) -> Url {
    let mut s = base.as_str().trim_end_matches('/').to_owned();
    s.push('/');
    s.push_str(path.trim_start_matches('/'));
    s.parse().unwrap_or_else(|_| base.clone())
}

/// The platform's published limits, unless the connection's settings carry
/// a `quota` override (a plan with higher limits, a host that sets its own,
/// or a test running at a smaller scale).
pub fn quota_from_settings(settings: &serde_json::Value, published: QuotaModel) -> QuotaModel {
    settings
        .get("quota")
        .and_then(|q| serde_json::from_value(q.clone()).ok())
        .unwrap_or(published)
}
