//! Open-loop load: requests are sent on a fixed schedule whatever the server
//! does, and each latency is measured from when the request was *due*, so a
//! stalled server shows up in the percentiles instead of slowing the load down
//! (no coordinated omission).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::server::Server;
use crate::stats::Percentiles;

#[derive(Args)]
pub struct GetProductOptions {
    /// Products to seed before measuring.
    #[arg(long, default_value_t = 100_000)]
    products: usize,
    /// Requests per second to hold.
    #[arg(long, default_value_t = 1000)]
    rate: u32,
    /// Seconds measured (after a warm-up of a quarter as long).
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// The shelfsync binary to run.
    #[arg(long, default_value = "target/release/shelfsync")]
    bin: PathBuf,
    /// Run on PostgreSQL instead of the default SQLite.
    #[arg(long)]
    database_url: Option<String>,
    #[arg(long)]
    redis_url: Option<String>,
    #[arg(long, default_value_t = 18_181)]
    port: u16,
    /// Use the products already in the database (from an earlier run) when
    /// there are enough, instead of seeding again.
    #[arg(long)]
    reuse: bool,
}

pub async fn get_product(opts: GetProductOptions) -> anyhow::Result<()> {
    let server = Server::start(
        &opts.bin,
        opts.database_url.as_deref(),
        opts.redis_url.as_deref(),
        opts.port,
    )
    .await?;
    let result = run(&server, &opts).await;
    server.stop().await;
    result
}

async fn run(server: &Server, opts: &GetProductOptions) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let seed_start = Instant::now();
    let existing = if opts.reuse {
        existing_ids(&client, server, opts.products).await?
    } else {
        Vec::new()
    };
    let ids = if existing.len() >= opts.products {
        println!(
            "reusing {} products already in the database",
            existing.len()
        );
        existing
    } else {
        seed(&client, server, opts.products).await?
    };
    if !opts.reuse {
        println!(
            "seeded {} products through POST /v1/products/bulk in {:.1} s",
            ids.len(),
            seed_start.elapsed().as_secs_f64()
        );
    }

    if let Some(url) = &opts.database_url {
        // This machine's PostgreSQL runs with autovacuum off; refresh the
        // planner's statistics once, as autovacuum would after a bulk load.
        let store =
            shelfsync_store::Store::connect(url, &shelfsync_store::StoreOptions::default()).await?;
        store.analyze().await?;
        store.close().await;
        println!("refreshed planner statistics (ANALYZE)");
    }
    let warmup = (opts.seconds / 4).max(2);
    hold(&client, server, &ids, opts.rate, warmup).await;
    let samples = hold(&client, server, &ids, opts.rate, opts.seconds).await;
    report(&samples, opts.rate, opts.seconds);
    Ok(())
}

/// Up to `count` product ids already stored, read through the list API.
async fn existing_ids(
    client: &reqwest::Client,
    server: &Server,
    count: usize,
) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::with_capacity(count);
    let mut cursor: Option<String> = None;
    while ids.len() < count {
        let mut url = format!("{}/v1/products?limit=250", server.base);
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page: Value = client
            .get(url)
            .bearer_auth(&server.key)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        for p in page["data"].as_array().into_iter().flatten() {
            if let Some(id) = p["id"].as_str() {
                ids.push(id.to_string());
            }
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    Ok(ids)
}

async fn seed(
    client: &reqwest::Client,
    server: &Server,
    count: usize,
) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::with_capacity(count);
    let mut next = 0;
    while next < count {
        let batch: Vec<Value> = (next..(next + 1000).min(count))
            .map(|i| {
                json!({
                    "title": format!("Load product {i}"),
                    "vendor": "Acme",
                    "tags": ["load", format!("group-{}", i % 50)],
                    "options": ["Size"],
                    "variants": [
                        { "sku": format!("LOAD-{i}-S"), "options": ["S"], "price": "19.99", "inventory_quantity": 10 },
                        { "sku": format!("LOAD-{i}-M"), "options": ["M"], "price": "21.99", "inventory_quantity": 5 }
                    ]
                })
            })
            .collect();
        let response = client
            .post(format!("{}/v1/products/bulk", server.base))
            .bearer_auth(&server.key)
            .json(&json!({ "products": batch }))
            .send()
            .await?;
        anyhow::ensure!(
            response.status().is_success(),
            "seeding failed: {}",
            response.text().await?
        );
        let outcome: Value = response.json().await?;
        for r in outcome["results"].as_array().into_iter().flatten() {
            if let Some(id) = r["product_id"].as_str() {
                ids.push(id.to_string());
            }
        }
        next += 1000;
    }
    Ok(ids)
}

struct Sample {
    latency: Duration,
    ok: bool,
}

async fn hold(
    client: &reqwest::Client,
    server: &Server,
    ids: &[String],
    rate: u32,
    seconds: u64,
) -> Vec<Sample> {
    let total = u64::from(rate) * seconds;
    let start = tokio::time::Instant::now();
    let mut tasks = JoinSet::new();
    for i in 0..total {
        let due = start + Duration::from_secs_f64(i as f64 / f64::from(rate));
        tokio::time::sleep_until(due).await;
        let url = format!(
            "{}/v1/products/{}",
            server.base,
            ids[(i as usize * 7919) % ids.len()]
        );
        let request = client.get(url).bearer_auth(&server.key);
        tasks.spawn(async move {
            let ok = match request.send().await {
                Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                Err(_) => false,
            };
            Sample {
                latency: due.elapsed(),
                ok,
            }
        });
    }
    let mut samples = Vec::with_capacity(total as usize);
    while let Some(s) = tasks.join_next().await {
        if let Ok(s) = s {
            samples.push(s);
        }
    }
    samples
}

fn report(samples: &[Sample], rate: u32, seconds: u64) {
    let errors = samples.iter().filter(|s| !s.ok).count();
    let latencies = Percentiles::new(samples.iter().map(|s| s.latency).collect());
    let pct = |p: f64| latencies.ms(p);
    println!(
        "GET /v1/products/{{id}} at {rate} req/s for {seconds} s: {} requests, {errors} errors",
        samples.len()
    );
    println!(
        "latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
        pct(50.0),
        pct(90.0),
        pct(99.0),
        pct(99.9),
        latencies.max_ms()
    );
}
