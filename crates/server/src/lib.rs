//! The HTTP edge of Shelfsync: the `/v1` REST API, authentication, the per-user
//! rate limit, idempotency keys and the OpenAPI document.
//!
//! [`router`] builds the whole application from an [`AppState`] without binding
//! a socket, so tests can drive it directly or serve it on port 0.

pub mod auth;
pub mod dashboard;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod openapi;
pub mod rate_limit;
pub mod request_id;
pub mod routes;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::IntoResponse;
use redis::aio::ConnectionManager;
use shelfsync_runtime::connections::ChannelHub;
use shelfsync_runtime::{OUTBOX_QUEUE, Wakeups};
use shelfsync_store::Store;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::auth::clerk::{ClerkConfig, ClerkVerifier};
use crate::error::ApiError;
use crate::rate_limit::RateLimiter;
use crate::request_id::RequestId;

/// Bodies above this are refused with 413 unless configured otherwise. A bulk
/// upsert of 1,000 products with a few variants each fits comfortably.
pub const DEFAULT_MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Settings of the HTTP edge.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub rate_limit_per_minute: u32,
    pub max_body_bytes: usize,
    pub idempotency_ttl: chrono::Duration,
    pub clerk: Option<ClerkConfig>,
    /// Namespace for this deployment's Redis keys.
    pub redis_prefix: String,
    /// Where this server is reached from outside, for OAuth redirect URIs;
    /// `None` uses the request's `Host` over plain HTTP (local use).
    pub public_url: Option<String>,
    /// Webhook bodies above this are refused with 413.
    pub max_webhook_bytes: usize,
    /// Svix signing secrets of the Clerk webhook endpoint (several while
    /// one is rotated out); none turns `/webhooks/clerk` off.
    pub clerk_webhook_secrets: Vec<shelfsync_channels::standard_webhooks::SigningSecret>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            rate_limit_per_minute: 100,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            idempotency_ttl: chrono::Duration::hours(24),
            clerk: None,
            redis_prefix: "shelfsync:".into(),
            public_url: None,
            max_webhook_bytes: webhooks::DEFAULT_MAX_WEBHOOK_BYTES,
            clerk_webhook_secrets: Vec::new(),
        }
    }
}

/// Everything a request handler may need. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<ServerConfig>,
    pub rate_limiter: Arc<RateLimiter>,
    pub clerk: Option<Arc<ClerkVerifier>>,
    pub redis: Option<ConnectionManager>,
    /// Rings the outbox relay after every successful write.
    pub wakeups: Wakeups,
    /// Opens and refreshes channel credentials; `None` on a server built
    /// without a key ring (some tests), whose connection routes answer 503.
    pub channels: Option<ChannelHub>,
    /// Checks webhook signatures per connection.
    pub webhooks: Arc<webhooks::Verifiers>,
    /// Where webhook delivery ids are remembered against replays.
    pub nonces: webhooks::Nonces,
    /// Stores verified deliveries, many per commit.
    pub intake: webhooks::Intake,
}

impl AppState {
    /// Wires the state; connects to Redis when a URL is given.
    pub async fn new(
        store: Store,
        config: ServerConfig,
        redis_url: Option<&str>,
    ) -> anyhow::Result<Self> {
        let redis = match redis_url {
            Some(url) => {
                let client = redis::Client::open(url)
                    .map_err(|e| anyhow::anyhow!("REDIS_URL is not usable: {e}"))?;
                let manager =
                    tokio::time::timeout(Duration::from_secs(10), ConnectionManager::new(client))
                        .await
                        .map_err(|_| anyhow::anyhow!("timed out connecting to Redis"))?
                        .map_err(|e| anyhow::anyhow!("could not connect to Redis: {e}"))?;
                Some(manager)
            }
            None => None,
        };
        let rate_limiter = match &redis {
            Some(manager) => RateLimiter::shared(
                manager.clone(),
                config.redis_prefix.clone(),
                config.rate_limit_per_minute,
            ),
            None => RateLimiter::local(config.rate_limit_per_minute),
        };
        let clerk = config
            .clerk
            .clone()
            .map(|c| Arc::new(ClerkVerifier::new(c, reqwest::Client::new())));
        let wakeups = Wakeups::for_deployment(&store, redis_url)
            .map_err(|e| anyhow::anyhow!("REDIS_URL is not usable: {e}"))?;
        let nonces = match &redis {
            Some(manager) => webhooks::Nonces::Redis {
                redis: manager.clone(),
                prefix: config.redis_prefix.as_str().into(),
            },
            None => webhooks::Nonces::Table(store.clone()),
        };
        // SQLite writes one transaction at a time; PostgreSQL overlaps commits.
        let writers = match store.kind() {
            shelfsync_store::BackendKind::Sqlite => 1,
            shelfsync_store::BackendKind::Postgres => 4,
        };
        let intake =
            webhooks::Intake::start(store.clone(), wakeups.clone(), nonces.clone(), writers);
        Ok(Self {
            store,
            config: Arc::new(config),
            rate_limiter: Arc::new(rate_limiter),
            clerk,
            redis,
            wakeups,
            channels: None,
            webhooks: Arc::default(),
            nonces,
            intake,
        })
    }
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .merge(routes::products::router())
        .merge(routes::variants::router())
        .merge(routes::api_keys::router())
        .merge(routes::audit::router())
        .merge(routes::connections::router())
        .merge(routes::listings::router())
        .merge(routes::alerts::router())
        .merge(routes::sync::router())
        .merge(routes::rules::router())
        .merge(routes::conflicts::router())
        .merge(routes::webhook_logs::router())
        .merge(routes::settings::router())
        .merge(routes::overview::router())
        // Layers run bottom-up: authenticate, then count against the budget,
        // then claim the idempotency key.
        .route_layer(from_fn_with_state(state.clone(), wake_outbox))
        .route_layer(from_fn_with_state(state.clone(), idempotency::guard))
        .route_layer(from_fn_with_state(state.clone(), rate_limit::enforce))
        .route_layer(from_fn_with_state(state.clone(), auth::authenticate));
    let max_body = state.config.max_body_bytes;
    Router::new()
        .merge(v1)
        .merge(routes::connections::callback_router())
        .merge(routes::webhooks::router(state.config.max_webhook_bytes))
        .merge(routes::health::router())
        .merge(dashboard::router())
        .merge(openapi::router())
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .method_not_allowed_fallback(|| async { (axum::http::StatusCode::METHOD_NOT_ALLOWED, "method not allowed") })
        .layer(DefaultBodyLimit::max(max_body))
        .layer(CatchPanicLayer::custom(|_| ApiError::internal(anyhow::anyhow!("handler panicked")).into_response()))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
            let id = request.extensions().get::<RequestId>().map_or("", |r| r.0.as_str());
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
        }))
        .layer(from_fn(request_id::assign))
        .with_state(state)
}

/// After a successful write, wakes the outbox relay: the write committed an
/// outbox event with it. Sent in the background so the response does not
/// wait; a lost wake-up only delays the relay until its next poll.
async fn wake_outbox(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let writes = !matches!(
        *request.method(),
        axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
    );
    let response = next.run(request).await;
    if writes && response.status().is_success() {
        let wakeups = state.wakeups.clone();
        tokio::spawn(async move { wakeups.wake(OUTBOX_QUEUE).await });
    }
    response
}
