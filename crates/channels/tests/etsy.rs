//! The Etsy adapter against the simulated Etsy.

mod support;

use std::time::{Duration, Instant};

use http::HeaderMap;
use rust_decimal::Decimal;
use serde_json::json;
use shelfsync_channels::oauth::{self, Pkce};
use shelfsync_channels::{
    Channel, ChannelError, InventoryPush, ProductPush, PushStatus, WebhookError, WebhookKind,
};
use shelfsync_core::Platform;
use shelfsync_core::quota::{Limit, QuotaModel, Scope};
use shelfsync_sim::{Faults, Simulator};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const ETSY: Platform = Platform::Etsy;

async fn shop(
    sim: &Simulator,
    shop_id: &str,
    settings: serde_json::Value,
) -> std::sync::Arc<dyn Channel> {
    let creds = sim.create_account("etsy", shop_id, None);
    let config = support::connection(sim, ETSY, shop_id, &creds, settings);
    shelfsync_channels::connect(config, &support::deps()).expect("connects")
}

async fn listings(sim: &Simulator, shop_id: &str) -> Vec<shelfsync_sim::SimListing> {
    reqwest::get(format!("{}/_sim/etsy/{shop_id}/listings", sim.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn listing(sim: &Simulator, shop_id: &str, id: &str) -> shelfsync_sim::SimListing {
    listings(sim, shop_id)
        .await
        .into_iter()
        .find(|l| l.external_id == id)
        .unwrap_or_else(|| panic!("listing {id} is on the shop"))
}

async fn place_order(sim: &Simulator, shop_id: &str, lines: serde_json::Value) -> String {
    let reply: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/_sim/etsy/{shop_id}/orders", sim.url()))
        .json(&json!({ "lines": lines }))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    reply["order_id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn creates_products_with_variants_as_listings() {
    let sim = support::simulator().await;
    let etsy = shop(&sim, "41000001", json!({})).await;
    let mut drafted = support::product("CUP", 1);
    drafted.options.clear();
    drafted.variants[0].option_values.clear();
    drafted.status = PushStatus::Draft;
    let mut invalid = support::product("BAD", 2);
    invalid.options.clear();
    for v in &mut invalid.variants {
        v.option_values.clear();
    }
    let products = vec![support::product("TEE", 3), invalid, drafted];
    let outcomes = etsy.upsert_products(&products).await.unwrap();

    assert_eq!(outcomes.len(), 3);
    assert_eq!(outcomes[0].key, "key-TEE");
    let tee = outcomes[0].result.as_ref().expect("TEE is created");
    assert_eq!(tee.variants.len(), 3);
    assert_eq!(tee.variants[2].sku, "TEE-2");
    let bad = outcomes[1]
        .result
        .as_ref()
        .expect_err("several SKUs need options");
    assert_eq!(bad.code, "OPTIONS_REQUIRED");
    assert!(!bad.retryable);
    let cup = outcomes[2].result.as_ref().expect("CUP is created");

    let held = listing(&sim, "41000001", &tee.external_id).await;
    assert_eq!(held.title, "Product TEE");
    assert_eq!(held.status, "active");
    let skus: Vec<_> = held
        .variants
        .iter()
        .map(|v| (v.sku.as_str(), v.quantity, v.price))
        .collect();
    assert_eq!(
        skus,
        vec![
            ("TEE-0", 10, Decimal::new(1999, 2)),
            ("TEE-1", 11, Decimal::new(2099, 2)),
            ("TEE-2", 12, Decimal::new(2199, 2)),
        ]
    );
    assert_eq!(held.variants[1].external_id, tee.variants[1].external_id);
    assert_eq!(
        listing(&sim, "41000001", &cup.external_id).await.status,
        "draft"
    );
    assert_eq!(
        listings(&sim, "41000001").await.len(),
        2,
        "nothing was created for BAD"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn updates_a_listing_in_place() {
    let sim = support::simulator().await;
    let etsy = shop(&sim, "41000002", json!({})).await;
    let created = etsy
        .upsert_products(&[support::product("HAT", 2)])
        .await
        .unwrap();
    let first = created[0].result.clone().unwrap();

    let mut changed: ProductPush = support::product("HAT", 2);
    changed.external_id = Some(first.external_id.clone());
    changed.title = "Felt hat".into();
    changed.variants[0].price = Decimal::new(2500, 2);
    changed.variants[1].quantity = 0;
    changed.status = PushStatus::Archived;
    let updated = etsy.upsert_products(&[changed]).await.unwrap();
    let second = updated[0].result.clone().unwrap();

    assert_eq!(second.external_id, first.external_id);
    assert_eq!(
        second.variants, first.variants,
        "SKUs keep their product ids"
    );
    let held = listing(&sim, "41000002", &first.external_id).await;
    assert_eq!(held.title, "Felt hat");
    assert_eq!(held.status, "inactive");
    assert_eq!(held.variants[0].price, Decimal::new(2500, 2));
    assert_eq!(held.variants[1].quantity, 0);
    assert_eq!(listings(&sim, "41000002").await.len(), 1);

    let mut gone = support::product("HAT", 1);
    gone.external_id = Some("999".into());
    let missing = etsy.upsert_products(&[gone]).await.unwrap();
    assert_eq!(missing[0].result.as_ref().unwrap_err().code, "etsy_404");
}

#[tokio::test(flavor = "multi_thread")]
async fn sets_stock_with_one_read_and_one_write_per_listing() {
    let sim = support::simulator().await;
    let etsy = shop(&sim, "41000003", json!({})).await;
    let created = etsy
        .upsert_products(&[support::product("SOCK", 2), support::product("SCARF", 1)])
        .await
        .unwrap();
    let sock = created[0].result.clone().unwrap();
    let scarf = created[1].result.clone().unwrap();
    let before = sim.stats("etsy", "41000003");

    let level = |sku: &str, listing: &str, quantity| InventoryPush {
        sku: sku.into(),
        external_product_id: Some(listing.into()),
        external_variant_id: None,
        inventory_ref: None,
        quantity,
    };
    let levels = vec![
        level("SOCK-0", &sock.external_id, 4),
        level("SCARF-0", &scarf.external_id, 0),
        level("SOCK-1", &sock.external_id, 7),
        level("NOPE-1", &sock.external_id, 1),
        InventoryPush {
            external_product_id: None,
            ..level("LOOSE-1", "", 1)
        },
    ];
    let outcomes = etsy.set_inventory(&levels).await.unwrap();

    let results: Vec<_> = outcomes
        .iter()
        .map(|o| {
            (
                o.sku.as_str(),
                o.result.as_ref().err().map(|e| e.code.as_str()),
            )
        })
        .collect();
    assert_eq!(
        results,
        vec![
            ("SOCK-0", None),
            ("SCARF-0", None),
            ("SOCK-1", None),
            ("NOPE-1", Some("sku_not_in_listing")),
            ("LOOSE-1", Some("no_listing")),
        ]
    );
    let held = listing(&sim, "41000003", &sock.external_id).await;
    assert_eq!(held.variants[0].quantity, 4);
    assert_eq!(held.variants[1].quantity, 7);
    assert_eq!(
        held.variants[1].price,
        Decimal::new(2099, 2),
        "prices are written back unchanged"
    );
    let scarf_held = listing(&sim, "41000003", &scarf.external_id).await;
    assert_eq!(scarf_held.variants[0].quantity, 0);
    assert_eq!(scarf_held.status, "sold_out");

    let after = sim.stats("etsy", "41000003");
    let calls =
        |s: &shelfsync_sim::AccountStats, op: &str| s.by_operation.get(op).copied().unwrap_or(0);
    assert_eq!(
        calls(&after, "getListingsByListingIds") - calls(&before, "getListingsByListingIds"),
        1
    );
    assert_eq!(
        calls(&after, "updateListingInventory") - calls(&before, "updateListingInventory"),
        2
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_listings_back_page_by_page() {
    let sim = support::simulator().await;
    let etsy = shop(&sim, "41000004", json!({ "page_size": 2 })).await;
    let mut products: Vec<ProductPush> = (0..5)
        .map(|n| support::product(&format!("P{n}"), 2))
        .collect();
    products[3].status = PushStatus::Draft;
    products[4].status = PushStatus::Draft;
    let created = etsy.upsert_products(&products).await.unwrap();
    assert!(created.iter().all(|o| o.result.is_ok()));

    let mut cursor: Option<String> = None;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = etsy.read_listings(cursor.as_deref()).await.unwrap();
        pages += 1;
        assert!(page.listings.len() <= 2);
        seen.extend(page.listings);
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
        assert!(pages < 20, "paging ends");
    }
    assert!(pages >= 3, "{pages} pages");
    seen.sort_by(|a, b| a.title.cmp(&b.title));
    let titles: Vec<_> = seen.iter().map(|l| l.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "Product P0",
            "Product P1",
            "Product P2",
            "Product P3",
            "Product P4"
        ]
    );
    assert_eq!(seen[0].status.as_deref(), Some("active"));
    assert_eq!(seen[4].status.as_deref(), Some("draft"));
    let v = &seen[1].variants[1];
    assert_eq!(v.sku.as_deref(), Some("P1-1"));
    assert_eq!(v.price, Some(Decimal::new(2099, 2)));
    assert_eq!(v.quantity, Some(11));
    assert!(seen[1].updated_at.is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn lists_recent_orders() {
    let sim = support::simulator().await;
    let etsy = shop(&sim, "41000005", json!({})).await;
    let created = etsy
        .upsert_products(&[support::product("MUG", 2)])
        .await
        .unwrap();
    let mug = created[0].result.clone().unwrap();
    let since = chrono::Utc::now() - chrono::Duration::minutes(5);
    let order_id = place_order(
        &sim,
        "41000005",
        json!([{"sku": "MUG-1", "quantity": 3}, {"sku": "MUG-0", "quantity": 1}]),
    )
    .await;

    let orders = etsy.recent_orders(since).await.unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].external_id, order_id);
    assert!(orders[0].created_at.is_some());
    let lines: Vec<_> = orders[0]
        .lines
        .iter()
        .map(|l| {
            (
                l.sku.as_deref(),
                l.external_variant_id.as_deref(),
                l.quantity,
            )
        })
        .collect();
    assert_eq!(
        lines,
        vec![
            (Some("MUG-1"), Some(mug.variants[1].external_id.as_str()), 3),
            (Some("MUG-0"), Some(mug.variants[0].external_id.as_str()), 1),
        ]
    );
    assert_eq!(
        listing(&sim, "41000005", &mug.external_id).await.variants[1].quantity,
        8
    );
    let later = chrono::Utc::now() + chrono::Duration::minutes(5);
    assert!(etsy.recent_orders(later).await.unwrap().is_empty());

    // Canceled later: read again by its last modification, flagged.
    let after_sale = chrono::Utc::now();
    support::cancel_order(&sim, "etsy", "41000005", &order_id).await;
    let orders = etsy.recent_orders(after_sale).await.unwrap();
    assert_eq!(orders.len(), 1, "{orders:?}");
    assert!(orders[0].cancelled);
    assert_eq!(
        listing(&sim, "41000005", &mug.external_id).await.variants[1].quantity,
        11
    );
}

/// Accept one HTTP request and return its headers and body.
async fn receive_one(listener: TcpListener) -> (HeaderMap, Vec<u8>) {
    let (mut socket, _) = listener.accept().await.unwrap();
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let (head_end, length) = loop {
        let n = socket.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the request ends early");
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).to_string();
            let length = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            break (end + 4, length);
        }
    };
    while buffer.len() < head_end + length {
        let n = socket.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the body ends early");
        buffer.extend_from_slice(&chunk[..n]);
    }
    socket
        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut headers = HeaderMap::new();
    let head = String::from_utf8_lossy(&buffer[..head_end - 4]).to_string();
    for line in head.lines().skip(1) {
        if let Some((name, value)) = line.split_once(':') {
            headers.append(
                http::HeaderName::from_bytes(name.trim().as_bytes()).unwrap(),
                value.trim().parse().unwrap(),
            );
        }
    }
    (headers, buffer[head_end..head_end + length].to_vec())
}

#[tokio::test(flavor = "multi_thread")]
async fn verifies_webhooks_signed_by_the_simulator() {
    let sim = support::simulator().await;
    let etsy = shop(&sim, "41000006", json!({})).await;
    etsy.upsert_products(&[support::product("PIN", 1)])
        .await
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let callback = format!("http://{}/hooks/etsy", listener.local_addr().unwrap());
    // Etsy endpoints are added in its developer portal; the adapter has nothing to call.
    etsy.subscribe_webhooks(&callback.parse().unwrap())
        .await
        .unwrap();
    reqwest::Client::new()
        .post(format!("{}/_sim/etsy/41000006/webhooks", sim.url()))
        .json(&json!({ "url": callback }))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    let received = tokio::spawn(receive_one(listener));
    let order_id = place_order(&sim, "41000006", json!([{"sku": "PIN-0", "quantity": 2}])).await;
    let (headers, body) = tokio::time::timeout(Duration::from_secs(10), received)
        .await
        .expect("the webhook arrives")
        .unwrap();

    let event = etsy
        .verify_webhook(&headers, &body)
        .expect("a good signature passes");
    assert_eq!(event.topic, "order.paid");
    assert!(event.event_id.starts_with("msg_"));
    assert!(event.occurred_at.is_some());
    match event.kind {
        WebhookKind::OrderCreated { order } => assert_eq!(order.external_id, order_id),
        other => panic!("unexpected {other:?}"),
    }
    let mut tampered = body.clone();
    let at = tampered.iter().position(|b| b.is_ascii_digit()).unwrap();
    tampered[at] = if tampered[at] == b'9' {
        b'1'
    } else {
        tampered[at] + 1
    };
    assert_eq!(
        etsy.verify_webhook(&headers, &tampered),
        Err(WebhookError::BadSignature)
    );
    let mut unsigned = headers.clone();
    unsigned.remove("webhook-signature");
    assert_eq!(
        etsy.verify_webhook(&unsigned, &body),
        Err(WebhookError::MissingHeader("webhook-signature"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn retries_through_injected_throttling() {
    let sim = support::simulator().await;
    let etsy = shop(&sim, "41000007", json!({})).await;
    sim.set_faults(
        "etsy",
        Faults {
            throttle_rate: 1.0,
            retry_after_secs: 1,
            ..Faults::default()
        },
    );
    let core = sim.core.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        core.faults.clear();
    });
    let outcomes = etsy
        .upsert_products(&[support::product("CAP", 1)])
        .await
        .unwrap();
    assert!(outcomes[0].result.is_ok(), "{:?}", outcomes[0].result);
    assert!(
        sim.stats("etsy", "*").faults >= 1,
        "the first try was throttled"
    );
    assert_eq!(
        listings(&sim, "41000007").await.len(),
        1,
        "retries did not duplicate the listing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn stays_within_the_quota_and_uses_it() {
    // Etsy's model (per-second bucket and a rolling day) scaled down: 6
    // requests a second with a burst of 6, and a day that does not bind.
    let (rate, burst) = (6.0, 6.0);
    let quota = QuotaModel::unlimited()
        .with(
            Scope::All,
            Limit::TokenBucket {
                rate_per_sec: rate,
                burst,
            },
        )
        .with(Scope::All, Limit::DailyCap { calls: 50_000.0 });
    let sim = support::simulator().await;
    let creds = sim.create_account("etsy", "41000008", Some(quota.clone()));
    let mut settings = support::quota_settings(&quota);
    settings["concurrency"] = json!(4);
    let config = support::connection(&sim, ETSY, "41000008", &creds, settings);
    let etsy = shelfsync_channels::connect(config, &support::deps()).unwrap();
    assert_eq!(etsy.quota_model(), &quota);

    // A 5 s window allows burst + 5 × rate = 36 calls; the work is twice that:
    // 36 draft listings at two calls each (create, inventory).
    let window = 5.0;
    let allowed_in_window = burst + rate * window;
    let products: Vec<ProductPush> = (0..36)
        .map(|n| {
            let mut p = support::product(&format!("Q{n}"), 2);
            p.status = PushStatus::Draft;
            p
        })
        .collect();
    let started = Instant::now();
    let outcomes = etsy.upsert_products(&products).await.unwrap();
    let elapsed = started.elapsed().as_secs_f64();

    assert!(outcomes.iter().all(|o| o.result.is_ok()));
    let stats = sim.stats("etsy", "41000008");
    let used = stats.cost;
    let allowed = burst + rate * elapsed;
    let ratio = used / allowed;
    println!(
        "etsy quota: work {used} calls = {:.1}x the {allowed_in_window} the window allows; \
         elapsed {elapsed:.2} s; allowed {allowed:.1}; used {used}; throttled {}; use {:.1}%",
        used / allowed_in_window,
        stats.throttled,
        ratio * 100.0
    );
    assert!(used >= 2.0 * allowed_in_window);
    assert_eq!(stats.throttled, 0, "the adapter never ran into a 429");
    assert!(
        ratio >= 0.9,
        "used {used} of {allowed:.1} allowed ({:.1}%)",
        ratio * 100.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn connects_by_oauth_with_pkce() {
    let sim = support::simulator().await;
    sim.create_account("etsy", "41000009", None);
    let base: url::Url = sim.base("etsy").parse().unwrap();
    let endpoints = shelfsync_channels::endpoints(ETSY, "41000009", Some(&base));
    let oauth_endpoints = shelfsync_channels::oauth_endpoints(ETSY, &endpoints).unwrap();
    let app = shelfsync_channels::AppCredentials {
        client_id: "shelfsync-test-app".into(),
        client_secret: shelfsync_sim::SIM_CLIENT_SECRET.to_owned().into(),
    };
    let pkce = Pkce::generate();
    let redirect = "https://shelfsync.example/oauth/etsy";
    let mut authorize =
        oauth::authorize_url(&oauth_endpoints, &app, redirect, "st4te", Some(&pkce));
    authorize
        .query_pairs_mut()
        .append_pair("sim_account", "41000009");
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let consent = client.get(authorize).send().await.unwrap();
    assert_eq!(consent.status(), 302);
    let back: url::Url = consent.headers()["location"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let query: std::collections::HashMap<_, _> = back.query_pairs().into_owned().collect();
    assert_eq!(query["state"], "st4te");

    let wrong = oauth::exchange_code(
        &client,
        &oauth_endpoints,
        &app,
        &query["code"],
        redirect,
        Some("not-the-verifier"),
        chrono::Utc::now(),
    )
    .await;
    assert!(
        matches!(wrong, Err(ChannelError::Unauthorized(_))),
        "{wrong:?}"
    );
    let consent = client
        .get({
            let mut u = oauth::authorize_url(&oauth_endpoints, &app, redirect, "s2", Some(&pkce));
            u.query_pairs_mut().append_pair("sim_account", "41000009");
            u
        })
        .send()
        .await
        .unwrap();
    let back: url::Url = consent.headers()["location"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let code = back
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let now = chrono::Utc::now();
    let tokens = oauth::exchange_code(
        &client,
        &oauth_endpoints,
        &app,
        &code,
        redirect,
        Some(&pkce.verifier),
        now,
    )
    .await
    .unwrap();
    let lifetime = tokens.expires_at.unwrap() - now;
    assert_eq!(lifetime.num_seconds(), 3600);
    assert!(tokens.refresh_token.is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn refuses_calls_without_the_shared_secret() {
    let sim = support::simulator().await;
    let creds = sim.create_account("etsy", "41000010", None);
    let mut config = support::connection(&sim, ETSY, "41000010", &creds, json!({}));
    config.app.as_mut().unwrap().client_secret = "not-the-secret".to_owned().into();
    let etsy = shelfsync_channels::connect(config, &support::deps()).unwrap();
    let error = etsy.read_listings(None).await.unwrap_err();
    match error {
        ChannelError::Rejected { status, message } => {
            assert_eq!(status, 403);
            assert!(!message.contains("not-the-secret"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

/// A dry run's call count is the real one: draft, inventory and (when
/// active) publish per new listing; patch and inventory per existing one.
#[tokio::test]
async fn a_plan_counts_exactly_the_calls_an_upsert_makes() {
    let sim = support::simulator().await;
    let etsy = shop(&sim, "41000077", json!({})).await;
    let seed = [support::product("SEEDA", 1), support::product("SEEDB", 3)];
    let (_, seeded) =
        support::assert_plan_is_exact(&sim, "etsy", "41000077", etsy.as_ref(), &seed).await;
    let mut batch = support::with_ids(&seed, seeded);
    batch[1].status = PushStatus::Archived;
    for n in 0..4 {
        batch.push(support::product(&format!("NEW{n}"), 1 + n % 2));
    }
    let mut drafted = support::product("DRAFT", 2);
    drafted.status = PushStatus::Draft;
    batch.push(drafted);
    let mut bad = support::product("MANY", 1);
    bad.variants[0].quantity = 1000;
    batch.insert(3, bad.clone());
    let (plan, _) =
        support::assert_plan_is_exact(&sim, "etsy", "41000077", etsy.as_ref(), &batch).await;
    assert_eq!(plan.calls, 2 * 2 + 4 * 3 + 2, "{plan:?}");
    assert_eq!(
        plan.by_operation.get("createDraftListing"),
        Some(&5),
        "{plan:?}"
    );

    support::assert_refused_without_a_call(
        &sim,
        "etsy",
        "41000077",
        etsy.as_ref(),
        &bad,
        "QUANTITY_TOO_HIGH",
    )
    .await;
}
