//! Contract tests: the Shopify adapter against the simulated Shopify.

mod support;

#[path = "shopify/capture.rs"]
mod capture;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use rust_decimal::Decimal;
use serde_json::json;
use shelfsync_channels::shopify::{PriceUpdate, ShopifyChannel};
use shelfsync_channels::{
    AppCredentials, Channel, InventoryPush, ProductPush, VariantPush, WebhookError, WebhookKind,
    oauth,
};
use shelfsync_core::Platform;
use shelfsync_core::quota::{Limit, QuotaModel, Scope};
use shelfsync_sim::{Faults, SimListing, Simulator};

const SHOP: &str = "acme.myshopify.com";

fn points(capacity: f64, restore_per_sec: f64) -> QuotaModel {
    QuotaModel::unlimited().with(
        Scope::All,
        Limit::CostPoints {
            capacity,
            restore_per_sec,
        },
    )
}

/// A simulator with the shop, and the adapter for it. `sim_quota` is what
/// the simulated shop enforces, `quota` what the connection is told.
async fn setup(
    sim_quota: Option<QuotaModel>,
    quota: Option<QuotaModel>,
) -> (Simulator, Arc<ShopifyChannel>) {
    let sim = support::simulator().await;
    let creds = sim.create_account("shopify", SHOP, sim_quota);
    let settings = match quota {
        Some(q) => support::quota_settings(&q),
        None => json!({}),
    };
    let config = support::connection(&sim, Platform::Shopify, SHOP, &creds, settings);
    let channel = ShopifyChannel::new(config, &support::deps()).expect("adapter");
    (sim, Arc::new(channel))
}

async fn listings(sim: &Simulator) -> Vec<SimListing> {
    reqwest::get(format!("{}/_sim/shopify/{SHOP}/listings", sim.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn place_order(sim: &Simulator, lines: serde_json::Value) -> String {
    let r = reqwest::Client::new()
        .post(format!("{}/_sim/shopify/{SHOP}/orders", sim.url()))
        .json(&json!({ "lines": lines }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    r.json::<serde_json::Value>().await.unwrap()["order_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A product with `n` variants of one option, values V0…Vn.
fn wide_product(prefix: &str, n: usize) -> ProductPush {
    let mut p = support::product(prefix, 1);
    p.variants = (0..n)
        .map(|i| VariantPush {
            sku: format!("{prefix}-{i}"),
            external_id: None,
            option_values: vec![format!("V{i}")],
            price: Decimal::new(500 + i as i64, 2),
            compare_at_price: None,
            currency: "USD".into(),
            barcode: None,
            weight_grams: None,
            quantity: 1,
        })
        .collect();
    p
}

#[tokio::test]
async fn creates_and_updates_products_with_variants_and_stock() {
    let (sim, shop) = setup(None, None).await;
    let mut bad = support::product("BAD", 2);
    bad.variants[1].option_values.clear();
    let pushes = vec![support::product("TEE", 3), bad, support::product("CAP", 1)];
    let outcomes = shop.upsert_products(&pushes).await.unwrap();
    assert_eq!(outcomes.len(), 3);
    assert_eq!(
        outcomes[1].result.as_ref().unwrap_err().code,
        "OPTION_VALUES_MISMATCH"
    );
    let tee = outcomes[0].result.clone().unwrap();
    assert_eq!(tee.variants.len(), 3);
    assert!(tee.variants.iter().all(|v| v.inventory_ref.is_some()));
    assert!(outcomes[2].result.is_ok());

    let held = listings(&sim).await;
    assert_eq!(held.len(), 2);
    let t = held
        .iter()
        .find(|l| l.external_id == tee.external_id)
        .unwrap();
    assert_eq!(t.title, "Product TEE");
    assert_eq!(t.variants[2].price, Decimal::new(2199, 2));
    assert_eq!(t.variants[2].quantity, 12);

    // The same products again, now with ids: updated in place, one variant gone.
    let mut update = support::product("TEE", 3);
    update.external_id = Some(tee.external_id.clone());
    update.title = "Tee, renamed".into();
    for (v, r) in update.variants.iter_mut().zip(&tee.variants) {
        v.external_id = Some(r.external_id.clone());
        v.price += Decimal::ONE;
    }
    update.variants.pop();
    let again = shop.upsert_products(&[update]).await.unwrap();
    let again = again[0].result.clone().unwrap();
    assert_eq!(again.external_id, tee.external_id);
    assert_eq!(again.variants[0].external_id, tee.variants[0].external_id);
    let held = listings(&sim).await;
    assert_eq!(held.len(), 2, "an update must not create a product");
    let t = held
        .iter()
        .find(|l| l.external_id == tee.external_id)
        .unwrap();
    assert_eq!(t.title, "Tee, renamed");
    assert_eq!(t.variants.len(), 2);
    assert_eq!(t.variants[0].price, Decimal::new(2099, 2));

    // A product pushed twice without an id (a retried job) stays one product.
    shop.upsert_products(&[support::product("CAP", 1)])
        .await
        .unwrap();
    assert_eq!(listings(&sim).await.len(), 2);
}

#[tokio::test]
async fn sets_inventory_in_batches_and_keeps_bad_levels_apart() {
    let (sim, shop) = setup(None, None).await;
    let out = shop
        .upsert_products(&[support::product("SOCK", 3)])
        .await
        .unwrap();
    let refs = out[0].result.clone().unwrap().variants;
    let level = |sku: &str, r: Option<String>, quantity: i64| InventoryPush {
        sku: sku.into(),
        external_product_id: None,
        external_variant_id: None,
        inventory_ref: r,
        quantity,
    };
    let levels = vec![
        level("SOCK-0", refs[0].inventory_ref.clone(), 7),
        level("SOCK-1", None, 8), // looked up by SKU
        level("NOPE-1", None, 1),
        level("SOCK-2", refs[2].inventory_ref.clone(), -3),
    ];
    let outcomes = shop.set_inventory(&levels).await.unwrap();
    assert!(outcomes[0].result.is_ok(), "{:?}", outcomes[0]);
    assert!(outcomes[1].result.is_ok(), "{:?}", outcomes[1]);
    assert_eq!(outcomes[2].result.as_ref().unwrap_err().code, "UNKNOWN_SKU");
    let negative = outcomes[3].result.as_ref().unwrap_err();
    assert_eq!(negative.code, "INVALID_QUANTITY_NEGATIVE");
    assert!(!negative.retryable);
    let held = listings(&sim).await;
    let q: Vec<i64> = held[0].variants.iter().map(|v| v.quantity).collect();
    assert_eq!(
        q,
        vec![7, 8, 12],
        "good levels set, the refused one untouched"
    );

    // More levels than one call carries.
    let wide = shop
        .upsert_products(&[wide_product("W1", 130), wide_product("W2", 130)])
        .await
        .unwrap();
    let many: Vec<InventoryPush> = wide
        .iter()
        .flat_map(|o| o.result.clone().unwrap().variants)
        .enumerate()
        .map(|(i, v)| level(&v.sku, v.inventory_ref.clone(), i as i64))
        .collect();
    assert_eq!(many.len(), 260);
    let outcomes = shop.set_inventory(&many).await.unwrap();
    assert!(outcomes.iter().all(|o| o.result.is_ok()));
    let held = listings(&sim).await;
    assert_eq!(held[2].variants[129].quantity, 259);
    assert_eq!(
        sim.stats("shopify", SHOP).by_operation["inventorySetQuantities"],
        2 + 2,
        "a resend without the refused level, then two calls for 260 levels"
    );
}

#[tokio::test]
async fn reads_listings_back_page_by_page_with_every_variant() {
    let (sim, shop) = setup(None, None).await;
    let mut pushes: Vec<ProductPush> = (0..24)
        .map(|i| support::product(&format!("P{i:02}"), 2))
        .collect();
    pushes.push(wide_product("WIDE", 60));
    let out = shop.upsert_products(&pushes).await.unwrap();
    assert!(out.iter().all(|o| o.result.is_ok()));

    let mut cursor: Option<String> = None;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = shop.read_listings(cursor.as_deref()).await.unwrap();
        pages += 1;
        seen.extend(page.listings);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
        assert!(pages < 10);
    }
    assert!(pages >= 2, "25 products fit no single page of this budget");
    assert_eq!(seen.len(), 25);
    let wide = seen.iter().find(|l| l.title == "Product WIDE").unwrap();
    assert_eq!(
        wide.variants.len(),
        60,
        "variants past the first page are read too"
    );
    assert_eq!(wide.variants[59].sku.as_deref(), Some("WIDE-59"));
    assert_eq!(seen[0].status.as_deref(), Some("active"));
    assert_eq!(seen[0].variants[1].quantity, Some(11));
    let held = listings(&sim).await;
    assert_eq!(held.len(), 25);
}

#[tokio::test]
async fn lists_recent_orders_with_all_their_lines() {
    let (sim, shop) = setup(None, None).await;
    let mut wide = wide_product("LINE", 30);
    wide.variants.iter_mut().for_each(|v| v.quantity = 5);
    shop.upsert_products(&[support::product("MUG", 2), wide])
        .await
        .unwrap();
    let before = Utc::now() - chrono::Duration::seconds(1);
    let first = place_order(&sim, json!([{"sku": "MUG-0", "quantity": 2}])).await;
    let lines: Vec<_> = (0..30)
        .map(|i| json!({"sku": format!("LINE-{i}"), "quantity": 1}))
        .collect();
    let big = place_order(&sim, json!(lines)).await;

    let orders = shop.recent_orders(before).await.unwrap();
    assert_eq!(orders.len(), 2);
    assert_eq!(orders[0].external_id, first);
    assert_eq!(orders[0].lines[0].sku.as_deref(), Some("MUG-0"));
    assert_eq!(orders[0].lines[0].quantity, 2);
    assert!(orders[0].lines[0].external_variant_id.is_some());
    let big_order = orders.iter().find(|o| o.external_id == big).unwrap();
    assert_eq!(
        big_order.lines.len(),
        30,
        "lines past the first page are read too"
    );
    let later = shop
        .recent_orders(Utc::now() + chrono::Duration::hours(1))
        .await
        .unwrap();
    assert!(later.is_empty());
    assert_eq!(
        listings(&sim).await[0].variants[0].quantity,
        8,
        "the order took stock"
    );
    assert!(orders.iter().all(|o| !o.cancelled));

    // Cancelled later: a poll by update time from after the sale reads it
    // again, flagged.
    let after_sale = Utc::now();
    support::cancel_order(&sim, "shopify", SHOP, &first).await;
    let orders = shop.recent_orders(after_sale).await.unwrap();
    // The search is to the second, so the other order may come too.
    let cancelled = orders.iter().find(|o| o.external_id == first).unwrap();
    assert!(cancelled.cancelled);
    assert!(
        orders
            .iter()
            .all(|o| o.external_id == first || !o.cancelled)
    );
    assert_eq!(listings(&sim).await[0].variants[0].quantity, 10);
}

#[tokio::test]
async fn webhooks_are_subscribed_signed_and_verified() {
    let (sim, shop) = setup(None, None).await;
    let (callback, mut rx) = capture::capture_server().await;
    shop.subscribe_webhooks(&callback).await.unwrap();
    shop.subscribe_webhooks(&callback)
        .await
        .expect("subscribing again is harmless");
    let out = shop
        .upsert_products(&[support::product("HAT", 2)])
        .await
        .unwrap();
    let hat = out[0].result.clone().unwrap();

    let order_id = place_order(&sim, json!([{"sku": "HAT-1", "quantity": 3}])).await;
    let (headers, body) = capture::next_delivery(&mut rx).await;
    let event = shop.verify_webhook(&headers, &body).unwrap();
    assert_eq!(event.topic, "orders/create");
    assert!(!event.event_id.is_empty());
    match event.kind {
        WebhookKind::OrderCreated { order } => {
            assert_eq!(order.external_id, order_id, "ids beyond 2^53 survive");
            assert_eq!(order.lines[0].sku.as_deref(), Some("HAT-1"));
            assert_eq!(order.lines[0].quantity, 3);
            assert_eq!(
                order.lines[0].external_variant_id.as_deref(),
                Some(hat.variants[1].external_id.as_str())
            );
        }
        other => panic!("expected an order, got {other:?}"),
    }
    let mut tampered = body.clone();
    let at = tampered.iter().position(|b| *b == b'3').unwrap();
    tampered[at] = b'9';
    assert_eq!(
        shop.verify_webhook(&headers, &tampered),
        Err(WebhookError::BadSignature)
    );

    let r = reqwest::Client::new()
        .post(format!(
            "{}/_sim/shopify/{SHOP}/products/{}",
            sim.url(),
            url::form_urlencoded::byte_serialize(hat.external_id.as_bytes()).collect::<String>()
        ))
        .json(&json!({"title": "Edited in Shopify", "price": "5.00"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (headers, body) = capture::next_delivery(&mut rx).await;
    match shop.verify_webhook(&headers, &body).unwrap().kind {
        WebhookKind::ProductUpdated { listing } => {
            assert_eq!(listing.external_id, hat.external_id);
            assert_eq!(listing.title, "Edited in Shopify");
            assert_eq!(listing.variants[0].price, Some(Decimal::new(500, 2)));
        }
        other => panic!("expected a product, got {other:?}"),
    }
    // Deliveries are counted once the callback has answered.
    let mut sent = 0;
    for _ in 0..50 {
        sent = sim.stats("shopify", SHOP).webhooks_sent;
        if sent >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(sent, 2, "one subscription per topic, no duplicates");
}

#[tokio::test]
async fn in_body_throttles_are_retried() {
    // The connection believes in a big bucket; the shop's is small, so the
    // second call finds it short and is answered THROTTLED in a 200.
    let (sim, shop) = setup(Some(points(30.0, 30.0)), None).await;
    let first = shop
        .upsert_products(&[support::product("A", 1), support::product("B", 1)])
        .await
        .unwrap();
    let second = shop
        .upsert_products(&[support::product("C", 1), support::product("D", 1)])
        .await
        .unwrap();
    assert!(first.iter().chain(&second).all(|o| o.result.is_ok()));
    let stats = sim.stats("shopify", SHOP);
    assert!(stats.throttled >= 1, "the shop throttled: {stats:?}");
    assert_eq!(listings(&sim).await.len(), 4);
}

#[tokio::test]
async fn injected_429s_are_retried() {
    let quota = points(2000.0, 1000.0);
    let (sim, shop) = setup(Some(quota.clone()), Some(quota)).await;
    shop.upsert_products(&[support::product("Z", 1)])
        .await
        .unwrap();
    sim.set_faults(
        "shopify",
        Faults {
            throttle_rate: 1.0,
            retry_after_secs: 1,
            ..Faults::default()
        },
    );
    let reading = tokio::spawn({
        let shop = shop.clone();
        async move { shop.read_listings(None).await }
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    sim.set_faults("shopify", Faults::default());
    let page = reading
        .await
        .unwrap()
        .expect("read after the throttles passed");
    assert_eq!(page.listings.len(), 1);
    assert!(sim.stats("shopify", "*").faults >= 1, "a 429 was injected");
}

#[tokio::test]
async fn uses_the_quota_without_being_throttled() {
    // A tenth of the Standard bucket at its restore rate: 200 points, 100/s.
    let quota = points(200.0, 100.0);
    let window_secs: f64 = 3.0;
    let allowed_in_window = 200.0 + 100.0 * window_secs;
    // Single-variant products cost 10.2 points each: twice the window's worth.
    let count = (2.0 * allowed_in_window / 10.2).round() as usize;
    let (sim, shop) = setup(Some(quota.clone()), Some(quota)).await;
    let pushes: Vec<ProductPush> = (0..count)
        .map(|i| support::product(&format!("Q{i:03}"), 1))
        .collect();

    let started = Instant::now();
    let outcomes = shop.upsert_products(&pushes).await.unwrap();
    let elapsed = started.elapsed().as_secs_f64();

    assert!(outcomes.iter().all(|o| o.result.is_ok()));
    let stats = sim.stats("shopify", SHOP);
    let allowed = 200.0 + 100.0 * elapsed;
    let ratio = stats.cost / allowed;
    println!(
        "shopify quota test: {count} products, {} requests, {:.1} points used in {elapsed:.2} s; \
         allowed {allowed:.1} (200 + 100/s); use {:.1}%; throttled {}",
        stats.requests,
        stats.cost,
        ratio * 100.0,
        stats.throttled
    );
    assert_eq!(stats.throttled, 0, "never throttled: {stats:?}");
    assert!(
        ratio >= 0.9,
        "used {:.1}% of the allowed rate",
        ratio * 100.0
    );
    assert_eq!(listings(&sim).await.len(), count);
}

#[tokio::test]
async fn price_only_updates_go_through_bulk_variant_update() {
    let (sim, shop) = setup(None, None).await;
    let out = shop
        .upsert_products(&[support::product("PEN", 2), support::product("INK", 1)])
        .await
        .unwrap();
    let pen = out[0].result.clone().unwrap();
    let ink = out[1].result.clone().unwrap();
    let updates = vec![
        PriceUpdate {
            sku: "PEN-0".into(),
            product_id: pen.external_id.clone(),
            variant_id: pen.variants[0].external_id.clone(),
            price: Decimal::new(999, 2),
            compare_at_price: Some(Decimal::new(1299, 2)),
        },
        PriceUpdate {
            sku: "PEN-X".into(),
            product_id: pen.external_id.clone(),
            variant_id: "gid://shopify/ProductVariant/1".into(),
            price: Decimal::ONE,
            compare_at_price: None,
        },
        PriceUpdate {
            sku: "INK-0".into(),
            product_id: ink.external_id.clone(),
            variant_id: ink.variants[0].external_id.clone(),
            price: Decimal::new(350, 2),
            compare_at_price: None,
        },
    ];
    let outcomes = shop.update_prices(&updates).await.unwrap();
    assert!(outcomes[0].result.is_ok());
    assert_eq!(
        outcomes[1].result.as_ref().unwrap_err().code,
        "PRODUCT_VARIANT_DOES_NOT_EXIST"
    );
    assert!(outcomes[2].result.is_ok());
    let held = listings(&sim).await;
    assert_eq!(held[0].variants[0].price, Decimal::new(999, 2));
    assert_eq!(
        held[0].variants[1].price,
        Decimal::new(2099, 2),
        "untouched"
    );
    assert_eq!(held[1].variants[0].price, Decimal::new(350, 2));
    assert_eq!(
        sim.stats("shopify", SHOP).by_operation["productVariantsBulkUpdate"],
        1,
        "one request for both products"
    );
}

#[tokio::test]
async fn the_oauth_code_grant_yields_a_working_offline_token() {
    let sim = support::simulator().await;
    sim.create_account("shopify", SHOP, None);
    let base: url::Url = sim.base("shopify").parse().unwrap();
    let endpoints = shelfsync_channels::endpoints(Platform::Shopify, SHOP, Some(&base));
    let oauth_endpoints =
        shelfsync_channels::oauth_endpoints(Platform::Shopify, &endpoints).unwrap();
    let app = AppCredentials {
        client_id: "shelfsync-test-app".into(),
        client_secret: shelfsync_sim::SIM_CLIENT_SECRET.to_owned().into(),
    };
    let redirect = "https://shelfsync.example/oauth/shopify/callback";
    let url = oauth::authorize_url(&oauth_endpoints, &app, redirect, "st4te", None);
    let scope = url
        .query_pairs()
        .find(|(k, _)| k == "scope")
        .unwrap()
        .1
        .to_string();
    assert_eq!(
        scope,
        "read_products,write_products,read_inventory,write_inventory,read_orders,read_locations"
    );

    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = client.get(url).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let location: url::Url = r.headers()["location"].to_str().unwrap().parse().unwrap();
    assert!(location.as_str().starts_with(redirect));
    let params: std::collections::BTreeMap<String, String> =
        location.query_pairs().into_owned().collect();
    assert_eq!(params["state"], "st4te");
    assert_eq!(params["shop"], SHOP);
    // Shopify signs the callback's query with the client secret (hex HMAC of the sorted rest).
    let message = params
        .iter()
        .filter(|(k, _)| k.as_str() != "hmac")
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    assert!(shelfsync_channels::signature::verify_hex(
        shelfsync_sim::SIM_CLIENT_SECRET.as_bytes(),
        message.as_bytes(),
        &params["hmac"]
    ));

    let tokens = oauth::exchange_code(
        &client,
        &oauth_endpoints,
        &app,
        &params["code"],
        redirect,
        None,
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(tokens.expires_at, None, "offline tokens do not expire");
    assert_eq!(tokens.scope.as_deref(), Some(scope.as_str()));
    let again = oauth::exchange_code(
        &client,
        &oauth_endpoints,
        &app,
        &params["code"],
        redirect,
        None,
        Utc::now(),
    )
    .await;
    assert!(again.is_err(), "a code is used once");

    let creds = shelfsync_sim::AccountCredentials {
        account: SHOP.into(),
        access_token: shelfsync_core::vault::ExposeSecret::expose_secret(&tokens.access_token)
            .to_owned(),
        refresh_token: String::new(),
        consumer_key: String::new(),
        consumer_secret: String::new(),
        webhook_secret: String::new(),
        client_secret: shelfsync_sim::SIM_CLIENT_SECRET.into(),
    };
    let config = support::connection(&sim, Platform::Shopify, SHOP, &creds, json!({}));
    let channel = shelfsync_channels::connect(config, &support::deps()).unwrap();
    assert!(
        channel
            .read_listings(None)
            .await
            .unwrap()
            .listings
            .is_empty()
    );

    let mut bad = support::connection(&sim, Platform::Shopify, SHOP, &creds, json!({}));
    bad.secrets.credentials =
        shelfsync_channels::Credentials::OAuth(shelfsync_channels::OAuthTokens {
            access_token: "shpat_wrong".to_owned().into(),
            refresh_token: None,
            expires_at: None,
            scope: None,
        });
    let refused = shelfsync_channels::connect(bad, &support::deps())
        .unwrap()
        .read_listings(None)
        .await;
    assert!(matches!(
        refused,
        Err(shelfsync_channels::ChannelError::Unauthorized(_))
    ));
}

/// A dry run's call count is the real one: with the location lookup while
/// the cache is cold, without it once warm; productSet batches of ten.
#[tokio::test]
async fn a_plan_counts_exactly_the_calls_an_upsert_makes() {
    let (sim, channel) = setup(None, None).await;
    let seed = [
        support::product("SEED-A", 1),
        support::product("SEED-B", 3),
        support::product("SEED-C", 2),
    ];
    let (plan, seeded) =
        support::assert_plan_is_exact(&sim, "shopify", SHOP, channel.as_ref(), &seed).await;
    assert_eq!(plan.by_operation.get("locations"), Some(&1), "{plan:?}");
    let seeded = support::with_ids(&seed, seeded);

    let mut batch: Vec<ProductPush> = seeded
        .into_iter()
        .map(|mut p| {
            p.title = format!("{} again", p.title);
            p
        })
        .collect();
    for n in 0..11 {
        batch.push(support::product(&format!("NEW{n}"), 1 + n % 3));
    }
    let mut bad = support::product("LONG", 1);
    bad.title = "T".repeat(256);
    batch.insert(4, bad.clone());
    let (plan, _) =
        support::assert_plan_is_exact(&sim, "shopify", SHOP, channel.as_ref(), &batch).await;
    assert_eq!(plan.by_operation.get("locations"), None, "cached: {plan:?}");
    assert_eq!(plan.by_operation.get("productSet"), Some(&2), "{plan:?}");
    assert!(plan.quota_units > 14.0 * 10.0, "{plan:?}");

    support::assert_refused_without_a_call(
        &sim,
        "shopify",
        SHOP,
        channel.as_ref(),
        &bad,
        "TITLE_TOO_LONG",
    )
    .await;
}
