//! The webhook worker: applies each stored delivery's effect.
//!
//! The receiver verified, stored and acknowledged the delivery; this runs
//! after, from its `webhook.apply` job, so a slow effect never delays an
//! acknowledgement and a crash never loses one (the job runs again, and
//! every effect is idempotent). Orders and refunds move stock
//! ([`crate::orders`], [`crate::refunds`]); a
//! product edited or deleted on the channel is settled by the conflict
//! policies as reconciliation would ([`Reconciler::settle_items`]); other
//! topics are kept in the log and otherwise ignored.

use std::sync::Arc;

use async_trait::async_trait;
use shelfsync_channels::WebhookKind;
use shelfsync_core::Platform;
use shelfsync_store::{JobRecord, NewJob, OrderApplied, OrderEvent, WebhookLogRecord};

use crate::orders::apply_order;
use crate::reconcile::Reconciler;
use crate::refunds::{apply_refund, refund_outcome};
use crate::sync::enqueue_and_wake;
use crate::worker::{JobContext, JobError, JobHandler};

/// What applying a delivery came to, as recorded on its log row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// processed, ignored, unmatched or failed.
    pub status: &'static str,
    pub detail: Option<String>,
}

impl Applied {
    fn processed() -> Self {
        Self {
            status: "processed",
            detail: None,
        }
    }

    fn ignored(why: impl Into<String>) -> Self {
        Self {
            status: "ignored",
            detail: Some(why.into()),
        }
    }

    fn failed(why: impl Into<String>) -> Self {
        Self {
            status: "failed",
            detail: Some(why.into()),
        }
    }
}

/// The handler for `webhook.apply` jobs.
pub struct WebhookApplyJob {
    /// Settles product edits made on a channel; without one (a worker
    /// built without channel access) they are logged and left to the next
    /// scheduled reconciliation.
    pub reconciler: Option<Arc<Reconciler>>,
    /// Attempts given to the jobs a delivery enqueues.
    pub max_attempts: i32,
}

#[async_trait]
impl JobHandler for WebhookApplyJob {
    async fn run(&self, job: &JobRecord, cx: &JobContext) -> Result<(), JobError> {
        let Some(log) = received_log(job, cx).await? else {
            return Ok(());
        };
        let final_attempt = job.attempts >= job.max_attempts;
        let applied = self.apply(&log, cx, final_attempt).await?;
        cx.store
            .finish_webhook(log.id, applied.status, applied.detail.as_deref())
            .await
            .map_err(|e| JobError::Retry(e.to_string()))
    }
}

/// The stored delivery a `webhook.apply` or `clerk.apply` job names, unless
/// it is gone or was applied before (the job ran, then its completion was
/// lost): what makes applying a delivery idempotent.
pub(crate) async fn received_log(
    job: &JobRecord,
    cx: &JobContext,
) -> Result<Option<WebhookLogRecord>, JobError> {
    let id = job
        .payload
        .get("log_id")
        .and_then(|v| v.as_str())
        .and_then(|s| s.parse::<uuid::Uuid>().ok())
        .ok_or_else(|| {
            JobError::Fatal(format!(
                "{} job without a log_id: {}",
                job.kind, job.payload
            ))
        })?;
    let log = cx
        .store
        .webhook_log(id)
        .await
        .map_err(|e| JobError::Retry(e.to_string()))?;
    Ok(log.filter(|l| l.status == "received"))
}

impl WebhookApplyJob {
    /// Applies one delivery. `final_attempt` says whether a retry is still
    /// to come: a refund that overtook its order waits for it until then.
    async fn apply(
        &self,
        log: &WebhookLogRecord,
        cx: &JobContext,
        final_attempt: bool,
    ) -> Result<Applied, JobError> {
        let (Some(tenant), Some(connection)) = (log.tenant_id, log.connection_id) else {
            return Ok(Applied::failed("the delivery names no connection"));
        };
        let Some(event) = &log.event else {
            return Ok(Applied::failed("the delivery was stored without its event"));
        };
        let kind: WebhookKind = match serde_json::from_value(event.clone()) {
            Ok(kind) => kind,
            Err(e) => return Ok(Applied::failed(format!("unreadable event: {e}"))),
        };
        let platform = log.platform.as_str();
        Ok(match kind {
            // Some platforms (Etsy) name the order without its lines: the
            // poll reads them, and applies the order through this same path.
            WebhookKind::OrderCreated { order } if order.lines.is_empty() => {
                let poll = NewJob::orders_poll(tenant, connection, self.max_attempts);
                enqueue_and_wake(cx, &[poll]).await?;
                Applied {
                    status: "processed",
                    detail: Some(
                        "the order came without lines; polling the channel for them".into(),
                    ),
                }
            }
            WebhookKind::OrderCreated { order } => {
                let done =
                    apply_order(cx, tenant, connection, platform, &order, OrderEvent::Placed)
                        .await?;
                order_outcome(&done)
            }
            WebhookKind::OrderCancelled { order } => {
                let done = apply_order(
                    cx,
                    tenant,
                    connection,
                    platform,
                    &order,
                    OrderEvent::Cancelled,
                )
                .await?;
                order_outcome(&done)
            }
            WebhookKind::OrderRefunded { refund } => {
                let done = apply_refund(cx, tenant, connection, platform, &refund).await?;
                // Nothing was recorded, so trying again later is safe: the
                // order's own delivery may simply not have arrived yet.
                if done.order_unknown && !final_attempt {
                    return Err(JobError::Retry(format!(
                        "refund {} is for order {}, which has not arrived yet",
                        refund.refund_id, refund.order_external_id
                    )));
                }
                refund_outcome(&refund, &done)
            }
            WebhookKind::ProductUpdated { mut listing } => {
                // Stock on the channel moves with its orders, which arrive
                // on their own; only catalog fields are settled here.
                for variant in &mut listing.variants {
                    variant.quantity = None;
                }
                self.settle(cx, log, tenant, connection, vec![listing], Vec::new())
                    .await?
            }
            WebhookKind::ProductDeleted { external_id } => {
                self.settle(cx, log, tenant, connection, Vec::new(), vec![external_id])
                    .await?
            }
            WebhookKind::Other => Applied::ignored(format!(
                "topic {} is not acted on",
                log.topic.as_deref().unwrap_or("(none)")
            )),
        })
    }

    async fn settle(
        &self,
        cx: &JobContext,
        log: &WebhookLogRecord,
        tenant: shelfsync_core::TenantId,
        connection: shelfsync_core::ConnectionId,
        held: Vec<shelfsync_channels::ChannelListing>,
        gone: Vec<String>,
    ) -> Result<Applied, JobError> {
        let Some(reconciler) = &self.reconciler else {
            return Ok(Applied::ignored(
                "no channel access in this worker; the next reconciliation settles it",
            ));
        };
        let Ok(platform) = log.platform.parse::<Platform>() else {
            return Ok(Applied::failed(format!(
                "unknown platform {}",
                log.platform
            )));
        };
        let report = reconciler
            .settle_items(cx, tenant, connection, platform, held, gone)
            .await?;
        Ok(Applied {
            status: "processed",
            detail: (report.checked > 0 || report.repaired > 0).then(|| {
                format!(
                    "checked {}, in sync {}, repaired {}, absorbed {}, conflicts {}",
                    report.checked,
                    report.in_sync,
                    report.repaired,
                    report.absorbed,
                    report.conflicts
                )
            }),
        })
    }
}

/// How an order's application reads in the log.
fn order_outcome(done: &OrderApplied) -> Applied {
    if !done.unmatched.is_empty() {
        let names = crate::orders::line_names(&done.unmatched);
        return Applied {
            status: "unmatched",
            detail: Some(format!(
                "no master variant for {} (stock of the matched lines moved)",
                names
            )),
        };
    }
    if done.already {
        return Applied::ignored("the order was applied already (or cancelled first)");
    }
    let mut applied = Applied::processed();
    if done.oversold > 0 {
        applied.detail = Some(format!(
            "{} unit(s) sold beyond the master's stock",
            done.oversold
        ));
    }
    applied
}
