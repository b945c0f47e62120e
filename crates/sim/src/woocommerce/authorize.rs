//! The store's app-authorization page, where an app asks a merchant for
//! API keys instead of having them copied by hand.

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::NAME;
use super::routes::{Ctx, Params, encode};

/// `/wc-auth/v1/authorize` (`_authentication.md`): approves at once, posts
/// the store's keys as JSON to `callback_url`, then redirects to
/// `return_url` with `success=1&user_id=…`. The store is `sim_account` when
/// given, else the one in the path if it exists, else the first account.
pub(super) async fn authorize(
    State(ctx): State<Ctx>,
    Path(store): Path<String>,
    Query(params): Query<Params>,
) -> Response {
    let bad = |message: String| (StatusCode::BAD_REQUEST, message).into_response();
    for key in ["app_name", "scope", "user_id", "return_url", "callback_url"] {
        if params.get(key).is_none_or(|v| v.is_empty()) {
            return bad(format!("Missing parameter {key}"));
        }
    }
    let scope = params["scope"].clone();
    if !["read", "write", "read_write"].contains(&scope.as_str()) {
        return bad("Invalid scope".into());
    }
    let account = params
        .get("sim_account")
        .cloned()
        .or_else(|| {
            ctx.core
                .accounts
                .exists(NAME, &store)
                .then(|| store.clone())
        })
        .or_else(|| ctx.core.accounts.first_account(NAME));
    let Some(account) = account else {
        return (StatusCode::NOT_FOUND, "no store to authorize").into_response();
    };
    let keys = ctx.core.accounts.create(NAME, &account, None);
    let payload = json!({
        "key_id": 1,
        "user_id": params["user_id"],
        "consumer_key": keys.consumer_key,
        "consumer_secret": keys.consumer_secret,
        "key_permissions": scope,
    });
    let posted = ctx
        .core
        .client
        .post(&params["callback_url"])
        .json(&payload)
        .send()
        .await;
    if !posted.is_ok_and(|r| r.status().is_success()) {
        return bad("An error occurred in the request and at the time were unable to send the consumer data".into());
    }
    let separator = if params["return_url"].contains('?') {
        '&'
    } else {
        '?'
    };
    let location = format!(
        "{}{separator}success=1&user_id={}",
        params["return_url"],
        encode(&params["user_id"])
    );
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}
