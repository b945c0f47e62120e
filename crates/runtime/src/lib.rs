//! The background side of Shelfsync: a durable job queue kept in the
//! database, the wake-ups that spare it from polling, and the workers that
//! consume it (outbox relay, sync, webhook, cleanup), with leases, heartbeats
//! and graceful shutdown.
//!
//! `shelfsync serve` runs a [`Runtime`] inside the API process, `shelfsync
//! worker` runs one on its own, `shelfsync api` runs none.

pub mod cleanup;
pub mod clerk;
pub mod connections;
pub mod dry_run;
pub mod idempotency;
pub mod orders;
pub mod prepare;
pub mod push;
pub mod reconcile;
pub mod refunds;
pub mod relay;
pub mod sync;
pub mod wake;
pub mod webhooks;
pub mod worker;

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use shelfsync_store::{
    CLERK_APPLY_JOB, JobSchedule, ORDERS_POLL_ALL_JOB, ORDERS_POLL_JOB, RECONCILE_ALL_JOB,
    RECONCILE_CONNECTION_JOB, SYNC_CONNECTION_JOB, SYNC_QUEUE, SYNC_RETRIES_JOB, Store,
    WEBHOOK_APPLY_JOB, WorkerBeat,
};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use crate::cleanup::{CLEANUP_JOB, CLEANUP_QUEUE, Cleanup, Retention};
pub use crate::reconcile::{ReconcileAllJob, ReconcileConnectionJob, ReconcileReport, Reconciler};
pub use crate::relay::{OUTBOX_QUEUE, RelaySettings};
pub use crate::sync::{ConnectionSync, NoChannels, RetryDueJob, SyncConnectionJob};
pub use crate::wake::Wakeups;
pub use crate::worker::{JobContext, JobError, JobHandler, QueueSettings, WorkerCounters};
pub use shelfsync_core::retry::Backoff;

pub use shelfsync_store::WEBHOOK_QUEUE;

/// The workers `shelfsync worker --only` can choose among.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorkerKind {
    Sync,
    Webhook,
    Outbox,
    Cleanup,
}

impl WorkerKind {
    pub const ALL: [WorkerKind; 4] = [Self::Sync, Self::Webhook, Self::Outbox, Self::Cleanup];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sync => "sync",
            Self::Webhook => "webhook",
            Self::Outbox => "outbox",
            Self::Cleanup => "cleanup",
        }
    }
}

impl FromStr for WorkerKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!("unknown worker `{s}` (expected one of sync, webhook, outbox, cleanup)")
            })
    }
}

/// Timings and sizes of the runtime; every one has a sane default.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    pub lease: Duration,
    pub poll: Duration,
    pub grace: Duration,
    pub heartbeat: Duration,
    pub max_attempts: i32,
    pub backoff: Backoff,
    pub sync_concurrency: usize,
    pub webhook_concurrency: usize,
    pub relay_batch: u32,
    pub cleanup_every: Duration,
    /// How often every active connection is read back and reconciled.
    pub reconcile_every: Duration,
    /// How often every active connection's recent orders are polled: the
    /// only way in for channels without webhooks, a safety net for the rest.
    pub order_poll_every: Duration,
    pub retention: Retention,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(30),
            poll: Duration::from_secs(1),
            grace: Duration::from_secs(30),
            heartbeat: Duration::from_secs(5),
            max_attempts: 10,
            backoff: Backoff::default(),
            sync_concurrency: 4,
            webhook_concurrency: 4,
            relay_batch: 200,
            cleanup_every: Duration::from_secs(3600),
            reconcile_every: Duration::from_secs(15 * 60),
            order_poll_every: Duration::from_secs(5 * 60),
            retention: Retention::default(),
        }
    }
}

/// The handler for each job kind of a queue.
type Handlers = HashMap<String, Arc<dyn JobHandler>>;

/// A set of queues to consume, the handlers for their job kinds, and
/// whether this process also relays the outbox and runs repeatable jobs.
pub struct Runtime {
    store: Store,
    wakeups: Wakeups,
    config: RuntimeConfig,
    queues: Vec<(QueueSettings, Handlers)>,
    relay: bool,
    schedules: Vec<JobSchedule>,
    host: String,
    worker_id: String,
    channels: Option<connections::ChannelHub>,
}

impl Runtime {
    /// An empty runtime: add queues with [`Runtime::queue`].
    pub fn new(store: Store, wakeups: Wakeups, config: RuntimeConfig) -> Self {
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_owned())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".into());
        let worker_id = format!(
            "{host}-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        );
        Self {
            store,
            wakeups,
            config,
            queues: Vec::new(),
            relay: false,
            schedules: Vec::new(),
            host,
            worker_id,
            channels: None,
        }
    }

    /// Meter this process's channel calls into `rate_limit_tracking` (every
    /// few seconds, and once more on shutdown) and raise quota alerts.
    pub fn with_channels(mut self, hub: connections::ChannelHub) -> Self {
        self.channels = Some(hub);
        self
    }

    /// The runtime `shelfsync worker` and `serve` run: the chosen workers with
    /// their built-in handlers, `sync` pushing through `sync`, and, given a
    /// `reconciler`, the sync workers also reconciling connections (every
    /// `reconcile_every`, and on demand).
    pub fn standard(
        store: Store,
        wakeups: Wakeups,
        config: RuntimeConfig,
        kinds: &[WorkerKind],
        sync: Arc<dyn ConnectionSync>,
        reconciler: Option<Arc<Reconciler>>,
    ) -> Self {
        let mut rt = Self::new(store, wakeups, config.clone());
        for kind in kinds {
            match kind {
                WorkerKind::Sync => {
                    rt = rt.queue(
                        SYNC_QUEUE,
                        config.sync_concurrency,
                        [
                            (
                                SYNC_CONNECTION_JOB,
                                Arc::new(SyncConnectionJob { sync: sync.clone() })
                                    as Arc<dyn JobHandler>,
                            ),
                            (
                                SYNC_RETRIES_JOB,
                                Arc::new(RetryDueJob {
                                    max_attempts: config.max_attempts,
                                }) as Arc<dyn JobHandler>,
                            ),
                        ],
                    );
                    rt.schedules.push(JobSchedule {
                        name: "sync-retries".into(),
                        queue: SYNC_QUEUE.into(),
                        kind: SYNC_RETRIES_JOB.into(),
                        every_seconds: 30,
                    });
                    if let Some(reconciler) = &reconciler {
                        let (_, handlers) = rt.queues.last_mut().expect("the sync queue");
                        handlers.insert(
                            RECONCILE_CONNECTION_JOB.into(),
                            Arc::new(ReconcileConnectionJob {
                                reconciler: reconciler.clone(),
                            }),
                        );
                        handlers.insert(
                            RECONCILE_ALL_JOB.into(),
                            Arc::new(ReconcileAllJob {
                                max_attempts: config.max_attempts,
                            }),
                        );
                        rt.schedules.push(JobSchedule {
                            name: "reconcile".into(),
                            queue: SYNC_QUEUE.into(),
                            kind: RECONCILE_ALL_JOB.into(),
                            every_seconds: config.reconcile_every.as_secs().max(1) as i64,
                        });
                    }
                }
                WorkerKind::Webhook => {
                    rt = rt.queue(
                        WEBHOOK_QUEUE,
                        config.webhook_concurrency,
                        [
                            (
                                WEBHOOK_APPLY_JOB,
                                Arc::new(webhooks::WebhookApplyJob {
                                    reconciler: reconciler.clone(),
                                    max_attempts: config.max_attempts,
                                }) as Arc<dyn JobHandler>,
                            ),
                            (
                                CLERK_APPLY_JOB,
                                Arc::new(clerk::ClerkApplyJob) as Arc<dyn JobHandler>,
                            ),
                        ],
                    );
                    // Polling reads channels, so it needs their credentials.
                    if let Some(reconciler) = &reconciler {
                        let (_, handlers) = rt.queues.last_mut().expect("the webhook queue");
                        handlers.insert(
                            ORDERS_POLL_JOB.into(),
                            Arc::new(orders::OrderPollJob {
                                hub: reconciler.hub.clone(),
                                max_attempts: config.max_attempts,
                            }),
                        );
                        handlers.insert(
                            ORDERS_POLL_ALL_JOB.into(),
                            Arc::new(orders::OrderPollAllJob {
                                max_attempts: config.max_attempts,
                            }),
                        );
                        rt.schedules.push(JobSchedule {
                            name: "orders-poll".into(),
                            queue: WEBHOOK_QUEUE.into(),
                            kind: ORDERS_POLL_ALL_JOB.into(),
                            every_seconds: config.order_poll_every.as_secs().max(1) as i64,
                        });
                    }
                }
                WorkerKind::Outbox => rt.relay = true,
                WorkerKind::Cleanup => {
                    rt = rt.queue(
                        CLEANUP_QUEUE,
                        1,
                        [(
                            CLEANUP_JOB,
                            Arc::new(Cleanup {
                                retention: config.retention.clone(),
                            }) as Arc<dyn JobHandler>,
                        )],
                    );
                    rt.schedules.push(JobSchedule {
                        name: "cleanup".into(),
                        queue: CLEANUP_QUEUE.into(),
                        kind: CLEANUP_JOB.into(),
                        every_seconds: config.cleanup_every.as_secs().max(1) as i64,
                    });
                }
            }
        }
        rt
    }

    /// Consumes `name` with up to `concurrency` jobs at once.
    pub fn queue<const N: usize>(
        mut self,
        name: &str,
        concurrency: usize,
        handlers: [(&str, Arc<dyn JobHandler>); N],
    ) -> Self {
        let settings = QueueSettings {
            name: name.into(),
            concurrency,
            lease: self.config.lease,
            poll: self.config.poll,
            backoff: self.config.backoff,
            grace: self.config.grace,
        };
        let handlers = handlers
            .into_iter()
            .map(|(k, h)| (k.to_owned(), h))
            .collect();
        self.queues.push((settings, handlers));
        self
    }

    /// Also relay the outbox in this process.
    pub fn with_relay(mut self) -> Self {
        self.relay = true;
        self
    }

    /// Also run this repeatable job (every process may; each period runs once).
    pub fn with_schedule(mut self, schedule: JobSchedule) -> Self {
        self.schedules.push(schedule);
        self
    }

    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// Starts everything in the background.
    pub async fn start(self) -> Result<RuntimeHandle, shelfsync_store::StoreError> {
        for schedule in &self.schedules {
            self.store.upsert_schedule(schedule).await?;
        }
        let stop = CancellationToken::new();
        let counters = Arc::new(WorkerCounters::default());
        let mut tasks = JoinSet::new();
        let cx = JobContext {
            store: self.store.clone(),
            wakeups: self.wakeups.clone(),
            shutdown: stop.clone(),
            worker_id: self.worker_id.clone(),
        };
        let mut names: Vec<String> = self.queues.iter().map(|(s, _)| s.name.clone()).collect();
        if self.relay {
            names.push(OUTBOX_QUEUE.into());
        }
        let listener = self.wakeups.spawn_listener(names.clone(), stop.clone());

        for (settings, handlers) in self.queues {
            let worker = worker::QueueWorker {
                settings,
                handlers,
                cx: cx.clone(),
                counters: counters.clone(),
            };
            tasks.spawn(worker.run());
        }
        if self.relay {
            let settings = RelaySettings {
                batch: self.config.relay_batch,
                poll: self.config.poll,
                sync_max_attempts: self.config.max_attempts,
            };
            tasks.spawn(relay::run_relay(
                self.store.clone(),
                self.wakeups.clone(),
                settings,
                stop.clone(),
            ));
        }
        if !self.schedules.is_empty() {
            let queues = self.schedules.iter().map(|s| s.queue.clone()).collect();
            tasks.spawn(run_scheduler(
                self.store.clone(),
                self.wakeups.clone(),
                queues,
                self.config.max_attempts,
                stop.clone(),
            ));
        }
        if let Some(hub) = self.channels.clone() {
            tasks.spawn(run_usage_flusher(hub, USAGE_FLUSH_EVERY, stop.clone()));
        }
        let beat = WorkerBeat {
            id: self.worker_id.clone(),
            host: self.host.clone(),
            pid: i64::from(std::process::id()),
            queues: names.join(","),
            started_at: chrono::Utc::now(),
            jobs_done: 0,
            jobs_failed: 0,
        };
        self.store.worker_heartbeat(&beat).await?;
        let heartbeat = tokio::spawn(run_heartbeat(
            self.store.clone(),
            beat,
            counters.clone(),
            self.config.heartbeat,
            stop.clone(),
        ));
        tracing::info!(
            worker = self.worker_id,
            queues = names.join(","),
            wakeups = self.wakeups.describe(),
            "workers started"
        );
        Ok(RuntimeHandle {
            stop,
            tasks,
            heartbeat,
            listener,
            store: self.store,
            worker_id: self.worker_id,
            counters,
        })
    }
}

/// A running [`Runtime`].
pub struct RuntimeHandle {
    stop: CancellationToken,
    tasks: JoinSet<()>,
    heartbeat: tokio::task::JoinHandle<()>,
    listener: Option<tokio::task::JoinHandle<()>>,
    store: Store,
    worker_id: String,
    counters: Arc<WorkerCounters>,
}

impl RuntimeHandle {
    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// Jobs finished and failed by this process so far.
    pub fn counts(&self) -> (i64, i64) {
        (
            self.counters.done.load(Ordering::Relaxed),
            self.counters.failed.load(Ordering::Relaxed),
        )
    }

    /// Graceful stop: no new jobs; running ones finish within the grace
    /// period or are handed back; the heartbeat records the stop.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        while self.tasks.join_next().await.is_some() {}
        let _ = self.heartbeat.await;
        if let Some(listener) = self.listener.take() {
            let _ = listener.await;
        }
        if let Err(e) = self.store.worker_stopped(&self.worker_id).await {
            tracing::warn!(error = %e, "cannot record the worker's stop");
        }
        tracing::info!(worker = self.worker_id, "workers stopped");
    }

    /// Stops everything at once, recording nothing and handing nothing back,
    /// as a crash would. Leases bring the jobs back. For tests.
    pub fn abort(mut self) {
        self.tasks.abort_all();
        self.heartbeat.abort();
        if let Some(listener) = self.listener.take() {
            listener.abort();
        }
    }
}

/// How often channel usage is written to the database.
const USAGE_FLUSH_EVERY: Duration = Duration::from_secs(5);

async fn run_usage_flusher(hub: connections::ChannelHub, every: Duration, stop: CancellationToken) {
    loop {
        let stopping = tokio::select! {
            biased;
            () = stop.cancelled() => true,
            () = tokio::time::sleep(every) => false,
        };
        if let Err(error) = hub.flush_usage().await {
            tracing::warn!(%error, "could not record channel usage");
        }
        if stopping {
            return;
        }
    }
}

async fn run_heartbeat(
    store: Store,
    mut beat: WorkerBeat,
    counters: Arc<WorkerCounters>,
    every: Duration,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        beat.jobs_done = counters.done.load(Ordering::Relaxed);
        beat.jobs_failed = counters.failed.load(Ordering::Relaxed);
        if let Err(e) = store.worker_heartbeat(&beat).await {
            tracing::warn!(error = %e, "heartbeat not recorded");
        }
    }
}

/// Enqueues repeatable jobs as they come due, checking once a second.
async fn run_scheduler(
    store: Store,
    wakeups: Wakeups,
    queues: Vec<String>,
    max_attempts: i32,
    stop: CancellationToken,
) {
    loop {
        match store.run_due_schedules(max_attempts).await {
            Ok(names) if !names.is_empty() => {
                tracing::debug!(schedules = names.join(","), "repeatable jobs enqueued");
                for queue in &queues {
                    wakeups.wake(queue).await;
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot run due schedules"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}
