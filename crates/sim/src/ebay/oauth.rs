//! eBay's OAuth authorization-code grant, simulated: the consent page
//! approves at once and redirects back with a code; the token endpoint
//! takes HTTP Basic client credentials and a form body
//! (<https://developer.ebay.com/api-docs/static/oauth-auth-code-grant-request.html>,
//! <https://developer.ebay.com/api-docs/static/oauth-refresh-token-request.html>).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use super::Ctx;

/// The consent page, approving at once: back to `redirect_uri` with a code.
pub(super) async fn authorize(
    State((_, core)): Ctx,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (Some(redirect), Some(_client)) = (q.get("redirect_uri"), q.get("client_id")) else {
        return (
            StatusCode::BAD_REQUEST,
            "client_id and redirect_uri are required",
        )
            .into_response();
    };
    if q.get("response_type").map(String::as_str) != Some("code") {
        return (StatusCode::BAD_REQUEST, "response_type must be code").into_response();
    }
    let Some(account) = q
        .get("sim_account")
        .cloned()
        .or_else(|| core.accounts.first_account("ebay"))
    else {
        return (StatusCode::BAD_REQUEST, "no eBay account to consent for").into_response();
    };
    let code = core.accounts.issue_code("ebay", &account, redirect, None);
    let Ok(mut url) = reqwest::Url::parse(redirect) else {
        return (StatusCode::BAD_REQUEST, "redirect_uri is not a URL").into_response();
    };
    {
        let mut pairs = url.query_pairs_mut();
        if let Some(state) = q.get("state") {
            pairs.append_pair("state", state);
        }
        pairs.append_pair("code", &code);
        pairs.append_pair("expires_in", "299");
    }
    (StatusCode::FOUND, [(header::LOCATION, url.to_string())]).into_response()
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// The token endpoint: authorization-code and refresh-token grants.
pub(super) async fn token(State((_, core)): Ctx, headers: HeaderMap, body: Bytes) -> Response {
    let secret = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|v| STANDARD.decode(v.trim()).ok())
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|pair| pair.split_once(':').map(|(_, s)| s.to_owned()));
    let Some(secret) = secret else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
    };
    let form: HashMap<String, String> = serde_urlencoded_pairs(&body);
    let refresh_lifetime = 47_304_000u64;
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let code = form.get("code").map(String::as_str).unwrap_or_default();
            match core.accounts.exchange_code(
                "ebay",
                code,
                form.get("redirect_uri").map(String::as_str),
                None,
                Some(&secret),
            ) {
                Ok(t) => axum::Json(json!({
                    "access_token": t.access_token,
                    "expires_in": t.expires_in,
                    "refresh_token": t.refresh_token,
                    "refresh_token_expires_in": refresh_lifetime,
                    "token_type": "User Access Token",
                }))
                .into_response(),
                Err(refusal) => {
                    let status = if refusal.code() == "invalid_client" {
                        StatusCode::UNAUTHORIZED
                    } else {
                        StatusCode::BAD_REQUEST
                    };
                    oauth_error(status, refusal.code(), refusal.description())
                }
            }
        }
        Some("refresh_token") => {
            if secret != crate::SIM_CLIENT_SECRET {
                return oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "client authentication failed",
                );
            }
            let refresh = form
                .get("refresh_token")
                .map(String::as_str)
                .unwrap_or_default();
            match core.accounts.refresh("ebay", refresh) {
                // eBay's refresh answer carries no new refresh token.
                Ok(t) => axum::Json(json!({
                    "access_token": t.access_token,
                    "expires_in": t.expires_in,
                    "token_type": "User Access Token",
                }))
                .into_response(),
                Err(refusal) => oauth_error(
                    StatusCode::BAD_REQUEST,
                    refusal.code(),
                    refusal.description(),
                ),
            }
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type is not supported",
        ),
    }
}

/// `application/x-www-form-urlencoded` pairs (later keys win).
fn serde_urlencoded_pairs(body: &[u8]) -> HashMap<String, String> {
    let text = String::from_utf8_lossy(body);
    let parsed = reqwest::Url::parse(&format!("http://form.invalid/?{text}"));
    parsed
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default()
}
