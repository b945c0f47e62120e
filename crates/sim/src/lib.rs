//! The channel simulator: Shopify, WooCommerce, eBay, Etsy and Amazon as
//! far as Shelfsync uses them, on one HTTP server.
//!
//! Each platform module serves the endpoints the adapters call, under
//! `/{platform}/…` followed by the platform's real path, with the platform's
//! JSON shapes, status codes, auth checks, pagination and rate-limit model
//! (numbers and sources in each module's header). It sends signed webhooks
//! the way its platform does. Faults are injected on request.
//!
//! Tests and the demo drive it through `/_sim/…`:
//! * `POST /_sim/{platform}/accounts` `{"account": "…", "quota": {…}?}` creates
//!   an account and returns its credentials;
//! * `GET /_sim/{platform}/{account}/listings` is what the channel holds;
//! * `POST /_sim/{platform}/{account}/orders` `{"lines": [{"sku", "quantity"}]}`
//!   places an order (stock drops, an order webhook goes out);
//! * `POST /_sim/{platform}/{account}/orders/{id}/refunds`
//!   `{"lines": [{"sku", "quantity", "restock_type"?}]}` refunds some of an
//!   order's lines (restocked ones go back on the shelf, a refund webhook
//!   goes out) where the platform has refunds we follow (Shopify);
//! * `POST /_sim/{platform}/{account}/orders/{id}/cancel` cancels an order
//!   (its stock goes back; pollers see it cancelled, webhooks go out where
//!   the platform sends them);
//! * `POST /_sim/{platform}/{account}/products/{id}` `{"title"?, "price"?}` edits
//!   a product on the channel (a product webhook goes out);
//! * `POST /_sim/{platform}/{account}/webhooks` `{"url", "secret"?, "topics"?}`
//!   subscribes a URL, for platforms whose API we do not use for that;
//! * `PUT /_sim/{platform}/{account}/quota` sets the account's limits;
//! * `POST /_sim/faults` `{"platform"?: "…", …Faults}` injects faults;
//! * `GET /_sim/stats` counts calls, throttles and quota use per account.

pub mod accounts;
pub mod amazon;
mod control;
pub mod ebay;
pub mod etsy;
pub mod faults;
pub mod limiter;
pub mod shopify;
pub mod stats;
pub mod webhooks;
pub mod woocommerce;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use shelfsync_core::quota::QuotaModel;

pub use crate::accounts::{AccountCredentials, Accounts, SIM_CLIENT_SECRET};
pub use crate::faults::Faults;
pub use crate::stats::AccountStats;

/// What every platform module shares: accounts, quotas, faults, webhooks, stats.
pub struct SimCore {
    pub accounts: Accounts,
    pub limiter: limiter::Limiter,
    pub faults: faults::FaultBoard,
    pub subscriptions: webhooks::Subscriptions,
    pub stats: stats::Stats,
    /// For outgoing webhooks.
    pub client: reqwest::Client,
    /// Where this simulator is reachable, for URLs it hands out.
    pub base_url: String,
}

impl SimCore {
    /// The limits in force for an account: a test's override, else the platform's own.
    pub fn quota(&self, platform: &dyn SimPlatform, account: &str) -> QuotaModel {
        self.accounts
            .quota(platform.name(), account)
            .unwrap_or_else(|| platform.default_quota())
    }
}

/// A product as a simulated channel holds it, in one shape for every platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimListing {
    pub external_id: String,
    pub title: String,
    pub status: String,
    pub variants: Vec<SimVariant>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimVariant {
    pub external_id: String,
    pub sku: String,
    pub price: Decimal,
    pub quantity: i64,
}

/// One line of an order placed through `/_sim/…/orders`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimOrderLine {
    pub sku: String,
    pub quantity: i64,
}

/// One line of a refund issued through `/_sim/…/orders/{id}/refunds`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimRefundLine {
    pub sku: String,
    pub quantity: i64,
    /// The platform's restock type (Shopify: `return`, `cancel`, `no_restock`).
    #[serde(default = "default_restock_type")]
    pub restock_type: String,
}

fn default_restock_type() -> String {
    "return".into()
}

/// A change a merchant makes on the channel itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimEdit {
    pub title: Option<String>,
    /// Applied to every variant.
    pub price: Option<Decimal>,
}

/// One simulated platform.
pub trait SimPlatform: Send + Sync + 'static {
    /// The path prefix and stats key (`shopify`, `woocommerce`…).
    fn name(&self) -> &'static str;

    /// The platform's real limits for a default account.
    fn default_quota(&self) -> QuotaModel;

    /// How long the platform's access tokens live; `None` if they do not expire.
    fn token_lifetime(&self) -> Option<Duration>;

    /// The platform's API and OAuth routes, mounted under `/{name}`.
    fn router(self: Arc<Self>, core: Arc<SimCore>) -> Router;

    /// What the account's channel holds.
    fn listings(&self, account: &str) -> Vec<SimListing>;

    /// Place an order: lower stock and notify subscribers. Returns the order id.
    fn place_order(
        &self,
        core: &Arc<SimCore>,
        account: &str,
        lines: &[SimOrderLine],
    ) -> Result<String, String>;

    /// Refund some of an order's lines as the merchant would in the
    /// platform's admin. Returns the refund id. Platforms whose refunds we
    /// do not follow refuse, saying so.
    fn refund_order(
        &self,
        _core: &Arc<SimCore>,
        _account: &str,
        _order_id: &str,
        _lines: &[SimRefundLine],
    ) -> Result<String, String> {
        Err(format!(
            "the simulated {} has no refunds; refund a Shopify order",
            self.name()
        ))
    }

    /// Cancel an order as the merchant would: its stock goes back, and the
    /// platform reports it cancelled. Platforms that do not simulate it refuse.
    fn cancel_order(
        &self,
        _core: &Arc<SimCore>,
        _account: &str,
        _order_id: &str,
    ) -> Result<(), String> {
        Err(format!(
            "the simulated {} cannot cancel orders",
            self.name()
        ))
    }

    /// Change a product as the merchant would in the platform's admin.
    fn edit_product(
        &self,
        core: &Arc<SimCore>,
        account: &str,
        external_id: &str,
        edit: &SimEdit,
    ) -> Result<(), String>;
}

/// Every simulated platform.
pub fn platforms() -> Vec<Arc<dyn SimPlatform>> {
    vec![
        Arc::new(shopify::Shopify::default()),
        Arc::new(woocommerce::WooCommerce::default()),
        Arc::new(ebay::Ebay::default()),
        Arc::new(etsy::Etsy::default()),
        Arc::new(amazon::Amazon::default()),
    ]
}

/// A running simulator.
pub struct Simulator {
    pub addr: SocketAddr,
    pub core: Arc<SimCore>,
    task: tokio::task::JoinHandle<()>,
}

impl Simulator {
    /// Start on `listen` (port 0 for any free port).
    pub async fn start(listen: SocketAddr) -> std::io::Result<Simulator> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let core = Arc::new(SimCore {
            accounts: Accounts::default(),
            limiter: limiter::Limiter::default(),
            faults: faults::FaultBoard::default(),
            subscriptions: webhooks::Subscriptions::default(),
            stats: stats::Stats::default(),
            client: reqwest::Client::new(),
            base_url: format!("http://{addr}"),
        });
        let platforms = platforms();
        for p in &platforms {
            core.accounts
                .set_token_lifetime(p.name(), p.token_lifetime());
        }
        let app = router(core.clone(), platforms);
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::error!(%error, "simulator stopped");
            }
        });
        Ok(Simulator { addr, core, task })
    }

    /// The base URL of a platform on this simulator (`http://…/shopify`).
    pub fn base(&self, platform: &str) -> String {
        format!("{}/{platform}", self.core.base_url)
    }

    pub fn url(&self) -> &str {
        &self.core.base_url
    }

    /// A `SHELFSYNC_CHANNEL_BASES` value that sends every platform reached
    /// at its own host to this simulator (a WooCommerce store is reached at
    /// its own URL, which the connection names).
    pub fn channel_bases(&self) -> String {
        ["shopify", "ebay", "etsy", "amazon"]
            .iter()
            .map(|p| format!("{p}={}", self.base(p)))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Create an account with the platform's own limits or `quota`.
    pub fn create_account(
        &self,
        platform: &str,
        account: &str,
        quota: Option<QuotaModel>,
    ) -> AccountCredentials {
        self.core.limiter.reset(platform, account);
        self.core.accounts.create(platform, account, quota)
    }

    pub fn stats(&self, platform: &str, account: &str) -> AccountStats {
        self.core.stats.account(platform, account)
    }

    pub fn set_faults(&self, platform: &str, faults: Faults) {
        self.core.faults.set(platform, faults);
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The whole simulator as one router.
pub fn router(core: Arc<SimCore>, platforms: Vec<Arc<dyn SimPlatform>>) -> Router {
    let mut app = control::router(core.clone(), platforms.clone());
    for platform in platforms {
        let name = platform.name();
        let routes = platform
            .router(core.clone())
            .layer(axum::middleware::from_fn_with_state(
                (core.clone(), name),
                faults::inject,
            ));
        app = app.nest(&format!("/{name}"), routes);
    }
    app
}
