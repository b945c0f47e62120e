//! An order placed in a real Medusa lowers stock on a simulated Shopify too,
//! through the whole runtime: the catalog is published to both channels by
//! the sync worker; the Medusa order is found by the scheduled order poll
//! (`orders.poll_all`, then `orders.poll` for the connection: the only way
//! in, as Medusa sends no webhooks), applied by `webhook.apply`; and the
//! master's new stock is relayed through the outbox and pushed to every
//! channel. Cancelled in Medusa's admin, the order is read again by a later
//! poll and its stock comes back, once. The adapter's own calls are tested in
//! `shelfsync-channels/tests/medusa.rs`; this is what joins them up.
//!
//! Skipped unless `SHELFSYNC_TEST_MEDUSA=1` (see `shelfsync_testkit::medusa`).
//! It runs on both backends like the other runtime tests: the Medusa server
//! is the expensive part, and the backends differ in exactly what this
//! crosses (the poll cursor, the order and outbox transactions, wake-ups).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{Value, json};
use shelfsync_channels::{ChannelDeps, ConnectionSecrets, Credentials, OAuthTokens};
use shelfsync_core::catalog::NewProduct;
use shelfsync_core::vault::{ExposeSecret, KeyRing};
use shelfsync_core::{ConnectionId, ListingId, Platform, TenantId, VariantId};
use shelfsync_runtime::connections::{ChannelHub, ChannelSettings};
use shelfsync_runtime::push::ChannelPush;
use shelfsync_runtime::{
    Backoff, OUTBOX_QUEUE, Reconciler, Runtime, RuntimeConfig, Wakeups, WorkerKind,
};
use shelfsync_sim::Simulator;
use shelfsync_store::{
    ListingLink, NewConnection, SYNC_QUEUE, Store, WebhookLogQuery, WebhookLogRecord, WriteContext,
};
use shelfsync_testkit::medusa::MedusaServer;
use shelfsync_testkit::{TestDatabase, backend_tests};

backend_tests!(an_order_in_medusa_lowers_stock_on_shopify_too);

const SHOP: &str = "medusa-e2e.myshopify.com";
const MAX_ATTEMPTS: i32 = 5;

/// Short polls and back-offs, as the other runtime tests run, and the
/// repeatable order poll every second instead of every five minutes: it is
/// what finds Medusa's orders in production, so it is what finds them here.
fn config() -> RuntimeConfig {
    RuntimeConfig {
        lease: Duration::from_secs(10),
        poll: Duration::from_millis(200),
        grace: Duration::from_secs(5),
        heartbeat: Duration::from_millis(200),
        max_attempts: MAX_ATTEMPTS,
        backoff: Backoff {
            base: Duration::from_millis(200),
            max: Duration::from_secs(2),
        },
        order_poll_every: Duration::from_secs(1),
        ..RuntimeConfig::default()
    }
}

/// Waits (up to `within`) until `check` holds; panics naming `what` and
/// what `check` last saw.
async fn eventually<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let deadline = Instant::now() + within;
    loop {
        match check().await {
            Ok(()) => return,
            Err(seen) => assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {seen}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn master_stock(store: &Store, tenant: TenantId, variant: VariantId) -> i64 {
    store
        .get_variant(tenant, variant)
        .await
        .unwrap()
        .unwrap()
        .inventory_quantity
}

/// What the simulated Shopify shop offers of `sku`.
/// The tenant's stored deliveries (the first ten).
async fn deliveries(store: &Store, tenant: TenantId) -> Vec<WebhookLogRecord> {
    store
        .list_webhook_logs(
            tenant,
            &WebhookLogQuery {
                limit: 10,
                ..WebhookLogQuery::default()
            },
        )
        .await
        .unwrap()
}

async fn shopify_stock(sim: &Simulator, sku: &str) -> Option<i64> {
    let held: Vec<shelfsync_sim::SimListing> =
        reqwest::get(format!("{}/_sim/shopify/{SHOP}/listings", sim.url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    held.iter()
        .flat_map(|l| &l.variants)
        .find(|v| v.sku == sku)
        .map(|v| v.quantity)
}

/// `sku`'s level at the harness's stock location, as Medusa's own admin
/// reads it: `(stocked, reserved)`.
async fn medusa_level(medusa: &MedusaServer, sku: &str) -> Option<(i64, i64)> {
    let items = medusa
        .admin_get(&format!(
            "/admin/inventory-items?sku[]={sku}&fields=id,sku,location_levels.location_id,\
             location_levels.stocked_quantity,location_levels.reserved_quantity"
        ))
        .await;
    let level = items["inventory_items"]
        .as_array()?
        .iter()
        .find(|i| i["sku"] == sku)?["location_levels"]
        .as_array()?
        .iter()
        .find(|l| l["location_id"] == medusa.stock_location_id.as_str())?
        .clone();
    Some((
        level["stocked_quantity"].as_i64()?,
        level["reserved_quantity"].as_i64().unwrap_or(0),
    ))
}

/// Medusa's variant id for `sku`.
async fn medusa_variant(medusa: &MedusaServer, sku: &str) -> String {
    let found = medusa
        .admin_get(&format!(
            "/admin/product-variants?sku[]={sku}&fields=id,sku"
        ))
        .await;
    found["variants"]
        .as_array()
        .and_then(|v| v.iter().find(|v| v["sku"] == sku))
        .and_then(|v| v["id"].as_str())
        .unwrap_or_else(|| panic!("Medusa holds no variant {sku}: {found}"))
        .to_owned()
}

/// Stores a connection as `POST /v1/connections` does: secrets sealed to it.
async fn connect(
    store: &Store,
    hub: &ChannelHub,
    tenant: TenantId,
    platform: Platform,
    account: &str,
    access_token: &str,
    settings: Value,
) -> ConnectionId {
    let id = ConnectionId::new();
    let secrets = ConnectionSecrets {
        credentials: Credentials::OAuth(OAuthTokens {
            access_token: access_token.to_owned().into(),
            refresh_token: None,
            expires_at: None,
            scope: None,
        }),
        webhook_secret: None,
    };
    store
        .create_connection(&NewConnection {
            id,
            tenant,
            platform: platform.as_str().into(),
            name: platform.as_str().into(),
            account: Some(account.to_owned()),
            settings,
            credentials: Some(hub.seal(tenant, id, &secrets)),
            token_expires_at: None,
        })
        .await
        .unwrap();
    id
}

async fn an_order_in_medusa_lowers_stock_on_shopify_too(db: TestDatabase) {
    let Some(medusa) = MedusaServer::start().await else {
        // `start` has said why on the terminal.
        return;
    };
    let started = Instant::now();
    let store = &db.store;
    let sim = Simulator::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    // Shopify is the simulator; Medusa is reached at its account URL.
    let mut settings = ChannelSettings::default();
    settings.bases.insert(
        Platform::Shopify,
        sim.base(Platform::Shopify.as_str()).parse().unwrap(),
    );
    let keys = KeyRing::generate_entry("k1");
    let hub = ChannelHub::new(
        store.clone(),
        Arc::new(KeyRing::parse(keys.expose_secret()).unwrap()),
        ChannelDeps::local(),
        settings,
    );

    // The master catalog: one tee in two sizes, ten of each.
    let tenant = store.create_tenant("Shop", None).await.unwrap();
    let ctx = WriteContext::new(tenant, "test");
    let product: NewProduct = serde_json::from_value(json!({
        "title": "Medusa Tee", "status": "active", "options": ["Size"],
        "variants": [
            { "sku": "MTEE-S", "options": ["S"], "price": "19.99", "inventory_quantity": 10 },
            { "sku": "MTEE-M", "options": ["M"], "price": "21.99", "inventory_quantity": 10 }
        ]
    }))
    .unwrap();
    let product = store.create_product(&ctx, &product).await.unwrap();
    let small = product.variants[0].id;
    let medium = product.variants[1].id;

    let shop = sim.create_account(Platform::Shopify.as_str(), SHOP, None);
    let shopify = connect(
        store,
        &hub,
        tenant,
        Platform::Shopify,
        SHOP,
        &shop.access_token,
        json!({}),
    )
    .await;
    let medusa_conn = connect(
        store,
        &hub,
        tenant,
        Platform::Medusa,
        &medusa.url,
        &medusa.api_key,
        json!({"currency": "usd"}),
    )
    .await;

    // Published as `POST /v1/listings` in `publish` mode does: pending
    // listings and a sync job per connection, for the workers to push.
    let links: Vec<ListingLink> = product
        .variants
        .iter()
        .map(|v| ListingLink {
            product: product.id,
            variant: Some(v.id),
            external_product_id: None,
            external_variant_id: None,
            inventory_ref: None,
            status_pending: true,
        })
        .collect();
    let mut listings: Vec<ListingId> = Vec::new();
    for connection in [shopify, medusa_conn] {
        listings.extend(
            store
                .link_listings(&ctx, connection, &links, MAX_ATTEMPTS)
                .await
                .unwrap(),
        );
    }
    let wakeups = match &db.redis_url {
        Some(url) => Wakeups::redis(url).unwrap(),
        None => Wakeups::local(),
    };
    // The workers `shelfsync serve` runs; the reconciler is what gives the
    // webhook worker its order poll handlers and schedule.
    let runtime = Runtime::standard(
        store.clone(),
        wakeups.clone(),
        config(),
        &[WorkerKind::Outbox, WorkerKind::Sync, WorkerKind::Webhook],
        Arc::new(ChannelPush::new(hub.clone())),
        Some(Arc::new(Reconciler::new(hub.clone(), 5))),
    )
    .with_channels(hub.clone())
    .start()
    .await
    .unwrap();
    wakeups.wake(SYNC_QUEUE).await;
    wakeups.wake(OUTBOX_QUEUE).await;

    let all_synced_since = |since: Option<chrono::DateTime<Utc>>| {
        let listings = listings.clone();
        async move {
            let views = store.get_listings(tenant, &listings).await.unwrap();
            let behind: Vec<_> = views
                .iter()
                .filter(|l| {
                    l.status != "synced" || since.is_some_and(|t| l.last_synced_at < Some(t))
                })
                .map(|l| (l.sku.clone(), l.status.clone(), l.last_error.clone()))
                .collect();
            if behind.is_empty() {
                Ok(())
            } else {
                Err(format!("listings not synced: {behind:?}"))
            }
        }
    };
    eventually(
        "the first push to both channels",
        Duration::from_secs(180),
        || all_synced_since(None),
    )
    .await;
    for sku in ["MTEE-S", "MTEE-M"] {
        assert_eq!(shopify_stock(&sim, sku).await, Some(10), "{sku} on Shopify");
        assert_eq!(
            medusa_level(&medusa, sku).await,
            Some((10, 0)),
            "{sku} on Medusa"
        );
    }
    // Medusa's variant ids are recorded on the listings: what the order's
    // lines are matched by first.
    let medium_on_medusa = medusa_variant(&medusa, "MTEE-M").await;
    let views = store.get_listings(tenant, &listings).await.unwrap();
    let listed = views
        .iter()
        .find(|l| l.connection_id == medusa_conn && l.variant_id == Some(medium))
        .unwrap();
    assert_eq!(
        listed.external_variant_id.as_deref(),
        Some(medium_on_medusa.as_str())
    );

    // A sale in Medusa: three medium tees. Medusa reserves them at once;
    // Shelfsync hears of it when the scheduled poll reads the connection.
    let sold_at = Utc::now();
    let order = medusa.place_order(&[(&medium_on_medusa, 3)]).await;
    assert_eq!(medusa_level(&medusa, "MTEE-M").await, Some((10, 3)));
    eventually(
        "the sale in the master",
        Duration::from_secs(60),
        || async {
            match master_stock(store, tenant, medium).await {
                7 => Ok(()),
                n => Err(format!("MTEE-M at {n} in the master")),
            }
        },
    )
    .await;
    eventually("the sale on Shopify", Duration::from_secs(60), || async {
        match shopify_stock(&sim, "MTEE-M").await {
            Some(7) => Ok(()),
            n => Err(format!("MTEE-M at {n:?} on Shopify")),
        }
    })
    .await;
    // The relay made every listing of the product pending at once, so Medusa
    // is pushed the new stock too: still 7 to sell there, the reservation
    // kept on top (not taken twice).
    eventually("the push back to Medusa", Duration::from_secs(60), || {
        all_synced_since(Some(sold_at))
    })
    .await;
    assert_eq!(medusa_level(&medusa, "MTEE-M").await, Some((10, 3)));
    assert_eq!(medusa_level(&medusa, "MTEE-S").await, Some((10, 0)));
    assert_eq!(master_stock(store, tenant, small).await, 10);
    assert_eq!(shopify_stock(&sim, "MTEE-S").await, Some(10));
    let logs = deliveries(store, tenant).await;
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_eq!(logs[0].source, "poll");
    assert_eq!(logs[0].connection_id, Some(medusa_conn));
    assert_eq!(logs[0].event_id, Some(format!("order:{order}")));
    assert_eq!(logs[0].status, "processed", "{:?}", logs[0].error);

    // Polls keep coming, and each reads the same order again (it is inside
    // the poll's overlap): a duplicate, so the stock stays where the sale
    // left it. A poll that began after `settled` and finished has moved the
    // cursor past it; the order's delivery is stored before that.
    let settled = Utc::now();
    eventually("a later poll", Duration::from_secs(60), || async {
        let cursor = store
            .orders_polled_until(tenant, medusa_conn)
            .await
            .unwrap()
            .unwrap()
            .until;
        if cursor > settled {
            Ok(())
        } else {
            Err(format!("the poll cursor is still {cursor}"))
        }
    })
    .await;
    let again = deliveries(store, tenant).await;
    assert_eq!(again.len(), 1, "the order was stored twice: {again:?}");
    assert_eq!(master_stock(store, tenant, medium).await, 7);
    assert_eq!(shopify_stock(&sim, "MTEE-M").await, Some(7));

    // The merchant cancels the order in Medusa's admin, and Medusa sends
    // nothing: the next poll reads the order again (its update time moved),
    // cancelled, and the three tees come back to the master (the tenant
    // restocks by default) and to Shopify.
    medusa.cancel_order(&order).await;
    eventually(
        "the cancellation in the master",
        Duration::from_secs(60),
        || async {
            match master_stock(store, tenant, medium).await {
                10 => Ok(()),
                n => Err(format!("MTEE-M at {n} in the master")),
            }
        },
    )
    .await;
    eventually(
        "the cancellation on Shopify",
        Duration::from_secs(60),
        || async {
            match shopify_stock(&sim, "MTEE-M").await {
                Some(10) => Ok(()),
                n => Err(format!("MTEE-M at {n:?} on Shopify")),
            }
        },
    )
    .await;
    // Later polls read the cancelled order again: a duplicate each time.
    let restocked = Utc::now();
    eventually(
        "a poll after the restock",
        Duration::from_secs(60),
        || async {
            let cursor = store
                .orders_polled_until(tenant, medusa_conn)
                .await
                .unwrap()
                .unwrap()
                .until;
            if cursor > restocked {
                Ok(())
            } else {
                Err(format!("the poll cursor is still {cursor}"))
            }
        },
    )
    .await;
    let logs = deliveries(store, tenant).await;
    assert_eq!(logs.len(), 2, "{logs:?}");
    let cancel = logs
        .iter()
        .find(|l| l.event_id == Some(format!("order-cancel:{order}")))
        .unwrap_or_else(|| panic!("no cancellation delivery in {logs:?}"));
    assert_eq!(cancel.status, "processed", "{:?}", cancel.error);
    assert_eq!(master_stock(store, tenant, medium).await, 10);
    eventually(
        "the push back to Medusa",
        Duration::from_secs(60),
        || async {
            match medusa_level(&medusa, "MTEE-M").await {
                Some((10, 0)) => Ok(()),
                level => Err(format!("MTEE-M at {level:?} in Medusa")),
            }
        },
    )
    .await;
    runtime.shutdown().await;
    let _ = std::io::Write::write_fmt(
        &mut std::io::stderr(),
        format_args!(
            "medusa to shopify: publish, sale and polls took {:.1} s once the server was up\n",
            started.elapsed().as_secs_f64()
        ),
    );
}
