//! What crosses the Channel trait: the catalog as we want a channel to hold
//! it, and what a channel tells us back. Channel-neutral; each adapter maps
//! these to and from its platform's wire shapes.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A product as the channel should hold it, after rules and transforms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductPush {
    /// Correlates the outcome with the caller's listing (the master product id).
    pub key: String,
    /// The channel's id for this product once it has one.
    pub external_id: Option<String>,
    pub handle: String,
    pub title: String,
    pub description: Option<String>,
    pub vendor: Option<String>,
    pub product_type: Option<String>,
    pub tags: Vec<String>,
    pub status: PushStatus,
    /// Option names in order (`Size`, `Colour`); variants give values in this order.
    pub options: Vec<String>,
    pub images: Vec<String>,
    pub variants: Vec<VariantPush>,
}

/// Whether the product should be on sale on the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PushStatus {
    Active,
    Draft,
    Archived,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantPush {
    /// The join key between the master catalog and every channel.
    pub sku: String,
    pub external_id: Option<String>,
    /// Values for the product's options, same order and length.
    pub option_values: Vec<String>,
    pub price: Decimal,
    pub compare_at_price: Option<Decimal>,
    /// ISO 4217 code of both prices.
    pub currency: String,
    pub barcode: Option<String>,
    pub weight_grams: Option<Decimal>,
    /// Units the channel may sell (after buffers and caps).
    pub quantity: i64,
}

/// One stock level to set on a channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InventoryPush {
    pub sku: String,
    pub external_product_id: Option<String>,
    pub external_variant_id: Option<String>,
    /// The platform's id for the stock record when it differs from the
    /// variant's (Shopify's inventory item, eBay's offer).
    pub inventory_ref: Option<String>,
    pub quantity: i64,
}

/// Where a product ended up on the channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductRef {
    pub external_id: String,
    pub variants: Vec<VariantRef>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantRef {
    pub sku: String,
    pub external_id: String,
    pub inventory_ref: Option<String>,
}

/// Why the channel refused one item of a batch (the rest may have gone through).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemError {
    pub code: String,
    pub message: String,
    /// Worth trying again later unchanged (a conflict or a transient fault),
    /// as opposed to data the channel will never accept.
    pub retryable: bool,
}

impl ItemError {
    pub fn permanent(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            retryable: false,
        }
    }

    pub fn retryable(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            retryable: true,
        }
    }
}

/// The result for one product of a batch, in input order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductOutcome {
    pub key: String,
    pub result: Result<ProductRef, ItemError>,
}

/// The result for one stock level of a batch, in input order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InventoryOutcome {
    pub sku: String,
    pub result: Result<(), ItemError>,
}

/// A product as the channel holds it, read back for reconciliation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelListing {
    pub external_id: String,
    pub title: String,
    pub status: Option<String>,
    pub variants: Vec<ChannelVariant>,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelVariant {
    pub external_id: String,
    pub sku: Option<String>,
    pub price: Option<Decimal>,
    pub quantity: Option<i64>,
}

/// One page of read-back; `next_cursor` is `None` on the last page.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ListingPage {
    pub listings: Vec<ChannelListing>,
    pub next_cursor: Option<String>,
}

/// An order placed on the channel, reduced to what moves stock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelOrder {
    pub external_id: String,
    pub created_at: Option<DateTime<Utc>>,
    pub lines: Vec<OrderLine>,
    /// The channel says the order was cancelled (or fully refunded): a poll
    /// that finds it so applies it as a cancellation, since platforms that
    /// send no webhook tell us no other way. Absent in events stored before
    /// the flag existed, which were all placements.
    #[serde(default)]
    pub cancelled: bool,
}

/// A refund of some of an order's lines, reduced to what goes back on the
/// shelf: only the lines the platform says were restocked (a refund of
/// money alone, or of goods the customer keeps, moves no stock).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelRefund {
    /// The refunded order's id, as [`ChannelOrder::external_id`] names it.
    pub order_external_id: String,
    /// The platform's id for this refund: one order may have several, and
    /// each is applied once however often it is delivered.
    pub refund_id: String,
    pub created_at: Option<DateTime<Utc>>,
    /// The lines to restock, with the quantity refunded of each.
    pub lines: Vec<OrderLine>,
    /// Lines refunded without a restock (the buyer keeps them, or they came
    /// back damaged): they move no stock, and a later cancellation of the
    /// order must not give them back either.
    #[serde(default)]
    pub kept: Vec<OrderLine>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderLine {
    pub sku: Option<String>,
    pub external_variant_id: Option<String>,
    pub quantity: i64,
}

/// A verified webhook, parsed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookEvent {
    /// The platform's own id for this delivery's event, for deduplication.
    pub event_id: String,
    /// The platform's topic name (`orders/create`, `order.created`…).
    pub topic: String,
    /// When the platform says the event happened, for anti-replay windows.
    pub occurred_at: Option<DateTime<Utc>>,
    pub kind: WebhookKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WebhookKind {
    OrderCreated {
        order: ChannelOrder,
    },
    OrderCancelled {
        order: ChannelOrder,
    },
    /// Part or all of an order refunded; see [`ChannelRefund`].
    OrderRefunded {
        refund: ChannelRefund,
    },
    ProductUpdated {
        listing: ChannelListing,
    },
    ProductDeleted {
        external_id: String,
    },
    /// A topic we subscribe to but do not act on, kept for the log.
    Other,
}

/// How many items one call of each kind may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchLimits {
    pub products: usize,
    pub inventory: usize,
}

/// The HTTP calls an `upsert_products` would make on a clean run (no
/// refusals, no throttling), after the adapter's own batching: what a dry
/// run reports as "estimated API calls" and what pacing estimates from.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CallPlan {
    /// Requests sent, each counted once however many items it carries.
    pub calls: u32,
    /// Units the calls draw from the quota: one per request, or the
    /// adapter's cost estimate where the platform charges points (Shopify).
    pub quota_units: f64,
    /// Calls per operation, named as the adapter names them to its quota
    /// model, so operation-scoped limits can be applied to them.
    pub by_operation: BTreeMap<String, u32>,
    /// Calls an adapter makes once and then caches (a shop's location):
    /// counted in the totals, and counted once when plans of one run's
    /// batches are merged.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub once: BTreeMap<String, (u32, f64)>,
}

impl CallPlan {
    /// Like [`CallPlan::add`], for a call the adapter makes once and caches.
    pub fn add_once(&mut self, operation: &str, calls: u32, units: f64) {
        self.add(operation, calls, units);
        self.once.insert(operation.to_owned(), (calls, units));
    }

    /// Add the plan of another batch of the same run: one adapter makes the
    /// whole run, so its one-time calls are counted once.
    pub fn merge(&mut self, other: &CallPlan) {
        self.calls += other.calls;
        self.quota_units += other.quota_units;
        for (operation, calls) in &other.by_operation {
            *self.by_operation.entry(operation.clone()).or_default() += calls;
        }
        for (operation, (calls, units)) in &other.once {
            if self.once.contains_key(operation) {
                self.calls -= calls;
                self.quota_units -= units;
                if let Some(n) = self.by_operation.get_mut(operation) {
                    *n -= calls;
                }
            } else {
                self.once.insert(operation.clone(), (*calls, *units));
            }
        }
    }

    /// Count `calls` more calls of `operation` costing `units` in all.
    pub fn add(&mut self, operation: &str, calls: u32, units: f64) {
        if calls == 0 {
            return;
        }
        self.calls += calls;
        self.quota_units += units;
        *self.by_operation.entry(operation.to_owned()).or_default() += calls;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_stored_before_cancellations_and_refunds_still_parse() {
        // An order event as stored before the cancelled flag existed.
        let old: WebhookKind = serde_json::from_value(serde_json::json!({
            "type": "order_created",
            "order": {"external_id": "7", "created_at": null,
                      "lines": [{"sku": "A", "external_variant_id": null, "quantity": 1}]}
        }))
        .unwrap();
        let WebhookKind::OrderCreated { order } = old else {
            panic!("{old:?}")
        };
        assert!(!order.cancelled);
        // A refund as a Standard Webhooks sender writes it, without kept lines.
        let refund: WebhookKind = serde_json::from_value(serde_json::json!({
            "type": "order_refunded",
            "refund": {"order_external_id": "7", "refund_id": "r1", "created_at": null,
                       "lines": [{"sku": "A", "external_variant_id": null, "quantity": 1}]}
        }))
        .unwrap();
        let WebhookKind::OrderRefunded { refund } = refund else {
            panic!("{refund:?}")
        };
        assert_eq!(refund.lines.len(), 1);
        assert!(refund.kept.is_empty());
    }
}
