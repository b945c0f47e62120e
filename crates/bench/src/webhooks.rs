//! Webhook benchmarks against the real binary:
//!
//! - `webhook-accept`: signed WooCommerce deliveries sent open-loop at a
//!   fixed rate to an `api` process (the HTTP role alone, as deployed at
//!   scale; the worker applies them elsewhere) over keep-alive connections:
//!   accepted per second and the acknowledgement latency, measured from
//!   when each delivery was due.
//! - `order-latency`: an order placed on the simulated Shopify shop, sent
//!   to `serve` by the shop's own webhook, until the simulated WooCommerce
//!   store and eBay seller both show the lower stock.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use clap::Args;
use http_body_util::Full;
use hyper::Request;
use serde_json::json;
use shelfsync_channels::signature::hmac_sha256_base64;
use shelfsync_sim::Simulator;

use crate::open_loop;
use crate::server::{Launch, Server};
use crate::stats::Percentiles;
use crate::sync::{Api, channel_bases, connect_with_secret, held_variant, publish, seed, settled};

#[derive(Args)]
pub struct AcceptOptions {
    #[arg(long, default_value = "target/release/shelfsync")]
    bin: PathBuf,
    #[arg(long)]
    database_url: Option<String>,
    #[arg(long)]
    redis_url: Option<String>,
    /// Deliveries per second to hold.
    #[arg(long, default_value_t = 5000)]
    rate: u32,
    /// Seconds measured (after a warm-up of a fifth as long).
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    #[arg(long, default_value_t = 18_433)]
    port: u16,
    /// Keep-alive connections the deliveries share.
    #[arg(long, default_value_t = 256)]
    connections: usize,
}

#[derive(Args)]
pub struct OrderOptions {
    #[arg(long, default_value = "target/release/shelfsync")]
    bin: PathBuf,
    #[arg(long)]
    database_url: Option<String>,
    #[arg(long)]
    redis_url: Option<String>,
    #[arg(long, default_value_t = 20)]
    products: usize,
    #[arg(long, default_value_t = 200)]
    orders: usize,
    #[arg(long, default_value_t = 18_434)]
    port: u16,
}

const WEBHOOK_SECRET: &str = "bench-webhook-secret";

/// One signed WooCommerce `order.created` delivery, as the store sends it.
fn woo_delivery(n: u64) -> (Vec<u8>, String, String) {
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string();
    let body = serde_json::to_vec(&json!({
        "id": 1_000_000 + n,
        "status": "processing",
        "date_created_gmt": now,
        "date_modified_gmt": now,
        "line_items": [{"product_id": 7, "variation_id": 0, "quantity": 1, "sku": format!("BENCH-{}", n % 100)}],
    }))
    .expect("JSON");
    let signature = hmac_sha256_base64(WEBHOOK_SECRET.as_bytes(), &body);
    (body, signature, format!("bench-{n}"))
}

pub async fn accept(opts: AcceptOptions) -> anyhow::Result<()> {
    let sim = Simulator::start("127.0.0.1:0".parse()?).await?;
    let mut launch = Launch::new(
        &opts.bin,
        opts.database_url.as_deref(),
        opts.redis_url.as_deref(),
        opts.port,
    );
    launch.env.push(channel_bases(&sim));
    // Set up through `serve` (which makes the admin key), then measure the
    // `api` role alone on the same database.
    let setup = Server::launch(&launch).await?;
    let api = Api::new(&setup);
    let channel = connect_with_secret(
        &api,
        &sim,
        "woocommerce",
        "bench-hooks",
        None,
        json!({}),
        Some(WEBHOOK_SECRET),
    )
    .await?;
    setup.stop().await;
    launch.command = "api";
    let server = Server::launch(&launch).await?;
    let path = format!("/webhooks/woocommerce/{}", channel.connection);
    let address: std::net::SocketAddr = server
        .base
        .trim_start_matches("http://")
        .parse()
        .context("the server's address")?;

    let warmup = opts.seconds / 5;
    let total = u64::from(opts.rate) * (warmup + opts.seconds);
    let skip = u64::from(opts.rate) * warmup;
    let interval = Duration::from_secs_f64(1.0 / f64::from(opts.rate));
    // Made (and signed) before the clock starts, as a platform has them
    // ready to send: the sender's own work stays off the measured path.
    let requests = (0..total)
        .map(|n| {
            let (body, signature, delivery) = woo_delivery(n);
            Request::post(path.as_str())
                .header("host", address.to_string())
                .header("content-type", "application/json")
                .header("x-wc-webhook-topic", "order.created")
                .header("x-wc-webhook-delivery-id", delivery)
                .header("x-wc-webhook-signature", signature)
                .body(Full::new(Bytes::from(body)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let run = open_loop::run(address, opts.connections, requests, interval).await?;
    let start = run.start;
    let mut samples = Vec::new();
    let mut failed = 0;
    let mut last_done = start;
    for sample in run.samples {
        if (sample.index as u64) < skip {
            continue;
        }
        if !sample.ok {
            failed += 1;
        }
        last_done = last_done.max(sample.done);
        samples.push(sample.latency);
    }
    let measured = samples.len();
    let window = last_done - (start + interval.mul_f64(skip as f64));
    let p = Percentiles::new(samples);
    println!(
        "webhooks accepted: offered {} /s for {} s: {:.0} /s acknowledged, failed {failed}, p50={:.2} ms p90={:.2} ms p99={:.2} ms max={:.2} ms",
        opts.rate,
        opts.seconds,
        measured as f64 / window.as_secs_f64(),
        p.ms(50.0),
        p.ms(90.0),
        p.ms(99.0),
        p.max_ms()
    );
    server.stop().await;
    let _ = std::fs::remove_dir_all(&launch.data_dir);
    Ok(())
}

pub async fn order_latency(opts: OrderOptions) -> anyhow::Result<()> {
    let sim = Simulator::start("127.0.0.1:0".parse()?).await?;
    let mut launch = Launch::new(
        &opts.bin,
        opts.database_url.as_deref(),
        opts.redis_url.as_deref(),
        opts.port,
    );
    launch.env.push(channel_bases(&sim));
    let server = Server::launch(&launch).await?;
    let api = Api::new(&server);
    let shop = "orders.myshopify.com";
    let shop_secret = sim.create_account("shopify", shop, None).webhook_secret;
    let shopify = connect_with_secret(
        &api,
        &sim,
        "shopify",
        shop,
        None,
        json!({}),
        Some(&shop_secret),
    )
    .await?;
    let others = vec![
        crate::sync::connect(&api, &sim, "woocommerce", "orders-store", None, json!({})).await?,
        crate::sync::connect(
            &api,
            &sim,
            "ebay",
            "orders-seller",
            None,
            shelfsync_sim::ebay::seller_settings(),
        )
        .await?,
    ];
    let seeded = seed(&api, opts.products, "ORD", false).await?;
    let ids: Vec<String> = seeded.iter().map(|s| s.0.clone()).collect();
    for channel in std::iter::once(&shopify).chain(&others) {
        publish(&api, channel, &ids).await?;
    }
    for channel in std::iter::once(&shopify).chain(&others) {
        settled(&api, channel, Duration::from_secs(300)).await?;
    }
    let client = reqwest::Client::new();
    client
        .post(format!("{}/_sim/shopify/{shop}/webhooks", sim.url()))
        .json(&json!({"url": format!("{}/webhooks/shopify/{}", server.base, shopify.connection)}))
        .send()
        .await?
        .error_for_status()?;
    println!(
        "{} products on 3 channels; measuring {} orders",
        opts.products, opts.orders
    );
    // Every product starts with 50 in stock (see `seed`).
    let mut stock: Vec<i64> = vec![50; seeded.len()];
    let mut samples = Vec::with_capacity(opts.orders);
    for n in 0..opts.orders {
        let i = n % seeded.len();
        let sku = &seeded[i].2;
        stock[i] -= 1;
        let started = Instant::now();
        client
            .post(format!("{}/_sim/shopify/{shop}/orders", sim.url()))
            .json(&json!({"lines": [{"sku": sku, "quantity": 1}]}))
            .send()
            .await?
            .error_for_status()
            .context("placing the order")?;
        for channel in &others {
            let deadline = Instant::now() + Duration::from_secs(30);
            while held_variant(&client, &sim, channel.platform, channel.account, sku)
                .await?
                .and_then(|v| v["quantity"].as_i64())
                != Some(stock[i])
            {
                anyhow::ensure!(
                    Instant::now() < deadline,
                    "{} never showed {sku} at {}",
                    channel.platform,
                    stock[i]
                );
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        samples.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "order on Shopify -> stock on WooCommerce and eBay: {}",
        Percentiles::new(samples).summary()
    );
    server.stop().await;
    let _ = std::fs::remove_dir_all(&launch.data_dir);
    Ok(())
}
