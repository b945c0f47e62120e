//! Etsy's OAuth 2 endpoints: `GET /oauth/connect` (consent, auto-approved)
//! and `POST /v3/public/oauth/token`, PKCE required.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{Ctx, NAME, pairs, param};

fn oauth_error(code: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"error": code, "error_description": description})),
    )
        .into_response()
}

/// The consent screen, approved at once: redirect back with a code for
/// `sim_account` (or the first shop).
pub(super) async fn authorize(State(ctx): State<Ctx>, RawQuery(query): RawQuery) -> Response {
    let q = pairs(query.as_deref());
    if param(&q, "response_type") != Some("code") {
        return oauth_error("unsupported_response_type", "response_type must be code");
    }
    if param(&q, "client_id").is_none_or(str::is_empty) {
        return oauth_error("invalid_request", "client_id is required");
    }
    let Some(redirect_uri) = param(&q, "redirect_uri") else {
        return oauth_error("invalid_request", "redirect_uri is required");
    };
    let Ok(mut target) = reqwest::Url::parse(redirect_uri) else {
        return oauth_error("invalid_request", "redirect_uri is not a URL");
    };
    if param(&q, "scope").is_none_or(str::is_empty) {
        return oauth_error("invalid_scope", "scope is required");
    }
    let (Some(challenge), Some("S256")) = (
        param(&q, "code_challenge"),
        param(&q, "code_challenge_method"),
    ) else {
        return oauth_error(
            "invalid_request",
            "code_challenge with code_challenge_method S256 is required",
        );
    };
    let account = param(&q, "sim_account")
        .map(str::to_owned)
        .or_else(|| ctx.core.accounts.first_account(NAME));
    let Some(account) = account else {
        return oauth_error("access_denied", "no shop to connect");
    };
    let code = ctx
        .core
        .accounts
        .issue_code(NAME, &account, redirect_uri, Some(challenge));
    ctx.core
        .stats
        .call(NAME, &account, "oauthConnect", 302, 0.0);
    {
        let mut pairs = target.query_pairs_mut();
        pairs.append_pair("code", &code);
        if let Some(state) = param(&q, "state") {
            pairs.append_pair("state", state);
        }
    }
    (StatusCode::FOUND, [(header::LOCATION, target.to_string())]).into_response()
}

/// The token endpoint: `authorization_code` (with `code_verifier`) or
/// `refresh_token`, both naming the app by `client_id`.
pub(super) async fn token(State(ctx): State<Ctx>, body: Bytes) -> Response {
    let form = pairs(std::str::from_utf8(&body).ok());
    if param(&form, "client_id").is_none_or(str::is_empty) {
        return oauth_error("invalid_request", "client_id is required");
    }
    let issued = match param(&form, "grant_type") {
        Some("authorization_code") => {
            let (Some(code), Some(redirect_uri), Some(verifier)) = (
                param(&form, "code"),
                param(&form, "redirect_uri"),
                param(&form, "code_verifier"),
            ) else {
                return oauth_error(
                    "invalid_request",
                    "code, redirect_uri and code_verifier are required",
                );
            };
            ctx.core
                .accounts
                .exchange_code(NAME, code, Some(redirect_uri), Some(verifier), None)
        }
        Some("refresh_token") => {
            let Some(refresh) = param(&form, "refresh_token") else {
                return oauth_error("invalid_request", "refresh_token is required");
            };
            ctx.core.accounts.refresh(NAME, refresh)
        }
        _ => return oauth_error("unsupported_grant_type", "grant_type is not supported"),
    };
    match issued {
        Ok(tokens) => {
            ctx.core
                .stats
                .call(NAME, &tokens.account, "oauthToken", 200, 0.0);
            axum::Json(json!({
                "access_token": tokens.access_token,
                "token_type": "Bearer",
                "expires_in": tokens.expires_in,
                "refresh_token": tokens.refresh_token,
            }))
            .into_response()
        }
        Err(refusal) => oauth_error(refusal.code(), refusal.description()),
    }
}
