//! Setting up the demo through the public API, and driving the simulated
//! shops through the simulator's control routes (`/_sim/…`).

use std::net::SocketAddr;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use shelfsync_core::catalog::NewProduct;
use shelfsync_sim::{SimListing, Simulator};

/// A client of the demo's own API, as the admin key.
pub struct Api {
    client: reqwest::Client,
    base: String,
    key: String,
}

impl Api {
    pub fn new(addr: SocketAddr, key: &str) -> Self {
        Api {
            client: reqwest::Client::new(),
            base: format!("http://{addr}"),
            key: key.to_owned(),
        }
    }

    /// POST `body` to `path`; the JSON answer, or an error with the problem's text.
    async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .json(body)
            .send()
            .await
            .with_context(|| format!("POST {path}"))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            bail!("POST {path} answered {status}: {text}");
        }
        serde_json::from_str(&text).with_context(|| format!("POST {path}: not JSON"))
    }

    /// Upsert the catalog by SKU, in the bulk endpoint's batches; the product ids.
    pub async fn import(&self, catalog: &[NewProduct]) -> anyhow::Result<Vec<String>> {
        let mut ids = Vec::with_capacity(catalog.len());
        for batch in catalog.chunks(250) {
            let outcome = self
                .post("/v1/products/bulk", &json!({ "products": batch }))
                .await?;
            if outcome["failed"].as_u64().unwrap_or(0) > 0 {
                bail!("the sample catalog was refused: {}", outcome["errors"]);
            }
            let results = outcome["results"].as_array().cloned().unwrap_or_default();
            ids.extend(
                results
                    .iter()
                    .filter_map(|r| r["product_id"].as_str().map(str::to_owned)),
            );
        }
        if ids.len() != catalog.len() {
            bail!(
                "the bulk import returned {} product ids for {} products",
                ids.len(),
                catalog.len()
            );
        }
        Ok(ids)
    }

    /// Create every product on the connection's channel.
    pub async fn publish(&self, connection_id: &str, product_ids: &[String]) -> anyhow::Result<()> {
        for batch in product_ids.chunks(1000) {
            self.post(
                "/v1/listings",
                &json!({"connection_id": connection_id, "product_ids": batch, "mode": "publish"}),
            )
            .await?;
        }
        Ok(())
    }
}

/// A simulated shop the demo connected.
pub struct Shop {
    pub label: &'static str,
    pub platform: &'static str,
    pub account: String,
    pub connection_id: String,
    /// Whether its orders arrive by webhook (eBay's are polled).
    pub sends_webhooks: bool,
}

/// A Shopify shop, a WooCommerce store and an eBay seller account on the
/// simulator, connected with their credentials; the two that send webhooks
/// are subscribed to the demo's receiver.
pub async fn connect_shops(
    api: &Api,
    sim: &Simulator,
    addr: SocketAddr,
) -> anyhow::Result<Vec<Shop>> {
    let shopify = sim.create_account("shopify", "northwind.myshopify.com", None);
    let woo = sim.create_account("woocommerce", "northwind-woo", None);
    let ebay = sim.create_account("ebay", "northwind-ebay", None);
    let connections = [
        (
            "Shopify",
            "shopify",
            shopify.account.clone(),
            json!({"platform": "shopify", "name": "Shopify", "account": shopify.account,
                   "credentials": {"access_token": shopify.access_token},
                   "webhook_secret": shopify.webhook_secret}),
        ),
        (
            "WooCommerce",
            "woocommerce",
            woo.account.clone(),
            json!({"platform": "woocommerce", "name": "WooCommerce",
                   "account": format!("{}/{}", sim.base("woocommerce"), woo.account),
                   "credentials": {"consumer_key": woo.consumer_key, "consumer_secret": woo.consumer_secret},
                   "webhook_secret": woo.webhook_secret}),
        ),
        (
            "eBay",
            "ebay",
            ebay.account.clone(),
            json!({"platform": "ebay", "name": "eBay", "account": ebay.account,
                   "credentials": {"access_token": ebay.access_token, "refresh_token": ebay.refresh_token},
                   "settings": shelfsync_sim::ebay::seller_settings()}),
        ),
    ];
    let mut shops = Vec::new();
    for (label, platform, account, body) in connections {
        let created = api.post("/v1/connections", &body).await?;
        let connection_id = created["id"]
            .as_str()
            .context("the connection has no id")?
            .to_owned();
        let sends_webhooks = platform != "ebay";
        if sends_webhooks {
            let url = format!("http://{addr}/webhooks/{platform}/{connection_id}");
            control(sim, &format!("/_sim/{platform}/{account}/webhooks"))
                .json(&json!({ "url": url }))
                .send()
                .await?
                .error_for_status()
                .with_context(|| format!("subscribing to {label}'s webhooks"))?;
        }
        shops.push(Shop {
            label,
            platform,
            account,
            connection_id,
            sends_webhooks,
        });
    }
    Ok(shops)
}

/// The rules a merchant typically starts with: eBay's fees priced in, a
/// few units held back on the store that oversells most, and wall art kept
/// off eBay (it ships badly).
pub async fn add_rules(api: &Api, shops: &[Shop]) -> anyhow::Result<()> {
    let woo = shops
        .iter()
        .find(|s| s.platform == "woocommerce")
        .context("no WooCommerce shop")?;
    let rules = [
        json!({"name": "eBay +12%, .99 endings", "platform": "ebay", "priority": 10,
               "actions": [{"type": "price_adjust", "kind": "percent", "value": "12"},
                           {"type": "price_ending", "ending": 0.99}]}),
        json!({"name": "Wall art stays off eBay", "platform": "ebay", "priority": 5,
               "condition": {"product_type": "Wall Art"},
               "actions": [{"type": "exclude"}]}),
        json!({"name": "Keep 2 back on WooCommerce", "connection_id": woo.connection_id,
               "priority": 10, "actions": [{"type": "stock_buffer", "keep": 2}]}),
    ];
    for rule in &rules {
        api.post("/v1/rules", rule).await?;
        println!("  rule:      {}", rule["name"].as_str().unwrap_or_default());
    }
    Ok(())
}

fn control(sim: &Simulator, path: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new().post(format!("{}{path}", sim.url()))
}

/// The SKUs the shop holds with stock, and how many it can sell.
pub async fn in_stock(sim: &Simulator, shop: &Shop) -> Vec<(String, i64)> {
    let url = format!(
        "{}/_sim/{}/{}/listings",
        sim.url(),
        shop.platform,
        shop.account
    );
    let Ok(response) = reqwest::get(url).await else {
        return Vec::new();
    };
    let listings: Vec<SimListing> = response.json().await.unwrap_or_default();
    listings
        .into_iter()
        .flat_map(|l| l.variants)
        .filter(|v| v.quantity > 0)
        .map(|v| (v.sku, v.quantity))
        .collect()
}

/// An order placed on the shop as a buyer would: the shop lowers its stock
/// and sends its order webhook.
pub async fn place_order(
    sim: &Simulator,
    shop: &Shop,
    sku: &str,
    quantity: i64,
) -> anyhow::Result<()> {
    control(
        sim,
        &format!("/_sim/{}/{}/orders", shop.platform, shop.account),
    )
    .json(&json!({"lines": [{"sku": sku, "quantity": quantity}]}))
    .send()
    .await?
    .error_for_status()?;
    Ok(())
}
