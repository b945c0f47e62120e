//! Faults injected on request: the ways real channels misbehave, so the
//! adapters and the sync engine are tested against them.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::SimCore;

/// Fault settings for one platform (or all, under the key `*`). Rates are
/// probabilities in `[0, 1]` drawn per request or per webhook.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Answer 500 instead of handling the call.
    pub error_rate: f64,
    /// Answer 429 with `Retry-After` instead of handling the call.
    pub throttle_rate: f64,
    /// Seconds put in `Retry-After` on injected 429s.
    pub retry_after_secs: u64,
    /// Added to every call.
    pub latency_ms: u64,
    /// Hold the call far past any client timeout.
    pub timeout_rate: f64,
    /// Webhooks silently not sent.
    pub webhook_drop_rate: f64,
    /// Webhooks sent twice.
    pub webhook_duplicate_rate: f64,
}

/// Faults per platform name, with `*` applying to all.
#[derive(Default)]
pub struct FaultBoard {
    faults: RwLock<HashMap<String, Faults>>,
}

impl FaultBoard {
    pub fn set(&self, platform: &str, faults: Faults) {
        self.faults
            .write()
            .unwrap()
            .insert(platform.to_owned(), faults);
    }

    pub fn clear(&self) {
        self.faults.write().unwrap().clear();
    }

    /// The faults in force for `platform`.
    pub fn get(&self, platform: &str) -> Faults {
        let faults = self.faults.read().unwrap();
        faults
            .get(platform)
            .or_else(|| faults.get("*"))
            .cloned()
            .unwrap_or_default()
    }
}

fn roll(rate: f64) -> bool {
    rate > 0.0 && rand::random::<f64>() < rate
}

/// Middleware for a platform's API routes: applies its faults before the handler.
pub async fn inject(
    State((core, platform)): State<(Arc<SimCore>, &'static str)>,
    request: Request,
    next: Next,
) -> Response {
    let faults = core.faults.get(platform);
    if faults.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
    }
    if roll(faults.timeout_rate) {
        core.stats.fault(platform, "*");
        tokio::time::sleep(Duration::from_secs(300)).await;
    }
    if roll(faults.error_rate) {
        core.stats.fault(platform, "*");
        return (StatusCode::INTERNAL_SERVER_ERROR, "injected fault").into_response();
    }
    if roll(faults.throttle_rate) {
        core.stats.fault(platform, "*");
        let mut response = (StatusCode::TOO_MANY_REQUESTS, "injected throttle").into_response();
        response.headers_mut().insert(
            "retry-after",
            HeaderValue::from(faults.retry_after_secs.max(1)),
        );
        return response;
    }
    next.run(request).await
}
