//! Commit to wake-up: a stock change commits, and the time until the sync
//! worker starts on the listing's connection is measured. That covers the
//! relay's wake-up, its transaction (listing pending, sync job enqueued), the
//! sync queue's wake-up and its claim: everything between a change and the
//! channel push. Idle system, one change at a time, 20 ms apart.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use clap::Args;
use shelfsync_core::{ConnectionId, TenantId};
use shelfsync_runtime::{
    ConnectionSync, JobContext, JobError, OUTBOX_QUEUE, Runtime, RuntimeConfig, Wakeups, WorkerKind,
};
use shelfsync_store::{Store, StoreOptions, WriteContext};
use tokio::sync::mpsc;

use crate::stats::Percentiles;

#[derive(Args)]
pub struct RelayOptions {
    #[arg(long, default_value = "sqlite://target/bench-relay.db")]
    database_url: String,
    #[arg(long)]
    redis_url: Option<String>,
    #[arg(long, default_value_t = 500)]
    samples: usize,
}

/// Reports each sync run's start.
struct Signal(mpsc::UnboundedSender<Instant>);

#[async_trait]
impl ConnectionSync for Signal {
    async fn sync(&self, _: TenantId, _: ConnectionId, _: &JobContext) -> Result<(), JobError> {
        let _ = self.0.send(Instant::now());
        Ok(())
    }
}

pub async fn run(opts: RelayOptions) -> anyhow::Result<()> {
    let store = Store::connect(&opts.database_url, &StoreOptions::default()).await?;
    store.migrate().await?;
    let wakeups = match &opts.redis_url {
        Some(url) => Wakeups::redis(url)?,
        None => Wakeups::local(),
    };
    let tenant = store.create_tenant("Bench", None).await?;
    let ctx = WriteContext::new(tenant, "bench");
    let product = serde_json::from_value(serde_json::json!({
        "title": "Bench mug",
        "variants": [{ "sku": format!("BENCH-{}", rand::random::<u32>()), "price": "9.00", "inventory_quantity": 1000000 }]
    }))?;
    let product = store.create_product(&ctx, &product).await?;
    let variant = product.variants[0].id;
    let connection = store
        .insert_connection(tenant, "bench", "Bench shop")
        .await?;
    store
        .upsert_listing(tenant, connection, product.id, variant)
        .await?;

    let (tx, mut rx) = mpsc::unbounded_channel();
    let handle = Runtime::standard(
        store.clone(),
        wakeups.clone(),
        RuntimeConfig::default(),
        &[WorkerKind::Outbox, WorkerKind::Sync],
        Arc::new(Signal(tx)),
        None,
    )
    .start()
    .await?;
    // The product's own creation event: let it pass.
    wakeups.wake(OUTBOX_QUEUE).await;
    tokio::time::timeout(Duration::from_secs(10), rx.recv()).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    while rx.try_recv().is_ok() {}

    let change = serde_json::from_value(serde_json::json!({ "adjust": -1 }))?;
    let mut latencies = Vec::with_capacity(opts.samples);
    for _ in 0..opts.samples {
        let started = Instant::now();
        store.change_inventory(&ctx, variant, &change).await?;
        let committed = Instant::now();
        wakeups.wake(OUTBOX_QUEUE).await;
        let woke = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await?
            .ok_or_else(|| anyhow::anyhow!("sync worker stopped"))?;
        latencies.push((woke - committed, committed - started));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    handle.shutdown().await;
    let wake = Percentiles::new(latencies.iter().map(|l| l.0).collect());
    let write = Percentiles::new(latencies.iter().map(|l| l.1).collect());
    println!(
        "backend: {:?}, wake-ups: {}, {} changes",
        store.kind(),
        wakeups.describe(),
        opts.samples
    );
    println!(
        "commit to sync start ms: p50 {:.2}  p99 {:.2}  max {:.2}",
        wake.ms(50.0),
        wake.ms(99.0),
        wake.max_ms()
    );
    println!(
        "(the stock change itself ms: p50 {:.2}  p99 {:.2})",
        write.ms(50.0),
        write.ms(99.0)
    );
    store.close().await;
    Ok(())
}
