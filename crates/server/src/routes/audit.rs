//! `/v1/audit`: who changed what, newest first.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use shelfsync_store::AuditEntry;

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiJson, ApiQuery};

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/audit", get(list))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1 to 500 (default 100).
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditPage {
    pub data: Vec<AuditEntry>,
    pub next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/v1/audit", tag = "audit", params(AuditParams),
    responses((status = 200, body = AuditPage), (status = 400, body = Problem)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(params): ApiQuery<AuditParams>,
) -> ApiResult<ApiJson<AuditPage>> {
    let before = params
        .cursor
        .as_deref()
        .map(|c| {
            c.strip_prefix("aud_")
                .and_then(|hex| uuid::Uuid::try_parse(hex).ok())
                .ok_or_else(|| ApiError::BadRequest("cursor is not one this API issued".into()))
        })
        .transpose()?;
    let limit = params.limit.unwrap_or(100).clamp(1, 500);
    let data = state
        .store
        .list_audit(principal.tenant, before, limit)
        .await?;
    let next_cursor = (data.len() as u32 == limit)
        .then(|| data.last().map(|e| e.id.clone()))
        .flatten();
    Ok(ApiJson(AuditPage { data, next_cursor }))
}
