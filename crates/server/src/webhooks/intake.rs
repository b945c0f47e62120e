//! Storing verified deliveries before they are acknowledged, many per commit.
//!
//! Every delivery must be on disk before its 200 goes out (a crash after an
//! acknowledgement would otherwise lose it: the platform does not send it
//! again). One commit per delivery would cap the receiver at the database's
//! commit rate, so deliveries arriving together share one: each request
//! hands its record to a writer task and waits; a writer takes everything
//! waiting (up to [`MAX_BATCH`]) into one transaction and answers each. Under
//! light load a batch is one delivery and nothing waits for company.

use std::sync::Arc;
use std::time::{Duration, Instant};

use shelfsync_runtime::{WEBHOOK_QUEUE, Wakeups};
use shelfsync_store::{NewWebhookLog, Store, StoreError, WebhookAcceptance};
use tokio::sync::{Mutex, mpsc, oneshot};

use super::replay::Nonces;

/// Deliveries written in one transaction at most.
pub const MAX_BATCH: usize = 256;
/// How long a nonce keeps a delivery id from being accepted again.
pub const REPLAY_WINDOW: chrono::Duration = chrono::Duration::minutes(10);

/// Why a delivery could not be stored (the sender is told 503, and sends it
/// again later).
#[derive(Debug, Clone, thiserror::Error)]
pub enum IntakeError {
    #[error("storing the deliveries: {0}")]
    Store(Arc<StoreError>),
    #[error("claiming the deliveries' ids in Redis: {0}")]
    Nonces(Arc<redis::RedisError>),
    #[error("the webhook writer has stopped")]
    Stopped,
}

type Reply = oneshot::Sender<Result<WebhookAcceptance, IntakeError>>;

/// Hands deliveries to the writer tasks. Cheap to clone.
#[derive(Clone)]
pub struct Intake {
    queue: mpsc::Sender<(NewWebhookLog, Reply)>,
}

impl Intake {
    /// Starts `writers` writer tasks (one suits SQLite, whose writes are
    /// serial anyway; a few let PostgreSQL overlap commits).
    pub fn start(store: Store, wakeups: Wakeups, nonces: Nonces, writers: usize) -> Self {
        let (tx, rx) = mpsc::channel(MAX_BATCH * 8);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..writers.max(1) {
            let writer = Writer {
                store: store.clone(),
                wakeups: wakeups.clone(),
                nonces: nonces.clone(),
            };
            tokio::spawn(writer.run(rx.clone()));
        }
        Self { queue: tx }
    }

    /// Stores one delivery (claiming its `nonce` for the replay window, and
    /// with its job) and says what became of it once it is committed.
    pub async fn store(&self, delivery: NewWebhookLog) -> Result<WebhookAcceptance, IntakeError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((delivery, reply))
            .await
            .map_err(|_| IntakeError::Stopped)?;
        answer.await.map_err(|_| IntakeError::Stopped)?
    }
}

/// One writer task: takes what is waiting, claims nonces, commits, answers.
struct Writer {
    store: Store,
    wakeups: Wakeups,
    nonces: Nonces,
}

type Waiting = Arc<Mutex<mpsc::Receiver<(NewWebhookLog, Reply)>>>;

impl Writer {
    async fn run(self, queue: Waiting) {
        loop {
            let mut batch = Vec::new();
            {
                let mut queue = queue.lock().await;
                let Some(first) = queue.recv().await else {
                    return;
                };
                batch.push(first);
                while batch.len() < MAX_BATCH {
                    match queue.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
            }
            let (deliveries, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
            let answers = self.write(deliveries).await;
            let stored = matches!(&answers, Ok(a) if a.contains(&WebhookAcceptance::Stored));
            match answers {
                Ok(answers) => {
                    for (reply, answer) in replies.into_iter().zip(answers) {
                        let _ = reply.send(Ok(answer));
                    }
                }
                Err(e) => {
                    for reply in replies {
                        let _ = reply.send(Err(e.clone()));
                    }
                }
            }
            if stored {
                // In the background: in scaled mode a wake-up is a Redis
                // round trip, and the next batch should not wait for it (a
                // lost one only delays the worker until its next poll).
                let wakeups = self.wakeups.clone();
                tokio::spawn(async move { wakeups.wake(WEBHOOK_QUEUE).await });
            }
        }
    }

    /// Claims the batch's nonces (in Redis in one round trip, or in the
    /// transaction itself) and stores what is not a replay.
    async fn write(
        &self,
        mut deliveries: Vec<NewWebhookLog>,
    ) -> Result<Vec<WebhookAcceptance>, IntakeError> {
        let fail = |e: IntakeError| {
            tracing::error!(error = %e, "could not store webhook deliveries");
            e
        };
        let started = Instant::now();
        let Nonces::Redis { redis, prefix } = &self.nonces else {
            // The nonces are claimed in the store's own transaction.
            let stored = self.store.accept_webhooks(&deliveries, REPLAY_WINDOW).await;
            log_batch(deliveries.len(), Duration::ZERO, started.elapsed());
            return stored.map_err(|e| fail(IntakeError::Store(Arc::new(e))));
        };
        let keys: Vec<String> = deliveries
            .iter_mut()
            .map(|d| d.nonce.take().unwrap_or_default())
            .collect();
        let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let claimed = Nonces::claim_in_redis(redis, prefix, &key_refs)
            .await
            .map_err(|e| fail(IntakeError::Nonces(Arc::new(e))))?;
        let claiming = started.elapsed();
        let mut answers = vec![WebhookAcceptance::Replayed; deliveries.len()];
        let fresh: Vec<usize> = (0..deliveries.len())
            .filter(|&i| claimed[i] || key_refs[i].is_empty())
            .collect();
        // Moved, not cloned: each delivery carries its headers and body.
        let batch: Vec<NewWebhookLog> = deliveries
            .into_iter()
            .enumerate()
            .filter(|(i, _)| claimed[*i] || key_refs[*i].is_empty())
            .map(|(_, d)| d)
            .collect();
        let stored = self.store.accept_webhooks(&batch, REPLAY_WINDOW).await;
        log_batch(key_refs.len(), claiming, started.elapsed() - claiming);
        match stored {
            Ok(stored) => {
                for (&i, answer) in fresh.iter().zip(stored) {
                    answers[i] = answer;
                }
                Ok(answers)
            }
            Err(e) => {
                let mine: Vec<&str> = fresh.iter().map(|&i| key_refs[i]).collect();
                self.nonces.release(&mine).await;
                Err(fail(IntakeError::Store(Arc::new(e))))
            }
        }
    }
}

/// One line per batch at debug: its size, and the time spent claiming its
/// nonces in Redis (zero when the store claims them) and storing it.
fn log_batch(deliveries: usize, claiming: Duration, storing: Duration) {
    tracing::debug!(
        deliveries,
        claim_ms = claiming.as_secs_f64() * 1e3,
        store_ms = storing.as_secs_f64() * 1e3,
        "webhook batch"
    );
}
