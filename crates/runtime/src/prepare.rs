//! Deciding what a sync would send, shared by the sync run and the dry run.
//!
//! A dry run is only worth something if it predicts the real run, so both
//! go through [`prepare`]: rules, then the channel's own view of the product,
//! then the content hash (unchanged content is never sent), then the
//! platform's validation. The run sends what is left; the dry run reports it.

use std::collections::{BTreeMap, HashMap};

use shelfsync_channels::{Channel, InventoryPush, ItemError, ProductPush};
use shelfsync_core::catalog::Product;
use shelfsync_core::rules::{AppliedRule, Rule, apply_rules};
use shelfsync_core::{ConnectionId, ProductId};
use shelfsync_store::PendingListing;

use crate::push::{catalog_hash, product_push, push_hash};

/// What a sync does with one product's listings on one connection.
#[derive(Debug)]
pub struct Prepared<'a> {
    pub product: ProductId,
    pub listings: Vec<&'a PendingListing>,
    /// The rules that changed or excluded something, in the order applied.
    pub applied: Vec<AppliedRule>,
    pub decision: Decision,
}

#[derive(Debug)]
pub enum Decision {
    /// The product or variant is no longer in the catalog.
    Gone,
    /// A rule keeps these listings off the channel.
    Excluded { reason: String },
    /// The channel already holds exactly this: no call.
    Unchanged { push: ProductPush, hashes: Hashes },
    /// Only stock changed since the channel last accepted the product: set
    /// the levels (the platforms' cheap bulk call) instead of the product.
    Stock {
        push: ProductPush,
        hashes: Hashes,
        levels: Vec<InventoryPush>,
    },
    /// The platform would refuse it; sending would only spend quota.
    Invalid {
        push: ProductPush,
        errors: Vec<ItemError>,
    },
    /// To send.
    Send { push: ProductPush, hashes: Hashes },
}

/// The content hashes a listing records once the channel accepts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hashes {
    /// Of everything we send.
    pub full: Vec<u8>,
    /// Of everything but stock.
    pub catalog: Vec<u8>,
}

impl Decision {
    pub fn action(&self) -> &'static str {
        match self {
            Decision::Gone => "gone",
            Decision::Excluded { .. } => "excluded",
            Decision::Unchanged { .. } => "unchanged",
            Decision::Stock { .. } => "stock",
            Decision::Invalid { .. } => "invalid",
            Decision::Send { push, .. } if push.external_id.is_none() => "create",
            Decision::Send { .. } => "update",
        }
    }
}

/// Decides, per product, what a sync of `listings` sends to `channel`.
/// `listings` must be grouped by product (the store returns them so).
pub fn prepare<'a>(
    channel: &dyn Channel,
    connection: ConnectionId,
    rules: &[Rule],
    products: &HashMap<ProductId, Product>,
    listings: &'a [PendingListing],
) -> Vec<Prepared<'a>> {
    let mut by_product: BTreeMap<ProductId, Vec<&PendingListing>> = BTreeMap::new();
    for listing in listings {
        by_product.entry(listing.product).or_default().push(listing);
    }
    let mut prepared = Vec::with_capacity(by_product.len());
    for (id, group) in by_product {
        let Some(product) = products.get(&id) else {
            prepared.push(Prepared {
                product: id,
                listings: group,
                applied: Vec::new(),
                decision: Decision::Gone,
            });
            continue;
        };
        let outcome = apply_rules(rules, product, connection, channel.platform());
        let excluders = || {
            let names: Vec<String> = outcome
                .applied
                .iter()
                .filter(|a| a.changes.is_empty())
                .map(|a| format!("'{}'", a.name))
                .collect();
            if names.is_empty() {
                "excluded by a rule".to_owned()
            } else {
                format!("excluded by rule {}", names.join(", "))
            }
        };
        // Listings of variants that no longer exist, and of variants a rule excludes.
        let (mut gone, mut excluded, mut kept) = (Vec::new(), Vec::new(), Vec::new());
        for listing in group {
            match listing.variant {
                Some(v) if !product.variants.iter().any(|x| x.id == v) => gone.push(listing),
                _ if outcome.excluded => excluded.push(listing),
                Some(v) if outcome.excluded_variants.contains(&v) => excluded.push(listing),
                _ => kept.push(listing),
            }
        }
        if !gone.is_empty() {
            prepared.push(Prepared {
                product: id,
                listings: gone,
                applied: Vec::new(),
                decision: Decision::Gone,
            });
        }
        if !excluded.is_empty() {
            prepared.push(Prepared {
                product: id,
                listings: excluded,
                applied: outcome.applied.clone(),
                decision: Decision::Excluded {
                    reason: excluders(),
                },
            });
        }
        if kept.is_empty() {
            continue;
        }
        let push = product_push(&outcome.product, &kept);
        let hashes = Hashes {
            full: push_hash(&push),
            catalog: catalog_hash(&push),
        };
        let decision = if kept.iter().all(|l| {
            l.last_pushed_hash.as_deref() == Some(hashes.full.as_slice())
                && l.external_product_id.is_some()
        }) {
            Decision::Unchanged { push, hashes }
        } else if let Some(levels) = stock_only(&push, &hashes, &kept, product) {
            Decision::Stock {
                push,
                hashes,
                levels,
            }
        } else {
            let errors = channel.validate_push(&push);
            if errors.is_empty() {
                Decision::Send { push, hashes }
            } else {
                Decision::Invalid { push, errors }
            }
        };
        prepared.push(Prepared {
            product: id,
            listings: kept,
            applied: outcome.applied,
            decision,
        });
    }
    prepared
}

/// The stock levels to set when stock is all that changed: every listing is
/// of one variant the channel already holds, and the rest of the content is
/// what it last accepted. `None` when the product has to be sent whole.
fn stock_only(
    push: &ProductPush,
    hashes: &Hashes,
    listings: &[&PendingListing],
    product: &Product,
) -> Option<Vec<InventoryPush>> {
    listings
        .iter()
        .map(|l| {
            if l.catalog_hash.as_deref() != Some(hashes.catalog.as_slice()) {
                return None;
            }
            let variant = product.variants.iter().find(|v| Some(v.id) == l.variant)?;
            let sent = push.variants.iter().find(|v| v.sku == variant.sku)?;
            Some(InventoryPush {
                sku: sent.sku.clone(),
                external_product_id: Some(l.external_product_id.clone()?),
                external_variant_id: Some(l.external_variant_id.clone()?),
                inventory_ref: l.inventory_ref.clone(),
                quantity: sent.quantity,
            })
        })
        .collect()
}
