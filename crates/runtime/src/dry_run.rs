//! Dry runs: what a sync of a connection would do, without doing it.
//!
//! The plan goes through the same [`prepare`] as the sync run, so rules,
//! hashing and validation decide the same way, and the call estimate comes
//! from the adapter's own batching ([`Channel::plan_upsert`]), chunked the
//! way the run chunks. The channel is only read (for the diff); nothing is
//! written to it. The dry run is recorded in `sync_logs` as such.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use serde::Serialize;
use shelfsync_channels::{
    CallPlan, Channel, ChannelListing, InventoryPush, ItemError, ProductPush,
};
use shelfsync_core::catalog::Product;
use shelfsync_core::{ConnectionId, ListingId, Platform, ProductId, TenantId};
use shelfsync_store::{NewSyncLog, Store};

use crate::connections::{ChannelHub, HubError};
use crate::prepare::{Decision, Prepared, prepare};
use crate::push::ROUND;
use crate::reconcile::{ReadBack, compare};

/// Products read from the catalog per query while planning.
const PRODUCT_CHUNK: usize = 500;

/// What a sync of one connection would do.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DryRunReport {
    pub connection_id: ConnectionId,
    pub platform: Platform,
    pub items: Vec<DryRunItem>,
    pub summary: DryRunSummary,
    pub estimate: CallEstimate,
}

/// One product's listings on the connection.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DryRunItem {
    pub product_id: ProductId,
    pub listing_ids: Vec<ListingId>,
    /// create, update, stock (levels only), unchanged, excluded, invalid, or gone.
    pub action: String,
    /// The product as the channel would receive it, after rules.
    #[schema(value_type = Option<Object>)]
    pub payload: Option<ProductPush>,
    /// How the channel's current state differs from the payload (for
    /// updates of items the channel holds).
    pub diff: Vec<FieldDiff>,
    /// What the platform would refuse, found before any call.
    #[schema(value_type = Vec<Object>)]
    pub errors: Vec<ItemError>,
    /// Rules that changed or excluded something: `rule 'eBay +12%' changed price of TEE 10.00 -> 11.20`.
    pub rules: Vec<String>,
    pub would_succeed: bool,
    /// Why it is excluded, when it is.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct DryRunSummary {
    pub listings: usize,
    pub create: usize,
    pub update: usize,
    pub unchanged: usize,
    /// Only stock changed: stock levels are set instead of the product sent.
    pub stock: usize,
    pub excluded: usize,
    pub invalid: usize,
    pub gone: usize,
}

/// The calls the run would make after batching, and how long the quota
/// makes them take.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CallEstimate {
    pub api_calls: u32,
    pub by_operation: BTreeMap<String, u32>,
    pub quota_units: f64,
    /// At the quota's sustained rate once its burst is spent; 0 when unlimited.
    pub quota_seconds: f64,
    /// Calls this dry run made to read the channel back (reads only).
    pub read_calls: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum DryRunError {
    #[error(transparent)]
    Hub(#[from] HubError),
    #[error(transparent)]
    Store(#[from] shelfsync_store::StoreError),
    #[error("reading the channel failed: {0}")]
    Channel(#[from] shelfsync_channels::ChannelError),
}

/// Plans a sync of `connection` (of `products` only, when given).
/// With `compare_channel`, reads the channel back to show the diff of each
/// update; without, the plan costs no channel calls at all.
pub async fn dry_run(
    hub: &ChannelHub,
    tenant: TenantId,
    connection: ConnectionId,
    products: Option<&[ProductId]>,
    compare_channel: bool,
) -> Result<DryRunReport, DryRunError> {
    let started = Instant::now();
    let store = hub.store();
    let channel = hub.channel(tenant, connection).await?;
    let rules = store
        .rules_for(tenant, connection, channel.platform())
        .await?;
    let listings = store
        .listings_in_scope(tenant, connection, products)
        .await?;
    let catalog = load_products(store, tenant, &listings).await?;

    let usage = &hub.deps().usage;
    let calls_before = usage.calls_so_far(connection);
    let held = if compare_channel {
        read_channel(channel.as_ref()).await?
    } else {
        HashMap::new()
    };
    // Requests, not pages: some platforms need follow-up calls per page.
    let read_calls = (usage.calls_so_far(connection) - calls_before) as u32;

    // The run takes its listings in rounds and sends each round's products
    // in the channel's batches; plan in the same rounds so the count matches.
    let mut plan = CallPlan::default();
    let mut summary = DryRunSummary {
        listings: listings.len(),
        ..Default::default()
    };
    let mut items = Vec::new();
    for round in rounds(&listings) {
        let prepared = prepare(channel.as_ref(), connection, &rules, &catalog, round);
        plan.merge(&round_plan(channel.as_ref(), &prepared));
        for p in &prepared {
            let item = report_item(p, &held, &catalog);
            match item.action.as_str() {
                "create" => summary.create += 1,
                "update" => summary.update += 1,
                "unchanged" => summary.unchanged += 1,
                "stock" => summary.stock += 1,
                "excluded" => summary.excluded += 1,
                "invalid" => summary.invalid += 1,
                _ => summary.gone += 1,
            }
            items.push(item);
        }
    }
    let estimate = CallEstimate {
        api_calls: plan.calls,
        quota_seconds: channel.estimate_seconds(&plan),
        by_operation: plan.by_operation,
        quota_units: plan.quota_units,
        read_calls,
    };

    let report = DryRunReport {
        connection_id: connection,
        platform: channel.platform(),
        items,
        summary,
        estimate,
    };
    let entry = NewSyncLog {
        tenant,
        connection: Some(connection),
        listing: None,
        operation: "sync".into(),
        status: "planned".into(),
        dry_run: true,
        duration_ms: started.elapsed().as_millis() as i64,
        api_calls: read_calls as i32,
        detail: serde_json::json!({
            "summary": report.summary,
            "estimate": report.estimate,
            "products": products.map(|p| p.len()),
        }),
        error: None,
    };
    if let Err(e) = store.insert_sync_log(&entry).await {
        tracing::warn!(error = %e, "could not record a dry run");
    }
    Ok(report)
}

async fn load_products(
    store: &Store,
    tenant: TenantId,
    listings: &[shelfsync_store::PendingListing],
) -> Result<HashMap<ProductId, Product>, shelfsync_store::StoreError> {
    let mut ids: Vec<ProductId> = listings.iter().map(|l| l.product).collect();
    ids.dedup();
    let mut products = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(PRODUCT_CHUNK) {
        for product in store.get_products(tenant, chunk).await? {
            products.insert(product.id, product);
        }
    }
    Ok(products)
}

/// Everything the channel holds, by its product id.
async fn read_channel(
    channel: &dyn Channel,
) -> Result<HashMap<String, ChannelListing>, DryRunError> {
    let mut held = HashMap::new();
    let mut reader = ReadBack::default();
    while let Some(page) = reader.next(channel).await? {
        for listing in page {
            held.insert(listing.external_id.clone(), listing);
        }
    }
    Ok(held)
}

/// One round's calls: its pushes chunked as [`crate::push::ChannelPush`]
/// chunks them, each chunk planned by the adapter.
fn round_plan(channel: &dyn Channel, prepared: &[Prepared<'_>]) -> CallPlan {
    let to_send: Vec<ProductPush> = prepared
        .iter()
        .filter_map(|p| match &p.decision {
            Decision::Send { push, .. } => Some(push.clone()),
            _ => None,
        })
        .collect();
    let levels: Vec<InventoryPush> = prepared
        .iter()
        .flat_map(|p| match &p.decision {
            Decision::Stock { levels, .. } => levels.clone(),
            _ => Vec::new(),
        })
        .collect();
    let limits = channel.batch_limits();
    let mut total = CallPlan::default();
    for chunk in to_send.chunks(limits.products.max(1)) {
        total.merge(&channel.plan_upsert(chunk));
    }
    for chunk in levels.chunks(limits.inventory.max(1)) {
        total.merge(&channel.plan_inventory(chunk));
    }
    total
}

fn report_item(
    p: &Prepared<'_>,
    held: &HashMap<String, ChannelListing>,
    catalog: &HashMap<ProductId, Product>,
) -> DryRunItem {
    let (payload, errors, reason) = match &p.decision {
        Decision::Gone => (
            None,
            Vec::new(),
            Some("removed from the catalog".to_owned()),
        ),
        Decision::Excluded { reason } => (None, Vec::new(), Some(reason.clone())),
        Decision::Unchanged { push, .. }
        | Decision::Send { push, .. }
        | Decision::Stock { push, .. } => (Some(push.clone()), Vec::new(), None),
        Decision::Invalid { push, errors } => (Some(push.clone()), errors.clone(), None),
    };
    let diff = match (&payload, p.decision.action(), catalog.get(&p.product)) {
        (Some(push), "update" | "stock" | "invalid", Some(product)) => push
            .external_id
            .as_ref()
            .and_then(|id| held.get(id))
            .map(|listing| field_diffs(product, push, &p.listings, listing))
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    DryRunItem {
        product_id: p.product,
        listing_ids: p.listings.iter().map(|l| l.id).collect(),
        action: p.decision.action().to_owned(),
        would_succeed: !matches!(p.decision, Decision::Invalid { .. }),
        payload,
        diff,
        errors,
        rules: p.applied.iter().flat_map(rule_messages).collect(),
        reason,
    }
}

fn rule_messages(applied: &shelfsync_core::rules::AppliedRule) -> Vec<String> {
    if applied.changes.is_empty() {
        vec![format!("rule '{}' excluded it", applied.name)]
    } else {
        applied
            .changes
            .iter()
            .map(|c| format!("rule '{}' {c}", applied.name))
            .collect()
    }
}

/// One field whose value on the channel differs from what the sync sends.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FieldDiff {
    /// `title`, `status`, `price`, `quantity`, or `variant` (not on the channel).
    pub field: String,
    /// The variant's SKU for variant fields.
    pub sku: Option<String>,
    /// What the channel holds now.
    #[schema(value_type = Object)]
    pub channel: serde_json::Value,
    /// What the sync would make it hold.
    #[schema(value_type = Object)]
    pub desired: serde_json::Value,
}

/// The differences reconciliation would see, in the dry run's words.
fn field_diffs(
    product: &Product,
    push: &ProductPush,
    listings: &[&shelfsync_store::PendingListing],
    held: &ChannelListing,
) -> Vec<FieldDiff> {
    match compare(product, push, listings, held) {
        Some(drifts) => drifts
            .into_iter()
            .map(|d| FieldDiff {
                field: d.field.as_str().to_owned(),
                sku: d.sku,
                channel: d.channel,
                desired: d.master,
            })
            .collect(),
        None => vec![FieldDiff {
            field: "variant".into(),
            sku: None,
            channel: serde_json::Value::Null,
            desired: serde_json::Value::String("a listed variant the channel does not hold".into()),
        }],
    }
}

/// `listings` (grouped by product) cut into the rounds a run takes them in:
/// [`ROUND`] products each, never splitting a product.
fn rounds(listings: &[shelfsync_store::PendingListing]) -> Vec<&[shelfsync_store::PendingListing]> {
    let mut rounds = Vec::new();
    let (mut start, mut products) = (0, 0_i64);
    for i in 0..listings.len() {
        if i == 0 || listings[i].product != listings[i - 1].product {
            if products == ROUND {
                rounds.push(&listings[start..i]);
                start = i;
                products = 0;
            }
            products += 1;
        }
    }
    if start < listings.len() {
        rounds.push(&listings[start..]);
    }
    rounds
}

#[cfg(test)]
mod tests {
    use super::*;
    use shelfsync_store::PendingListing;

    fn listing(product: ProductId) -> PendingListing {
        PendingListing {
            id: ListingId::new(),
            product,
            variant: None,
            external_product_id: None,
            external_variant_id: None,
            inventory_ref: None,
            last_pushed_hash: None,
            catalog_hash: None,
            attempts: 0,
            updated_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn rounds_hold_whole_products_and_match_the_run() {
        // ROUND + 1 products, the first with three listings.
        let mut listings = Vec::new();
        for n in 0..=ROUND {
            let product = ProductId::new();
            let copies = if n == 0 { 3 } else { 1 };
            listings.extend((0..copies).map(|_| listing(product)));
        }
        let cut = rounds(&listings);
        assert_eq!(cut.len(), 2);
        assert_eq!(cut[0].len(), ROUND as usize + 2);
        assert_eq!(cut[1].len(), 1);
        assert!(rounds(&[]).is_empty());
    }
}
