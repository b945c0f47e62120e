//! `/v1/connections`: the merchant's accounts on each channel.
//!
//! OAuth platforms connect through `install` (a redirect to the platform
//! with a single-use state) and `callback` (the platform sends the merchant
//! back with a code, which we exchange for tokens). WooCommerce, and any
//! platform where the merchant already holds a token (a Shopify custom
//! app), connect by `POST` with the credentials. Credentials are sealed
//! before they are stored and never leave in a response.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use shelfsync_channels::oauth::{self, Pkce};
use shelfsync_channels::{ConnectionSecrets, Credentials, OAuthTokens};
use shelfsync_core::vault::ExposeSecret;
use shelfsync_core::{ConnectionId, Platform, ValidationErrors};
use shelfsync_runtime::connections::{ChannelHub, HubError};
use shelfsync_store::{ConnectionRecord, NewConnection, NewJob, OAuthState, UsageRecord};

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::ApiJson;

/// How long a merchant has to finish an install on the platform.
const INSTALL_TTL: chrono::Duration = chrono::Duration::minutes(10);

/// The authenticated routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/connections", get(list).post(create))
        .route(
            "/v1/connections/{key}",
            get(show).patch(update).delete(disconnect),
        )
        .route("/v1/connections/{key}/install", get(install))
        .route("/v1/connections/{key}/usage", get(usage))
        .route(
            "/v1/connections/{key}/reconcile",
            axum::routing::post(reconcile),
        )
}

/// The OAuth callback: the merchant's browser arrives from the platform
/// without our credentials; the single-use state is what authenticates it.
pub fn callback_router() -> Router<AppState> {
    Router::new().route("/v1/connections/{key}/callback", get(callback))
}

/// A connection as the API shows it: never its credentials.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConnectionView {
    pub id: ConnectionId,
    pub platform: String,
    pub name: String,
    pub account: Option<String>,
    /// active or disconnected.
    pub status: String,
    pub settings: serde_json::Value,
    /// Whether credentials are stored (sealed).
    pub has_credentials: bool,
    pub token_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<ConnectionRecord> for ConnectionView {
    fn from(r: ConnectionRecord) -> Self {
        Self {
            id: r.id,
            platform: r.platform,
            name: r.name,
            account: r.account,
            status: r.status,
            settings: r.settings,
            has_credentials: r.credentials.is_some(),
            token_expires_at: r.token_expires_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Credentials given directly.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged, deny_unknown_fields)]
pub enum NewCredentials {
    /// WooCommerce REST API keys.
    ConsumerKey {
        consumer_key: String,
        consumer_secret: String,
    },
    /// A token the merchant already has (e.g. a Shopify custom app's).
    Token {
        access_token: String,
        #[serde(default)]
        refresh_token: Option<String>,
        /// Seconds until the access token expires.
        #[serde(default)]
        expires_in: Option<i64>,
    },
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConnectionInput {
    pub platform: Platform,
    pub name: String,
    /// The shop domain, store URL, seller id or shop id on the platform.
    pub account: String,
    #[serde(default)]
    pub settings: Option<serde_json::Value>,
    pub credentials: NewCredentials,
    /// The secret the platform signs webhooks with, when it is per connection.
    #[serde(default)]
    pub webhook_secret: Option<String>,
}

pub(crate) fn hub(state: &AppState) -> ApiResult<&ChannelHub> {
    state
        .channels
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable("channels are not configured on this server".into()))
}

fn parse_platform(key: &str) -> ApiResult<Platform> {
    key.parse()
        .map_err(|e: shelfsync_core::platform::UnknownPlatform| ApiError::NotFound(e.to_string()))
}

fn parse_id(key: &str) -> ApiResult<ConnectionId> {
    key.parse()
        .map_err(|_| ApiError::NotFound(format!("no connection {key}")))
}

pub(crate) fn hub_error(error: HubError) -> ApiError {
    match error {
        HubError::NotFound => ApiError::NotFound("no such connection".into()),
        HubError::Disconnected => ApiError::Conflict("the connection is disconnected".into()),
        HubError::Store(e) => e.into(),
        // Channel and vault errors never carry secrets, but they are ours to log, not to show.
        other => ApiError::internal(anyhow::anyhow!(other.to_string())),
    }
}

#[utoipa::path(get, path = "/v1/connections", tag = "connections",
    responses((status = 200, body = Vec<ConnectionView>)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<ApiJson<Vec<ConnectionView>>> {
    let records = state.store.list_connections(principal.tenant).await?;
    Ok(ApiJson(records.into_iter().map(Into::into).collect()))
}

#[utoipa::path(post, path = "/v1/connections", tag = "connections", request_body = NewConnectionInput,
    responses((status = 201, body = ConnectionView), (status = 422, body = Problem)), security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(input): ApiJson<NewConnectionInput>,
) -> ApiResult<(StatusCode, ApiJson<ConnectionView>)> {
    let hub = hub(&state)?;
    let name = input.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(ApiError::Unprocessable(
            "name must be 1 to 100 characters".into(),
        ));
    }
    let account = input.account.trim();
    if account.is_empty() || account.len() > 500 {
        return Err(ApiError::Unprocessable(
            "account must be 1 to 500 characters".into(),
        ));
    }
    let settings = input.settings.unwrap_or_else(|| serde_json::json!({}));
    if !settings.is_object() {
        return Err(ApiError::Unprocessable(
            "settings must be a JSON object".into(),
        ));
    }
    let now = Utc::now();
    let (credentials, expires_at) = match input.credentials {
        NewCredentials::ConsumerKey {
            consumer_key,
            consumer_secret,
        } => {
            if input.platform != Platform::WooCommerce {
                return Err(ApiError::Unprocessable(format!(
                    "{} connects with OAuth or an access token, not consumer keys",
                    input.platform
                )));
            }
            if consumer_key.is_empty() || consumer_secret.is_empty() {
                return Err(ApiError::Unprocessable(
                    "consumer_key and consumer_secret are required".into(),
                ));
            }
            (
                Credentials::ConsumerKey {
                    key: consumer_key.into(),
                    secret: consumer_secret.into(),
                },
                None,
            )
        }
        NewCredentials::Token {
            access_token,
            refresh_token,
            expires_in,
        } => {
            if input.platform == Platform::WooCommerce {
                return Err(ApiError::Unprocessable(
                    "woocommerce connects with consumer_key and consumer_secret".into(),
                ));
            }
            if access_token.is_empty() {
                return Err(ApiError::Unprocessable("access_token is required".into()));
            }
            if expires_in.is_some_and(|s| s <= 0) {
                return Err(ApiError::Unprocessable(
                    "expires_in must be positive".into(),
                ));
            }
            let expires_at = expires_in.map(|s| now + chrono::Duration::seconds(s));
            (
                Credentials::OAuth(OAuthTokens {
                    access_token: access_token.into(),
                    refresh_token: refresh_token.map(Into::into),
                    expires_at,
                    scope: None,
                }),
                expires_at,
            )
        }
    };
    let secrets = ConnectionSecrets {
        credentials,
        webhook_secret: input.webhook_secret.map(Into::into),
    };
    let id = ConnectionId::new();
    let record = state
        .store
        .create_connection(&NewConnection {
            id,
            tenant: principal.tenant,
            platform: input.platform.as_str().to_owned(),
            name: name.to_owned(),
            account: Some(account.to_owned()),
            settings,
            credentials: Some(hub.seal(principal.tenant, id, &secrets)),
            token_expires_at: expires_at,
        })
        .await?;
    Ok((StatusCode::CREATED, ApiJson(record.into())))
}

#[utoipa::path(get, path = "/v1/connections/{id}", tag = "connections", params(("id" = ConnectionId, Path)),
    responses((status = 200, body = ConnectionView), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn show(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
) -> ApiResult<ApiJson<ConnectionView>> {
    let id = parse_id(&key)?;
    let record = state
        .store
        .get_connection(principal.tenant, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no connection {id}")))?;
    Ok(ApiJson(record.into()))
}

/// What can change on a connection without reconnecting it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionPatch {
    pub name: Option<String>,
    /// Replaces the platform settings (location, marketplace, policies, a
    /// plan's `quota`); the adapter picks them up on its next call.
    pub settings: Option<serde_json::Value>,
}

#[utoipa::path(patch, path = "/v1/connections/{id}", tag = "connections", params(("id" = ConnectionId, Path)),
    request_body = ConnectionPatch,
    responses((status = 200, body = ConnectionView), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
    ApiJson(patch): ApiJson<ConnectionPatch>,
) -> ApiResult<ApiJson<ConnectionView>> {
    let id = parse_id(&key)?;
    let mut errors = ValidationErrors::default();
    if let Some(name) = &patch.name
        && (name.trim().is_empty() || name.chars().count() > 200)
    {
        errors.push("name", "must be 1 to 200 characters");
    }
    if let Some(settings) = &patch.settings {
        if !settings.is_object() {
            errors.push("settings", "must be a JSON object");
        } else if let Some(quota) = settings.get("quota")
            && serde_json::from_value::<shelfsync_core::quota::QuotaModel>(quota.clone()).is_err()
        {
            errors.push("settings.quota", "is not a quota model");
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let record = state
        .store
        .update_connection(
            principal.tenant,
            id,
            patch.name.as_deref().map(str::trim),
            patch.settings.as_ref(),
        )
        .await
        .map_err(|e| match e {
            shelfsync_store::StoreError::NotFound => {
                ApiError::NotFound(format!("no connection {id}"))
            }
            other => other.into(),
        })?;
    Ok(ApiJson(record.into()))
}

#[utoipa::path(delete, path = "/v1/connections/{id}", tag = "connections", params(("id" = ConnectionId, Path)),
    responses((status = 200, body = ConnectionView, description = "The connection, its credentials revoked and forgotten"),
        (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn disconnect(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
) -> ApiResult<ApiJson<ConnectionView>> {
    let hub = hub(&state)?;
    let id = parse_id(&key)?;
    let record = state
        .store
        .get_connection(principal.tenant, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no connection {id}")))?;
    revoke_at_platform(hub, &record).await;
    state
        .store
        .disconnect_connection(principal.tenant, id)
        .await?;
    let record = state
        .store
        .get_connection(principal.tenant, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no connection {id}")))?;
    Ok(ApiJson(record.into()))
}

/// Ask the platform to forget the tokens. Best effort: the merchant asked
/// to disconnect, so we forget them whatever the platform answers.
async fn revoke_at_platform(hub: &ChannelHub, record: &ConnectionRecord) {
    let Ok(platform) = record.platform.parse::<Platform>() else {
        return;
    };
    // The platform's own uninstall call, where it has one (Shopify).
    if let Ok(channel) = hub.channel(record.tenant, record.id).await
        && let Err(error) = channel.revoke_access().await
    {
        tracing::warn!(connection = %record.id, %error, "the platform did not confirm the uninstall");
    }
    let Ok(secrets) = hub.open(record) else {
        return;
    };
    let (Some(tokens), Some(app)) = (secrets.oauth(), hub.app(platform)) else {
        return;
    };
    let endpoints = hub.endpoints(platform, record.account.as_deref().unwrap_or_default());
    let Some(oauth_endpoints) = shelfsync_channels::oauth_endpoints(platform, &endpoints) else {
        return;
    };
    let token = tokens
        .refresh_token
        .as_ref()
        .unwrap_or(&tokens.access_token)
        .expose_secret()
        .to_owned();
    if let Err(error) = oauth::revoke(&hub.deps().client, &oauth_endpoints, app, &token).await {
        tracing::warn!(connection = %record.id, %error, "the platform did not confirm the revocation");
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct InstallParams {
    /// What to call the connection.
    pub name: Option<String>,
    /// The account, where the platform needs it before consent (Shopify's shop domain).
    pub account: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InstallRedirect {
    pub authorize_url: String,
}

/// The URL the platform sends the merchant back to.
fn redirect_uri(state: &AppState, headers: &HeaderMap, platform: Platform) -> ApiResult<String> {
    let base = match &state.config.public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_graphic()))
                .ok_or_else(|| {
                    ApiError::BadRequest(
                        "a Host header is needed (or set SHELFSYNC_PUBLIC_URL)".into(),
                    )
                })?;
            format!("http://{host}")
        }
    };
    Ok(format!("{base}/v1/connections/{platform}/callback"))
}

fn state_hash(state: &str) -> Vec<u8> {
    Sha256::digest(state.as_bytes()).to_vec()
}

#[utoipa::path(get, path = "/v1/connections/{platform}/install", tag = "connections",
    params(("platform" = Platform, Path), InstallParams),
    responses((status = 302, description = "To the platform's consent page"), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn install(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
    Query(params): Query<InstallParams>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let hub = hub(&state)?;
    let platform = parse_platform(&key)?;
    let app = hub.app(platform).ok_or_else(|| {
        ApiError::Unprocessable(format!(
            "no {platform} app is configured; set SHELFSYNC_CHANNEL_APPS ({platform}=client_id:client_secret)"
        ))
    })?;
    let account = params
        .account
        .map(|a| a.trim().to_owned())
        .filter(|a| !a.is_empty());
    if platform == Platform::Shopify && account.is_none() {
        return Err(ApiError::Unprocessable(
            "account (the shop's myshopify.com domain) is required for shopify".into(),
        ));
    }
    let endpoints = hub.endpoints(platform, account.as_deref().unwrap_or_default());
    let oauth_endpoints =
        shelfsync_channels::oauth_endpoints(platform, &endpoints).ok_or_else(|| {
            ApiError::Unprocessable(format!(
                "{platform} does not connect by OAuth; POST /v1/connections with its API keys"
            ))
        })?;
    let name = params
        .name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| format!("{platform} {}", account.as_deref().unwrap_or("store")));
    let csrf: [u8; 32] = rand::random();
    let csrf = URL_SAFE_NO_PAD.encode(csrf);
    let pkce = oauth_endpoints.pkce.then(Pkce::generate);
    let redirect_uri = redirect_uri(&state, &headers, platform)?;
    state
        .store
        .insert_oauth_state(
            &state_hash(&csrf),
            &OAuthState {
                tenant: principal.tenant,
                platform: platform.as_str().to_owned(),
                name,
                account,
                redirect_uri: redirect_uri.clone(),
                pkce_verifier: pkce.as_ref().map(|p| p.verifier.clone()),
                expires_at: Utc::now() + INSTALL_TTL,
            },
        )
        .await?;
    let url = oauth::authorize_url(&oauth_endpoints, app, &redirect_uri, &csrf, pkce.as_ref());
    Ok((
        StatusCode::FOUND,
        [(header::LOCATION, url.to_string())],
        ApiJson(InstallRedirect {
            authorize_url: url.to_string(),
        }),
    )
        .into_response())
}

#[utoipa::path(get, path = "/v1/connections/{platform}/callback", tag = "connections",
    params(("platform" = Platform, Path)),
    responses((status = 201, body = ConnectionView), (status = 400, body = Problem)))]
pub async fn callback(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<(StatusCode, ApiJson<ConnectionView>)> {
    let hub = hub(&state)?;
    let platform = parse_platform(&key)?;
    if let Some(error) = params.get("error") {
        return Err(ApiError::BadRequest(format!(
            "the platform did not grant access: {}",
            error.chars().take(100).collect::<String>()
        )));
    }
    let csrf = params
        .get("state")
        .ok_or_else(|| ApiError::BadRequest("state is missing".into()))?;
    let install = state
        .store
        .take_oauth_state(&state_hash(csrf))
        .await?
        .filter(|s| s.platform == platform.as_str())
        .ok_or_else(|| {
            ApiError::BadRequest("unknown, used or expired state; start the install again".into())
        })?;
    let endpoints = hub.endpoints(platform, install.account.as_deref().unwrap_or_default());
    let oauth_endpoints = shelfsync_channels::oauth_endpoints(platform, &endpoints)
        .ok_or_else(|| ApiError::NotFound(format!("{platform} does not connect by OAuth")))?;
    let code = params.get(oauth_endpoints.code_param).ok_or_else(|| {
        ApiError::BadRequest(format!("{} is missing", oauth_endpoints.code_param))
    })?;
    let app = hub
        .app(platform)
        .ok_or_else(|| ApiError::Unprocessable(format!("no {platform} app is configured")))?;
    let tokens = oauth::exchange_code(
        &hub.deps().client,
        &oauth_endpoints,
        app,
        code,
        &install.redirect_uri,
        install.pkce_verifier.as_deref(),
        Utc::now(),
    )
    .await
    .map_err(|e| ApiError::BadRequest(format!("the code exchange failed: {e}")))?;
    // The platform names the account on the way back where it knows it.
    let account = params
        .get("selling_partner_id")
        .or_else(|| params.get("shop"))
        .cloned()
        .or(install.account.clone());
    let expires_at = tokens.expires_at;
    let secrets = ConnectionSecrets {
        credentials: Credentials::OAuth(tokens),
        // Shopify signs webhooks with the app's client secret.
        webhook_secret: (platform == Platform::Shopify)
            .then(|| app.client_secret.expose_secret().to_owned().into()),
    };
    let id = ConnectionId::new();
    let record = state
        .store
        .create_connection(&NewConnection {
            id,
            tenant: install.tenant,
            platform: platform.as_str().to_owned(),
            name: install.name,
            account,
            settings: serde_json::json!({}),
            credentials: Some(hub.seal(install.tenant, id, &secrets)),
            token_expires_at: expires_at,
        })
        .await
        .map_err(hub_error_store)?;
    tracing::info!(connection = %id, %platform, "connected by OAuth");
    Ok((StatusCode::CREATED, ApiJson(record.into())))
}

fn hub_error_store(error: shelfsync_store::StoreError) -> ApiError {
    hub_error(HubError::Store(error))
}

#[utoipa::path(get, path = "/v1/connections/{id}/usage", tag = "connections", params(("id" = ConnectionId, Path)),
    responses((status = 200, body = Vec<UsageRecord>, description = "API calls per minute over the last hour")),
    security(("bearer" = [])))]
pub async fn usage(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
) -> ApiResult<ApiJson<Vec<UsageRecord>>> {
    let id = parse_id(&key)?;
    if state
        .store
        .get_connection(principal.tenant, id)
        .await?
        .is_none()
    {
        return Err(ApiError::NotFound(format!("no connection {id}")));
    }
    let since = Utc::now() - chrono::Duration::hours(1);
    Ok(ApiJson(
        state.store.usage_since(principal.tenant, id, since).await?,
    ))
}

/// A reconciliation on its way.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReconcileAccepted {
    /// The job that will read the channel back; a request made while one
    /// waits joins it.
    pub job_id: shelfsync_core::JobId,
}

#[utoipa::path(post, path = "/v1/connections/{id}/reconcile", tag = "connections", params(("id" = ConnectionId, Path)),
    responses((status = 202, body = ReconcileAccepted, description = "Reconciliation enqueued"),
        (status = 404, body = Problem), (status = 409, body = Problem, description = "The connection is disconnected")),
    security(("bearer" = [])))]
pub async fn reconcile(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
) -> ApiResult<(StatusCode, ApiJson<ReconcileAccepted>)> {
    let id = parse_id(&key)?;
    let record = state
        .store
        .get_connection(principal.tenant, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no connection {id}")))?;
    if record.status != "active" {
        return Err(ApiError::Conflict("the connection is disconnected".into()));
    }
    let job =
        NewJob::reconcile_connection(principal.tenant, id, super::conflicts::SYNC_MAX_ATTEMPTS);
    let outcome = state.store.enqueue_jobs(&[job]).await?;
    let job_id = outcome
        .first()
        .map(|o| o.id())
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("the job was not enqueued")))?;
    let wakeups = state.wakeups.clone();
    tokio::spawn(async move { wakeups.wake(shelfsync_store::SYNC_QUEUE).await });
    Ok((StatusCode::ACCEPTED, ApiJson(ReconcileAccepted { job_id })))
}
