//! The sync engine end to end on three simulated channels (Shopify,
//! WooCommerce, eBay): a 1,000-product catalog reaches all three in the
//! number of calls the dry run predicted, 50 rapid edits of one SKU reach
//! each channel in at most two pushes, and edits made on a channel are
//! found by reconciliation and settled by the merchant's policy.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use shelfsync_channels::{ChannelDeps, ConnectionSecrets, Credentials, OAuthTokens};
use shelfsync_core::catalog::NewProduct;
use shelfsync_core::quota::{Limit, QuotaModel, Scope};
use shelfsync_core::vault::{ExposeSecret, KeyRing};
use shelfsync_core::{ConnectionId, Platform, TenantId};
use shelfsync_runtime::connections::{ChannelHub, ChannelSettings};
use shelfsync_runtime::dry_run::dry_run;
use shelfsync_runtime::push::ChannelPush;
use shelfsync_runtime::reconcile::Reconciler;
use shelfsync_runtime::{Backoff, Runtime, RuntimeConfig, RuntimeHandle, Wakeups, WorkerKind};
use shelfsync_sim::Simulator;
use shelfsync_store::{ConflictField, ConflictPolicy, NewConnection, NewJob, Store, WriteContext};
use shelfsync_testkit::{TestDatabase, backend_tests};

backend_tests!(a_catalog_reaches_three_channels_in_the_calls_the_dry_run_predicted);

const PRODUCTS: usize = 1000;

/// One channel of the test: the platform, the account on the simulator and
/// our connection to it.
struct Chan {
    platform: Platform,
    account: &'static str,
    id: ConnectionId,
}

struct World {
    sim: Simulator,
    hub: ChannelHub,
    tenant: TenantId,
    channels: Vec<Chan>,
    wakeups: Wakeups,
}

fn config() -> RuntimeConfig {
    RuntimeConfig {
        lease: Duration::from_secs(10),
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

async fn world(db: &TestDatabase) -> World {
    let sim = Simulator::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let mut settings = ChannelSettings::default();
    for platform in [Platform::Shopify, Platform::WooCommerce, Platform::Ebay] {
        settings
            .bases
            .insert(platform, sim.base(platform.as_str()).parse().unwrap());
    }
    let keys = KeyRing::generate_entry("k1");
    let hub = ChannelHub::new(
        db.store.clone(),
        Arc::new(KeyRing::parse(keys.expose_secret()).unwrap()),
        ChannelDeps::local(),
        settings,
    );
    let tenant = db.store.create_tenant("Shop", None).await.unwrap();
    let mut channels = Vec::new();
    for (platform, account) in [
        (Platform::Shopify, "acme.myshopify.com"),
        (Platform::WooCommerce, "store1"),
        (Platform::Ebay, "seller-one"),
    ] {
        // A Plus shop (1,000 points a second): the Standard plan's 100/s
        // would spend most of a minute on the 1,000 creates.
        let quota = (platform == Platform::Shopify).then(|| {
            QuotaModel::unlimited().with(
                Scope::All,
                Limit::CostPoints {
                    capacity: 20_000.0,
                    restore_per_sec: 1_000.0,
                },
            )
        });
        let creds = sim.create_account(platform.as_str(), account, quota.clone());
        let id = ConnectionId::new();
        let (credentials, stored_account, settings) = match platform {
            Platform::WooCommerce => (
                Credentials::ConsumerKey {
                    key: creds.consumer_key.clone().into(),
                    secret: creds.consumer_secret.clone().into(),
                },
                format!("{}/{account}", sim.base("woocommerce")),
                json!({}),
            ),
            _ => (
                Credentials::OAuth(OAuthTokens {
                    access_token: creds.access_token.clone().into(),
                    refresh_token: Some(creds.refresh_token.clone().into()),
                    expires_at: None,
                    scope: None,
                }),
                account.to_owned(),
                match platform {
                    Platform::Ebay => shelfsync_sim::ebay::seller_settings(),
                    _ => json!({ "quota": quota }),
                },
            ),
        };
        let secrets = ConnectionSecrets {
            credentials,
            webhook_secret: None,
        };
        db.store
            .create_connection(&NewConnection {
                id,
                tenant,
                platform: platform.as_str().into(),
                name: platform.as_str().into(),
                account: Some(stored_account),
                settings,
                credentials: Some(hub.seal(tenant, id, &secrets)),
                token_expires_at: None,
            })
            .await
            .unwrap();
        channels.push(Chan {
            platform,
            account,
            id,
        });
    }
    let wakeups = match &db.redis_url {
        Some(url) => Wakeups::redis(url).unwrap(),
        None => Wakeups::local(),
    };
    World {
        sim,
        hub,
        tenant,
        channels,
        wakeups,
    }
}

/// Product `i`: one variant, or three sizes for every fourth product.
fn product(i: usize) -> NewProduct {
    let sizes: &[&str] = if i.is_multiple_of(4) {
        &["S", "M", "L"]
    } else {
        &["OS"]
    };
    let variants: Vec<Value> = sizes
        .iter()
        .enumerate()
        .map(|(n, size)| {
            json!({
                "sku": format!("SKU-{i:05}-{size}"),
                "options": [size],
                "price": format!("{}.{:02}", 10 + i % 90, n * 25),
                "inventory_quantity": (i * 7 + n) % 40,
            })
        })
        .collect();
    serde_json::from_value(json!({
        "title": format!("Product {i:05}"),
        "vendor": "Acme",
        "product_type": "Shirts",
        "tags": ["summer"],
        "options": ["Size"],
        "variants": variants,
    }))
    .unwrap()
}

/// Seeds the catalog and lists every variant on every channel, then relays
/// the outbox so the listings are settled before anything runs.
async fn seed(store: &Store, w: &World) -> Vec<shelfsync_core::catalog::Product> {
    let ctx = WriteContext::new(w.tenant, "test");
    let items: Vec<NewProduct> = (0..PRODUCTS).map(product).collect();
    for chunk in items.chunks(500) {
        let outcome = store.bulk_upsert(&ctx, chunk).await.unwrap();
        assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    }
    let ids = store.all_product_ids(w.tenant).await.unwrap();
    let products = store.get_products(w.tenant, &ids).await.unwrap();
    for chan in &w.channels {
        for product in &products {
            for variant in &product.variants {
                store
                    .upsert_listing(w.tenant, chan.id, product.id, variant.id)
                    .await
                    .unwrap();
            }
        }
    }
    loop {
        let batch = store.relay_outbox(1000, 5).await.unwrap();
        if batch.events == 0 {
            break;
        }
    }
    products
}

async fn start(store: &Store, w: &World) -> RuntimeHandle {
    let handle = Runtime::standard(
        store.clone(),
        w.wakeups.clone(),
        config(),
        &[WorkerKind::Outbox, WorkerKind::Sync],
        Arc::new(ChannelPush::new(w.hub.clone())),
        Some(Arc::new(Reconciler::new(w.hub.clone(), 5))),
    )
    .with_channels(w.hub.clone())
    .start()
    .await
    .unwrap();
    w.wakeups.wake(shelfsync_runtime::OUTBOX_QUEUE).await;
    w.wakeups.wake(shelfsync_store::SYNC_QUEUE).await;
    handle
}

fn requests(w: &World, chan: &Chan) -> u64 {
    w.sim.stats(chan.platform.as_str(), chan.account).requests
}

/// Waits until every listing of every channel is synced.
async fn all_synced(store: &Store, w: &World, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let mut waiting = 0;
        for chan in &w.channels {
            let rows = store.list_listings(w.tenant, chan.id).await.unwrap();
            waiting += rows.iter().filter(|l| l.status != "synced").count();
        }
        if waiting == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{waiting} listings still not synced"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn held(w: &World, chan: &Chan) -> Vec<shelfsync_sim::SimListing> {
    reqwest::get(format!(
        "{}/_sim/{}/{}/listings",
        w.sim.url(),
        chan.platform.as_str(),
        chan.account
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap()
}

fn quantity_of(listings: &[shelfsync_sim::SimListing], sku: &str) -> Option<i64> {
    listings
        .iter()
        .flat_map(|l| l.variants.iter())
        .find(|v| v.sku == sku)
        .map(|v| v.quantity)
}

async fn a_catalog_reaches_three_channels_in_the_calls_the_dry_run_predicted(db: TestDatabase) {
    let w = world(&db).await;
    let store = &db.store;
    let products = seed(store, &w).await;

    // The dry run: every product is a create; it sends nothing.
    let mut predicted = Vec::new();
    for chan in &w.channels {
        let before = requests(&w, chan);
        let report = dry_run(&w.hub, w.tenant, chan.id, None, false)
            .await
            .unwrap();
        assert_eq!(requests(&w, chan), before, "a dry run made no call");
        assert_eq!(report.summary.create, PRODUCTS, "{:?}", chan.platform);
        assert_eq!(
            report.summary.invalid,
            0,
            "{:?}",
            report.items.iter().find(|i| !i.errors.is_empty())
        );
        println!(
            "{}: dry run predicts {} calls ({:?}), {:.1} s of quota",
            chan.platform.as_str(),
            report.estimate.api_calls,
            report.estimate.by_operation,
            report.estimate.quota_seconds
        );
        predicted.push((before, report.estimate.api_calls));
    }

    // The real run makes exactly those calls, and every product arrives.
    let runtime = start(store, &w).await;
    all_synced(store, &w, Duration::from_secs(240)).await;
    for (chan, (before, calls)) in w.channels.iter().zip(&predicted) {
        let made = requests(&w, chan) - before;
        println!("{}: the run made {made} calls", chan.platform.as_str());
        assert_eq!(made, u64::from(*calls), "{}", chan.platform.as_str());
        let listings = held(&w, chan).await;
        assert_eq!(listings.len(), PRODUCTS, "{}", chan.platform.as_str());
        let sample = &products[17].variants[0];
        assert_eq!(
            quantity_of(&listings, &sample.sku),
            Some(sample.inventory_quantity)
        );
    }

    // Fifty rapid stock edits of one SKU (sales landing at once): each
    // channel ends at the last value after at most two pushes.
    let sku_variant = &products[3].variants[0];
    let ctx = WriteContext::new(w.tenant, "test");
    let logs_before = push_counts(store, &w).await;
    let edits = (0..50).map(|_| {
        let change = serde_json::from_value(json!({ "adjust": 1 })).unwrap();
        let (store, ctx) = (store.clone(), ctx.clone());
        async move { store.change_inventory(&ctx, sku_variant.id, &change).await }
    });
    let burst = Instant::now();
    for result in futures::future::join_all(edits).await {
        result.unwrap();
    }
    println!("50 edits committed in {:?}", burst.elapsed());
    w.wakeups.wake(shelfsync_runtime::OUTBOX_QUEUE).await;
    let last = sku_variant.inventory_quantity + 50;
    let deadline = Instant::now() + Duration::from_secs(30);
    for chan in &w.channels {
        loop {
            if quantity_of(&held(&w, chan).await, &sku_variant.sku) == Some(last) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{} never got {last}",
                chan.platform.as_str()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    all_synced(store, &w, Duration::from_secs(30)).await;
    let logs_after = push_counts(store, &w).await;
    for ((chan, before), after) in w.channels.iter().zip(&logs_before).zip(&logs_after) {
        let pushes = after - before;
        println!("{}: 50 edits took {pushes} pushes", chan.platform.as_str());
        assert!(
            (1..=2).contains(&pushes),
            "{}: {pushes} pushes",
            chan.platform.as_str()
        );
    }

    // A title edited on WooCommerce: reconciliation finds it and, master
    // winning by default, puts the catalog's title back.
    let woo = &w.channels[1];
    let edited = &products[10];
    let on_woo = held(&w, woo).await;
    let item = on_woo
        .iter()
        .find(|l| l.variants.iter().any(|v| v.sku == edited.variants[0].sku))
        .unwrap();
    edit_on_channel(
        &w,
        woo,
        &item.external_id,
        json!({ "title": "Edited on the shop" }),
    )
    .await;
    reconcile(store, &w, woo).await;
    eventually(&w, woo, "the title repaired", |listings| {
        listings
            .iter()
            .any(|l| l.external_id == item.external_id && l.title == edited.title)
    })
    .await;

    // A price edited on Shopify, where the merchant lets the channel win
    // prices: the catalog takes it, and the other two channels follow.
    let shopify = &w.channels[0];
    store
        .set_policy(
            w.tenant,
            Some(shopify.id),
            Some(ConflictField::Price),
            ConflictPolicy::ChannelWins,
        )
        .await
        .unwrap();
    let repriced = &products[20];
    let sku = repriced.variants[0].sku.clone();
    let on_shopify = held(&w, shopify).await;
    let item = on_shopify
        .iter()
        .find(|l| l.variants.iter().any(|v| v.sku == sku))
        .unwrap();
    edit_on_channel(&w, shopify, &item.external_id, json!({ "price": "77.00" })).await;
    reconcile(store, &w, shopify).await;
    for chan in &w.channels[1..] {
        let sku = sku.clone();
        eventually(
            &w,
            chan,
            "the channel's price everywhere",
            move |listings| {
                listings.iter().flat_map(|l| l.variants.iter()).any(|v| {
                    v.sku == sku && v.price == "77".parse::<rust_decimal::Decimal>().unwrap()
                })
            },
        )
        .await;
    }
    let master = store
        .get_product(w.tenant, repriced.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(master.variants[0].price.to_string(), "77.00");
    all_synced(store, &w, Duration::from_secs(30)).await;
    runtime.shutdown().await;

    // Stock alone changed on 300 products: the dry run plans stock-level
    // calls, and the run makes exactly those.
    for product in &products[100..400] {
        let change = serde_json::from_value(json!({ "adjust": 1 })).unwrap();
        store
            .change_inventory(&ctx, product.variants[0].id, &change)
            .await
            .unwrap();
    }
    while store.relay_outbox(1000, 5).await.unwrap().events > 0 {}
    let mut predicted = Vec::new();
    for chan in &w.channels {
        let report = dry_run(&w.hub, w.tenant, chan.id, None, false)
            .await
            .unwrap();
        assert_eq!(report.summary.stock, 300, "{}", chan.platform.as_str());
        println!(
            "{}: stock-only dry run predicts {} calls ({:?})",
            chan.platform.as_str(),
            report.estimate.api_calls,
            report.estimate.by_operation
        );
        predicted.push((requests(&w, chan), report.estimate.api_calls));
    }
    let runtime = start(store, &w).await;
    all_synced(store, &w, Duration::from_secs(60)).await;
    for (chan, (before, calls)) in w.channels.iter().zip(&predicted) {
        let made = requests(&w, chan) - before;
        assert_eq!(made, u64::from(*calls), "{}", chan.platform.as_str());
    }
    let sample = &products[150].variants[0];
    for chan in &w.channels {
        assert_eq!(
            quantity_of(&held(&w, chan).await, &sample.sku),
            Some(sample.inventory_quantity + 1)
        );
    }
    runtime.shutdown().await;
}

/// Changes an item the way the merchant would in the platform's admin.
async fn edit_on_channel(w: &World, chan: &Chan, external_id: &str, edit: Value) {
    let response = reqwest::Client::new()
        .post(format!(
            "{}/_sim/{}/{}/products/{}",
            w.sim.url(),
            chan.platform.as_str(),
            chan.account,
            urlencoding(external_id)
        ))
        .json(&edit)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
}

fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Asks for a reconciliation of `chan` now, as the API's on-demand call does.
async fn reconcile(store: &Store, w: &World, chan: &Chan) {
    store
        .enqueue_jobs(&[NewJob::reconcile_connection(w.tenant, chan.id, 5)])
        .await
        .unwrap();
    w.wakeups.wake(shelfsync_store::SYNC_QUEUE).await;
}

async fn eventually(
    w: &World,
    chan: &Chan,
    what: &str,
    done: impl Fn(&[shelfsync_sim::SimListing]) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if done(&held(w, chan).await) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{}: never saw {what}",
            chan.platform.as_str()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Pushes (calls of the channel adapter) logged per channel so far.
async fn push_counts(store: &Store, w: &World) -> Vec<usize> {
    let mut counts = Vec::new();
    for chan in &w.channels {
        let mut n = 0;
        let mut before = None;
        loop {
            let page = store
                .list_sync_logs(
                    w.tenant,
                    &shelfsync_store::SyncLogQuery {
                        connection: Some(chan.id),
                        dry_run: Some(false),
                        before,
                        limit: 250,
                    },
                )
                .await
                .unwrap();
            n += page.len();
            if page.len() < 250 {
                break;
            }
            before = page.last().map(|l| l.id);
        }
        counts.push(n);
    }
    counts
}
