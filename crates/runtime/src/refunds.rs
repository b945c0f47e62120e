//! Refunds from the channels: the part of an order that comes back.
//!
//! A refund is its own event with its own id (an order may be refunded
//! several times, a line at a time), applied once per refund by the store
//! (`channel_refunds`), and capped by what the order took less what earlier
//! refunds or its cancellation gave back, so no mix of refunds, redeliveries
//! and cancellation returns more than was sold.

use shelfsync_channels::ChannelRefund;
use shelfsync_core::{ConnectionId, TenantId};
use shelfsync_store::{OrderLineRef, RefundApplied, StoreError};

use crate::relay::OUTBOX_QUEUE;
use crate::webhooks::Applied;
use crate::worker::{JobContext, JobError};

/// Applies a refund to stock and wakes the relay that carries the change
/// to every channel.
pub async fn apply_refund(
    cx: &JobContext,
    tenant: TenantId,
    connection: ConnectionId,
    platform: &str,
    refund: &ChannelRefund,
) -> Result<RefundApplied, JobError> {
    let refs = |lines: &[shelfsync_channels::OrderLine]| -> Vec<OrderLineRef> {
        lines
            .iter()
            .map(|l| OrderLineRef {
                sku: l.sku.clone(),
                external_variant_id: l.external_variant_id.clone(),
                quantity: l.quantity,
            })
            .collect()
    };
    let applied = cx
        .store
        .apply_channel_refund(
            tenant,
            connection,
            platform,
            &refund.order_external_id,
            &refund.refund_id,
            &refs(&refund.lines),
            &refs(&refund.kept),
        )
        .await
        .map_err(|e| match e {
            StoreError::NotFound => JobError::Fatal(e.to_string()),
            e => JobError::Retry(e.to_string()),
        })?;
    if !applied.moved.is_empty() {
        cx.wakeups.wake(OUTBOX_QUEUE).await;
    }
    Ok(applied)
}

/// How a refund's application reads in the log.
pub fn refund_outcome(refund: &ChannelRefund, done: &RefundApplied) -> Applied {
    if done.order_unknown {
        tracing::warn!(
            order = %refund.order_external_id,
            refund = %refund.refund_id,
            "a refund for an order never recorded on this connection; nothing restocked"
        );
        return Applied {
            status: "unmatched",
            detail: Some(format!(
                "refund {} is for order {}, which was never recorded here (it predates the \
                 connection, or never arrived while the refund was retried); nothing restocked",
                refund.refund_id, refund.order_external_id
            )),
        };
    }
    if done.already {
        return Applied {
            status: "ignored",
            detail: Some(format!("refund {} was applied already", refund.refund_id)),
        };
    }
    if !done.unmatched.is_empty() {
        let names = crate::orders::line_names(&done.unmatched);
        return Applied {
            status: "unmatched",
            detail: Some(format!(
                "no master variant for {} (the matched lines were restocked)",
                names
            )),
        };
    }
    let units: i64 = done.moved.iter().map(|(_, n)| n).sum();
    let mut detail = if !done.restock {
        "the tenant does not restock refunds; nothing moved".to_owned()
    } else if refund.lines.is_empty() {
        "no line of the refund was to be restocked".to_owned()
    } else {
        format!("{units} unit(s) restocked")
    };
    if done.kept > 0 {
        detail.push_str(&format!(
            "; {} unit(s) refunded without a restock stay out",
            done.kept
        ));
    }
    if done.beyond_taken > 0 {
        detail.push_str(&format!(
            "; {} unit(s) beyond what the order still had out were not restocked",
            done.beyond_taken
        ));
    }
    Applied {
        status: "processed",
        detail: Some(detail),
    }
}
