//! Liveness and readiness, for load balancers and orchestrators.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde::Serialize;

use crate::AppState;
use crate::extract::ApiJson;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Health {
    pub status: String,
}

#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Readiness {
    pub status: String,
    pub database: String,
    /// `"not configured"` in embedded mode.
    pub redis: String,
}

/// The process is up. Touches nothing else, so a slow database never gets a
/// healthy process restarted.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = Health)))]
pub async fn healthz() -> ApiJson<Health> {
    ApiJson(Health {
        status: "ok".into(),
    })
}

/// The process can serve: the database answers, and Redis too when configured.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, ApiJson<Readiness>) {
    let database =
        match tokio::time::timeout(std::time::Duration::from_secs(2), state.store.ping()).await {
            Ok(Ok(())) => "ok".to_string(),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "readiness: database check failed");
                "unreachable".to_string()
            }
            Err(_) => "timeout".to_string(),
        };
    let redis = match &state.redis {
        None => "not configured".to_string(),
        Some(manager) => {
            let mut conn = manager.clone();
            let ping_cmd = redis::cmd("PING");
            let ping = ping_cmd.query_async::<String>(&mut conn);
            match tokio::time::timeout(std::time::Duration::from_secs(2), ping).await {
                Ok(Ok(_)) => "ok".to_string(),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "readiness: redis check failed");
                    "unreachable".to_string()
                }
                Err(_) => "timeout".to_string(),
            }
        }
    };
    let ready = database == "ok" && (redis == "ok" || redis == "not configured");
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = Readiness {
        status: if ready { "ready" } else { "not ready" }.into(),
        database,
        redis,
    };
    (status, ApiJson(body))
}
