//! The cleanup job: forgets what nobody needs any more. Runs as a repeatable
//! job, so one process does it per period however many run.

use std::time::Duration;

use async_trait::async_trait;
use shelfsync_store::JobRecord;

use crate::worker::{JobContext, JobError, JobHandler};

pub const CLEANUP_QUEUE: &str = "cleanup";
pub const CLEANUP_JOB: &str = "cleanup.run";

const DAY: Duration = Duration::from_secs(24 * 3600);

/// How long each kind of record is kept.
#[derive(Debug, Clone)]
pub struct Retention {
    pub processed_outbox: Duration,
    pub dead_jobs: Duration,
    pub channel_writes: Duration,
    pub stopped_workers: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            processed_outbox: 7 * DAY,
            dead_jobs: 30 * DAY,
            channel_writes: 30 * DAY,
            stopped_workers: DAY,
        }
    }
}

pub struct Cleanup {
    pub retention: Retention,
}

#[async_trait]
impl JobHandler for Cleanup {
    async fn run(&self, _job: &JobRecord, cx: &JobContext) -> Result<(), JobError> {
        let store = &cx.store;
        let r = &self.retention;
        let fail = |what: &str, e: shelfsync_store::StoreError| {
            JobError::Retry(format!("purging {what}: {e}"))
        };
        let keys = store
            .purge_idempotency_keys()
            .await
            .map_err(|e| fail("idempotency keys", e))?;
        let outbox = store
            .purge_outbox(r.processed_outbox)
            .await
            .map_err(|e| fail("outbox events", e))?;
        let dead = store
            .purge_dead_jobs(r.dead_jobs)
            .await
            .map_err(|e| fail("dead jobs", e))?;
        let writes = store
            .purge_channel_writes(r.channel_writes)
            .await
            .map_err(|e| fail("channel writes", e))?;
        let workers = store
            .purge_workers(r.stopped_workers)
            .await
            .map_err(|e| fail("worker heartbeats", e))?;
        let nonces = store
            .purge_webhook_nonces()
            .await
            .map_err(|e| fail("webhook nonces", e))?;
        tracing::info!(
            idempotency_keys = keys,
            outbox_events = outbox,
            dead_jobs = dead,
            channel_writes = writes,
            workers,
            webhook_nonces = nonces,
            "cleanup done"
        );
        Ok(())
    }
}
