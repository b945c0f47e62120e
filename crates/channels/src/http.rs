//! The one way adapters talk to a platform: every call reserves its quota
//! first, is retried with back-off on throttling, 5xx and network faults
//! (honouring `Retry-After`), and is metered. Adapters supply the request
//! and read the platform's quota report from the answer; everything else is
//! the same for every channel, so it is written once.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use shelfsync_core::quota::{QuotaModel, QuotaReport};
use shelfsync_core::retry::Backoff;
use shelfsync_core::{ConnectionId, TenantId};

use crate::error::ChannelError;
use crate::gate::QuotaGate;
use crate::usage::UsageMeter;

/// A platform's answer, read whole.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// The body as `T`; an unexpected shape is a protocol error naming the
    /// type, with the start of the body (channels are untrusted).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ChannelError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            ChannelError::Protocol(format!(
                "{} ({}): {}",
                std::any::type_name::<T>(),
                e,
                self.body_excerpt()
            ))
        })
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A numeric header (rate-limit headers).
    pub fn header_f64(&self, name: &str) -> Option<f64> {
        self.header(name).and_then(|v| v.trim().parse().ok())
    }

    /// `Retry-After` in seconds (the delta form; the date form is rare on these APIs).
    pub fn retry_after(&self) -> Option<f64> {
        self.header_f64("retry-after")
    }

    /// The first 300 characters of the body, for error messages.
    pub fn body_excerpt(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        text.chars().take(300).collect()
    }

    /// `Err(Rejected)` for a 4xx answer, with the platform's own text.
    pub fn ensure_success(self) -> Result<Reply, ChannelError> {
        if self.status.is_success() {
            Ok(self)
        } else {
            Err(ChannelError::Rejected {
                status: self.status.as_u16(),
                message: self.body_excerpt(),
            })
        }
    }
}

/// How hard to try before giving a call up.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub backoff: Backoff,
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 5,
            backoff: Backoff {
                base: Duration::from_millis(250),
                max: Duration::from_secs(30),
            },
            timeout: Duration::from_secs(30),
        }
    }
}

/// One connection's HTTP client: its quota, its meter, its retry policy.
#[derive(Clone)]
pub struct ChannelHttp {
    client: reqwest::Client,
    gate: Arc<dyn QuotaGate>,
    usage: Arc<UsageMeter>,
    model: QuotaModel,
    tenant: TenantId,
    connection: ConnectionId,
    retry: RetryPolicy,
}

/// What an adapter learns from an answer beyond its status code.
pub type Inspect<'a> = &'a (dyn Fn(&Reply) -> QuotaReport + Send + Sync);

impl ChannelHttp {
    pub fn new(
        client: reqwest::Client,
        gate: Arc<dyn QuotaGate>,
        usage: Arc<UsageMeter>,
        model: QuotaModel,
        tenant: TenantId,
        connection: ConnectionId,
    ) -> Self {
        Self {
            client,
            gate,
            usage,
            model,
            tenant,
            connection,
            retry: RetryPolicy::default(),
        }
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    pub fn model(&self) -> &QuotaModel {
        &self.model
    }

    /// Send a call of `operation` estimated at `cost` units (1 for
    /// request-counted limits). `build` makes the request afresh for each
    /// try; `inspect` reads the platform's quota report from an answer,
    /// including throttles a platform signals inside a 200 (Shopify's
    /// GraphQL `THROTTLED`). Returns any non-throttled, non-5xx answer; the
    /// adapter judges 4xx bodies itself.
    pub async fn send(
        &self,
        operation: &str,
        cost: f64,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
        inspect: Inspect<'_>,
    ) -> Result<Reply, ChannelError> {
        let key = self.connection.to_string();
        let quota_limit = self.model.per_minute(operation);
        let mut last_error = ChannelError::Transient("no attempt made".into());
        for attempt in 1..=self.retry.attempts.max(1) {
            self.gate.acquire(&key, &self.model, operation, cost).await;
            let sent = build(&self.client).timeout(self.retry.timeout).send().await;
            let response = match sent {
                Ok(response) => response,
                Err(error) => {
                    // Never the URL: some platforms carry credentials in the query.
                    let error = error.without_url();
                    self.meter(cost, false, quota_limit);
                    tracing::debug!(operation, attempt, %error, "channel call failed");
                    last_error = ChannelError::Transient(error.to_string());
                    self.pause(attempt, None).await;
                    continue;
                }
            };
            let status = response.status();
            let headers = response.headers().clone();
            let body = match response.bytes().await {
                Ok(body) => body,
                Err(error) => {
                    self.meter(cost, false, quota_limit);
                    last_error = ChannelError::Transient(error.without_url().to_string());
                    self.pause(attempt, None).await;
                    continue;
                }
            };
            let reply = Reply {
                status,
                headers,
                body,
            };
            let mut report = inspect(&reply);
            if status == StatusCode::TOO_MANY_REQUESTS {
                report.throttled = true;
            }
            if report.throttled && report.retry_after_secs.is_none() {
                report.retry_after_secs = reply.retry_after();
            }
            self.gate
                .report(&key, &self.model, operation, cost, &report)
                .await;
            self.meter(
                report.actual_cost.unwrap_or(cost),
                report.throttled,
                quota_limit,
            );
            if report.throttled {
                tracing::info!(operation, attempt, retry_after = ?report.retry_after_secs, "channel throttled the call");
                last_error = ChannelError::Throttled {
                    retry_after: report.retry_after_secs.map(Duration::from_secs_f64),
                };
                self.pause(attempt, report.retry_after_secs).await;
                continue;
            }
            if status.is_server_error() {
                last_error = ChannelError::Transient(format!(
                    "{} from the channel: {}",
                    status.as_u16(),
                    reply.body_excerpt()
                ));
                self.pause(attempt, reply.retry_after()).await;
                continue;
            }
            if status == StatusCode::UNAUTHORIZED {
                return Err(ChannelError::Unauthorized(reply.body_excerpt()));
            }
            return Ok(reply);
        }
        Err(last_error)
    }

    fn meter(&self, cost: f64, throttled: bool, quota_limit: Option<f64>) {
        self.usage.record(
            self.tenant,
            self.connection,
            Utc::now(),
            cost,
            throttled,
            quota_limit,
        );
    }

    async fn pause(&self, attempt: u32, retry_after: Option<f64>) {
        if attempt >= self.retry.attempts {
            return;
        }
        let backoff = self.retry.backoff.delay(attempt, rand::random::<f64>());
        let told = retry_after
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64)
            .unwrap_or_default();
        tokio::time::sleep(backoff.max(told)).await;
    }
}
