//! `/v1/listings`: where master products are listed on each connection, and
//! how their sync stands.
//!
//! Listing a product is `POST /v1/listings`, in one of two modes. `publish`
//! creates a pending listing per variant; the sync worker creates the items
//! on the channel. `link` is for a channel that already sells the products:
//! it reads the channel back, matches master variants to the channel's by
//! SKU and records the channel's ids on the listings, so the next sync
//! updates those items instead of creating duplicates.

use std::collections::{HashMap, HashSet};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use shelfsync_channels::{Channel, ChannelError};
use shelfsync_core::catalog::Product;
use shelfsync_core::{ConnectionId, ListingId, ProductId, TenantId};
use shelfsync_runtime::RuntimeConfig;
use shelfsync_runtime::connections::HubError;
use shelfsync_store::{
    LISTING_STATUSES, ListingLink, ListingQuery, ListingView, ListingViewPage, SYNC_QUEUE,
    StoreError,
};

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiJson, ApiQuery, IdPath};

/// Most products one `POST /v1/listings` may name.
pub const MAX_PRODUCTS: usize = 1000;

/// Pages of the channel read back before a link gives up: far beyond any
/// real shop, but a channel whose cursor never ends cannot hold a request forever.
const MAX_CHANNEL_PAGES: usize = 10_000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/listings", get(list).post(create))
        .route("/v1/listings/{id}", get(fetch).patch(update))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    pub connection_id: Option<String>,
    pub product_id: Option<String>,
    /// pending, synced, failed, conflict or excluded.
    pub status: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 250 (default 50).
    pub limit: Option<u32>,
}

/// How `POST /v1/listings` lists the products.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ListingMode {
    /// Create the products on the channel (the sync worker does, shortly).
    Publish,
    /// Attach the products to the items the channel already holds, by SKU.
    Link,
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewListings {
    pub connection_id: ConnectionId,
    /// 1 to 1,000 master products; every variant of each is listed.
    pub product_ids: Vec<ProductId>,
    pub mode: ListingMode,
}

/// What `publish` created (or found already listed).
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub struct Published {
    pub listings: Vec<ListingView>,
}

/// What `link` attached, and what it could not.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub struct Linked {
    /// Listings now carrying the channel's ids, pending an update push.
    pub linked: Vec<ListingView>,
    /// Master SKUs the channel does not hold (or holds under another of
    /// its products than the rest of the master product): not listed.
    pub unmatched_skus: Vec<String>,
    /// Master SKUs the channel holds more than once: not listed, since
    /// either choice could leave a duplicate behind.
    pub ambiguous_skus: Vec<String>,
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListingPatch {
    /// `true` stops syncing the listing; `false` lets it sync again (pending).
    pub excluded: bool,
}

/// The sync jobs the API enqueues get the runtime's default attempts.
fn sync_max_attempts() -> i32 {
    RuntimeConfig::default().max_attempts
}

fn not_found(error: StoreError, what: &str) -> ApiError {
    match error {
        StoreError::NotFound => ApiError::NotFound(what.to_owned()),
        other => other.into(),
    }
}

/// A channel failure as the client may see it: the kind of failure, never
/// the channel's own words (which are logged).
fn channel_error(connection: ConnectionId, error: &ChannelError) -> ApiError {
    tracing::warn!(%connection, %error, "channel call failed");
    ApiError::BadGateway(match error {
        ChannelError::Throttled { .. } | ChannelError::QuotaExhausted { .. } => {
            "the channel is throttling this connection; try again later".into()
        }
        ChannelError::Unauthorized(_) => {
            "the channel refused the connection's credentials; reconnect it".into()
        }
        ChannelError::Transient(_) => "the channel is unavailable; try again later".into(),
        ChannelError::Rejected { status, .. } => {
            format!("the channel refused to list its products (HTTP {status})")
        }
        ChannelError::Protocol(_) => "the channel answered with something unexpected".into(),
        ChannelError::Config(_) => {
            "the connection is not set up to read the channel's products".into()
        }
    })
}

fn hub_error(connection: ConnectionId, error: HubError) -> ApiError {
    match error {
        HubError::NotFound => ApiError::NotFound(format!("no connection {connection}")),
        HubError::Disconnected => ApiError::Conflict(format!(
            "connection {connection} is disconnected; reconnect it first"
        )),
        HubError::Channel(e) => channel_error(connection, &e),
        HubError::Store(e) => e.into(),
        other => ApiError::internal(anyhow::anyhow!(other.to_string())),
    }
}

#[utoipa::path(get, path = "/v1/listings", tag = "listings", params(ListParams),
    responses((status = 200, body = ListingViewPage), (status = 400, body = Problem)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(params): ApiQuery<ListParams>,
) -> ApiResult<ApiJson<ListingViewPage>> {
    fn parse<T: std::str::FromStr>(value: Option<&str>, what: &str) -> ApiResult<Option<T>>
    where
        T::Err: std::fmt::Display,
    {
        value
            .map(|v| {
                v.parse::<T>()
                    .map_err(|e| ApiError::BadRequest(format!("{what}: {e}")))
            })
            .transpose()
    }
    let after = params
        .cursor
        .as_deref()
        .map(|c| {
            c.parse::<ListingId>()
                .map_err(|_| ApiError::BadRequest("cursor is not one this API issued".into()))
        })
        .transpose()?;
    let limit = params.limit.unwrap_or(50);
    if !(1..=250).contains(&limit) {
        return Err(ApiError::BadRequest(
            "limit must be between 1 and 250".into(),
        ));
    }
    if let Some(status) = &params.status
        && !LISTING_STATUSES.contains(&status.as_str())
    {
        return Err(ApiError::BadRequest(format!(
            "status must be one of {}",
            LISTING_STATUSES.join(", ")
        )));
    }
    let query = ListingQuery {
        connection: parse(params.connection_id.as_deref(), "connection_id")?,
        product: parse(params.product_id.as_deref(), "product_id")?,
        status: params.status,
        after,
        limit,
    };
    Ok(ApiJson(
        state.store.query_listings(principal.tenant, &query).await?,
    ))
}

#[utoipa::path(get, path = "/v1/listings/{id}", tag = "listings", params(("id" = ListingId, Path)),
    responses((status = 200, body = ListingView), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn fetch(
    State(state): State<AppState>,
    principal: Principal,
    IdPath(id): IdPath<ListingId>,
) -> ApiResult<ApiJson<ListingView>> {
    state
        .store
        .get_listing(principal.tenant, id)
        .await?
        .map(ApiJson)
        .ok_or_else(|| ApiError::NotFound(format!("no listing {id}")))
}

#[utoipa::path(patch, path = "/v1/listings/{id}", tag = "listings", params(("id" = ListingId, Path)),
    request_body = ListingPatch,
    responses((status = 200, body = ListingView), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    IdPath(id): IdPath<ListingId>,
    ApiJson(patch): ApiJson<ListingPatch>,
) -> ApiResult<ApiJson<ListingView>> {
    let view = state
        .store
        .set_listing_excluded(
            &principal.write_context(),
            id,
            patch.excluded,
            sync_max_attempts(),
        )
        .await
        .map_err(|e| not_found(e, &format!("no listing {id}")))?;
    if view.status == "pending" {
        state.wakeups.wake(SYNC_QUEUE).await;
    }
    Ok(ApiJson(view))
}

#[utoipa::path(post, path = "/v1/listings", tag = "listings", request_body = NewListings,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses(
        (status = 201, body = Published, description = "`publish`: the listings, pending their first push"),
        (status = 200, body = Linked, description = "`link`: the listings attached to the channel's items, and the SKUs that were not"),
        (status = 404, body = Problem, description = "Unknown connection or product"),
        (status = 409, body = Problem, description = "The connection is disconnected"),
        (status = 422, body = Problem),
        (status = 502, body = Problem, description = "The channel could not be read"),
        (status = 503, body = Problem, description = "Channels are not configured on this server")),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(input): ApiJson<NewListings>,
) -> ApiResult<Response> {
    if input.product_ids.is_empty() {
        return Err(ApiError::Unprocessable(
            "`product_ids` must not be empty".into(),
        ));
    }
    if input.product_ids.len() > MAX_PRODUCTS {
        return Err(ApiError::Unprocessable(format!(
            "at most {MAX_PRODUCTS} products per call (got {})",
            input.product_ids.len()
        )));
    }
    let tenant = principal.tenant;
    let connection = input.connection_id;
    let record = state
        .store
        .get_connection(tenant, connection)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no connection {connection}")))?;
    if record.status != "active" {
        return Err(ApiError::Conflict(format!(
            "connection {connection} is {}; reconnect it first",
            record.status
        )));
    }
    let products = load_products(&state, tenant, &input.product_ids).await?;
    let ctx = principal.write_context();
    match input.mode {
        ListingMode::Publish => {
            let links: Vec<ListingLink> = products
                .iter()
                .flat_map(|p| {
                    p.variants.iter().map(|v| ListingLink {
                        product: p.id,
                        variant: Some(v.id),
                        external_product_id: None,
                        external_variant_id: None,
                        inventory_ref: None,
                        status_pending: true,
                    })
                })
                .collect();
            let ids = state
                .store
                .link_listings(&ctx, connection, &links, sync_max_attempts())
                .await
                .map_err(|e| not_found(e, "a product changed while it was being listed"))?;
            state.wakeups.wake(SYNC_QUEUE).await;
            let listings = state.store.get_listings(tenant, &ids).await?;
            Ok((StatusCode::CREATED, ApiJson(Published { listings })).into_response())
        }
        ListingMode::Link => {
            let hub = state.channels.as_ref().ok_or_else(|| {
                ApiError::Unavailable("channels are not configured on this server".into())
            })?;
            let channel = hub
                .channel(tenant, connection)
                .await
                .map_err(|e| hub_error(connection, e))?;
            let index = read_channel(channel.as_ref())
                .await
                .map_err(|e| channel_error(connection, &e))?;
            let plan = match_skus(&products, &index);
            let ids = if plan.links.is_empty() {
                Vec::new()
            } else {
                state
                    .store
                    .link_listings(&ctx, connection, &plan.links, sync_max_attempts())
                    .await
                    .map_err(|e| not_found(e, "a product changed while it was being linked"))?
            };
            if !ids.is_empty() {
                state.wakeups.wake(SYNC_QUEUE).await;
            }
            let linked = state.store.get_listings(tenant, &ids).await?;
            Ok((
                StatusCode::OK,
                ApiJson(Linked {
                    linked,
                    unmatched_skus: plan.unmatched,
                    ambiguous_skus: plan.ambiguous,
                }),
            )
                .into_response())
        }
    }
}

/// The products, in the order asked, duplicates dropped; 404 naming the
/// first id that is not the tenant's.
async fn load_products(
    state: &AppState,
    tenant: TenantId,
    ids: &[ProductId],
) -> ApiResult<Vec<Product>> {
    let mut seen = HashSet::with_capacity(ids.len());
    let unique: Vec<ProductId> = ids.iter().copied().filter(|id| seen.insert(*id)).collect();
    let mut found: HashMap<ProductId, Product> = state
        .store
        .get_products(tenant, &unique)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    unique
        .iter()
        .map(|id| {
            found
                .remove(id)
                .ok_or_else(|| ApiError::NotFound(format!("no product {id}")))
        })
        .collect()
}

/// Where a SKU sits on the channel: (product id, variant id), or `None`
/// when the channel holds it more than once.
type SkuIndex = HashMap<String, Option<(String, String)>>;

/// Every SKU the channel holds, over all pages of its read-back.
async fn read_channel(channel: &dyn Channel) -> Result<SkuIndex, ChannelError> {
    let mut index = SkuIndex::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_CHANNEL_PAGES {
        let page = channel.read_listings(cursor.as_deref()).await?;
        for listing in &page.listings {
            for variant in &listing.variants {
                let Some(sku) = variant.sku.as_deref().map(str::trim) else {
                    continue;
                };
                if sku.is_empty() {
                    continue;
                }
                let place = (listing.external_id.clone(), variant.external_id.clone());
                index
                    .entry(sku.to_owned())
                    .and_modify(|known| {
                        if known.as_ref() != Some(&place) {
                            *known = None;
                        }
                    })
                    .or_insert(Some(place));
            }
        }
        match page.next_cursor {
            Some(next) if cursor.as_deref() != Some(next.as_str()) => cursor = Some(next),
            Some(_) => {
                return Err(ChannelError::Protocol(
                    "the channel repeated a page cursor".into(),
                ));
            }
            None => return Ok(index),
        }
    }
    Err(ChannelError::Protocol(format!(
        "the channel has more than {MAX_CHANNEL_PAGES} pages of products"
    )))
}

struct LinkPlan {
    links: Vec<ListingLink>,
    unmatched: Vec<String>,
    ambiguous: Vec<String>,
}

/// Matches each master variant to the channel's by SKU. A master product
/// maps to one channel product (the one its first matched variant is in):
/// its variants found under another channel product are left unmatched, as
/// one push cannot update two channel products at once.
fn match_skus(products: &[Product], index: &SkuIndex) -> LinkPlan {
    let mut plan = LinkPlan {
        links: Vec::new(),
        unmatched: Vec::new(),
        ambiguous: Vec::new(),
    };
    for product in products {
        let mut channel_product: Option<&str> = None;
        for variant in &product.variants {
            match index.get(variant.sku.trim()) {
                None => plan.unmatched.push(variant.sku.clone()),
                Some(None) => plan.ambiguous.push(variant.sku.clone()),
                Some(Some((external_product, external_variant))) => {
                    let target = *channel_product.get_or_insert(external_product.as_str());
                    if target != external_product {
                        plan.unmatched.push(variant.sku.clone());
                        continue;
                    }
                    plan.links.push(ListingLink {
                        product: product.id,
                        variant: Some(variant.id),
                        external_product_id: Some(external_product.clone()),
                        external_variant_id: Some(external_variant.clone()),
                        inventory_ref: None,
                        status_pending: true,
                    });
                }
            }
        }
    }
    plan
}
