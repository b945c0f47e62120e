//! Webhooks in: verification and anti-replay at the receiver (each refusal
//! stores nothing), the log, Standard Webhooks senders, Clerk, and orders
//! end to end on the simulator (an order on one channel moves stock on the
//! others; duplicates and a cancellation that overtakes its order leave
//! stock right).

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{Value, json};
use shelfsync_channels::signature::hmac_sha256_base64;
use shelfsync_channels::standard_webhooks::SigningSecret;
use shelfsync_runtime::WorkerKind;
use shelfsync_server::ServerConfig;
use shelfsync_server::webhooks::Nonces;

use crate::backend_tests;
use crate::support::{Backend, TestApp};

backend_tests!(
    platform_deliveries_are_verified_stored_and_acknowledged,
    standard_webhooks_senders_are_verified_with_rotation,
    an_order_on_one_channel_moves_stock_on_the_others,
);

/// A WooCommerce `order.created` body for order `id`, modified at `at`.
fn woo_order(id: u64, sku: &str, quantity: i64, at: chrono::DateTime<Utc>) -> Vec<u8> {
    let at = at.format("%Y-%m-%dT%H:%M:%S").to_string();
    serde_json::to_vec(&json!({
        "id": id,
        "status": "processing",
        "date_created_gmt": at,
        "date_modified_gmt": at,
        "line_items": [{ "product_id": 11, "variation_id": 0, "quantity": quantity, "sku": sku }],
    }))
    .unwrap()
}

/// Posts `body` to `path` with WooCommerce's headers, signed with `secret`.
async fn post_woo(
    app: &TestApp,
    path: &str,
    body: &[u8],
    secret: Option<&str>,
    delivery: &str,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url(path))
        .header("content-type", "application/json")
        .header("x-wc-webhook-topic", "order.created")
        .header("x-wc-webhook-delivery-id", delivery)
        .header("x-wc-webhook-source", "https://store.example/")
        .body(body.to_vec());
    if let Some(secret) = secret {
        request = request.header(
            "x-wc-webhook-signature",
            hmac_sha256_base64(secret.as_bytes(), body),
        );
    }
    request.send().await.unwrap()
}

pub(crate) async fn logs(app: &TestApp) -> Vec<Value> {
    let page: Value = app
        .get("/v1/webhook-logs?limit=250")
        .await
        .json()
        .await
        .unwrap();
    page["items"].as_array().unwrap().clone()
}

/// The JSON body a listed delivery was stored with, to send it again.
pub(crate) async fn stored_body(app: &TestApp, log: &Value) -> Value {
    let detail: Value = app
        .get(&format!("/v1/webhook-logs/{}", log["id"].as_str().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    serde_json::from_str(detail["body"].as_str().unwrap()).unwrap()
}

/// Asserts a refusal: its status, a reason containing `why`, no secret in it.
async fn refused(response: reqwest::Response, status: StatusCode, why: &str, secret: &str) {
    assert_eq!(response.status(), status);
    let text = response.text().await.unwrap();
    assert!(text.contains(why), "expected `{why}` in {text}");
    assert!(!text.contains(secret), "the secret leaked: {text}");
}

async fn platform_deliveries_are_verified_stored_and_acknowledged(app: TestApp) {
    let creds = app.sim.create_account("woocommerce", "hooks1", None);
    let connection = app.connect_woo_with(&creds).await;
    let secret = creds.webhook_secret;
    let path = format!("/webhooks/woocommerce/{connection}");
    let body = woo_order(501, "TEE-1", 1, Utc::now());

    let response = post_woo(&app, &path, &body, Some(&secret), "d-1").await;
    assert_eq!(response.status(), StatusCode::OK);
    let ack: Value = response.json().await.unwrap();
    assert_eq!(ack["status"], "accepted");
    let id = ack["id"].as_str().unwrap().to_owned();

    let stored = logs(&app).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["status"], "received");
    assert_eq!(stored[0]["topic"], "order.created");
    let detail: Value = app
        .get(&format!("/v1/webhook-logs/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["body"].as_str().unwrap().as_bytes(), &body[..]);
    assert_eq!(detail["headers"]["x-wc-webhook-topic"], "order.created");
    assert!(
        detail["headers"].get("x-wc-webhook-signature").is_none(),
        "signatures are not stored: {detail}"
    );

    // Each of these is refused, and stores nothing.
    let mut tampered = body.clone();
    *tampered.last_mut().unwrap() = b' ';
    let tampered_sig = hmac_sha256_base64(secret.as_bytes(), &body);
    let response = app
        .client
        .post(app.url(&path))
        .header("x-wc-webhook-topic", "order.created")
        .header("x-wc-webhook-delivery-id", "d-2")
        .header("x-wc-webhook-signature", tampered_sig)
        .body(tampered)
        .send()
        .await
        .unwrap();
    refused(response, StatusCode::UNAUTHORIZED, "signature", &secret).await;
    let response = post_woo(&app, &path, &body, Some("not-the-secret"), "d-3").await;
    refused(response, StatusCode::UNAUTHORIZED, "signature", &secret).await;
    let response = post_woo(&app, &path, &body, None, "d-4").await;
    refused(
        response,
        StatusCode::UNAUTHORIZED,
        "X-WC-Webhook-Signature",
        &secret,
    )
    .await;
    let stale = woo_order(502, "TEE-1", 1, Utc::now() - chrono::Duration::minutes(6));
    let response = post_woo(&app, &path, &stale, Some(&secret), "d-5").await;
    refused(response, StatusCode::UNAUTHORIZED, "minutes old", &secret).await;
    let future = woo_order(503, "TEE-1", 1, Utc::now() + chrono::Duration::minutes(6));
    let response = post_woo(&app, &path, &future, Some(&secret), "d-6").await;
    refused(response, StatusCode::UNAUTHORIZED, "in the future", &secret).await;
    // The first delivery, sent again: a replay inside the window.
    let response = post_woo(&app, &path, &body, Some(&secret), "d-1").await;
    refused(
        response,
        StatusCode::UNAUTHORIZED,
        "already received",
        &secret,
    )
    .await;
    let huge = vec![b'x'; app.state.config.max_webhook_bytes + 1];
    let response = post_woo(&app, &path, &huge, Some(&secret), "d-7").await;
    refused(
        response,
        StatusCode::PAYLOAD_TOO_LARGE,
        "too large",
        &secret,
    )
    .await;
    let other = "con_0000000000007000800000000000000a";
    let response = post_woo(
        &app,
        &format!("/webhooks/woocommerce/{other}"),
        &body,
        Some(&secret),
        "d-8",
    )
    .await;
    refused(
        response,
        StatusCode::NOT_FOUND,
        "no webhook endpoint",
        &secret,
    )
    .await;
    let response = post_woo(
        &app,
        &format!("/webhooks/shopify/{connection}"),
        &body,
        Some(&secret),
        "d-9",
    )
    .await;
    refused(
        response,
        StatusCode::NOT_FOUND,
        "no webhook endpoint",
        &secret,
    )
    .await;
    assert_eq!(logs(&app).await.len(), 1, "a refused delivery was stored");

    // Past the replay window the same event is a redelivery: acknowledged,
    // not stored again.
    let event_id = stored[0]["event_id"].as_str().unwrap();
    app.state
        .nonces
        .release(&[&Nonces::key("woocommerce", Some(&connection), event_id)])
        .await;
    let response = post_woo(&app, &path, &body, Some(&secret), "d-1").await;
    assert_eq!(response.status(), StatusCode::OK);
    let ack: Value = response.json().await.unwrap();
    assert_eq!(ack["status"], "duplicate");
    assert_eq!(logs(&app).await.len(), 1);

    // Another tenant sees none of it.
    let (_, other_key) = app.other_tenant().await;
    let page: Value = app
        .request_as(&other_key, reqwest::Method::GET, "/v1/webhook-logs")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"], json!([]));
    let response = app
        .request_as(
            &other_key,
            reqwest::Method::GET,
            &format!("/v1/webhook-logs/{id}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

/// Posts a Standard Webhooks delivery with `signature` as its header.
async fn post_standard(
    app: &TestApp,
    connection: &str,
    id: &str,
    timestamp: i64,
    signature: &str,
    body: &[u8],
) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/webhooks/standard/{connection}")))
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
}

async fn standard_webhooks_senders_are_verified_with_rotation(app: TestApp) {
    let old = SigningSecret::from_bytes(b"the-old-signing-key-0123456789ab");
    let new = SigningSecret::from_bytes(b"the-new-signing-key-0123456789ab");
    let encode = |key: &[u8]| format!("whsec_{}", STANDARD.encode(key));
    let creds = app.sim.create_account("woocommerce", "generic1", None);
    // Both secrets are live while the sender rotates.
    let connection = app
        .connect(&json!({
            "platform": "woocommerce",
            "name": "relay",
            "account": "generic1",
            "credentials": {"consumer_key": creds.consumer_key, "consumer_secret": creds.consumer_secret},
            "webhook_secret": format!("{} {}", encode(b"the-old-signing-key-0123456789ab"), encode(b"the-new-signing-key-0123456789ab")),
        }))
        .await;
    let body = serde_json::to_vec(&json!({
        "type": "order_created",
        "order": {"external_id": "R-1", "created_at": null, "lines": [{"sku": "TEE-1", "external_variant_id": null, "quantity": 2}]}
    }))
    .unwrap();
    let now = Utc::now().timestamp();

    let signed = new.sign("msg_1", now, &body);
    let response = post_standard(&app, &connection, "msg_1", now, &signed, &body).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{}",
        response.text().await.unwrap()
    );

    // Several signatures in one header: one valid is enough.
    let both = format!(
        "v1,{} {}",
        STANDARD.encode([0u8; 32]),
        old.sign("msg_2", now, &body)
    );
    let response = post_standard(&app, &connection, "msg_2", now, &both, &body).await;
    assert_eq!(response.status(), StatusCode::OK);

    let stranger = SigningSecret::from_bytes(b"someone-else-entirely-0123456789");
    let forged = stranger.sign("msg_3", now, &body);
    let response = post_standard(&app, &connection, "msg_3", now, &forged, &body).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let stale = now - 301;
    let signed = new.sign("msg_4", stale, &body);
    let response = post_standard(&app, &connection, "msg_4", stale, &signed, &body).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let signed = new.sign("msg_1", now, &body);
    let response = post_standard(&app, &connection, "msg_1", now, &signed, &body).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "a replay");

    let stored = logs(&app).await;
    assert_eq!(stored.len(), 2);
    assert!(stored.iter().all(|l| l["topic"] == "order_created"));
}

/// Stock of `sku` as the simulated channel shows it.
pub(crate) async fn channel_stock(
    app: &TestApp,
    platform: &str,
    account: &str,
    sku: &str,
) -> Option<i64> {
    app.sim_listings(platform, account)
        .await
        .iter()
        .flat_map(|l| l["variants"].as_array().cloned().unwrap_or_default())
        .find(|v| v["sku"] == sku)
        .and_then(|v| v["quantity"].as_i64())
}

pub(crate) async fn master_stock(app: &TestApp, variant: &str) -> i64 {
    let v: Value = app
        .get(&format!("/v1/variants/{variant}"))
        .await
        .json()
        .await
        .unwrap();
    v["inventory_quantity"]
        .as_i64()
        .unwrap_or_else(|| panic!("no stock in {v}"))
}

/// Waits until `check` holds, or fails saying what it waited for.
pub(crate) async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A Shopify delivery of `topic` for `body`, signed as the shop signs it.
pub(crate) async fn post_shopify(
    app: &TestApp,
    connection: &str,
    secret: &str,
    topic: &str,
    body: &Value,
) -> StatusCode {
    let body = serde_json::to_vec(body).unwrap();
    app.client
        .post(app.url(&format!("/webhooks/shopify/{connection}")))
        .header("x-shopify-topic", topic)
        .header(
            "x-shopify-hmac-sha256",
            hmac_sha256_base64(secret.as_bytes(), &body),
        )
        .header("x-shopify-shop-domain", "orders.myshopify.com")
        .header("x-shopify-event-id", uuid::Uuid::new_v4().to_string())
        .header("x-shopify-triggered-at", Utc::now().to_rfc3339())
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
}

async fn an_order_on_one_channel_moves_stock_on_the_others(app: TestApp) {
    let mug = app
        .create_product(&json!({"title": "Mug", "status": "active",
            "variants": [{"sku": "MUG-1", "price": "12.00", "inventory_quantity": 10}]}))
        .await;
    let jar = app
        .create_product(&json!({"title": "Jar", "status": "active",
            "variants": [{"sku": "JAR-1", "price": "8.00", "inventory_quantity": 5}]}))
        .await;
    let mug_variant = mug["variants"][0]["id"].as_str().unwrap().to_owned();
    let jar_variant = jar["variants"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(master_stock(&app, &mug_variant).await, 10);

    let shop = "orders.myshopify.com";
    let shop_creds = app.sim.create_account("shopify", shop, None);
    let shopify = app
        .connect(
            &json!({"platform": "shopify", "name": "Shopify", "account": shop,
            "credentials": {"access_token": shop_creds.access_token},
            "webhook_secret": shop_creds.webhook_secret}),
        )
        .await;
    let woo = app.connect_woo("orders-woo").await;
    let etsy_creds = app.sim.create_account("etsy", "77001", None);
    let etsy = app
        .connect(
            &json!({"platform": "etsy", "name": "Etsy", "account": "77001",
            "credentials": {"access_token": etsy_creds.access_token}}),
        )
        .await;
    let workers = app
        .start_workers_of(
            &[WorkerKind::Outbox, WorkerKind::Sync, WorkerKind::Webhook],
            true,
        )
        .await;
    let products = json!([mug["id"], jar["id"]]);
    for connection in [&shopify, &woo, &etsy] {
        let response = app
            .post(
                "/v1/listings",
                &json!({"connection_id": connection, "product_ids": products, "mode": "publish"}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let channels = [
        ("shopify", shop),
        ("woocommerce", "orders-woo"),
        ("etsy", "77001"),
    ];
    for (platform, account) in channels {
        eventually(&format!("MUG-1 at 10 on {platform}"), || async {
            channel_stock(&app, platform, account, "MUG-1").await == Some(10)
        })
        .await;
    }

    // A sale on Shopify, delivered by the shop's own webhook.
    let response = reqwest::Client::new()
        .post(format!("{}/_sim/shopify/{shop}/webhooks", app.sim.url()))
        .json(&json!({"url": app.url(&format!("/webhooks/shopify/{shopify}"))}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let response = reqwest::Client::new()
        .post(format!("{}/_sim/shopify/{shop}/orders", app.sim.url()))
        .json(&json!({"lines": [{"sku": "MUG-1", "quantity": 3}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    eventually("the sale in the master", || async {
        master_stock(&app, &mug_variant).await == 7
    })
    .await;
    for (platform, account) in &channels[1..] {
        eventually(&format!("MUG-1 at 7 on {platform}"), || async {
            channel_stock(&app, platform, account, "MUG-1").await == Some(7)
        })
        .await;
    }
    let sale = logs(&app).await;
    assert_eq!(sale.len(), 1);
    eventually("the delivery processed", || async {
        logs(&app).await[0]["status"] == "processed"
    })
    .await;
    let history: Value = app
        .get(&format!("/v1/variants/{mug_variant}/inventory"))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        history.to_string().contains("shopify:order:"),
        "the movement names the order: {history}"
    );

    // The same order delivered again (as a new delivery, so past the nonce):
    // applied once.
    let order = stored_body(&app, &sale[0]).await;
    let secret = shop_creds.webhook_secret.clone();
    assert_eq!(
        post_shopify(&app, &shopify, &secret, "orders/create", &order).await,
        StatusCode::OK
    );
    eventually("the redelivery looked at", || async {
        logs(&app)
            .await
            .iter()
            .filter(|l| l["status"] == "ignored")
            .count()
            == 1
    })
    .await;
    assert_eq!(master_stock(&app, &mug_variant).await, 7);

    // A cancellation that overtakes its order: neither moves stock.
    let early = json!({"id": 880001, "created_at": Utc::now().to_rfc3339(),
        "line_items": [{"sku": "JAR-1", "quantity": 2, "variant_id": null}]});
    assert_eq!(
        post_shopify(&app, &shopify, &secret, "orders/cancelled", &early).await,
        StatusCode::OK
    );
    assert_eq!(
        post_shopify(&app, &shopify, &secret, "orders/create", &early).await,
        StatusCode::OK
    );
    assert_eq!(
        post_shopify(&app, &shopify, &secret, "orders/cancelled", &early).await,
        StatusCode::OK
    );
    eventually("the early cancellation looked at", || async {
        logs(&app)
            .await
            .iter()
            .filter(|l| l["status"] != "received")
            .count()
            == 5
    })
    .await;
    assert_eq!(master_stock(&app, &jar_variant).await, 5);

    // Cancelling the real sale puts its stock back, everywhere.
    assert_eq!(
        post_shopify(&app, &shopify, &secret, "orders/cancelled", &order).await,
        StatusCode::OK
    );
    eventually("the restock in the master", || async {
        master_stock(&app, &mug_variant).await == 10
    })
    .await;
    for (platform, account) in channels {
        eventually(&format!("MUG-1 back at 10 on {platform}"), || async {
            channel_stock(&app, platform, account, "MUG-1").await == Some(10)
        })
        .await;
    }

    // A title edited on Shopify: by default the master wins and the channel
    // is repaired; with `channel_wins` the master takes it, and so do the
    // other channels.
    let held = app.sim_listings("shopify", shop).await;
    let mug_on_shop = held
        .iter()
        .find(|l| l["variants"][0]["sku"] == "MUG-1")
        .unwrap()["external_id"]
        .as_str()
        .unwrap()
        .replace('/', "%2F");
    let edit_title = |title: &'static str| {
        let url = format!(
            "{}/_sim/shopify/{shop}/products/{mug_on_shop}",
            app.sim.url()
        );
        async move {
            let response = reqwest::Client::new()
                .post(url)
                .json(&json!({ "title": title }))
                .send()
                .await
                .unwrap();
            assert!(
                response.status().is_success(),
                "{}",
                response.text().await.unwrap()
            );
        }
    };
    let title_on = |platform: &'static str, account: &'static str| {
        let app = &app;
        async move {
            app.sim_listings(platform, account)
                .await
                .iter()
                .find(|l| l["variants"][0]["sku"] == "MUG-1")
                .map(|l| l["title"].as_str().unwrap_or_default().to_owned())
        }
    };
    edit_title("Mug (edited on the shop)").await;
    eventually("the edit repaired", || async {
        logs(&app).await.iter().any(|l| {
            l["topic"] == "products/update"
                && l["status"] == "processed"
                && l["error"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("repaired 1")
        }) && title_on("shopify", shop).await.as_deref() == Some("Mug")
    })
    .await;
    let response = app
        .put(
            "/v1/conflicts/policies",
            &json!({"connection_id": shopify, "field": "title", "policy": "channel_wins"}),
        )
        .await;
    assert!(response.status().is_success());
    edit_title("Mug Deluxe").await;
    eventually("the edit taken into the master", || async {
        let product: Value = app
            .get(&format!("/v1/products/{}", mug["id"].as_str().unwrap()))
            .await
            .json()
            .await
            .unwrap();
        product["title"] == "Mug Deluxe"
            && title_on("woocommerce", "orders-woo").await.as_deref() == Some("Mug Deluxe")
    })
    .await;

    // An order for a SKU the master does not know is recorded as such.
    let unknown = json!({"id": 880002, "created_at": Utc::now().to_rfc3339(),
        "line_items": [{"sku": "NOT-OURS", "quantity": 1, "variant_id": null}]});
    assert_eq!(
        post_shopify(&app, &shopify, &secret, "orders/create", &unknown).await,
        StatusCode::OK
    );
    eventually("the unknown SKU recorded", || async {
        logs(&app).await.iter().any(|l| {
            l["status"] == "unmatched"
                && l["error"].as_str().unwrap_or_default().contains("NOT-OURS")
        })
    })
    .await;
    workers.shutdown().await;
}

#[tokio::test]
async fn clerk_events_create_and_remove_tenants() {
    let secret = SigningSecret::from_bytes(b"clerk-endpoint-signing-key-01234");
    let config = ServerConfig {
        rate_limit_per_minute: 10_000,
        clerk_webhook_secrets: vec![secret.clone()],
        ..ServerConfig::default()
    };
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, config).await else {
        return;
    };
    let workers = app.start_workers_of(&[WorkerKind::Webhook], false).await;
    let send = |id: &'static str, body: Value| {
        let app = &app;
        let secret = secret.clone();
        async move {
            let body = serde_json::to_vec(&body).unwrap();
            let now = Utc::now().timestamp();
            app.client
                .post(app.url("/webhooks/clerk"))
                .header("svix-id", id)
                .header("svix-timestamp", now.to_string())
                .header("svix-signature", secret.sign(id, now, &body))
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let created = json!({"type": "user.created", "object": "event", "data": {
        "id": "user_2clerkTestUser", "object": "user",
        "primary_email_address_id": "idn_2",
        "email_addresses": [{"id": "idn_1", "email_address": "old@example.com"},
                            {"id": "idn_2", "email_address": "ada@example.com"}]}});
    assert_eq!(send("msg_user_created", created).await, StatusCode::OK);
    eventually("the user's tenant", || async {
        app.store
            .tenant_by_external_ref("user_2clerkTestUser")
            .await
            .unwrap()
            .is_some()
    })
    .await;
    let org = json!({"type": "organization.created", "data": {"id": "org_2team", "name": "Team"}});
    assert_eq!(send("msg_org_created", org).await, StatusCode::OK);
    eventually("the organisation's tenant", || async {
        app.store
            .tenant_by_external_ref("org_2team")
            .await
            .unwrap()
            .is_some()
    })
    .await;
    let deleted =
        json!({"type": "user.deleted", "data": {"id": "user_2clerkTestUser", "deleted": true}});
    assert_eq!(send("msg_user_deleted", deleted).await, StatusCode::OK);
    eventually("the user's tenant removed", || async {
        app.store
            .tenant_by_external_ref("user_2clerkTestUser")
            .await
            .unwrap()
            .is_none()
    })
    .await;
    // Tampered and unsigned deliveries are refused.
    let response = app
        .client
        .post(app.url("/webhooks/clerk"))
        .header("svix-id", "msg_x")
        .header("svix-timestamp", Utc::now().timestamp().to_string())
        .header("svix-signature", "v1,AAAA")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    workers.shutdown().await;
}

#[tokio::test]
async fn clerk_webhooks_are_off_without_a_secret() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let response = app
        .client
        .post(app.url("/webhooks/clerk"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}
