//! Amazon Selling Partner API (SP-API) adapter, for sellers.
//!
//! Sources (every endpoint, field, status and number used here):
//! * Listings Items API v2021-08-01 reference and model:
//!   <https://developer-docs.amazon.com/sp-api/docs/listings-items-api-v2021-08-01-reference>,
//!   <https://github.com/amzn/selling-partner-api-models/blob/main/models/listings-items-api-model/listingsItems_2021-08-01.json>
//!   (putListingsItem, patchListingsItem, searchListingsItems; `ErrorList`,
//!   `ListingsItemSubmissionResponse`, `ItemSearchResults`, `pageSize` ≤ 20,
//!   `pageToken`/`nextToken`, at most 1000 items pageable).
//! * Attribute payloads: <https://developer-docs.amazon.com/sp-api/docs/partially-update-a-listing>,
//!   <https://developer-docs.amazon.com/sp-api/docs/merge-a-listing> (JSON Patch `merge` of
//!   `fulfillment_availability`), <https://developer-docs.amazon.com/sp-api/docs/manage-purchasable-offer>.
//! * Orders API v0: <https://developer-docs.amazon.com/sp-api/reference/getorders>,
//!   <https://developer-docs.amazon.com/sp-api/reference/getorderitems>, model `ordersV0.json`.
//! * Auth: calls carry the LWA access token in `x-amz-access-token`; no AWS
//!   SigV4 signing since 2 Oct 2023:
//!   <https://developer-docs.amazon.com/sp-api/changelog/sp-api-will-no-longer-require-aws-iam-or-aws-signature-version-4>.
//!   LWA token endpoint `https://api.amazon.com/auth/o2/token` (client id and
//!   secret in the form body), access tokens live one hour; consent URL
//!   `https://sellercentral.amazon.com/apps/authorize/consent?application_id=…&state=…`
//!   (`version=beta` for draft apps, see [`draft_authorize_url`]); the callback
//!   carries `spapi_oauth_code`, `state` and `selling_partner_id`:
//!   <https://developer-docs.amazon.com/sp-api/docs/website-authorization-workflow>,
//!   <https://developer-docs.amazon.com/sp-api/docs/authorization-errors> (MD1000).
//!   SP-API answers refused tokens with 403 `Unauthorized` (not 401).
//! * Rate limits: token buckets per operation (rate per second, burst),
//!   <https://developer-docs.amazon.com/sp-api/docs/usage-plans-and-rate-limits>:
//!   - putListingsItem 5/s, burst 5; patchListingsItem 5/s, burst 5 — per-account
//!     figures of <https://developer-docs.amazon.com/sp-api/docs/listings-items-api-rate-limits>
//!     (the operation reference still shows burst 10 for put; we take the lower);
//!   - searchListingsItems 5/s, burst 5 — its reference (model above);
//!   - getOrders 0.0167/s, burst 20 — <https://developer-docs.amazon.com/sp-api/reference/getorders>;
//!   - getOrderItems 0.5/s, burst 30 — <https://developer-docs.amazon.com/sp-api/reference/getorderitems>.
//!
//!   Throttled calls get 429 with `{"errors":[{"code":"QuotaExceeded",…}]}`
//!   and no `Retry-After`; `x-amzn-RateLimit-Limit` states the rate, not what
//!   remains, so there is nothing to fold back into the gate. The gate keeps
//!   one token of each burst in reserve and paces at 95% of each rate
//!   ([`HEADROOM`]): Amazon's bucket and ours start at different instants
//!   (ours at our first reservation, Amazon's when that call arrives) and
//!   network or scheduling delays move arrivals, so an exactly-paced call
//!   can land just before Amazon's token does. The reserved token absorbs a
//!   slow first call (a whole refill interval: 200 ms at 5/s); the 5% adds
//!   slack with every call after it.
//!
//! Decisions and what is left out:
//! * One listing item per SKU. A product with several variants and named
//!   options is a variation family: a parent item (SKU = the product's
//!   external id, else its handle; product facts only) and one child per
//!   variant carrying `parentage_level`, `child_parent_sku_relationship`,
//!   `variation_theme` (option names upper-cased, `SIZE/COLOR`) and one
//!   attribute per option (`size`, `color`). Which themes and attribute names a
//!   product type accepts is defined by the Product Type Definitions API,
//!   which this adapter does not call: a theme the product type lacks comes
//!   back as an INVALID issue on that product. Several variants without
//!   option names cannot form a family: they are put as standalone items
//!   and the product is known by its first SKU.
//! * A family's outcome is the first failure among its parent and children;
//!   the items that were accepted stay on Amazon, and a retry puts them again
//!   (a put is a full replace, so repeating it is harmless).
//! * No bulk feed. Listings Items has no multi-item call; the bulk path is
//!   the Feeds API `JSON_LISTINGS_FEED` (up to 25,000 messages, five feeds per
//!   five minutes: <https://developer-docs.amazon.com/sp-api/changelog/update-feed-size-and-rate-limit-changes-for-the-json_listings_feed>).
//!   A feed is asynchronous — create a feed document, upload it to a
//!   pre-signed S3 URL on another host, create the feed, poll getFeed until
//!   processed (queued, minutes; <https://developer-docs.amazon.com/sp-api/docs/feeds-api-faq>),
//!   then download the processing report — while `upsert_products` must
//!   return each item's outcome when it returns. Doing that needs a job that
//!   outlives one call (submit now, reconcile the report later), which is
//!   beyond this adapter; at 5 calls a second per SKU a catalog of 10,000
//!   SKUs takes about 35 minutes through Listings Items.
//! * Per-application limits (100 put / 500 patch per second across all
//!   sellers of the app) are not modelled: the gate is per connection.
//! * Notifications go to Amazon SQS or EventBridge, never to an HTTP
//!   endpoint, so there is nothing to subscribe here and nothing to verify:
//!   orders are found by polling [`Channel::recent_orders`], and
//!   [`Channel::verify_webhook`] refuses every request.
//! * Read-back uses searchListingsItems, which pages at most 1000 SKUs;
//!   larger catalogs need the merchant listings report (not done).
//! * Refreshed LWA tokens live in this adapter only; the trait has no way
//!   to hand them back for sealing, so a new adapter refreshes again.

mod calls;
mod wire;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{SecondsFormat, Utc};
use http::{HeaderMap, Method};
use serde_json::Value;
use shelfsync_core::Platform;
use shelfsync_core::quota::{Limit, QuotaModel, Scope};
use url::Url;

use crate::oauth::{ClientAuth, OAuthEndpoints};
use crate::{
    BatchLimits, CallPlan, Channel, ChannelDeps, ChannelError, ChannelOrder, ConnectionConfig,
    InventoryOutcome, InventoryPush, ItemError, ListingPage, PlatformEndpoints, ProductOutcome,
    ProductPush, WebhookError, WebhookEvent,
};
use calls::{Inner, error_text};
use wire::ListingContext;

/// The North America SP-API endpoint, the default region.
pub const SP_API_NA: &str = "https://sellingpartnerapi-na.amazon.com";
/// Login with Amazon, whose `/auth/o2/token` issues SP-API access tokens.
pub const LWA_HOST: &str = "https://api.amazon.com";
/// Seller Central (US), where sellers give consent.
pub const SELLER_CENTRAL: &str = "https://sellercentral.amazon.com";
/// Amazon.com, the default marketplace.
pub const DEFAULT_MARKETPLACE: &str = "ATVPDKIKX0DER";

pub const OP_PUT_ITEM: &str = "putListingsItem";
pub const OP_PATCH_ITEM: &str = "patchListingsItem";
pub const OP_SEARCH_ITEMS: &str = "searchListingsItems";
pub const OP_GET_ORDERS: &str = "getOrders";
pub const OP_GET_ORDER_ITEMS: &str = "getOrderItems";

/// The share of each published rate the gate paces at (see the module header).
pub const HEADROOM: f64 = 0.95;

/// The default usage plans of the operations this adapter calls (sources in
/// the module header).
pub fn published_quota() -> QuotaModel {
    let plan = |rate_per_sec, burst| Limit::TokenBucket {
        rate_per_sec,
        burst,
    };
    QuotaModel::unlimited()
        .with(Scope::Operation(OP_PUT_ITEM.into()), plan(5.0, 5.0))
        .with(Scope::Operation(OP_PATCH_ITEM.into()), plan(5.0, 5.0))
        .with(Scope::Operation(OP_SEARCH_ITEMS.into()), plan(5.0, 5.0))
        .with(Scope::Operation(OP_GET_ORDERS.into()), plan(0.0167, 20.0))
        .with(Scope::Operation(OP_GET_ORDER_ITEMS.into()), plan(0.5, 30.0))
}

/// The model the gate paces by: every token bucket one token short of its
/// burst (never below one) and at [`HEADROOM`] of its rate.
fn paced(model: &QuotaModel) -> QuotaModel {
    let mut paced = model.clone();
    for scoped in &mut paced.limits {
        if let Limit::TokenBucket {
            rate_per_sec,
            burst,
        } = &mut scoped.limit
        {
            *rate_per_sec *= HEADROOM;
            *burst = (*burst - 1.0).max(1.0);
        }
    }
    paced
}

/// The regional SP-API endpoint (`na`, `eu`, `fe`).
pub fn regional_api(region: &str) -> Option<Url> {
    let host = match region.to_ascii_lowercase().as_str() {
        "na" => "https://sellingpartnerapi-na.amazon.com",
        "eu" => "https://sellingpartnerapi-eu.amazon.com",
        "fe" => "https://sellingpartnerapi-fe.amazon.com",
        _ => return None,
    };
    host.parse().ok()
}

/// The account is the selling partner id, which travels in paths, not
/// hosts. Real: the North America SP-API and LWA (a connection's `region`
/// setting picks another SP-API region). With `base` (the simulator), both
/// are `base` with the real paths under it.
pub fn endpoints(account: &str, base: Option<&Url>) -> PlatformEndpoints {
    let _ = account;
    match base {
        Some(base) => PlatformEndpoints {
            api: base.clone(),
            auth: base.clone(),
        },
        None => PlatformEndpoints {
            api: SP_API_NA.parse().expect("static URL"),
            auth: LWA_HOST.parse().expect("static URL"),
        },
    }
}

/// Consent on Seller Central (or under the simulator's base), tokens from
/// LWA with the client credentials in the form body; the callback's code
/// is `spapi_oauth_code`. No scopes: the app's roles decide access.
pub fn oauth_endpoints(endpoints: &PlatformEndpoints) -> OAuthEndpoints {
    let authorize = if endpoints.auth.host_str() == Some("api.amazon.com") {
        crate::join(
            &SELLER_CENTRAL.parse().expect("static URL"),
            "apps/authorize/consent",
        )
    } else {
        crate::join(&endpoints.auth, "apps/authorize/consent")
    };
    OAuthEndpoints {
        authorize,
        token: crate::join(&endpoints.auth, "auth/o2/token"),
        revoke: None,
        scopes: vec![],
        scope_separator: " ",
        pkce: false,
        client_auth: ClientAuth::Body,
        code_param: "spapi_oauth_code",
        client_id_param: "application_id",
    }
}

/// An app still in draft status must add `version=beta` to the consent URL
/// (authorization error MD1000 otherwise).
pub fn draft_authorize_url(url: &Url) -> Url {
    let mut url = url.clone();
    url.query_pairs_mut().append_pair("version", "beta");
    url
}

fn setting<'a>(config: &'a ConnectionConfig, key: &str) -> Option<&'a str> {
    config
        .settings
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

pub fn connect(
    config: ConnectionConfig,
    deps: &ChannelDeps,
) -> Result<Arc<dyn Channel>, ChannelError> {
    let tokens = config
        .secrets
        .oauth()
        .cloned()
        .ok_or_else(|| ChannelError::Config("Amazon connects with LWA tokens".into()))?;
    if config.account.trim().is_empty() {
        return Err(ChannelError::Config(
            "the selling partner id is missing".into(),
        ));
    }
    let mut api = config.endpoints.api.clone();
    if let Some(region) = setting(&config, "region") {
        let is_real = api
            .host_str()
            .is_some_and(|h| h.starts_with("sellingpartnerapi-") && h.ends_with(".amazon.com"));
        let regional = regional_api(region)
            .ok_or_else(|| ChannelError::Config(format!("unknown SP-API region `{region}`")))?;
        if is_real {
            api = regional;
        }
    }
    if api.cannot_be_a_base() {
        return Err(ChannelError::Config(
            "the SP-API endpoint is not a URL base".into(),
        ));
    }
    let model = crate::quota_from_settings(&config.settings, published_quota());
    let concurrency = config
        .settings
        .get("concurrency")
        .and_then(Value::as_u64)
        .unwrap_or(4)
        .clamp(1, 16) as usize;
    let ctx = ListingContext {
        marketplace_id: setting(&config, "marketplace_id")
            .unwrap_or(DEFAULT_MARKETPLACE)
            .to_owned(),
        product_type: setting(&config, "product_type")
            .unwrap_or("PRODUCT")
            .to_owned(),
        language_tag: setting(&config, "language_tag")
            .unwrap_or("en_US")
            .to_owned(),
    };
    let inner = Inner {
        http: deps.http(&config, paced(&model)),
        client: deps.client.clone(),
        oauth: oauth_endpoints(&config.endpoints),
        app: config.app.clone(),
        seller_id: config.account.trim().to_owned(),
        api,
        ctx,
        tokens: Mutex::new(tokens),
        refreshing: tokio::sync::Mutex::new(()),
        concurrency,
    };
    Ok(Arc::new(Amazon {
        inner: Arc::new(inner),
        model,
    }))
}

/// One seller's SP-API connection.
pub struct Amazon {
    inner: Arc<Inner>,
    model: QuotaModel,
}

#[async_trait]
impl Channel for Amazon {
    fn platform(&self) -> Platform {
        Platform::Amazon
    }

    fn quota_model(&self) -> &QuotaModel {
        &self.model
    }

    /// One SKU per call: Listings Items has no multi-item operation (a
    /// variation family costs one call per variant plus its parent).
    fn batch_limits(&self) -> BatchLimits {
        BatchLimits {
            products: 1,
            inventory: 1,
        }
    }

    /// The shared rules and Amazon's title and SKU limits.
    fn validate_push(&self, product: &ProductPush) -> Vec<ItemError> {
        calls::check(product)
    }

    /// One putListingsItem per SKU (and per family parent), plus a token
    /// refresh when one is due.
    fn plan_upsert(&self, products: &[ProductPush]) -> CallPlan {
        self.inner.plan(products)
    }

    async fn upsert_products(
        &self,
        products: &[ProductPush],
    ) -> Result<Vec<ProductOutcome>, ChannelError> {
        self.inner
            .each(products.to_vec(), |inner, product| async move {
                inner.upsert_product(product).await
            })
            .await
    }

    async fn set_inventory(
        &self,
        levels: &[InventoryPush],
    ) -> Result<Vec<InventoryOutcome>, ChannelError> {
        self.inner
            .each(levels.to_vec(), |inner, level| async move {
                inner.set_quantity(level).await
            })
            .await
    }

    async fn read_listings(&self, cursor: Option<&str>) -> Result<ListingPage, ChannelError> {
        let inner = &self.inner;
        let mut query = vec![
            ("marketplaceIds", inner.ctx.marketplace_id.as_str()),
            (
                "includedData",
                "summaries,offers,fulfillmentAvailability,relationships",
            ),
            ("pageSize", "20"),
            ("sortBy", "sku"),
            ("sortOrder", "ASC"),
        ];
        if let Some(cursor) = cursor {
            query.push(("pageToken", cursor));
        }
        let url = inner.url(
            &["listings", "2021-08-01", "items", inner.seller_id.as_str()],
            &query,
        );
        let reply = inner.call(OP_SEARCH_ITEMS, Method::GET, &url, None).await?;
        if !reply.status.is_success() {
            return Err(ChannelError::Rejected {
                status: reply.status.as_u16(),
                message: error_text(&reply),
            });
        }
        wire::listing_page(reply.json()?, &inner.ctx.marketplace_id)
    }

    /// Orders updated since `since` (`LastUpdatedAfter`, so an order
    /// canceled after it was placed is read again), each with its items;
    /// `OrderStatus` `Canceled` ones flagged cancelled, without their items:
    /// a cancellation gives back what the order took, whatever its lines,
    /// so getOrderItems (0.5 a second) is not spent on them.
    /// (https://developer-docs.amazon.com/sp-api/docs/orders-api-v0-reference#getorders)
    async fn recent_orders(
        &self,
        since: chrono::DateTime<Utc>,
    ) -> Result<Vec<ChannelOrder>, ChannelError> {
        let inner = &self.inner;
        let updated_after = since.to_rfc3339_opts(SecondsFormat::Secs, true);
        let mut orders = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let mut query = vec![("MarketplaceIds", inner.ctx.marketplace_id.as_str())];
            match &next {
                Some(token) => query.push(("NextToken", token.as_str())),
                None => query.push(("LastUpdatedAfter", updated_after.as_str())),
            }
            let url = inner.url(&["orders", "v0", "orders"], &query);
            let reply = inner.call(OP_GET_ORDERS, Method::GET, &url, None).await?;
            if !reply.status.is_success() {
                return Err(ChannelError::Rejected {
                    status: reply.status.as_u16(),
                    message: error_text(&reply),
                });
            }
            let list = reply
                .json::<wire::GetOrdersResponse>()?
                .payload
                .ok_or_else(|| ChannelError::Protocol("getOrders without payload".into()))?;
            for order in list.orders {
                let cancelled = order.order_status == "Canceled";
                let lines = if cancelled {
                    Vec::new()
                } else {
                    inner.order_lines(&order.amazon_order_id).await?
                };
                orders.push(ChannelOrder {
                    cancelled,
                    external_id: order.amazon_order_id,
                    created_at: Some(order.purchase_date),
                    lines,
                });
            }
            match list.next_token {
                Some(token) => next = Some(token),
                None => return Ok(orders),
            }
        }
    }

    /// SP-API has no HTTP webhooks to subscribe (its Notifications API
    /// targets SQS or EventBridge); orders are polled instead.
    async fn subscribe_webhooks(&self, callback: &Url) -> Result<(), ChannelError> {
        tracing::debug!(%callback, "Amazon delivers notifications to SQS or EventBridge only; polling orders instead");
        Ok(())
    }

    fn verify_webhook(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<WebhookEvent, WebhookError> {
        let _ = (headers, body);
        Err(WebhookError::Malformed(
            "Amazon SP-API sends no HTTP webhooks (notifications go to SQS or EventBridge); \
             orders are polled"
                .into(),
        ))
    }
}

impl std::fmt::Debug for Amazon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Amazon")
            .field("seller_id", &self.inner.seller_id)
            .field("api", &self.inner.api.as_str())
            .field("marketplace_id", &self.inner.ctx.marketplace_id)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_endpoints_are_sp_api_and_lwa_and_the_simulator_nests_them() {
        let real = endpoints("A3SELLER", None);
        assert_eq!(
            real.api.as_str(),
            "https://sellingpartnerapi-na.amazon.com/"
        );
        let oauth = oauth_endpoints(&real);
        assert_eq!(
            oauth.authorize.as_str(),
            "https://sellercentral.amazon.com/apps/authorize/consent"
        );
        assert_eq!(oauth.token.as_str(), "https://api.amazon.com/auth/o2/token");
        assert_eq!(oauth.code_param, "spapi_oauth_code");
        assert_eq!(oauth.client_id_param, "application_id");
        assert_eq!(oauth.client_auth, ClientAuth::Body);

        let base: Url = "http://127.0.0.1:9/amazon".parse().unwrap();
        let sim = endpoints("A3SELLER", Some(&base));
        let oauth = oauth_endpoints(&sim);
        assert_eq!(
            oauth.authorize.as_str(),
            "http://127.0.0.1:9/amazon/apps/authorize/consent"
        );
        assert_eq!(
            oauth.token.as_str(),
            "http://127.0.0.1:9/amazon/auth/o2/token"
        );
        let draft = draft_authorize_url(&oauth.authorize);
        assert_eq!(draft.query(), Some("version=beta"));
        assert_eq!(
            regional_api("EU").unwrap().as_str(),
            "https://sellingpartnerapi-eu.amazon.com/"
        );
        assert!(regional_api("mars").is_none());
    }

    #[test]
    fn the_published_plans_are_per_operation_token_buckets() {
        let model = published_quota();
        let plan = |op: &str| {
            model
                .applicable(op)
                .map(|(_, l)| l.limit)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            plan(OP_PUT_ITEM),
            vec![Limit::TokenBucket {
                rate_per_sec: 5.0,
                burst: 5.0
            }]
        );
        assert_eq!(
            plan(OP_GET_ORDERS),
            vec![Limit::TokenBucket {
                rate_per_sec: 0.0167,
                burst: 20.0
            }]
        );
        assert_eq!(
            plan(OP_GET_ORDER_ITEMS),
            vec![Limit::TokenBucket {
                rate_per_sec: 0.5,
                burst: 30.0
            }]
        );
        assert!(plan("getCatalogItem").is_empty());
        let pacing = paced(&model);
        assert!((pacing.per_minute(OP_PATCH_ITEM).unwrap() - 5.0 * 60.0 * HEADROOM).abs() < 1e-9);
        let put = pacing.applicable(OP_PUT_ITEM).next().unwrap().1.limit;
        assert_eq!(
            put.capacity(),
            4.0,
            "one token of the burst is kept in reserve"
        );
        let tiny = QuotaModel::unlimited().with(
            Scope::All,
            Limit::TokenBucket {
                rate_per_sec: 1.0,
                burst: 1.0,
            },
        );
        assert_eq!(paced(&tiny).limits[0].limit.capacity(), 1.0);
    }
}
