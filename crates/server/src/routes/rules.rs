//! `/v1/rules`: the tenant's sync rules, and a dry run of them on one product.
//!
//! Bodies are read through `serde_path_to_error`, so a shape error (an unknown
//! field, a misspelt action type) is a 422 whose `errors` name the field path,
//! the same form as the validation errors found after parsing.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use shelfsync_core::catalog::{Product, ProductStatus};
use shelfsync_core::rules::{AppliedRule, Rule, RuleInput, apply_rules};
use shelfsync_core::{
    ConnectionId, Platform, Price, ProductId, RuleId, TenantId, ValidationErrors, VariantId,
};
use shelfsync_store::{RuleRecord, SYNC_QUEUE, StoreError};

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiJson, IdPath};
use crate::routes::sync::SYNC_MAX_ATTEMPTS;

/// Most unsaved rules one preview may try.
pub const MAX_PREVIEW_RULES: usize = 100;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/rules", get(list).post(create))
        .route("/v1/rules/preview", post(preview))
        .route("/v1/rules/{id}", get(fetch).put(replace).delete(remove))
}

/// JSON checked for syntax and content type by axum, then read into `T` with
/// the path of any mismatch kept, so the error names the field.
fn typed<T: DeserializeOwned>(value: serde_json::Value) -> ApiResult<T> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let mut errors = ValidationErrors::default();
        let field = if path == "." {
            "body".to_string()
        } else {
            path
        };
        errors.push(field, e.into_inner().to_string());
        ApiError::Validation(errors)
    })
}

fn not_found(id: RuleId) -> impl FnOnce(StoreError) -> ApiError {
    move |e| match e {
        StoreError::NotFound => ApiError::NotFound(format!("no rule {id}")),
        other => other.into(),
    }
}

#[utoipa::path(get, path = "/v1/rules", tag = "rules",
    responses((status = 200, body = Vec<RuleRecord>, description = "Every rule, in the order rules run")),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<ApiJson<Vec<RuleRecord>>> {
    Ok(ApiJson(state.store.list_rules(principal.tenant).await?))
}

#[utoipa::path(post, path = "/v1/rules", tag = "rules", request_body = RuleInput,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses((status = 201, body = RuleRecord), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> ApiResult<(StatusCode, ApiJson<RuleRecord>)> {
    let input: RuleInput = typed(body)?;
    input.validate().map_err(ApiError::Validation)?;
    let record = state
        .store
        .create_rule(&principal.write_context(), &input)
        .await?;
    resync(&state, principal.tenant, &[&record.rule]).await?;
    Ok((StatusCode::CREATED, ApiJson(record)))
}

#[utoipa::path(get, path = "/v1/rules/{id}", tag = "rules", params(("id" = RuleId, Path)),
    responses((status = 200, body = RuleRecord), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn fetch(
    State(state): State<AppState>,
    principal: Principal,
    IdPath(id): IdPath<RuleId>,
) -> ApiResult<ApiJson<RuleRecord>> {
    let record = state
        .store
        .get_rule(principal.tenant, id)
        .await
        .map_err(not_found(id))?;
    Ok(ApiJson(record))
}

#[utoipa::path(put, path = "/v1/rules/{id}", tag = "rules", params(("id" = RuleId, Path)), request_body = RuleInput,
    responses((status = 200, body = RuleRecord), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn replace(
    State(state): State<AppState>,
    principal: Principal,
    IdPath(id): IdPath<RuleId>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> ApiResult<ApiJson<RuleRecord>> {
    let input: RuleInput = typed(body)?;
    input.validate().map_err(ApiError::Validation)?;
    let before = state
        .store
        .get_rule(principal.tenant, id)
        .await
        .map_err(not_found(id))?;
    let record = state
        .store
        .update_rule(&principal.write_context(), id, &input)
        .await
        .map_err(not_found(id))?;
    resync(&state, principal.tenant, &[&before.rule, &record.rule]).await?;
    Ok(ApiJson(record))
}

#[utoipa::path(delete, path = "/v1/rules/{id}", tag = "rules", params(("id" = RuleId, Path)),
    responses((status = 204), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    principal: Principal,
    IdPath(id): IdPath<RuleId>,
) -> ApiResult<StatusCode> {
    let before = state
        .store
        .get_rule(principal.tenant, id)
        .await
        .map_err(not_found(id))?;
    state
        .store
        .delete_rule(&principal.write_context(), id)
        .await
        .map_err(not_found(id))?;
    resync(&state, principal.tenant, &[&before.rule]).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A rule change changes what the channels in its scope should hold: their
/// listings are marked for a sync (content that comes out the same is then
/// skipped by its hash, so only what the rule really changed is sent).
async fn resync(state: &AppState, tenant: TenantId, rules: &[&Rule]) -> ApiResult<()> {
    let mut woken = false;
    for connection in state.store.list_connections(tenant).await? {
        let Ok(platform) = connection.platform.parse::<Platform>() else {
            continue;
        };
        if connection.status != "active"
            || !rules.iter().any(|r| r.applies_to(connection.id, platform))
        {
            continue;
        }
        let marked = state
            .store
            .request_sync(tenant, connection.id, None, SYNC_MAX_ATTEMPTS)
            .await?;
        woken |= marked > 0;
    }
    if woken {
        state.wakeups.wake(SYNC_QUEUE).await;
    }
    Ok(())
}

/// What to dry-run: a product as one connection would receive it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    pub product_id: ProductId,
    pub connection_id: ConnectionId,
    /// Unsaved rules to try instead of the saved ones, run in the same order
    /// saved rules would be (priority, then their order here).
    #[serde(default)]
    pub rules: Option<Vec<RuleInput>>,
}

/// A variant as the channel would receive it.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PreviewVariant {
    pub id: VariantId,
    pub sku: String,
    pub price: Price,
    pub compare_at_price: Option<Price>,
    pub inventory_quantity: i64,
}

/// The product fields rules can change, after the rules ran.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PreviewProduct {
    pub id: ProductId,
    pub title: String,
    pub description: Option<String>,
    pub vendor: Option<String>,
    pub product_type: Option<String>,
    pub status: ProductStatus,
    pub tags: Vec<String>,
    /// Excluded variants are left out.
    pub variants: Vec<PreviewVariant>,
}

impl From<Product> for PreviewProduct {
    fn from(p: Product) -> Self {
        PreviewProduct {
            id: p.id,
            title: p.title,
            description: p.description,
            vendor: p.vendor,
            product_type: p.product_type,
            status: p.status,
            tags: p.tags,
            variants: p
                .variants
                .into_iter()
                .map(|v| PreviewVariant {
                    id: v.id,
                    sku: v.sku,
                    price: v.price,
                    compare_at_price: v.compare_at_price,
                    inventory_quantity: v.inventory_quantity,
                })
                .collect(),
        }
    }
}

/// What the rules would do to the product on that connection.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PreviewResponse {
    pub product: PreviewProduct,
    /// Every variant is excluded: the product would not be listed.
    pub excluded: bool,
    pub excluded_variants: Vec<VariantId>,
    /// Each rule that changed something, with its changes.
    pub applied: Vec<AppliedRule>,
    /// The changes as sentences: `rule 'eBay +12%' changed price of TEE-M 10.00 -> 11.20`.
    pub messages: Vec<String>,
}

#[utoipa::path(post, path = "/v1/rules/preview", tag = "rules", request_body = PreviewRequest,
    responses((status = 200, body = PreviewResponse), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn preview(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> ApiResult<ApiJson<PreviewResponse>> {
    let request: PreviewRequest = typed(body)?;
    let tenant = principal.tenant;
    let connection = state
        .store
        .get_connection(tenant, request.connection_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no connection {}", request.connection_id)))?;
    let platform: Platform = connection.platform.parse().map_err(ApiError::internal)?;
    let product = state
        .store
        .get_product(tenant, request.product_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no product {}", request.product_id)))?;
    let rules: Vec<Rule> = match request.rules {
        Some(inputs) => {
            if inputs.len() > MAX_PREVIEW_RULES {
                let mut errors = ValidationErrors::default();
                errors.push("rules", format!("at most {MAX_PREVIEW_RULES} rules"));
                return Err(ApiError::Validation(errors));
            }
            let mut errors = ValidationErrors::default();
            for (i, input) in inputs.iter().enumerate() {
                if let Err(e) = input.validate() {
                    errors.extend_nested(&format!("rules[{i}]."), e);
                }
            }
            errors.into_result().map_err(ApiError::Validation)?;
            // Fresh ids are time-ordered, so equal priorities run in list order.
            inputs
                .into_iter()
                .map(|input| input.into_rule(RuleId::new()))
                .collect()
        }
        None => {
            state
                .store
                .rules_for(tenant, connection.id, platform)
                .await?
        }
    };
    let outcome = apply_rules(&rules, &product, connection.id, platform);
    let messages = outcome.messages();
    Ok(ApiJson(PreviewResponse {
        product: outcome.product.into(),
        excluded: outcome.excluded,
        excluded_variants: outcome.excluded_variants,
        applied: outcome.applied,
        messages,
    }))
}
