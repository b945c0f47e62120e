//! Reconciliation: read a channel back and repair drift.
//!
//! A push only says what we sent. Merchants edit channels directly, apps
//! and platforms change items, and a push can be lost; so every connection
//! is read back on a schedule (`reconcile.all` enqueues one
//! `reconcile.connection` per active connection) and on demand. Each synced
//! listing is compared field by field (title, status, and per variant price
//! and quantity, only where the channel reports them) with what a push would
//! send now (the rules applied, as [`crate::prepare`] does). A field that differs is drift,
//! settled by the conflict policy for (connection, field):
//!
//! * master wins: the listing is pushed again (forced, even though its
//!   content hash did not change);
//! * channel wins: the channel's value is written into the master catalog
//!   through the ordinary write path, so it reaches the other channels;
//! * newest wins: whichever side changed last, as one of the two above;
//! * manual: a conflict is opened and nothing is pushed to that listing
//!   until someone settles it (`/v1/conflicts`).
//!
//! An item the channel no longer has is pushed again.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use shelfsync_channels::{
    Channel, ChannelError, ChannelListing, ChannelVariant, ProductPush, PushStatus,
};
use shelfsync_core::catalog::Product;
use shelfsync_core::{ConnectionId, Platform, ProductId, TenantId, VariantId};
use shelfsync_store::{
    ConflictField, ConflictPolicy, JobRecord, NewConflict, NewJob, NewSyncLog, PendingListing,
    SYNC_QUEUE, StoreError, WriteContext, policy_for,
};

use crate::connections::{ChannelHub, HubError};
use crate::push::product_push;
use crate::sync::{enqueue_and_wake, job_connection};
use crate::worker::{JobContext, JobError, JobHandler};
use shelfsync_core::rules::apply_rules;

/// Pages read from a channel in one run at most: a guard against a cursor
/// that never ends, far above any real catalog.
const MAX_PAGES: usize = 100_000;
/// Products read from the catalog at a time.
const PRODUCT_CHUNK: usize = 500;
/// The actor named in the audit trail for values taken from a channel.
const ACTOR: &str = "reconciliation";

/// Reads connections back through their channel adapters.
pub struct Reconciler {
    pub hub: ChannelHub,
    /// Attempts given to the sync jobs a repair enqueues.
    pub sync_max_attempts: i32,
}

/// What one run found, as written to `sync_logs`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Channel pages read.
    pub pages: usize,
    /// Products compared.
    pub checked: usize,
    /// Products the channel holds as we would push them.
    pub in_sync: usize,
    /// Products pushed again (missing on the channel, or master won).
    pub repaired: usize,
    /// Fields whose channel value was taken into the master catalog.
    pub absorbed: usize,
    /// Conflicts opened for someone to decide.
    pub conflicts: usize,
}

/// One field that differs between the channel and what we would push.
#[derive(Debug, Clone)]
pub(crate) struct Drift<'a> {
    pub(crate) listing: &'a PendingListing,
    pub(crate) field: ConflictField,
    /// The master variant a variant field belongs to.
    pub(crate) variant: Option<VariantId>,
    pub(crate) sku: Option<String>,
    pub(crate) external_variant_id: Option<String>,
    pub(crate) master: serde_json::Value,
    pub(crate) channel: serde_json::Value,
}

impl Reconciler {
    pub fn new(hub: ChannelHub, sync_max_attempts: i32) -> Self {
        Self {
            hub,
            sync_max_attempts,
        }
    }

    /// Reconciles one connection: read the channel, compare, repair.
    pub async fn reconcile(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        cx: &JobContext,
    ) -> Result<ReconcileReport, JobError> {
        let channel = match self.hub.channel(tenant, connection).await {
            Ok(channel) => channel,
            // Nothing to read back; the next schedule looks again.
            Err(HubError::NotFound | HubError::Disconnected) => {
                return Ok(ReconcileReport::default());
            }
            Err(HubError::Channel(e)) if !e.is_retryable() => {
                return Err(JobError::Fatal(format!("cannot reach the channel: {e}")));
            }
            Err(e) => return Err(JobError::Retry(format!("cannot reach the channel: {e}"))),
        };
        let started = Instant::now();
        // Listings pushed after this instant may be newer than what we read.
        let read_from = Utc::now();
        let mut report = ReconcileReport::default();

        let mut held: HashMap<String, ChannelListing> = HashMap::new();
        let mut reader = ReadBack::default();
        loop {
            if cx.shutdown.is_cancelled() {
                return Err(JobError::Interrupted);
            }
            let page = match reader.next(channel.as_ref()).await {
                Ok(Some(page)) => page,
                Ok(None) => break,
                Err(error) => {
                    self.log(cx, tenant, connection, &report, started, Some(&error))
                        .await;
                    return Err(channel_error(error));
                }
            };
            report.pages = reader.pages;
            for listing in page {
                held.insert(listing.external_id.clone(), listing);
            }
        }

        let listings = cx
            .store
            .synced_listings(tenant, connection)
            .await
            .map_err(retry)?;
        self.settle(
            cx,
            tenant,
            connection,
            channel.platform(),
            &held,
            &listings,
            read_from,
            &mut report,
        )
        .await?;
        self.log(cx, tenant, connection, &report, started, None)
            .await;
        Ok(report)
    }

    /// Settles what a channel's webhook says it now holds for some items
    /// (`held`; `gone` for items it deleted), as a full reconciliation would
    /// for them: repair, absorb or open conflicts per policy.
    pub async fn settle_items(
        &self,
        cx: &JobContext,
        tenant: TenantId,
        connection: ConnectionId,
        platform: Platform,
        held: Vec<ChannelListing>,
        gone: Vec<String>,
    ) -> Result<ReconcileReport, JobError> {
        let started = Instant::now();
        let mut ids: Vec<String> = held.iter().map(|l| l.external_id.clone()).collect();
        ids.extend(gone);
        let listings = cx
            .store
            .synced_listings_for_items(tenant, connection, &ids)
            .await
            .map_err(retry)?;
        let held: HashMap<String, ChannelListing> = held
            .into_iter()
            .map(|l| (l.external_id.clone(), l))
            .collect();
        let mut report = ReconcileReport::default();
        self.settle(
            cx,
            tenant,
            connection,
            platform,
            &held,
            &listings,
            Utc::now(),
            &mut report,
        )
        .await?;
        self.log(cx, tenant, connection, &report, started, None)
            .await;
        Ok(report)
    }

    /// Compares `listings` (synced before `read_from`) with what the channel
    /// holds and settles every difference per the conflict policies.
    #[allow(clippy::too_many_arguments)]
    async fn settle(
        &self,
        cx: &JobContext,
        tenant: TenantId,
        connection: ConnectionId,
        platform: Platform,
        held: &HashMap<String, ChannelListing>,
        listings: &[PendingListing],
        read_from: DateTime<Utc>,
        report: &mut ReconcileReport,
    ) -> Result<(), JobError> {
        let store = &cx.store;
        let rules = store
            .rules_for(tenant, connection, platform)
            .await
            .map_err(retry)?;
        let mut by_product: BTreeMap<ProductId, Vec<&PendingListing>> = BTreeMap::new();
        for listing in listings.iter().filter(|l| l.updated_at < read_from) {
            by_product.entry(listing.product).or_default().push(listing);
        }
        let ids: Vec<ProductId> = by_product.keys().copied().collect();
        let mut products: HashMap<ProductId, Product> = HashMap::new();
        for chunk in ids.chunks(PRODUCT_CHUNK) {
            for product in store.get_products(tenant, chunk).await.map_err(retry)? {
                products.insert(product.id, product);
            }
        }
        let policies = store.list_policies(tenant).await.map_err(retry)?;

        let mut repush: Vec<ProductId> = Vec::new();
        let mut absorb: Vec<(Drift<'_>, NewConflict)> = Vec::new();
        let mut settled: Vec<NewConflict> = Vec::new();
        let mut open: Vec<NewConflict> = Vec::new();
        for (id, listings) in &by_product {
            // Gone from the catalog: the sync run takes such listings down.
            let Some(product) = products.get(id) else {
                continue;
            };
            report.checked += 1;
            // What the channel should hold: the rules applied, as the sync run does.
            let transformed = apply_rules(&rules, product, connection, platform);
            let push = product_push(&transformed.product, listings);
            let on_channel = listings
                .iter()
                .find_map(|l| l.external_product_id.as_deref())
                .and_then(|external| held.get(external));
            let Some(on_channel) = on_channel else {
                repush.push(*id);
                continue;
            };
            let Some(drifts) = compare(product, &push, listings, on_channel) else {
                // A listed variant is missing on the channel: push it again.
                repush.push(*id);
                continue;
            };
            if drifts.is_empty() {
                report.in_sync += 1;
                continue;
            }
            for drift in drifts {
                let policy = policy_for(&policies, connection, drift.field);
                let wins = match policy {
                    ConflictPolicy::NewestWins => {
                        let master_changed = master_updated_at(product, drift.variant);
                        match on_channel.updated_at {
                            Some(channel_changed) if channel_changed > master_changed => {
                                ConflictPolicy::ChannelWins
                            }
                            _ => ConflictPolicy::MasterWins,
                        }
                    }
                    other => other,
                };
                let mut conflict = new_conflict(tenant, connection, product, &drift, on_channel);
                conflict.policy = policy;
                match wins {
                    ConflictPolicy::ChannelWins => absorb.push((drift, conflict)),
                    ConflictPolicy::Manual => open.push(conflict),
                    _ => {
                        if !repush.contains(id) {
                            repush.push(*id);
                        }
                        conflict.resolution = Some("master_wins".into());
                        settled.push(conflict);
                    }
                }
            }
        }

        // The catalog takes the channel's values first, so that a forced
        // re-push of the same product sends them back, not the old ones.
        let ctx = WriteContext::new(tenant, ACTOR);
        for (drift, mut conflict) in absorb {
            match store
                .absorb_channel_value(
                    &ctx,
                    conflict.product,
                    drift.variant,
                    drift.field,
                    &drift.channel,
                )
                .await
            {
                Ok(()) => {
                    report.absorbed += 1;
                    conflict.resolution = Some("channel_wins".into());
                    settled.push(conflict);
                }
                // A value the catalog cannot take (or a variant gone since):
                // someone has to decide.
                Err(StoreError::Invalid(_) | StoreError::NotFound | StoreError::Conflict(_)) => {
                    open.push(conflict);
                }
                Err(e) => return Err(retry(e)),
            }
        }
        if !repush.is_empty() {
            report.repaired = repush.len();
            store
                .repush_products(tenant, connection, &repush, self.sync_max_attempts)
                .await
                .map_err(retry)?;
            cx.wakeups.wake(SYNC_QUEUE).await;
        }
        for conflict in &settled {
            store.record_conflict(conflict).await.map_err(retry)?;
        }
        let mut opened = HashSet::new();
        for conflict in &open {
            store.record_conflict(conflict).await.map_err(retry)?;
            opened.insert((conflict.listing, conflict.field));
        }
        report.conflicts = opened.len();
        Ok(())
    }

    async fn log(
        &self,
        cx: &JobContext,
        tenant: TenantId,
        connection: ConnectionId,
        report: &ReconcileReport,
        started: Instant,
        error: Option<&ChannelError>,
    ) {
        let entry = NewSyncLog {
            tenant,
            connection: Some(connection),
            listing: None,
            operation: "reconcile".into(),
            status: if error.is_some() {
                "failed"
            } else {
                "succeeded"
            }
            .into(),
            dry_run: false,
            duration_ms: started.elapsed().as_millis() as i64,
            api_calls: report.pages as i32,
            detail: serde_json::json!({
                "checked": report.checked,
                "in_sync": report.in_sync,
                "repaired": report.repaired,
                "absorbed": report.absorbed,
                "conflicts": report.conflicts,
            }),
            error: error.map(|e| e.to_string()),
        };
        if let Err(e) = cx.store.insert_sync_log(&entry).await {
            tracing::warn!(error = %e, "could not write a sync log");
        }
    }
}

fn retry(e: StoreError) -> JobError {
    JobError::Retry(e.to_string())
}

fn channel_error(error: ChannelError) -> JobError {
    match error {
        ChannelError::Throttled {
            retry_after: Some(wait),
        }
        | ChannelError::QuotaExhausted { retry_after: wait } => {
            JobError::RetryAfter(error.to_string(), wait)
        }
        e if !e.is_retryable() => JobError::Fatal(e.to_string()),
        e => JobError::Retry(e.to_string()),
    }
}

fn new_conflict(
    tenant: TenantId,
    connection: ConnectionId,
    product: &Product,
    drift: &Drift<'_>,
    on_channel: &ChannelListing,
) -> NewConflict {
    NewConflict {
        tenant,
        connection,
        listing: drift.listing.id,
        product: product.id,
        variant: drift.variant.or(drift.listing.variant),
        sku: drift.sku.clone(),
        field: drift.field,
        master_value: drift.master.clone(),
        channel_value: drift.channel.clone(),
        policy: ConflictPolicy::MasterWins,
        external_product_id: Some(on_channel.external_id.clone()),
        external_variant_id: drift.external_variant_id.clone(),
        channel_updated_at: on_channel.updated_at,
        resolution: None,
    }
}

/// When the master side of a listing last changed: its product, or its
/// variant if that is later.
fn master_updated_at(product: &Product, variant: Option<VariantId>) -> DateTime<Utc> {
    let variant = variant
        .and_then(|id| product.variants.iter().find(|v| v.id == id))
        .map(|v| v.updated_at);
    variant.map_or(product.updated_at, |v| v.max(product.updated_at))
}

/// A channel's status in our terms, when it is one we can tell apart:
/// Shopify's lower-cased `active`/`draft`/`archived`, WooCommerce's
/// `publish`/`draft`/`private`. Anything else is not compared.
pub fn channel_status(status: &str) -> Option<PushStatus> {
    match status.to_ascii_lowercase().as_str() {
        "active" | "publish" | "published" => Some(PushStatus::Active),
        "draft" => Some(PushStatus::Draft),
        "archived" | "private" => Some(PushStatus::Archived),
        _ => None,
    }
}

fn status_value(status: PushStatus) -> serde_json::Value {
    serde_json::Value::String(
        match status {
            PushStatus::Active => "active",
            PushStatus::Draft => "draft",
            PushStatus::Archived => "archived",
        }
        .into(),
    )
}

/// The fields where the channel differs from `push`, only those the channel
/// reports. `None` when a listed variant is not on the channel at all.
pub(crate) fn compare<'a>(
    product: &Product,
    push: &ProductPush,
    listings: &[&'a PendingListing],
    on_channel: &ChannelListing,
) -> Option<Vec<Drift<'a>>> {
    let mut drifts = Vec::new();
    let first = *listings.first()?;
    // An empty title is a channel that did not say, not a merchant's edit.
    if !on_channel.title.is_empty() && on_channel.title != push.title {
        drifts.push(Drift {
            listing: first,
            field: ConflictField::Title,
            variant: None,
            sku: None,
            external_variant_id: None,
            master: push.title.clone().into(),
            channel: on_channel.title.clone().into(),
        });
    }
    if let Some(status) = on_channel.status.as_deref().and_then(channel_status)
        && status != push.status
    {
        drifts.push(Drift {
            listing: first,
            field: ConflictField::Status,
            variant: None,
            sku: None,
            external_variant_id: None,
            master: status_value(push.status),
            channel: status_value(status),
        });
    }
    for listing in listings {
        // The pushed variants this listing stands for.
        let skus: Vec<&str> = match listing.variant {
            Some(id) => product
                .variants
                .iter()
                .filter(|v| v.id == id)
                .map(|v| v.sku.as_str())
                .collect(),
            None => push.variants.iter().map(|v| v.sku.as_str()).collect(),
        };
        for sku in skus {
            let Some(wanted) = push.variants.iter().find(|v| v.sku == sku) else {
                continue;
            };
            let held = find_variant(on_channel, sku, listing.external_variant_id.as_deref())?;
            let variant = product.variants.iter().find(|v| v.sku == sku).map(|v| v.id);
            let drift = |field, master: serde_json::Value, channel: serde_json::Value| Drift {
                listing,
                field,
                variant,
                sku: Some(sku.to_owned()),
                external_variant_id: Some(held.external_id.clone()),
                master,
                channel,
            };
            if let Some(price) = held.price
                && price != wanted.price
            {
                drifts.push(drift(
                    ConflictField::Price,
                    wanted.price.normalize().to_string().into(),
                    price.normalize().to_string().into(),
                ));
            }
            if let Some(quantity) = held.quantity
                && quantity != wanted.quantity
            {
                drifts.push(drift(
                    ConflictField::Quantity,
                    wanted.quantity.into(),
                    quantity.into(),
                ));
            }
        }
    }
    Some(drifts)
}

/// The channel's variant: by SKU, else by the id the channel gave it.
fn find_variant<'c>(
    on_channel: &'c ChannelListing,
    sku: &str,
    external_id: Option<&str>,
) -> Option<&'c ChannelVariant> {
    on_channel
        .variants
        .iter()
        .find(|v| v.sku.as_deref() == Some(sku))
        .or_else(|| {
            let external_id = external_id?;
            on_channel
                .variants
                .iter()
                .find(|v| v.external_id == external_id)
        })
}

/// Reads a channel back a page at a time: follows its cursor to the last
/// page, at most [`MAX_PAGES`], and stops if a platform hands back the
/// cursor it was given (it would otherwise hold a run forever).
#[derive(Debug, Default)]
pub(crate) struct ReadBack {
    cursor: Option<String>,
    /// Pages read so far.
    pub(crate) pages: usize,
    done: bool,
}

impl ReadBack {
    /// The next page's listings; `None` once the last page has been read.
    pub(crate) async fn next(
        &mut self,
        channel: &dyn Channel,
    ) -> Result<Option<Vec<ChannelListing>>, ChannelError> {
        if self.done {
            return Ok(None);
        }
        let page = channel.read_listings(self.cursor.as_deref()).await?;
        self.pages += 1;
        match page.next_cursor {
            Some(next) if self.pages < MAX_PAGES && self.cursor.as_deref() != Some(&next) => {
                self.cursor = Some(next);
            }
            _ => self.done = true,
        }
        Ok(Some(page.listings))
    }
}

/// The handler for `reconcile.connection` jobs.
pub struct ReconcileConnectionJob {
    pub reconciler: Arc<Reconciler>,
}

#[async_trait]
impl JobHandler for ReconcileConnectionJob {
    async fn run(&self, job: &JobRecord, cx: &JobContext) -> Result<(), JobError> {
        let (tenant, connection) = job_connection(job)?;
        let report = self.reconciler.reconcile(tenant, connection, cx).await?;
        tracing::info!(%tenant, %connection, ?report, "reconciled");
        Ok(())
    }
}

/// The handler for the repeatable `reconcile.all`: one deduplicated
/// `reconcile.connection` per active connection.
pub struct ReconcileAllJob {
    pub max_attempts: i32,
}

#[async_trait]
impl JobHandler for ReconcileAllJob {
    async fn run(&self, _job: &JobRecord, cx: &JobContext) -> Result<(), JobError> {
        let connections = cx.store.active_connections().await.map_err(retry)?;
        let jobs: Vec<NewJob> = connections
            .iter()
            .map(|(tenant, connection)| {
                NewJob::reconcile_connection(*tenant, *connection, self.max_attempts)
            })
            .collect();
        enqueue_and_wake(cx, &jobs).await
    }
}
