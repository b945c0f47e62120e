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
//! What to send is decided by [`crate::prepare`], which the dry run shares:
//! rules, the channel's view of the product, the hash, the platform's checks.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use shelfsync_channels::{
    Channel, ChannelError, InventoryPush, ItemError, ProductOutcome, ProductPush, PushStatus,
    VariantPush,
};
use shelfsync_core::catalog::{Product, ProductStatus};
use shelfsync_core::retry::Backoff;
use shelfsync_core::rules::Rule;
use shelfsync_core::{ConnectionId, ProductId, TenantId};
use shelfsync_store::{
    ListingOutcome, ListingResult, NewJob, NewSyncLog, PendingListing, Store, StoreError,
};

use crate::connections::{ChannelHub, HubError};
use crate::idempotency::content_hash;
use crate::prepare::{Decision, Hashes, prepare};
use crate::sync::ConnectionSync;
use crate::worker::{JobContext, JobError};

/// Products taken per round of a run (the dry run plans in the same rounds).
pub const ROUND: i64 = 500;
/// How long a run keeps taking rounds; when more is due after that, it
/// asks for another run and leaves the worker's slot to other connections
/// meanwhile. Long, because the hand-over costs a coalescing window and a
/// claim (about a third of a second) during which the channel's quota goes
/// unspent; a count of rounds instead cut a 100,000-SKU push into ten runs.
pub const DEFAULT_RUN_BUDGET: Duration = Duration::from_secs(30);

/// Pushes through the connection's channel adapter.
pub struct ChannelPush {
    pub hub: ChannelHub,
    /// When a listing the channel refused for a passing reason is tried again.
    pub backoff: Backoff,
    /// How long a run waits after it is woken before it reads what is due,
    /// so a burst of edits (a bulk import, a flurry of sales) goes out in
    /// one push instead of one per edit. Edits made while a push is in
    /// flight wake one follow-up run, which waits the same.
    pub coalesce: Duration,
    /// See [`DEFAULT_RUN_BUDGET`].
    pub run_budget: Duration,
}

impl ChannelPush {
    pub fn new(hub: ChannelHub) -> Self {
        Self {
            hub,
            backoff: Backoff {
                base: Duration::from_secs(30),
                max: Duration::from_secs(6 * 3600),
            },
            coalesce: DEFAULT_COALESCE,
            run_budget: DEFAULT_RUN_BUDGET,
        }
    }
}

/// A fifth of a second: long enough to gather a burst, short against the
/// one-second budget from a change to every channel.
pub const DEFAULT_COALESCE: Duration = Duration::from_millis(200);

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

/// The hash of the push with stock left out: equal to the last accepted
/// one means only stock changed, which a stock-level call can carry.
pub fn catalog_hash(push: &ProductPush) -> Vec<u8> {
    let mut content = push.clone();
    for v in &mut content.variants {
        v.quantity = 0;
    }
    push_hash(&content)
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
        if !self.coalesce.is_zero() {
            tokio::select! {
                () = tokio::time::sleep(self.coalesce) => {}
                () = cx.shutdown.cancelled() => return Err(JobError::Interrupted),
            }
        }
        let store = &cx.store;
        let retry = |e: shelfsync_store::StoreError| JobError::Retry(e.to_string());
        let rules = store
            .rules_for(tenant, connection, channel.platform())
            .await
            .map_err(retry)?;
        // Rounds are pipelined: while one round's calls wait on the channel's
        // quota, the next round is read from the database and the previous
        // round's results are written, so the channel's budget, not our own
        // bookkeeping, sets the pace of a long run.
        let run_started = Instant::now();
        let mut next = read_round(cx, tenant, connection, None).await?;
        let mut finished = Settled::default();
        // At least one round per run, however small the budget.
        loop {
            if cx.shutdown.is_cancelled() {
                finished.record(store, tenant).await.map_err(retry)?;
                return Err(JobError::Interrupted);
            }
            let round = next;
            if round.due.is_empty() {
                // Anything marked again behind the last round meanwhile woke
                // a follow-up run (the job reruns), which starts at the front.
                finished.record(store, tenant).await.map_err(retry)?;
                return Ok(());
            }
            let after = round.due.last().map(|l| l.product);
            let mut settled = Settled::default();
            let (to_send, stock) = self.classify(
                channel.as_ref(),
                connection,
                &rules,
                &round,
                &mut settled.results,
            );
            let began = Instant::now();
            let ((sent, send_time), (upcoming, read_time), (recorded, record_time)) = tokio::join!(
                timed(
                    began,
                    self.send(
                        cx,
                        tenant,
                        connection,
                        channel.as_ref(),
                        &to_send,
                        &stock,
                        &mut settled
                    )
                ),
                timed(began, read_round(cx, tenant, connection, after)),
                timed(began, finished.record(store, tenant)),
            );
            tracing::debug!(
                %connection,
                products = to_send.len(),
                levels = stock.len(),
                send_ms = send_time.as_millis() as u64,
                read_next_ms = read_time.as_millis() as u64,
                record_ms = record_time.as_millis() as u64,
                "sync round"
            );
            if let Err(e) = recorded {
                // Keep what the channel now holds (its new ids above all: a
                // listing that loses them is created twice) if the database
                // takes it on a second try; else the listings stay pending.
                let _ = finished.record(store, tenant).await;
                return Err(match sent {
                    Ok(()) => {
                        let _ = settled.record(store, tenant).await;
                        retry(e)
                    }
                    // `give_up` has recorded what the failed send settled.
                    Err(failed) => failed,
                });
            }
            // A failed send has recorded what it settled (`give_up`).
            sent?;
            finished = settled;
            next = match upcoming {
                Ok(round) => round,
                Err(e) => {
                    finished.record(store, tenant).await.map_err(retry)?;
                    return Err(e);
                }
            };
            if run_started.elapsed() >= self.run_budget {
                break;
            }
        }
        finished.record(store, tenant).await.map_err(retry)?;
        if next.due.is_empty() {
            // The budget ran out just as the work did.
            return Ok(());
        }
        // More is due than one run takes: run again once this one ends,
        // leaving the worker to other connections in between.
        store
            .enqueue_jobs(&[NewJob::sync_connection(
                tenant,
                connection,
                crate::RuntimeConfig::default().max_attempts,
            )])
            .await
            .map_err(retry)?;
        Ok(())
    }
}

/// `work`'s output and how long after `began` it was done.
async fn timed<F: Future>(began: Instant, work: F) -> (F::Output, Duration) {
    let output = work.await;
    (output, began.elapsed())
}

/// What a round settled: each listing's result and a log entry per call,
/// written together in one transaction.
#[derive(Default)]
struct Settled {
    results: Vec<ListingResult>,
    logs: Vec<NewSyncLog>,
}

impl Settled {
    async fn record(&self, store: &Store, tenant: TenantId) -> Result<u64, StoreError> {
        if self.results.is_empty() && self.logs.is_empty() {
            return Ok(0);
        }
        store
            .record_sync_round(tenant, &self.results, &self.logs)
            .await
    }
}

/// One round's due listings and their products.
struct Round {
    due: Vec<PendingListing>,
    products: HashMap<ProductId, Product>,
}

/// Reads the next round: up to [`ROUND`] products' due listings after `after`.
async fn read_round(
    cx: &JobContext,
    tenant: TenantId,
    connection: ConnectionId,
    after: Option<ProductId>,
) -> Result<Round, JobError> {
    let retry = |e: shelfsync_store::StoreError| JobError::Retry(e.to_string());
    let due = cx
        .store
        .pending_listings(tenant, connection, after, ROUND)
        .await
        .map_err(retry)?;
    let mut ids: Vec<ProductId> = due.iter().map(|l| l.product).collect();
    ids.dedup();
    let products = if ids.is_empty() {
        HashMap::new()
    } else {
        cx.store
            .get_products(tenant, &ids)
            .await
            .map_err(retry)?
            .into_iter()
            .map(|p| (p.id, p))
            .collect()
    };
    Ok(Round { due, products })
}

/// How a failed call is retried by the queue: after the quota's wait when
/// the platform said how long.
fn queue_error(error: ChannelError) -> JobError {
    match error {
        ChannelError::Throttled {
            retry_after: Some(wait),
        }
        | ChannelError::QuotaExhausted { retry_after: wait } => {
            JobError::RetryAfter(error.to_string(), wait)
        }
        _ => JobError::Retry(error.to_string()),
    }
}

/// The listing's channel ids are unchanged and the channel now holds `hashes`.
fn already_held(listing: &PendingListing, hashes: &Hashes) -> ListingResult {
    ListingResult {
        id: listing.id,
        read_at: listing.updated_at,
        outcome: ListingOutcome::Synced {
            external_product_id: listing.external_product_id.clone().unwrap_or_default(),
            external_variant_id: listing.external_variant_id.clone(),
            inventory_ref: listing.inventory_ref.clone(),
            hash: hashes.full.clone(),
            catalog_hash: hashes.catalog.clone(),
        },
    }
}

/// A product to send and the listings it settles.
struct Outgoing<'a> {
    push: ProductPush,
    hashes: Hashes,
    /// Each listing with its variant's SKU (the join key with the channel).
    listings: Vec<(&'a PendingListing, Option<String>)>,
}

/// A stock level to set and the listing it settles.
struct StockUpdate<'a> {
    listing: &'a PendingListing,
    level: InventoryPush,
    hashes: Hashes,
}

impl ChannelPush {
    /// Decides each of the round's products: settled at once (gone,
    /// excluded, invalid, already held) into `results`, or to be sent as a
    /// whole product or as stock levels only.
    fn classify<'r>(
        &self,
        channel: &dyn Channel,
        connection: ConnectionId,
        rules: &[Rule],
        round: &'r Round,
        results: &mut Vec<ListingResult>,
    ) -> (Vec<Outgoing<'r>>, Vec<StockUpdate<'r>>) {
        let mut to_send: Vec<Outgoing> = Vec::new();
        let mut stock: Vec<StockUpdate> = Vec::new();
        for prepared in prepare(channel, connection, rules, &round.products, &round.due) {
            let settle = |outcome: ListingOutcome| {
                prepared.listings.iter().map(move |l| ListingResult {
                    id: l.id,
                    read_at: l.updated_at,
                    outcome: outcome.clone(),
                })
            };
            match prepared.decision {
                Decision::Gone => results.extend(settle(ListingOutcome::Gone)),
                Decision::Excluded { reason } => {
                    results.extend(settle(ListingOutcome::Excluded { reason }))
                }
                Decision::Invalid { errors, .. } => {
                    let error = errors
                        .iter()
                        .map(|e| format!("{}: {}", e.code, e.message))
                        .collect::<Vec<_>>()
                        .join("; ");
                    results.extend(settle(ListingOutcome::Failed {
                        error,
                        next_retry_at: None,
                    }));
                }
                Decision::Unchanged { hashes, .. } => {
                    results.extend(prepared.listings.iter().map(|l| already_held(l, &hashes)))
                }
                Decision::Stock { hashes, levels, .. } => {
                    for (listing, level) in prepared.listings.iter().zip(levels) {
                        stock.push(StockUpdate {
                            listing,
                            level,
                            hashes: hashes.clone(),
                        });
                    }
                }
                Decision::Send { push, hashes } => {
                    let product = &round.products[&prepared.product];
                    let listings = prepared
                        .listings
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
                        hashes,
                        listings,
                    });
                }
            }
        }
        (to_send, stock)
    }

    /// Sends a round's products and stock levels in the channel's batches,
    /// adding each listing's result to `results`. A call that fails as a
    /// whole ends the run (what was decided so far is kept).
    #[allow(clippy::too_many_arguments)]
    async fn send(
        &self,
        cx: &JobContext,
        tenant: TenantId,
        connection: ConnectionId,
        channel: &dyn Channel,
        to_send: &[Outgoing<'_>],
        stock: &[StockUpdate<'_>],
        settled: &mut Settled,
    ) -> Result<(), JobError> {
        let limits = channel.batch_limits();
        for chunk in to_send.chunks(limits.products.max(1)) {
            let pushes: Vec<ProductPush> = chunk.iter().map(|o| o.push.clone()).collect();
            let (outcome, call) = self
                .measured(connection, "upsert_products", pushes.len(), async {
                    channel.upsert_products(&pushes).await
                })
                .await;
            match outcome {
                Ok(outcomes) => {
                    let failed = outcomes.iter().filter(|o| o.result.is_err()).count();
                    for (entry, outcome) in chunk.iter().zip(outcomes.iter()) {
                        settled.results.extend(self.listing_results(entry, outcome));
                    }
                    settled
                        .logs
                        .push(call_log(tenant, connection, call.failed(failed), None));
                }
                Err(error) => {
                    return Err(give_up(cx, tenant, connection, call, error, settled).await);
                }
            }
        }
        for chunk in stock.chunks(limits.inventory.max(1)) {
            let levels: Vec<InventoryPush> = chunk.iter().map(|u| u.level.clone()).collect();
            let (outcome, call) = self
                .measured(connection, "set_inventory", levels.len(), async {
                    channel.set_inventory(&levels).await
                })
                .await;
            match outcome {
                Ok(outcomes) => {
                    let failed = outcomes.iter().filter(|o| o.result.is_err()).count();
                    for (update, outcome) in chunk.iter().zip(outcomes.iter()) {
                        settled.results.push(match &outcome.result {
                            Ok(()) => already_held(update.listing, &update.hashes),
                            Err(item) => self.failed(update.listing, item),
                        });
                    }
                    settled
                        .logs
                        .push(call_log(tenant, connection, call.failed(failed), None));
                }
                Err(error) => {
                    return Err(give_up(cx, tenant, connection, call, error, settled).await);
                }
            }
        }
        Ok(())
    }

    /// Runs one adapter call, timing it and counting the HTTP requests it
    /// made (from the usage meter: one connection's run is never concurrent
    /// with another of the same connection).
    async fn measured<T>(
        &self,
        connection: ConnectionId,
        operation: &'static str,
        items: usize,
        call: impl std::future::Future<Output = T>,
    ) -> (T, Call) {
        let usage = &self.hub.deps().usage;
        let (started, before) = (Instant::now(), usage.calls_so_far(connection));
        let outcome = call.await;
        let call = Call {
            operation,
            duration_ms: started.elapsed().as_millis() as i64,
            requests: usage.calls_so_far(connection) - before,
            items,
            failed: 0,
        };
        (outcome, call)
    }

    fn listing_results(&self, sent: &Outgoing<'_>, outcome: &ProductOutcome) -> Vec<ListingResult> {
        sent.listings
            .iter()
            .map(|(listing, sku)| match &outcome.result {
                Ok(product) => {
                    let variant = match sku {
                        Some(sku) => product.variants.iter().find(|v| &v.sku == sku),
                        None => None,
                    };
                    ListingResult {
                        id: listing.id,
                        read_at: listing.updated_at,
                        outcome: ListingOutcome::Synced {
                            external_product_id: product.external_id.clone(),
                            external_variant_id: variant.map(|v| v.external_id.clone()),
                            inventory_ref: variant.and_then(|v| v.inventory_ref.clone()),
                            hash: sent.hashes.full.clone(),
                            catalog_hash: sent.hashes.catalog.clone(),
                        },
                    }
                }
                Err(item) => self.failed(listing, item),
            })
            .collect()
    }

    /// The channel refused this listing's item: retried later with back-off
    /// when the refusal is passing, left failed when it is not.
    fn failed(&self, listing: &PendingListing, item: &ItemError) -> ListingResult {
        ListingResult {
            id: listing.id,
            read_at: listing.updated_at,
            outcome: ListingOutcome::Failed {
                error: format!("{}: {}", item.code, item.message),
                next_retry_at: item.retryable.then(|| {
                    let delay = self
                        .backoff
                        .delay((listing.attempts + 1).max(1) as u32, rand::random::<f64>());
                    Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default()
                }),
            },
        }
    }
}

/// One call a run made, for `sync_logs`.
struct Call {
    operation: &'static str,
    duration_ms: i64,
    /// HTTP requests the adapter made for it (batches, follow-ups, retries).
    requests: u64,
    items: usize,
    failed: usize,
}

impl Call {
    /// The same call with `failed` of its items refused.
    fn failed(self, failed: usize) -> Self {
        Self { failed, ..self }
    }
}

/// A call failed as a whole: log it, keep what the round decided so far,
/// and hand the retry to the queue (after the quota's wait when the
/// platform said how long).
async fn give_up(
    cx: &JobContext,
    tenant: TenantId,
    connection: ConnectionId,
    call: Call,
    error: ChannelError,
    settled: &mut Settled,
) -> JobError {
    let items = call.items;
    settled.logs.push(call_log(
        tenant,
        connection,
        call.failed(items),
        Some(&error),
    ));
    if let Err(e) = settled.record(&cx.store, tenant).await {
        return JobError::Retry(e.to_string());
    }
    queue_error(error)
}

/// The sync log entry for one adapter call.
fn call_log(
    tenant: TenantId,
    connection: ConnectionId,
    call: Call,
    error: Option<&ChannelError>,
) -> NewSyncLog {
    let status = match (error, call.failed) {
        (Some(_), _) => "failed",
        (None, 0) => "succeeded",
        (None, n) if n == call.items => "failed",
        _ => "partial",
    };
    NewSyncLog {
        tenant,
        connection: Some(connection),
        listing: None,
        operation: call.operation.to_owned(),
        status: status.to_owned(),
        dry_run: false,
        duration_ms: call.duration_ms,
        api_calls: call.requests as i32,
        detail: serde_json::json!({ "items": call.items, "failed": call.failed }),
        error: error.map(|e| e.to_string()),
    }
}
