//! `shelfsync worker`: the background workers as a process of their own.

use std::sync::Arc;

use anyhow::Context;
use shelfsync_runtime::connections::ChannelHub;
use shelfsync_runtime::push::ChannelPush;
use shelfsync_runtime::{Reconciler, Runtime, RuntimeHandle, Wakeups, WorkerKind};
use shelfsync_store::Store;

use crate::config::{GlobalOptions, RuntimeOptions, WorkerOptions};

pub async fn run(global: &GlobalOptions, opts: WorkerOptions) -> anyhow::Result<()> {
    let store = super::open_store(global).await?;
    let wakeups = Wakeups::for_deployment(&store, global.redis_url.as_deref())
        .context("REDIS_URL is not usable")?;
    let kinds = if opts.only.is_empty() {
        WorkerKind::ALL.to_vec()
    } else {
        opts.only.clone()
    };
    let hub = super::channels::hub(global, &store).await?;
    let handle = start(&store, wakeups, &opts.runtime, &kinds, hub).await?;
    println!(
        "Shelfsync worker {} running: {}",
        handle.worker_id(),
        kinds
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    super::serve::shutdown_signal().await;
    handle.shutdown().await;
    store.close().await;
    Ok(())
}

/// Starts the chosen workers in this process.
pub async fn start(
    store: &Store,
    wakeups: Wakeups,
    opts: &RuntimeOptions,
    kinds: &[WorkerKind],
    hub: ChannelHub,
) -> anyhow::Result<RuntimeHandle> {
    let config = opts.config();
    let reconciler = Reconciler::new(hub.clone(), config.max_attempts);
    Runtime::standard(
        store.clone(),
        wakeups,
        config,
        kinds,
        Arc::new(ChannelPush::new(hub.clone())),
        Some(Arc::new(reconciler)),
    )
    .with_channels(hub)
    .start()
    .await
    .context("could not start the workers")
}
