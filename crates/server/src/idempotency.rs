//! `Idempotency-Key` on mutating calls: a retried request gets the first
//! response back instead of being applied twice.
//!
//! The key is claimed before the handler runs (so two concurrent retries cannot
//! both apply), the response is stored after, and a request that failed on our
//! side (5xx) releases its key so the client can try again. The same key with a
//! different method, path or body is a client bug and gets a 422.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use shelfsync_store::IdempotencyStart;

use crate::AppState;
use crate::auth::Principal;
use crate::error::ApiError;

pub const HEADER: &str = "idempotency-key";
const MAX_KEY_LEN: usize = 255;
/// Responses larger than this are not stored (bulk results can be big); the key
/// still guards against a double apply.
const MAX_STORED_RESPONSE: usize = 4 * 1024 * 1024;

fn is_mutating(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

pub async fn guard(
    State(state): State<AppState>,
    principal: Principal,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if !is_mutating(request.method()) {
        return Ok(next.run(request).await);
    }
    let Some(raw_key) = request.headers().get(HEADER) else {
        return Ok(next.run(request).await);
    };
    let key = raw_key
        .to_str()
        .ok()
        .filter(|k| {
            !k.is_empty() && k.len() <= MAX_KEY_LEN && k.bytes().all(|b| b.is_ascii_graphic())
        })
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "Idempotency-Key must be 1 to {MAX_KEY_LEN} printable ASCII characters"
            ))
        })?
        .to_string();

    let (parts, body) = request.into_parts();
    let limit = state.config.max_body_bytes;
    let bytes = to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::PayloadTooLarge(Some(limit)))?;
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str().as_bytes());
    hasher.update([0]);
    hasher.update(parts.uri.path().as_bytes());
    hasher.update([0]);
    hasher.update(&bytes);
    let fingerprint = hasher.finalize().to_vec();

    let tenant = principal.tenant;
    match state
        .store
        .idempotency_start(tenant, &key, &fingerprint, state.config.idempotency_ttl)
        .await?
    {
        IdempotencyStart::Mismatch => {
            return Err(ApiError::Unprocessable(
                "this Idempotency-Key was already used with a different request".into(),
            ));
        }
        IdempotencyStart::InProgress => {
            return Err(ApiError::Conflict(
                "a request with this Idempotency-Key is still being processed; retry shortly"
                    .into(),
            ));
        }
        IdempotencyStart::Replay { status, body } => return Ok(replay(status, body)),
        IdempotencyStart::Started => {}
    }

    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let status = response.status();
    if status.is_server_error() {
        state.store.idempotency_abandon(tenant, &key).await?;
        return Ok(response);
    }
    let (parts, body) = response.into_parts();
    let body = match to_bytes(body, MAX_STORED_RESPONSE).await {
        Ok(b) => b,
        Err(e) => {
            state.store.idempotency_abandon(tenant, &key).await?;
            return Err(ApiError::internal(anyhow::anyhow!(
                "could not buffer response: {e}"
            )));
        }
    };
    state
        .store
        .idempotency_finish(tenant, &key, status.as_u16(), &body)
        .await?;
    Ok(Response::from_parts(parts, Body::from(body)))
}

fn replay(status: u16, body: Vec<u8>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let content_type = if status.is_client_error() {
        "application/problem+json"
    } else {
        "application/json"
    };
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    if status != StatusCode::NO_CONTENT {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}
