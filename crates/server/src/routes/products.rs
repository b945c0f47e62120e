//! `/v1/products`: the master catalog.

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use shelfsync_core::ProductId;
use shelfsync_core::catalog::{NewProduct, Product, ProductPatch, ProductStatus};
use shelfsync_store::{BulkUpsertOutcome, ProductPage, ProductQuery};

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiJson, ApiQuery, IdPath};

/// Most products one bulk call may carry.
pub const MAX_BULK: usize = 1000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/products", get(list).post(create))
        .route("/v1/products/bulk", post(bulk_upsert))
        .route("/v1/products/{id}", get(fetch).patch(update).delete(remove))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 250 (default 50).
    pub limit: Option<u32>,
    pub tag: Option<String>,
    pub vendor: Option<String>,
    pub status: Option<ProductStatus>,
    /// Case-insensitive substring of the title or any variant SKU.
    pub q: Option<String>,
}

#[utoipa::path(get, path = "/v1/products", tag = "products", params(ListParams),
    responses((status = 200, body = ProductPage), (status = 400, body = Problem)),
    security(("bearer" = [])))]
pub async fn list(
    state: axum::extract::State<AppState>,
    principal: Principal,
    ApiQuery(params): ApiQuery<ListParams>,
) -> ApiResult<ApiJson<ProductPage>> {
    let after = params
        .cursor
        .as_deref()
        .map(|c| {
            c.parse::<ProductId>()
                .map_err(|_| ApiError::BadRequest("cursor is not one this API issued".into()))
        })
        .transpose()?;
    let limit = params.limit.unwrap_or(50);
    if !(1..=250).contains(&limit) {
        return Err(ApiError::BadRequest(
            "limit must be between 1 and 250".into(),
        ));
    }
    let query = ProductQuery {
        after,
        limit,
        tag: params.tag,
        vendor: params.vendor,
        status: params.status,
        search: params.q,
    };
    Ok(ApiJson(
        state.store.list_products(principal.tenant, &query).await?,
    ))
}

#[utoipa::path(post, path = "/v1/products", tag = "products", request_body = NewProduct,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses((status = 201, body = Product), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn create(
    state: axum::extract::State<AppState>,
    principal: Principal,
    ApiJson(input): ApiJson<NewProduct>,
) -> ApiResult<(StatusCode, ApiJson<Product>)> {
    input.validate().map_err(ApiError::Validation)?;
    let product = state
        .store
        .create_product(&principal.write_context(), &input)
        .await?;
    Ok((StatusCode::CREATED, ApiJson(product)))
}

#[utoipa::path(get, path = "/v1/products/{id}", tag = "products", params(("id" = ProductId, Path)),
    responses((status = 200, body = Product), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn fetch(
    state: axum::extract::State<AppState>,
    principal: Principal,
    IdPath(id): IdPath<ProductId>,
) -> ApiResult<ApiJson<Product>> {
    state
        .store
        .get_product(principal.tenant, id)
        .await?
        .map(ApiJson)
        .ok_or_else(|| ApiError::NotFound(format!("no product {id}")))
}

#[utoipa::path(patch, path = "/v1/products/{id}", tag = "products", params(("id" = ProductId, Path)), request_body = ProductPatch,
    responses((status = 200, body = Product), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn update(
    state: axum::extract::State<AppState>,
    principal: Principal,
    IdPath(id): IdPath<ProductId>,
    ApiJson(patch): ApiJson<ProductPatch>,
) -> ApiResult<ApiJson<Product>> {
    patch.validate().map_err(ApiError::Validation)?;
    match state
        .store
        .patch_product(&principal.write_context(), id, &patch)
        .await
    {
        Err(shelfsync_store::StoreError::NotFound) => {
            Err(ApiError::NotFound(format!("no product {id}")))
        }
        other => Ok(ApiJson(other?)),
    }
}

#[utoipa::path(delete, path = "/v1/products/{id}", tag = "products", params(("id" = ProductId, Path)),
    responses((status = 204), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn remove(
    state: axum::extract::State<AppState>,
    principal: Principal,
    IdPath(id): IdPath<ProductId>,
) -> ApiResult<StatusCode> {
    match state
        .store
        .delete_product(&principal.write_context(), id)
        .await
    {
        Err(shelfsync_store::StoreError::NotFound) => {
            Err(ApiError::NotFound(format!("no product {id}")))
        }
        other => other.map(|()| StatusCode::NO_CONTENT).map_err(Into::into),
    }
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkUpsert {
    /// Up to 1,000 products, matched to existing ones by variant SKU, then handle.
    pub products: Vec<NewProduct>,
}

#[utoipa::path(post, path = "/v1/products/bulk", tag = "products", request_body = BulkUpsert,
    responses((status = 200, body = BulkUpsertOutcome, description = "Per-item results; refused items are listed in `errors` and the rest applied"),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn bulk_upsert(
    state: axum::extract::State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<BulkUpsert>,
) -> ApiResult<ApiJson<BulkUpsertOutcome>> {
    if body.products.is_empty() {
        return Err(ApiError::Unprocessable(
            "`products` must not be empty".into(),
        ));
    }
    if body.products.len() > MAX_BULK {
        return Err(ApiError::Unprocessable(format!(
            "at most {MAX_BULK} products per call (got {})",
            body.products.len()
        )));
    }
    Ok(ApiJson(
        state
            .store
            .bulk_upsert(&principal.write_context(), &body.products)
            .await?,
    ))
}
