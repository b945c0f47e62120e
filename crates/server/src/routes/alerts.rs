//! `/v1/alerts`: what the system has flagged for the merchant (API quota
//! above 80% so far; sync failures, webhook delays and dead workers later).

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use shelfsync_store::AlertRecord;

use crate::AppState;
use crate::auth::Principal;
use crate::error::ApiResult;
use crate::extract::ApiJson;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/alerts", get(list))
}

#[utoipa::path(get, path = "/v1/alerts", tag = "alerts",
    responses((status = 200, body = Vec<AlertRecord>, description = "Newest first, at most 200")),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<ApiJson<Vec<AlertRecord>>> {
    Ok(ApiJson(
        state.store.list_alerts(principal.tenant, 200).await?,
    ))
}
