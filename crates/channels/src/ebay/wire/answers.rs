//! What eBay answers: the response shapes of the Inventory and Fulfillment
//! API calls the adapter makes, and how their per-item statuses, errors and
//! orders map onto the neutral model. Everything is optional unless the
//! adapter cannot do without it: channels are untrusted.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::{Amount, truncate};
use crate::http::Reply;
use crate::{ChannelOrder, ItemError, OrderLine};
// --------------------------------------------------------------- responses

/// The `{"responses": [...]}` envelope of the bulk calls' answers
/// (`BulkInventoryItemResponse`, `BulkOfferResponse`, `BulkPublishResponse`,
/// `BulkPriceQuantityResponse`, `BulkGetInventoryItemResponse`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Responses {
    #[serde(default)]
    pub responses: Vec<ItemStatus>,
}

/// One entry of a bulk answer; each call fills the fields it has.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemStatus {
    #[serde(default)]
    pub status_code: Option<u16>,
    #[serde(default)]
    pub sku: Option<String>,
    #[serde(default)]
    pub offer_id: Option<String>,
    #[serde(default)]
    pub errors: Vec<ErrorDetail>,
    #[serde(default)]
    pub inventory_item: Option<InventoryItemRead>,
}

impl ItemStatus {
    /// `Ok` when eBay says this item went through.
    pub fn result(&self) -> Result<(), ItemError> {
        match self.status_code {
            Some(code) if (200..300).contains(&code) && self.errors.is_empty() => Ok(()),
            Some(code) => Err(item_error(code, &self.errors)),
            None if self.errors.is_empty() => Err(ItemError::retryable(
                "no_status",
                "eBay returned no status for this item",
            )),
            None => Err(item_error(400, &self.errors)),
        }
    }
}

/// eBay's error body, `{"errors": [ErrorDetailV3…]}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub errors: Vec<ErrorDetail>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    #[serde(default)]
    pub error_id: Option<i64>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub long_message: Option<String>,
    #[serde(default)]
    pub parameters: Vec<ErrorParameter>,
}

impl ErrorDetail {
    pub fn parameter(&self, name: &str) -> Option<&str> {
        self.parameters
            .iter()
            .find(|p| p.name.as_deref() == Some(name))
            .and_then(|p| p.value.as_deref())
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorParameter {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub value: Option<String>,
}

/// `InventoryItems` (getInventoryItems).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InventoryItems {
    #[serde(default)]
    pub inventory_items: Vec<InventoryItemRead>,
    #[serde(default)]
    pub next: Option<String>,
}

/// `InventoryItemWithSkuLocaleGroupid` as far as read-back needs it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InventoryItemRead {
    #[serde(default)]
    pub sku: Option<String>,
    #[serde(default)]
    pub product: Option<ProductRead>,
    #[serde(default)]
    pub availability: Option<AvailabilityRead>,
    #[serde(default)]
    pub group_ids: Vec<String>,
    #[serde(default)]
    pub inventory_item_group_keys: Vec<String>,
}

impl InventoryItemRead {
    pub fn quantity(&self) -> Option<i64> {
        self.availability
            .as_ref()?
            .ship_to_location_availability
            .as_ref()?
            .quantity
    }

    pub fn title(&self) -> Option<&str> {
        self.product.as_ref()?.title.as_deref()
    }

    /// The group this item is a variation of, if any.
    pub fn group(&self) -> Option<&str> {
        self.inventory_item_group_keys
            .first()
            .or(self.group_ids.first())
            .map(String::as_str)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProductRead {
    #[serde(default)]
    pub title: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AvailabilityRead {
    #[serde(default)]
    pub ship_to_location_availability: Option<ShipToRead>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ShipToRead {
    #[serde(default)]
    pub quantity: Option<i64>,
}

/// `InventoryItemGroup` as getInventoryItemGroup returns it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GroupRead {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default, rename = "variantSKUs")]
    pub variant_skus: Vec<String>,
}

/// `Offers` (getOffers).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Offers {
    #[serde(default)]
    pub offers: Vec<OfferRead>,
}

/// `EbayOfferDetailsWithAll` as far as read-back needs it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OfferRead {
    #[serde(default)]
    pub offer_id: Option<String>,
    #[serde(default)]
    pub sku: Option<String>,
    #[serde(default)]
    pub marketplace_id: Option<String>,
    /// `PUBLISHED` or `UNPUBLISHED`.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub pricing_summary: Option<PricingRead>,
}

impl OfferRead {
    pub fn price(&self) -> Option<Decimal> {
        self.pricing_summary.as_ref()?.price.as_ref()?.decimal()
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PricingRead {
    #[serde(default)]
    pub price: Option<Amount>,
}

/// `OrderSearchPagedCollection` (getOrders).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Orders {
    #[serde(default)]
    pub orders: Vec<OrderRead>,
    #[serde(default)]
    pub next: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderRead {
    pub order_id: String,
    #[serde(default)]
    pub creation_date: Option<String>,
    #[serde(default)]
    pub line_items: Vec<LineItemRead>,
    #[serde(default)]
    pub cancel_status: Option<CancelStatus>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LineItemRead {
    #[serde(default)]
    pub sku: Option<String>,
    pub quantity: i64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelStatus {
    #[serde(default)]
    pub cancel_state: Option<String>,
}

// ----------------------------------------------------------------- mapping

/// An item-level error from eBay's status and error list: the first error's
/// id and text. Server-side faults (5xx, system error 25001, concurrent
/// access 25025) are worth retrying; the rest are data eBay refuses.
pub fn item_error(status: u16, errors: &[ErrorDetail]) -> ItemError {
    let Some(first) = errors.first() else {
        let message = format!("eBay answered {status} for this item");
        return if status >= 500 || status == 429 {
            ItemError::retryable(format!("http_{status}"), message)
        } else {
            ItemError::permanent(format!("http_{status}"), message)
        };
    };
    let code = first
        .error_id
        .map(|id| id.to_string())
        .unwrap_or_else(|| format!("http_{status}"));
    let mut message = first.message.clone().unwrap_or_default();
    if let Some(long) = first.long_message.as_deref()
        && long != message
    {
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(long);
    }
    if message.is_empty() {
        message = format!("eBay answered {status} for this item");
    }
    let message = truncate(&message, 300);
    let retryable =
        status >= 500 || status == 429 || matches!(first.error_id, Some(25001 | 25025 | 2001));
    if retryable {
        ItemError::retryable(code, message)
    } else {
        ItemError::permanent(code, message)
    }
}

/// The error a whole refused call means for each item it carried.
pub fn reply_error(reply: &Reply) -> ItemError {
    let body: ErrorBody = serde_json::from_slice(&reply.body).unwrap_or_default();
    if body.errors.is_empty() {
        let status = reply.status.as_u16();
        let message = format!("eBay answered {status}: {}", reply.body_excerpt());
        return if status >= 500 {
            ItemError::retryable(format!("http_{status}"), truncate(&message, 300))
        } else {
            ItemError::permanent(format!("http_{status}"), truncate(&message, 300))
        };
    }
    item_error(reply.status.as_u16(), &body.errors)
}

/// The page number in a `next` href (`…/inventory_item?offset=1&limit=25`).
/// Only the number is kept: the href itself is never followed, so an
/// untrusted answer cannot send our token to another host.
pub fn offset_from_next(next: &str) -> Option<u32> {
    let base: url::Url = "https://api.ebay.com/".parse().ok()?;
    let url = base.join(next).ok()?;
    url.query_pairs()
        .find(|(k, _)| k == "offset")
        .and_then(|(_, v)| v.parse().ok())
}

/// The getOrders `filter` for orders modified at or after `since`
/// (https://developer.ebay.com/api-docs/sell/fulfillment/resources/order/methods/getOrders:
/// `lastmodifieddate`), so an order cancelled after it was placed is read again.
pub fn modified_filter(since: DateTime<Utc>) -> String {
    format!(
        "lastmodifieddate:[{}..]",
        since.format("%Y-%m-%dT%H:%M:%S%.3fZ")
    )
}

/// An order as the sync engine needs it, flagged cancelled when its
/// `cancelStatus.cancelState` is `CANCELED` (eBay puts its own stock back;
/// the master's comes back through the cancellation).
pub fn order(order: &OrderRead) -> Option<ChannelOrder> {
    let cancelled = order
        .cancel_status
        .as_ref()
        .and_then(|c| c.cancel_state.as_deref())
        == Some("CANCELED");
    Some(ChannelOrder {
        cancelled,
        external_id: order.order_id.clone(),
        created_at: order
            .creation_date
            .as_deref()
            .and_then(|d| DateTime::parse_from_rfc3339(d).ok())
            .map(|d| d.with_timezone(&Utc)),
        lines: order
            .line_items
            .iter()
            .map(|line| OrderLine {
                sku: line.sku.clone().filter(|s| !s.is_empty()),
                // eBay's line items carry no offer id; the SKU is the join key.
                external_variant_id: None,
                quantity: line.quantity,
            })
            .collect(),
    })
}
