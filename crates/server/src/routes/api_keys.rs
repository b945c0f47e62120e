//! `/v1/api-keys`: keys for machines. The secret is in the create response only.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get};
use serde::{Deserialize, Serialize};
use shelfsync_core::ApiKeyId;
use shelfsync_store::{ApiKeyRecord, StoreError};

use crate::AppState;
use crate::auth::{Principal, api_key};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiJson, IdPath};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/api-keys", get(list).post(create))
        .route("/v1/api-keys/{id}", delete(revoke))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    /// What the key is for, e.g. "warehouse scanner".
    pub name: String,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub record: ApiKeyRecord,
    /// The key itself. Shown this once; only its hash is kept.
    pub secret: String,
}

#[utoipa::path(get, path = "/v1/api-keys", tag = "api-keys",
    responses((status = 200, body = Vec<ApiKeyRecord>)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<ApiJson<Vec<ApiKeyRecord>>> {
    Ok(ApiJson(state.store.list_api_keys(principal.tenant).await?))
}

#[utoipa::path(post, path = "/v1/api-keys", tag = "api-keys", request_body = NewApiKey,
    responses((status = 201, body = CreatedApiKey), (status = 422, body = Problem)), security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(input): ApiJson<NewApiKey>,
) -> ApiResult<(StatusCode, ApiJson<CreatedApiKey>)> {
    let name = input.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(ApiError::Unprocessable(
            "name must be 1 to 100 characters".into(),
        ));
    }
    let key = api_key::generate();
    let record = state
        .store
        .insert_api_key(
            &principal.write_context(),
            name,
            &key.display_prefix,
            &key.hash,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(CreatedApiKey {
            record,
            secret: key.secret,
        }),
    ))
}

#[utoipa::path(delete, path = "/v1/api-keys/{id}", tag = "api-keys", params(("id" = ApiKeyId, Path)),
    responses((status = 200, body = ApiKeyRecord, description = "The key, now revoked"), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
    IdPath(id): IdPath<ApiKeyId>,
) -> ApiResult<ApiJson<ApiKeyRecord>> {
    match state
        .store
        .revoke_api_key(&principal.write_context(), id)
        .await
    {
        Err(StoreError::NotFound) => Err(ApiError::NotFound(format!("no API key {id}"))),
        other => Ok(ApiJson(other?)),
    }
}
