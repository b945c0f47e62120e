//! What each simulated account was asked and answered, so tests can check
//! quota use ("no 429, at least 90% of the allowed rate") from outside.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Instant;

use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize)]
pub struct AccountStats {
    pub requests: u64,
    /// Calls answered 429 (or a platform's in-body throttle).
    pub throttled: u64,
    /// Calls refused by an injected fault.
    pub faults: u64,
    /// Units charged to the quota by admitted calls.
    pub cost: f64,
    pub by_operation: BTreeMap<String, u64>,
    pub by_status: BTreeMap<u16, u64>,
    /// Seconds since the simulator started, of the first and last admitted call.
    pub first_at: Option<f64>,
    pub last_at: Option<f64>,
    pub webhooks_sent: u64,
    pub webhooks_dropped: u64,
}

pub struct Stats {
    epoch: Instant,
    accounts: Mutex<HashMap<String, AccountStats>>,
}

impl Default for Stats {
    fn default() -> Self {
        Self {
            epoch: Instant::now(),
            accounts: Mutex::new(HashMap::new()),
        }
    }
}

impl Stats {
    fn with(&self, platform: &str, account: &str, f: impl FnOnce(&mut AccountStats)) {
        let mut all = self.accounts.lock().unwrap();
        f(all.entry(format!("{platform}/{account}")).or_default());
    }

    /// One API call and how it was answered.
    pub fn call(&self, platform: &str, account: &str, operation: &str, status: u16, cost: f64) {
        let now = self.epoch.elapsed().as_secs_f64();
        self.with(platform, account, |s| {
            s.requests += 1;
            *s.by_operation.entry(operation.to_owned()).or_default() += 1;
            *s.by_status.entry(status).or_default() += 1;
            if status == 429 {
                s.throttled += 1;
            } else {
                s.cost += cost;
                s.first_at.get_or_insert(now);
                s.last_at = Some(now);
            }
        });
    }

    /// A throttle signalled inside a 200 (Shopify GraphQL).
    pub fn throttled_in_body(&self, platform: &str, account: &str, operation: &str) {
        self.with(platform, account, |s| {
            s.requests += 1;
            s.throttled += 1;
            *s.by_operation.entry(operation.to_owned()).or_default() += 1;
        });
    }

    pub fn fault(&self, platform: &str, account: &str) {
        self.with(platform, account, |s| s.faults += 1);
    }

    pub fn webhook(&self, platform: &str, account: &str, sent: bool) {
        self.with(platform, account, |s| {
            if sent {
                s.webhooks_sent += 1;
            } else {
                s.webhooks_dropped += 1;
            }
        });
    }

    pub fn snapshot(&self) -> BTreeMap<String, AccountStats> {
        self.accounts
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    pub fn account(&self, platform: &str, account: &str) -> AccountStats {
        self.accounts
            .lock()
            .unwrap()
            .get(&format!("{platform}/{account}"))
            .cloned()
            .unwrap_or_default()
    }

    pub fn reset(&self) {
        self.accounts.lock().unwrap().clear();
    }
}
