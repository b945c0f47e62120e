//! `/v1/sync` and `/v1/sync-logs`: a dry run plans without touching the
//! channel, a run sends what it planned, a rule change reaches the channel,
//! and bad requests get clear answers.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::support::{TestApp, problem, product_body};

backend_tests!(
    a_dry_run_plans_what_the_run_then_sends,
    a_rule_change_reaches_the_channel,
    bad_sync_requests_are_refused,
);

/// Two products (three variants) published to a fresh store.
async fn publish_two(app: &TestApp, store: &str) -> (String, Vec<String>) {
    let connection = app.connect_woo(store).await;
    let tee = app.create_product(&product_body("Tee", "TEE", 2)).await;
    let cap = app.create_product(&product_body("Cap", "CAP", 1)).await;
    let products = vec![
        tee["id"].as_str().unwrap().to_owned(),
        cap["id"].as_str().unwrap().to_owned(),
    ];
    let response = app
        .post(
            "/v1/listings",
            &json!({ "connection_id": connection, "product_ids": products, "mode": "publish" }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    (connection, products)
}

async fn dry_run(app: &TestApp, connection: &str) -> Value {
    let response = app
        .post(
            "/v1/sync?dry_run=true",
            &json!({ "connection_id": connection }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["dry_run"][0].clone()
}

async fn until(app: &TestApp, store: &str, what: &str, done: impl Fn(&[Value]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let held = app.sim_listings("woocommerce", store).await;
        if done(&held) {
            return;
        }
        assert!(Instant::now() < deadline, "never saw {what}: {held:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn price_of(held: &[Value], sku: &str) -> Option<String> {
    held.iter()
        .flat_map(|p| p["variants"].as_array().cloned().unwrap_or_default())
        .find(|v| v["sku"] == sku)
        .map(|v| {
            v["price"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or(v["price"].to_string())
        })
}

async fn a_dry_run_plans_what_the_run_then_sends(app: TestApp) {
    let (connection, _) = publish_two(&app, "dry1").await;

    // Planned with no worker running: two creates, nothing sent.
    let before = app.sim.stats("woocommerce", "dry1").requests;
    let plan = dry_run(&app, &connection).await;
    assert_eq!(plan["summary"]["create"], 2, "{plan:#}");
    assert_eq!(plan["summary"]["listings"], 3);
    let calls = plan["estimate"]["api_calls"].as_u64().unwrap();
    assert!(calls >= 1);
    for item in plan["items"].as_array().unwrap() {
        assert_eq!(item["action"], "create");
        assert_eq!(item["would_succeed"], true);
        assert!(!item["payload"]["variants"].as_array().unwrap().is_empty());
    }
    // Reading the channel back for the diff is the only traffic.
    let reads = plan["estimate"]["read_calls"].as_u64().unwrap();
    assert_eq!(
        app.sim.stats("woocommerce", "dry1").requests - before,
        reads
    );
    assert!(app.sim_listings("woocommerce", "dry1").await.is_empty());

    // The log says it was a dry run.
    let logs: Value = app
        .get(&format!(
            "/v1/sync-logs?connection_id={connection}&dry_run=true"
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(logs["items"][0]["status"], "planned");
    assert_eq!(logs["items"][0]["dry_run"], true);

    // The run makes exactly the planned calls.
    let before = app.sim.stats("woocommerce", "dry1").requests;
    let workers = app.start_workers().await;
    until(&app, "dry1", "both products", |held| held.len() == 2).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let plan = dry_run(&app, &connection).await;
        if plan["summary"]["unchanged"] == 2 {
            assert_eq!(plan["estimate"]["api_calls"], 0, "{plan:#}");
            break;
        }
        assert!(Instant::now() < deadline, "never synced: {plan:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The channel can match before the run has finished (its last calls,
    // then the round's results); every listing synced means it has.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let page: Value = app
            .get(&format!(
                "/v1/listings?connection_id={connection}&limit=250"
            ))
            .await
            .json()
            .await
            .unwrap();
        let rows = page["data"].as_array().unwrap();
        if !rows.is_empty() && rows.iter().all(|l| l["status"] == "synced") {
            break;
        }
        assert!(Instant::now() < deadline, "listings never synced: {page:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let made = app.sim.stats("woocommerce", "dry1").requests - before;
    // Every dry run above read the channel once per page.
    let reads: u64 = {
        let logs: Value = app
            .get(&format!(
                "/v1/sync-logs?connection_id={connection}&dry_run=true&limit=250"
            ))
            .await
            .json()
            .await
            .unwrap();
        logs["items"].as_array().unwrap()[..]
            .iter()
            .rev()
            .skip(1)
            .map(|l| l["api_calls"].as_u64().unwrap())
            .sum()
    };
    assert_eq!(made - reads, calls, "the run made what the dry run planned");

    // POST /v1/sync (no body: everything) marks listings and answers 202.
    let response = app
        .request(reqwest::Method::POST, "/v1/sync")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let started: Value = response.json().await.unwrap();
    assert_eq!(started["started"][0]["listings"], 3);
    workers.shutdown().await;
}

async fn a_rule_change_reaches_the_channel(app: TestApp) {
    let (connection, _) = publish_two(&app, "rule1").await;
    let workers = app.start_workers().await;
    until(&app, "rule1", "the first push", |held| {
        price_of(held, "TEE-0").is_some_and(|p| p.starts_with("19.99"))
    })
    .await;

    let response = app
        .post(
            "/v1/rules",
            &json!({
                "name": "Woo +10%",
                "platform": "woocommerce",
                "condition": { "tag": "summer" },
                "actions": [{ "type": "price_adjust", "kind": "percent", "value": "10" }]
            }),
        )
        .await;
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "{}",
        response.text().await.unwrap()
    );
    // 19.99 + 10% = 21.989, rounded half up to 21.99.
    until(&app, "rule1", "the marked-up price", |held| {
        price_of(held, "TEE-0").is_some_and(|p| p.starts_with("21.99"))
    })
    .await;

    // The dry run explains where the price comes from.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let plan = dry_run(&app, &connection).await;
        if plan["summary"]["unchanged"] == 2 {
            let rules: Vec<String> = plan["items"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|i| i["rules"].as_array().unwrap().clone())
                .map(|r| r.as_str().unwrap().to_owned())
                .collect();
            assert!(
                rules
                    .iter()
                    .any(|r| r.contains("Woo +10%") && r.contains("19.99") && r.contains("21.99")),
                "{rules:?}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "never settled: {plan:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    workers.shutdown().await;
}

async fn bad_sync_requests_are_refused(app: TestApp) {
    let connection = app.connect_woo("bad1").await;
    let (status, body) = problem(
        app.post(
            "/v1/sync",
            &json!({ "connection_id": connection, "products": [] }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = problem(
        app.post(
            "/v1/sync",
            &json!({ "connection_id": connection, "product_ids": [] }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    let (status, _) = problem(
        app.post(
            "/v1/sync?dry_run=maybe",
            &json!({ "connection_id": connection }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400);

    // Another tenant's connection does not exist for this one.
    let (_, other_key) = app.other_tenant().await;
    for path in ["/v1/sync", "/v1/sync?dry_run=true"] {
        let response = app
            .request_as(&other_key, reqwest::Method::POST, path)
            .json(&json!({ "connection_id": connection }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let (status, _) = problem(app.get("/v1/sync-logs?limit=0").await).await;
    assert_eq!(status, 400);
}
