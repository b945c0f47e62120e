//! One queue's consumer: claims due jobs up to its concurrency, runs each
//! under a lease it keeps extending, records the outcome, and on shutdown
//! hands back whatever it could not finish in time.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::FutureExt;
use shelfsync_core::JobId;
use shelfsync_store::{FailOutcome, JobRecord, Store};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::wake::Wakeups;
use shelfsync_core::retry::Backoff;

/// Why a job did not finish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// Worth trying again after the queue's back-off.
    #[error("{0}")]
    Retry(String),
    /// Worth trying again, but not before this long (a channel's `Retry-After`).
    #[error("{0}")]
    RetryAfter(String, Duration),
    /// Trying again cannot help: straight to the dead letters.
    #[error("{0}")]
    Fatal(String),
    /// The worker is shutting down: hand the job back without charging an attempt.
    #[error("interrupted by shutdown")]
    Interrupted,
}

/// What a handler may use while it runs a job.
#[derive(Clone)]
pub struct JobContext {
    pub store: Store,
    pub wakeups: Wakeups,
    /// Cancelled when the process starts shutting down: long jobs should
    /// stop at a safe point and return [`JobError::Interrupted`].
    pub shutdown: CancellationToken,
    pub worker_id: String,
}

/// Runs the jobs of one kind. Handlers must be idempotent: a job whose
/// worker died is run again by another.
#[async_trait]
pub trait JobHandler: Send + Sync + 'static {
    async fn run(&self, job: &JobRecord, cx: &JobContext) -> Result<(), JobError>;
}

/// How one queue is consumed.
#[derive(Debug, Clone)]
pub struct QueueSettings {
    pub name: String,
    /// Jobs run at once by this process.
    pub concurrency: usize,
    /// How long a claimed job stays ours without a lease extension.
    pub lease: Duration,
    /// The longest a due job waits when its wake-up was lost.
    pub poll: Duration,
    pub backoff: Backoff,
    /// How long shutdown waits for running jobs before handing them back.
    pub grace: Duration,
}

/// Counts shared with the heartbeat.
#[derive(Debug, Default)]
pub struct WorkerCounters {
    pub done: AtomicI64,
    pub failed: AtomicI64,
}

pub(crate) struct QueueWorker {
    pub settings: QueueSettings,
    pub handlers: HashMap<String, Arc<dyn JobHandler>>,
    pub cx: JobContext,
    pub counters: Arc<WorkerCounters>,
}

type InFlight = Arc<Mutex<HashMap<JobId, ()>>>;
type Completions = mpsc::UnboundedSender<JobId>;

impl QueueWorker {
    /// Runs until `cx.shutdown` is cancelled, then drains within the grace period.
    pub async fn run(self) {
        let this = Arc::new(self);
        let queue = this.settings.name.clone();
        let slots = Arc::new(Semaphore::new(this.settings.concurrency.max(1)));
        let in_flight: InFlight = Arc::default();
        let mut tasks: JoinSet<()> = JoinSet::new();
        // Dropped, and so stopped, with this future, even when it is aborted.
        let _lease_keeper = AbortOnDrop(tokio::spawn(keep_leases(this.clone(), in_flight.clone())));
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let mut completer = AbortOnDrop(tokio::spawn(record_completions(
            this.cx.clone(),
            queue.clone(),
            done_rx,
        )));
        let stop = this.cx.shutdown.clone();

        while !stop.is_cancelled() {
            while tasks.try_join_next().is_some() {}
            let free = slots.available_permits();
            if free == 0 {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tasks.join_next() => continue,
                }
            }
            // Claim a full round even when only some slots are free: the
            // rest wait here for a slot, leased and kept alive like running
            // jobs, so short jobs cost one claim per round, not one each.
            let round = this.settings.concurrency.max(1);
            let claimed = match this
                .cx
                .store
                .claim_jobs(
                    &queue,
                    &this.cx.worker_id,
                    round as u32,
                    this.settings.lease,
                )
                .await
            {
                Ok(jobs) => jobs,
                Err(e) => {
                    tracing::warn!(error = %e, queue, "cannot claim jobs; retrying");
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = tokio::time::sleep(this.settings.poll) => continue,
                    }
                }
            };
            let got_all = claimed.len() == round;
            {
                let mut held = in_flight.lock().expect("in-flight poisoned");
                for job in &claimed {
                    held.insert(job.id, ());
                }
            }
            let mut waiting = claimed.into_iter();
            while let Some(job) = waiting.next() {
                let permit = tokio::select! {
                    biased;
                    _ = stop.cancelled() => {
                        // Shutting down: jobs that never started go straight back.
                        for job in std::iter::once(job).chain(waiting) {
                            in_flight.lock().expect("in-flight poisoned").remove(&job.id);
                            if let Err(e) = this.cx.store.release_job(job.id, &this.cx.worker_id).await {
                                tracing::warn!(error = %e, job = %job.id, "cannot hand back job; it returns after its lease");
                            }
                        }
                        break;
                    }
                    permit = slots.clone().acquire_owned() => permit.expect("semaphore open"),
                };
                let this = this.clone();
                let in_flight = in_flight.clone();
                let done_tx = done_tx.clone();
                tasks.spawn(async move {
                    this.run_one(job, &in_flight, &done_tx).await;
                    drop(permit);
                });
            }
            if got_all {
                continue;
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = this.cx.wakeups.notified(&queue) => {}
                _ = tokio::time::sleep(this.settings.poll) => {}
            }
        }

        // Shutdown: no more claims. Let running jobs finish within the grace
        // period, then hand back the rest so another worker takes them now
        // rather than after their lease.
        let drained = tokio::time::timeout(this.settings.grace, async {
            while tasks.join_next().await.is_some() {}
        })
        .await
        .is_ok();
        if !drained {
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
            let left: Vec<JobId> = in_flight
                .lock()
                .expect("in-flight poisoned")
                .keys()
                .copied()
                .collect();
            for id in left {
                match this.cx.store.release_job(id, &this.cx.worker_id).await {
                    Ok(_) => tracing::info!(job = %id, queue, "handed back unfinished at shutdown"),
                    Err(e) => {
                        tracing::warn!(error = %e, job = %id, "cannot hand back job; it returns after its lease")
                    }
                }
            }
        }
        // Every task has ended: closing the channel lets the completer record
        // the last batch and stop.
        drop(done_tx);
        let _ = (&mut completer.0).await;
    }

    async fn run_one(&self, job: JobRecord, in_flight: &InFlight, done: &Completions) {
        let started = std::time::Instant::now();
        let outcome = match self.handlers.get(&job.kind) {
            Some(handler) => AssertUnwindSafe(handler.run(&job, &self.cx))
                .catch_unwind()
                .await
                .unwrap_or_else(|_| Err(JobError::Retry("the job handler panicked".into()))),
            None => Err(JobError::Fatal(format!(
                "no handler for job kind `{}` on queue `{}`",
                job.kind, job.queue
            ))),
        };
        // No more lease extensions: recording the outcome ends this run, and
        // the job may be claimed again (a rerun) before this task returns.
        in_flight
            .lock()
            .expect("in-flight poisoned")
            .remove(&job.id);
        let store = &self.cx.store;
        let worker = self.cx.worker_id.as_str();
        let recorded = match outcome {
            Ok(()) => {
                self.counters.done.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(job = %job.id, kind = job.kind, ms = started.elapsed().as_millis() as u64, "job done");
                // Recorded in batches by `record_completions`; until then the
                // job stays leased to us, so nobody else can take it.
                let _ = done.send(job.id);
                Ok(())
            }
            Err(JobError::Interrupted) => store.release_job(job.id, worker).await.map(|_| ()),
            Err(error) => {
                self.counters.failed.fetch_add(1, Ordering::Relaxed);
                let retry_at = match &error {
                    JobError::Fatal(_) => None,
                    _ if job.attempts >= job.max_attempts => None,
                    JobError::RetryAfter(_, after) => Some(*after),
                    _ => Some(
                        self.settings
                            .backoff
                            .delay(job.attempts as u32, rand::random::<f64>()),
                    ),
                }
                .map(|d| {
                    chrono::Utc::now()
                        + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
                });
                let message = error.to_string();
                store.fail_job(job.id, worker, &message, retry_at).await.map(|outcome| match outcome {
                    FailOutcome::Retrying(at) => tracing::warn!(job = %job.id, kind = job.kind, attempt = job.attempts, error = message, retry_at = %at, "job failed; will retry"),
                    FailOutcome::Dead => tracing::error!(job = %job.id, kind = job.kind, attempt = job.attempts, error = message, "job failed for good; moved to dead letters"),
                    FailOutcome::LeaseLost => tracing::warn!(job = %job.id, "failed after its lease passed to another worker"),
                })
            }
        };
        if let Err(e) = recorded {
            // The lease will lapse and the job run again: handlers are idempotent.
            tracing::error!(error = %e, job = %job.id, "cannot record the job's outcome");
        }
    }
}

/// Records finished jobs, as many per transaction as have finished while the
/// previous one committed: one commit per job would cap short jobs at a few
/// thousand a second. A batch that cannot be recorded is left to the leases:
/// those jobs run again (handlers are idempotent).
async fn record_completions(
    cx: JobContext,
    queue: String,
    mut done: mpsc::UnboundedReceiver<JobId>,
) {
    const MAX_BATCH: usize = 1000;
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(id) = done.recv().await {
        batch.push(id);
        while batch.len() < MAX_BATCH {
            match done.try_recv() {
                Ok(id) => batch.push(id),
                Err(_) => break,
            }
        }
        // Recording is safe to repeat: retry a failed batch (a deadlock, a
        // dropped connection) before leaving its jobs to their leases.
        let mut result = cx.store.complete_jobs(&batch, &cx.worker_id).await;
        let mut delay = Duration::from_millis(50);
        for _ in 0..5 {
            if result.is_ok() {
                break;
            }
            tokio::time::sleep(delay).await;
            delay *= 2;
            result = cx.store.complete_jobs(&batch, &cx.worker_id).await;
        }
        match result {
            Ok(completed) => {
                for id in completed.lost {
                    tracing::warn!(job = %id, "finished after its lease passed to another worker");
                }
                if completed.requeued > 0 {
                    // New work arrived while they ran: run them again now, not at the next poll.
                    cx.wakeups.wake(&queue).await;
                }
            }
            Err(e) => {
                tracing::error!(error = %e, jobs = batch.len(), "cannot record finished jobs; they will run again after their lease")
            }
        }
        batch.clear();
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Extends the lease of every running job at a third of the lease period, so
/// a live worker never loses a job to stalled-job recovery.
async fn keep_leases(worker: Arc<QueueWorker>, in_flight: InFlight) {
    let every = worker.settings.lease / 3;
    loop {
        tokio::time::sleep(every).await;
        let ids: Vec<JobId> = in_flight
            .lock()
            .expect("in-flight poisoned")
            .keys()
            .copied()
            .collect();
        if ids.is_empty() {
            continue;
        }
        match worker
            .cx
            .store
            .extend_leases(&worker.cx.worker_id, &ids, worker.settings.lease)
            .await
        {
            Ok(held) if held.len() < ids.len() => {
                tracing::warn!(
                    lost = ids.len() - held.len(),
                    queue = worker.settings.name,
                    "leases lost to another worker"
                )
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot extend job leases"),
        }
    }
}
