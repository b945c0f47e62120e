//! `/v1/sync`: run a sync now, or plan one (`?dry_run=true`), for one
//! connection or all of them, optionally only for some products; and
//! `/v1/sync-logs`, what runs and dry runs did.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use shelfsync_core::{ConnectionId, ProductId};
use shelfsync_runtime::dry_run::{DryRunError, DryRunReport, dry_run};
use shelfsync_store::{SYNC_QUEUE, StoreError, SyncLogQuery, SyncLogRecord};
use uuid::Uuid;

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiJson, ApiQuery, parse_json};
use crate::routes::connections::{hub, hub_error};

/// Products one request may name.
const MAX_PRODUCTS: usize = 1000;
/// Attempts a sync job gets before it is dead-lettered.
pub(crate) const SYNC_MAX_ATTEMPTS: i32 = 10;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/sync", post(run))
        .route("/v1/sync-logs", get(logs))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SyncParams {
    /// Plan only: report what would be sent, write nothing to any channel.
    #[serde(default)]
    pub dry_run: bool,
    /// For a dry run, read each channel back to show per-field differences
    /// (default true; false makes the plan cost no channel calls).
    pub compare: Option<bool>,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncRequest {
    /// One connection; every active connection when absent.
    pub connection_id: Option<ConnectionId>,
    /// Only these products' listings; all listings when absent.
    pub product_ids: Option<Vec<ProductId>>,
}

/// A sync started on one connection.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SyncStarted {
    pub connection_id: ConnectionId,
    /// Listings marked for the run; content the channel already holds is
    /// then skipped by its hash, so this is an upper bound of what is sent.
    pub listings: u64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum SyncAnswer {
    Started { started: Vec<SyncStarted> },
    Planned { dry_run: Vec<DryRunReport> },
}

#[utoipa::path(post, path = "/v1/sync", tag = "sync", params(SyncParams), request_body = SyncRequest,
    responses(
        (status = 202, body = SyncAnswer, description = "Sync started (listings marked, workers woken)"),
        (status = 200, body = SyncAnswer, description = "Dry run: per connection the plan, nothing sent"),
        (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn run(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(params): ApiQuery<SyncParams>,
    body: Bytes,
) -> ApiResult<(StatusCode, ApiJson<SyncAnswer>)> {
    // No body at all means everything: every listing of every connection.
    let request: SyncRequest = if body.iter().all(u8::is_ascii_whitespace) {
        SyncRequest::default()
    } else {
        parse_json(&body)?
    };
    let products = request.product_ids.as_deref();
    if let Some(ids) = products {
        if ids.is_empty() {
            return Err(ApiError::Unprocessable(
                "product_ids is empty; leave it out to sync every listing".into(),
            ));
        }
        if ids.len() > MAX_PRODUCTS {
            return Err(ApiError::Unprocessable(format!(
                "at most {MAX_PRODUCTS} product_ids per request"
            )));
        }
    }
    let connections = match request.connection_id {
        Some(id) => {
            let record = state
                .store
                .get_connection(principal.tenant, id)
                .await?
                .ok_or_else(|| ApiError::NotFound(format!("no connection {id}")))?;
            if record.status != "active" {
                return Err(ApiError::Conflict(format!(
                    "connection {id} is {}; reconnect it first",
                    record.status
                )));
            }
            vec![id]
        }
        None => state
            .store
            .list_connections(principal.tenant)
            .await?
            .into_iter()
            .filter(|c| c.status == "active")
            .map(|c| c.id)
            .collect(),
    };

    if params.dry_run {
        let hub = hub(&state)?;
        let mut reports = Vec::with_capacity(connections.len());
        for connection in connections {
            let report = dry_run(
                hub,
                principal.tenant,
                connection,
                products,
                params.compare.unwrap_or(true),
            )
            .await
            .map_err(dry_run_error)?;
            reports.push(report);
        }
        return Ok((
            StatusCode::OK,
            ApiJson(SyncAnswer::Planned { dry_run: reports }),
        ));
    }

    let mut started = Vec::with_capacity(connections.len());
    for connection in connections {
        let listings = state
            .store
            .request_sync(principal.tenant, connection, products, SYNC_MAX_ATTEMPTS)
            .await
            .map_err(not_found)?;
        started.push(SyncStarted {
            connection_id: connection,
            listings,
        });
    }
    state.wakeups.wake(SYNC_QUEUE).await;
    Ok((
        StatusCode::ACCEPTED,
        ApiJson(SyncAnswer::Started { started }),
    ))
}

fn not_found(error: StoreError) -> ApiError {
    match error {
        StoreError::NotFound => ApiError::NotFound("no such connection".into()),
        other => other.into(),
    }
}

fn dry_run_error(error: DryRunError) -> ApiError {
    match error {
        DryRunError::Hub(e) => hub_error(e),
        DryRunError::Store(e) => e.into(),
        // The message names the failure, never a credential.
        DryRunError::Channel(e) => {
            ApiError::Unavailable(format!("the channel could not be read: {e}"))
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LogParams {
    pub connection_id: Option<ConnectionId>,
    /// Only dry runs (true) or only real runs (false).
    pub dry_run: Option<bool>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<Uuid>,
    /// 1 to 250, default 50.
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SyncLogPage {
    pub items: Vec<SyncLogRecord>,
    pub next_cursor: Option<Uuid>,
}

#[utoipa::path(get, path = "/v1/sync-logs", tag = "sync", params(LogParams),
    responses((status = 200, body = SyncLogPage, description = "Newest first")),
    security(("bearer" = [])))]
pub async fn logs(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(params): ApiQuery<LogParams>,
) -> ApiResult<ApiJson<SyncLogPage>> {
    let limit = params.limit.unwrap_or(50);
    if !(1..=250).contains(&limit) {
        return Err(ApiError::BadRequest(
            "limit must be between 1 and 250".into(),
        ));
    }
    let items = state
        .store
        .list_sync_logs(
            principal.tenant,
            &SyncLogQuery {
                connection: params.connection_id,
                dry_run: params.dry_run,
                before: params.cursor,
                limit,
            },
        )
        .await?;
    let next_cursor = (items.len() as i64 == limit)
        .then(|| items.last().map(|l| l.id))
        .flatten();
    Ok(ApiJson(SyncLogPage { items, next_cursor }))
}
