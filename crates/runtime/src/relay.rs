//! The outbox relay: turns committed catalog changes into pending listings
//! and sync wake-ups.

use std::time::Duration;

use shelfsync_store::{SYNC_QUEUE, Store};
use tokio_util::sync::CancellationToken;

use crate::wake::Wakeups;

/// The wake-up queue name for "new outbox events": API processes wake it after
/// a write, relays wait on it.
pub const OUTBOX_QUEUE: &str = "outbox";

#[derive(Debug, Clone)]
pub struct RelaySettings {
    /// Events per transaction.
    pub batch: u32,
    /// The longest an event waits when its wake-up was lost.
    pub poll: Duration,
    /// Attempts for the sync jobs the relay enqueues.
    pub sync_max_attempts: i32,
}

/// Relays until `stop`, in batches, as long as there is a backlog; then waits
/// for a wake-up or the poll. A batch in progress at shutdown commits or rolls
/// back as a whole, so stopping at any point loses nothing.
pub async fn run_relay(
    store: Store,
    wakeups: Wakeups,
    settings: RelaySettings,
    stop: CancellationToken,
) {
    while !stop.is_cancelled() {
        match store
            .relay_outbox(settings.batch, settings.sync_max_attempts)
            .await
        {
            Ok(batch) if batch.events > 0 => {
                if let Some(oldest) = batch.oldest_created_at {
                    let lag = (chrono::Utc::now() - oldest).num_milliseconds();
                    tracing::debug!(
                        events = batch.events,
                        listings = batch.listings,
                        lag_ms = lag,
                        "outbox relayed"
                    );
                }
                if !batch.connections.is_empty() {
                    wakeups.wake(SYNC_QUEUE).await;
                }
                continue;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "outbox relay failed; retrying"),
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = wakeups.notified(OUTBOX_QUEUE) => {}
            _ = tokio::time::sleep(settings.poll) => {}
        }
    }
}
