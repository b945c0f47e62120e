//! Who is calling: an API key or a Clerk session, resolved to a tenant.
//!
//! The middleware here runs before every `/v1` handler and puts a [`Principal`]
//! in the request; handlers take it as an argument, so a handler that forgets
//! authentication does not compile rather than leaking data.

pub mod api_key;
pub mod clerk;

use std::time::Duration;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use shelfsync_core::TenantId;
use shelfsync_store::WriteContext;

use crate::AppState;
use crate::error::{ApiError, current_request_id};

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub tenant: TenantId,
    /// `api_key:key_…` or `user:user_…`: recorded in the audit trail, and the
    /// key the per-user rate limit counts against.
    pub actor: String,
}

impl Principal {
    /// The context every write of this request records.
    pub fn write_context(&self) -> WriteContext {
        WriteContext {
            tenant: self.tenant,
            actor: self.actor.clone(),
            request_id: current_request_id(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| ApiError::Unauthorized("authentication required".into()))
    }
}

/// `last_used_at` is refreshed at most this often, so a busy key does not turn
/// every read into a write.
const TOUCH_INTERVAL: Duration = Duration::from_secs(60);

pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let token = bearer_token(&request)?;
    let principal = if api_key::looks_like_key(token) {
        principal_from_key(&state, token).await?
    } else {
        principal_from_session(&state, token).await?
    };
    request.extensions_mut().insert(principal);
    Ok(next.run(request).await)
}

fn bearer_token(request: &Request) -> Result<&str, ApiError> {
    let header = request.headers().get(AUTHORIZATION).ok_or_else(|| {
        ApiError::Unauthorized("send `Authorization: Bearer <API key or session token>`".into())
    })?;
    let value = header
        .to_str()
        .map_err(|_| ApiError::Unauthorized("Authorization header is not valid text".into()))?;
    let (scheme, token) = value.split_once(' ').ok_or_else(|| {
        ApiError::Unauthorized("Authorization header must be `Bearer <token>`".into())
    })?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::Unauthorized(
            "Authorization header must be `Bearer <token>`".into(),
        ));
    }
    Ok(token.trim())
}

async fn principal_from_key(state: &AppState, token: &str) -> Result<Principal, ApiError> {
    let hash = api_key::hash(token);
    let owner = state
        .store
        .api_key_by_hash(&hash)
        .await?
        .filter(|o| api_key::hashes_match(&o.key_hash, &hash))
        .ok_or_else(|| ApiError::Unauthorized("API key is not valid or has been revoked".into()))?;
    let stale = owner
        .last_used_at
        .is_none_or(|t| (chrono::Utc::now() - t).to_std().unwrap_or_default() > TOUCH_INTERVAL);
    if stale {
        let store = state.store.clone();
        tokio::spawn(async move {
            if let Err(e) = store.touch_api_key(owner.key_id).await {
                tracing::warn!(error = %e, "could not record API key use");
            }
        });
    }
    Ok(Principal {
        tenant: owner.tenant,
        actor: format!("api_key:{}", owner.key_id),
    })
}

async fn principal_from_session(state: &AppState, token: &str) -> Result<Principal, ApiError> {
    let verifier = state.clerk.as_ref().ok_or_else(|| {
        ApiError::Unauthorized(
            "not an API key, and session tokens are not enabled (set CLERK_JWKS_URL)".into(),
        )
    })?;
    let claims = verifier.verify(token).await.map_err(|e| match e {
        clerk::JwtError::KeysUnavailable => ApiError::Unavailable(e.to_string()),
        other => ApiError::Unauthorized(other.to_string()),
    })?;
    let owner = state
        .store
        .user_for_session(&claims.sub, claims.email.as_deref(), claims.organisation())
        .await?;
    Ok(Principal {
        tenant: owner.tenant,
        actor: format!("user:{}", owner.user),
    })
}
