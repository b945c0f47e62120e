//! Outgoing webhooks: the simulated platforms call their subscribers the
//! way the real ones do (signed, at least once, sometimes twice, sometimes
//! never when a fault says so).

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::SimCore;

/// Where one account's webhooks go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    pub id: String,
    pub platform: String,
    pub account: String,
    pub url: String,
    /// The secret the platform signs with for this subscription.
    pub secret: String,
    /// Topics in the platform's own names; empty means all.
    #[serde(default)]
    pub topics: Vec<String>,
}

#[derive(Default)]
pub struct Subscriptions {
    list: Mutex<Vec<Subscription>>,
}

impl Subscriptions {
    pub fn add(&self, subscription: Subscription) {
        self.list.lock().unwrap().push(subscription);
    }

    pub fn remove(&self, id: &str) -> bool {
        let mut list = self.list.lock().unwrap();
        let before = list.len();
        list.retain(|s| s.id != id);
        list.len() != before
    }

    pub fn for_account(&self, platform: &str, account: &str) -> Vec<Subscription> {
        self.list
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.platform == platform && s.account == account)
            .cloned()
            .collect()
    }
}

/// Send `body` on `topic` to every subscriber of the account, in the
/// background. `sign` gives the headers for one subscription (its
/// signature, topic and event-id headers in the platform's names).
pub fn deliver(
    core: &Arc<SimCore>,
    platform: &str,
    account: &str,
    topic: &str,
    body: Vec<u8>,
    sign: impl Fn(&Subscription, &[u8]) -> Vec<(String, String)> + Send + Sync + 'static,
) {
    let targets: Vec<Subscription> = core
        .subscriptions
        .for_account(platform, account)
        .into_iter()
        .filter(|s| s.topics.is_empty() || s.topics.iter().any(|t| t == topic))
        .collect();
    if targets.is_empty() {
        return;
    }
    let faults = core.faults.get(platform);
    let core = core.clone();
    let (platform, account) = (platform.to_owned(), account.to_owned());
    tokio::spawn(async move {
        for target in targets {
            if rand::random::<f64>() < faults.webhook_drop_rate {
                core.stats.webhook(&platform, &account, false);
                continue;
            }
            let copies = if rand::random::<f64>() < faults.webhook_duplicate_rate {
                2
            } else {
                1
            };
            for _ in 0..copies {
                let mut request = core
                    .client
                    .post(&target.url)
                    .header("content-type", "application/json")
                    .body(body.clone());
                for (name, value) in sign(&target, &body) {
                    request = request.header(name, value);
                }
                match request.send().await {
                    Ok(_) => core.stats.webhook(&platform, &account, true),
                    Err(error) => {
                        tracing::debug!(%error, url = %target.url, "webhook delivery failed");
                        core.stats.webhook(&platform, &account, false);
                    }
                }
            }
        }
    });
}
