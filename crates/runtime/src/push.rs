//! The sync run of one connection: push its due listings to the channel.
//!
//! Level-triggered: the listings table says what is due, not the job. A run
//! reads the due listings, builds each product as the channel should hold
//! it, skips products whose content hash is what the channel last accepted,
//! sends the rest in the channel's batches, and records per listing what
//! happened. A listing marked pending again while its call was in flight is
//! left pending by the write-back (compare on `updated_at`), so the edits
//! that arrived during a call are coalesced into one follow-up push.
//!
//! Rules and transforms plug in between "build" and "hash"; until they land
//! the channel gets the master product as it is, with stock never below 0.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use shelfsync_channels::{ChannelError, ProductOutcome, ProductPush, PushStatus, VariantPush};
use shelfsync_core::catalog::{Product, ProductStatus};
use shelfsync_core::retry::Backoff;
use shelfsync_core::{ConnectionId, ProductId, TenantId};
use shelfsync_store::{ListingOutcome, ListingResult, NewSyncLog, PendingListing};

use crate::connections::{ChannelHub, HubError};
use crate::idempotency::content_hash;
use crate::sync::ConnectionSync;
use crate::worker::{JobContext, JobError};

/// Listings taken per round of a run.
const ROUND: i64 = 500;
/// Rounds per run; listings still due after that are left for the next wake-up.
const MAX_ROUNDS: usize = 20;

/// Pushes through the connection's channel adapter.
pub struct ChannelPush {
    pub hub: ChannelHub,
    /// When a listing the channel refused for a passing reason is tried again.
    pub backoff: Backoff,
}

impl ChannelPush {
    pub fn new(hub: ChannelHub) -> Self {
        Self {
            hub,
            backoff: Backoff {
                base: Duration::from_secs(30),
                max: Duration::from_secs(6 * 3600),
            },
        }
    }
}

/// The product as the channel should hold it, with the listed variants.
pub fn product_push(product: &Product, listings: &[&PendingListing]) -> ProductPush {
    let whole = listings.iter().any(|l| l.variant.is_none());
    let external_variant: HashMap<_, _> = listings
        .iter()
        .filter_map(|l| Some((l.variant?, l.external_variant_id.clone())))
        .collect();
    ProductPush {
        key: product.id.to_string(),
        external_id: listings.iter().find_map(|l| l.external_product_id.clone()),
        handle: product.handle.clone(),
        title: product.title.clone(),
        description: product.description.clone(),
        vendor: product.vendor.clone(),
        product_type: product.product_type.clone(),
        tags: product.tags.clone(),
        status: match product.status {
            ProductStatus::Active => PushStatus::Active,
            ProductStatus::Draft => PushStatus::Draft,
            ProductStatus::Archived => PushStatus::Archived,
        },
        options: product.options.clone(),
        images: product.images.clone(),
        variants: product
            .variants
            .iter()
            .filter(|v| whole || external_variant.contains_key(&v.id))
            .map(|v| VariantPush {
                sku: v.sku.clone(),
                external_id: external_variant.get(&v.id).cloned().flatten(),
                option_values: v.options.clone(),
                price: v.price.amount(),
                compare_at_price: v.compare_at_price.map(|p| p.amount()),
                currency: v.currency.as_str().to_owned(),
                barcode: v.barcode.clone(),
                weight_grams: v.weight_grams.map(rust_decimal::Decimal::from),
                // Oversell protection: a channel is never offered stock we do not have.
                quantity: v.inventory_quantity.max(0),
            })
            .collect(),
    }
}

/// What the channel should hold for this product and these listings: the
/// one place the sync run and reconciliation both ask, so a repaired
/// channel holds exactly what a push would have sent. Rules and transforms
/// plug in here; until they land it is the master product as it is.
pub fn desired_push(product: &Product, listings: &[&PendingListing]) -> ProductPush {
    product_push(product, listings)
}

/// The hash of what the channel should hold: the push without the
/// channel's own ids, which change nothing about the content.
pub fn push_hash(push: &ProductPush) -> Vec<u8> {
    let mut content = push.clone();
    content.key.clear();
    content.external_id = None;
    for v in &mut content.variants {
        v.external_id = None;
    }
    content_hash(&serde_json::to_value(&content).expect("a push serialises"))
}

#[async_trait]
impl ConnectionSync for ChannelPush {
    async fn sync(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        cx: &JobContext,
    ) -> Result<(), JobError> {
        let channel = match self.hub.channel(tenant, connection).await {
            Ok(channel) => channel,
            // Nothing to push to: the listings stay pending until it is back.
            Err(HubError::NotFound | HubError::Disconnected) => return Ok(()),
            Err(HubError::Channel(e)) if !e.is_retryable() => {
                return Err(JobError::Fatal(format!("cannot reach the channel: {e}")));
            }
            Err(e) => return Err(JobError::Retry(format!("cannot reach the channel: {e}"))),
        };
        let store = &cx.store;
        let batch = channel.batch_limits().products.max(1);
        for _ in 0..MAX_ROUNDS {
            if cx.shutdown.is_cancelled() {
                return Err(JobError::Interrupted);
            }
            let due = store
                .pending_listings(tenant, connection, ROUND)
                .await
                .map_err(|e| JobError::Retry(e.to_string()))?;
            if due.is_empty() {
                return Ok(());
            }
            let mut by_product: BTreeMap<ProductId, Vec<&PendingListing>> = BTreeMap::new();
            for listing in &due {
                by_product.entry(listing.product).or_default().push(listing);
            }
            let ids: Vec<ProductId> = by_product.keys().copied().collect();
            let products: HashMap<ProductId, Product> = store
                .get_products(tenant, &ids)
                .await
                .map_err(|e| JobError::Retry(e.to_string()))?
                .into_iter()
                .map(|p| (p.id, p))
                .collect();

            let mut results = Vec::new();
            let mut to_send: Vec<Outgoing> = Vec::new();
            for (id, listings) in &by_product {
                let Some(product) = products.get(id) else {
                    results.extend(listings.iter().map(|l| ListingResult {
                        id: l.id,
                        read_at: l.updated_at,
                        outcome: ListingOutcome::Gone,
                    }));
                    continue;
                };
                let push = desired_push(product, listings);
                let hash = push_hash(&push);
                let unchanged = listings.iter().all(|l| {
                    l.last_pushed_hash.as_deref() == Some(hash.as_slice())
                        && l.external_product_id.is_some()
                });
                if unchanged {
                    results.extend(listings.iter().map(|l| ListingResult {
                        id: l.id,
                        read_at: l.updated_at,
                        outcome: ListingOutcome::Synced {
                            external_product_id: l.external_product_id.clone().unwrap_or_default(),
                            external_variant_id: l.external_variant_id.clone(),
                            inventory_ref: l.inventory_ref.clone(),
                            hash: hash.clone(),
                        },
                    }));
                } else {
                    let listings = listings
                        .iter()
                        .map(|l| {
                            let sku = l.variant.and_then(|id| {
                                product
                                    .variants
                                    .iter()
                                    .find(|v| v.id == id)
                                    .map(|v| v.sku.clone())
                            });
                            (*l, sku)
                        })
                        .collect();
                    to_send.push(Outgoing {
                        push,
                        hash,
                        listings,
                    });
                }
            }

            for chunk in to_send.chunks(batch) {
                let pushes: Vec<ProductPush> = chunk.iter().map(|o| o.push.clone()).collect();
                let started = Instant::now();
                let outcome = channel.upsert_products(&pushes).await;
                let duration_ms = started.elapsed().as_millis() as i64;
                match outcome {
                    Ok(outcomes) => {
                        let failed = outcomes.iter().filter(|o| o.result.is_err()).count();
                        for (entry, outcome) in chunk.iter().zip(outcomes.iter()) {
                            results.extend(self.listing_results(entry, outcome));
                        }
                        log(
                            cx,
                            tenant,
                            connection,
                            "upsert_products",
                            duration_ms,
                            pushes.len(),
                            failed,
                            None,
                        )
                        .await;
                    }
                    Err(error) => {
                        log(
                            cx,
                            tenant,
                            connection,
                            "upsert_products",
                            duration_ms,
                            pushes.len(),
                            pushes.len(),
                            Some(&error),
                        )
                        .await;
                        // Keep what was decided so far, then let the queue retry.
                        store
                            .record_listing_results(tenant, &results)
                            .await
                            .map_err(|e| JobError::Retry(e.to_string()))?;
                        return Err(match error {
                            ChannelError::Throttled {
                                retry_after: Some(wait),
                            }
                            | ChannelError::QuotaExhausted { retry_after: wait } => {
                                JobError::RetryAfter(error.to_string(), wait)
                            }
                            _ => JobError::Retry(error.to_string()),
                        });
                    }
                }
            }
            store
                .record_listing_results(tenant, &results)
                .await
                .map_err(|e| JobError::Retry(e.to_string()))?;
        }
        Ok(())
    }
}

/// A product to send and the listings it settles.
struct Outgoing<'a> {
    push: ProductPush,
    hash: Vec<u8>,
    /// Each listing with its variant's SKU (the join key with the channel).
    listings: Vec<(&'a PendingListing, Option<String>)>,
}

impl ChannelPush {
    fn listing_results(&self, sent: &Outgoing<'_>, outcome: &ProductOutcome) -> Vec<ListingResult> {
        sent.listings
            .iter()
            .map(|(listing, sku)| {
                let outcome = match &outcome.result {
                    Ok(product) => {
                        let variant = match sku {
                            Some(sku) => product.variants.iter().find(|v| &v.sku == sku),
                            None => None,
                        };
                        ListingOutcome::Synced {
                            external_product_id: product.external_id.clone(),
                            external_variant_id: variant.map(|v| v.external_id.clone()),
                            inventory_ref: variant.and_then(|v| v.inventory_ref.clone()),
                            hash: sent.hash.clone(),
                        }
                    }
                    Err(item) => ListingOutcome::Failed {
                        error: format!("{}: {}", item.code, item.message),
                        next_retry_at: item.retryable.then(|| {
                            let delay = self
                                .backoff
                                .delay((listing.attempts + 1).max(1) as u32, rand::random::<f64>());
                            Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default()
                        }),
                    },
                };
                ListingResult {
                    id: listing.id,
                    read_at: listing.updated_at,
                    outcome,
                }
            })
            .collect()
    }
}

#[allow(clippy::too_many_arguments)]
async fn log(
    cx: &JobContext,
    tenant: TenantId,
    connection: ConnectionId,
    operation: &str,
    duration_ms: i64,
    items: usize,
    failed: usize,
    error: Option<&ChannelError>,
) {
    let status = match (error, failed) {
        (Some(_), _) => "failed",
        (None, 0) => "succeeded",
        (None, n) if n == items => "failed",
        _ => "partial",
    };
    let entry = NewSyncLog {
        tenant,
        connection: Some(connection),
        listing: None,
        operation: operation.to_owned(),
        status: status.to_owned(),
        dry_run: false,
        duration_ms,
        api_calls: 1,
        detail: serde_json::json!({ "items": items, "failed": failed }),
        error: error.map(|e| e.to_string()),
    };
    if let Err(e) = cx.store.insert_sync_log(&entry).await {
        tracing::warn!(error = %e, "could not write a sync log");
    }
}
