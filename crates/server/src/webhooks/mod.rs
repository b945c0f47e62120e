//! Webhooks in: verify, refuse replays, store, acknowledge.
//!
//! The receiver does the least that makes an acknowledgement safe: it
//! checks the signature against the connection's secret (the platform's own
//! scheme, or Standard Webhooks for generic sources), refuses stale,
//! future and replayed deliveries, and stores what is left with the job
//! that will apply it. The effect (stock, conflicts) runs in the webhook
//! worker (`shelfsync_runtime::webhooks`), never on the request.

pub mod intake;
pub mod replay;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use secrecy::ExposeSecret;
use shelfsync_channels::standard_webhooks::{self, HeaderNames, SigningSecret};
use shelfsync_channels::{Channel, WebhookError, WebhookEvent, WebhookKind};
use shelfsync_core::{ConnectionId, Platform, TenantId};
use shelfsync_runtime::connections::{ChannelHub, HubError};
use shelfsync_store::Store;

use crate::error::ApiError;

pub use intake::Intake;
pub use replay::Nonces;

/// Webhook bodies above this are refused with 413 before anything is read
/// into memory: real order and product payloads are a few kilobytes.
pub const DEFAULT_MAX_WEBHOOK_BYTES: usize = 1024 * 1024;
/// How long a connection's verifier is reused before its row is read again:
/// deliveries arrive in bursts, and a changed secret takes effect this late.
const VERIFIER_TTL: Duration = Duration::from_secs(10);
/// The path segment for generic sources signed per Standard Webhooks.
pub const STANDARD_SOURCE: &str = "standard";

/// Checks a connection's deliveries.
#[derive(Clone)]
enum Verifier {
    /// The platform's own scheme, through its adapter.
    Platform(Arc<dyn Channel>),
    /// Standard Webhooks with the connection's `whsec_` secret(s).
    Standard(Vec<SigningSecret>),
}

#[derive(Clone)]
struct Endpoint {
    tenant: TenantId,
    platform: Platform,
    verifier: Verifier,
    fetched: Instant,
}

/// Verifiers per connection, briefly cached.
#[derive(Default)]
pub struct Verifiers {
    cache: Mutex<HashMap<(ConnectionId, bool), Endpoint>>,
}

/// A delivery that passed its signature check.
pub struct VerifiedDelivery {
    pub tenant: TenantId,
    pub platform: Platform,
    pub event: WebhookEvent,
}

impl Verifiers {
    /// Verifies a delivery to `/webhooks/{source}/{connection}`: `source` is
    /// the connection's platform, or `standard` for a Standard Webhooks
    /// sender acting for that connection.
    pub async fn verify(
        &self,
        store: &Store,
        hub: &ChannelHub,
        source: &str,
        connection: ConnectionId,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<VerifiedDelivery, ApiError> {
        let standard = source == STANDARD_SOURCE;
        let endpoint = self.endpoint(store, hub, connection, standard).await?;
        if !standard && endpoint.platform.as_str() != source {
            return Err(no_endpoint());
        }
        let event = match &endpoint.verifier {
            Verifier::Platform(channel) => channel.verify_webhook(headers, body),
            Verifier::Standard(secrets) => standard_event(secrets, headers, body),
        }
        .map_err(refused)?;
        Ok(VerifiedDelivery {
            tenant: endpoint.tenant,
            platform: endpoint.platform,
            event,
        })
    }

    async fn endpoint(
        &self,
        store: &Store,
        hub: &ChannelHub,
        connection: ConnectionId,
        standard: bool,
    ) -> Result<Endpoint, ApiError> {
        let key = (connection, standard);
        if let Some(found) = self.cache.lock().expect("verifier cache").get(&key)
            && found.fetched.elapsed() < VERIFIER_TTL
        {
            return Ok(found.clone());
        }
        let record = store
            .connection_for_webhook(connection)
            .await?
            .ok_or_else(no_endpoint)?;
        let platform: Platform = record.platform.parse().map_err(|_| no_endpoint())?;
        let verifier = if standard {
            let secrets = hub.open(&record).map_err(hub_error)?;
            let secret = secrets.webhook_secret.ok_or_else(|| {
                ApiError::Unauthorized("this connection has no webhook secret".into())
            })?;
            let parsed = secret
                .expose_secret()
                .split([',', ' '])
                .filter(|s| !s.is_empty())
                .map(SigningSecret::parse)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| {
                    ApiError::Unauthorized(
                        "this connection's webhook secret is not a whsec_ secret".into(),
                    )
                })?;
            Verifier::Standard(parsed)
        } else {
            Verifier::Platform(
                hub.channel(record.tenant, connection)
                    .await
                    .map_err(hub_error)?,
            )
        };
        let endpoint = Endpoint {
            tenant: record.tenant,
            platform,
            verifier,
            fetched: Instant::now(),
        };
        self.cache
            .lock()
            .expect("verifier cache")
            .insert(key, endpoint.clone());
        Ok(endpoint)
    }
}

/// A Standard Webhooks delivery's event: the body is a [`WebhookKind`] as
/// JSON (`{"type": "order_created", "order": {…}}`), its id and timestamp
/// come from the signed headers.
fn standard_event(
    secrets: &[SigningSecret],
    headers: &HeaderMap,
    body: &[u8],
) -> Result<WebhookEvent, WebhookError> {
    let verified = standard_webhooks::verify(secrets, HeaderNames::STANDARD, headers, body)?;
    let not_ours =
        |e: serde_json::Error| WebhookError::Malformed(format!("not a Shelfsync event: {e}"));
    let value: serde_json::Value = serde_json::from_slice(body).map_err(not_ours)?;
    let topic = value
        .get("type")
        .and_then(|t| t.as_str())
        .unwrap_or("unknown")
        .to_owned();
    let kind: WebhookKind = serde_json::from_value(value).map_err(not_ours)?;
    Ok(WebhookEvent {
        event_id: verified.id,
        topic,
        occurred_at: Some(verified.timestamp),
        kind,
    })
}

fn no_endpoint() -> ApiError {
    ApiError::NotFound("no webhook endpoint for this platform and connection".into())
}

/// A refused delivery: 401, saying why without echoing any secret.
pub fn refused(error: WebhookError) -> ApiError {
    ApiError::Unauthorized(format!("webhook refused: {error}"))
}

fn hub_error(error: HubError) -> ApiError {
    match error {
        HubError::NotFound => no_endpoint(),
        HubError::Disconnected => ApiError::NotFound("this connection is disconnected".into()),
        other => ApiError::internal(anyhow::anyhow!("opening the connection: {other}")),
    }
}

/// The request's headers as stored with the delivery: everything that helps
/// someone reading the log, nothing that would let them forge or replay it.
pub fn loggable_headers(headers: &HeaderMap) -> serde_json::Value {
    let mut kept = serde_json::Map::new();
    for (name, value) in headers {
        let name = name.as_str();
        let secret = [
            "signature",
            "hmac",
            "authorization",
            "cookie",
            "token",
            "secret",
            "api-key",
        ]
        .iter()
        .any(|s| name.contains(s));
        if secret {
            continue;
        }
        if let Ok(value) = value.to_str() {
            kept.insert(name.to_owned(), serde_json::Value::String(value.to_owned()));
        }
    }
    serde_json::Value::Object(kept)
}
