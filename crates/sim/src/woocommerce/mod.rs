//! Simulated WooCommerce: a store per account under `/woocommerce/{store}`,
//! serving the REST API v3 paths the adapter uses (`/wp-json/wc/v3/…`) and
//! the app-authorization page (`/wc-auth/v1/authorize`).
//!
//! Follows the official reference (github.com/woocommerce/woocommerce-rest-api-docs,
//! `source/includes/wp-api-v3/`, published at
//! <https://woocommerce.github.io/woocommerce-rest-api-docs/>):
//! * products, `POST /products/batch`, `GET /products` (`_products.md`);
//!   variations, `POST /products/{id}/variations/batch`, `GET …/variations`
//!   (`_product-variations.md`); orders, `GET /orders` (`_orders.md`);
//!   webhooks, `GET`/`POST /webhooks` (`_webhooks.md`);
//! * pagination with `page`/`per_page` (at most 100), `X-WP-Total`,
//!   `X-WP-TotalPages` and `Link` (`_introduction.md`); errors as
//!   `{"code", "message", "data": {"status"}}`;
//! * batches of at most 100 objects, 413 `woocommerce_rest_request_entity_too_large`
//!   beyond, refused items as `{"id", "error": {…}}` (`WC_REST_Controller::batch_items`);
//! * authentication with the consumer key and secret as HTTP Basic or as
//!   `consumer_key`/`consumer_secret` query parameters (`_authentication.md`);
//!   401 `woocommerce_rest_cannot_view` (and `…cannot_create`, `…cannot_batch`)
//!   without valid keys, as core answers when no user is authenticated;
//! * webhooks signed like `WC_Webhook::deliver()` (woocommerce/woocommerce,
//!   `includes/class-wc-webhook.php`): `X-WC-Webhook-Source`, `-Topic`,
//!   `-Resource`, `-Event`, `-Signature` (base64 HMAC-SHA256 of the body),
//!   `-ID` and `-Delivery-ID` (a hash of the webhook id and the current
//!   second); an unsigned `webhook_id={id}` ping when a webhook is created.
//!
//! **Rate limits.** WooCommerce core sets none on the REST API (only the
//! Store API has a limiter, "optional and disabled by default":
//! <https://developer.woocommerce.com/docs/apis/store-api/rate-limiting>),
//! so the default quota is unlimited. When a test gives an account a quota,
//! the simulator plays the host or proxy that imposes it: every call is
//! charged one unit before authentication; a call over the limit gets 429
//! with `Retry-After` (whole seconds, at least 1) and the `RateLimit-Limit`,
//! `RateLimit-Remaining`, `RateLimit-Reset`, `RateLimit-Retry-After` headers
//! WooCommerce's own Store API limiter uses, and a WordPress-shaped error
//! body. Admitted calls carry `RateLimit-Limit`/`-Remaining`/`-Reset`.
//! Hosts differ; this is one plausible host, not WooCommerce itself.
//!
//! **Deviations.** Real stores take Basic auth over HTTPS only (over plain
//! HTTP they require OAuth 1.0a signatures); the simulator serves plain HTTP
//! and takes Basic. The authorize page approves at once and may post keys
//! to an `http://` callback (real stores require HTTPS and a logged-in
//! merchant). Changes made through the API do not trigger webhooks here
//! (real stores send `product.updated` for them too); only orders placed and
//! edits made through `/_sim/…` do. Only the fields and filters the adapter
//! uses are implemented; the site timezone is UTC.

mod authorize;
mod json;
mod routes;
mod shop;
mod store;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};
use shelfsync_core::quota::QuotaModel;

use crate::{SimCore, SimEdit, SimListing, SimOrderLine, SimPlatform, webhooks};

use store::Store;

pub(crate) const NAME: &str = "woocommerce";

/// Simulated WooCommerce stores, one per account.
#[derive(Default)]
pub struct WooCommerce {
    stores: Mutex<HashMap<String, Store>>,
}

impl WooCommerce {
    fn with_store<T>(&self, account: &str, f: impl FnOnce(&mut Store) -> T) -> T {
        let mut stores = self.stores.lock().unwrap();
        f(stores.entry(account.to_owned()).or_default())
    }
}

/// The store's URL on this simulator, for links and `X-WC-Webhook-Source`.
fn store_base(core: &SimCore, account: &str) -> String {
    format!("{}/{NAME}/{account}", core.base_url)
}

/// Base64 HMAC-SHA256 of the body with the webhook's secret (`WC_Webhook::generate_signature`).
fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(body);
    STANDARD.encode(mac.finalize().into_bytes())
}

const USER_AGENT: &str = "WooCommerce/9.9.0 Hookshot (WordPress/6.8.1)";

/// Deliver `payload` on `topic` to the account's subscribers, signed.
fn send_webhook(core: &Arc<SimCore>, account: &str, topic: &str, payload: &Value) {
    let body = serde_json::to_vec(payload).unwrap_or_default();
    let source = format!("{}/", store_base(core, account));
    let topic_owned = topic.to_owned();
    let (resource, event) = topic.split_once('.').unwrap_or((topic, ""));
    let (resource, event) = (resource.to_owned(), event.to_owned());
    webhooks::deliver(
        core,
        NAME,
        account,
        topic,
        body,
        move |subscription, body| {
            let second = chrono::Utc::now().timestamp();
            let delivery = hex::encode(Sha256::digest(format!("{}{second}", subscription.id)));
            vec![
                ("User-Agent".into(), USER_AGENT.into()),
                ("X-WC-Webhook-Source".into(), source.clone()),
                ("X-WC-Webhook-Topic".into(), topic_owned.clone()),
                ("X-WC-Webhook-Resource".into(), resource.clone()),
                ("X-WC-Webhook-Event".into(), event.clone()),
                (
                    "X-WC-Webhook-Signature".into(),
                    sign(&subscription.secret, body),
                ),
                ("X-WC-Webhook-ID".into(), subscription.id.clone()),
                ("X-WC-Webhook-Delivery-ID".into(), delivery[..32].to_owned()),
            ]
        },
    );
}

/// The unsigned ping a store posts to a new webhook's URL (`WC_Webhook::deliver_ping`);
/// its outcome does not change the REST answer.
async fn ping(core: &SimCore, url: &str, id: u64) {
    let sent = core
        .client
        .post(url)
        .header("user-agent", USER_AGENT)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("webhook_id={id}"))
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    if let Err(error) = sent {
        tracing::debug!(%error, "webhook ping failed");
    }
}

impl SimPlatform for WooCommerce {
    fn name(&self) -> &'static str {
        NAME
    }

    /// None: WooCommerce core does not limit its REST API.
    fn default_quota(&self) -> QuotaModel {
        QuotaModel::unlimited()
    }

    /// Consumer keys do not expire.
    fn token_lifetime(&self) -> Option<Duration> {
        None
    }

    fn router(self: Arc<Self>, core: Arc<SimCore>) -> Router {
        routes::router(self, core)
    }

    fn listings(&self, account: &str) -> Vec<SimListing> {
        self.with_store(account, |s| s.listings())
    }

    fn place_order(
        &self,
        core: &Arc<SimCore>,
        account: &str,
        lines: &[SimOrderLine],
    ) -> Result<String, String> {
        let base = store_base(core, account);
        let (id, payload) = self.with_store(account, |s| {
            let id = s.place_order(lines, chrono::Utc::now())?;
            Ok::<_, String>((id, s.order_json(&s.orders[&id], &base)))
        })?;
        send_webhook(core, account, "order.created", &payload);
        Ok(id.to_string())
    }

    fn cancel_order(
        &self,
        core: &Arc<SimCore>,
        account: &str,
        order_id: &str,
    ) -> Result<(), String> {
        let id: u64 = order_id
            .parse()
            .map_err(|_| format!("`{order_id}` is not an order id"))?;
        let base = store_base(core, account);
        let payload = self.with_store(account, |s| {
            s.cancel_order(id, chrono::Utc::now())?;
            Ok::<_, String>(s.order_json(&s.orders[&id], &base))
        })?;
        send_webhook(core, account, "order.updated", &payload);
        Ok(())
    }

    fn edit_product(
        &self,
        core: &Arc<SimCore>,
        account: &str,
        external_id: &str,
        edit: &SimEdit,
    ) -> Result<(), String> {
        let id: u64 = external_id
            .parse()
            .map_err(|_| format!("`{external_id}` is not a product id"))?;
        let base = store_base(core, account);
        let payload = self.with_store(account, |s| {
            s.edit(id, edit, chrono::Utc::now())?;
            Ok::<_, String>(s.product_json(&s.products[&id], &base))
        })?;
        send_webhook(core, account, "product.updated", &payload);
        Ok(())
    }
}
