//! Channel sync benchmarks against the real binary and the channel
//! simulator (in this process, latency 0):
//!
//! - `sync-latency`: a price change through the API until Shopify,
//!   WooCommerce and eBay all hold it, one change at a time.
//! - `inventory-sync`: new stock for 100,000 SKUs to one Shopify shop at
//!   its Standard-plan quota, timed against the quota's own minimum.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use serde_json::{Value, json};
use shelfsync_core::quota::{Limit, QuotaModel, Scope};
use shelfsync_sim::Simulator;
use shelfsync_store::{Store, StoreOptions};

use crate::server::{Launch, Server};
use crate::stats::Percentiles;

#[derive(Args)]
pub struct LatencyOptions {
    #[arg(long, default_value = "target/release/shelfsync")]
    bin: PathBuf,
    #[arg(long)]
    database_url: Option<String>,
    #[arg(long)]
    redis_url: Option<String>,
    #[arg(long, default_value_t = 50)]
    products: usize,
    #[arg(long, default_value_t = 200)]
    changes: usize,
    #[arg(long, default_value_t = 18_431)]
    port: u16,
}

#[derive(Args)]
pub struct InventoryOptions {
    #[arg(long, default_value = "target/release/shelfsync")]
    bin: PathBuf,
    #[arg(long)]
    database_url: Option<String>,
    #[arg(long)]
    redis_url: Option<String>,
    #[arg(long, default_value_t = 100_000)]
    skus: usize,
    #[arg(long, default_value_t = 18_432)]
    port: u16,
}

/// An HTTP client for the API with the bench's key.
pub(crate) struct Api {
    client: reqwest::Client,
    base: String,
    key: String,
}

impl Api {
    pub(crate) fn new(server: &Server) -> Self {
        Api {
            client: reqwest::Client::new(),
            base: server.base.clone(),
            key: server.key.clone(),
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &Value,
    ) -> anyhow::Result<Value> {
        let response = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .json(body)
            .send()
            .await?;
        let status = response.status();
        let text = response.text().await?;
        anyhow::ensure!(status.is_success(), "{path}: {status} {text}");
        Ok(if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)?
        })
    }

    async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(reqwest::Method::POST, path, body).await
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .send()
            .await?;
        Ok(response.error_for_status()?.json().await?)
    }
}

/// One simulated account and the API's connection to it.
pub(crate) struct Channel {
    pub(crate) platform: &'static str,
    pub(crate) account: &'static str,
    pub(crate) connection: String,
}

/// Creates the account on the simulator and connects it through the API.
pub(crate) async fn connect(
    api: &Api,
    sim: &Simulator,
    platform: &'static str,
    account: &'static str,
    quota: Option<QuotaModel>,
    settings: Value,
) -> anyhow::Result<Channel> {
    connect_with_secret(api, sim, platform, account, quota, settings, None).await
}

/// [`connect`], with the secret the channel signs its webhooks with (for
/// Shopify, the simulated shop's own; an existing account is reused).
pub(crate) async fn connect_with_secret(
    api: &Api,
    sim: &Simulator,
    platform: &'static str,
    account: &'static str,
    quota: Option<QuotaModel>,
    mut settings: Value,
    webhook_secret: Option<&str>,
) -> anyhow::Result<Channel> {
    let creds = sim.create_account(platform, account, quota.clone());
    if let Some(quota) = quota {
        settings["quota"] = serde_json::to_value(quota)?;
    }
    let (account_field, credentials) = match platform {
        "woocommerce" => (
            format!("{}/{account}", sim.base("woocommerce")),
            json!({ "consumer_key": creds.consumer_key, "consumer_secret": creds.consumer_secret }),
        ),
        _ => (
            account.to_owned(),
            json!({ "access_token": creds.access_token, "refresh_token": creds.refresh_token }),
        ),
    };
    let created = api
        .post(
            "/v1/connections",
            &json!({
                "platform": platform, "name": platform, "account": account_field,
                "settings": settings, "credentials": credentials,
                "webhook_secret": webhook_secret,
            }),
        )
        .await?;
    Ok(Channel {
        platform,
        account,
        connection: created["id"].as_str().context("connection id")?.to_owned(),
    })
}

pub(crate) fn channel_bases(sim: &Simulator) -> (String, String) {
    ("SHELFSYNC_CHANNEL_BASES".to_owned(), sim.channel_bases())
}

/// Seeds `n` one-variant products through the bulk API; returns (product
/// id, variant id (when asked for: one read per product), sku).
pub(crate) async fn seed(
    api: &Api,
    n: usize,
    prefix: &str,
    variant_ids: bool,
) -> anyhow::Result<Vec<(String, String, String)>> {
    let mut seeded = Vec::with_capacity(n);
    for start in (0..n).step_by(1000) {
        let products: Vec<Value> = (start..(start + 1000).min(n))
            .map(|i| {
                json!({
                    "title": format!("{prefix} product {i}"),
                    "vendor": "Bench", "tags": ["bench"],
                    "variants": [{ "sku": format!("{prefix}-{i:06}"), "price": "10.00", "inventory_quantity": 50 }]
                })
            })
            .collect();
        let answer = api
            .post("/v1/products/bulk", &json!({ "products": products }))
            .await?;
        for (i, item) in answer["results"]
            .as_array()
            .context("results")?
            .iter()
            .enumerate()
        {
            let product = item["product_id"]
                .as_str()
                .context("product_id")?
                .to_owned();
            seeded.push((product, String::new(), format!("{prefix}-{:06}", start + i)));
        }
    }
    // Variant ids, read back through the API.
    for entry in seeded.iter_mut().filter(|_| variant_ids) {
        let product = api.get(&format!("/v1/products/{}", entry.0)).await?;
        entry.1 = product["variants"][0]["id"]
            .as_str()
            .context("variant id")?
            .to_owned();
    }
    Ok(seeded)
}

pub(crate) async fn publish(
    api: &Api,
    channel: &Channel,
    products: &[String],
) -> anyhow::Result<()> {
    for chunk in products.chunks(1000) {
        api.post(
            "/v1/listings",
            &json!({ "connection_id": channel.connection, "product_ids": chunk, "mode": "publish" }),
        )
        .await?;
    }
    Ok(())
}

/// Waits until no listing of `channel` is pending.
pub(crate) async fn settled(api: &Api, channel: &Channel, within: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    loop {
        let mut open = 0;
        for status in ["pending", "failed"] {
            let page = api
                .get(&format!(
                    "/v1/listings?connection_id={}&status={status}&limit=1",
                    channel.connection
                ))
                .await?;
            open += page["data"].as_array().map_or(0, Vec::len);
        }
        if open == 0 {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{} never settled",
            channel.platform
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The variant with `sku` as the simulated `platform` account holds it.
pub(crate) async fn held_variant(
    client: &reqwest::Client,
    sim: &Simulator,
    platform: &str,
    account: &str,
    sku: &str,
) -> anyhow::Result<Option<Value>> {
    let listings: Value = client
        .get(format!("{}/_sim/{platform}/{account}/listings", sim.url()))
        .send()
        .await?
        .json()
        .await?;
    Ok(listings
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|l| l["variants"].as_array().cloned().unwrap_or_default())
        .find(|v| v["sku"] == sku))
}

async fn held_price(
    client: &reqwest::Client,
    sim: &Simulator,
    channel: &Channel,
    sku: &str,
) -> anyhow::Result<Option<String>> {
    let variant = held_variant(client, sim, channel.platform, channel.account, sku).await?;
    Ok(variant.map(|v| v["price"].to_string().trim_matches('"').to_owned()))
}

pub async fn latency(opts: LatencyOptions) -> anyhow::Result<()> {
    let sim = Simulator::start("127.0.0.1:0".parse()?).await?;
    let mut launch = Launch::new(
        &opts.bin,
        opts.database_url.as_deref(),
        opts.redis_url.as_deref(),
        opts.port,
    );
    launch.env.push(channel_bases(&sim));
    launch
        .env
        .push(("SHELFSYNC_QUEUE_POLL_MS".into(), "1000".into()));
    let server = Server::launch(&launch).await?;
    let api = Api::new(&server);

    let ebay_settings = shelfsync_sim::ebay::seller_settings();
    let channels = vec![
        connect(
            &api,
            &sim,
            "shopify",
            "bench.myshopify.com",
            None,
            json!({}),
        )
        .await?,
        connect(&api, &sim, "woocommerce", "bench-store", None, json!({})).await?,
        connect(&api, &sim, "ebay", "bench-seller", None, ebay_settings).await?,
    ];
    let seeded = seed(&api, opts.products, "LAT", true).await?;
    let ids: Vec<String> = seeded.iter().map(|s| s.0.clone()).collect();
    for channel in &channels {
        publish(&api, channel, &ids).await?;
    }
    for channel in &channels {
        settled(&api, channel, Duration::from_secs(300)).await?;
    }
    println!(
        "{} products on 3 channels; measuring {} changes",
        opts.products, opts.changes
    );

    let client = reqwest::Client::new();
    let mut samples = Vec::with_capacity(opts.changes);
    for n in 0..opts.changes {
        let (_, variant, sku) = &seeded[n % seeded.len()];
        let price = format!("{}.{:02}", 11 + n / 100, n % 100);
        let started = Instant::now();
        api.send(
            reqwest::Method::PATCH,
            &format!("/v1/variants/{variant}"),
            &json!({ "price": price }),
        )
        .await?;
        let wanted: rust_decimal::Decimal = price.parse()?;
        for channel in &channels {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let held = held_price(&client, &sim, channel, sku).await?;
                if held.and_then(|p| p.parse::<rust_decimal::Decimal>().ok()) == Some(wanted) {
                    break;
                }
                anyhow::ensure!(
                    Instant::now() < deadline,
                    "{} never got {sku} at {price}",
                    channel.platform
                );
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        samples.push(started.elapsed());
        // One change at a time, on an otherwise idle system.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "master change -> all three channels updated: {}",
        Percentiles::new(samples).summary()
    );
    server.stop().await;
    let _ = std::fs::remove_dir_all(&launch.data_dir);
    Ok(())
}

/// Shopify's Standard plan: 2,000 points, 100 restored a second.
fn standard() -> QuotaModel {
    QuotaModel::unlimited().with(
        Scope::All,
        Limit::CostPoints {
            capacity: 2_000.0,
            restore_per_sec: 100.0,
        },
    )
}

pub async fn inventory(opts: InventoryOptions) -> anyhow::Result<()> {
    let sim = Simulator::start("127.0.0.1:0".parse()?).await?;
    let mut launch = Launch::new(
        &opts.bin,
        opts.database_url.as_deref(),
        opts.redis_url.as_deref(),
        opts.port,
    );
    launch.env.push(channel_bases(&sim));

    // Setting up: the catalog is created on the shop without a quota (the
    // setup is not what is measured).
    let server = Server::launch(&launch).await?;
    let api = Api::new(&server);
    let lifted = QuotaModel::unlimited();
    let shop = connect(
        &api,
        &sim,
        "shopify",
        "inventory.myshopify.com",
        Some(lifted.clone()),
        json!({}),
    )
    .await?;
    let started = Instant::now();
    let seeded = seed(&api, opts.skus, "INV", false).await?;
    let ids: Vec<String> = seeded.iter().map(|s| s.0.clone()).collect();
    println!(
        "seeded {} products in {:.1} s",
        ids.len(),
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    publish(&api, &shop, &ids).await?;
    settled(&api, &shop, Duration::from_secs(3600)).await?;
    println!(
        "published to the shop in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // The shop goes back to the Standard plan, on both sides.
    api.send(
        reqwest::Method::PATCH,
        &format!("/v1/connections/{}", shop.connection),
        &json!({ "settings": {} }),
    )
    .await?;
    sim.core
        .accounts
        .set_quota("shopify", shop.account, Some(standard()));
    sim.core.limiter.reset("shopify", shop.account);
    server.stop().await;

    // New stock for every SKU, written while no worker runs.
    let mut api_only = launch.clone();
    api_only.command = "api";
    let server = Server::launch(&api_only).await?;
    let api = Api::new(&server);
    let started = Instant::now();
    for chunk in seeded.chunks(1000) {
        let products: Vec<Value> = chunk
            .iter()
            .enumerate()
            .map(|(i, (_, _, sku))| {
                let n: usize = sku[4..].parse().unwrap_or(i);
                json!({
                    "title": format!("INV product {n}"),
                    "vendor": "Bench", "tags": ["bench"],
                    "variants": [{ "sku": sku, "price": "10.00", "inventory_quantity": 7 + n % 30 }]
                })
            })
            .collect();
        api.post("/v1/products/bulk", &json!({ "products": products }))
            .await?;
    }
    println!(
        "wrote new stock for {} SKUs in {:.1} s",
        seeded.len(),
        started.elapsed().as_secs_f64()
    );

    // One worker does the sync; timed from its start to the last listing settled.
    let before = sim.stats("shopify", shop.account);
    let mut worker = launch.clone();
    worker.command = "worker";
    worker.port = opts.port + 1;
    let started = Instant::now();
    let worker = Server::launch(&worker).await?;
    // Wait until the relay has marked the listings, then until they settle.
    let deadline = Instant::now() + Duration::from_secs(3600);
    loop {
        let stats = sim.stats("shopify", shop.account);
        if stats.requests > before.requests {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the worker never called the shop"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let first_call = Instant::now();
    let relay_wait = started.elapsed().as_secs_f64();
    // Done when the relay has nothing left to mark and nothing marked is
    // left to push (in that order: a relay batch marks and consumes together).
    let url = launch
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}/shelfsync.db", launch.data_dir.display()));
    let store = Store::connect(&url, &StoreOptions::default()).await?;
    let deadline = Instant::now() + Duration::from_secs(3600);
    loop {
        if store.outbox_backlog().await?.0 == 0 {
            settled(&api, &shop, Duration::from_secs(3600)).await?;
            if store.outbox_backlog().await?.0 == 0 {
                break;
            }
        }
        anyhow::ensure!(Instant::now() < deadline, "the outbox never drained");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let total = started.elapsed().as_secs_f64();
    let took = first_call.elapsed().as_secs_f64();
    let after = sim.stats("shopify", shop.account);
    let calls = after.requests - before.requests;
    let cost = after.cost - before.cost;
    let throttled = after.throttled - before.throttled;
    // The quota's own minimum: the points spent, less the full bucket the
    // run starts with, at the restore rate.
    let minimum = ((cost - 2_000.0) / 100.0).max(0.0);
    let ratio = if minimum > 0.0 {
        format!("{:.2}x", took / minimum)
    } else {
        "the bucket alone holds it".to_owned()
    };
    println!(
        "inventory sync of {} SKUs: {took:.1} s from the first call to the last listing settled \
         ({total:.1} s from the worker's start, {relay_wait:.1} s of it before the first call); \
         quota minimum {minimum:.1} s ({ratio}); \
         {calls} calls ({:.4} per SKU, {:.0}x fewer than one call per SKU), {cost:.0} points, {throttled} throttled; {:?}",
        seeded.len(),
        calls as f64 / seeded.len() as f64,
        seeded.len() as f64 / calls.max(1) as f64,
        after
            .by_operation
            .iter()
            .map(|(k, v)| (
                k.clone(),
                v - before.by_operation.get(k).copied().unwrap_or(0)
            ))
            .filter(|(_, v)| *v > 0)
            .collect::<Vec<_>>(),
    );
    worker.stop().await;
    server.stop().await;
    let _ = std::fs::remove_dir_all(&launch.data_dir);
    Ok(())
}
