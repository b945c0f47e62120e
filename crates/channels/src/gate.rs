//! The quota gate: every channel call reserves its cost here before it is
//! sent, so a connection never sends more than its platform allows.
//!
//! The arithmetic is [`shelfsync_core::quota`]; this module only decides
//! where the buckets live. In one process ([`LocalGate`]) they sit in memory;
//! with several worker processes ([`RedisGate`]) they live in Redis and
//! every change is one atomic script run on Redis's own clock, so workers
//! on different machines draw from one budget. Losing Redis loses only the
//! buckets: the platform's next report refills our picture of them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use shelfsync_core::quota::{Bucket, QuotaModel, QuotaReport};

/// Where a connection's quota buckets are kept.
#[async_trait]
pub trait QuotaGate: Send + Sync + 'static {
    /// Reserve `cost` for a call of `operation` on every limit that applies,
    /// or say how long to wait before asking again.
    async fn try_reserve(
        &self,
        key: &str,
        model: &QuotaModel,
        operation: &str,
        cost: f64,
    ) -> Result<(), Duration>;

    /// Fold what the platform said about the call into the buckets:
    /// its remaining figure, the actual cost against the `reserved` one,
    /// or a throttle (which empties them).
    async fn report(
        &self,
        key: &str,
        model: &QuotaModel,
        operation: &str,
        reserved: f64,
        report: &QuotaReport,
    );

    /// Wait until `cost` is reserved. Never sends early: the only way out is
    /// a successful reservation.
    async fn acquire(&self, key: &str, model: &QuotaModel, operation: &str, cost: f64) {
        loop {
            match self.try_reserve(key, model, operation, cost).await {
                Ok(()) => return,
                Err(wait) => tokio::time::sleep(wait.min(Duration::from_secs(60))).await,
            }
        }
    }
}

/// Whether a throttle empties this limit's bucket. A 429 does not say which
/// limit was hit; emptying a bucket that refills within a minute costs at
/// most that minute, but emptying a daily cap would hold the connection to
/// a trickle for hours over one per-second throttle. Daily caps are kept
/// honest by the platform's remaining-today figure instead.
fn drains_on_throttle(limit: &shelfsync_core::quota::Limit) -> bool {
    let refill = limit.refill_per_sec();
    refill > 0.0 && limit.capacity() / refill <= 60.0
}

fn secs(wait: f64) -> Duration {
    if wait.is_finite() {
        Duration::from_secs_f64(wait.max(0.001))
    } else {
        Duration::from_secs(60)
    }
}

/// Buckets in this process's memory: for `serve` and single-worker setups.
pub struct LocalGate {
    epoch: Instant,
    buckets: Mutex<HashMap<String, Vec<Bucket>>>,
}

impl Default for LocalGate {
    fn default() -> Self {
        Self {
            epoch: Instant::now(),
            buckets: Mutex::new(HashMap::new()),
        }
    }
}

impl LocalGate {
    fn now(&self) -> f64 {
        self.epoch.elapsed().as_secs_f64()
    }

    fn with_buckets<T>(
        &self,
        key: &str,
        model: &QuotaModel,
        now: f64,
        f: impl FnOnce(&mut Vec<Bucket>) -> T,
    ) -> T {
        let mut all = self.buckets.lock().expect("quota buckets lock");
        let buckets = all.entry(key.to_owned()).or_default();
        if buckets.len() != model.limits.len() {
            *buckets = model
                .limits
                .iter()
                .map(|l| Bucket::full(&l.limit, now))
                .collect();
        }
        f(buckets)
    }
}

#[async_trait]
impl QuotaGate for LocalGate {
    async fn try_reserve(
        &self,
        key: &str,
        model: &QuotaModel,
        operation: &str,
        cost: f64,
    ) -> Result<(), Duration> {
        let now = self.now();
        self.with_buckets(key, model, now, |buckets| {
            shelfsync_core::quota::reserve(model, buckets, operation, cost, now).map_err(secs)
        })
    }

    async fn report(
        &self,
        key: &str,
        model: &QuotaModel,
        operation: &str,
        reserved: f64,
        report: &QuotaReport,
    ) {
        let now = self.now();
        self.with_buckets(key, model, now, |buckets| {
            for (index, scoped) in model.applicable(operation) {
                let limit = &scoped.limit;
                let mut bucket = buckets[index];
                if report.throttled && !drains_on_throttle(limit) {
                    continue;
                }
                if report.throttled {
                    bucket = bucket.drained(now);
                    if let Some(wait) = report.retry_after_secs {
                        // Empty now and refilling from `wait` seconds hence.
                        bucket.available = -wait * limit.refill_per_sec();
                    }
                } else {
                    if limit.counts_points()
                        && let Some(actual) = report.actual_cost
                    {
                        bucket = bucket.refund(limit, reserved - actual, now);
                    }
                    if let Some(available) = report.available {
                        bucket = bucket.observe(limit, available, now);
                    }
                }
                buckets[index] = bucket;
            }
        });
    }
}

const RESERVE_SCRIPT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local wait = 0
local next = {}
for i = 1, #KEYS do
  local cap = tonumber(ARGV[(i-1)*3+1])
  local rate = tonumber(ARGV[(i-1)*3+2])
  local cost = math.min(tonumber(ARGV[(i-1)*3+3]), cap)
  local v = redis.call('HMGET', KEYS[i], 'a', 't')
  local a = tonumber(v[1]) or cap
  local at = tonumber(v[2]) or now
  a = math.min(cap, a + math.max(0, now - at) * rate)
  if a + 1e-9 >= cost then
    next[i] = a - cost
  else
    local w = (cost - a) / rate
    if w > wait then wait = w end
  end
end
if wait > 0 then return tostring(wait) end
for i = 1, #KEYS do
  local cap = tonumber(ARGV[(i-1)*3+1])
  local rate = tonumber(ARGV[(i-1)*3+2])
  redis.call('HSET', KEYS[i], 'a', tostring(next[i]), 't', tostring(now))
  redis.call('EXPIRE', KEYS[i], math.ceil(cap / rate) * 2 + 60)
end
return '0'
"#;

/// ARGV per key: capacity, rate, mode (observe|refund|drain), value.
const REPORT_SCRIPT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
for i = 1, #KEYS do
  local cap = tonumber(ARGV[(i-1)*4+1])
  local rate = tonumber(ARGV[(i-1)*4+2])
  local mode = ARGV[(i-1)*4+3]
  local value = tonumber(ARGV[(i-1)*4+4])
  local v = redis.call('HMGET', KEYS[i], 'a', 't')
  local a = tonumber(v[1]) or cap
  local at = tonumber(v[2]) or now
  a = math.min(cap, a + math.max(0, now - at) * rate)
  if mode == 'drain' then
    a = -value * rate
  elseif mode == 'refund' then
    a = math.min(cap, a + math.max(0, value))
  elseif mode == 'observe' then
    a = math.min(a, math.max(0, value))
  end
  redis.call('HSET', KEYS[i], 'a', tostring(a), 't', tostring(now))
  redis.call('EXPIRE', KEYS[i], math.ceil(cap / rate) * 2 + 60)
end
return 1
"#;

/// Buckets in Redis, shared by every worker process of a deployment.
#[derive(Clone)]
pub struct RedisGate {
    redis: ConnectionManager,
    prefix: String,
    reserve: std::sync::Arc<redis::Script>,
    report: std::sync::Arc<redis::Script>,
    /// Used while Redis cannot be reached, so calls stay within quota (per
    /// process) instead of stopping.
    fallback: std::sync::Arc<LocalGate>,
}

impl RedisGate {
    pub fn new(redis: ConnectionManager, prefix: impl Into<String>) -> Self {
        Self {
            redis,
            prefix: prefix.into(),
            reserve: std::sync::Arc::new(redis::Script::new(RESERVE_SCRIPT)),
            report: std::sync::Arc::new(redis::Script::new(REPORT_SCRIPT)),
            fallback: std::sync::Arc::new(LocalGate::default()),
        }
    }

    fn bucket_key(&self, key: &str, index: usize, scope: &str) -> String {
        format!("{}quota:{key}:{index}:{scope}", self.prefix)
    }
}

#[async_trait]
impl QuotaGate for RedisGate {
    async fn try_reserve(
        &self,
        key: &str,
        model: &QuotaModel,
        operation: &str,
        cost: f64,
    ) -> Result<(), Duration> {
        let mut invocation = self.reserve.prepare_invoke();
        let mut any = false;
        for (index, scoped) in model.applicable(operation) {
            any = true;
            let units = if scoped.limit.counts_points() {
                cost
            } else {
                1.0
            };
            invocation
                .key(self.bucket_key(key, index, scoped.scope.key()))
                .arg(scoped.limit.capacity())
                .arg(scoped.limit.refill_per_sec())
                .arg(units);
        }
        if !any {
            return Ok(());
        }
        let mut conn = self.redis.clone();
        match invocation.invoke_async::<String>(&mut conn).await {
            Ok(wait) => {
                let wait: f64 = wait.parse().unwrap_or(1.0);
                if wait > 0.0 { Err(secs(wait)) } else { Ok(()) }
            }
            Err(error) => {
                tracing::warn!(%error, "quota buckets in Redis unreachable; pacing this process alone");
                self.fallback.try_reserve(key, model, operation, cost).await
            }
        }
    }

    async fn report(
        &self,
        key: &str,
        model: &QuotaModel,
        operation: &str,
        reserved: f64,
        report: &QuotaReport,
    ) {
        let mut invocation = self.report.prepare_invoke();
        let mut any = false;
        for (index, scoped) in model.applicable(operation) {
            let limit = &scoped.limit;
            if report.throttled && !drains_on_throttle(limit) {
                continue;
            }
            let (mode, value) = if report.throttled {
                ("drain", report.retry_after_secs.unwrap_or(0.0))
            } else if limit.counts_points()
                && let Some(actual) = report.actual_cost
            {
                ("refund", reserved - actual)
            } else if let Some(available) = report.available {
                ("observe", available)
            } else {
                continue;
            };
            any = true;
            invocation
                .key(self.bucket_key(key, index, scoped.scope.key()))
                .arg(limit.capacity())
                .arg(limit.refill_per_sec())
                .arg(mode)
                .arg(value);
            // A points limit with both a refund and a remaining figure: the
            // remaining figure is applied as a second step below.
        }
        if any {
            let mut conn = self.redis.clone();
            if let Err(error) = invocation.invoke_async::<i64>(&mut conn).await {
                tracing::warn!(%error, "could not record a quota report in Redis");
            }
        }
        if !report.throttled
            && report.actual_cost.is_some()
            && let Some(available) = report.available
        {
            let observe = QuotaReport {
                available: Some(available),
                ..QuotaReport::default()
            };
            let mut invocation = self.report.prepare_invoke();
            let mut any = false;
            for (index, scoped) in model.applicable(operation) {
                if !scoped.limit.counts_points() {
                    continue;
                }
                any = true;
                invocation
                    .key(self.bucket_key(key, index, scoped.scope.key()))
                    .arg(scoped.limit.capacity())
                    .arg(scoped.limit.refill_per_sec())
                    .arg("observe")
                    .arg(observe.available.unwrap_or_default());
            }
            if any {
                let mut conn = self.redis.clone();
                let _ = invocation.invoke_async::<i64>(&mut conn).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shelfsync_core::quota::{Limit, Scope};

    #[tokio::test]
    async fn a_local_gate_refuses_past_the_burst_and_says_how_long() {
        let gate = LocalGate::default();
        let model = QuotaModel::unlimited().with(
            Scope::All,
            Limit::TokenBucket {
                rate_per_sec: 2.0,
                burst: 2.0,
            },
        );
        assert!(gate.try_reserve("c", &model, "op", 1.0).await.is_ok());
        assert!(gate.try_reserve("c", &model, "op", 1.0).await.is_ok());
        let wait = gate.try_reserve("c", &model, "op", 1.0).await.unwrap_err();
        assert!(wait <= Duration::from_millis(500), "{wait:?}");
        assert!(gate.try_reserve("other", &model, "op", 1.0).await.is_ok());
    }

    #[tokio::test]
    async fn a_throttle_does_not_empty_a_daily_cap() {
        let gate = LocalGate::default();
        let model = QuotaModel::unlimited()
            .with(
                Scope::All,
                Limit::TokenBucket {
                    rate_per_sec: 10.0,
                    burst: 10.0,
                },
            )
            .with(Scope::All, Limit::DailyCap { calls: 10_000.0 });
        let report = QuotaReport {
            throttled: true,
            retry_after_secs: Some(0.5),
            ..Default::default()
        };
        gate.report("c", &model, "op", 1.0, &report).await;
        let wait = gate.try_reserve("c", &model, "op", 1.0).await.unwrap_err();
        assert!(wait <= Duration::from_millis(700), "{wait:?}");
    }

    #[tokio::test]
    async fn a_throttle_report_empties_the_bucket_until_retry_after() {
        let gate = LocalGate::default();
        let model = QuotaModel::unlimited().with(
            Scope::All,
            Limit::LeakyBucket {
                capacity: 40.0,
                leak_per_sec: 2.0,
            },
        );
        gate.try_reserve("c", &model, "op", 1.0).await.unwrap();
        let report = QuotaReport {
            throttled: true,
            retry_after_secs: Some(3.0),
            ..Default::default()
        };
        gate.report("c", &model, "op", 1.0, &report).await;
        let wait = gate.try_reserve("c", &model, "op", 1.0).await.unwrap_err();
        assert!(wait >= Duration::from_millis(3400), "{wait:?}");
    }
}
