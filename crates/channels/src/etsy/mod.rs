//! The Etsy adapter: Open API v3, one shop per connection.
//!
//! Sources (the adapter is written against these, not against the simulator):
//! * Requests, hosts and headers: <https://developers.etsy.com/documentation/essentials/requests>
//!   (`https://api.etsy.com/v3/` and `https://openapi.etsy.com/v3/` are
//!   equivalent; every call sends `x-api-key` and `Authorization: Bearer`).
//!   Since 2026-02 `x-api-key` must be `keystring:shared_secret` (the
//!   reference's `api_key` security scheme; announcement
//!   <https://github.com/etsy/open-api/discussions/1531>); a bare keystring
//!   is refused with 403 "Shared secret is required in x-api-key header".
//! * OAuth 2 with PKCE: <https://developers.etsy.com/documentation/essentials/authentication>
//!   (authorize at `https://www.etsy.com/oauth/connect`, tokens at
//!   `https://api.etsy.com/v3/public/oauth/token`, access tokens live 3600 s,
//!   refresh tokens 90 days; scopes space-separated).
//! * Endpoints: <https://developers.etsy.com/documentation/reference>
//!   `createDraftListing` (POST /v3/application/shops/{shop_id}/listings, form),
//!   `updateListing` (PATCH /v3/application/shops/{shop_id}/listings/{listing_id}, form),
//!   `updateListingInventory` (PUT /v3/application/listings/{listing_id}/inventory, JSON),
//!   `getListingsByListingIds` (GET /v3/application/listings/batch, ≤ 100 ids, `includes=Inventory`),
//!   `getListingsByShop` (GET /v3/application/shops/{shop_id}/listings, `state`, `limit` ≤ 100,
//!   `offset`, `includes=Inventory`), `getShopReceipts`
//!   (GET /v3/application/shops/{shop_id}/receipts, `min_created`, `limit` ≤ 100, `offset`).
//!   Custom variations use property ids 513 and 514, as Etsy's listings do in practice.
//! * Rate limits: <https://developers.etsy.com/documentation/essentials/rate-limits>.
//!   Two limits per app key (per OAuth token for private calls): queries per
//!   second and queries per rolling 24 hours. The published defaults are
//!   10 QPS and 10,000 QPD (the page's earlier text: "10,000 requests per
//!   24-hour period, with a limit of 10 queries per second"); the current page
//!   shows each app's own figures in the developer portal (its example:
//!   150 QPS, 100,000 QPD), so a connection overrides them through its
//!   settings' `quota`. Every successful answer carries `x-limit-per-second`,
//!   `x-remaining-this-second`, `x-limit-per-day` and `x-remaining-today`; an
//!   exceeded limit answers 429 (with `retry-after`).
//! * Webhooks: see the `webhook` module. Etsy registers endpoints in its developer
//!   portal, not through the API, so [`Channel::subscribe_webhooks`] has
//!   nothing to call; orders are also found by polling [`Channel::recent_orders`].
//!
//! Etsy has no multi-listing write: every listing is its own calls, so
//! products are upserted one listing at a time (several listings at once,
//! paced by the quota gate). Stock lives in a listing's inventory, which is
//! only ever written whole, so setting stock reads the inventories of up to
//! 100 listings in one batch read and writes each listing back once.

mod limits;
mod text;
mod webhook;
mod wire;
mod writes;

use std::sync::Arc;

use async_trait::async_trait;
use http::HeaderMap;
use serde::Deserialize;
use shelfsync_core::Platform;
use shelfsync_core::quota::{Limit, QuotaModel, QuotaReport, Scope};
use shelfsync_core::vault::{ExposeSecret, SecretString};
use url::Url;

use crate::http::{ChannelHttp, Reply};
use crate::model::*;
use crate::oauth::{ClientAuth, OAuthEndpoints};
use crate::{
    AppCredentials, Channel, ChannelDeps, ChannelError, ConnectionConfig, PlatformEndpoints,
    WebhookError,
};
use wire::{ErrorBody, Page, ShopListing, ShopReceipt};

/// Etsy's published default limits: 10 queries per second and 10,000 per
/// rolling day (rate-limits page, cited in the module header).
pub fn published_quota() -> QuotaModel {
    QuotaModel::unlimited()
        .with(
            Scope::All,
            Limit::TokenBucket {
                rate_per_sec: 10.0,
                burst: 10.0,
            },
        )
        .with(Scope::All, Limit::DailyCap { calls: 10_000.0 })
}

/// The model the quota gate paces by: the per-second bucket one request
/// smaller than Etsy's. Our bucket starts counting when we send the first
/// call and Etsy's when it arrives, so ours runs ahead by however long the
/// first call travelled; keeping one request in hand absorbs that (and
/// later jitter) so pacing never becomes a 429. Costs one request per burst.
fn gate_model(model: &QuotaModel) -> QuotaModel {
    let mut paced = model.clone();
    for scoped in &mut paced.limits {
        if let Limit::TokenBucket { burst, .. } = &mut scoped.limit
            && *burst >= 2.0
        {
            *burst -= 1.0;
        }
    }
    paced
}

/// The scopes Shelfsync asks a seller for: read and write listings, read orders.
pub const SCOPES: [&str; 3] = ["listings_r", "listings_w", "transactions_r"];

const LISTING_STATES: [&str; 5] = ["active", "inactive", "draft", "sold_out", "expired"];
const WHO_MADE: [&str; 3] = ["i_did", "someone_else", "collective"];
const WHEN_MADE: [&str; 19] = [
    "made_to_order",
    "2020_2026",
    "2010_2019",
    "2007_2009",
    "before_2007",
    "2000_2006",
    "1990s",
    "1980s",
    "1970s",
    "1960s",
    "1950s",
    "1940s",
    "1930s",
    "1920s",
    "1910s",
    "1900s",
    "1800s",
    "1700s",
    "before_1700",
];

/// Etsy's real hosts, or with `base` the same paths under it. `account`
/// (the shop id) is not part of any host.
pub fn endpoints(account: &str, base: Option<&Url>) -> PlatformEndpoints {
    let _ = account;
    crate::fixed_hosts(base, "https://api.etsy.com", "https://www.etsy.com")
}

/// Authorization-code flow with PKCE: Etsy apps are public clients, the
/// token call carries only `client_id` and the verifier.
pub fn oauth_endpoints(endpoints: &PlatformEndpoints) -> OAuthEndpoints {
    OAuthEndpoints {
        authorize: crate::join(&endpoints.auth, "oauth/connect"),
        token: crate::join(&endpoints.api, "v3/public/oauth/token"),
        revoke: None,
        scopes: SCOPES.iter().map(|s| (*s).to_owned()).collect(),
        scope_separator: " ",
        pkce: true,
        client_auth: ClientAuth::PublicPkce,
        code_param: "code",
        client_id_param: "client_id",
    }
}

/// Connection settings the adapter reads (all optional).
#[derive(Debug, Default, Deserialize)]
struct Settings {
    /// Seller taxonomy node new listings go in; Etsy requires one.
    taxonomy_id: Option<u64>,
    who_made: Option<String>,
    when_made: Option<String>,
    /// Required by Etsy to activate physical listings.
    shipping_profile_id: Option<u64>,
    /// The processing profile for new offerings.
    readiness_state_id: Option<u64>,
    return_policy_id: Option<u64>,
    /// The shop's currency; variants priced in another are refused.
    currency: Option<String>,
    /// Listings per read-back page (1–100).
    page_size: Option<u32>,
    /// Listings written at once.
    concurrency: Option<usize>,
}

/// The adapter for one shop. Refuses a connection it could not make a
/// single call with: an account that is not a shop id, settings Etsy would
/// reject (`who_made`, `when_made`), no app credentials (every call needs
/// `keystring:shared_secret`) or no OAuth token.
pub fn connect(
    config: ConnectionConfig,
    deps: &ChannelDeps,
) -> Result<Arc<dyn Channel>, ChannelError> {
    let shop_id: u64 = config
        .account
        .trim()
        .parse()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ChannelError::Config("an Etsy account is its numeric shop_id".into()))?;
    let settings: Settings = serde_json::from_value(config.settings.clone())
        .map_err(|e| ChannelError::Config(format!("Etsy settings: {e}")))?;
    let who_made = settings.who_made.unwrap_or_else(|| "i_did".into());
    if !WHO_MADE.contains(&who_made.as_str()) {
        return Err(ChannelError::Config(format!(
            "who_made must be one of {WHO_MADE:?}"
        )));
    }
    let when_made = settings.when_made.unwrap_or_else(|| "made_to_order".into());
    if !WHEN_MADE.contains(&when_made.as_str()) {
        return Err(ChannelError::Config(format!(
            "when_made must be one of {WHEN_MADE:?}"
        )));
    }
    let app = config.app.clone().ok_or_else(|| {
        ChannelError::Config("Etsy calls need the app's keystring and shared secret".into())
    })?;
    let access_token = config
        .secrets
        .oauth()
        .map(|t| t.access_token.clone())
        .ok_or_else(|| ChannelError::Config("Etsy connects by OAuth".into()))?;
    let model = crate::quota_from_settings(&config.settings, published_quota());
    let http = deps.http(&config, gate_model(&model));
    Ok(Arc::new(EtsyChannel {
        inner: Arc::new(Inner {
            http,
            model,
            api: config.endpoints.api.clone(),
            shop_id,
            app,
            access_token,
            webhook_secret: config.secrets.webhook_secret.clone(),
            defaults: ListingDefaults {
                // Etsy's top-level seller taxonomy node 1; real shops set their own.
                taxonomy_id: settings.taxonomy_id.unwrap_or(1),
                who_made,
                when_made,
                shipping_profile_id: settings.shipping_profile_id,
                readiness_state_id: settings.readiness_state_id,
                return_policy_id: settings.return_policy_id,
            },
            currency: settings.currency.map(|c| c.to_ascii_uppercase()),
            page_size: settings.page_size.unwrap_or(100).clamp(1, 100),
            concurrency: settings.concurrency.unwrap_or(4).clamp(1, 16),
        }),
    }))
}

struct ListingDefaults {
    taxonomy_id: u64,
    who_made: String,
    when_made: String,
    shipping_profile_id: Option<u64>,
    readiness_state_id: Option<u64>,
    return_policy_id: Option<u64>,
}

/// One Etsy shop.
pub struct EtsyChannel {
    inner: Arc<Inner>,
}

struct Inner {
    http: ChannelHttp,
    /// The limits as published or overridden, for callers; the gate paces by [`gate_model`].
    model: QuotaModel,
    api: Url,
    shop_id: u64,
    app: AppCredentials,
    access_token: SecretString,
    webhook_secret: Option<SecretString>,
    defaults: ListingDefaults,
    currency: Option<String>,
    page_size: u32,
    concurrency: usize,
}

/// Etsy's quota report: what is left of the day. The per-second figure is
/// not reported: the gate applies one `available` to every limit, and the
/// day's bucket must not be lowered to a second's remainder.
fn inspect(reply: &Reply) -> QuotaReport {
    let throttled = reply.status.as_u16() == 429;
    QuotaReport {
        available: reply.header_f64("x-remaining-today"),
        actual_cost: None,
        throttled,
        retry_after_secs: if throttled { reply.retry_after() } else { None },
    }
}

/// A 4xx answer as an error, with Etsy's own `error` text only.
fn rejected(reply: &Reply) -> ChannelError {
    let message = match reply.json::<ErrorBody>() {
        Ok(body) => match body.error_description {
            Some(d) => format!("{}: {d}", body.error),
            None => body.error,
        },
        Err(_) => reply.body_excerpt(),
    };
    ChannelError::Rejected {
        status: reply.status.as_u16(),
        message: message.chars().take(300).collect(),
    }
}

fn success(reply: Reply) -> Result<Reply, ChannelError> {
    if reply.status.is_success() {
        Ok(reply)
    } else {
        Err(rejected(&reply))
    }
}

/// A per-item failure, or the error that fails the whole call (credentials
/// or configuration, which no other item would get past either).
fn item_error(error: ChannelError) -> Result<ItemError, ChannelError> {
    Ok(match error {
        ChannelError::Unauthorized(_) | ChannelError::Config(_) => return Err(error),
        ChannelError::Rejected { status, message } => ItemError {
            code: format!("etsy_{status}"),
            message,
            retryable: matches!(status, 409 | 423 | 429),
        },
        ChannelError::Protocol(message) => ItemError::permanent("etsy_protocol", message),
        other => ItemError::retryable("etsy_unavailable", other.to_string()),
    })
}

impl Inner {
    fn url(&self, path: &str) -> Url {
        crate::join(&self.api, path)
    }

    /// One call through the quota gate, with Etsy's two credentials.
    async fn call(
        &self,
        operation: &str,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<Reply, ChannelError> {
        let api_key = format!(
            "{}:{}",
            self.app.client_id,
            self.app.client_secret.expose_secret()
        );
        self.http
            .send(
                operation,
                1.0,
                |client| {
                    build(client)
                        .header("x-api-key", &api_key)
                        .bearer_auth(self.access_token.expose_secret())
                },
                &inspect,
            )
            .await
    }
}

/// Where a read-back page starts: a listing state and an offset in it.
fn parse_cursor(cursor: Option<&str>) -> Result<(usize, u32), ChannelError> {
    let Some(cursor) = cursor else {
        return Ok((0, 0));
    };
    cursor
        .split_once(':')
        .and_then(|(state, offset)| {
            let index = LISTING_STATES.iter().position(|s| *s == state)?;
            Some((index, offset.parse().ok()?))
        })
        .ok_or_else(|| ChannelError::Config(format!("not an Etsy read-back cursor: {cursor}")))
}

#[async_trait]
impl Channel for EtsyChannel {
    fn platform(&self) -> Platform {
        Platform::Etsy
    }

    fn quota_model(&self) -> &QuotaModel {
        &self.inner.model
    }

    /// One listing per write (Etsy has no multi-listing write); stock for
    /// up to 100 listings per read, one write per listing.
    fn batch_limits(&self) -> BatchLimits {
        BatchLimits {
            products: 1,
            inventory: 100,
        }
    }

    /// The shared rules, Etsy's limits and what an Etsy listing needs.
    fn validate_push(&self, product: &ProductPush) -> Vec<ItemError> {
        self.inner.check(product)
    }

    /// Per product: draft, inventory and publish for a new listing; patch
    /// and inventory for an existing one (Etsy has no multi-listing write).
    fn plan_upsert(&self, products: &[ProductPush]) -> CallPlan {
        self.inner.plan(products)
    }

    async fn upsert_products(
        &self,
        products: &[ProductPush],
    ) -> Result<Vec<ProductOutcome>, ChannelError> {
        self.inner.upsert_all(products).await
    }

    async fn set_inventory(
        &self,
        levels: &[InventoryPush],
    ) -> Result<Vec<InventoryOutcome>, ChannelError> {
        self.inner.set_all(levels).await
    }

    async fn read_listings(&self, cursor: Option<&str>) -> Result<ListingPage, ChannelError> {
        let (mut state, mut offset) = parse_cursor(cursor)?;
        let limit = self.inner.page_size;
        let url = self.inner.url(&format!(
            "v3/application/shops/{}/listings",
            self.inner.shop_id
        ));
        loop {
            let query = [
                ("state", LISTING_STATES[state].to_owned()),
                ("limit", limit.to_string()),
                ("offset", offset.to_string()),
                ("includes", "Inventory".to_owned()),
            ];
            let reply = self
                .inner
                .call("getListingsByShop", |c| c.get(url.clone()).query(&query))
                .await?;
            let page: Page<ShopListing> = success(reply)?.json()?;
            let got = page.results.len() as u32;
            let more_here = got == limit
                && page
                    .count
                    .is_none_or(|count| u64::from(offset) + u64::from(got) < count);
            let next = if more_here {
                Some((state, offset + got))
            } else if state + 1 < LISTING_STATES.len() {
                Some((state + 1, 0))
            } else {
                None
            };
            let listings: Vec<ChannelListing> =
                page.results.iter().map(wire::to_channel_listing).collect();
            match next {
                // An empty state: go straight on to the next one.
                Some((s, o)) if listings.is_empty() => {
                    state = s;
                    offset = o;
                }
                next => {
                    return Ok(ListingPage {
                        listings,
                        next_cursor: next.map(|(s, o)| format!("{}:{o}", LISTING_STATES[s])),
                    });
                }
            }
        }
    }

    /// Receipts modified since `since` (`min_last_modified`, so one
    /// canceled after it was paid is read again): the live ones, then the
    /// canceled ones (`was_canceled`, asked both ways, since leaving it out
    /// has meant `false`), flagged.
    async fn recent_orders(
        &self,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<ChannelOrder>, ChannelError> {
        // The reference's minimum for timestamps (2000-01-01).
        let min_modified = since.timestamp().max(946_684_800).to_string();
        let url = self.inner.url(&format!(
            "v3/application/shops/{}/receipts",
            self.inner.shop_id
        ));
        let limit = 100u32;
        let mut orders = Vec::new();
        for was_canceled in [false, true] {
            let mut offset = 0u32;
            loop {
                let query = [
                    ("min_last_modified", min_modified.clone()),
                    ("was_canceled", was_canceled.to_string()),
                    ("sort_on", "updated".to_owned()),
                    ("sort_order", "asc".to_owned()),
                    ("limit", limit.to_string()),
                    ("offset", offset.to_string()),
                ];
                let reply = self
                    .inner
                    .call("getShopReceipts", |c| c.get(url.clone()).query(&query))
                    .await?;
                let page: Page<ShopReceipt> = success(reply)?.json()?;
                let got = page.results.len() as u32;
                orders.extend(page.results.iter().map(|r| {
                    let mut order = wire::to_channel_order(r);
                    order.cancelled |= was_canceled;
                    order
                }));
                offset += got;
                if got < limit || page.count.is_some_and(|c| u64::from(offset) >= c) {
                    break;
                }
            }
        }
        Ok(orders)
    }

    /// Etsy endpoints are added in the developer portal's webhook portal,
    /// per app; the API has no call for it. Nothing to do here.
    async fn subscribe_webhooks(&self, callback: &Url) -> Result<(), ChannelError> {
        tracing::debug!(%callback, "Etsy webhooks are registered in the developer portal");
        Ok(())
    }

    fn verify_webhook(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<WebhookEvent, WebhookError> {
        let secret = self
            .inner
            .webhook_secret
            .as_ref()
            .ok_or(WebhookError::NoSecret)?;
        webhook::verify(secret.expose_secret(), self.inner.shop_id, headers, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_hosts_by_default_and_the_same_paths_under_a_base() {
        let real = endpoints("123", None);
        let o = oauth_endpoints(&real);
        assert_eq!(o.authorize.as_str(), "https://www.etsy.com/oauth/connect");
        assert_eq!(
            o.token.as_str(),
            "https://api.etsy.com/v3/public/oauth/token"
        );
        assert_eq!(
            crate::join(&real.api, "v3/application/shops/123/listings").as_str(),
            "https://api.etsy.com/v3/application/shops/123/listings"
        );
        assert!(o.pkce);
        assert_eq!(o.client_auth, ClientAuth::PublicPkce);
        assert_eq!(
            o.scopes.join(o.scope_separator),
            "listings_r listings_w transactions_r"
        );
        let base: Url = "http://127.0.0.1:9/etsy".parse().unwrap();
        let sim = oauth_endpoints(&endpoints("123", Some(&base)));
        assert_eq!(
            sim.authorize.as_str(),
            "http://127.0.0.1:9/etsy/oauth/connect"
        );
        assert_eq!(
            sim.token.as_str(),
            "http://127.0.0.1:9/etsy/v3/public/oauth/token"
        );
    }

    #[test]
    fn the_gate_keeps_one_request_in_hand() {
        let published = published_quota();
        assert_eq!(published.per_minute("x"), Some(10_000.0 / 1440.0));
        let paced = gate_model(&published);
        assert_eq!(
            paced.limits[0].limit,
            Limit::TokenBucket {
                rate_per_sec: 10.0,
                burst: 9.0
            }
        );
        assert_eq!(paced.limits[1], published.limits[1]);
    }

    #[test]
    fn cursors_walk_the_listing_states() {
        assert_eq!(parse_cursor(None).unwrap(), (0, 0));
        assert_eq!(parse_cursor(Some("draft:200")).unwrap(), (2, 200));
        assert!(parse_cursor(Some("nonsense")).is_err());
        assert!(parse_cursor(Some("active:x")).is_err());
    }
}
