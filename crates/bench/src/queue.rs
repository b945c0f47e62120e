//! The job queue on its own: no-op jobs through the real store and workers.
//!
//! Throughput: enqueue `--jobs` no-op jobs (in transactions of 1,000), then
//! start a worker with `--concurrency` slots and time until the last one has
//! been recorded done (its row deleted in a committed transaction).
//! Latency: with the worker idle, enqueue one job at a time (`--samples`, 20 ms
//! apart) and measure from just before the enqueue call to the handler starting.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use clap::Args;
use shelfsync_runtime::{JobContext, JobError, JobHandler, Runtime, RuntimeConfig, Wakeups};
use shelfsync_store::{JobRecord, NewJob, Store, StoreOptions};

use crate::stats::Percentiles;

#[derive(Args)]
pub struct QueueOptions {
    /// `sqlite://…` (a fresh file is best) or `postgres://…` (a fresh database).
    #[arg(long, default_value = "sqlite://target/bench-queue.db")]
    database_url: String,
    /// Wake-ups over Redis pub/sub (scaled mode) instead of in-process.
    #[arg(long)]
    redis_url: Option<String>,
    #[arg(long, default_value_t = 20_000)]
    jobs: usize,
    /// Jobs run at once by the worker.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    #[arg(long, default_value_t = 500)]
    samples: usize,
}

const QUEUE: &str = "bench";
const KIND: &str = "noop";

struct Noop {
    done: Arc<AtomicUsize>,
    started: Arc<Mutex<Vec<(String, Instant)>>>,
    record_starts: bool,
}

#[async_trait]
impl JobHandler for Noop {
    async fn run(&self, job: &JobRecord, _cx: &JobContext) -> Result<(), JobError> {
        if self.record_starts {
            let tag = job.payload["tag"].as_str().unwrap_or_default().to_owned();
            self.started.lock().unwrap().push((tag, Instant::now()));
        }
        self.done.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

fn job(tag: String) -> NewJob {
    NewJob {
        payload: serde_json::json!({ "tag": tag }),
        ..NewJob::new(QUEUE, KIND, 3)
    }
}

pub async fn run(opts: QueueOptions) -> anyhow::Result<()> {
    let store = Store::connect(
        &opts.database_url,
        &StoreOptions {
            max_connections: (opts.concurrency as u32 + 4).max(8),
            ..StoreOptions::default()
        },
    )
    .await?;
    store.migrate().await?;
    let wakeups = match &opts.redis_url {
        Some(url) => Wakeups::redis(url)?,
        None => Wakeups::local(),
    };
    let config = RuntimeConfig {
        poll: Duration::from_secs(1),
        ..RuntimeConfig::default()
    };
    println!(
        "backend: {:?}, wake-ups: {}, concurrency {}",
        store.kind(),
        wakeups.describe(),
        opts.concurrency
    );

    // Throughput.
    let enqueue_started = Instant::now();
    for chunk in (0..opts.jobs).collect::<Vec<_>>().chunks(1000) {
        let jobs: Vec<NewJob> = chunk.iter().map(|i| job(i.to_string())).collect();
        store.enqueue_jobs(&jobs).await?;
    }
    let enqueue_secs = enqueue_started.elapsed().as_secs_f64();
    let done = Arc::new(AtomicUsize::new(0));
    let handler = Noop {
        done: done.clone(),
        started: Arc::default(),
        record_starts: false,
    };
    let started = Instant::now();
    let handle = Runtime::new(store.clone(), wakeups.clone(), config.clone())
        .queue(
            QUEUE,
            opts.concurrency,
            [(KIND, Arc::new(handler) as Arc<dyn JobHandler>)],
        )
        .start()
        .await?;
    wait_until_recorded(&store, opts.jobs, &done).await?;
    let secs = started.elapsed().as_secs_f64();
    handle.shutdown().await;
    println!(
        "enqueue: {} jobs in {:.2} s ({:.0} jobs/s, batches of 1,000)",
        opts.jobs,
        enqueue_secs,
        opts.jobs as f64 / enqueue_secs
    );
    println!(
        "process: {} no-op jobs in {:.2} s = {:.0} jobs/s",
        opts.jobs,
        secs,
        opts.jobs as f64 / secs
    );

    // Enqueue-to-start latency, one job at a time into an idle worker.
    let starts: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let done = Arc::new(AtomicUsize::new(0));
    let handler = Noop {
        done: done.clone(),
        started: starts.clone(),
        record_starts: true,
    };
    let handle = Runtime::new(store.clone(), wakeups.clone(), config)
        .queue(
            QUEUE,
            opts.concurrency,
            [(KIND, Arc::new(handler) as Arc<dyn JobHandler>)],
        )
        .start()
        .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut sent = Vec::with_capacity(opts.samples);
    for i in 0..opts.samples {
        let at = Instant::now();
        store.enqueue_jobs(&[job(format!("s{i}"))]).await?;
        wakeups.wake(QUEUE).await;
        sent.push(at);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    wait_until_recorded(&store, opts.samples, &done).await?;
    handle.shutdown().await;
    let starts = std::mem::take(&mut *starts.lock().unwrap());
    let latencies: Vec<Duration> = starts
        .iter()
        .map(|(tag, at)| {
            let i: usize = tag[1..].parse().expect("tag");
            at.duration_since(sent[i])
        })
        .collect();
    let p = Percentiles::new(latencies);
    println!(
        "enqueue-to-start ms ({} samples): p50 {:.2}  p99 {:.2}  max {:.2}",
        opts.samples,
        p.ms(50.0),
        p.ms(99.0),
        p.max_ms()
    );
    store.close().await;
    Ok(())
}

/// Waits until the handler ran `n` times and the queue holds nothing more.
async fn wait_until_recorded(store: &Store, n: usize, done: &AtomicUsize) -> anyhow::Result<()> {
    loop {
        if done.load(Ordering::Relaxed) >= n {
            let stats = store.queue_stats().await?;
            if stats
                .iter()
                .filter(|s| s.queue == QUEUE)
                .all(|s| s.due + s.running + s.delayed == 0)
            {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
