//! Catalog changes reach a channel: the outbox relay marks listings
//! pending, the sync job pushes them through the channel adapter (here the
//! simulated WooCommerce), and rapid edits made while pushes are in flight
//! are coalesced instead of sent one by one.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use shelfsync_channels::{ChannelDeps, ConnectionSecrets, Credentials};
use shelfsync_core::catalog::NewProduct;
use shelfsync_core::vault::{ExposeSecret, KeyRing};
use shelfsync_core::{ConnectionId, Platform};
use shelfsync_runtime::connections::{ChannelHub, ChannelSettings};
use shelfsync_runtime::push::{ChannelPush, ROUND};
use shelfsync_runtime::{
    Backoff, ConnectionSync, JobContext, JobError, Runtime, RuntimeConfig, Wakeups, WorkerKind,
};
use shelfsync_store::{
    ListingLink, ListingOutcome, ListingResult, NewConnection, SYNC_QUEUE, WriteContext,
};
use shelfsync_testkit::{TestDatabase, backend_tests};

backend_tests!(
    catalog_changes_reach_the_channel_and_rapid_edits_coalesce,
    a_run_out_of_budget_hands_the_rest_to_a_follow_up_run,
    failed_listings_are_made_pending_when_their_retry_is_due,
);

fn config() -> RuntimeConfig {
    RuntimeConfig {
        lease: Duration::from_secs(5),
        poll: Duration::from_millis(200),
        grace: Duration::from_secs(5),
        heartbeat: Duration::from_millis(200),
        max_attempts: 5,
        backoff: Backoff {
            base: Duration::from_millis(200),
            max: Duration::from_secs(2),
        },
        ..RuntimeConfig::default()
    }
}

async fn sim_listings(sim: &shelfsync_sim::Simulator, store: &str) -> Value {
    reqwest::get(format!("{}/_sim/woocommerce/{store}/listings", sim.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Waits until the simulated store holds what `done` accepts.
async fn until(sim: &shelfsync_sim::Simulator, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let listings = sim_listings(sim, "store1").await;
        if done(&listings) {
            return listings;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: the channel holds {listings}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn quantity(listings: &Value, sku: &str) -> Option<i64> {
    listings.as_array()?.iter().find_map(|p| {
        p["variants"]
            .as_array()?
            .iter()
            .find(|v| v["sku"] == sku)
            .and_then(|v| v["quantity"].as_i64())
    })
}

/// The simulated WooCommerce store `store1`, a tenant, and its connection
/// to the store.
async fn woo_shop(
    db: &TestDatabase,
) -> (
    shelfsync_sim::Simulator,
    ChannelHub,
    WriteContext,
    ConnectionId,
) {
    let sim = shelfsync_sim::Simulator::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let creds = sim.create_account("woocommerce", "store1", None);
    let mut settings = ChannelSettings::default();
    settings.bases.insert(
        Platform::WooCommerce,
        sim.base("woocommerce").parse().unwrap(),
    );
    let keys = KeyRing::generate_entry("k1");
    let hub = ChannelHub::new(
        db.store.clone(),
        Arc::new(KeyRing::parse(keys.expose_secret()).unwrap()),
        ChannelDeps::local(),
        settings,
    );
    let tenant = db.store.create_tenant("Shop", None).await.unwrap();
    let id = ConnectionId::new();
    let secrets = ConnectionSecrets {
        credentials: Credentials::ConsumerKey {
            key: creds.consumer_key.clone().into(),
            secret: creds.consumer_secret.clone().into(),
        },
        webhook_secret: None,
    };
    db.store
        .create_connection(&NewConnection {
            id,
            tenant,
            platform: "woocommerce".into(),
            name: "Woo".into(),
            account: Some(format!("{}/store1", sim.base("woocommerce"))),
            settings: json!({}),
            credentials: Some(hub.seal(tenant, id, &secrets)),
            token_expires_at: None,
        })
        .await
        .unwrap();
    (sim, hub, WriteContext::new(tenant, "test"), id)
}

async fn catalog_changes_reach_the_channel_and_rapid_edits_coalesce(db: TestDatabase) {
    let (sim, hub, ctx, id) = woo_shop(&db).await;
    let tenant = ctx.tenant;
    let product: NewProduct = serde_json::from_value(json!({
        "title": "Tee", "options": ["Size"],
        "variants": [
            { "sku": "TEE-S", "options": ["S"], "price": "19.99", "inventory_quantity": 5 },
            { "sku": "TEE-M", "options": ["M"], "price": "21.99", "inventory_quantity": 0 }
        ]
    }))
    .unwrap();
    let product = db.store.create_product(&ctx, &product).await.unwrap();
    for variant in &product.variants {
        db.store
            .upsert_listing(tenant, id, product.id, variant.id)
            .await
            .unwrap();
    }

    let wakeups = match &db.redis_url {
        Some(url) => Wakeups::redis(url).unwrap(),
        None => Wakeups::local(),
    };
    let runtime = Runtime::standard(
        db.store.clone(),
        wakeups.clone(),
        config(),
        &[WorkerKind::Outbox, WorkerKind::Sync],
        Arc::new(ChannelPush::new(hub.clone())),
        None,
    )
    .with_channels(hub)
    .start()
    .await
    .unwrap();
    wakeups.wake(shelfsync_runtime::OUTBOX_QUEUE).await;

    // The product arrives with both sizes and their stock.
    let listings = until(&sim, "first push", |l| quantity(l, "TEE-M").is_some()).await;
    assert_eq!(quantity(&listings, "TEE-S"), Some(5));
    assert_eq!(quantity(&listings, "TEE-M"), Some(0));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let rows = db.store.list_listings(tenant, id).await.unwrap();
        if rows.iter().all(|l| l.status == "synced") {
            break;
        }
        assert!(Instant::now() < deadline, "listings never synced: {rows:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Fifty stock changes in a burst: the channel ends at the last one and
    // is called far fewer than fifty times.
    let before = sim.stats("woocommerce", "store1").requests;
    let small = product.variants[0].id;
    for n in 1..=50 {
        let change = serde_json::from_value(json!({ "set": n })).unwrap();
        db.store
            .change_inventory(&ctx, small, &change)
            .await
            .unwrap();
        wakeups.wake(shelfsync_runtime::OUTBOX_QUEUE).await;
    }
    until(&sim, "the last edit", |l| quantity(l, "TEE-S") == Some(50)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let calls = sim.stats("woocommerce", "store1").requests - before;
    println!("50 rapid edits reached the channel in {calls} calls");
    assert!(calls <= 16, "{calls} calls for 50 coalescable edits");
    runtime.shutdown().await;
}

/// A listing the channel refused for a passing reason waits for its retry
/// time, then the retry job makes it pending and names its connection.
async fn failed_listings_are_made_pending_when_their_retry_is_due(db: TestDatabase) {
    let tenant = db.store.create_tenant("Shop", None).await.unwrap();
    let ctx = WriteContext::new(tenant, "test");
    let product: NewProduct = serde_json::from_value(json!({
        "title": "Mug",
        "variants": [
            { "sku": "MUG-1", "price": "9.00", "inventory_quantity": 1 },
            { "sku": "MUG-2", "price": "9.00", "inventory_quantity": 1 }
        ]
    }))
    .unwrap();
    let product = db.store.create_product(&ctx, &product).await.unwrap();
    let connection = db
        .store
        .insert_connection(tenant, "woocommerce", "Woo")
        .await
        .unwrap();
    for variant in &product.variants {
        db.store
            .upsert_listing(tenant, connection, product.id, variant.id)
            .await
            .unwrap();
    }
    let due = db
        .store
        .pending_listings(tenant, connection, None, 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 2);
    let now = chrono::Utc::now();
    let results: Vec<ListingResult> = due
        .iter()
        .zip([
            now - chrono::Duration::seconds(1),
            now + chrono::Duration::hours(1),
        ])
        .map(|(listing, retry_at)| ListingResult {
            id: listing.id,
            read_at: listing.updated_at,
            outcome: ListingOutcome::Failed {
                error: "503: try later".into(),
                next_retry_at: Some(retry_at),
            },
        })
        .collect();
    db.store
        .record_listing_results(tenant, &results)
        .await
        .unwrap();
    assert!(
        db.store
            .pending_listings(tenant, connection, None, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Only the one whose time has come comes back, with its attempts kept.
    assert_eq!(
        db.store.wake_due_retries().await.unwrap(),
        vec![(tenant, connection)]
    );
    let again = db
        .store
        .pending_listings(tenant, connection, None, 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, due[0].id);
    assert_eq!(again[0].attempts, 1);
    assert!(db.store.wake_due_retries().await.unwrap().is_empty());
}

/// A run stops taking rounds when its time budget is spent and asks for a
/// follow-up run, which carries on from the front: with no budget at all,
/// every run takes one round, and three rounds' worth still all arrive
/// (without the follow-up, only the first round's would).
async fn a_run_out_of_budget_hands_the_rest_to_a_follow_up_run(db: TestDatabase) {
    let (sim, hub, ctx, id) = woo_shop(&db).await;
    let count = 2 * ROUND as usize + 50;
    let products: Vec<NewProduct> = (0..count)
        .map(|n| {
            serde_json::from_value(json!({
                "title": format!("Card {n}"),
                "variants": [{ "sku": format!("CARD-{n}"), "price": "3.00", "inventory_quantity": 4 }]
            }))
            .unwrap()
        })
        .collect();
    let outcome = db.store.bulk_upsert(&ctx, &products).await.unwrap();
    assert_eq!(outcome.created, count);
    let ids: Vec<_> = outcome.results.iter().map(|r| r.product_id).collect();
    let links: Vec<ListingLink> = db
        .store
        .get_products(ctx.tenant, &ids)
        .await
        .unwrap()
        .iter()
        .map(|p| ListingLink {
            product: p.id,
            variant: Some(p.variants[0].id),
            external_product_id: None,
            external_variant_id: None,
            inventory_ref: None,
            status_pending: true,
        })
        .collect();
    db.store.link_listings(&ctx, id, &links, 5).await.unwrap();

    let wakeups = Wakeups::local();
    let push = Arc::new(CountedRuns {
        push: ChannelPush {
            run_budget: Duration::ZERO,
            ..ChannelPush::new(hub.clone())
        },
        runs: AtomicUsize::new(0),
    });
    let runtime = Runtime::standard(
        db.store.clone(),
        wakeups.clone(),
        config(),
        &[WorkerKind::Sync],
        push.clone(),
        None,
    )
    .start()
    .await
    .unwrap();
    wakeups.wake(SYNC_QUEUE).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let rows = db.store.list_listings(ctx.tenant, id).await.unwrap();
        if rows.iter().all(|l| l.status == "synced") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {count} listings synced",
            rows.iter().filter(|l| l.status == "synced").count()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let held = sim_listings(&sim, "store1").await;
    assert_eq!(held.as_array().unwrap().len(), count);
    // A run per round: the budget was spent after each one.
    assert!(push.runs.load(Ordering::SeqCst) >= 3);
    runtime.shutdown().await;
}

/// A sync that counts its runs.
struct CountedRuns {
    push: ChannelPush,
    runs: AtomicUsize,
}

#[async_trait::async_trait]
impl ConnectionSync for CountedRuns {
    async fn sync(
        &self,
        tenant: shelfsync_core::TenantId,
        connection: ConnectionId,
        cx: &JobContext,
    ) -> Result<(), JobError> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        self.push.sync(tenant, connection, cx).await
    }
}
