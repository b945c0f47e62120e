//! `/v1/variants/{id}`: one sellable variation, its price and its stock.

use axum::Router;
use axum::extract::State;
use axum::routing::{get, put};
use serde::Deserialize;
use shelfsync_core::VariantId;
use shelfsync_core::catalog::{InventoryChange, Variant, VariantPatch};
use shelfsync_store::{InventoryMovement, StoreError};

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiJson, ApiQuery, IdPath};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/variants/{id}", get(fetch).patch(update))
        .route(
            "/v1/variants/{id}/inventory",
            put(change_inventory).get(history),
        )
}

fn not_found(id: VariantId) -> impl FnOnce(StoreError) -> ApiError {
    move |e| match e {
        StoreError::NotFound => ApiError::NotFound(format!("no variant {id}")),
        other => other.into(),
    }
}

#[utoipa::path(patch, path = "/v1/variants/{id}", tag = "variants", params(("id" = VariantId, Path)), request_body = VariantPatch,
    responses((status = 200, body = Variant), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    IdPath(id): IdPath<VariantId>,
    ApiJson(patch): ApiJson<VariantPatch>,
) -> ApiResult<ApiJson<Variant>> {
    patch.validate().map_err(ApiError::Validation)?;
    state
        .store
        .patch_variant(&principal.write_context(), id, &patch)
        .await
        .map(ApiJson)
        .map_err(not_found(id))
}

#[utoipa::path(put, path = "/v1/variants/{id}/inventory", tag = "variants", params(("id" = VariantId, Path)), request_body = InventoryChange,
    responses((status = 200, body = Variant, description = "The variant with its stock after the change"),
        (status = 404, body = Problem), (status = 422, body = Problem, description = "Negative stock, unknown location, or both/neither of `set` and `adjust`")),
    security(("bearer" = [])))]
pub async fn change_inventory(
    State(state): State<AppState>,
    principal: Principal,
    IdPath(id): IdPath<VariantId>,
    ApiJson(change): ApiJson<InventoryChange>,
) -> ApiResult<ApiJson<Variant>> {
    change.operation().map_err(ApiError::Validation)?;
    state
        .store
        .change_inventory(&principal.write_context(), id, &change)
        .await
        .map(ApiJson)
        .map_err(not_found(id))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// Most recent first; 1 to 500 (default 100).
    pub limit: Option<u32>,
}

#[utoipa::path(get, path = "/v1/variants/{id}/inventory", tag = "variants", params(("id" = VariantId, Path), HistoryParams),
    responses((status = 200, body = Vec<InventoryMovement>), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn history(
    State(state): State<AppState>,
    principal: Principal,
    IdPath(id): IdPath<VariantId>,
    ApiQuery(params): ApiQuery<HistoryParams>,
) -> ApiResult<ApiJson<Vec<InventoryMovement>>> {
    let movements = state
        .store
        .inventory_history(principal.tenant, id, params.limit.unwrap_or(100))
        .await?;
    if movements.is_empty() && !variant_exists(&state, &principal, id).await? {
        return Err(ApiError::NotFound(format!("no variant {id}")));
    }
    Ok(ApiJson(movements))
}

async fn variant_exists(state: &AppState, principal: &Principal, id: VariantId) -> ApiResult<bool> {
    Ok(state
        .store
        .get_variant(principal.tenant, id)
        .await?
        .is_some())
}

#[utoipa::path(get, path = "/v1/variants/{id}", tag = "variants", params(("id" = VariantId, Path)),
    responses((status = 200, body = Variant), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn fetch(
    State(state): State<AppState>,
    principal: Principal,
    IdPath(id): IdPath<VariantId>,
) -> ApiResult<ApiJson<Variant>> {
    state
        .store
        .get_variant(principal.tenant, id)
        .await?
        .map(ApiJson)
        .ok_or_else(|| ApiError::NotFound(format!("no variant {id}")))
}
