//! The Amazon adapter against the simulated SP-API.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::HeaderMap;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use shelfsync_channels::{
    Channel, ChannelError, ChannelListing, ConnectionConfig, InventoryPush, ProductPush,
    WebhookError, oauth, signature,
};
use shelfsync_core::Platform;
use shelfsync_core::quota::{Limit, QuotaModel, Scope};
use shelfsync_sim::{AccountCredentials, Faults, SimListing, Simulator};

const SELLER: &str = "A2SIMSELLER";

async fn setup(quota: Option<QuotaModel>) -> (Simulator, Arc<dyn Channel>, AccountCredentials) {
    let sim = support::simulator().await;
    let creds = sim.create_account("amazon", SELLER, quota.clone());
    let settings = quota
        .as_ref()
        .map(support::quota_settings)
        .unwrap_or_else(|| json!({}));
    let channel = connect(support::connection(
        &sim,
        Platform::Amazon,
        SELLER,
        &creds,
        settings,
    ));
    (sim, channel, creds)
}

fn connect(config: ConnectionConfig) -> Arc<dyn Channel> {
    shelfsync_channels::connect(config, &support::deps()).expect("adapter connects")
}

async fn sim_listings(sim: &Simulator) -> Vec<SimListing> {
    reqwest::get(format!("{}/_sim/amazon/{SELLER}/listings", sim.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn control(sim: &Simulator, path: &str, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/_sim/amazon/{SELLER}/{path}", sim.url()))
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn find<'a>(listings: &'a [SimListing], id: &str) -> &'a SimListing {
    listings
        .iter()
        .find(|l| l.external_id == id)
        .unwrap_or_else(|| panic!("no listing {id} in {listings:?}"))
}

async fn read_all(channel: &dyn Channel) -> (Vec<ChannelListing>, usize) {
    let mut merged: Vec<ChannelListing> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = channel.read_listings(cursor.as_deref()).await.unwrap();
        pages += 1;
        for listing in page.listings {
            match merged
                .iter_mut()
                .find(|m| m.external_id == listing.external_id)
            {
                Some(m) => {
                    if m.title.is_empty() {
                        m.title = listing.title;
                    }
                    m.variants.extend(listing.variants);
                }
                None => merged.push(listing),
            }
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return (merged, pages),
        }
    }
}

#[tokio::test]
async fn creates_and_updates_products_with_variants() {
    let (sim, channel, _) = setup(None).await;
    let mut tee = support::product("TEE", 3);
    let mug = support::product("MUG", 1);
    let outcomes = channel
        .upsert_products(&[tee.clone(), mug.clone()])
        .await
        .unwrap();
    let tee_ref = outcomes[0].result.clone().unwrap();
    assert_eq!(outcomes[0].key, "key-TEE");
    assert_eq!(
        tee_ref.external_id, "tee",
        "a family is known by its parent SKU"
    );
    let skus: Vec<_> = tee_ref
        .variants
        .iter()
        .map(|v| v.external_id.as_str())
        .collect();
    assert_eq!(skus, vec!["TEE-0", "TEE-1", "TEE-2"]);
    assert_eq!(outcomes[1].result.clone().unwrap().external_id, "MUG-0");

    let listings = sim_listings(&sim).await;
    let family = find(&listings, "tee");
    assert_eq!(family.title, "Product TEE");
    let prices: Vec<_> = family.variants.iter().map(|v| v.price).collect();
    assert_eq!(
        prices,
        vec![
            Decimal::new(1999, 2),
            Decimal::new(2099, 2),
            Decimal::new(2199, 2)
        ]
    );
    let stock: Vec<_> = family.variants.iter().map(|v| v.quantity).collect();
    assert_eq!(stock, vec![10, 11, 12]);
    assert_eq!(find(&listings, "MUG-0").variants[0].quantity, 10);

    tee.external_id = Some(tee_ref.external_id.clone());
    tee.title = "Product TEE v2".into();
    tee.variants[0].price = Decimal::new(2500, 2);
    let again = channel.upsert_products(&[tee]).await.unwrap();
    assert_eq!(again[0].result.clone().unwrap().external_id, "tee");
    let listings = sim_listings(&sim).await;
    let family = find(&listings, "tee");
    assert_eq!(family.title, "Product TEE v2");
    assert_eq!(family.variants[0].price, Decimal::new(2500, 2));
    assert_eq!(listings.len(), 2, "an update replaces, it does not add");
    let stats = sim.stats("amazon", SELLER);
    assert_eq!(stats.by_operation.get("putListingsItem"), Some(&9));
}

#[tokio::test]
async fn an_invalid_item_fails_alone() {
    let (sim, channel, _) = setup(None).await;
    let mut bad = support::product("BAD", 1);
    bad.title = String::new();
    let good = support::product("GOOD", 1);
    let outcomes = channel.upsert_products(&[bad, good]).await.unwrap();
    let error = outcomes[0].result.clone().unwrap_err();
    // Refused before the call, as Amazon would (90220, item_name required).
    assert_eq!(error.code, "TITLE_EMPTY");
    assert!(!error.retryable);
    assert!(error.message.contains("title"), "{}", error.message);
    assert!(outcomes[1].result.is_ok());
    let listings = sim_listings(&sim).await;
    assert_eq!(listings.len(), 1);
    assert_eq!(listings[0].external_id, "GOOD-0");
}

#[tokio::test]
async fn sets_inventory_per_sku() {
    let (sim, channel, _) = setup(None).await;
    channel
        .upsert_products(&[support::product("INV", 2)])
        .await
        .unwrap();
    let level = |sku: &str, quantity| InventoryPush {
        sku: sku.into(),
        external_product_id: Some("inv".into()),
        external_variant_id: Some(sku.into()),
        inventory_ref: None,
        quantity,
    };
    let outcomes = channel
        .set_inventory(&[level("INV-0", 3), level("INV-1", 0), level("NOPE", 5)])
        .await
        .unwrap();
    assert_eq!(outcomes[0].sku, "INV-0");
    assert!(outcomes[0].result.is_ok() && outcomes[1].result.is_ok());
    assert_eq!(
        outcomes[2].result.clone().unwrap_err().code,
        "SKU_NOT_FOUND"
    );
    let listings = sim_listings(&sim).await;
    let stock: Vec<_> = find(&listings, "inv")
        .variants
        .iter()
        .map(|v| v.quantity)
        .collect();
    assert_eq!(stock, vec![3, 0]);
    assert_eq!(
        sim.stats("amazon", SELLER)
            .by_operation
            .get("patchListingsItem"),
        Some(&3)
    );
}

#[tokio::test]
async fn reads_listings_back_page_by_page() {
    let (sim, channel, _) = setup(None).await;
    let mut products: Vec<ProductPush> = (0..23)
        .map(|n| support::product(&format!("P{n:02}"), 1))
        .collect();
    products.push(support::product("FAM", 2));
    let outcomes = channel.upsert_products(&products).await.unwrap();
    assert!(outcomes.iter().all(|o| o.result.is_ok()));

    let (listings, pages) = read_all(channel.as_ref()).await;
    assert_eq!(pages, 2, "26 items at 20 a page");
    assert_eq!(listings.len(), 24);
    let family = listings.iter().find(|l| l.external_id == "fam").unwrap();
    assert_eq!(family.title, "Product FAM");
    let skus: Vec<_> = family
        .variants
        .iter()
        .filter_map(|v| v.sku.clone())
        .collect();
    assert_eq!(skus, vec!["FAM-0", "FAM-1"]);
    assert_eq!(family.variants[1].price, Some(Decimal::new(2099, 2)));
    assert_eq!(family.variants[1].quantity, Some(11));
    let single = listings.iter().find(|l| l.external_id == "P07-0").unwrap();
    assert_eq!(single.status.as_deref(), Some("BUYABLE,DISCOVERABLE"));
    assert_eq!(
        sim.stats("amazon", SELLER)
            .by_operation
            .get("searchListingsItems"),
        Some(&2)
    );
}

#[tokio::test]
async fn recent_orders_are_polled_after_a_sale() {
    let (sim, channel, _) = setup(None).await;
    let since = chrono::Utc::now() - chrono::Duration::minutes(1);
    channel
        .upsert_products(&[support::product("ORD", 2)])
        .await
        .unwrap();
    assert!(channel.recent_orders(since).await.unwrap().is_empty());
    let placed = control(
        &sim,
        "orders",
        json!({"lines": [{"sku": "ORD-1", "quantity": 2}]}),
    )
    .await;
    assert_eq!(placed.status(), 201);
    let order_id = placed.json::<Value>().await.unwrap()["order_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let oversell = control(
        &sim,
        "orders",
        json!({"lines": [{"sku": "ORD-0", "quantity": 99}]}),
    )
    .await;
    assert_eq!(oversell.status(), 422);

    let orders = channel.recent_orders(since).await.unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].external_id, order_id);
    assert_eq!(orders[0].lines[0].sku.as_deref(), Some("ORD-1"));
    assert_eq!(orders[0].lines[0].quantity, 2);
    assert!(orders[0].created_at.unwrap() >= since);
    let later = chrono::Utc::now() + chrono::Duration::minutes(1);
    assert!(channel.recent_orders(later).await.unwrap().is_empty());
    let listings = sim_listings(&sim).await;
    assert_eq!(find(&listings, "ord").variants[1].quantity, 9);
    let stats = sim.stats("amazon", SELLER);
    assert_eq!(stats.by_operation.get("getOrderItems"), Some(&1));

    // Canceled later: a poll by last update from after the sale reads it
    // again, flagged, and its units are for sale again.
    let after_sale = chrono::Utc::now();
    support::cancel_order(&sim, "amazon", SELLER, &order_id).await;
    let orders = channel.recent_orders(after_sale).await.unwrap();
    assert_eq!(orders.len(), 1, "{orders:?}");
    assert_eq!(orders[0].external_id, order_id);
    assert!(orders[0].cancelled);
    assert!(
        orders[0].lines.is_empty(),
        "no items read for a cancellation"
    );
    let stats = sim.stats("amazon", SELLER);
    assert_eq!(stats.by_operation.get("getOrderItems"), Some(&1));
    let listings = sim_listings(&sim).await;
    assert_eq!(find(&listings, "ord").variants[1].quantity, 11);
}

#[tokio::test]
async fn merchant_edits_show_up_in_read_back() {
    let (sim, channel, _) = setup(None).await;
    channel
        .upsert_products(&[support::product("EDT", 1), support::product("FAM", 2)])
        .await
        .unwrap();
    let edited = control(
        &sim,
        "products/EDT-0",
        json!({"title": "Edited", "price": "30.00"}),
    )
    .await;
    assert_eq!(edited.status(), 204);
    let edited = control(&sim, "products/fam", json!({"price": "12.50"})).await;
    assert_eq!(edited.status(), 204);
    let (listings, _) = read_all(channel.as_ref()).await;
    let single = listings.iter().find(|l| l.external_id == "EDT-0").unwrap();
    assert_eq!(single.title, "Edited");
    assert_eq!(single.variants[0].price, Some(Decimal::new(3000, 2)));
    let family = listings.iter().find(|l| l.external_id == "fam").unwrap();
    assert!(
        family
            .variants
            .iter()
            .all(|v| v.price == Some(Decimal::new(1250, 2)))
    );
}

#[tokio::test]
async fn webhooks_are_refused_because_amazon_sends_none() {
    let (_sim, channel, creds) = setup(None).await;
    channel
        .subscribe_webhooks(
            &"https://shelfsync.example/webhooks/amazon/1"
                .parse()
                .unwrap(),
        )
        .await
        .unwrap();
    let body = br#"{"NotificationType":"ORDER_CHANGE","Payload":{}}"#;
    let mut headers = HeaderMap::new();
    let good = signature::hmac_sha256_base64(creds.webhook_secret.as_bytes(), body);
    headers.insert("x-signature", good.parse().unwrap());
    let signed = channel.verify_webhook(&headers, body);
    assert!(
        matches!(signed, Err(WebhookError::Malformed(_))),
        "{signed:?}"
    );
    let tampered = channel.verify_webhook(&headers, b"{\"NotificationType\":\"x\"}");
    assert!(matches!(tampered, Err(WebhookError::Malformed(_))));
}

#[tokio::test]
async fn throttled_calls_are_retried_until_they_pass() {
    let (sim, channel, _) = setup(None).await;
    sim.set_faults(
        "amazon",
        Faults {
            throttle_rate: 1.0,
            retry_after_secs: 1,
            ..Faults::default()
        },
    );
    let core = sim.core.clone();
    let lift = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        core.faults.set("amazon", Faults::default());
    });
    let outcomes = channel
        .upsert_products(&[support::product("RETRY", 1)])
        .await
        .unwrap();
    lift.await.unwrap();
    assert!(outcomes[0].result.is_ok(), "{:?}", outcomes[0].result);
    assert!(sim.stats("amazon", "*").faults >= 1);
    let stats = sim.stats("amazon", SELLER);
    assert_eq!(stats.by_operation.get("putListingsItem"), Some(&1));
    assert_eq!(stats.throttled, 0);
}

#[tokio::test]
async fn amazons_own_throttle_is_429_quota_exceeded() {
    let quota = QuotaModel::unlimited().with(
        Scope::Operation("searchListingsItems".into()),
        Limit::TokenBucket {
            rate_per_sec: 0.01,
            burst: 1.0,
        },
    );
    let (sim, _channel, creds) = setup(Some(quota)).await;
    let url = format!(
        "{}/listings/2021-08-01/items/{SELLER}?marketplaceIds=ATVPDKIKX0DER",
        sim.base("amazon")
    );
    let client = reqwest::Client::new();
    let call = || {
        client
            .get(&url)
            .header("x-amz-access-token", &creds.access_token)
            .send()
    };
    let first = call().await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(
        first.headers()["x-amzn-ratelimit-limit"].to_str().unwrap(),
        "0.01"
    );
    let second = call().await.unwrap();
    assert_eq!(second.status(), 429);
    assert!(second.headers().get("retry-after").is_none());
    let body: Value = second.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "QuotaExceeded");
    assert_eq!(sim.stats("amazon", SELLER).throttled, 1);
    let anonymous = client.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 403);
}

#[tokio::test]
async fn stays_within_quota_and_uses_it() {
    const RATE: f64 = 8.0;
    const BURST: f64 = 8.0;
    const WINDOW_SECS: f64 = 3.0;
    let quota = QuotaModel::unlimited().with(
        Scope::Operation("putListingsItem".into()),
        Limit::TokenBucket {
            rate_per_sec: RATE,
            burst: BURST,
        },
    );
    let (sim, channel, _) = setup(Some(quota)).await;
    // Twice what the quota allows in the window, one SKU (one call) each.
    let allowed_in_window = BURST + RATE * WINDOW_SECS;
    let work = (2.0 * allowed_in_window) as usize;
    let products: Vec<ProductPush> = (0..work)
        .map(|n| support::product(&format!("Q{n:03}"), 1))
        .collect();
    let started = Instant::now();
    let outcomes = channel.upsert_products(&products).await.unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    assert!(outcomes.iter().all(|o| o.result.is_ok()));
    let stats = sim.stats("amazon", SELLER);
    let allowed = BURST + RATE * elapsed;
    let ratio = stats.cost / allowed;
    println!(
        "amazon quota: {work} calls in {elapsed:.2} s; used {} of {allowed:.1} allowed \
         ({:.1}%); throttled {}",
        stats.cost,
        ratio * 100.0,
        stats.throttled
    );
    assert_eq!(stats.throttled, 0, "the adapter must never be throttled");
    assert_eq!(stats.cost, work as f64);
    assert!(ratio >= 0.9, "used only {:.1}% of the quota", ratio * 100.0);
}

#[tokio::test]
async fn an_expired_token_is_refreshed_through_lwa() {
    let (sim, channel, _) = setup(None).await;
    let expired = control(&sim, "expire-tokens", json!({})).await;
    assert_eq!(expired.status(), 204);
    let outcomes = channel
        .upsert_products(&[support::product("TOK", 1)])
        .await
        .unwrap();
    assert!(outcomes[0].result.is_ok());
    let stats = sim.stats("amazon", SELLER);
    assert_eq!(stats.by_status.get(&403), Some(&1));
    assert_eq!(stats.by_status.get(&200), Some(&1));
}

#[tokio::test]
async fn a_refused_token_without_refresh_is_unauthorized() {
    let (sim, _, creds) = setup(None).await;
    let mut config = support::connection(&sim, Platform::Amazon, SELLER, &creds, json!({}));
    config.app = None;
    let channel = connect(config);
    control(&sim, "expire-tokens", json!({})).await;
    let error = channel
        .upsert_products(&[support::product("NOAUTH", 1)])
        .await
        .unwrap_err();
    assert!(matches!(error, ChannelError::Unauthorized(_)), "{error:?}");
    assert!(!error.to_string().contains(&creds.access_token));
}

#[tokio::test]
async fn consent_and_code_exchange_give_working_tokens() {
    let (sim, _, creds) = setup(None).await;
    let config = support::connection(&sim, Platform::Amazon, SELLER, &creds, json!({}));
    let endpoints =
        shelfsync_channels::oauth_endpoints(Platform::Amazon, &config.endpoints).unwrap();
    let app = config.app.clone().unwrap();
    let redirect = "http://127.0.0.1:9/callback";
    let url = oauth::authorize_url(&endpoints, &app, redirect, "st4te", None);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let consent = client.get(url).send().await.unwrap();
    assert!(consent.status().is_redirection());
    let location: url::Url = consent.headers()["location"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let query: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(query["state"], "st4te");
    assert_eq!(query["selling_partner_id"], SELLER);
    let code = &query[endpoints.code_param];
    let now = chrono::Utc::now();
    let tokens = oauth::exchange_code(&client, &endpoints, &app, code, redirect, None, now)
        .await
        .unwrap();
    assert_eq!(
        tokens.expires_at,
        Some(now + chrono::Duration::seconds(3600))
    );
    assert!(tokens.refresh_token.is_some());
    let mut fresh = config;
    fresh.secrets.credentials = shelfsync_channels::Credentials::OAuth(tokens);
    let page = connect(fresh).read_listings(None).await.unwrap();
    assert!(page.listings.is_empty());
    let reused = oauth::exchange_code(&client, &endpoints, &app, code, redirect, None, now).await;
    assert!(reused.is_err(), "a code is single use");
}

/// A dry run's call count is the real one: one putListingsItem per SKU,
/// plus the parent of each variation family.
#[tokio::test]
async fn a_plan_counts_exactly_the_calls_an_upsert_makes() {
    let (sim, channel, _) = setup(None).await;
    let seed = [support::product("SEEDA", 1), support::product("SEEDB", 3)];
    let (_, seeded) =
        support::assert_plan_is_exact(&sim, "amazon", SELLER, channel.as_ref(), &seed).await;
    let mut batch = support::with_ids(&seed, seeded);
    for n in 0..4 {
        batch.push(support::product(&format!("NEW{n}"), 1 + n % 2));
    }
    let mut bad = support::product("LONGSKU", 1);
    bad.variants[0].sku = "S".repeat(41);
    batch.insert(1, bad.clone());
    let (plan, _) =
        support::assert_plan_is_exact(&sim, "amazon", SELLER, channel.as_ref(), &batch).await;
    assert_eq!(plan.calls, 1 + 4 + 1 + 3 + 1 + 3, "{plan:?}");
    assert!(channel.estimate_seconds(&plan) >= 0.0);

    support::assert_refused_without_a_call(
        &sim,
        "amazon",
        SELLER,
        channel.as_ref(),
        &bad,
        "SKU_TOO_LONG",
    )
    .await;
}
