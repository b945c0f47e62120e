//! `/v1/settings`: the tenant's own switches.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiResult, Problem};
use crate::extract::ApiJson;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/settings", get(fetch).patch(update))
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Settings {
    /// Whether a cancelled or refunded channel order puts its stock back
    /// (default true).
    pub restock_on_cancel: bool,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    pub restock_on_cancel: Option<bool>,
}

#[utoipa::path(get, path = "/v1/settings", tag = "settings",
    responses((status = 200, body = Settings)), security(("bearer" = [])))]
pub async fn fetch(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<ApiJson<Settings>> {
    Ok(ApiJson(Settings {
        restock_on_cancel: state.store.restock_on_cancel(principal.tenant).await?,
    }))
}

#[utoipa::path(patch, path = "/v1/settings", tag = "settings", request_body = SettingsPatch,
    responses((status = 200, body = Settings), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(patch): ApiJson<SettingsPatch>,
) -> ApiResult<ApiJson<Settings>> {
    if let Some(restock) = patch.restock_on_cancel {
        state
            .store
            .set_restock_on_cancel(&principal.write_context(), restock)
            .await?;
    }
    fetch(State(state), principal).await
}
