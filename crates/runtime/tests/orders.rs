//! Orders move stock once per order, whichever way and in whichever order
//! their events arrive; polling finds orders through the same path.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use shelfsync_channels::{ChannelDeps, ConnectionSecrets, Credentials, OAuthTokens};
use shelfsync_core::catalog::NewProduct;
use shelfsync_core::vault::{ExposeSecret, KeyRing};
use shelfsync_core::{ConnectionId, Platform, TenantId, VariantId};
use shelfsync_runtime::connections::{ChannelHub, ChannelSettings};
use shelfsync_runtime::push::ChannelPush;
use shelfsync_runtime::{Backoff, Reconciler, Runtime, RuntimeConfig, Wakeups, WorkerKind};
use shelfsync_sim::{AccountCredentials, Simulator};
use shelfsync_store::{
    NewConnection, NewJob, OrderEvent, OrderLineRef, Store, WEBHOOK_QUEUE, WebhookLogQuery,
    WebhookLogRecord, WriteContext,
};
use shelfsync_testkit::{TestDatabase, backend_tests};

backend_tests!(
    orders_move_stock_once_in_any_order,
    refunds_give_back_once_and_never_beyond_the_order,
    polled_orders_take_the_webhook_path_once,
    cancellations_found_by_polling_restock_once
);

fn line(sku: &str, quantity: i64) -> Vec<OrderLineRef> {
    vec![OrderLineRef {
        sku: Some(sku.into()),
        external_variant_id: None,
        quantity,
    }]
}

async fn stock(store: &Store, tenant: TenantId, variant: VariantId) -> i64 {
    store
        .get_variant(tenant, variant)
        .await
        .unwrap()
        .unwrap()
        .inventory_quantity
}

/// A tenant with one product (`sku`, `quantity` in stock) and a
/// connection to the simulated WooCommerce store `creds` are for.
async fn shop(
    store: &Store,
    hub: &ChannelHub,
    sim: &Simulator,
    creds: &AccountCredentials,
    sku: &str,
    quantity: i64,
) -> (TenantId, ConnectionId, VariantId, shelfsync_core::ProductId) {
    let tenant = store.create_tenant("Shop", None).await.unwrap();
    let ctx = WriteContext::new(tenant, "test");
    let product: NewProduct = serde_json::from_value(json!({
        "title": "Mug",
        "variants": [{ "sku": sku, "price": "12.00", "inventory_quantity": quantity }]
    }))
    .unwrap();
    let product = store.create_product(&ctx, &product).await.unwrap();
    let id = connect_woo(store, hub, sim, tenant, creds).await;
    (tenant, id, product.variants[0].id, product.id)
}

/// A new connection of `tenant` to the simulated store `creds` are for.
async fn connect_woo(
    store: &Store,
    hub: &ChannelHub,
    sim: &Simulator,
    tenant: TenantId,
    creds: &AccountCredentials,
) -> ConnectionId {
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
            account: Some(format!("{}/{}", sim.base("woocommerce"), creds.account)),
            settings: json!({}),
            credentials: Some(hub.seal(tenant, id, &secrets)),
            token_expires_at: None,
        })
        .await
        .unwrap();
    id
}

/// The tenant's stored deliveries (the first ten), of one connection or all.
async fn deliveries(
    store: &Store,
    tenant: TenantId,
    connection: Option<ConnectionId>,
) -> Vec<WebhookLogRecord> {
    store
        .list_webhook_logs(
            tenant,
            &WebhookLogQuery {
                limit: 10,
                connection,
                ..WebhookLogQuery::default()
            },
        )
        .await
        .unwrap()
}

/// The outbox, sync and webhook workers (with reconciliation) on fast
/// timings, and the wake-ups they listen on.
async fn start_runtime(
    db: &TestDatabase,
    store: &Store,
    hub: &ChannelHub,
) -> (Wakeups, shelfsync_runtime::RuntimeHandle) {
    let wakeups = match &db.redis_url {
        Some(url) => Wakeups::redis(url).unwrap(),
        None => Wakeups::local(),
    };
    let config = RuntimeConfig {
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
    };
    let runtime = Runtime::standard(
        store.clone(),
        wakeups.clone(),
        config,
        &[WorkerKind::Outbox, WorkerKind::Sync, WorkerKind::Webhook],
        Arc::new(ChannelPush::new(hub.clone())),
        Some(Arc::new(Reconciler::new(hub.clone(), 5))),
    )
    .start()
    .await
    .unwrap();
    (wakeups, runtime)
}

async fn world(db: &TestDatabase) -> (Simulator, ChannelHub) {
    let sim = Simulator::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let mut settings = ChannelSettings::default();
    settings.bases.insert(
        Platform::WooCommerce,
        sim.base("woocommerce").parse().unwrap(),
    );
    settings
        .bases
        .insert(Platform::Ebay, sim.base("ebay").parse().unwrap());
    let keys = KeyRing::generate_entry("k1");
    let hub = ChannelHub::new(
        db.store.clone(),
        Arc::new(KeyRing::parse(keys.expose_secret()).unwrap()),
        ChannelDeps::local(),
        settings,
    );
    (sim, hub)
}

async fn orders_move_stock_once_in_any_order(db: TestDatabase) {
    let (sim, hub) = world(&db).await;
    let store = &db.store;
    let creds = sim.create_account("woocommerce", "orders1", None);
    let (tenant, conn, variant, _) = shop(store, &hub, &sim, &creds, "MUG-1", 10).await;
    let apply = |id: &'static str, lines: Vec<OrderLineRef>, event: OrderEvent| {
        let store = store.clone();
        async move {
            store
                .apply_channel_order(tenant, conn, "woocommerce", id, &lines, event)
                .await
                .unwrap()
        }
    };

    let placed = apply("A", line("MUG-1", 3), OrderEvent::Placed).await;
    assert_eq!(placed.moved, vec![(variant, -3)]);
    assert_eq!(stock(store, tenant, variant).await, 7);
    assert!(
        apply("A", line("MUG-1", 3), OrderEvent::Placed)
            .await
            .already
    );
    assert_eq!(stock(store, tenant, variant).await, 7);
    let cancelled = apply("A", line("MUG-1", 3), OrderEvent::Cancelled).await;
    assert_eq!(cancelled.moved, vec![(variant, 3)]);
    assert_eq!(stock(store, tenant, variant).await, 10);
    assert!(
        apply("A", line("MUG-1", 3), OrderEvent::Cancelled)
            .await
            .already
    );
    assert_eq!(stock(store, tenant, variant).await, 10);

    // The cancellation overtakes its order: neither moves stock.
    let early = apply("B", line("MUG-1", 4), OrderEvent::Cancelled).await;
    assert!(early.moved.is_empty());
    assert!(
        apply("B", line("MUG-1", 4), OrderEvent::Placed)
            .await
            .already
    );
    assert_eq!(stock(store, tenant, variant).await, 10);

    // The same new order delivered many times at once: taken once.
    let racing: Vec<_> = (0..12)
        .map(|_| tokio::spawn(apply("C", line("MUG-1", 2), OrderEvent::Placed)))
        .collect();
    let mut applied = 0;
    for task in racing {
        if !task.await.unwrap().already {
            applied += 1;
        }
    }
    assert_eq!(applied, 1);
    assert_eq!(stock(store, tenant, variant).await, 8);

    // Unknown SKUs are recorded; a sale beyond stock stops at zero.
    let mixed = vec![
        OrderLineRef {
            sku: Some("NOT-OURS".into()),
            external_variant_id: Some("999".into()),
            quantity: 1,
        },
        line("MUG-1", 20).remove(0),
    ];
    let done = apply("D", mixed, OrderEvent::Placed).await;
    assert_eq!(done.unmatched.len(), 1);
    assert_eq!(done.unmatched[0].sku.as_deref(), Some("NOT-OURS"));
    assert_eq!(done.oversold, 12);
    assert_eq!(stock(store, tenant, variant).await, 0);
    // Its cancellation gives back what was taken, not what was ordered.
    apply("D", Vec::new(), OrderEvent::Cancelled).await;
    assert_eq!(stock(store, tenant, variant).await, 8);

    // With restocking off, a cancellation leaves stock where it is.
    store
        .set_restock_on_cancel(&WriteContext::new(tenant, "test"), false)
        .await
        .unwrap();
    apply("E", line("MUG-1", 5), OrderEvent::Placed).await;
    let kept = apply("E", line("MUG-1", 5), OrderEvent::Cancelled).await;
    assert!(kept.moved.is_empty());
    assert_eq!(stock(store, tenant, variant).await, 3);
}

async fn refunds_give_back_once_and_never_beyond_the_order(db: TestDatabase) {
    let (sim, hub) = world(&db).await;
    let store = &db.store;
    let creds = sim.create_account("woocommerce", "refunds1", None);
    let (tenant, conn, variant, _) = shop(store, &hub, &sim, &creds, "MUG-1", 10).await;
    let place = |id: &'static str, quantity: i64| {
        let store = store.clone();
        async move {
            store
                .apply_channel_order(
                    tenant,
                    conn,
                    "woocommerce",
                    id,
                    &line("MUG-1", quantity),
                    OrderEvent::Placed,
                )
                .await
                .unwrap()
        }
    };
    let cancel = |id: &'static str| {
        let store = store.clone();
        async move {
            store
                .apply_channel_order(tenant, conn, "woocommerce", id, &[], OrderEvent::Cancelled)
                .await
                .unwrap()
        }
    };
    let refund_keeping = |order: &'static str,
                          refund: &'static str,
                          lines: Vec<OrderLineRef>,
                          kept: Vec<OrderLineRef>| {
        let store = store.clone();
        async move {
            store
                .apply_channel_refund(tenant, conn, "woocommerce", order, refund, &lines, &kept)
                .await
                .unwrap()
        }
    };
    let refund = |order: &'static str, refund: &'static str, lines: Vec<OrderLineRef>| {
        refund_keeping(order, refund, lines, Vec::new())
    };

    // A partial refund gives back what it names, once.
    place("A", 5).await;
    assert_eq!(stock(store, tenant, variant).await, 5);
    let partial = refund("A", "R1", line("MUG-1", 2)).await;
    assert_eq!(partial.moved, vec![(variant, 2)]);
    assert!(partial.restock && !partial.already && !partial.order_unknown);
    assert_eq!(stock(store, tenant, variant).await, 7);
    let again = refund("A", "R1", line("MUG-1", 2)).await;
    assert!(again.already, "{again:?}");
    assert!(again.moved.is_empty());
    assert_eq!(stock(store, tenant, variant).await, 7);

    // The movement names the order and the refund.
    let history = store.inventory_history(tenant, variant, 10).await.unwrap();
    let latest = &history[0];
    assert_eq!(latest.delta, 2);
    assert_eq!(latest.reason, "order_refunded");
    assert_eq!(
        latest.reference.as_deref(),
        Some("woocommerce:order:A:refund:R1")
    );

    // A second refund asking for more than is still out gets only the rest
    // (5 taken, 2 back: 3), and the cancellation after it gives back nothing.
    let greedy = refund("A", "R2", line("MUG-1", 4)).await;
    assert_eq!(greedy.moved, vec![(variant, 3)]);
    assert_eq!(greedy.beyond_taken, 1);
    assert_eq!(stock(store, tenant, variant).await, 10);
    let cancelled = cancel("A").await;
    assert!(cancelled.moved.is_empty(), "{cancelled:?}");
    assert_eq!(stock(store, tenant, variant).await, 10);

    // A partial refund, then the cancellation: the cancellation gives back
    // only the rest.
    place("B", 4).await;
    assert_eq!(stock(store, tenant, variant).await, 6);
    refund("B", "R3", line("MUG-1", 1)).await;
    assert_eq!(stock(store, tenant, variant).await, 7);
    assert_eq!(cancel("B").await.moved, vec![(variant, 3)]);
    assert_eq!(stock(store, tenant, variant).await, 10);
    // A refund after the cancellation has nothing left to give.
    let late = refund("B", "R4", line("MUG-1", 1)).await;
    assert!(late.moved.is_empty());
    assert_eq!(late.beyond_taken, 1);
    assert_eq!(stock(store, tenant, variant).await, 10);

    // `no_restock` lines move nothing, and the cancellation after them does
    // not give back the units the buyer kept; unknown SKUs are reported.
    place("C", 4).await;
    assert_eq!(stock(store, tenant, variant).await, 6);
    let money_only = refund_keeping("C", "R5", Vec::new(), line("MUG-1", 1)).await;
    assert!(money_only.moved.is_empty() && !money_only.already);
    assert_eq!(money_only.kept, 1);
    let mixed = refund_keeping("C", "R6", line("MUG-1", 1), line("MUG-1", 1)).await;
    assert_eq!(mixed.moved, vec![(variant, 1)]);
    assert_eq!(mixed.kept, 1);
    assert_eq!(stock(store, tenant, variant).await, 7);
    let stranger = refund("C", "R10", line("NOT-OURS", 1)).await;
    assert_eq!(stranger.unmatched.len(), 1);
    assert!(stranger.moved.is_empty());
    assert_eq!(cancel("C").await.moved, vec![(variant, 1)]);
    assert_eq!(stock(store, tenant, variant).await, 8);

    // A refund that overtakes its order: nothing moves, nothing is kept,
    // and the order then takes its stock as usual.
    let early = refund("D", "R7", line("MUG-1", 1)).await;
    assert!(early.order_unknown, "{early:?}");
    assert!(early.moved.is_empty());
    place("D", 1).await;
    assert_eq!(stock(store, tenant, variant).await, 7);

    // With restocking off, a refund is recorded and leaves stock alone;
    // redelivered once restocking is back on, it still moves nothing.
    store
        .set_restock_on_cancel(&WriteContext::new(tenant, "test"), false)
        .await
        .unwrap();
    let kept = refund("D", "R8", line("MUG-1", 1)).await;
    assert!(!kept.restock);
    assert!(kept.moved.is_empty());
    assert_eq!(stock(store, tenant, variant).await, 7);
    store
        .set_restock_on_cancel(&WriteContext::new(tenant, "test"), true)
        .await
        .unwrap();
    assert!(refund("D", "R8", line("MUG-1", 1)).await.already);
    assert_eq!(stock(store, tenant, variant).await, 7);

    // The same refund delivered many times at once, racing the order's
    // cancellation: together they give back exactly what the order took.
    place("E", 6).await;
    assert_eq!(stock(store, tenant, variant).await, 1);
    let mut racing: Vec<_> = (0..8)
        .map(|_| tokio::spawn(refund("E", "R11", line("MUG-1", 2))))
        .collect();
    let cancelling = tokio::spawn(cancel("E"));
    racing.extend((0..4).map(|_| tokio::spawn(refund("E", "R11", line("MUG-1", 2)))));
    let mut first = 0;
    for task in racing {
        if !task.await.unwrap().already {
            first += 1;
        }
    }
    cancelling.await.unwrap();
    assert_eq!(first, 1, "the refund applied once");
    assert_eq!(stock(store, tenant, variant).await, 7);

    // Refunds are the connection's own: another tenant naming the same
    // order and refund on its own connection touches nothing here.
    let other = sim.create_account("woocommerce", "refunds2", None);
    let (tenant2, conn2, variant2, _) = shop(store, &hub, &sim, &other, "MUG-1", 4).await;
    let foreign = store
        .apply_channel_refund(
            tenant2,
            conn2,
            "woocommerce",
            "A",
            "R9",
            &line("MUG-1", 2),
            &[],
        )
        .await
        .unwrap();
    assert!(foreign.order_unknown);
    assert_eq!(stock(store, tenant, variant).await, 7);
    assert_eq!(stock(store, tenant2, variant2).await, 4);
}

async fn polled_orders_take_the_webhook_path_once(db: TestDatabase) {
    let (sim, hub) = world(&db).await;
    let store = db.store.clone();
    let creds = sim.create_account("woocommerce", "polled1", None);
    let (tenant, conn, variant, product) = shop(&store, &hub, &sim, &creds, "POLL-1", 10).await;
    store
        .upsert_listing(tenant, conn, product, variant)
        .await
        .unwrap();
    let (wakeups, runtime) = start_runtime(&db, &store, &hub).await;
    wakeups.wake(shelfsync_runtime::OUTBOX_QUEUE).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let until = |what: &'static str, done: bool| {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        done
    };
    while !until("the first push", !sim_listing_skus(&sim).await.is_empty()) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A sale on the channel, which sends no webhook here: found by polling.
    let reply = reqwest::Client::new()
        .post(format!("{}/_sim/woocommerce/polled1/orders", sim.url()))
        .json(&json!({"lines": [{"sku": "POLL-1", "quantity": 2}]}))
        .send()
        .await
        .unwrap();
    assert!(
        reply.status().is_success(),
        "{}",
        reply.text().await.unwrap()
    );
    let poll = NewJob::orders_poll(tenant, conn, 5);
    store
        .enqueue_jobs(std::slice::from_ref(&poll))
        .await
        .unwrap();
    wakeups.wake(WEBHOOK_QUEUE).await;
    while !until("the polled sale", stock(&store, tenant, variant).await == 8) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Polling again reads the same order: a duplicate, stock unchanged.
    store.enqueue_jobs(&[poll]).await.unwrap();
    wakeups.wake(WEBHOOK_QUEUE).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(stock(&store, tenant, variant).await, 8);
    let logs = deliveries(&store, tenant, None).await;
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_eq!(logs[0].source, "poll");
    assert_eq!(logs[0].status, "processed");

    // A second connection to the same store, made after the sale: no poll
    // of it, the first or a later one with its overlap, reaches back before
    // it was made, so the sale (already in the stock) is not taken again.
    let second = connect_woo(&store, &hub, &sim, tenant, &creds).await;
    let made_at = store
        .orders_polled_until(tenant, second)
        .await
        .unwrap()
        .unwrap()
        .made_at;
    for poll in ["first", "second"] {
        let before = store
            .orders_polled_until(tenant, second)
            .await
            .unwrap()
            .unwrap()
            .until;
        store
            .enqueue_jobs(&[NewJob::orders_poll(tenant, second, 5)])
            .await
            .unwrap();
        wakeups.wake(WEBHOOK_QUEUE).await;
        loop {
            let cursor = store
                .orders_polled_until(tenant, second)
                .await
                .unwrap()
                .unwrap();
            if !until(
                "a poll of the second connection",
                cursor.until > before.max(made_at),
            ) {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            println!("{poll} poll of the second connection done");
            break;
        }
    }
    // The poll stores what it read before it moves its cursor.
    let read = deliveries(&store, tenant, Some(second)).await;
    assert!(read.is_empty(), "{read:?}");
    assert_eq!(stock(&store, tenant, variant).await, 8);
    runtime.shutdown().await;
}

/// An order cancelled on eBay after it was placed is found by the next poll
/// (by last modification) and gives its stock back, once.
async fn cancellations_found_by_polling_restock_once(db: TestDatabase) {
    let (sim, hub) = world(&db).await;
    let store = db.store.clone();
    let tenant = store.create_tenant("Shop", None).await.unwrap();
    let product: NewProduct = serde_json::from_value(json!({
        "title": "Mug",
        "variants": [{ "sku": "EBAY-MUG", "price": "12.00", "inventory_quantity": 10 }]
    }))
    .unwrap();
    let product = store
        .create_product(&WriteContext::new(tenant, "test"), &product)
        .await
        .unwrap();
    let variant = product.variants[0].id;
    let creds = sim.create_account("ebay", "cancels1", None);
    let conn = ConnectionId::new();
    let secrets = ConnectionSecrets {
        credentials: Credentials::OAuth(OAuthTokens {
            access_token: creds.access_token.clone().into(),
            refresh_token: Some(creds.refresh_token.clone().into()),
            expires_at: None,
            scope: None,
        }),
        webhook_secret: None,
    };
    store
        .create_connection(&NewConnection {
            id: conn,
            tenant,
            platform: "ebay".into(),
            name: "eBay".into(),
            account: Some("cancels1".into()),
            settings: shelfsync_sim::ebay::seller_settings(),
            credentials: Some(hub.seal(tenant, conn, &secrets)),
            token_expires_at: None,
        })
        .await
        .unwrap();
    store
        .upsert_listing(tenant, conn, product.id, variant)
        .await
        .unwrap();
    let (wakeups, runtime) = start_runtime(&db, &store, &hub).await;
    wakeups.wake(shelfsync_runtime::OUTBOX_QUEUE).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let until = |what: &'static str, done: bool| {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        done
    };
    let on_ebay = || async {
        let held: Vec<shelfsync_sim::SimListing> =
            reqwest::get(format!("{}/_sim/ebay/cancels1/listings", sim.url()))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
        held.iter()
            .flat_map(|l| l.variants.iter())
            .find(|v| v.sku == "EBAY-MUG")
            .map(|v| v.quantity)
    };
    while !until("the first push", on_ebay().await == Some(10)) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // One poll, and wait until its cursor has moved past where it started.
    let poll = || {
        let store = store.clone();
        let wakeups = wakeups.clone();
        async move {
            let before = store
                .orders_polled_until(tenant, conn)
                .await
                .unwrap()
                .unwrap()
                .until;
            store
                .enqueue_jobs(&[NewJob::orders_poll(tenant, conn, 5)])
                .await
                .unwrap();
            wakeups.wake(WEBHOOK_QUEUE).await;
            loop {
                let cursor = store
                    .orders_polled_until(tenant, conn)
                    .await
                    .unwrap()
                    .unwrap();
                if cursor.until > before {
                    return;
                }
                assert!(Instant::now() < deadline, "timed out waiting for a poll");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let settled = || {
        let store = store.clone();
        async move {
            deliveries(&store, tenant, Some(conn))
                .await
                .iter()
                .all(|l| l.status != "received")
        }
    };

    // A sale on eBay, found by polling: the master follows.
    let reply = reqwest::Client::new()
        .post(format!("{}/_sim/ebay/cancels1/orders", sim.url()))
        .json(&json!({"lines": [{"sku": "EBAY-MUG", "quantity": 3}]}))
        .send()
        .await
        .unwrap();
    assert!(
        reply.status().is_success(),
        "{}",
        reply.text().await.unwrap()
    );
    let order: serde_json::Value = reply.json().await.unwrap();
    let order_id = order["order_id"].as_str().unwrap().to_owned();
    poll().await;
    while !until("the polled sale", stock(&store, tenant, variant).await == 7) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The buyer cancels; the next poll reads the order again, cancelled.
    let reply = reqwest::Client::new()
        .post(format!(
            "{}/_sim/ebay/cancels1/orders/{order_id}/cancel",
            sim.url()
        ))
        .send()
        .await
        .unwrap();
    assert!(
        reply.status().is_success(),
        "{}",
        reply.text().await.unwrap()
    );
    poll().await;
    while !until(
        "the polled cancellation",
        stock(&store, tenant, variant).await == 10,
    ) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Polled again (the overlap reads it once more): nothing more moves.
    poll().await;
    while !until("the deliveries applied", settled().await) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(stock(&store, tenant, variant).await, 10);
    let logs = deliveries(&store, tenant, Some(conn)).await;
    let mut events: Vec<(String, String)> = logs
        .iter()
        .map(|l| (l.topic.clone().unwrap_or_default(), l.status.clone()))
        .collect();
    events.sort();
    assert_eq!(
        events,
        vec![
            ("orders/poll".to_owned(), "processed".to_owned()),
            ("orders/poll-cancelled".to_owned(), "processed".to_owned()),
        ],
        "{logs:?}"
    );
    let history = store.inventory_history(tenant, variant, 10).await.unwrap();
    let restocks: Vec<_> = history
        .iter()
        .filter(|m| m.reason == "order_cancelled")
        .collect();
    assert_eq!(restocks.len(), 1, "{history:?}");
    assert_eq!(restocks[0].delta, 3);
    assert_eq!(
        restocks[0].reference.as_deref(),
        Some(format!("ebay:order:{order_id}").as_str())
    );

    // An order placed and cancelled between two polls is only ever seen
    // cancelled: it takes nothing.
    let reply = reqwest::Client::new()
        .post(format!("{}/_sim/ebay/cancels1/orders", sim.url()))
        .json(&json!({"lines": [{"sku": "EBAY-MUG", "quantity": 2}]}))
        .send()
        .await
        .unwrap();
    let order: serde_json::Value = reply.json().await.unwrap();
    let brief = order["order_id"].as_str().unwrap().to_owned();
    let reply = reqwest::Client::new()
        .post(format!(
            "{}/_sim/ebay/cancels1/orders/{brief}/cancel",
            sim.url()
        ))
        .send()
        .await
        .unwrap();
    assert!(reply.status().is_success());
    poll().await;
    while !until("the brief order applied", settled().await) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(stock(&store, tenant, variant).await, 10);
    assert_eq!(deliveries(&store, tenant, Some(conn)).await.len(), 3);
    runtime.shutdown().await;
}

async fn sim_listing_skus(sim: &Simulator) -> Vec<String> {
    let held: Vec<shelfsync_sim::SimListing> =
        reqwest::get(format!("{}/_sim/woocommerce/polled1/listings", sim.url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    held.iter()
        .flat_map(|l| l.variants.iter().map(|v| v.sku.clone()))
        .collect()
}
