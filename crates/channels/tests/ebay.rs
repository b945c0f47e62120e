//! The eBay adapter against the simulated eBay (Sell Inventory and
//! Fulfillment APIs, OAuth, daily call limits).

mod support;

use std::collections::HashMap;
use std::time::Instant;

use chrono::{Duration, Utc};
use rust_decimal::Decimal;
use shelfsync_channels::{
    Channel, ChannelError, ChannelListing, InventoryPush, ProductPush, PushStatus, WebhookError,
};
use shelfsync_core::Platform;
use shelfsync_core::quota::{Limit, QuotaModel, Scope};
use shelfsync_sim::{AccountCredentials, Faults, Simulator};

const ACCOUNT: &str = "seller-one";

/// What publishing needs on eBay: category, location, the three policies.
fn listing_settings() -> serde_json::Value {
    shelfsync_sim::ebay::seller_settings()
}

fn with(mut settings: serde_json::Value, key: &str, value: serde_json::Value) -> serde_json::Value {
    settings[key] = value;
    settings
}

async fn setup() -> (Simulator, AccountCredentials) {
    let sim = support::simulator().await;
    let creds = sim.create_account("ebay", ACCOUNT, None);
    (sim, creds)
}

fn channel(
    sim: &Simulator,
    creds: &AccountCredentials,
    settings: serde_json::Value,
) -> std::sync::Arc<dyn Channel> {
    let config = support::connection(sim, Platform::Ebay, ACCOUNT, creds, settings);
    shelfsync_channels::connect(config, &support::deps()).expect("adapter connects")
}

/// Push `products` and return them with the ids eBay gave them, as the sync
/// engine would for the next push.
async fn create(channel: &dyn Channel, products: &[ProductPush]) -> Vec<ProductPush> {
    let outcomes = channel.upsert_products(products).await.expect("upsert");
    products
        .iter()
        .zip(outcomes)
        .map(|(product, outcome)| {
            let created = outcome
                .result
                .unwrap_or_else(|e| panic!("{}: {e:?}", product.key));
            let mut product = product.clone();
            product.external_id = Some(created.external_id);
            for (variant, created) in product.variants.iter_mut().zip(created.variants) {
                assert_eq!(variant.sku, created.sku);
                variant.external_id = Some(created.external_id);
            }
            product
        })
        .collect()
}

async fn read_all(channel: &dyn Channel) -> (Vec<ChannelListing>, usize) {
    let mut listings = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = channel
            .read_listings(cursor.as_deref())
            .await
            .expect("page");
        pages += 1;
        listings.extend(page.listings);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return (listings, pages),
        }
        assert!(pages < 50, "read-back does not end");
    }
}

#[tokio::test]
async fn products_are_created_updated_and_read_back_page_by_page() {
    let (sim, creds) = setup().await;
    let ebay = channel(
        &sim,
        &creds,
        with(listing_settings(), "page_size", 2.into()),
    );
    let products = vec![
        support::product("SHIRT", 3),
        support::product("MUG", 1),
        support::product("CAP", 2),
    ];
    let pushed = create(ebay.as_ref(), &products).await;

    let listings = sim_listings(&sim).await;
    assert_eq!(listings.len(), 3, "{listings:?}");
    let shirt = &listings["key-SHIRT"];
    assert_eq!(shirt["status"], "PUBLISHED");
    assert_eq!(shirt["variants"].as_array().unwrap().len(), 3);
    assert_eq!(listings["MUG-0"]["status"], "PUBLISHED");
    assert_eq!(pushed[0].external_id.as_deref(), Some("key-SHIRT"));
    assert_eq!(pushed[1].external_id.as_deref(), Some("MUG-0"));
    let offer = pushed[0].variants[0].external_id.clone().unwrap();
    assert_ne!(offer, "SHIRT-0", "the variant's id is its offer");

    // An update: new title and price, same ids.
    let mut update = pushed.clone();
    update[0].title = "Product SHIRT, organic".into();
    update[0].variants[1].price = Decimal::new(2500, 2);
    update[0].variants[1].quantity = 7;
    let again = create(ebay.as_ref(), &update).await;
    assert_eq!(again[0].external_id, pushed[0].external_id);
    assert_eq!(
        again[0].variants[1].external_id,
        pushed[0].variants[1].external_id
    );
    let stats = sim.stats("ebay", ACCOUNT);
    assert_eq!(
        stats.by_operation["bulkCreateOffer"], 1,
        "no new offers on update: {stats:?}"
    );

    let (read, pages) = read_all(ebay.as_ref()).await;
    assert!(pages >= 3, "six SKUs at two a page: {pages} pages");
    assert_eq!(read.len(), 3, "each product once: {read:?}");
    let shirt = read.iter().find(|l| l.external_id == "key-SHIRT").unwrap();
    assert_eq!(shirt.title, "Product SHIRT, organic");
    assert_eq!(shirt.status.as_deref(), Some("PUBLISHED"));
    assert_eq!(shirt.variants.len(), 3);
    let v1 = shirt
        .variants
        .iter()
        .find(|v| v.sku.as_deref() == Some("SHIRT-1"))
        .unwrap();
    assert_eq!(v1.price, Some(Decimal::new(2500, 2)));
    assert_eq!(v1.quantity, Some(7));
    assert_eq!(
        Some(v1.external_id.clone()),
        pushed[0].variants[1].external_id
    );
    let mug = read.iter().find(|l| l.external_id == "MUG-0").unwrap();
    assert_eq!(mug.variants[0].price, Some(Decimal::new(1999, 2)));
    assert_eq!(mug.variants[0].quantity, Some(10));
}

/// The simulator's view of the account, keyed by external id.
async fn sim_listings(sim: &Simulator) -> HashMap<String, serde_json::Value> {
    let url = format!("{}/_sim/ebay/{ACCOUNT}/listings", sim.url());
    let list: Vec<serde_json::Value> = reqwest::get(url).await.unwrap().json().await.unwrap();
    list.into_iter()
        .map(|l| (l["external_id"].as_str().unwrap().to_owned(), l))
        .collect()
}

#[tokio::test]
async fn a_product_ebay_refuses_fails_alone() {
    let (sim, creds) = setup().await;
    let ebay = channel(&sim, &creds, listing_settings());
    let good = support::product("GOOD", 2);
    let mut bad = support::product("BAD", 1);
    bad.variants[0].price = Decimal::ZERO;
    let mut long = support::product("LONG", 1);
    long.variants[0].sku = "X".repeat(51);
    let outcomes = ebay.upsert_products(&[good, bad, long]).await.unwrap();
    assert!(outcomes[0].result.is_ok(), "{:?}", outcomes[0]);
    let error = outcomes[1].result.clone().unwrap_err();
    // Refused before the call, as eBay would (25003, invalid price).
    assert_eq!(error.code, "PRICE_NOT_POSITIVE", "{error:?}");
    assert!(!error.retryable);
    assert_eq!(outcomes[2].result.clone().unwrap_err().code, "SKU_TOO_LONG");

    // Without the listing policies eBay will not publish: a per-item error.
    let unpublishable = channel(&sim, &creds, serde_json::json!({}));
    let outcomes = unpublishable
        .upsert_products(&[support::product("NOPOLICY", 1)])
        .await
        .unwrap();
    assert_eq!(outcomes[0].result.clone().unwrap_err().code, "25017");
    // As a draft it is fine.
    let mut draft = support::product("DRAFT", 2);
    draft.status = PushStatus::Draft;
    let outcomes = unpublishable.upsert_products(&[draft]).await.unwrap();
    assert!(outcomes[0].result.is_ok(), "{:?}", outcomes[0]);
    assert_eq!(
        sim_listings(&sim).await["key-DRAFT"]["status"],
        "UNPUBLISHED"
    );
}

#[tokio::test]
async fn stock_levels_are_set_25_skus_a_call() {
    let (sim, creds) = setup().await;
    let ebay = channel(&sim, &creds, listing_settings());
    let products: Vec<ProductPush> = (0..30)
        .map(|n| support::product(&format!("P{n}"), 1))
        .collect();
    let pushed = create(ebay.as_ref(), &products).await;
    let before = sim
        .stats("ebay", ACCOUNT)
        .by_operation
        .get("bulkUpdatePriceQuantity")
        .copied();
    assert_eq!(before, None);

    let mut levels: Vec<InventoryPush> = pushed
        .iter()
        .map(|p| InventoryPush {
            sku: p.variants[0].sku.clone(),
            external_product_id: p.external_id.clone(),
            external_variant_id: p.variants[0].external_id.clone(),
            inventory_ref: p.variants[0].external_id.clone(),
            quantity: 3,
        })
        .collect();
    levels.push(InventoryPush {
        sku: "NOT-ON-EBAY".into(),
        external_product_id: None,
        external_variant_id: None,
        inventory_ref: None,
        quantity: 1,
    });
    let outcomes = ebay.set_inventory(&levels).await.unwrap();
    assert_eq!(outcomes.len(), 31);
    assert!(
        outcomes[..30].iter().all(|o| o.result.is_ok()),
        "{outcomes:?}"
    );
    assert_eq!(outcomes[30].result.clone().unwrap_err().code, "25702");
    let stats = sim.stats("ebay", ACCOUNT);
    assert_eq!(
        stats.by_operation["bulkUpdatePriceQuantity"], 2,
        "31 SKUs in two calls"
    );
    let listings = sim_listings(&sim).await;
    assert_eq!(listings["P7-0"]["variants"][0]["quantity"], 3);
}

#[tokio::test]
async fn recent_orders_are_polled_from_the_fulfillment_api() {
    let (sim, creds) = setup().await;
    let ebay = channel(&sim, &creds, listing_settings());
    create(ebay.as_ref(), &[support::product("TEE", 2)]).await;
    let since = Utc::now() - Duration::seconds(5);
    let client = reqwest::Client::new();
    let url = format!("{}/_sim/ebay/{ACCOUNT}/orders", sim.url());
    for lines in [
        serde_json::json!([{"sku": "TEE-0", "quantity": 2}]),
        serde_json::json!([{"sku": "TEE-1", "quantity": 1}, {"sku": "TEE-0", "quantity": 1}]),
    ] {
        let placed = client
            .post(&url)
            .json(&serde_json::json!({"lines": lines}))
            .send()
            .await
            .unwrap();
        assert_eq!(placed.status(), 201, "{}", placed.text().await.unwrap());
    }
    let orders = ebay.recent_orders(since).await.unwrap();
    assert_eq!(orders.len(), 2, "{orders:?}");
    assert_eq!(orders[0].lines[0].sku.as_deref(), Some("TEE-0"));
    assert_eq!(orders[0].lines[0].quantity, 2);
    assert_eq!(orders[1].lines.len(), 2);
    assert!(
        orders
            .iter()
            .all(|o| o.created_at.is_some_and(|t| t >= since))
    );
    assert!(
        ebay.recent_orders(Utc::now() + Duration::seconds(60))
            .await
            .unwrap()
            .is_empty()
    );
    // Stock went down on eBay.
    let tee = &sim_listings(&sim).await["key-TEE"];
    assert_eq!(tee["variants"][0]["quantity"], 10 - 3);
    assert_eq!(sim.stats("ebay", ACCOUNT).by_operation["getOrders"], 2);

    // The first order cancelled later: a poll by last modification from
    // after the sales reads it again, flagged (cancelState CANCELED).
    let after_sales = Utc::now();
    let first = orders[0].external_id.clone();
    support::cancel_order(&sim, "ebay", ACCOUNT, &first).await;
    let again = ebay.recent_orders(after_sales).await.unwrap();
    let cancelled = again.iter().find(|o| o.external_id == first).unwrap();
    assert!(cancelled.cancelled);
    assert!(again.iter().all(|o| o.external_id == first || !o.cancelled));
    let tee = &sim_listings(&sim).await["key-TEE"];
    assert_eq!(tee["variants"][0]["quantity"], 10 - 1);
}

#[tokio::test]
async fn webhooks_are_refused_because_ebay_orders_are_polled() {
    let (sim, creds) = setup().await;
    let ebay = channel(&sim, &creds, listing_settings());
    let body = br#"{"metadata":{"topic":"MARKETPLACE_ACCOUNT_DELETION"},"notification":{}}"#;
    let signature =
        shelfsync_channels::signature::hmac_sha256_base64(creds.webhook_secret.as_bytes(), body);
    let mut headers = http::HeaderMap::new();
    headers.insert("x-ebay-signature", signature.parse().unwrap());
    for payload in [&body[..], b"tampered"] {
        match ebay.verify_webhook(&headers, payload) {
            Err(WebhookError::Malformed(why)) => assert!(why.contains("polled"), "{why}"),
            other => panic!("an eBay webhook must not be accepted: {other:?}"),
        }
    }
    ebay.subscribe_webhooks(&"https://example.com/hooks".parse().unwrap())
        .await
        .expect("nothing to subscribe");
}

#[tokio::test]
async fn throttled_calls_are_retried_until_they_pass() {
    let (sim, creds) = setup().await;
    let ebay = channel(&sim, &creds, listing_settings());
    let pushed = create(ebay.as_ref(), &[support::product("THR", 1)]).await;
    sim.set_faults(
        "ebay",
        Faults {
            throttle_rate: 0.2,
            retry_after_secs: 1,
            ..Faults::default()
        },
    );
    let level = InventoryPush {
        sku: "THR-0".into(),
        external_product_id: pushed[0].external_id.clone(),
        external_variant_id: None,
        inventory_ref: pushed[0].variants[0].external_id.clone(),
        quantity: 4,
    };
    let mut calls = 0;
    while sim.stats("ebay", "*").faults < 3 && calls < 80 {
        let outcomes = ebay
            .set_inventory(std::slice::from_ref(&level))
            .await
            .expect("retried through");
        assert!(outcomes[0].result.is_ok(), "{outcomes:?}");
        calls += 1;
    }
    assert!(
        sim.stats("ebay", "*").faults >= 3,
        "the simulator throttled some calls"
    );
    sim.set_faults("ebay", Faults::default());
}

#[tokio::test]
async fn over_the_daily_limit_ebay_answers_429_with_error_2001() {
    let (sim, creds) = setup().await;
    let tiny = QuotaModel::unlimited().with(
        Scope::Operation("sell.inventory".into()),
        Limit::DailyCap { calls: 2.0 },
    );
    sim.core.accounts.set_quota("ebay", ACCOUNT, Some(tiny));
    sim.core.limiter.reset("ebay", ACCOUNT);
    let client = reqwest::Client::new();
    let url = format!("{}/sell/inventory/v1/inventory_item", sim.base("ebay"));
    let mut statuses = Vec::new();
    let mut last = serde_json::Value::Null;
    for _ in 0..3 {
        let reply = client
            .get(&url)
            .bearer_auth(&creds.access_token)
            .send()
            .await
            .unwrap();
        statuses.push(reply.status().as_u16());
        last = reply.json().await.unwrap();
    }
    assert_eq!(statuses, [200, 200, 429]);
    assert_eq!(last["errors"][0]["errorId"], 2001);
    assert_eq!(last["errors"][0]["message"], "Too many requests.");
    // Orders have their own limit.
    let orders = format!("{}/sell/fulfillment/v1/order", sim.base("ebay"));
    let reply = client
        .get(&orders)
        .bearer_auth(&creds.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    // And an unknown token is eBay's 1001.
    let reply = client.get(&url).bearer_auth("nope").send().await.unwrap();
    assert_eq!(reply.status(), 401);
    let body: serde_json::Value = reply.json().await.unwrap();
    assert_eq!(body["errors"][0]["errorId"], 1001);
}

#[tokio::test]
async fn an_expired_token_is_reported_as_unauthorized() {
    let (sim, creds) = setup().await;
    let ebay = channel(&sim, &creds, listing_settings());
    sim.core.accounts.expire_access_tokens("ebay", ACCOUNT);
    match ebay.read_listings(None).await {
        Err(ChannelError::Unauthorized(message)) => {
            assert!(!message.contains(&creds.access_token), "no token in errors");
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }
}

#[tokio::test]
async fn the_seller_consents_and_tokens_are_exchanged_and_refreshed() {
    use shelfsync_channels::oauth;
    let (sim, creds) = setup().await;
    let base: url::Url = sim.base("ebay").parse().unwrap();
    let endpoints = shelfsync_channels::endpoints(Platform::Ebay, ACCOUNT, Some(&base));
    let oauth_endpoints = shelfsync_channels::oauth_endpoints(Platform::Ebay, &endpoints).unwrap();
    let app = shelfsync_channels::AppCredentials {
        client_id: "Shelfsync-PRD-123".into(),
        client_secret: creds.client_secret.clone().into(),
    };
    // On eBay the redirect_uri is the app's RuName; the simulator redirects to it directly.
    let redirect = "https://shelfsync.test/oauth/ebay/callback";
    let mut consent = oauth::authorize_url(&oauth_endpoints, &app, redirect, "st4te", None);
    assert!(consent.as_str().contains("sell.inventory"));
    consent
        .query_pairs_mut()
        .append_pair("sim_account", ACCOUNT);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let reply = client.get(consent).send().await.unwrap();
    assert_eq!(reply.status(), 302, "consent redirects back");
    let location: url::Url = reply.headers()["location"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let query: HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(query["state"], "st4te");
    let now = Utc::now();
    let tokens = oauth::exchange_code(
        &client,
        &oauth_endpoints,
        &app,
        &query["code"],
        redirect,
        None,
        now,
    )
    .await
    .expect("code exchanged");
    assert_eq!(tokens.expires_at, Some(now + Duration::seconds(7200)));
    assert!(tokens.refresh_token.is_some());
    let refreshed = oauth::refresh(&client, &oauth_endpoints, &app, &tokens, now)
        .await
        .expect("refreshed");
    use shelfsync_core::vault::ExposeSecret;
    assert_ne!(
        refreshed.access_token.expose_secret(),
        tokens.access_token.expose_secret()
    );
    // The fresh token works for the API.
    let mut config = support::connection(&sim, Platform::Ebay, ACCOUNT, &creds, listing_settings());
    config.secrets.credentials = shelfsync_channels::Credentials::OAuth(refreshed);
    let ebay = shelfsync_channels::connect(config, &support::deps()).unwrap();
    ebay.read_listings(None)
        .await
        .expect("the new token is accepted");
}

/// Twice the work the quota allows in the window: the adapter paces itself
/// so eBay never answers 429, and it uses what the quota allows.
#[tokio::test]
async fn the_quota_is_used_fully_and_never_exceeded() {
    const RATE: f64 = 10.0;
    const BURST: f64 = 10.0;
    const WINDOW_SECS: f64 = 4.0;
    let (sim, creds) = setup().await;
    // Stock up at the published limits.
    let setup_channel = channel(&sim, &creds, listing_settings());
    let calls = (2.0 * (BURST + RATE * WINDOW_SECS)) as usize;
    let skus = calls * 25;
    let mut products: Vec<ProductPush> = (0..skus)
        .map(|n| support::product(&format!("Q{n}"), 1))
        .collect();
    for p in &mut products {
        p.status = PushStatus::Draft;
    }
    let outcomes = setup_channel.upsert_products(&products).await.unwrap();
    assert!(outcomes.iter().all(|o| o.result.is_ok()));

    // A scaled-down quota: eBay's daily cap shape plus a per-second bucket
    // so the test finishes in seconds, on the simulator and the connection.
    let scaled = QuotaModel::unlimited()
        .with(
            Scope::Operation("sell.inventory".into()),
            Limit::DailyCap { calls: 1000.0 },
        )
        .with(
            Scope::Operation("sell.inventory".into()),
            Limit::TokenBucket {
                rate_per_sec: RATE,
                burst: BURST,
            },
        )
        .with(
            Scope::Operation("sell.fulfillment".into()),
            Limit::DailyCap { calls: 1000.0 },
        );
    sim.core
        .accounts
        .set_quota("ebay", ACCOUNT, Some(scaled.clone()));
    sim.core.limiter.reset("ebay", ACCOUNT);
    sim.core.stats.reset();
    let mut settings = listing_settings();
    settings["quota"] = serde_json::to_value(&scaled).unwrap();
    let ebay = channel(&sim, &creds, settings);

    let levels: Vec<InventoryPush> = products
        .iter()
        .map(|p| InventoryPush {
            sku: p.variants[0].sku.clone(),
            external_product_id: None,
            external_variant_id: None,
            inventory_ref: None,
            quantity: 5,
        })
        .collect();
    let started = Instant::now();
    let outcomes = ebay.set_inventory(&levels).await.unwrap();
    let wall = started.elapsed().as_secs_f64();
    assert!(outcomes.iter().all(|o| o.result.is_ok()));

    let stats = sim.stats("ebay", ACCOUNT);
    let elapsed = stats.last_at.unwrap() - stats.first_at.unwrap();
    let allowed = BURST + RATE * elapsed;
    let used = stats.cost;
    println!(
        "eBay quota test: {calls} calls of 25 SKUs ({skus} SKUs); window {WINDOW_SECS}s allows {} calls; \
         elapsed {elapsed:.2}s (wall {wall:.2}s); used {used} of {allowed:.1} allowed = {:.1}%; throttled {}",
        BURST + RATE * WINDOW_SECS,
        100.0 * used / allowed,
        stats.throttled
    );
    assert_eq!(stats.throttled, 0, "eBay never had to refuse a call");
    assert_eq!(used as usize, calls);
    assert!(used / allowed >= 0.9, "used {used} of {allowed}");
}

/// A dry run's call count is the real one, through every step: items and
/// offers 25 a call, one group write and publication per multi-variant
/// product, existing offers' price updates, and withdraw plus updateOffer
/// for an archived product.
#[tokio::test]
async fn a_plan_counts_exactly_the_calls_an_upsert_makes() {
    let (sim, creds) = setup().await;
    let channel = channel(&sim, &creds, listing_settings());
    let seed = [
        support::product("SEEDA", 1),
        support::product("SEEDB", 3),
        support::product("SEEDC", 1),
        support::product("SEEDD", 2),
    ];
    let (_, seeded) =
        support::assert_plan_is_exact(&sim, "ebay", ACCOUNT, channel.as_ref(), &seed).await;
    let mut batch = support::with_ids(&seed, seeded);
    batch[2].status = PushStatus::Archived;
    batch[3].status = PushStatus::Draft;
    for n in 0..27 {
        batch.push(support::product(&format!("NEW{n}"), 1));
    }
    batch.push(support::product("MULTA", 2));
    batch.push(support::product("MULTB", 4));
    let mut drafted = support::product("DRAFT", 1);
    drafted.status = PushStatus::Draft;
    batch.push(drafted);
    let mut bad = support::product("LONGSKU", 1);
    bad.variants[0].sku = "S".repeat(51);
    batch.insert(1, bad.clone());
    let (plan, _) =
        support::assert_plan_is_exact(&sim, "ebay", ACCOUNT, channel.as_ref(), &batch).await;
    // 41 items (2 calls), 4 groups rewritten, 34 new offers (2), 28 single
    // publications (2 bulk) and 3 group ones, 4 live offers (1), withdraw
    // and 1 update for the archived product, 2 updates for the draft.
    assert_eq!(plan.calls, 2 + 4 + 2 + 2 + 3 + 1 + 2 + 2, "{plan:?}");

    support::assert_refused_without_a_call(
        &sim,
        "ebay",
        ACCOUNT,
        channel.as_ref(),
        &bad,
        "SKU_TOO_LONG",
    )
    .await;
}
