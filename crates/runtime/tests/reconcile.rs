//! Reconciliation reads a channel back and settles what a merchant changed
//! there: by default the channel is repaired to the master catalog; with
//! `channel_wins` the master catalog takes the channel's value (and passes
//! it on through the outbox); with `manual` a conflict waits for a person,
//! nothing is pushed meanwhile, and settling it for the master repairs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use serde_json::json;
use shelfsync_channels::{ChannelDeps, ConnectionSecrets, Credentials};
use shelfsync_core::catalog::NewProduct;
use shelfsync_core::vault::{ExposeSecret, KeyRing};
use shelfsync_core::{ConnectionId, Platform, TenantId};
use shelfsync_runtime::connections::{ChannelHub, ChannelSettings};
use shelfsync_runtime::push::ChannelPush;
use shelfsync_runtime::{
    Backoff, JobContext, Reconciler, Runtime, RuntimeConfig, Wakeups, WorkerKind,
};
use shelfsync_sim::{SimListing, Simulator};
use shelfsync_store::{
    ConflictField, ConflictPolicy, ConflictQuery, ConflictSettlement, NewConnection, Store,
    WriteContext,
};
use shelfsync_testkit::{TestDatabase, backend_tests};
use tokio_util::sync::CancellationToken;

backend_tests!(channel_edits_are_repaired_absorbed_or_held_by_policy);

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

async fn held(sim: &Simulator) -> Vec<SimListing> {
    reqwest::get(format!("{}/_sim/woocommerce/store1/listings", sim.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn prices(listings: &[SimListing]) -> Vec<Decimal> {
    let mut prices: Vec<Decimal> = listings
        .iter()
        .flat_map(|l| l.variants.iter().map(|v| v.price.normalize()))
        .collect();
    prices.sort();
    prices
}

fn dec(s: &str) -> Decimal {
    s.parse::<Decimal>().unwrap().normalize()
}

/// Waits until the simulated store holds what `done` accepts.
async fn until(sim: &Simulator, what: &str, done: impl Fn(&[SimListing]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let listings = held(sim).await;
        if done(&listings) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: the channel holds {listings:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the outbox is relayed and every listing of the connection
/// has status `status`.
async fn listings_are(store: &Store, tenant: TenantId, id: ConnectionId, status: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while store.count_outbox(tenant).await.unwrap() > 0 {
        assert!(Instant::now() < deadline, "the outbox was never relayed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    loop {
        let rows = store.list_listings(tenant, id).await.unwrap();
        if rows.iter().all(|l| l.status == status) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "listings never became {status}: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A merchant changes every variant's price on the channel itself.
async fn edit_price_on_channel(sim: &Simulator, external_id: &str, price: &str) {
    let reply = reqwest::Client::new()
        .post(format!(
            "{}/_sim/woocommerce/store1/products/{external_id}",
            sim.url()
        ))
        .json(&json!({ "price": price }))
        .send()
        .await
        .unwrap();
    assert!(reply.status().is_success(), "{}", reply.status());
}

async fn channel_edits_are_repaired_absorbed_or_held_by_policy(db: TestDatabase) {
    let sim = Simulator::start("127.0.0.1:0".parse().unwrap())
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
    let store = db.store.clone();
    let tenant = store.create_tenant("Shop", None).await.unwrap();
    let ctx = WriteContext::new(tenant, "test");
    let product: NewProduct = serde_json::from_value(json!({
        "title": "Tee", "options": ["Size"],
        "variants": [
            { "sku": "TEE-S", "options": ["S"], "price": "19.99", "inventory_quantity": 5 },
            { "sku": "TEE-M", "options": ["M"], "price": "21.99", "inventory_quantity": 3 }
        ]
    }))
    .unwrap();
    let product = store.create_product(&ctx, &product).await.unwrap();
    let id = ConnectionId::new();
    let secrets = ConnectionSecrets {
        credentials: Credentials::ConsumerKey {
            key: creds.consumer_key.clone().into(),
            secret: creds.consumer_secret.clone().into(),
        },
        webhook_secret: None,
    };
    store
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
    for variant in &product.variants {
        store
            .upsert_listing(tenant, id, product.id, variant.id)
            .await
            .unwrap();
    }

    let wakeups = match &db.redis_url {
        Some(url) => Wakeups::redis(url).unwrap(),
        None => Wakeups::local(),
    };
    let reconciler = Arc::new(Reconciler::new(hub.clone(), 5));
    let runtime = Runtime::standard(
        store.clone(),
        wakeups.clone(),
        config(),
        &[WorkerKind::Outbox, WorkerKind::Sync],
        Arc::new(ChannelPush::new(hub.clone())),
        Some(reconciler.clone()),
    )
    .with_channels(hub.clone())
    .start()
    .await
    .unwrap();
    wakeups.wake(shelfsync_runtime::OUTBOX_QUEUE).await;
    until(&sim, "first push", |l| {
        prices(l) == [dec("19.99"), dec("21.99")]
    })
    .await;
    listings_are(&store, tenant, id, "synced").await;
    let external_id = held(&sim).await[0].external_id.clone();
    let cx = JobContext {
        store: store.clone(),
        wakeups: wakeups.clone(),
        shutdown: CancellationToken::new(),
        worker_id: "test".into(),
    };

    // Nothing changed: everything is in sync and nothing is pushed.
    let report = reconciler.reconcile(tenant, id, &cx).await.unwrap();
    assert_eq!((report.checked, report.in_sync, report.repaired), (1, 1, 0));

    // (a) Default policy: master wins, the channel is repaired.
    edit_price_on_channel(&sim, &external_id, "99.00").await;
    let report = reconciler.reconcile(tenant, id, &cx).await.unwrap();
    assert_eq!(
        (report.checked, report.repaired, report.absorbed),
        (1, 1, 0)
    );
    until(&sim, "repair", |l| {
        prices(l) == [dec("19.99"), dec("21.99")]
    })
    .await;
    listings_are(&store, tenant, id, "synced").await;
    let settled = store
        .list_conflicts(
            tenant,
            &ConflictQuery {
                status: Some("resolved".into()),
                limit: 50,
                ..ConflictQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(settled.data.len(), 2, "{settled:?}");
    assert!(
        settled
            .data
            .iter()
            .all(|c| c.resolution.as_deref() == Some("master_wins") && c.field == "price")
    );
    assert_eq!(
        store
            .get_product(tenant, product.id)
            .await
            .unwrap()
            .unwrap()
            .variants[0]
            .price
            .amount(),
        dec("19.99")
    );

    // (b) Channel wins for prices on this connection: the master catalog
    // takes the channel's price, through the outbox.
    store
        .set_policy(
            tenant,
            Some(id),
            Some(ConflictField::Price),
            ConflictPolicy::ChannelWins,
        )
        .await
        .unwrap();
    edit_price_on_channel(&sim, &external_id, "25.00").await;
    let report = reconciler.reconcile(tenant, id, &cx).await.unwrap();
    assert_eq!(
        (report.absorbed, report.repaired, report.conflicts),
        (2, 0, 0),
        "{report:?} {:?}",
        held(&sim).await
    );
    let master = store
        .get_product(tenant, product.id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        master
            .variants
            .iter()
            .all(|v| v.price.amount() == dec("25")),
        "{master:?}"
    );
    // Written like any other change: audited, and through the outbox (the
    // relay then pushes it to every channel of the product).
    let audit = store.list_audit(tenant, None, 20).await.unwrap();
    assert_eq!(
        audit.iter().filter(|a| a.actor == "reconciliation").count(),
        2,
        "{audit:?}"
    );
    wakeups.wake(shelfsync_runtime::OUTBOX_QUEUE).await;
    until(&sim, "the channel keeps its price", |l| {
        prices(l) == [dec("25"), dec("25")]
    })
    .await;
    listings_are(&store, tenant, id, "synced").await;

    // (c) Manual: a conflict is opened and the listings wait.
    store
        .set_policy(
            tenant,
            Some(id),
            Some(ConflictField::Price),
            ConflictPolicy::Manual,
        )
        .await
        .unwrap();
    edit_price_on_channel(&sim, &external_id, "30.00").await;
    let report = reconciler.reconcile(tenant, id, &cx).await.unwrap();
    assert_eq!(
        (report.conflicts, report.repaired, report.absorbed),
        (2, 0, 0)
    );
    // Found again, the same conflicts are refreshed, not duplicated.
    let open_query = ConflictQuery {
        status: Some("open".into()),
        connection: Some(id),
        limit: 50,
        ..ConflictQuery::default()
    };
    let open = store.list_conflicts(tenant, &open_query).await.unwrap();
    assert_eq!(open.data.len(), 2, "{open:?}");
    assert!(open.data.iter().all(|c| c.channel_value == json!("30")
        && c.master_value == json!("25")
        && c.policy == "manual"));
    listings_are(&store, tenant, id, "conflict").await;

    // A master change meanwhile is not pushed to the conflicted listings.
    let requests = sim.stats("woocommerce", "store1").requests;
    let small = product.variants[0].id;
    store
        .change_inventory(
            &ctx,
            small,
            &serde_json::from_value(json!({ "set": 9 })).unwrap(),
        )
        .await
        .unwrap();
    wakeups.wake(shelfsync_runtime::OUTBOX_QUEUE).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        sim.stats("woocommerce", "store1").requests,
        requests,
        "pushed while in conflict"
    );
    assert_eq!(prices(&held(&sim).await), [dec("30"), dec("30")]);
    // A reconciliation skips them too.
    let report = reconciler.reconcile(tenant, id, &cx).await.unwrap();
    assert_eq!(report.checked, 0);

    // Settled for the master: once the last one is, the channel is repaired
    // (with the stock change made meanwhile).
    let first = store
        .settle_conflict(tenant, open.data[0].id, ConflictSettlement::Master, 5)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (first.status.as_str(), first.resolution.as_deref()),
        ("resolved", Some("master"))
    );
    listings_are(&store, tenant, id, "conflict").await;
    assert!(
        store
            .settle_conflict(tenant, open.data[0].id, ConflictSettlement::Master, 5)
            .await
            .is_err(),
        "a settled conflict cannot be settled again"
    );
    store
        .settle_conflict(tenant, open.data[1].id, ConflictSettlement::Master, 5)
        .await
        .unwrap()
        .unwrap();
    wakeups.wake(shelfsync_store::SYNC_QUEUE).await;
    until(&sim, "repair after settling", |l| {
        prices(l) == [dec("25"), dec("25")]
            && l.iter()
                .flat_map(|p| &p.variants)
                .any(|v| v.sku == "TEE-S" && v.quantity == 9)
    })
    .await;
    listings_are(&store, tenant, id, "synced").await;
    let report = reconciler.reconcile(tenant, id, &cx).await.unwrap();
    assert_eq!((report.checked, report.in_sync), (1, 1));
    runtime.shutdown().await;
}
