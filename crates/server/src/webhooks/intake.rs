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

use shelfsync_runtime::{WEBHOOK_QUEUE, Wakeups};
use shelfsync_store::{NewWebhookLog, Store, StoreError, WebhookAcceptance};
use tokio::sync::{Mutex, mpsc, oneshot};

/// Deliveries written in one transaction at most.
pub const MAX_BATCH: usize = 256;
/// How long a nonce keeps a delivery id from being accepted again.
pub const REPLAY_WINDOW: chrono::Duration = chrono::Duration::minutes(10);

type Reply = oneshot::Sender<Result<WebhookAcceptance, Arc<StoreError>>>;

/// Hands deliveries to the writer tasks. Cheap to clone.
#[derive(Clone)]
pub struct Intake {
    queue: mpsc::Sender<(NewWebhookLog, Reply)>,
}

impl Intake {
    /// Starts `writers` writer tasks (one suits SQLite, whose writes are
    /// serial anyway; a few let PostgreSQL overlap commits).
    pub fn start(store: Store, wakeups: Wakeups, writers: usize) -> Self {
        let (tx, rx) = mpsc::channel(MAX_BATCH * 8);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..writers.max(1) {
            tokio::spawn(write_batches(store.clone(), wakeups.clone(), rx.clone()));
        }
        Self { queue: tx }
    }

    /// Stores one delivery (with its nonce claim and job) and says what
    /// became of it once it is committed.
    pub async fn store(
        &self,
        delivery: NewWebhookLog,
    ) -> Result<WebhookAcceptance, Arc<StoreError>> {
        let (reply, answer) = oneshot::channel();
        let stopped = || Arc::new(StoreError::Corrupt("the webhook writer has stopped".into()));
        self.queue
            .send((delivery, reply))
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn write_batches(
    store: Store,
    wakeups: Wakeups,
    queue: Arc<Mutex<mpsc::Receiver<(NewWebhookLog, Reply)>>>,
) {
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
        match store.accept_webhooks(&deliveries, REPLAY_WINDOW).await {
            Ok(answers) => {
                let stored = answers.contains(&WebhookAcceptance::Stored);
                for (reply, answer) in replies.into_iter().zip(answers) {
                    let _ = reply.send(Ok(answer));
                }
                if stored {
                    wakeups.wake(WEBHOOK_QUEUE).await;
                }
            }
            Err(e) => {
                tracing::error!(error = %e, deliveries = deliveries.len(), "could not store webhook deliveries");
                let e = Arc::new(e);
                for reply in replies {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }
}
