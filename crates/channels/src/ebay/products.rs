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
use crate::{
    ChannelError, ItemError, ProductOutcome, ProductPush, ProductRef, PushStatus, VariantRef,
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
    validate(&mut work);
    write_items(ebay, &mut work).await?;
    write_groups(ebay, &mut work).await?;
    create_offers(ebay, &mut work).await?;
    publish(ebay, &mut work).await?;
    update_live_offers(ebay, &mut work).await?;
    update_unlisted_offers(ebay, &mut work).await?;
    Ok(work.into_iter().map(Work::outcome).collect())
}

/// What eBay would refuse anyway, refused before any call.
fn validate(work: &mut [Work]) {
    let mut seen: HashSet<&str> = HashSet::new();
    for w in work.iter_mut() {
        let p = w.product;
        let mut skus: HashSet<&str> = HashSet::new();
        let error = if p.variants.is_empty() {
            Some(ItemError::permanent(
                "no_variants",
                "a product needs at least one variant",
            ))
        } else if let Some(v) = p.variants.iter().find(|v| !wire::valid_key(&v.sku)) {
            Some(ItemError::permanent(
                "invalid_sku",
                format!("eBay SKUs are 1 to 50 characters: `{}`", v.sku),
            ))
        } else if p
            .variants
            .iter()
            .any(|v| v.option_values.len() != p.options.len())
        {
            Some(ItemError::permanent(
                "invalid_options",
                "every variant needs one value per option",
            ))
        } else if p.variants.len() > 1 && p.options.is_empty() {
            Some(ItemError::permanent(
                "missing_options",
                "eBay lists variations only when they differ by named options",
            ))
        } else if p
            .variants
            .iter()
            .any(|v| !skus.insert(v.sku.as_str()) || seen.contains(v.sku.as_str()))
        {
            Some(ItemError::permanent(
                "duplicate_sku",
                "a SKU appears twice in this batch",
            ))
        } else {
            None
        };
        match error {
            Some(error) => w.fail(error),
            None => seen.extend(skus),
        }
    }
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

async fn write_items(ebay: &Ebay, work: &mut [Work<'_>]) -> Result<(), ChannelError> {
    let items: Vec<(usize, wire::InventoryItemWithSkuLocale)> = work
        .iter()
        .enumerate()
        .filter(|(_, w)| w.ok())
        .flat_map(|(i, w)| {
            w.product
                .variants
                .iter()
                .map(move |v| (i, wire::inventory_item(w.product, v, &ebay.settings)))
        })
        .collect();
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

async fn write_groups(ebay: &Ebay, work: &mut [Work<'_>]) -> Result<(), ChannelError> {
    for w in work
        .iter_mut()
        .filter(|w| w.ok() && w.product.variants.len() > 1)
    {
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

async fn create_offers(ebay: &Ebay, work: &mut [Work<'_>]) -> Result<(), ChannelError> {
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

async fn publish(ebay: &Ebay, work: &mut [Work<'_>]) -> Result<(), ChannelError> {
    let active = |w: &Work| w.ok() && w.product.status == PushStatus::Active;
    let singles: Vec<(usize, String)> = work
        .iter()
        .enumerate()
        .filter(|(_, w)| active(w) && w.group.is_none())
        .filter_map(|(i, w)| w.offers.values().next().map(|id| (i, id.clone())))
        .collect();
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
    for w in work.iter_mut().filter(|w| active(w)) {
        let Some(group) = w.group.clone() else {
            continue;
        };
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
async fn update_live_offers(ebay: &Ebay, work: &mut [Work<'_>]) -> Result<(), ChannelError> {
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

/// Existing offers of `Draft` and `Archived` products: `Archived` ones are
/// withdrawn from sale, and both get the current price and quantity with
/// `updateOffer` (unpublished offers cannot take bulkUpdatePriceQuantity).
async fn update_unlisted_offers(ebay: &Ebay, work: &mut [Work<'_>]) -> Result<(), ChannelError> {
    for w in work.iter_mut() {
        if !w.ok() || w.product.status == PushStatus::Active || w.existing.is_empty() {
            continue;
        }
        if w.product.status == PushStatus::Archived {
            let answer = match &w.group {
                Some(group) => {
                    let body = GroupKey {
                        inventory_item_group_key: group.clone(),
                        marketplace_id: ebay.settings.marketplace_id.clone(),
                    };
                    let url = ebay.url("sell/inventory/v1/offer/withdraw_by_inventory_item_group");
                    single(ebay, Method::POST, url, Some(&body)).await?
                }
                None => {
                    let Some(offer) = w.offers.values().next().cloned() else {
                        continue;
                    };
                    let url = ebay.url_with("sell/inventory/v1/offer", &[&offer, "withdraw"])?;
                    single(ebay, Method::POST, url, None::<&()>).await?
                }
            };
            if let Err(error) = answer {
                w.fail(error);
                continue;
            }
        }
        for variant in &w.product.variants {
            if !w.existing.contains(&variant.sku) {
                continue;
            }
            let Some(offer) = w.offers.get(&variant.sku).cloned() else {
                continue;
            };
            let url = ebay.url_with("sell/inventory/v1/offer", &[&offer])?;
            let body = wire::offer(w.product, variant, &ebay.settings, false);
            if let Err(error) = single(ebay, Method::PUT, url, Some(&body)).await? {
                w.fail(error);
                break;
            }
        }
    }
    Ok(())
}
