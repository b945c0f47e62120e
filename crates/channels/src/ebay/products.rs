//! Creating and updating products on eBay, in as few calls as the Inventory
//! API allows:
//!
//! 1. every variant's inventory item, 25 per `bulkCreateOrReplaceInventoryItem`;
//! 2. one `createOrReplaceInventoryItemGroup` per multi-variant product;
//! 3. an offer for every variant that has none yet, 25 per `bulkCreateOffer`
//!    (an "offer entity already exists" answer, or a failure with an offer
//!    already on eBay, adopts that offer instead);
//! 4. for `Active` products: publish (25 single offers per `bulkPublishOffer`,
//!    one `publishOfferByInventoryItemGroup` per group), then bring existing
//!    offers' price and quantity up to date, 25 SKUs per
//!    `bulkUpdatePriceQuantity`; for `Draft` and `Archived` products, existing
//!    offers are rewritten with `updateOffer` (the bulk call is documented for
//!    published offers only) and `Archived` ones are withdrawn first.
//!
//! A product whose item, group or offer eBay refuses gets that refusal as
//! its [`ItemError`]; the others carry on. Every step is idempotent on a
//! retry of the whole batch (replace, replace, adopt existing offer, publish).

use std::collections::{HashMap, HashSet};

use reqwest::Method;
use serde::Serialize;

use super::quota::INVENTORY;
use super::wire::{self, GroupKey, OfferKey, OfferPriceQuantity, PriceQuantity, Requests};
use super::{BULK_LIMIT, Ebay};
use crate::http::Reply;
use crate::validate;
use crate::{
    CallPlan, ChannelError, ItemError, ProductOutcome, ProductPush, ProductRef, PushStatus,
    VariantPush, VariantRef,
};

/// One product's progress through the steps.
struct Work<'a> {
    product: &'a ProductPush,
    failed: Option<ItemError>,
    /// The inventory item group key, for multi-variant products.
    group: Option<String>,
    /// SKU → offer id.
    offers: HashMap<String, String>,
    /// SKUs whose offer was on eBay before this call (their price and
    /// quantity need updating; new offers were created with them).
    existing: HashSet<String>,
}

impl<'a> Work<'a> {
    fn new(product: &'a ProductPush) -> Self {
        Work {
            product,
            failed: None,
            group: None,
            offers: HashMap::new(),
            existing: HashSet::new(),
        }
    }

    fn ok(&self) -> bool {
        self.failed.is_none()
    }

    /// Keep the first refusal: it is the cause, later ones are consequences.
    fn fail(&mut self, error: ItemError) {
        if self.failed.is_none() {
            self.failed = Some(error);
        }
    }

    fn outcome(self) -> ProductOutcome {
        let key = self.product.key.clone();
        if let Some(error) = self.failed {
            return ProductOutcome {
                key,
                result: Err(error),
            };
        }
        let mut variants = Vec::with_capacity(self.product.variants.len());
        for variant in &self.product.variants {
            let Some(offer) = self.offers.get(&variant.sku) else {
                return ProductOutcome {
                    key,
                    result: Err(ItemError::retryable(
                        "no_offer",
                        format!("eBay gave no offer id for SKU {}", variant.sku),
                    )),
                };
            };
            variants.push(VariantRef {
                sku: variant.sku.clone(),
                external_id: offer.clone(),
                inventory_ref: Some(offer.clone()),
            });
        }
        let external_id = self
            .group
            .clone()
            .unwrap_or_else(|| self.product.variants[0].sku.clone());
        ProductOutcome {
            key,
            result: Ok(ProductRef {
                external_id,
                variants,
            }),
        }
    }
}

pub(super) async fn upsert(
    ebay: &Ebay,
    products: &[ProductPush],
) -> Result<Vec<ProductOutcome>, ChannelError> {
    let mut work: Vec<Work> = products.iter().map(Work::new).collect();
    validate_batch(&mut work);
    write_items(ebay, &mut work).await?;
    write_groups(ebay, &mut work).await?;
    create_offers(ebay, &mut work).await?;
    publish(ebay, &mut work).await?;
    update_live_offers(ebay, &mut work).await?;
    update_unlisted_offers(ebay, &mut work).await?;
    Ok(work.into_iter().map(Work::outcome).collect())
}

/// What eBay would refuse a product for, known without a call: the shared
/// rules, SKUs of at most 50 characters (`sku` "Max length: 50" on
/// createOrReplaceInventoryItem,
/// <https://developer.ebay.com/api-docs/sell/inventory/resources/inventory_item/methods/createOrReplaceInventoryItem>),
/// and named options for several variants (a group's `variesBy`). Titles
/// are not refused: the mapping cuts them to eBay's 80 characters
/// ([`wire::TITLE_MAX`]).
pub(super) fn check(product: &ProductPush) -> Vec<ItemError> {
    let mut errors = validate::common(product);
    errors.extend(validate::sku_length(product, wire::KEY_MAX, "eBay"));
    errors.extend(validate::options_for_variants(product, "eBay"));
    errors
}

/// [`check`] for each product, and a SKU that another product of the batch
/// already uses (an inventory item is keyed by SKU alone).
fn validate_batch(work: &mut [Work]) {
    let mut seen: HashSet<&str> = HashSet::new();
    for w in work.iter_mut() {
        let p = w.product;
        if let Err(error) = validate::refusal(check(p)) {
            w.fail(error);
            continue;
        }
        if let Some(v) = p.variants.iter().find(|v| seen.contains(v.sku.as_str())) {
            w.fail(ItemError::permanent(
                validate::SKU_DUPLICATE,
                format!(
                    "sku: SKU {} is also in another product of this batch",
                    v.sku
                ),
            ));
            continue;
        }
        seen.extend(p.variants.iter().map(|v| v.sku.as_str()));
    }
}

/// The calls [`upsert`] makes for `products` when eBay accepts everything:
/// each step's requests, chosen and chunked by the same functions, with
/// each step's success assumed for the next (groups written, offers created).
pub(super) fn plan(ebay: &Ebay, products: &[ProductPush]) -> CallPlan {
    let mut work: Vec<Work> = products.iter().map(Work::new).collect();
    validate_batch(&mut work);
    let mut calls = item_requests(ebay, &work).chunks(BULK_LIMIT).count();
    for i in group_products(&work) {
        calls += 1;
        work[i].group = Some(wire::group_key(work[i].product));
    }
    let fresh = split_offers(ebay, &mut work);
    calls += fresh.chunks(BULK_LIMIT).count();
    for (i, offer) in fresh {
        let sku = offer.sku.clone().unwrap_or_default();
        work[i].offers.insert(sku.clone(), format!("planned:{sku}"));
    }
    calls += single_offers(&work).chunks(BULK_LIMIT).count();
    calls += group_publications(&work).count();
    calls += live_requests(&work).chunks(BULK_LIMIT).count();
    calls += work.iter().map(|w| unlisted_steps(w).len()).sum::<usize>();
    let mut plan = CallPlan::default();
    plan.add(INVENTORY, calls as u32, calls as f64);
    plan
}

/// The shared shape of a call's result: `Err` for a call that could not be
/// made (the batch stops), `Ok(Err)` for a call eBay refused as a whole
/// (its items fail), `Ok(Ok)` for an answer.
type Answer<T> = Result<Result<T, ItemError>, ChannelError>;

fn encode(body: &impl Serialize) -> Result<Vec<u8>, ChannelError> {
    serde_json::to_vec(body).map_err(|e| ChannelError::Protocol(format!("encoding a request: {e}")))
}

pub(super) async fn bulk(
    ebay: &Ebay,
    path: &str,
    body: &impl Serialize,
) -> Answer<wire::Responses> {
    let reply = ebay
        .call(INVENTORY, Method::POST, ebay.url(path), Some(encode(body)?))
        .await?;
    if reply.status.is_success() {
        Ok(Ok(reply.json()?))
    } else {
        Ok(Err(wire::reply_error(&reply)))
    }
}

async fn single(
    ebay: &Ebay,
    method: Method,
    url: url::Url,
    body: Option<&(impl Serialize + Sync)>,
) -> Answer<Reply> {
    let body = body.map(encode).transpose()?;
    let reply = ebay.call(INVENTORY, method, url, body).await?;
    if reply.status.is_success() {
        Ok(Ok(reply))
    } else {
        Ok(Err(wire::reply_error(&reply)))
    }
}

/// Fail the product owning each item whose status is not a success, and
/// each item eBay said nothing about.
fn apply<'k>(
    work: &mut [Work],
    items: impl Iterator<Item = (usize, &'k str)>,
    find: impl Fn(&str) -> Option<Result<(), ItemError>>,
) {
    for (index, key) in items {
        match find(key) {
            Some(Ok(())) => {}
            Some(Err(error)) => work[index].fail(error),
            None => work[index].fail(ItemError::retryable(
                "no_status",
                format!("eBay returned no status for {key}"),
            )),
        }
    }
}

/// Every variant of every product still going, as inventory items.
fn item_requests(ebay: &Ebay, work: &[Work<'_>]) -> Vec<(usize, wire::InventoryItemWithSkuLocale)> {
    work.iter()
        .enumerate()
        .filter(|(_, w)| w.ok())
        .flat_map(|(i, w)| {
            w.product
                .variants
                .iter()
                .map(move |v| (i, wire::inventory_item(w.product, v, &ebay.settings)))
        })
        .collect()
}

async fn write_items(ebay: &Ebay, work: &mut [Work<'_>]) -> Result<(), ChannelError> {
    let items = item_requests(ebay, work);
    for chunk in items.chunks(BULK_LIMIT) {
        let body = Requests {
            requests: chunk.iter().map(|(_, item)| item.clone()).collect(),
        };
        let keys = chunk.iter().map(|(i, item)| (*i, item.sku.as_str()));
        match bulk(
            ebay,
            "sell/inventory/v1/bulk_create_or_replace_inventory_item",
            &body,
        )
        .await?
        {
            Ok(answer) => apply(work, keys, |sku| {
                answer
                    .responses
                    .iter()
                    .find(|r| r.sku.as_deref() == Some(sku))
                    .map(wire::ItemStatus::result)
            }),
            Err(error) => {
                for (i, _) in keys {
                    work[i].fail(error.clone());
                }
            }
        }
    }
    Ok(())
}

/// Products still going that need an inventory item group.
fn group_products(work: &[Work<'_>]) -> Vec<usize> {
    work.iter()
        .enumerate()
        .filter(|(_, w)| w.ok() && w.product.variants.len() > 1)
        .map(|(i, _)| i)
        .collect()
}

async fn write_groups(ebay: &Ebay, work: &mut [Work<'_>]) -> Result<(), ChannelError> {
    for i in group_products(work) {
        let w = &mut work[i];
        let key = wire::group_key(w.product);
        let url = ebay.url_with("sell/inventory/v1/inventory_item_group", &[&key])?;
        let body = wire::inventory_group(w.product);
        match single(ebay, Method::PUT, url, Some(&body)).await? {
            Ok(_) => w.group = Some(key),
            Err(error) => w.fail(error),
        }
    }
    Ok(())
}

/// The offer id an "Offer entity already exists" refusal names (error
/// 25002 with an `offerId` parameter).
fn existing_offer(status: &wire::ItemStatus) -> Option<String> {
    status
        .errors
        .iter()
        .filter(|e| e.error_id == Some(25002))
        .find_map(|e| e.parameter("offerId"))
        .map(str::to_owned)
}

/// Record the offers variants already have (their external ids) and
/// return the offers to create for the rest.
fn split_offers(ebay: &Ebay, work: &mut [Work<'_>]) -> Vec<(usize, wire::OfferDetails)> {
    let mut fresh: Vec<(usize, wire::OfferDetails)> = Vec::new();
    for (i, w) in work.iter_mut().enumerate().filter(|(_, w)| w.ok()) {
        for variant in &w.product.variants {
            match variant
                .external_id
                .as_deref()
                .filter(|id| !id.is_empty() && *id != variant.sku)
            {
                Some(offer) => {
                    w.offers.insert(variant.sku.clone(), offer.to_owned());
                    w.existing.insert(variant.sku.clone());
                }
                None => fresh.push((i, wire::offer(w.product, variant, &ebay.settings, true))),
            }
        }
    }
    fresh
}

async fn create_offers(ebay: &Ebay, work: &mut [Work<'_>]) -> Result<(), ChannelError> {
    let fresh = split_offers(ebay, work);
    let mut lookups: Vec<(usize, String, ItemError)> = Vec::new();
    for chunk in fresh.chunks(BULK_LIMIT) {
        let body = Requests {
            requests: chunk.iter().map(|(_, o)| o.clone()).collect(),
        };
        let answer = match bulk(ebay, "sell/inventory/v1/bulk_create_offer", &body).await? {
            Ok(answer) => answer,
            Err(error) => {
                for (i, _) in chunk {
                    work[*i].fail(error.clone());
                }
                continue;
            }
        };
        for (i, offer) in chunk {
            let sku = offer.sku.clone().unwrap_or_default();
            let Some(status) = answer
                .responses
                .iter()
                .find(|r| r.sku.as_deref() == Some(&sku))
            else {
                work[*i].fail(ItemError::retryable(
                    "no_status",
                    format!("eBay returned no status for the offer of {sku}"),
                ));
                continue;
            };
            match (status.result(), status.offer_id.clone()) {
                (Ok(()), Some(id)) => {
                    work[*i].offers.insert(sku, id);
                }
                (Ok(()), None) => work[*i].fail(ItemError::retryable(
                    "no_offer",
                    format!("eBay created the offer of {sku} without an id"),
                )),
                (Err(error), _) => match existing_offer(status) {
                    Some(id) => {
                        work[*i].offers.insert(sku.clone(), id);
                        work[*i].existing.insert(sku);
                    }
                    None => lookups.push((*i, sku, error)),
                },
            }
        }
    }
    // A refusal may mean the SKU already has an offer eBay did not name:
    // look for it before giving up on the product.
    for (i, sku, error) in lookups {
        if !work[i].ok() {
            continue;
        }
        match super::read::offer_for(ebay, &sku)
            .await?
            .and_then(|o| o.offer_id)
        {
            Some(id) => {
                work[i].offers.insert(sku.clone(), id);
                work[i].existing.insert(sku);
            }
            None => work[i].fail(error),
        }
    }
    Ok(())
}

fn active(w: &Work) -> bool {
    w.ok() && w.product.status == PushStatus::Active
}

/// The offer of each active single-variant product, for bulkPublishOffer.
fn single_offers(work: &[Work<'_>]) -> Vec<(usize, String)> {
    work.iter()
        .enumerate()
        .filter(|(_, w)| active(w) && w.group.is_none())
        .filter_map(|(i, w)| w.offers.values().next().map(|id| (i, id.clone())))
        .collect()
}

/// The group of each active multi-variant product, published one call each.
fn group_publications<'w>(work: &'w [Work<'_>]) -> impl Iterator<Item = (usize, String)> + 'w {
    work.iter()
        .enumerate()
        .filter(|(_, w)| active(w))
        .filter_map(|(i, w)| w.group.clone().map(|g| (i, g)))
}

async fn publish(ebay: &Ebay, work: &mut [Work<'_>]) -> Result<(), ChannelError> {
    let singles = single_offers(work);
    for chunk in singles.chunks(BULK_LIMIT) {
        let body = Requests {
            requests: chunk
                .iter()
                .map(|(_, id)| OfferKey {
                    offer_id: id.clone(),
                })
                .collect(),
        };
        let keys = chunk.iter().map(|(i, id)| (*i, id.as_str()));
        match bulk(ebay, "sell/inventory/v1/bulk_publish_offer", &body).await? {
            Ok(answer) => apply(work, keys, |id| {
                answer
                    .responses
                    .iter()
                    .find(|r| r.offer_id.as_deref() == Some(id))
                    .map(wire::ItemStatus::result)
            }),
            Err(error) => {
                for (i, _) in keys {
                    work[i].fail(error.clone());
                }
            }
        }
    }
    let groups: Vec<(usize, String)> = group_publications(work).collect();
    for (i, group) in groups {
        let w = &mut work[i];
        let body = GroupKey {
            inventory_item_group_key: group,
            marketplace_id: ebay.settings.marketplace_id.clone(),
        };
        let url = ebay.url("sell/inventory/v1/offer/publish_by_inventory_item_group");
        if let Err(error) = single(ebay, Method::POST, url, Some(&body)).await? {
            w.fail(error);
        }
    }
    Ok(())
}

/// Price and quantity of offers that were already on eBay, for `Active`
/// products (now published), 25 SKUs per `bulkUpdatePriceQuantity`.
/// The price and quantity updates for offers already on eBay of active products.
fn live_requests(work: &[Work<'_>]) -> Vec<(usize, PriceQuantity)> {
    let mut requests: Vec<(usize, PriceQuantity)> = Vec::new();
    for (i, w) in work.iter().enumerate() {
        if !w.ok() || w.product.status != PushStatus::Active {
            continue;
        }
        for variant in w
            .product
            .variants
            .iter()
            .filter(|v| w.existing.contains(&v.sku))
        {
            let Some(offer) = w.offers.get(&variant.sku) else {
                continue;
            };
            requests.push((
                i,
                PriceQuantity {
                    sku: variant.sku.clone(),
                    ship_to_location_availability: None,
                    offers: vec![OfferPriceQuantity {
                        offer_id: offer.clone(),
                        available_quantity: Some(variant.quantity.max(0)),
                        price: Some(wire::Amount::new(variant.price, &variant.currency)),
                    }],
                },
            ));
        }
    }
    requests
}

async fn update_live_offers(ebay: &Ebay, work: &mut [Work<'_>]) -> Result<(), ChannelError> {
    let requests = live_requests(work);
    for chunk in requests.chunks(BULK_LIMIT) {
        let body = Requests {
            requests: chunk.iter().map(|(_, r)| r.clone()).collect(),
        };
        let keys = chunk.iter().map(|(i, r)| (*i, r.sku.as_str()));
        match bulk(ebay, "sell/inventory/v1/bulk_update_price_quantity", &body).await? {
            Ok(answer) => apply(work, keys, |sku| sku_result(&answer, sku, chunk)),
            Err(error) => {
                for (i, _) in keys {
                    work[i].fail(error.clone());
                }
            }
        }
    }
    Ok(())
}

/// A SKU's result in a bulkUpdatePriceQuantity answer: its entries are
/// found by SKU or by the ids of the offers sent for it; any failure fails it.
pub(super) fn sku_result(
    answer: &wire::Responses,
    sku: &str,
    sent: &[(usize, PriceQuantity)],
) -> Option<Result<(), ItemError>> {
    let offer_ids: Vec<&str> = sent
        .iter()
        .filter(|(_, r)| r.sku == sku)
        .flat_map(|(_, r)| r.offers.iter().map(|o| o.offer_id.as_str()))
        .collect();
    let mut found = false;
    for status in answer.responses.iter().filter(|r| {
        r.sku.as_deref() == Some(sku)
            || r.offer_id
                .as_deref()
                .is_some_and(|id| offer_ids.contains(&id))
    }) {
        found = true;
        if let Err(error) = status.result() {
            return Some(Err(error));
        }
    }
    found.then_some(Ok(()))
}

/// One call of [`update_unlisted_offers`].
enum Unlisted<'a> {
    WithdrawGroup(String),
    WithdrawOffer(String),
    UpdateOffer(&'a VariantPush, String),
}

/// The calls a `Draft` or `Archived` product's existing offers need:
/// `Archived` ones are withdrawn first, then every existing offer rewritten.
fn unlisted_steps<'a>(w: &Work<'a>) -> Vec<Unlisted<'a>> {
    let mut steps = Vec::new();
    if !w.ok() || w.product.status == PushStatus::Active || w.existing.is_empty() {
        return steps;
    }
    if w.product.status == PushStatus::Archived {
        match (&w.group, w.offers.values().next()) {
            (Some(group), _) => steps.push(Unlisted::WithdrawGroup(group.clone())),
            (None, Some(offer)) => steps.push(Unlisted::WithdrawOffer(offer.clone())),
            (None, None) => return steps,
        }
    }
    for variant in &w.product.variants {
        if !w.existing.contains(&variant.sku) {
            continue;
        }
        if let Some(offer) = w.offers.get(&variant.sku) {
            steps.push(Unlisted::UpdateOffer(variant, offer.clone()));
        }
    }
    steps
}

/// Existing offers of `Draft` and `Archived` products: `Archived` ones are
/// withdrawn from sale, and both get the current price and quantity with
/// `updateOffer` (unpublished offers cannot take bulkUpdatePriceQuantity).
/// A refused step stops that product's remaining steps.
async fn update_unlisted_offers(ebay: &Ebay, work: &mut [Work<'_>]) -> Result<(), ChannelError> {
    for w in work.iter_mut() {
        for step in unlisted_steps(w) {
            let answer = match step {
                Unlisted::WithdrawGroup(group) => {
                    let body = GroupKey {
                        inventory_item_group_key: group,
                        marketplace_id: ebay.settings.marketplace_id.clone(),
                    };
                    let url = ebay.url("sell/inventory/v1/offer/withdraw_by_inventory_item_group");
                    single(ebay, Method::POST, url, Some(&body)).await?
                }
                Unlisted::WithdrawOffer(offer) => {
                    let url = ebay.url_with("sell/inventory/v1/offer", &[&offer, "withdraw"])?;
                    single(ebay, Method::POST, url, None::<&()>).await?
                }
                Unlisted::UpdateOffer(variant, offer) => {
                    let url = ebay.url_with("sell/inventory/v1/offer", &[&offer])?;
                    let body = wire::offer(w.product, variant, &ebay.settings, false);
                    single(ebay, Method::PUT, url, Some(&body)).await?
                }
            };
            if let Err(error) = answer {
                w.fail(error);
                break;
            }
        }
    }
    Ok(())
}
