//! eBay: the Sell Inventory API v1 for the catalog and stock, the Sell
//! Fulfillment API v1 for orders, OAuth 2 authorization-code grant for the
//! seller's consent.
//!
//! How the neutral model maps onto eBay's:
//! * every variant is an **inventory item** keyed by its SKU; a product with
//!   more than one variant is also an **inventory item group** (key = the
//!   product's external id) whose `variesBy` names the options;
//! * what is for sale is an **offer** (SKU × marketplace, fixed price); its
//!   offer id is the variant's external id and its `inventory_ref`, because
//!   the price/quantity calls address offers by that id;
//! * a product is on sale (`Active`) once its offers are published (a
//!   group's with `publishOfferByInventoryItemGroup`); `Draft` leaves them
//!   unpublished; `Archived` withdraws the ones we already knew.
//!
//! Orders are **polled** with [`Channel::recent_orders`]: eBay's
//! notifications (Platform Notifications and the Notification API) are
//! signed with ECDSA keys fetched from eBay's key service, which this build
//! has no verifier for. [`Channel::verify_webhook`] therefore refuses every
//! delivery honestly instead of pretending to check a signature, and
//! [`Channel::subscribe_webhooks`] keeps its default (nothing to subscribe).
//!
//! Documentation (every field, status and number used here is from these):
//! * Inventory API overview: <https://developer.ebay.com/api-docs/sell/inventory/overview.html>
//! * bulkCreateOrReplaceInventoryItem (≤ 25 items, per-item `responses[].statusCode`, 200/207):
//!   <https://developer.ebay.com/api-docs/sell/inventory/resources/inventory_item/methods/bulkCreateOrReplaceInventoryItem>
//! * createOrReplaceInventoryItemGroup (`PUT /inventory_item_group/{key}`, `variantSKUs`, `variesBy`):
//!   <https://developer.ebay.com/api-docs/sell/inventory/resources/inventory_item_group/methods/createOrReplaceInventoryItemGroup>
//! * getInventoryItems (`limit` 1–200, default 25; `offset` is the zero-based *page number*; `next` href):
//!   <https://developer.ebay.com/api-docs/sell/inventory/resources/inventory_item/methods/getInventoryItems>
//! * bulkGetInventoryItem (≤ 25): <https://developer.ebay.com/api-docs/sell/inventory/resources/inventory_item/methods/bulkGetInventoryItem>
//! * getInventoryItemGroup: <https://developer.ebay.com/api-docs/sell/inventory/resources/inventory_item_group/methods/getInventoryItemGroup>
//! * bulkCreateOffer (≤ 25, one marketplace): <https://developer.ebay.com/api-docs/sell/inventory/resources/offer/methods/bulkCreateOffer>
//! * bulkPublishOffer (≤ 25): <https://developer.ebay.com/api-docs/sell/inventory/resources/offer/methods/bulkPublishOffer>
//! * publishOfferByInventoryItemGroup / withdrawOfferByInventoryItemGroup / withdrawOffer / updateOffer / getOffers:
//!   <https://developer.ebay.com/api-docs/sell/inventory/resources/methods>
//! * bulkUpdatePriceQuantity (≤ 25 inventory items and their offers per call; quantity must be set on
//!   the item *and* the offer): <https://developer.ebay.com/api-docs/sell/inventory/resources/inventory_item/methods/bulkUpdatePriceQuantity>,
//!   <https://developer.ebay.com/api-docs/sell/static/inventory/bulk-updates.html>
//! * Fulfillment getOrders (`filter=creationdate:[…..]`, `limit` ≤ 200, `offset`):
//!   <https://developer.ebay.com/api-docs/sell/fulfillment/resources/order/methods/getOrders>
//! * Request headers (`Authorization: Bearer`, `Content-Language`, `X-EBAY-C-MARKETPLACE-ID`):
//!   <https://developer.ebay.com/api-docs/static/rest-request-components.html>
//! * Error shape (`errors[].errorId/domain/category/message/longMessage/parameters`):
//!   <https://developer.ebay.com/api-docs/static/handling-error-messages.html>,
//!   <https://developer.ebay.com/develop/api/sell/error_codes>
//! * OAuth: <https://developer.ebay.com/api-docs/static/oauth-authorization-code-grant.html>,
//!   <https://developer.ebay.com/api-docs/static/oauth-auth-code-grant-request.html> (Basic client
//!   auth, form body, user token 7,200 s, refresh token 47,304,000 s ≈ 18 months),
//!   <https://developer.ebay.com/api-docs/static/oauth-scopes.html>
//! * Call limits: <https://developer.ebay.com/develop/api/sell/api_call_limits> — Inventory API
//!   2,000,000 calls/day, Fulfillment API 100,000 calls/day per application (default tier; the
//!   Application Growth Check raises them). Over the limit eBay answers HTTP 429 with
//!   `errorId` 2001 "Too many requests." (see [`quota`]).
//! * Notifications (why they are not used): <https://developer.ebay.com/api-docs/commerce/notification/overview.html>

mod products;
mod read;
mod wire;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use ::http::HeaderMap;
use async_trait::async_trait;
use shelfsync_core::Platform;
use shelfsync_core::quota::{Limit, QuotaModel, QuotaReport, Scope};
use shelfsync_core::vault::{ExposeSecret, SecretString};
use url::Url;

use crate::http::{ChannelHttp, Reply};
use crate::oauth::{ClientAuth, OAuthEndpoints};
use crate::{
    BatchLimits, Channel, ChannelDeps, ChannelError, ChannelOrder, ConnectionConfig,
    InventoryOutcome, InventoryPush, ListingPage, PlatformEndpoints, ProductOutcome, ProductPush,
    WebhookError, WebhookEvent,
};

/// Items one Inventory API bulk call may carry (bulkCreateOrReplaceInventoryItem,
/// bulkCreateOffer, bulkPublishOffer, bulkGetInventoryItem, bulkUpdatePriceQuantity).
pub const BULK_LIMIT: usize = 25;

/// eBay's published daily call limits and the operation names they are
/// charged under. eBay counts calls per API, so every Inventory API call is
/// sent as one operation and every Fulfillment API call as another.
pub mod quota {
    use super::*;

    /// Every Sell Inventory API call.
    pub const INVENTORY: &str = "sell.inventory";
    /// Every Sell Fulfillment API call.
    pub const FULFILLMENT: &str = "sell.fulfillment";
    /// "Inventory API: 2,000,000 API calls per day" —
    /// <https://developer.ebay.com/develop/api/sell/api_call_limits> (default limits).
    pub const INVENTORY_CALLS_PER_DAY: f64 = 2_000_000.0;
    /// "Fulfillment API: 100,000 API calls per day" — same page.
    pub const FULFILLMENT_CALLS_PER_DAY: f64 = 100_000.0;

    /// The published limits. eBay resets its counters at midnight Pacific
    /// time; the model spreads the day's calls evenly instead (a rolling
    /// cap), which never sends more than eBay allows.
    pub fn published() -> QuotaModel {
        QuotaModel::unlimited()
            .with(
                Scope::Operation(INVENTORY.into()),
                Limit::DailyCap {
                    calls: INVENTORY_CALLS_PER_DAY,
                },
            )
            .with(
                Scope::Operation(FULFILLMENT.into()),
                Limit::DailyCap {
                    calls: FULFILLMENT_CALLS_PER_DAY,
                },
            )
    }
}

/// OAuth scopes the adapter needs: manage inventory and offers, read orders.
/// <https://developer.ebay.com/api-docs/static/oauth-scopes.html>
pub const SCOPES: [&str; 2] = [
    "https://api.ebay.com/oauth/api_scope/sell.inventory",
    "https://api.ebay.com/oauth/api_scope/sell.fulfillment",
];

/// Where eBay's API and consent page are. `account` (the seller's user id)
/// does not change the hosts: eBay has one API host for every seller.
pub fn endpoints(account: &str, base: Option<&Url>) -> PlatformEndpoints {
    let _ = account;
    crate::fixed_hosts(base, "https://api.ebay.com", "https://auth.ebay.com")
}

/// eBay's authorization-code grant: consent at `auth.ebay.com/oauth2/authorize`,
/// tokens from `api.ebay.com/identity/v1/oauth2/token` with HTTP Basic client
/// authentication and a form body.
///
/// eBay's `redirect_uri` is not a URL but the app's **RuName** (the name eBay
/// gave the redirect it has on file); eBay then sends the seller to the
/// "auth accepted URL" registered for that RuName. Callers pass the RuName
/// wherever these endpoints are used with a `redirect_uri`.
pub fn oauth_endpoints(endpoints: &PlatformEndpoints) -> OAuthEndpoints {
    OAuthEndpoints {
        authorize: crate::join(&endpoints.auth, "oauth2/authorize"),
        token: crate::join(&endpoints.api, "identity/v1/oauth2/token"),
        // eBay publishes no RFC 7009 revocation endpoint for user tokens.
        revoke: None,
        scopes: SCOPES.iter().map(|s| (*s).to_owned()).collect(),
        scope_separator: " ",
        pkce: false,
        client_auth: ClientAuth::Basic,
        code_param: "code",
        client_id_param: "client_id",
    }
}

/// The adapter for one connection.
pub fn connect(
    config: ConnectionConfig,
    deps: &ChannelDeps,
) -> Result<Arc<dyn Channel>, ChannelError> {
    let settings = Settings::from_json(&config.settings)?;
    let token = config
        .secrets
        .oauth()
        .ok_or_else(|| ChannelError::Config("eBay connects with OAuth tokens".into()))?
        .access_token
        .clone();
    let model = crate::quota_from_settings(&config.settings, quota::published());
    let http = deps.http(&config, model.with_burst_reserve());
    Ok(Arc::new(Ebay {
        http,
        api: config.endpoints.api.clone(),
        token,
        settings,
    }))
}

/// What a connection's settings say about its eBay listings.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Settings {
    /// `X-EBAY-C-MARKETPLACE-ID` and the offers' `marketplaceId` (`EBAY_US`).
    pub marketplace_id: String,
    /// The inventory items' `locale` (`en_US`).
    pub locale: String,
    /// `Content-Language` of request bodies (`en-US`).
    pub content_language: String,
    /// Item condition enum (`NEW`).
    pub condition: String,
    /// eBay category of the offers; required to publish.
    pub category_id: Option<String>,
    /// Inventory location; required to publish.
    pub merchant_location_key: Option<String>,
    pub fulfillment_policy_id: Option<String>,
    pub payment_policy_id: Option<String>,
    pub return_policy_id: Option<String>,
    /// Inventory items per read-back page (getInventoryItems `limit`, 1–200).
    pub page_size: u32,
}

impl Settings {
    pub fn from_json(value: &serde_json::Value) -> Result<Self, ChannelError> {
        let text = |key: &str| -> Result<Option<String>, ChannelError> {
            match value.get(key) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::String(s)) if !s.trim().is_empty() => {
                    Ok(Some(s.trim().to_owned()))
                }
                Some(serde_json::Value::Number(n)) => Ok(Some(n.to_string())),
                Some(_) => Err(ChannelError::Config(format!(
                    "eBay setting `{key}` must be a non-empty string"
                ))),
            }
        };
        let locale = text("locale")?.unwrap_or_else(|| "en_US".into());
        let content_language =
            text("content_language")?.unwrap_or_else(|| locale.replace('_', "-"));
        let page_size = match value.get("page_size") {
            None | Some(serde_json::Value::Null) => 25,
            Some(v) => v
                .as_u64()
                .filter(|n| (1..=200).contains(n))
                .map(|n| n as u32)
                .ok_or_else(|| ChannelError::Config("eBay `page_size` must be 1 to 200".into()))?,
        };
        Ok(Settings {
            marketplace_id: text("marketplace_id")?.unwrap_or_else(|| "EBAY_US".into()),
            locale,
            content_language,
            condition: text("condition")?.unwrap_or_else(|| "NEW".into()),
            category_id: text("category_id")?,
            merchant_location_key: text("merchant_location_key")?,
            fulfillment_policy_id: text("fulfillment_policy_id")?,
            payment_policy_id: text("payment_policy_id")?,
            return_policy_id: text("return_policy_id")?,
            page_size,
        })
    }
}

/// One eBay seller account.
pub struct Ebay {
    http: ChannelHttp,
    api: Url,
    token: SecretString,
    settings: Settings,
}

/// eBay reports no remaining-quota figure on its responses; a 429 is
/// recognised by the shared client from the status alone.
fn no_report(_: &Reply) -> QuotaReport {
    QuotaReport::default()
}

impl Ebay {
    /// `path` under the API host (`sell/inventory/v1/...`).
    fn url(&self, path: &str) -> Url {
        crate::join(&self.api, path)
    }

    /// `base` with `segments` appended as escaped path segments (SKUs and
    /// group keys are the seller's and may hold any character).
    fn url_with(&self, base: &str, segments: &[&str]) -> Result<Url, ChannelError> {
        let mut url = self.url(base);
        url.path_segments_mut()
            .map_err(|_| ChannelError::Config("the eBay API URL cannot take a path".into()))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// Send one call. `body` is JSON already serialised, so every retry
    /// sends the same bytes.
    async fn call(
        &self,
        operation: &str,
        method: reqwest::Method,
        url: Url,
        body: Option<Vec<u8>>,
    ) -> Result<Reply, ChannelError> {
        let token = &self.token;
        let settings = &self.settings;
        self.http
            .send(
                operation,
                1.0,
                |client| {
                    let mut request = client
                        .request(method.clone(), url.clone())
                        .bearer_auth(token.expose_secret())
                        .header("Accept", "application/json")
                        .header("X-EBAY-C-MARKETPLACE-ID", &settings.marketplace_id);
                    if let Some(body) = &body {
                        request = request
                            .header("Content-Type", "application/json")
                            .header("Content-Language", &settings.content_language)
                            .body(body.clone());
                    }
                    request
                },
                &no_report,
            )
            .await
    }
}

#[async_trait]
impl Channel for Ebay {
    fn platform(&self) -> Platform {
        Platform::Ebay
    }

    fn quota_model(&self) -> &QuotaModel {
        self.http.model()
    }

    fn batch_limits(&self) -> BatchLimits {
        BatchLimits {
            products: BULK_LIMIT,
            inventory: BULK_LIMIT,
        }
    }

    /// The shared rules and eBay's SKU limit ([`products::check`]).
    fn validate_push(&self, product: &ProductPush) -> Vec<crate::ItemError> {
        products::check(product)
    }

    /// Every Inventory API call of [`products::upsert`]'s steps, chunked by
    /// 25 where eBay's bulk calls take 25; all charged to `sell.inventory`.
    fn plan_upsert(&self, products: &[ProductPush]) -> crate::CallPlan {
        products::plan(self, products)
    }

    async fn upsert_products(
        &self,
        products: &[ProductPush],
    ) -> Result<Vec<ProductOutcome>, ChannelError> {
        products::upsert(self, products).await
    }

    async fn set_inventory(
        &self,
        levels: &[InventoryPush],
    ) -> Result<Vec<InventoryOutcome>, ChannelError> {
        read::set_inventory(self, levels).await
    }

    async fn read_listings(&self, cursor: Option<&str>) -> Result<ListingPage, ChannelError> {
        read::read_listings(self, cursor).await
    }

    async fn recent_orders(
        &self,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<ChannelOrder>, ChannelError> {
        read::recent_orders(self, since).await
    }

    /// eBay's notifications are ECDSA-signed with keys fetched from eBay;
    /// this build cannot verify them, so none is accepted. Orders are polled.
    fn verify_webhook(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<WebhookEvent, WebhookError> {
        let _ = (headers, body);
        Err(WebhookError::Malformed(
            "eBay notifications are not received by webhook; orders are polled".into(),
        ))
    }
}
