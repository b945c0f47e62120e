//! The per-user request budget (default 100 per minute).
//!
//! GCRA ("leaky bucket as a meter"): a caller may spend the whole minute's
//! budget in a burst, then one request per `60 s / limit`. In embedded mode the
//! state lives in process (governor); with Redis it lives in one key per user,
//! updated by a Lua script so several API processes share one budget. If Redis
//! is unreachable requests are let through and a warning is logged: losing
//! Redis must delay nothing and lose nothing.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter as Governor};
use redis::aio::ConnectionManager;

use crate::AppState;
use crate::auth::Principal;
use crate::error::ApiError;

/// The verdict for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed { remaining: u32 },
    Limited { retry_after: Duration },
}

type LocalLimiter =
    Governor<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

pub enum RateLimiter {
    Local {
        limiter: LocalLimiter,
        limit: u32,
    },
    Shared {
        redis: ConnectionManager,
        prefix: String,
        limit: u32,
        script: Arc<redis::Script>,
    },
}

/// `KEYS[1]` the caller's bucket; `ARGV[1]` ms between requests; `ARGV[2]` burst.
/// Returns `{1, remaining}` or `{0, retry_after_ms}`. Uses the server's clock so
/// API processes with skewed clocks still agree.
const GCRA_SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - burst * interval
if allow_at > now then
  return {0, allow_at - now}
end
redis.call('SET', KEYS[1], new_tat, 'PX', new_tat - now)
return {1, math.floor((now - allow_at) / interval)}
";

impl RateLimiter {
    pub fn local(limit_per_minute: u32) -> Self {
        let limit = NonZeroU32::new(limit_per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        Self::Local {
            limiter: Governor::keyed(Quota::per_minute(limit).allow_burst(limit))
                .with_middleware::<StateInformationMiddleware>(),
            limit: limit.get(),
        }
    }

    pub fn shared(
        redis: ConnectionManager,
        prefix: impl Into<String>,
        limit_per_minute: u32,
    ) -> Self {
        Self::Shared {
            redis,
            prefix: prefix.into(),
            limit: limit_per_minute.max(1),
            script: Arc::new(redis::Script::new(GCRA_SCRIPT)),
        }
    }

    pub fn limit(&self) -> u32 {
        match self {
            Self::Local { limit, .. } | Self::Shared { limit, .. } => *limit,
        }
    }

    pub async fn check(&self, key: &str) -> Decision {
        match self {
            Self::Local { limiter, .. } => match limiter.check_key(&key.to_string()) {
                Ok(snapshot) => Decision::Allowed {
                    remaining: snapshot.remaining_burst_capacity(),
                },
                Err(not_until) => Decision::Limited {
                    retry_after: not_until.wait_time_from(DefaultClock::default().now()),
                },
            },
            Self::Shared {
                redis,
                prefix,
                limit,
                script,
            } => {
                let interval_ms = (60_000 / u64::from(*limit)).max(1);
                let mut conn = redis.clone();
                let result: redis::RedisResult<(i64, i64)> = script
                    .key(format!("{prefix}ratelimit:{key}"))
                    .arg(interval_ms)
                    .arg(*limit)
                    .invoke_async(&mut conn)
                    .await;
                match result {
                    Ok((1, remaining)) => Decision::Allowed {
                        remaining: u32::try_from(remaining).unwrap_or(0),
                    },
                    Ok((_, wait_ms)) => Decision::Limited {
                        retry_after: Duration::from_millis(u64::try_from(wait_ms).unwrap_or(0)),
                    },
                    Err(e) => {
                        tracing::warn!(error = %e, "rate limit store unreachable; letting the request through");
                        Decision::Allowed { remaining: *limit }
                    }
                }
            }
        }
    }
}

/// Counts the request against its caller and answers 429 with `Retry-After` when over.
pub async fn enforce(
    State(state): State<AppState>,
    principal: Principal,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let limiter = &state.rate_limiter;
    match limiter.check(&principal.actor).await {
        Decision::Limited { retry_after } => Err(ApiError::TooManyRequests {
            // Round up: a client that waits exactly this long gets through.
            retry_after_secs: retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0),
        }),
        Decision::Allowed { remaining } => {
            let mut response = next.run(request).await;
            let headers = response.headers_mut();
            headers.insert("ratelimit-limit", HeaderValue::from(limiter.limit()));
            headers.insert("ratelimit-remaining", HeaderValue::from(remaining));
            Ok(response)
        }
    }
}
