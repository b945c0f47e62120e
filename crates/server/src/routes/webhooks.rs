//! `POST /webhooks/{platform}/{connection_id}` and `POST /webhooks/clerk`:
//! deliveries in, verified, stored and acknowledged (see [`crate::webhooks`]).
//!
//! Answers: 200 `accepted` (stored; the webhook worker applies it), 200
//! `duplicate` (an event already stored: acknowledged, not applied again),
//! 401 (bad or missing signature, a timestamp outside five minutes, a
//! delivery id seen in the last ten), 404 (no such endpoint), 413 (body over
//! the limit), 503 (could not be stored: the platform should send it again).

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::HeaderMap;
use axum::routing::post;
use serde::Serialize;
use shelfsync_channels::standard_webhooks::{self, HeaderNames};
use shelfsync_core::ConnectionId;
use shelfsync_store::{CLERK_APPLY_JOB, NewJob, NewWebhookLog, WEBHOOK_QUEUE, WebhookAcceptance};
use uuid::Uuid;

use crate::AppState;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::ApiJson;
use crate::webhooks::replay::check_timestamp;
use crate::webhooks::{Nonces, STANDARD_SOURCE, loggable_headers, refused};

/// Attempts given to applying one delivery before it is a dead letter.
const APPLY_MAX_ATTEMPTS: i32 = 10;

pub fn router(max_body: usize) -> Router<AppState> {
    Router::new()
        .route("/webhooks/clerk", post(clerk))
        .route("/webhooks/{platform}/{connection_id}", post(receive))
        .layer(DefaultBodyLimit::max(max_body))
}

/// What the sender is told.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Ack {
    /// `accepted`, or `duplicate` for an event already received.
    pub status: String,
    /// The stored delivery (`/v1/webhook-logs/{id}`), when this one was stored.
    pub id: Option<Uuid>,
}

fn body_bytes(body: Result<Bytes, BytesRejection>, limit: usize) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(Some(limit))
        } else {
            ApiError::BadRequest(e.body_text())
        }
    })
}

#[utoipa::path(post, path = "/webhooks/{platform}/{connection_id}", tag = "webhooks",
    params(("platform" = String, Path, description = "The connection's platform, or `standard` for a Standard Webhooks sender"),
           ("connection_id" = String, Path)),
    request_body(content = String, description = "The platform's payload, exactly as signed"),
    responses((status = 200, body = Ack), (status = 401, body = Problem), (status = 404, body = Problem),
              (status = 413, body = Problem), (status = 503, body = Problem)))]
pub async fn receive(
    State(state): State<AppState>,
    Path((source, connection)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<ApiJson<Ack>> {
    let body = body_bytes(body, state.config.max_webhook_bytes)?;
    let hub = state.channels.as_ref().ok_or_else(|| {
        ApiError::Unavailable("channels are not configured on this server".into())
    })?;
    let connection: ConnectionId = connection.parse().map_err(|_| {
        ApiError::NotFound("no webhook endpoint for this platform and connection".into())
    })?;
    let delivery = state
        .webhooks
        .verify(&state.store, hub, &source, connection, &headers, &body)
        .await?;
    let event = delivery.event;
    if let Some(at) = event.occurred_at {
        check_timestamp(at, chrono::Utc::now())
            .map_err(|why| ApiError::Unauthorized(format!("webhook refused: {why}")))?;
    }
    // Generic senders' ids live apart from the platform's own.
    let event_id = if source == STANDARD_SOURCE {
        format!("standard:{}", event.event_id)
    } else {
        event.event_id.clone()
    };
    let connection_text = connection.to_string();
    let nonce = Nonces::key(&source, Some(&connection_text), &event.event_id);
    let id = Uuid::now_v7();
    let record = NewWebhookLog {
        id,
        tenant: Some(delivery.tenant),
        connection: Some(connection),
        platform: delivery.platform.as_str().to_owned(),
        event_id: Some(event_id),
        topic: Some(event.topic.clone()),
        headers: loggable_headers(&headers),
        body: body.to_vec(),
        platform_timestamp: event.occurred_at,
        event: Some(serde_json::to_value(&event.kind).map_err(ApiError::internal)?),
        source: "webhook".into(),
        nonce: None,
        job: Some(NewJob::webhook_apply(
            Some(delivery.tenant),
            id,
            APPLY_MAX_ATTEMPTS,
        )),
    };
    accept(&state, record, nonce).await
}

#[utoipa::path(post, path = "/webhooks/clerk", tag = "webhooks",
    request_body(content = String, description = "Clerk's event, exactly as Svix signed it"),
    responses((status = 200, body = Ack), (status = 401, body = Problem), (status = 404, body = Problem),
              (status = 413, body = Problem)))]
pub async fn clerk(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<ApiJson<Ack>> {
    let body = body_bytes(body, state.config.max_webhook_bytes)?;
    let secrets = &state.config.clerk_webhook_secrets;
    if secrets.is_empty() {
        return Err(ApiError::NotFound(
            "Clerk webhooks are not configured on this server (CLERK_WEBHOOK_SIGNING_SECRET)"
                .into(),
        ));
    }
    let verified =
        standard_webhooks::verify(secrets, HeaderNames::SVIX, &headers, &body).map_err(refused)?;
    check_timestamp(verified.timestamp, chrono::Utc::now())
        .map_err(|why| ApiError::Unauthorized(format!("webhook refused: {why}")))?;
    let event: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("not a Clerk event: {e}")))?;
    let topic = event
        .get("type")
        .and_then(|t| t.as_str())
        .ok_or_else(|| ApiError::BadRequest("not a Clerk event: no `type`".into()))?
        .to_owned();
    let nonce = Nonces::key("clerk", None, &verified.id);
    let id = Uuid::now_v7();
    let record = NewWebhookLog {
        id,
        tenant: None,
        connection: None,
        platform: "clerk".into(),
        event_id: Some(verified.id),
        topic: Some(topic),
        headers: loggable_headers(&headers),
        body: body.to_vec(),
        platform_timestamp: Some(verified.timestamp),
        event: Some(event),
        source: "webhook".into(),
        nonce: None,
        job: Some(NewJob {
            payload: serde_json::json!({ "log_id": id }),
            priority: 50,
            ..NewJob::new(WEBHOOK_QUEUE, CLERK_APPLY_JOB, APPLY_MAX_ATTEMPTS)
        }),
    };
    accept(&state, record, nonce).await
}

/// Stores the delivery with its nonce claim; answers the sender.
async fn accept(
    state: &AppState,
    mut record: NewWebhookLog,
    nonce: String,
) -> ApiResult<ApiJson<Ack>> {
    record.nonce = Some(nonce);
    let id = record.id;
    match state.intake.store(record).await {
        Ok(WebhookAcceptance::Stored) => Ok(ApiJson(Ack {
            status: "accepted".into(),
            id: Some(id),
        })),
        Ok(WebhookAcceptance::Duplicate) => Ok(ApiJson(Ack {
            status: "duplicate".into(),
            id: None,
        })),
        Ok(WebhookAcceptance::Replayed) => Err(ApiError::Unauthorized(
            "webhook refused: this delivery id was already received in the last 10 minutes".into(),
        )),
        Err(_) => Err(ApiError::Unavailable(
            "the delivery could not be stored; send it again".into(),
        )),
    }
}
