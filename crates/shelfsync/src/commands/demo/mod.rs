//! `shelfsync demo`: the product as a new merchant first meets it. `serve`
//! on a fresh SQLite database in the data dir's `demo/` folder, with the
//! channel simulator in the same process playing three shops (Shopify,
//! WooCommerce, eBay), a sample catalog published to all three, a couple of
//! rules, and a trickle of orders placed on the shops that come back as
//! their signed webhooks and move stock everywhere.
//!
//! Everything is seeded through the public HTTP API, the way a merchant or
//! an integration would do it, so the demo also shows that path working.
//! The demo's folder is wiped on every start: the simulated shops live in
//! memory and would not match an older database.

mod catalog;
mod seed;

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use rand::Rng;
use shelfsync_server::auth::api_key;
use shelfsync_sim::Simulator;
use tokio::sync::oneshot;

use self::seed::{Api, Shop};
use crate::config::{GlobalOptions, ServeOptions};

#[derive(Debug, Args)]
pub struct DemoOptions {
    /// Products in the sample catalog (each has two to four variants).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=1440))]
    pub products: u64,
    /// Seconds between simulated orders (0 = no orders).
    #[arg(long, default_value_t = 3)]
    pub order_every_seconds: u64,
    #[command(flatten)]
    pub serve: ServeOptions,
}

pub async fn run(global: &GlobalOptions, mut opts: DemoOptions) -> anyhow::Result<()> {
    let sim = Simulator::start("127.0.0.1:0".parse()?)
        .await
        .context("could not start the channel simulator")?;
    let demo_global = demo_global(global, &sim)?;

    let key = match opts.serve.bootstrap_api_key.clone() {
        Some(key) => key,
        None => api_key::generate().secret,
    };
    opts.serve.bootstrap_api_key = Some(key.clone());
    // The dashboard refreshes every few seconds; the demo's own seeding
    // should not be what trips the per-key limit.
    opts.serve.rate_limit_per_minute = opts.serve.rate_limit_per_minute.max(1_000);

    let (ready_tx, ready_rx) = oneshot::channel();
    let serve = tokio::spawn(async move {
        super::serve::run(
            &demo_global,
            opts.serve,
            super::serve::Role::Serve,
            Some(ready_tx),
        )
        .await
    });
    let Ok(addr) = ready_rx.await else {
        // The server stopped before listening: its error says why.
        return serve.await.context("the server task failed")?;
    };
    let demo = async {
        let shops = seed_demo(&sim, addr, &key, opts.products as usize).await?;
        print_welcome(addr, &key, &sim);
        trickle_orders(&sim, &shops, opts.order_every_seconds).await
    };
    tokio::select! {
        result = serve => result.context("the server task failed")?,
        result = demo => result,
    }
}

/// The global options with the demo's own data dir, SQLite, no Redis, and
/// every platform reached at the simulator.
fn demo_global(global: &GlobalOptions, sim: &Simulator) -> anyhow::Result<GlobalOptions> {
    let data_dir = global.data_dir.join("demo");
    if data_dir.exists() {
        std::fs::remove_dir_all(&data_dir)
            .with_context(|| format!("could not clear {}", data_dir.display()))?;
    }
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("could not create {}", data_dir.display()))?;
    Ok(GlobalOptions {
        data_dir,
        database_url: None,
        redis_url: None,
        db_max_connections: global.db_max_connections,
        encryption_keys: None,
        channel_bases: Some(sim.channel_bases()),
        channel_apps: None,
        log_format: global.log_format,
    })
}

async fn seed_demo(
    sim: &Simulator,
    addr: SocketAddr,
    key: &str,
    products: usize,
) -> anyhow::Result<Vec<Shop>> {
    let api = Api::new(addr, key);
    let catalog = catalog::sample_catalog(products);
    let variants: usize = catalog.iter().map(|p| p.variants.len()).sum();
    println!();
    println!("Setting up the demo shop…");
    let product_ids = api.import(&catalog).await?;
    println!(
        "  catalog:   {} products, {variants} variants",
        product_ids.len()
    );
    let shops = seed::connect_shops(&api, sim, addr).await?;
    seed::add_rules(&api, &shops).await?;
    for shop in &shops {
        api.publish(&shop.connection_id, &product_ids).await?;
        println!(
            "  channel:   {} ({}), publishing {} products",
            shop.label,
            shop.account,
            product_ids.len()
        );
    }
    Ok(shops)
}

fn print_welcome(addr: SocketAddr, key: &str, sim: &Simulator) {
    println!();
    println!("The demo is running.");
    println!("  Dashboard:  http://{addr}/#key={key}");
    println!("  API key:    {key}");
    println!("  API docs:   http://{addr}/docs");
    println!("  Simulator:  {}/_sim/stats", sim.url());
    println!(
        "  Try:        curl -H 'Authorization: Bearer {key}' 'http://{addr}/v1/listings?limit=5'"
    );
    println!("Listings sync within the shops' rate limits; orders follow. Ctrl-C stops.");
    println!();
}

/// Place an order on a random shop that takes webhooks every `every`
/// seconds, for one to three units of a variant that shop has in stock.
async fn trickle_orders(sim: &Simulator, shops: &[Shop], every: u64) -> anyhow::Result<()> {
    if every == 0 {
        return std::future::pending().await;
    }
    let selling: Vec<&Shop> = shops.iter().filter(|s| s.sends_webhooks).collect();
    let mut tick = tokio::time::interval(Duration::from_secs(every));
    tick.tick().await;
    loop {
        tick.tick().await;
        let shop = selling[rand::rng().random_range(0..selling.len())];
        let in_stock = seed::in_stock(sim, shop).await;
        if in_stock.is_empty() {
            continue;
        }
        let (sku, available) = &in_stock[rand::rng().random_range(0..in_stock.len())];
        let quantity = rand::rng().random_range(1..=3).min(*available);
        match seed::place_order(sim, shop, sku, quantity).await {
            Ok(()) => println!("order on {}: {quantity} x {sku}", shop.label),
            Err(error) => tracing::warn!(%error, "the demo could not place an order"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LogFormat;

    #[test]
    fn the_demo_never_touches_the_configured_database() {
        let dir = tempfile::tempdir().unwrap();
        let global = GlobalOptions {
            data_dir: dir.path().to_owned(),
            database_url: Some("postgres://postgres@127.0.0.1/prod".into()),
            redis_url: Some("redis://127.0.0.1".into()),
            db_max_connections: 4,
            encryption_keys: Some("k:secret".into()),
            channel_bases: None,
            channel_apps: None,
            log_format: LogFormat::Text,
        };
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let sim = runtime
            .block_on(Simulator::start("127.0.0.1:0".parse().unwrap()))
            .unwrap();
        std::fs::create_dir_all(dir.path().join("demo")).unwrap();
        std::fs::write(dir.path().join("demo/shelfsync.db"), b"old").unwrap();
        let demo = demo_global(&global, &sim).unwrap();
        assert_eq!(demo.data_dir, dir.path().join("demo"));
        assert!(demo.database_url().starts_with("sqlite://"));
        assert!(demo.redis_url.is_none() && demo.encryption_keys.is_none());
        assert!(!dir.path().join("demo/shelfsync.db").exists());
        assert!(demo.channel_bases.unwrap().contains(sim.url()));
    }
}
