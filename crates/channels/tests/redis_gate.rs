//! The Redis quota gate shared by several worker processes: two gates (as
//! two processes) drawing from one bucket together never take more than the
//! bucket allows, and a throttle report empties it for both.

use std::sync::Arc;
use std::time::{Duration, Instant};

use shelfsync_channels::{QuotaGate, RedisGate};
use shelfsync_core::quota::{Limit, QuotaModel, QuotaReport, Scope};

async fn gate(url: &str, prefix: &str) -> RedisGate {
    let client = redis::Client::open(url).unwrap();
    let manager = redis::aio::ConnectionManager::new(client).await.unwrap();
    RedisGate::new(manager, prefix)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_one_budget() {
    let Some(url) = shelfsync_testkit::service_url("SHELFSYNC_TEST_REDIS_URL", "redis quota gate")
    else {
        return;
    };
    let prefix = format!("shelfsync-test:{}:", uuid::Uuid::new_v4().simple());
    let a = Arc::new(gate(&url, &prefix).await);
    let b = Arc::new(gate(&url, &prefix).await);
    let model = QuotaModel::unlimited().with(
        Scope::All,
        Limit::TokenBucket {
            rate_per_sec: 20.0,
            burst: 10.0,
        },
    );
    let start = Instant::now();
    let window = Duration::from_secs(2);
    let mut tasks = Vec::new();
    for g in [a.clone(), b.clone(), a.clone(), b.clone()] {
        let model = model.clone();
        tasks.push(tokio::spawn(async move {
            let mut taken = 0u32;
            while start.elapsed() < window {
                if g.try_reserve("conn-1", &model, "op", 1.0).await.is_ok() {
                    taken += 1;
                } else {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            taken
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let allowed = 10.0 + 20.0 * elapsed;
    println!("taken {total} of {allowed:.0} allowed in {elapsed:.2} s");
    assert!(f64::from(total) <= allowed + 1.0, "{total} > {allowed}");
    assert!(
        f64::from(total) >= 0.9 * (10.0 + 20.0 * window.as_secs_f64()),
        "{total}"
    );

    // A 429 seen by one process holds the other back too.
    a.report(
        "conn-1",
        &model,
        "op",
        1.0,
        &QuotaReport {
            throttled: true,
            retry_after_secs: Some(2.0),
            ..Default::default()
        },
    )
    .await;
    let wait = b
        .try_reserve("conn-1", &model, "op", 1.0)
        .await
        .unwrap_err();
    assert!(wait >= Duration::from_millis(1500), "{wait:?}");
}
