//! Refunds end to end on the simulator: a sale on Shopify lowers stock on
//! WooCommerce; a partial refund of it, sent by the shop as `refunds/create`,
//! puts back the restocked lines (and only those) on every channel, once;
//! the order's cancellation then gives back only what is still out.

use reqwest::StatusCode;
use serde_json::{Value, json};
use shelfsync_runtime::WorkerKind;

use crate::backend_tests;
use crate::support::TestApp;
use crate::webhooks::{channel_stock, eventually, logs, master_stock, post_shopify, stored_body};

backend_tests!(a_partial_refund_on_one_channel_restocks_the_others);

async fn a_partial_refund_on_one_channel_restocks_the_others(app: TestApp) {
    let product = app
        .create_product(&json!({"title": "Mug", "status": "active", "options": ["Colour"],
            "variants": [
                {"sku": "MUG-RED", "options": ["Red"], "price": "12.00", "inventory_quantity": 10},
                {"sku": "MUG-BLUE", "options": ["Blue"], "price": "12.00", "inventory_quantity": 10}]}))
        .await;
    let red = product["variants"][0]["id"].as_str().unwrap().to_owned();
    let blue = product["variants"][1]["id"].as_str().unwrap().to_owned();
    // The shop `post_shopify` signs for.
    let shop = "orders.myshopify.com";
    let creds = app.sim.create_account("shopify", shop, None);
    let shopify = app
        .connect(
            &json!({"platform": "shopify", "name": "Shopify", "account": shop,
            "credentials": {"access_token": creds.access_token},
            "webhook_secret": creds.webhook_secret}),
        )
        .await;
    let woo = app.connect_woo("refunds-woo").await;
    let workers = app
        .start_workers_of(
            &[WorkerKind::Outbox, WorkerKind::Sync, WorkerKind::Webhook],
            true,
        )
        .await;
    for connection in [&shopify, &woo] {
        let response = app
            .post(
                "/v1/listings",
                &json!({"connection_id": connection, "product_ids": [product["id"]], "mode": "publish"}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    for (platform, account) in [("shopify", shop), ("woocommerce", "refunds-woo")] {
        for sku in ["MUG-RED", "MUG-BLUE"] {
            eventually(&format!("{sku} at 10 on {platform}"), || async {
                channel_stock(&app, platform, account, sku).await == Some(10)
            })
            .await;
        }
    }
    let sim = reqwest::Client::new();
    let response = sim
        .post(format!("{}/_sim/shopify/{shop}/webhooks", app.sim.url()))
        .json(&json!({"url": app.url(&format!("/webhooks/shopify/{shopify}"))}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);

    // A sale of 4 red and 2 blue on Shopify: WooCommerce follows.
    let response = sim
        .post(format!("{}/_sim/shopify/{shop}/orders", app.sim.url()))
        .json(&json!({"lines": [{"sku": "MUG-RED", "quantity": 4}, {"sku": "MUG-BLUE", "quantity": 2}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let order: Value = response.json().await.unwrap();
    let order_id = order["order_id"].as_str().unwrap().to_owned();
    eventually("the sale on WooCommerce", || async {
        channel_stock(&app, "woocommerce", "refunds-woo", "MUG-RED").await == Some(6)
            && channel_stock(&app, "woocommerce", "refunds-woo", "MUG-BLUE").await == Some(8)
    })
    .await;

    // The merchant refunds 1 red, returned to stock, and 2 blue the buyer
    // keeps (no_restock): only the red unit comes back, everywhere.
    let response = sim
        .post(format!(
            "{}/_sim/shopify/{shop}/orders/{}/refunds",
            app.sim.url(),
            order_id.replace('/', "%2F")
        ))
        .json(&json!({"lines": [
            {"sku": "MUG-RED", "quantity": 1, "restock_type": "return"},
            {"sku": "MUG-BLUE", "quantity": 2, "restock_type": "no_restock"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "{:?}",
        response.text().await
    );
    let refund: Value = response.json().await.unwrap();
    let refund_id = refund["refund_id"].as_str().unwrap().to_owned();
    eventually("the refund on WooCommerce", || async {
        channel_stock(&app, "woocommerce", "refunds-woo", "MUG-RED").await == Some(7)
    })
    .await;
    assert_eq!(master_stock(&app, &red).await, 7);
    assert_eq!(master_stock(&app, &blue).await, 8);
    assert_eq!(
        channel_stock(&app, "woocommerce", "refunds-woo", "MUG-BLUE").await,
        Some(8)
    );
    let refunds: Vec<Value> = logs(&app)
        .await
        .into_iter()
        .filter(|l| l["topic"] == "refunds/create")
        .collect();
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    eventually("the refund processed", || async {
        logs(&app)
            .await
            .iter()
            .any(|l| l["topic"] == "refunds/create" && l["status"] == "processed")
    })
    .await;
    let history: Value = app
        .get(&format!("/v1/variants/{red}/inventory"))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        history
            .to_string()
            .contains(&format!(":refund:{refund_id}")),
        "the movement names the refund: {history}"
    );

    // The same refund delivered again: looked at, nothing moves.
    let body = stored_body(&app, &refunds[0]).await;
    assert_eq!(
        post_shopify(
            &app,
            &shopify,
            &creds.webhook_secret,
            "refunds/create",
            &body
        )
        .await,
        StatusCode::OK
    );
    eventually("the redelivery looked at", || async {
        logs(&app).await.iter().any(|l| {
            l["topic"] == "refunds/create"
                && l["status"] == "ignored"
                && l["error"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("applied already")
        })
    })
    .await;
    assert_eq!(master_stock(&app, &red).await, 7);

    // The rest of the order cancelled: the 3 red still out come back; the
    // red unit refunded already is not given back twice, and the 2 blue the
    // buyer kept stay out.
    let response = sim
        .post(format!(
            "{}/_sim/shopify/{shop}/orders/{}/cancel",
            app.sim.url(),
            order_id.replace('/', "%2F")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    eventually("the cancellation on WooCommerce", || async {
        channel_stock(&app, "woocommerce", "refunds-woo", "MUG-RED").await == Some(10)
    })
    .await;
    eventually("the cancellation applied", || async {
        logs(&app)
            .await
            .iter()
            .any(|l| l["topic"] == "orders/cancelled" && l["status"] == "processed")
    })
    .await;
    assert_eq!(master_stock(&app, &red).await, 10);
    assert_eq!(master_stock(&app, &blue).await, 8);
    assert_eq!(
        channel_stock(&app, "woocommerce", "refunds-woo", "MUG-BLUE").await,
        Some(8)
    );

    // A refund that overtakes its order waits for it: once the order has
    // taken its 2 red, the refund's retry gives 1 back.
    let early_refund = json!({"id": 770001, "order_id": 990001,
        "created_at": chrono::Utc::now().to_rfc3339(),
        "refund_line_items": [{"quantity": 1, "restock_type": "return",
            "line_item": {"sku": "MUG-RED", "variant_id": null}}]});
    assert_eq!(
        post_shopify(
            &app,
            &shopify,
            &creds.webhook_secret,
            "refunds/create",
            &early_refund
        )
        .await,
        StatusCode::OK
    );
    let early_log = logs(&app)
        .await
        .into_iter()
        .rfind(|l| l["topic"] == "refunds/create")
        .unwrap()["id"]
        .clone();
    let early_status = || async {
        logs(&app)
            .await
            .into_iter()
            .find(|l| l["id"] == early_log)
            .unwrap()["status"]
            .clone()
    };
    // The worker has been woken for it; it is put off, not written off.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert_eq!(early_status().await, "received");
    assert_eq!(master_stock(&app, &red).await, 10);
    let late_order = json!({"id": 990001, "created_at": chrono::Utc::now().to_rfc3339(),
        "line_items": [{"sku": "MUG-RED", "quantity": 2, "variant_id": null}]});
    assert_eq!(
        post_shopify(
            &app,
            &shopify,
            &creds.webhook_secret,
            "orders/create",
            &late_order
        )
        .await,
        StatusCode::OK
    );
    eventually("the early refund applied after its order", || async {
        early_status().await == "processed"
    })
    .await;
    assert_eq!(master_stock(&app, &red).await, 9);
    eventually("the early refund on WooCommerce", || async {
        channel_stock(&app, "woocommerce", "refunds-woo", "MUG-RED").await == Some(9)
    })
    .await;
    workers.shutdown().await;
}
