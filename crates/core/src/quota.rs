//! Outbound quota models: how much a channel lets us call, and when the next
//! call may go.
//!
//! Every platform's limit is one of four shapes, described here in the
//! platform's own terms so a reader can check them against its docs:
//!
//! * a **leaky bucket** of requests (Shopify REST, WooCommerce hosts that set one),
//! * **cost points** drawn from a bucket that refills per second (Shopify GraphQL),
//! * a **token bucket** with a sustained rate and a burst, per operation (Amazon
//!   SP-API usage plans, Etsy's per-second limit),
//! * a **daily cap** (eBay's call limits, Etsy's per-day limit).
//!
//! The first three are the same arithmetic (a bucket of `capacity` units that
//! refills at `refill_per_sec`, each call taking `cost` units); a daily cap
//! is a bucket whose refill is spread over the day. So one [`Bucket`] state
//! serves them all, and the rules for "may I send now, and if not, how long
//! until I may" live in one tested place.
//!
//! Pure: the clock is passed in as seconds (`now`), never read.

use serde::{Deserialize, Serialize};

/// One limit a platform enforces.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Limit {
    /// Requests fill a bucket of `capacity` that leaks `leak_per_sec`.
    LeakyBucket { capacity: f64, leak_per_sec: f64 },
    /// Each call costs points from `capacity`, restored at `restore_per_sec`.
    CostPoints { capacity: f64, restore_per_sec: f64 },
    /// Requests spend tokens refilled at `rate_per_sec`, at most `burst` saved.
    TokenBucket { rate_per_sec: f64, burst: f64 },
    /// At most `calls` per rolling 24 hours.
    DailyCap { calls: f64 },
}

impl Limit {
    /// The bucket's size in units (requests or points).
    pub fn capacity(&self) -> f64 {
        match *self {
            Limit::LeakyBucket { capacity, .. } => capacity,
            Limit::CostPoints { capacity, .. } => capacity,
            Limit::TokenBucket { burst, .. } => burst,
            Limit::DailyCap { calls } => calls,
        }
    }

    /// Units restored per second.
    pub fn refill_per_sec(&self) -> f64 {
        match *self {
            Limit::LeakyBucket { leak_per_sec, .. } => leak_per_sec,
            Limit::CostPoints {
                restore_per_sec, ..
            } => restore_per_sec,
            Limit::TokenBucket { rate_per_sec, .. } => rate_per_sec,
            Limit::DailyCap { calls } => calls / 86_400.0,
        }
    }

    /// Whether a call is charged in points (the adapter's estimate) rather
    /// than as one request.
    pub fn counts_points(&self) -> bool {
        matches!(self, Limit::CostPoints { .. })
    }
}

/// Which calls a limit applies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Every call on the connection.
    All,
    /// Only calls of this operation (Amazon rates `putListingsItem` and
    /// `getListingsItem` separately).
    Operation(String),
}

impl Scope {
    pub fn applies_to(&self, operation: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Operation(op) => op == operation,
        }
    }

    /// A stable name for keys in a shared store.
    pub fn key(&self) -> &str {
        match self {
            Scope::All => "*",
            Scope::Operation(op) => op,
        }
    }
}

/// A limit and the calls it covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScopedLimit {
    pub scope: Scope,
    pub limit: Limit,
}

/// Everything a connection's platform enforces. An empty model means the
/// platform sets no limit (WooCommerce by default); the client still caps
/// its own concurrency.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct QuotaModel {
    pub limits: Vec<ScopedLimit>,
}

impl QuotaModel {
    pub fn unlimited() -> Self {
        Self::default()
    }

    pub fn with(mut self, scope: Scope, limit: Limit) -> Self {
        self.limits.push(ScopedLimit { scope, limit });
        self
    }

    /// The same model paced with one request of each request-counted burst
    /// held back. A platform starts its bucket when our first call arrives,
    /// a network trip after ours starts, so pacing to the last token can
    /// land a call a moment early; one token in hand absorbs that delay.
    /// Costs nothing in sustained rate.
    pub fn with_burst_reserve(&self) -> QuotaModel {
        let mut model = self.clone();
        for scoped in &mut model.limits {
            scoped.limit = match scoped.limit {
                Limit::TokenBucket {
                    rate_per_sec,
                    burst,
                } if burst >= 2.0 => Limit::TokenBucket {
                    rate_per_sec,
                    burst: burst - 1.0,
                },
                Limit::LeakyBucket {
                    capacity,
                    leak_per_sec,
                } if capacity >= 2.0 => Limit::LeakyBucket {
                    capacity: capacity - 1.0,
                    leak_per_sec,
                },
                other => other,
            };
        }
        model
    }

    /// The limits a call of `operation` must pass, with their index.
    pub fn applicable<'a>(
        &'a self,
        operation: &'a str,
    ) -> impl Iterator<Item = (usize, &'a ScopedLimit)> + 'a {
        self.limits
            .iter()
            .enumerate()
            .filter(move |(_, l)| l.scope.applies_to(operation))
    }

    /// The sustained units per minute the model allows for `operation`: the
    /// tightest applicable limit. `None` when nothing limits it.
    pub fn per_minute(&self, operation: &str) -> Option<f64> {
        self.applicable(operation)
            .map(|(_, l)| l.limit.refill_per_sec() * 60.0)
            .reduce(f64::min)
    }
}

/// Seconds a burst of calls takes to get through `model`, starting from
/// full buckets: each limit lets its capacity through at once and the rest
/// at its sustained rate; the slowest limit decides. `calls` counts calls
/// per operation; `points` is their total cost for point-charged limits
/// (shared among operations in proportion to their calls when a points
/// limit covers only some of them). An unlimited model takes no time.
///
/// Pure, so a dry run can say how long a sync would take without asking
/// the gate (which would also reserve).
pub fn drain_seconds(
    model: &QuotaModel,
    calls: &std::collections::BTreeMap<String, u32>,
    points: f64,
) -> f64 {
    let total: u32 = calls.values().sum();
    if total == 0 {
        return 0.0;
    }
    model
        .limits
        .iter()
        .map(|scoped| {
            let covered: u32 = calls
                .iter()
                .filter(|(op, _)| scoped.scope.applies_to(op))
                .map(|(_, n)| *n)
                .sum();
            let demand = if scoped.limit.counts_points() {
                points * f64::from(covered) / f64::from(total)
            } else {
                f64::from(covered)
            };
            let over = demand - scoped.limit.capacity();
            let rate = scoped.limit.refill_per_sec();
            if over <= 0.0 {
                0.0
            } else if rate <= 0.0 {
                f64::INFINITY
            } else {
                over / rate
            }
        })
        .fold(0.0, f64::max)
}

/// The fill of one bucket at one instant: `available` units free at `at`
/// (seconds on the caller's clock).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    pub available: f64,
    pub at: f64,
}

impl Bucket {
    /// A bucket nobody has drawn from yet.
    pub fn full(limit: &Limit, now: f64) -> Self {
        Self {
            available: limit.capacity(),
            at: now,
        }
    }

    /// The fill at `now`, refilled since `at` and capped at the capacity.
    pub fn refilled(&self, limit: &Limit, now: f64) -> Self {
        let elapsed = (now - self.at).max(0.0);
        Self {
            available: (self.available + elapsed * limit.refill_per_sec()).min(limit.capacity()),
            at: now.max(self.at),
        }
    }

    /// Take `cost` units at `now` if they are there; otherwise say how many
    /// seconds until they will be. A cost above the capacity is clamped to
    /// it, so an oversized call waits for a full bucket instead of forever.
    pub fn take(&self, limit: &Limit, cost: f64, now: f64) -> Result<Bucket, f64> {
        let current = self.refilled(limit, now);
        let cost = cost.min(limit.capacity());
        if current.available + 1e-9 >= cost {
            Ok(Bucket {
                available: current.available - cost,
                at: current.at,
            })
        } else {
            let rate = limit.refill_per_sec();
            if rate <= 0.0 {
                return Err(f64::INFINITY);
            }
            Err((cost - current.available) / rate)
        }
    }

    /// Give back units reserved for a call that cost less than estimated
    /// (Shopify reports the actual cost after the call).
    pub fn refund(&self, limit: &Limit, units: f64, now: f64) -> Bucket {
        let current = self.refilled(limit, now);
        Bucket {
            available: (current.available + units.max(0.0)).min(limit.capacity()),
            at: current.at,
        }
    }

    /// Adopt what the platform reported as still available. The platform is
    /// the authority, but a report can be older than calls we have already
    /// reserved since, so we only ever lower our own figure: trusting a
    /// higher report could double-spend units already promised.
    pub fn observe(&self, limit: &Limit, reported_available: f64, now: f64) -> Bucket {
        let current = self.refilled(limit, now);
        Bucket {
            available: current.available.min(reported_available.max(0.0)),
            at: current.at,
        }
    }

    /// Empty the bucket: the platform said 429, so whatever we believed was wrong.
    pub fn drained(&self, now: f64) -> Bucket {
        Bucket {
            available: 0.0,
            at: now.max(self.at),
        }
    }
}

/// What the adapter learnt from a response about one limit.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QuotaReport {
    /// Units the platform says remain (after this call).
    pub available: Option<f64>,
    /// Units this call actually cost, when the platform says (cost points).
    pub actual_cost: Option<f64>,
    /// The platform throttled the call; wait this long (Retry-After) if it said.
    pub throttled: bool,
    pub retry_after_secs: Option<f64>,
}

/// Reserve `cost` on every applicable limit at once, or none: a call must
/// pass all of them. On refusal, the longest wait among the limits.
pub fn reserve(
    model: &QuotaModel,
    buckets: &mut [Bucket],
    operation: &str,
    cost: f64,
    now: f64,
) -> Result<(), f64> {
    let mut next: Vec<(usize, Bucket)> = Vec::new();
    let mut wait: f64 = 0.0;
    for (index, scoped) in model.applicable(operation) {
        let units = if scoped.limit.counts_points() {
            cost
        } else {
            1.0
        };
        match buckets[index].take(&scoped.limit, units, now) {
            Ok(bucket) => next.push((index, bucket)),
            Err(secs) => wait = wait.max(secs),
        }
    }
    if wait > 0.0 {
        return Err(wait);
    }
    for (index, bucket) in next {
        buckets[index] = bucket;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const POINTS: Limit = Limit::CostPoints {
        capacity: 1000.0,
        restore_per_sec: 50.0,
    };
    const TOKENS: Limit = Limit::TokenBucket {
        rate_per_sec: 5.0,
        burst: 10.0,
    };

    #[test]
    fn a_full_bucket_lets_a_burst_through_then_paces_at_the_rate() {
        let mut bucket = Bucket::full(&TOKENS, 0.0);
        for _ in 0..10 {
            bucket = bucket.take(&TOKENS, 1.0, 0.0).unwrap();
        }
        let wait = bucket.take(&TOKENS, 1.0, 0.0).unwrap_err();
        assert!((wait - 0.2).abs() < 1e-9, "{wait}");
        assert!(bucket.take(&TOKENS, 1.0, 0.2).is_ok());
    }

    #[test]
    fn points_refill_but_never_beyond_capacity() {
        let bucket = Bucket {
            available: 900.0,
            at: 0.0,
        };
        assert_eq!(bucket.refilled(&POINTS, 10.0).available, 1000.0);
        assert_eq!(bucket.refilled(&POINTS, 1.0).available, 950.0);
    }

    #[test]
    fn an_oversized_call_waits_for_a_full_bucket() {
        let bucket = Bucket {
            available: 0.0,
            at: 0.0,
        };
        let wait = bucket.take(&POINTS, 5000.0, 0.0).unwrap_err();
        assert_eq!(wait, 20.0);
    }

    #[test]
    fn reports_only_lower_our_figure() {
        let bucket = Bucket::full(&POINTS, 0.0);
        assert_eq!(bucket.observe(&POINTS, 400.0, 0.0).available, 400.0);
        let low = Bucket {
            available: 100.0,
            at: 0.0,
        };
        assert_eq!(low.observe(&POINTS, 900.0, 0.0).available, 100.0);
    }

    #[test]
    fn a_refund_returns_overestimated_points() {
        let bucket = Bucket {
            available: 100.0,
            at: 0.0,
        };
        assert_eq!(bucket.refund(&POINTS, 40.0, 0.0).available, 140.0);
        assert_eq!(bucket.refund(&POINTS, 5000.0, 0.0).available, 1000.0);
    }

    #[test]
    fn a_daily_cap_spreads_its_refill_over_the_day() {
        let cap = Limit::DailyCap { calls: 86_400.0 };
        assert_eq!(cap.refill_per_sec(), 1.0);
    }

    #[test]
    fn reserve_takes_from_every_applicable_limit_or_none() {
        let model = QuotaModel::unlimited()
            .with(Scope::All, Limit::DailyCap { calls: 100.0 })
            .with(Scope::Operation("put".into()), TOKENS);
        let mut buckets: Vec<Bucket> = model
            .limits
            .iter()
            .map(|l| Bucket::full(&l.limit, 0.0))
            .collect();
        for _ in 0..10 {
            reserve(&model, &mut buckets, "put", 1.0, 0.0).unwrap();
        }
        let before = buckets[0].available;
        assert!(reserve(&model, &mut buckets, "put", 1.0, 0.0).is_err());
        assert_eq!(buckets[0].available, before, "a refused call takes nothing");
        assert!(reserve(&model, &mut buckets, "get", 1.0, 0.0).is_ok());
    }

    #[test]
    fn per_minute_is_the_tightest_limit() {
        let model = QuotaModel::unlimited()
            .with(Scope::All, Limit::DailyCap { calls: 86_400.0 })
            .with(Scope::All, TOKENS);
        assert_eq!(model.per_minute("x"), Some(60.0));
        assert_eq!(QuotaModel::unlimited().per_minute("x"), None);
    }
    #[test]
    fn draining_a_plan_waits_only_past_the_burst_at_the_slowest_limit() {
        let calls = |pairs: &[(&str, u32)]| {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect::<std::collections::BTreeMap<_, _>>()
        };
        // 10 burst, 5/s: 30 calls wait for 20 more tokens, 4 s.
        let model = QuotaModel::unlimited().with(Scope::All, TOKENS);
        assert_eq!(drain_seconds(&model, &calls(&[("put", 30)]), 30.0), 4.0);
        assert_eq!(drain_seconds(&model, &calls(&[("put", 10)]), 10.0), 0.0);
        // Points: 3,000 points through a 1,000 bucket restored at 50/s.
        let points = QuotaModel::unlimited().with(Scope::All, POINTS);
        assert_eq!(drain_seconds(&points, &calls(&[("set", 3)]), 3000.0), 40.0);
        // Operation scopes: only the covered calls count; the slowest wins.
        let scoped = QuotaModel::unlimited()
            .with(Scope::Operation("put".into()), TOKENS)
            .with(
                Scope::Operation("get".into()),
                Limit::TokenBucket {
                    rate_per_sec: 1.0,
                    burst: 1.0,
                },
            );
        let plan = calls(&[("put", 20), ("get", 5), ("other", 100)]);
        assert_eq!(drain_seconds(&scoped, &plan, 125.0), 4.0);
        assert_eq!(
            drain_seconds(&QuotaModel::unlimited(), &plan, 125.0),
            0.0,
            "no limit, no wait"
        );
    }
}
