//! `/v1/overview` and the dashboard page that reads it.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::support::TestApp;

backend_tests!(
    the_overview_counts_listings_per_connection_and_shows_stock_moves,
    the_dashboard_page_is_served_with_a_strict_policy,
);

async fn overview(app: &TestApp, key: Option<&str>) -> Value {
    let request = match key {
        Some(key) => app.request_as(key, reqwest::Method::GET, "/v1/overview"),
        None => app.request(reqwest::Method::GET, "/v1/overview"),
    };
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn the_overview_counts_listings_per_connection_and_shows_stock_moves(app: TestApp) {
    let mug = app
        .create_product(&json!({"title": "Mug", "options": ["Size"], "variants": [
            {"sku": "MUG-S", "options": ["S"], "price": "12.00", "inventory_quantity": 10},
            {"sku": "MUG-L", "options": ["L"], "price": "14.00", "inventory_quantity": 4}]}))
        .await;
    let woo = app.connect_woo("overview-woo").await;
    let empty = app.connect_woo("overview-empty").await;
    let response = app
        .post(
            "/v1/listings",
            &json!({"connection_id": woo, "product_ids": [mug["id"]], "mode": "publish"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let variant = mug["variants"][1]["id"].as_str().unwrap();
    let response = app
        .put(
            &format!("/v1/variants/{variant}/inventory"),
            &json!({"adjust": -3, "reason": "damaged"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    let seen = overview(&app, None).await;
    let connections = seen["connections"].as_array().unwrap();
    assert_eq!(connections.len(), 2, "{seen}");
    let of = |id: &str| connections.iter().find(|c| c["id"] == id).unwrap().clone();
    // No worker runs here: both variants wait to be created.
    assert_eq!(of(&woo)["listings"], json!({"pending": 2}));
    assert_eq!(of(&woo)["platform"], "woocommerce");
    assert_eq!(of(&empty)["listings"], json!({}));
    let moves = seen["recent_stock_moves"].as_array().unwrap();
    assert_eq!(moves[0]["sku"], "MUG-L", "{seen}");
    assert_eq!(moves[0]["title"], "Mug");
    assert_eq!(moves[0]["delta"], -3);
    assert_eq!(moves[0]["available_after"], 1);
    assert_eq!(moves[0]["reason"], "damaged");
    // Credentials never show, here as anywhere.
    assert!(!seen.to_string().contains("consumer_secret"), "{seen}");

    let (_, other) = app.other_tenant().await;
    let theirs = overview(&app, Some(&other)).await;
    assert_eq!(theirs, json!({"connections": [], "recent_stock_moves": []}));
    let response = app
        .request_as(
            "ssk_not_a_key_at_all_0000000",
            reqwest::Method::GET,
            "/v1/overview",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

async fn the_dashboard_page_is_served_with_a_strict_policy(app: TestApp) {
    let page = reqwest::get(app.url("/")).await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"<script src="/dashboard.js">"#));
    let script = reqwest::get(app.url("/dashboard.js")).await.unwrap();
    assert_eq!(script.status(), StatusCode::OK);
    let js = script.text().await.unwrap();
    assert!(js.contains("/v1/overview"));
    // Values from the API are written as text, never parsed as markup.
    assert!(!js.contains("innerHTML"));
}
