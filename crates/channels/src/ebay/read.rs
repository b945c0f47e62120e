//! Stock levels out, listings and orders in.
//!
//! * [`set_inventory`]: 25 SKUs per `bulkUpdatePriceQuantity`, setting the
//!   item's ship-to-home quantity and, when the offer is known, the offer's
//!   available quantity (eBay lists the smaller of the two, so both move).
//! * [`read_listings`]: one `getInventoryItems` page (the cursor is the
//!   `offset` of eBay's `next` href), its groups (`getInventoryItemGroup`, their variants on
//!   other pages via `bulkGetInventoryItem`) and each SKU's offer
//!   (`getOffers`, which takes one SKU per call) for price and status. A
//!   group is reported once, on the page that holds its first variant SKU.
//! * [`recent_orders`]: Fulfillment `getOrders` filtered on creation date,
//!   200 a page.

use std::collections::{HashMap, HashSet};

use reqwest::Method;

use super::products::{bulk, sku_result};
use super::quota::{FULFILLMENT, INVENTORY};
use super::wire::{self, InventoryItemRead, OfferPriceQuantity, PriceQuantity, Requests, ShipTo};
use super::{BULK_LIMIT, Ebay};
use crate::{
    ChannelError, ChannelListing, ChannelOrder, ChannelVariant, InventoryOutcome, InventoryPush,
    ItemError, ListingPage,
};

/// getOrders' largest page (`limit` maximum 200).
const ORDERS_PAGE: usize = 200;
/// Pages of orders one poll reads before saying it fell too far behind.
const ORDERS_MAX_PAGES: usize = 500;

fn price_quantity(level: &InventoryPush) -> PriceQuantity {
    let quantity = level.quantity.max(0);
    let offer = level
        .inventory_ref
        .as_deref()
        .or(level.external_variant_id.as_deref())
        .filter(|id| !id.is_empty() && *id != level.sku);
    PriceQuantity {
        sku: level.sku.clone(),
        ship_to_location_availability: Some(ShipTo { quantity }),
        offers: offer
            .map(|id| {
                vec![OfferPriceQuantity {
                    offer_id: id.to_owned(),
                    available_quantity: Some(quantity),
                    price: None,
                }]
            })
            .unwrap_or_default(),
    }
}

pub(super) async fn set_inventory(
    ebay: &Ebay,
    levels: &[InventoryPush],
) -> Result<Vec<InventoryOutcome>, ChannelError> {
    let mut results: Vec<Option<Result<(), ItemError>>> = vec![None; levels.len()];
    // eBay wants each SKU once per call: a repeated SKU starts a new call,
    // so the later level is applied after the earlier one.
    let mut chunks: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut in_current: HashSet<&str> = HashSet::new();
    for (i, level) in levels.iter().enumerate() {
        if !wire::valid_key(&level.sku) {
            results[i] = Some(Err(ItemError::permanent(
                "invalid_sku",
                format!("eBay SKUs are 1 to 50 characters: `{}`", level.sku),
            )));
            continue;
        }
        if current.len() == BULK_LIMIT || in_current.contains(level.sku.as_str()) {
            chunks.push(std::mem::take(&mut current));
            in_current.clear();
        }
        in_current.insert(&level.sku);
        current.push(i);
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    for chunk in chunks {
        let sent: Vec<(usize, PriceQuantity)> = chunk
            .iter()
            .map(|&i| (i, price_quantity(&levels[i])))
            .collect();
        let body = Requests {
            requests: sent.iter().map(|(_, r)| r.clone()).collect(),
        };
        match bulk(ebay, "sell/inventory/v1/bulk_update_price_quantity", &body).await? {
            Ok(answer) => {
                for (i, request) in &sent {
                    results[*i] =
                        Some(sku_result(&answer, &request.sku, &sent).unwrap_or_else(|| {
                            Err(ItemError::retryable(
                                "no_status",
                                format!("eBay returned no status for {}", request.sku),
                            ))
                        }));
                }
            }
            Err(error) => {
                for i in chunk {
                    results[i] = Some(Err(error.clone()));
                }
            }
        }
    }
    Ok(levels
        .iter()
        .zip(results)
        .map(|(level, result)| InventoryOutcome {
            sku: level.sku.clone(),
            result: result.unwrap_or_else(|| {
                Err(ItemError::retryable("not_sent", "this level was not sent"))
            }),
        })
        .collect())
}

/// The SKU's fixed-price offer on the connection's marketplace, if any.
pub(super) async fn offer_for(
    ebay: &Ebay,
    sku: &str,
) -> Result<Option<wire::OfferRead>, ChannelError> {
    let mut url = ebay.url("sell/inventory/v1/offer");
    url.query_pairs_mut()
        .append_pair("sku", sku)
        .append_pair("marketplace_id", &ebay.settings.marketplace_id)
        .append_pair("format", "FIXED_PRICE");
    let reply = ebay.call(INVENTORY, Method::GET, url, None).await?;
    // getOffers answers 404 (error 25713) for a SKU without offers.
    if reply.status == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    let offers: wire::Offers = reply.ensure_success()?.json()?;
    let marketplace = ebay.settings.marketplace_id.as_str();
    Ok(offers.offers.into_iter().find(|o| {
        o.offer_id.is_some()
            && o.sku.as_deref().is_none_or(|s| s == sku)
            && o.marketplace_id.as_deref().is_none_or(|m| m == marketplace)
    }))
}

async fn variant(
    ebay: &Ebay,
    sku: &str,
    item: &InventoryItemRead,
) -> Result<(ChannelVariant, Option<String>), ChannelError> {
    let offer = offer_for(ebay, sku).await?;
    let status = offer.as_ref().and_then(|o| o.status.clone());
    Ok((
        ChannelVariant {
            external_id: offer
                .as_ref()
                .and_then(|o| o.offer_id.clone())
                .unwrap_or_else(|| sku.to_owned()),
            sku: Some(sku.to_owned()),
            price: offer.as_ref().and_then(wire::OfferRead::price),
            quantity: item.quantity(),
        },
        status,
    ))
}

/// The listing's status: `PUBLISHED` when any of its offers is live.
fn status_of(statuses: Vec<Option<String>>) -> Option<String> {
    let statuses: Vec<String> = statuses.into_iter().flatten().collect();
    if statuses.iter().any(|s| s == "PUBLISHED") {
        Some("PUBLISHED".into())
    } else {
        statuses.into_iter().next()
    }
}

async fn listing(
    ebay: &Ebay,
    external_id: String,
    title: Option<String>,
    items: &[(String, InventoryItemRead)],
) -> Result<ChannelListing, ChannelError> {
    let mut variants = Vec::with_capacity(items.len());
    let mut statuses = Vec::with_capacity(items.len());
    for (sku, item) in items {
        let (v, status) = variant(ebay, sku, item).await?;
        variants.push(v);
        statuses.push(status);
    }
    let title = title
        .or_else(|| items.iter().find_map(|(_, i)| i.title().map(str::to_owned)))
        .unwrap_or_else(|| external_id.clone());
    Ok(ChannelListing {
        external_id,
        title,
        status: status_of(statuses),
        variants,
        // The Inventory API reports no modification time.
        updated_at: None,
    })
}

/// Inventory items by SKU, 25 per bulkGetInventoryItem; SKUs eBay does not
/// have are left out.
async fn items_by_sku(
    ebay: &Ebay,
    skus: &[String],
) -> Result<HashMap<String, InventoryItemRead>, ChannelError> {
    let mut found = HashMap::new();
    for chunk in skus.chunks(BULK_LIMIT) {
        let body = Requests {
            requests: chunk
                .iter()
                .map(|sku| wire::SkuKey { sku: sku.clone() })
                .collect(),
        };
        let Ok(answer) = bulk(ebay, "sell/inventory/v1/bulk_get_inventory_item", &body).await?
        else {
            continue;
        };
        for status in answer.responses {
            if status.result().is_ok()
                && let (Some(sku), Some(item)) = (status.sku.clone(), status.inventory_item)
            {
                found.insert(sku, item);
            }
        }
    }
    Ok(found)
}

/// A group seen on this page: the whole group when the page holds its
/// first variant, nothing otherwise (its page reports it).
async fn group_listing(
    ebay: &Ebay,
    key: &str,
    on_page: &[(String, InventoryItemRead)],
) -> Result<Option<ChannelListing>, ChannelError> {
    let page_items: Vec<(String, InventoryItemRead)> = on_page
        .iter()
        .filter(|(_, item)| item.group() == Some(key))
        .cloned()
        .collect();
    let url = ebay.url_with("sell/inventory/v1/inventory_item_group", &[key])?;
    let reply = ebay.call(INVENTORY, Method::GET, url, None).await?;
    let group: Option<wire::GroupRead> = if reply.status.is_success() {
        Some(reply.json()?)
    } else if reply.status.is_client_error() {
        None
    } else {
        return Err(ChannelError::Rejected {
            status: reply.status.as_u16(),
            message: reply.body_excerpt(),
        });
    };
    let Some(group) = group.filter(|g| !g.variant_skus.is_empty()) else {
        // The group cannot be read: report what this page holds of it.
        return Ok(Some(
            listing(ebay, key.to_owned(), None, &page_items).await?,
        ));
    };
    let first = &group.variant_skus[0];
    if !on_page.iter().any(|(sku, _)| sku == first) {
        return Ok(None);
    }
    let missing: Vec<String> = group
        .variant_skus
        .iter()
        .filter(|sku| !page_items.iter().any(|(s, _)| s == *sku))
        .cloned()
        .collect();
    let mut fetched = items_by_sku(ebay, &missing).await?;
    let mut items = Vec::with_capacity(group.variant_skus.len());
    for sku in &group.variant_skus {
        if let Some((_, item)) = page_items.iter().find(|(s, _)| s == sku) {
            items.push((sku.clone(), item.clone()));
        } else if let Some(item) = fetched.remove(sku) {
            items.push((sku.clone(), item));
        }
    }
    Ok(Some(
        listing(ebay, key.to_owned(), group.title, &items).await?,
    ))
}

pub(super) async fn read_listings(
    ebay: &Ebay,
    cursor: Option<&str>,
) -> Result<ListingPage, ChannelError> {
    let page: u32 = match cursor {
        None => 0,
        Some(c) => c
            .trim()
            .parse()
            .map_err(|_| ChannelError::Config(format!("not an eBay page cursor: {c}")))?,
    };
    let mut url = ebay.url("sell/inventory/v1/inventory_item");
    url.query_pairs_mut()
        .append_pair("limit", &ebay.settings.page_size.to_string())
        .append_pair("offset", &page.to_string());
    let reply = ebay.call(INVENTORY, Method::GET, url, None).await?;
    let items: wire::InventoryItems = reply.ensure_success()?.json()?;
    // The next page is where eBay's `next` href says it is; only its
    // `offset` is taken, and it must move forward.
    let next_cursor = match items.next.as_deref() {
        None => None,
        Some(next) => match wire::offset_from_next(next) {
            Some(offset) if offset > page => Some(offset.to_string()),
            _ => {
                return Err(ChannelError::Protocol(format!(
                    "getInventoryItems `next` does not lead past page {page}"
                )));
            }
        },
    };
    let on_page: Vec<(String, InventoryItemRead)> = items
        .inventory_items
        .into_iter()
        .filter_map(|item| item.sku.clone().map(|sku| (sku, item)))
        .collect();
    let mut listings = Vec::new();
    let mut groups_seen: HashSet<String> = HashSet::new();
    for (sku, item) in &on_page {
        match item.group() {
            None => {
                let single = [(sku.clone(), item.clone())];
                listings.push(listing(ebay, sku.clone(), None, &single).await?);
            }
            Some(group) => {
                if groups_seen.insert(group.to_owned())
                    && let Some(l) = group_listing(ebay, group, &on_page).await?
                {
                    listings.push(l);
                }
            }
        }
    }
    Ok(ListingPage {
        listings,
        next_cursor,
    })
}

pub(super) async fn recent_orders(
    ebay: &Ebay,
    since: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<ChannelOrder>, ChannelError> {
    let filter = wire::modified_filter(since);
    let mut orders = Vec::new();
    let mut offset = 0usize;
    for _ in 0..ORDERS_MAX_PAGES {
        let mut url = ebay.url("sell/fulfillment/v1/order");
        url.query_pairs_mut()
            .append_pair("filter", &filter)
            .append_pair("limit", &ORDERS_PAGE.to_string())
            .append_pair("offset", &offset.to_string());
        let reply = ebay.call(FULFILLMENT, Method::GET, url, None).await?;
        let page: wire::Orders = reply.ensure_success()?.json()?;
        let count = page.orders.len();
        orders.extend(page.orders.iter().filter_map(wire::order));
        if page.next.is_none() || count == 0 {
            return Ok(orders);
        }
        offset += count;
    }
    Err(ChannelError::Protocol(format!(
        "more than {} orders since {since}; poll more often",
        ORDERS_PAGE * ORDERS_MAX_PAGES
    )))
}
