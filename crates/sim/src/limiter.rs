//! The platforms' rate limits, enforced the way the platforms enforce them:
//! one bucket per account and limit, on the simulator's clock. Uses the same
//! bucket arithmetic as the adapters (`shelfsync_core::quota`), which is
//! the point: the simulator answers 429 exactly when the platform would.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use shelfsync_core::quota::{Bucket, Limit, QuotaModel};

/// The state of one limit after a call was admitted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Admitted {
    /// Units left in the bucket.
    pub remaining: f64,
    pub capacity: f64,
    pub refill_per_sec: f64,
}

/// A refused call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Refused {
    /// Seconds until the call would pass.
    pub retry_after: f64,
    pub remaining: f64,
    pub capacity: f64,
    pub refill_per_sec: f64,
}

pub struct Limiter {
    epoch: Instant,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Default for Limiter {
    fn default() -> Self {
        Self {
            epoch: Instant::now(),
            buckets: Mutex::new(HashMap::new()),
        }
    }
}

impl Limiter {
    fn now(&self) -> f64 {
        self.epoch.elapsed().as_secs_f64()
    }

    /// Charge a call of `operation` costing `cost` units (points for
    /// cost-based limits; requests count 1) against every applicable limit
    /// of `model` for `account`, all or nothing. On success, the state of
    /// each applicable limit in model order.
    pub fn admit(
        &self,
        platform: &str,
        account: &str,
        model: &QuotaModel,
        operation: &str,
        cost: f64,
    ) -> Result<Vec<Admitted>, Refused> {
        let now = self.now();
        let mut buckets = self.buckets.lock().unwrap();
        let mut next = Vec::new();
        let mut refused: Option<Refused> = None;
        for (index, scoped) in model.applicable(operation) {
            let key = format!("{platform}/{account}/{index}/{}", scoped.scope.key());
            let limit = scoped.limit;
            let bucket = *buckets
                .entry(key.clone())
                .or_insert_with(|| Bucket::full(&limit, now));
            let units = if limit.counts_points() { cost } else { 1.0 };
            match bucket.take(&limit, units, now) {
                Ok(taken) => next.push((key, taken, limit)),
                Err(wait) => {
                    let current = bucket.refilled(&limit, now);
                    let r = Refused {
                        retry_after: wait,
                        remaining: current.available,
                        capacity: limit.capacity(),
                        refill_per_sec: limit.refill_per_sec(),
                    };
                    if refused.is_none_or(|old| old.retry_after < wait) {
                        refused = Some(r);
                    }
                }
            }
        }
        if let Some(refused) = refused {
            return Err(refused);
        }
        Ok(next
            .into_iter()
            .map(|(key, taken, limit)| {
                buckets.insert(key, taken);
                Admitted {
                    remaining: taken.available,
                    capacity: limit.capacity(),
                    refill_per_sec: limit.refill_per_sec(),
                }
            })
            .collect())
    }

    /// Units now available on one limit, without charging (for status
    /// fields such as Shopify's `currentlyAvailable`).
    pub fn available(
        &self,
        platform: &str,
        account: &str,
        model: &QuotaModel,
        index: usize,
    ) -> f64 {
        let now = self.now();
        let Some(scoped) = model.limits.get(index) else {
            return 0.0;
        };
        let key = format!("{platform}/{account}/{index}/{}", scoped.scope.key());
        let buckets = self.buckets.lock().unwrap();
        buckets
            .get(&key)
            .map(|b| b.refilled(&scoped.limit, now).available)
            .unwrap_or_else(|| scoped.limit.capacity())
    }

    /// Give back units (a Shopify query that cost less than requested).
    pub fn refund(
        &self,
        platform: &str,
        account: &str,
        model: &QuotaModel,
        index: usize,
        units: f64,
    ) {
        let now = self.now();
        let Some(scoped) = model.limits.get(index) else {
            return;
        };
        let key = format!("{platform}/{account}/{index}/{}", scoped.scope.key());
        let mut buckets = self.buckets.lock().unwrap();
        if let Some(bucket) = buckets.get_mut(&key) {
            *bucket = bucket.refund(&scoped.limit, units, now);
        }
    }

    /// Forget every bucket of an account (a test changing its quota).
    pub fn reset(&self, platform: &str, account: &str) {
        let prefix = format!("{platform}/{account}/");
        self.buckets
            .lock()
            .unwrap()
            .retain(|k, _| !k.starts_with(&prefix));
    }
}

/// A limit's short description for headers and docs.
pub fn describe(limit: &Limit) -> String {
    format!(
        "{}/{}s",
        limit.capacity(),
        limit.capacity() / limit.refill_per_sec()
    )
}
