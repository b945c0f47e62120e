//! The scaled deployment as processes: one `shelfsync api` and two `shelfsync
//! worker` on PostgreSQL and Redis. 10,000 outbox events are written through
//! the API while one worker is killed with SIGKILL; every event must be
//! relayed exactly once and all resulting work done, down to what the
//! (simulated) channel holds.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use shelfsync_core::{ProductId, TenantId, VariantId};
use shelfsync_testkit::{Backend, TestDatabase, free_port};

const KEY: &str = "ssk_pipelinetestpipelinetestpipelinetest0000";

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn shelfsync(db: &TestDatabase, args: &[&str]) -> Process {
    let child = Command::new(env!("CARGO_BIN_EXE_shelfsync"))
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("REDIS_URL", db.redis_url.as_deref().unwrap())
        .env("SHELFSYNC_BOOTSTRAP_API_KEY", KEY)
        .env(
            "SHELFSYNC_ENCRYPTION_KEYS",
            "pipeline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        )
        .env("SHELFSYNC_RATE_LIMIT_PER_MINUTE", "1000000")
        .env("SHELFSYNC_JOB_LEASE_SECS", "3")
        .env("SHELFSYNC_DB_MAX_CONNECTIONS", "8")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    Process(child)
}

async fn scalar(pool: &sqlx::PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

fn products(prefix: &str, n: usize) -> Value {
    let products: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "title": format!("{prefix} {i}"),
                "variants": [{ "sku": format!("{prefix}-{i}"), "price": "5.00", "inventory_quantity": 100 }]
            })
        })
        .collect();
    json!({ "products": products })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_events_survive_a_killed_worker() {
    let Some(db) = TestDatabase::create(Backend::Postgres).await else {
        return;
    };
    let pool = db.store.postgres_pool().unwrap().clone();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let _api = shelfsync(&db, &["api", "--listen", &listen]);
    let mut doomed = Some(shelfsync(&db, &["worker"]));
    let _survivor = shelfsync(&db, &["worker"]);

    let base = format!("http://{listen}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.get(format!("{base}/readyz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "the API never came up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // 100 listed products on one connection: their changes fan out to it.
    let listed: Value = client
        .post(format!("{base}/v1/products/bulk"))
        .bearer_auth(KEY)
        .json(&products("Listed", 100))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tenant: TenantId = TenantId::from_uuid(
        sqlx::query_scalar("SELECT tenant_id FROM api_keys LIMIT 1")
            .fetch_one(&pool)
            .await
            .unwrap(),
    );
    // The listed products go to a simulated WooCommerce store.
    let sim = shelfsync_sim::Simulator::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let creds = sim.create_account("woocommerce", "store1", None);
    let created: Value = client
        .post(format!("{base}/v1/connections"))
        .bearer_auth(KEY)
        .json(&json!({
            "platform": "woocommerce",
            "name": "Woo",
            "account": format!("{}/store1", sim.base("woocommerce")),
            "credentials": {
                "consumer_key": creds.consumer_key,
                "consumer_secret": creds.consumer_secret,
            },
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let connection: shelfsync_core::ConnectionId = created["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no connection: {created}"))
        .parse()
        .unwrap();
    let mut variants: Vec<VariantId> = Vec::new();
    for item in listed["results"].as_array().unwrap() {
        let id: ProductId = item["product_id"].as_str().unwrap().parse().unwrap();
        let product = db.store.get_product(tenant, id).await.unwrap().unwrap();
        let variant = product.variants[0].id;
        db.store
            .upsert_listing(tenant, connection, id, variant)
            .await
            .unwrap();
        variants.push(variant);
    }

    // 9,000 new products in bulk, and 900 stock changes on listed variants,
    // written at once while the workers relay.
    let writers = {
        let bulk = {
            let client = client.clone();
            let base = base.clone();
            tokio::spawn(async move {
                for batch in 0..9 {
                    let r = client
                        .post(format!("{base}/v1/products/bulk"))
                        .bearer_auth(KEY)
                        .json(&products(&format!("New{batch}"), 1000))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 200);
                }
            })
        };
        let stock = {
            let client = client.clone();
            let base = base.clone();
            tokio::spawn(async move {
                for i in 0..900 {
                    let variant = variants[i % variants.len()];
                    let r = client
                        .put(format!("{base}/v1/variants/{variant}/inventory"))
                        .bearer_auth(KEY)
                        .json(&json!({ "adjust": -1 }))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
                }
            })
        };
        (bulk, stock)
    };

    // Kill one worker once a good share of the events has been relayed.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let relayed = scalar(
            &pool,
            "SELECT COUNT(*) FROM outbox_events WHERE processed_at IS NOT NULL",
        )
        .await;
        if relayed >= 3_000 {
            let written = scalar(&pool, "SELECT COUNT(*) FROM outbox_events").await;
            assert!(
                written < 10_000,
                "the kill should land while events are still being written ({written} written)"
            );
            let mut worker = doomed.take().unwrap();
            worker.0.kill().unwrap(); // SIGKILL: no shutdown, no hand-back.
            worker.0.wait().unwrap();
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {relayed} events relayed in time"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    writers.0.await.unwrap();
    writers.1.await.unwrap();

    // The survivor finishes everything: the outbox, and the sync jobs.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let backlog = scalar(
            &pool,
            "SELECT COUNT(*) FROM outbox_events WHERE processed_at IS NULL",
        )
        .await;
        let jobs = scalar(&pool, "SELECT COUNT(*) FROM jobs WHERE queue = 'sync'").await;
        if backlog == 0 && jobs == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "stuck: {backlog} unrelayed events, {jobs} sync jobs"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    assert_eq!(
        scalar(&pool, "SELECT COUNT(*) FROM outbox_events").await,
        10_000
    );
    assert_eq!(
        scalar(
            &pool,
            "SELECT COUNT(*) FROM outbox_events WHERE attempts <> 1"
        )
        .await,
        0,
        "every event was relayed exactly once"
    );
    assert_eq!(
        scalar(&pool, "SELECT COUNT(*) FROM jobs WHERE state = 'dead'").await,
        0
    );
    // Heartbeats carry the counts, every 5 s.
    let deadline = Instant::now() + Duration::from_secs(15);
    while scalar(
        &pool,
        "SELECT COALESCE(SUM(jobs_done), 0)::BIGINT FROM worker_heartbeats",
    )
    .await
        < 1
    {
        assert!(Instant::now() < deadline, "no sync job was run");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let stale = scalar(
        &pool,
        "SELECT COUNT(*) FROM worker_heartbeats WHERE stopped_at IS NULL",
    )
    .await;
    assert_eq!(stale, 2, "the killed worker is still listed, never stopped");

    let unsynced: Vec<(String, Option<String>, i64)> = sqlx::query_as(
        "SELECT status, last_error, COUNT(*) FROM platform_listings WHERE status <> 'synced' GROUP BY 1, 2",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(unsynced.is_empty(), "listings left unsynced: {unsynced:?}");

    // The channel ends where the catalog is: 900 sales over 100 listed
    // variants leave each at 91, whichever worker pushed them.
    let held: Value = reqwest::get(format!("{}/_sim/woocommerce/store1/listings", sim.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let held = held.as_array().unwrap();
    assert_eq!(held.len(), 100);
    for product in held {
        assert_eq!(product["variants"][0]["quantity"], 91, "{product}");
    }
}
