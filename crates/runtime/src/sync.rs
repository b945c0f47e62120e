//! The sync job: one run per connection with pending listings.
//!
//! This module is the runtime's side: the job, its exclusivity (the job is
//! deduplicated by connection, so one connection's sync never runs twice at
//! once) and the ledger that keeps a retried write from applying twice. What
//! a run pushes to a channel is supplied by a [`ConnectionSync`].

use std::sync::Arc;

use async_trait::async_trait;
use shelfsync_core::{ConnectionId, TenantId};
use shelfsync_store::{JobRecord, NewJob};

use crate::worker::{JobContext, JobError, JobHandler};

/// Pushes one connection's pending listings to its channel.
#[async_trait]
pub trait ConnectionSync: Send + Sync + 'static {
    async fn sync(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        cx: &JobContext,
    ) -> Result<(), JobError>;
}

/// Used until channel adapters are registered: the pending listings stay
/// pending (nothing is lost) and the run says why.
pub struct NoChannels;

#[async_trait]
impl ConnectionSync for NoChannels {
    async fn sync(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        _cx: &JobContext,
    ) -> Result<(), JobError> {
        tracing::debug!(%tenant, %connection, "no channel adapter registered; listings stay pending");
        Ok(())
    }
}

/// The handler for `sync.connection` jobs.
pub struct SyncConnectionJob {
    pub sync: Arc<dyn ConnectionSync>,
}

#[async_trait]
impl JobHandler for SyncConnectionJob {
    async fn run(&self, job: &JobRecord, cx: &JobContext) -> Result<(), JobError> {
        let (tenant, connection) = job_connection(job)?;
        self.sync.sync(tenant, connection, cx).await
    }
}

/// The tenant and connection a per-connection job is for; a job without
/// them can never succeed.
pub(crate) fn job_connection(job: &JobRecord) -> Result<(TenantId, ConnectionId), JobError> {
    let tenant = job
        .tenant
        .ok_or_else(|| JobError::Fatal(format!("{} job without a tenant", job.kind)))?;
    let connection = job
        .payload
        .get("connection_id")
        .and_then(|v| v.as_str())
        .and_then(|s| s.parse::<ConnectionId>().ok())
        .ok_or_else(|| {
            JobError::Fatal(format!(
                "{} job without a valid connection_id: {}",
                job.kind, job.payload
            ))
        })?;
    Ok((tenant, connection))
}

/// Enqueues per-connection jobs in chunks and wakes the queues they are on.
pub(crate) async fn enqueue_and_wake(cx: &JobContext, jobs: &[NewJob]) -> Result<(), JobError> {
    for chunk in jobs.chunks(500) {
        cx.store
            .enqueue_jobs(chunk)
            .await
            .map_err(|e| JobError::Retry(e.to_string()))?;
    }
    let queues: std::collections::BTreeSet<&str> = jobs.iter().map(|j| j.queue.as_str()).collect();
    for queue in queues {
        cx.wakeups.wake(queue).await;
    }
    Ok(())
}

/// The handler for the repeatable `sync.retries` job: a listing the channel
/// refused for a passing reason waits for its retry time, by which the run
/// that failed it has long ended; this makes it pending and wakes its
/// connection then.
pub struct RetryDueJob {
    pub max_attempts: i32,
}

#[async_trait]
impl JobHandler for RetryDueJob {
    async fn run(&self, _job: &JobRecord, cx: &JobContext) -> Result<(), JobError> {
        let due = cx
            .store
            .wake_due_retries()
            .await
            .map_err(|e| JobError::Retry(e.to_string()))?;
        let jobs: Vec<NewJob> = due
            .iter()
            .map(|(tenant, connection)| {
                NewJob::sync_connection(*tenant, *connection, self.max_attempts)
            })
            .collect();
        enqueue_and_wake(cx, &jobs).await
    }
}
