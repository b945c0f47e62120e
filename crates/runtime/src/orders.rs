//! Orders from the channels: what they do to stock, and polling for the
//! channels (or the deliveries) that webhooks do not bring.
//!
//! Both ways in end in one place. A webhook delivery is stored, then its
//! `webhook.apply` job applies it; a poll stores each order it reads the
//! same way (an event id of `order:{id}`, or `order-cancel:{id}` once the
//! channel reports it cancelled, so polling the same order again is a
//! duplicate), and the same job applies it. The stock an order takes is
//! applied once per order by the store (`channel_orders`), so an order that
//! arrives by webhook and by poll, twice, or after its own cancellation,
//! leaves stock right.

use async_trait::async_trait;
use chrono::Utc;
use shelfsync_channels::{ChannelOrder, WebhookKind};
use shelfsync_core::{ConnectionId, TenantId};
use shelfsync_store::{
    JobRecord, NewJob, NewWebhookLog, OrderApplied, OrderEvent, OrderLineRef, StoreError,
    WEBHOOK_QUEUE,
};

use crate::connections::{ChannelHub, HubError};
use crate::relay::OUTBOX_QUEUE;
use crate::sync::{enqueue_and_wake, job_connection};
use crate::worker::{JobContext, JobError, JobHandler};

/// How far back each poll reads before where the last one ended: orders a
/// platform indexes late are still found (the duplicates cost nothing).
/// Never before the connection was made.
pub const POLL_OVERLAP: chrono::Duration = chrono::Duration::minutes(10);

/// The lines of `order` as the store matches them.
pub fn order_lines(order: &ChannelOrder) -> Vec<OrderLineRef> {
    order
        .lines
        .iter()
        .map(|l| OrderLineRef {
            sku: l.sku.clone(),
            external_variant_id: l.external_variant_id.clone(),
            quantity: l.quantity,
        })
        .collect()
}

/// Lines as a log detail names them: by SKU, else by the channel's variant id.
pub(crate) fn line_names(lines: &[OrderLineRef]) -> String {
    lines
        .iter()
        .map(|l| {
            l.sku
                .clone()
                .or_else(|| {
                    l.external_variant_id
                        .as_ref()
                        .map(|v| format!("variant {v}"))
                })
                .unwrap_or_else(|| "a line without SKU".into())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Applies an order event to stock and wakes the relay that carries the
/// change to every channel.
pub async fn apply_order(
    cx: &JobContext,
    tenant: TenantId,
    connection: ConnectionId,
    platform: &str,
    order: &ChannelOrder,
    event: OrderEvent,
) -> Result<OrderApplied, JobError> {
    let applied = cx
        .store
        .apply_channel_order(
            tenant,
            connection,
            platform,
            &order.external_id,
            &order_lines(order),
            event,
        )
        .await
        .map_err(|e| match e {
            // The connection or tenant is gone: nothing left to apply to.
            StoreError::NotFound => JobError::Fatal(e.to_string()),
            e => JobError::Retry(e.to_string()),
        })?;
    if !applied.moved.is_empty() {
        cx.wakeups.wake(OUTBOX_QUEUE).await;
    }
    Ok(applied)
}

/// The stored form of an order found by polling: the same record a webhook
/// delivery makes, so the same job applies it and a second poll of the same
/// order is a duplicate.
///
/// A cancelled order is stored as its cancellation, under an event id of its
/// own (`order-cancel:{id}`): an order polled while placed and again once
/// cancelled is two events, each applied once. One first seen cancelled is
/// only the cancellation, which the store remembers without taking stock.
pub fn polled_order(
    tenant: TenantId,
    connection: ConnectionId,
    platform: &str,
    order: &ChannelOrder,
    max_attempts: i32,
) -> NewWebhookLog {
    let id = uuid::Uuid::now_v7();
    let (kind, event_id, topic) = if order.cancelled {
        (
            WebhookKind::OrderCancelled {
                order: order.clone(),
            },
            format!("order-cancel:{}", order.external_id),
            "orders/poll-cancelled",
        )
    } else {
        (
            WebhookKind::OrderCreated {
                order: order.clone(),
            },
            format!("order:{}", order.external_id),
            "orders/poll",
        )
    };
    NewWebhookLog {
        id,
        tenant: Some(tenant),
        connection: Some(connection),
        platform: platform.to_owned(),
        event_id: Some(event_id),
        topic: Some(topic.into()),
        headers: serde_json::json!({}),
        body: serde_json::to_vec(order).unwrap_or_default(),
        platform_timestamp: order.created_at,
        event: serde_json::to_value(&kind).ok(),
        source: "poll".into(),
        nonce: None,
        job: Some(NewJob::webhook_apply(Some(tenant), id, max_attempts)),
    }
}

/// The handler for `orders.poll`: reads one connection's orders since the
/// last poll and stores each for `webhook.apply`.
pub struct OrderPollJob {
    pub hub: ChannelHub,
    pub max_attempts: i32,
}

#[async_trait]
impl JobHandler for OrderPollJob {
    async fn run(&self, job: &JobRecord, cx: &JobContext) -> Result<(), JobError> {
        let (tenant, connection) = job_connection(job)?;
        let channel = match self.hub.channel(tenant, connection).await {
            Ok(channel) => channel,
            Err(HubError::NotFound | HubError::Disconnected) => return Ok(()),
            Err(e) => return Err(JobError::Retry(format!("cannot reach the channel: {e}"))),
        };
        let store = &cx.store;
        let Some(cursor) = store
            .orders_polled_until(tenant, connection)
            .await
            .map_err(|e| JobError::Retry(e.to_string()))?
        else {
            return Ok(());
        };
        let since = (cursor.until - POLL_OVERLAP).max(cursor.made_at);
        let started = Utc::now();
        let orders = channel.recent_orders(since).await.map_err(|e| match e {
            e if e.is_retryable() => JobError::Retry(e.to_string()),
            e => JobError::Fatal(e.to_string()),
        })?;
        let platform = channel.platform();
        let batch: Vec<NewWebhookLog> = orders
            .iter()
            .map(|o| polled_order(tenant, connection, platform.as_str(), o, self.max_attempts))
            .collect();
        let mut stored = 0;
        for chunk in batch.chunks(200) {
            let answers = store
                .accept_webhooks(chunk, chrono::Duration::zero())
                .await
                .map_err(|e| JobError::Retry(e.to_string()))?;
            stored += answers
                .iter()
                .filter(|a| **a == shelfsync_store::WebhookAcceptance::Stored)
                .count();
        }
        store
            .set_orders_polled_until(tenant, connection, started)
            .await
            .map_err(|e| JobError::Retry(e.to_string()))?;
        if stored > 0 {
            cx.wakeups.wake(WEBHOOK_QUEUE).await;
        }
        tracing::debug!(%tenant, %connection, read = orders.len(), stored, "polled orders");
        Ok(())
    }
}

/// The handler for the repeatable `orders.poll_all`: one deduplicated
/// `orders.poll` per active connection.
pub struct OrderPollAllJob {
    pub max_attempts: i32,
}

#[async_trait]
impl JobHandler for OrderPollAllJob {
    async fn run(&self, _job: &JobRecord, cx: &JobContext) -> Result<(), JobError> {
        let connections = cx
            .store
            .active_connections()
            .await
            .map_err(|e| JobError::Retry(e.to_string()))?;
        let jobs: Vec<NewJob> = connections
            .iter()
            .map(|(tenant, connection)| {
                NewJob::orders_poll(*tenant, *connection, self.max_attempts)
            })
            .collect();
        enqueue_and_wake(cx, &jobs).await
    }
}
