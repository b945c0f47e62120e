//! `/v1/conflicts`: values a channel held that we did not push, found by
//! reconciliation, and the policies that decide who wins.
//!
//! Conflicts settled by a policy (master wins, channel wins) are listed as
//! a record; those under the `manual` policy stay open, and the product's
//! listings on that connection push nothing until each is resolved here.

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use shelfsync_core::{ConnectionId, ValidationErrors};
use shelfsync_store::{
    ConflictField, ConflictPage, ConflictPolicy, ConflictQuery, ConflictRecord, ConflictSettlement,
    PolicyRecord, StoreError,
};
use uuid::Uuid;

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiJson, ApiQuery, IdPath, connection_filter};

/// Attempts given to the sync job a resolution enqueues (the runtime's default).
pub(crate) const SYNC_MAX_ATTEMPTS: i32 = 10;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/conflicts", get(list))
        .route("/v1/conflicts/policies", get(policies).put(set_policy))
        .route("/v1/conflicts/{id}", get(fetch))
        .route("/v1/conflicts/{id}/resolve", post(resolve))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// open, resolved or ignored.
    pub status: Option<String>,
    pub connection_id: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 250 (default 50).
    pub limit: Option<u32>,
}

#[utoipa::path(get, path = "/v1/conflicts", tag = "conflicts", params(ListParams),
    responses((status = 200, body = ConflictPage), (status = 400, body = Problem)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(params): ApiQuery<ListParams>,
) -> ApiResult<ApiJson<ConflictPage>> {
    if let Some(status) = &params.status
        && !["open", "resolved", "ignored"].contains(&status.as_str())
    {
        return Err(ApiError::BadRequest(
            "status must be open, resolved or ignored".into(),
        ));
    }
    let connection = connection_filter(params.connection_id.as_deref())?;
    let before = params
        .cursor
        .as_deref()
        .map(|c| {
            c.parse::<Uuid>()
                .map_err(|_| ApiError::BadRequest("cursor is not one this API issued".into()))
        })
        .transpose()?;
    let limit = params.limit.unwrap_or(50);
    if !(1..=250).contains(&limit) {
        return Err(ApiError::BadRequest(
            "limit must be between 1 and 250".into(),
        ));
    }
    let query = ConflictQuery {
        status: params.status,
        connection,
        before,
        limit,
    };
    Ok(ApiJson(
        state.store.list_conflicts(principal.tenant, &query).await?,
    ))
}

#[utoipa::path(get, path = "/v1/conflicts/{id}", tag = "conflicts", params(("id" = Uuid, Path)),
    responses((status = 200, body = ConflictRecord), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn fetch(
    State(state): State<AppState>,
    principal: Principal,
    IdPath(id): IdPath<Uuid>,
) -> ApiResult<ApiJson<ConflictRecord>> {
    state
        .store
        .get_conflict(principal.tenant, id)
        .await?
        .map(ApiJson)
        .ok_or_else(|| ApiError::NotFound(format!("no conflict {id}")))
}

/// How to settle a conflict.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveInput {
    /// `master`: push the master catalog's value to the channel again;
    /// `channel`: take the channel's value into the master catalog (and so
    /// to every channel); `ignore`: leave both as they are.
    pub resolution: Option<String>,
}

#[utoipa::path(post, path = "/v1/conflicts/{id}/resolve", tag = "conflicts", params(("id" = Uuid, Path)),
    request_body = ResolveInput,
    responses((status = 200, body = ConflictRecord), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "Already settled"), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn resolve(
    State(state): State<AppState>,
    principal: Principal,
    IdPath(id): IdPath<Uuid>,
    ApiJson(input): ApiJson<ResolveInput>,
) -> ApiResult<ApiJson<ConflictRecord>> {
    let settlement = match input.resolution.as_deref() {
        Some("master") => ConflictSettlement::Master,
        Some("channel") => ConflictSettlement::Channel,
        Some("ignore") => ConflictSettlement::Ignore,
        other => {
            let mut errors = ValidationErrors::default();
            errors.push(
                "resolution",
                match other {
                    None => "is required".to_owned(),
                    Some(s) => format!("`{s}` is not one of master, channel, ignore"),
                },
            );
            return Err(ApiError::Validation(errors));
        }
    };
    let tenant = principal.tenant;
    let conflict = state
        .store
        .get_conflict(tenant, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no conflict {id}")))?;
    if conflict.status != "open" {
        return Err(ApiError::Conflict(format!(
            "the conflict is already {}",
            conflict.status
        )));
    }
    if settlement == ConflictSettlement::Channel {
        let field = ConflictField::parse(&conflict.field).ok_or_else(|| {
            ApiError::internal(anyhow::anyhow!("conflict field {}", conflict.field))
        })?;
        let product = conflict.product_id.ok_or_else(|| {
            ApiError::Conflict("the product is gone from the catalog; resolve with ignore".into())
        })?;
        match state
            .store
            .absorb_channel_value(
                &principal.write_context(),
                product,
                conflict.variant_id,
                field,
                &conflict.channel_value,
            )
            .await
        {
            Err(StoreError::NotFound) => {
                return Err(ApiError::Conflict(
                    "the product or variant is gone from the catalog; resolve with ignore".into(),
                ));
            }
            other => other?,
        }
    }
    let settled = state
        .store
        .settle_conflict(tenant, id, settlement, SYNC_MAX_ATTEMPTS)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no conflict {id}")))?;
    if settlement != ConflictSettlement::Channel {
        // A push may now be due: the sync queue was enqueued with the settlement.
        let wakeups = state.wakeups.clone();
        tokio::spawn(async move { wakeups.wake(shelfsync_store::SYNC_QUEUE).await });
    }
    Ok(ApiJson(settled))
}

#[utoipa::path(get, path = "/v1/conflicts/policies", tag = "conflicts",
    responses((status = 200, body = Vec<PolicyRecord>, description = "Stored policies; master wins where none applies")),
    security(("bearer" = [])))]
pub async fn policies(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<ApiJson<Vec<PolicyRecord>>> {
    Ok(ApiJson(state.store.list_policies(principal.tenant).await?))
}

/// A policy for one scope: a connection (absent: every connection) and a
/// field (absent: every field). The most specific stored scope applies.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyInput {
    pub connection_id: Option<String>,
    /// title, status, price or quantity.
    pub field: Option<String>,
    /// master_wins, channel_wins, newest_wins or manual.
    pub policy: Option<String>,
}

#[utoipa::path(put, path = "/v1/conflicts/policies", tag = "conflicts", request_body = PolicyInput,
    responses((status = 200, body = PolicyRecord), (status = 404, body = Problem, description = "No such connection"),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn set_policy(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(input): ApiJson<PolicyInput>,
) -> ApiResult<ApiJson<PolicyRecord>> {
    let mut errors = ValidationErrors::default();
    let connection = match input.connection_id.as_deref() {
        None => None,
        Some(c) => match c.parse::<ConnectionId>() {
            Ok(id) => Some(id),
            Err(_) => {
                errors.push("connection_id", format!("`{c}` is not a connection id"));
                None
            }
        },
    };
    let field = match input.field.as_deref() {
        None => None,
        Some(f) => match ConflictField::parse(f) {
            Some(field) => Some(field),
            None => {
                errors.push(
                    "field",
                    format!("`{f}` is not one of title, status, price, quantity"),
                );
                None
            }
        },
    };
    let policy = match input.policy.as_deref() {
        None => {
            errors.push("policy", "is required");
            None
        }
        Some(p) => match ConflictPolicy::parse(p) {
            Some(policy) => Some(policy),
            None => {
                errors.push(
                    "policy",
                    format!("`{p}` is not one of master_wins, channel_wins, newest_wins, manual"),
                );
                None
            }
        },
    };
    let Some(policy) = policy.filter(|_| errors.is_empty()) else {
        return Err(ApiError::Validation(errors));
    };
    match state
        .store
        .set_policy(principal.tenant, connection, field, policy)
        .await
    {
        Err(StoreError::NotFound) => Err(ApiError::NotFound(format!(
            "no connection {}",
            input.connection_id.unwrap_or_default()
        ))),
        other => Ok(ApiJson(other?)),
    }
}
