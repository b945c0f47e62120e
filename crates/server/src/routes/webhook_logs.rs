//! `/v1/webhook-logs`: every delivery received (and every order polled),
//! with what applying it came to. Signature headers were never stored.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use shelfsync_store::{WebhookLogQuery, WebhookLogRecord};
use uuid::Uuid;

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiJson, ApiQuery, IdPath, Paging, connection_filter};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/webhook-logs", get(list))
        .route("/v1/webhook-logs/{id}", get(fetch))
}

const STATUSES: [&str; 5] = ["received", "processed", "ignored", "unmatched", "failed"];

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// received, processed, ignored, unmatched or failed.
    pub status: Option<String>,
    pub connection_id: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 250 (default 50).
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookLogPage {
    pub items: Vec<WebhookLogRecord>,
    pub next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/v1/webhook-logs", tag = "webhooks", params(ListParams),
    responses((status = 200, body = WebhookLogPage), (status = 400, body = Problem)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(params): ApiQuery<ListParams>,
) -> ApiResult<ApiJson<WebhookLogPage>> {
    if let Some(status) = &params.status
        && !STATUSES.contains(&status.as_str())
    {
        return Err(ApiError::BadRequest(format!(
            "status must be one of {}",
            STATUSES.join(", ")
        )));
    }
    let connection = connection_filter(params.connection_id.as_deref())?;
    let paging = Paging::parse(params.limit, params.cursor.as_deref())?;
    let query = WebhookLogQuery {
        after: paging.after,
        limit: paging.limit,
        status: params.status,
        connection,
    };
    let items = state
        .store
        .list_webhook_logs(principal.tenant, &query)
        .await?;
    let next_cursor = paging.next_cursor(items.len(), items.last().map(|l| l.id));
    Ok(ApiJson(WebhookLogPage { items, next_cursor }))
}

/// One delivery with its stored headers and body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookLogDetail {
    #[serde(flatten)]
    pub log: WebhookLogRecord,
    pub headers: serde_json::Value,
    /// The body as received (UTF-8; undecodable bytes replaced).
    pub body: String,
}

#[utoipa::path(get, path = "/v1/webhook-logs/{id}", tag = "webhooks", params(("id" = Uuid, Path)),
    responses((status = 200, body = WebhookLogDetail), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn fetch(
    State(state): State<AppState>,
    principal: Principal,
    IdPath(id): IdPath<Uuid>,
) -> ApiResult<ApiJson<WebhookLogDetail>> {
    let log = state
        .store
        .tenant_webhook_log(principal.tenant, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no webhook log {id}")))?;
    Ok(ApiJson(WebhookLogDetail {
        headers: log.headers.clone(),
        body: String::from_utf8_lossy(&log.body).into_owned(),
        log,
    }))
}
