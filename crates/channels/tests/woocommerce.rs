//! The WooCommerce adapter against the simulated store.

#[path = "woocommerce/helpers.rs"]
mod helpers;
mod support;

use std::time::Duration;

use chrono::Utc;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use shelfsync_channels::{ChannelError, InventoryPush, WebhookError, WebhookKind};
use shelfsync_core::quota::{Limit, QuotaModel, Scope};
use shelfsync_sim::Faults;

use helpers::*;
use support::{product, quota_settings, simulator};

#[tokio::test]
async fn creates_simple_and_variable_products_in_batches() {
    let (sim, _, channel) = store("create", json!({})).await;
    let refs = upsert_ok(channel.as_ref(), &[simple("TEE"), product("HOOD", 3)]).await;
    assert_eq!(refs[0].variants.len(), 1);
    assert_eq!(refs[0].variants[0].external_id, refs[0].external_id);
    assert_eq!(refs[1].variants.len(), 3);

    let held = listings(&sim, "create").await;
    assert_eq!(held.len(), 2);
    let tee = held
        .iter()
        .find(|l| l.external_id == refs[0].external_id)
        .unwrap();
    assert_eq!(tee.title, "Product TEE");
    assert_eq!(tee.status, "publish");
    assert_eq!(
        (tee.variants[0].sku.as_str(), tee.variants[0].quantity),
        ("TEE-0", 10)
    );
    assert_eq!(tee.variants[0].price, Decimal::new(1999, 2));
    let hood = held
        .iter()
        .find(|l| l.external_id == refs[1].external_id)
        .unwrap();
    let mut skus: Vec<_> = hood
        .variants
        .iter()
        .map(|v| (v.sku.clone(), v.quantity))
        .collect();
    skus.sort();
    assert_eq!(
        skus,
        vec![
            ("HOOD-0".into(), 10),
            ("HOOD-1".into(), 11),
            ("HOOD-2".into(), 12)
        ]
    );
    let stats = sim.stats(NAME, "create");
    assert_eq!(stats.by_operation.get("products.batch"), Some(&1));
    assert_eq!(stats.by_operation.get("variations.batch"), Some(&1));
}

#[tokio::test]
async fn updates_products_and_variants_by_their_ids() {
    let (sim, _, channel) = store("update", json!({})).await;
    let pushed = [simple("TEE"), product("HOOD", 2)];
    let refs = upsert_ok(channel.as_ref(), &pushed).await;

    let mut tee = with_refs(pushed[0].clone(), &refs[0]);
    tee.title = "Tee, renamed".into();
    tee.variants[0].price = Decimal::new(2500, 2);
    let mut hood = with_refs(pushed[1].clone(), &refs[1]);
    hood.variants[1].price = Decimal::new(3000, 2);
    hood.variants.push(product("HOOD", 3).variants[2].clone());
    let again = upsert_ok(channel.as_ref(), &[tee, hood]).await;
    assert_eq!(again[0].external_id, refs[0].external_id);
    assert_eq!(again[1].external_id, refs[1].external_id);
    assert_eq!(again[1].variants[..2], refs[1].variants[..]);
    assert_eq!(again[1].variants.len(), 3);

    let held = listings(&sim, "update").await;
    assert_eq!(held.len(), 2, "updated in place, not created again");
    let tee = held
        .iter()
        .find(|l| l.external_id == refs[0].external_id)
        .unwrap();
    assert_eq!(tee.title, "Tee, renamed");
    assert_eq!(tee.variants[0].price, Decimal::new(2500, 2));
    let hood = held
        .iter()
        .find(|l| l.external_id == refs[1].external_id)
        .unwrap();
    let hood_1 = hood.variants.iter().find(|v| v.sku == "HOOD-1").unwrap();
    assert_eq!(hood_1.price, Decimal::new(3000, 2));
    assert_eq!(hood.variants.len(), 3);
}

#[tokio::test]
async fn a_refused_product_fails_alone_and_a_half_made_one_is_removed() {
    let (sim, _, channel) = store("refusals", json!({})).await;
    upsert_ok(channel.as_ref(), &[simple("DUP")]).await;

    let taken_sku = simple("DUP");
    let mut half = product("HALF", 2);
    half.variants[0].sku = "DUP-0".into();
    let fine = simple("FINE");
    let outcomes = channel
        .upsert_products(&[taken_sku, half, fine])
        .await
        .unwrap();
    let refused = outcomes[0].result.as_ref().unwrap_err();
    assert_eq!(refused.code, "product_invalid_sku");
    assert!(!refused.retryable);
    let half = outcomes[1].result.as_ref().unwrap_err();
    assert_eq!(half.code, "product_invalid_sku");
    assert!(half.message.contains("DUP-0"), "{}", half.message);
    assert!(half.message.contains("removed again"), "{}", half.message);
    assert!(outcomes[2].result.is_ok());

    let titles: Vec<_> = listings(&sim, "refusals")
        .await
        .into_iter()
        .map(|l| l.title)
        .collect();
    assert_eq!(titles, vec!["Product DUP", "Product FINE"]);
}

#[tokio::test]
async fn more_than_a_batch_goes_in_calls_of_one_hundred() {
    let (sim, _, channel) = store("bulk", json!({})).await;
    let products: Vec<_> = (0..101).map(|n| simple(&format!("B{n}"))).collect();
    let refs = upsert_ok(channel.as_ref(), &products).await;
    assert_eq!(refs.len(), 101);
    assert_eq!(channel.batch_limits().products, 100);
    assert_eq!(
        sim.stats(NAME, "bulk").by_operation.get("products.batch"),
        Some(&2)
    );
    assert_eq!(listings(&sim, "bulk").await.len(), 101);
}

#[tokio::test]
async fn stock_is_set_in_batches_and_bad_levels_fail_alone() {
    let (sim, _, channel) = store("stock", json!({})).await;
    let refs = upsert_ok(channel.as_ref(), &[simple("TEE"), product("HOOD", 3)]).await;
    let level = |sku: &str, product: Option<&str>, variant: Option<&str>, quantity| InventoryPush {
        sku: sku.into(),
        external_product_id: product.map(str::to_owned),
        external_variant_id: variant.map(str::to_owned),
        inventory_ref: None,
        quantity,
    };
    let (tee, hood) = (&refs[0], &refs[1]);
    let mut levels = vec![level(
        "TEE-0",
        Some(&tee.external_id),
        Some(&tee.variants[0].external_id),
        3,
    )];
    for (n, v) in hood.variants.iter().enumerate() {
        levels.push(level(
            &v.sku,
            Some(&hood.external_id),
            Some(&v.external_id),
            40 + n as i64,
        ));
    }
    levels.push(level("GONE", Some("999999"), None, 1));
    levels.push(level("NEW", None, None, 1));
    let outcomes = channel.set_inventory(&levels).await.unwrap();
    assert!(
        outcomes[..4].iter().all(|o| o.result.is_ok()),
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes[4].result.as_ref().unwrap_err().code,
        "woocommerce_rest_product_invalid_id"
    );
    assert_eq!(
        outcomes[5].result.as_ref().unwrap_err().code,
        "no_product_id"
    );

    let held = listings(&sim, "stock").await;
    let quantities: Vec<(String, i64)> = held
        .iter()
        .flat_map(|l| l.variants.iter().map(|v| (v.sku.clone(), v.quantity)))
        .collect();
    for expected in [("TEE-0", 3), ("HOOD-0", 40), ("HOOD-1", 41), ("HOOD-2", 42)] {
        assert!(
            quantities.contains(&(expected.0.into(), expected.1)),
            "{quantities:?}"
        );
    }
    let stats = sim.stats(NAME, "stock");
    // One call for the simple products, one for the variable product's variations.
    assert_eq!(stats.by_operation.get("products.batch"), Some(&2));
    assert_eq!(stats.by_operation.get("variations.batch"), Some(&2));
}

#[tokio::test]
async fn listings_are_read_back_page_by_page() {
    let (sim, _, channel) = store("pages", json!({ "page_size": 2 })).await;
    let pushed = [
        simple("A"),
        product("B", 2),
        simple("C"),
        product("D", 3),
        simple("E"),
    ];
    let refs = upsert_ok(channel.as_ref(), &pushed).await;

    let mut read = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = channel.read_listings(cursor.as_deref()).await.unwrap();
        pages += 1;
        assert!(page.listings.len() <= 2);
        read.extend(page.listings);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let ids: Vec<_> = read.iter().map(|l| l.external_id.clone()).collect();
    let pushed_ids: Vec<_> = refs.iter().map(|r| r.external_id.clone()).collect();
    assert_eq!(ids, pushed_ids, "every product once, in id order");
    let d = &read[3];
    assert_eq!(d.variants.len(), 3);
    let d_skus: Vec<_> = d.variants.iter().filter_map(|v| v.sku.clone()).collect();
    assert_eq!(d_skus, vec!["D-0", "D-1", "D-2"]);
    assert_eq!(d.variants[2].quantity, Some(12));
    assert_eq!(d.variants[2].price, Some(Decimal::new(2199, 2)));
    assert!(read[0].updated_at.is_some());
    assert_eq!(
        sim.stats(NAME, "pages").by_operation.get("products.list"),
        Some(&3)
    );
}

#[tokio::test]
async fn recent_orders_are_those_placed_since() {
    let (sim, _, channel) = store("orders", json!({})).await;
    let refs = upsert_ok(channel.as_ref(), &[simple("TEE"), product("HOOD", 2)]).await;
    let since = Utc::now() - chrono::Duration::minutes(1);
    let id = place_order(
        &sim,
        "orders",
        json!([{"sku": "TEE-0", "quantity": 2}, {"sku": "HOOD-1", "quantity": 1}]),
    )
    .await;

    let orders = channel.recent_orders(since).await.unwrap();
    assert_eq!(orders.len(), 1);
    let order = &orders[0];
    assert_eq!(order.external_id, id);
    assert!(order.created_at.is_some_and(|at| at >= since));
    assert_eq!(order.lines.len(), 2);
    assert_eq!(order.lines[0].sku.as_deref(), Some("TEE-0"));
    assert_eq!(
        order.lines[0].external_variant_id.as_ref(),
        Some(&refs[0].external_id)
    );
    assert_eq!(order.lines[0].quantity, 2);
    let hood_1 = refs[1].variants.iter().find(|v| v.sku == "HOOD-1").unwrap();
    assert_eq!(
        order.lines[1].external_variant_id.as_ref(),
        Some(&hood_1.external_id)
    );

    let later = Utc::now() + chrono::Duration::hours(1);
    assert!(channel.recent_orders(later).await.unwrap().is_empty());
    let tee = listings(&sim, "orders")
        .await
        .into_iter()
        .find(|l| l.title == "Product TEE")
        .unwrap();
    assert_eq!(tee.variants[0].quantity, 8, "the order took stock");
    assert!(!order.cancelled);

    // Cancelled later: read again by its modification date, flagged.
    let after_sale = Utc::now();
    support::cancel_order(&sim, "woocommerce", "orders", &id).await;
    let orders = channel.recent_orders(after_sale).await.unwrap();
    assert_eq!(orders.len(), 1, "{orders:?}");
    assert!(orders[0].cancelled);
}

#[tokio::test]
async fn webhooks_are_subscribed_signed_and_verified() {
    let (sim, creds, channel) = store("hooks", json!({})).await;
    let refs = upsert_ok(channel.as_ref(), &[simple("TEE")]).await;
    let mut receiver = Receiver::start().await;

    channel.subscribe_webhooks(&receiver.url).await.unwrap();
    // WooCommerce pings each new webhook's URL, unsigned.
    for _ in 0..4 {
        let (headers, body) = receiver.next().await;
        let ping = channel.verify_webhook(&headers, &body).unwrap();
        assert_eq!(
            (ping.topic.as_str(), &ping.kind),
            ("ping", &WebhookKind::Other)
        );
    }
    // Subscribing again adds nothing.
    channel.subscribe_webhooks(&receiver.url).await.unwrap();
    assert!(
        receiver.requests.try_recv().is_err(),
        "no new webhook, so no new ping"
    );
    let listed: Vec<Value> = reqwest::Client::new()
        .get(format!("{}/{NAME}/hooks/wp-json/wc/v3/webhooks", sim.url()))
        .basic_auth(&creds.consumer_key, Some(&creds.consumer_secret))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut topics: Vec<_> = listed.iter().filter_map(|w| w["topic"].as_str()).collect();
    topics.sort();
    assert_eq!(
        topics,
        [
            "order.created",
            "order.updated",
            "product.deleted",
            "product.updated"
        ]
    );

    let order_id = place_order(&sim, "hooks", json!([{"sku": "TEE-0", "quantity": 1}])).await;
    let (headers, body) = receiver.next().await;
    assert_eq!(headers["x-wc-webhook-topic"], "order.created");
    let event = channel.verify_webhook(&headers, &body).unwrap();
    let delivery = headers["x-wc-webhook-delivery-id"].to_str().unwrap();
    assert!(event.event_id.starts_with(delivery));
    match &event.kind {
        WebhookKind::OrderCreated { order } => {
            assert_eq!(order.external_id, order_id);
            assert_eq!(order.lines[0].sku.as_deref(), Some("TEE-0"));
            assert_eq!(order.lines[0].quantity, 1);
        }
        other => panic!("{other:?}"),
    }
    let mut tampered = body.clone();
    let at = tampered.iter().position(|b| *b == b'1').unwrap();
    tampered[at] = b'9';
    assert_eq!(
        channel.verify_webhook(&headers, &tampered),
        Err(WebhookError::BadSignature)
    );

    reqwest::Client::new()
        .post(format!(
            "{}/_sim/{NAME}/hooks/products/{}",
            sim.url(),
            refs[0].external_id
        ))
        .json(&json!({"title": "Tee, edited in the store"}))
        .send()
        .await
        .unwrap();
    let (headers, body) = receiver.next().await;
    match channel.verify_webhook(&headers, &body).unwrap().kind {
        WebhookKind::ProductUpdated { listing } => {
            assert_eq!(listing.external_id, refs[0].external_id);
            assert_eq!(listing.title, "Tee, edited in the store");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn throttled_calls_are_retried_until_they_pass() {
    let (sim, _, channel) = store("throttled", json!({})).await;
    upsert_ok(channel.as_ref(), &[simple("TEE")]).await;
    sim.set_faults(
        NAME,
        Faults {
            throttle_rate: 1.0,
            retry_after_secs: 1,
            ..Faults::default()
        },
    );
    let reader = channel.clone();
    let read = tokio::spawn(async move { reader.read_listings(None).await });
    // The adapter is in its Retry-After pause by now; the store recovers.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    sim.set_faults(NAME, Faults::default());
    let page = read
        .await
        .unwrap()
        .expect("passes once the throttling stops");
    assert_eq!(page.listings.len(), 1);
    assert!(
        sim.stats(NAME, "*").faults >= 1,
        "the call was throttled first"
    );
}

#[tokio::test]
async fn a_host_limit_unknown_to_the_adapter_is_survived_through_retry_after() {
    let sim = simulator().await;
    let quota = QuotaModel::unlimited().with(
        Scope::All,
        Limit::TokenBucket {
            rate_per_sec: 5.0,
            burst: 2.0,
        },
    );
    let creds = sim.create_account(NAME, "hosted", Some(quota));
    let channel = connect(&sim, "hosted", &creds, json!({}));
    for n in 0..5 {
        upsert_ok(channel.as_ref(), &[simple(&format!("H{n}"))]).await;
    }
    let stats = sim.stats(NAME, "hosted");
    assert!(
        stats.throttled >= 1,
        "the host refused some calls: {stats:?}"
    );
    assert_eq!(stats.by_status.get(&200), Some(&5));
    assert_eq!(listings(&sim, "hosted").await.len(), 5);
}

#[tokio::test]
async fn the_adapter_paces_itself_to_a_host_quota_without_a_429() {
    const RATE: f64 = 8.0;
    const BURST: f64 = 8.0;
    const WINDOW_SECS: f64 = 3.5;
    const TASKS: usize = 4;
    let quota = QuotaModel::unlimited().with(
        Scope::All,
        Limit::TokenBucket {
            rate_per_sec: RATE,
            burst: BURST,
        },
    );
    let sim = simulator().await;
    let creds = sim.create_account(NAME, "paced", None);
    let setup = connect(&sim, "paced", &creds, json!({}));
    let tee = upsert_ok(setup.as_ref(), &[simple("TEE")]).await.remove(0);

    // The host's limit, and the same limit in the connection's settings.
    sim.core
        .accounts
        .set_quota(NAME, "paced", Some(quota.clone()));
    sim.core.limiter.reset(NAME, "paced");
    sim.core.stats.reset();
    let channel = connect(&sim, "paced", &creds, quota_settings(&quota));
    assert_eq!(channel.quota_model(), &quota);

    // Twice the calls the quota allows in the window, from several tasks at once.
    let work = (2.0 * (BURST + RATE * WINDOW_SECS)) as usize;
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let channel = channel.clone();
        let tee = tee.clone();
        tasks.push(tokio::spawn(async move {
            for n in (t..work).step_by(TASKS) {
                let level = InventoryPush {
                    sku: "TEE-0".into(),
                    external_product_id: Some(tee.external_id.clone()),
                    external_variant_id: Some(tee.external_id.clone()),
                    inventory_ref: None,
                    quantity: n as i64,
                };
                let outcome = channel.set_inventory(&[level]).await.unwrap();
                outcome[0].result.clone().unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }

    let stats = sim.stats(NAME, "paced");
    let elapsed = stats.last_at.unwrap() - stats.first_at.unwrap();
    let allowed = BURST + RATE * elapsed;
    let used = stats.cost;
    println!(
        "woocommerce quota: {work} calls in {elapsed:.2} s; allowed {allowed:.1} \
         (burst {BURST} + {RATE}/s); used {used}; ratio {:.3}; throttled {}",
        used / allowed,
        stats.throttled
    );
    assert_eq!(stats.throttled, 0, "never a 429");
    assert_eq!(used as usize, work);
    assert!(used / allowed >= 0.9, "used {used} of {allowed:.1} allowed");
}

#[tokio::test]
async fn wrong_keys_are_unauthorized_and_never_echoed() {
    let (sim, creds, _) = store("locked", json!({})).await;
    let mut wrong = creds.clone();
    wrong.consumer_secret = "cs_not_the_secret".into();
    let channel = connect(&sim, "locked", &wrong, json!({}));
    let error = channel.read_listings(None).await.unwrap_err();
    match &error {
        ChannelError::Unauthorized(message) => {
            assert!(
                message.contains("woocommerce_rest_cannot_view"),
                "{message}"
            )
        }
        other => panic!("{other:?}"),
    }
    let shown = error.to_string();
    assert!(!shown.contains("cs_not_the_secret") && !shown.contains(&creds.consumer_secret));
    assert_eq!(sim.stats(NAME, "locked").by_status.get(&401), Some(&1));
}

#[tokio::test]
async fn app_authorization_posts_the_store_keys_to_the_callback() {
    let sim = simulator().await;
    let creds = sim.create_account(NAME, "granted", None);
    let mut callback = Receiver::start().await;
    let mut url: url::Url = format!("{}/{NAME}/granted/wc-auth/v1/authorize", sim.url())
        .parse()
        .unwrap();
    url.query_pairs_mut()
        .append_pair("app_name", "Shelfsync")
        .append_pair("scope", "read_write")
        .append_pair("user_id", "tenant-42")
        .append_pair("return_url", "https://app.example/return")
        .append_pair("callback_url", callback.url.as_str());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = client.get(url).send().await.unwrap();
    assert_eq!(answer.status(), 302);
    assert_eq!(
        answer.headers()["location"],
        "https://app.example/return?success=1&user_id=tenant-42"
    );
    let (_, body) = callback.next().await;
    let keys: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(keys["consumer_key"], creds.consumer_key.as_str());
    assert_eq!(keys["key_permissions"], "read_write");
    let mut granted = creds.clone();
    granted.consumer_secret = keys["consumer_secret"].as_str().unwrap().to_owned();
    let channel = connect(&sim, "granted", &granted, json!({}));
    assert!(
        channel
            .read_listings(None)
            .await
            .unwrap()
            .listings
            .is_empty()
    );
}

/// A dry run's call count is the real one: `products/batch` per 100
/// products, then `variations/batch` per variable product.
#[tokio::test]
async fn a_plan_counts_exactly_the_calls_an_upsert_makes() {
    let (sim, _, channel) = store("plan", json!({})).await;
    let seed = [simple("SEED-A"), product("SEED-B", 3), simple("SEED-C")];
    let (_, seeded) =
        support::assert_plan_is_exact(&sim, NAME, "plan", channel.as_ref(), &seed).await;
    let seeded = support::with_ids(&seed, seeded);

    let mut batch = seeded;
    batch[1]
        .variants
        .push(product("SEED-B", 4).variants[3].clone());
    for n in 0..101 {
        batch.push(simple(&format!("NEW{n}")));
    }
    batch.push(product("VAR-A", 2));
    batch.push(product("VAR-B", 5));
    let mut bad = simple("NEG");
    bad.variants[0].quantity = -1;
    batch.insert(2, bad.clone());
    let (plan, _) =
        support::assert_plan_is_exact(&sim, NAME, "plan", channel.as_ref(), &batch).await;
    assert_eq!(
        plan.by_operation.get("products.batch"),
        Some(&2),
        "{plan:?}"
    );
    assert_eq!(
        plan.by_operation.get("variations.batch"),
        Some(&3),
        "{plan:?}"
    );
    assert_eq!(
        channel.estimate_seconds(&plan),
        0.0,
        "WooCommerce sets no limit"
    );

    support::assert_refused_without_a_call(
        &sim,
        NAME,
        "plan",
        channel.as_ref(),
        &bad,
        "QUANTITY_NEGATIVE",
    )
    .await;
}
