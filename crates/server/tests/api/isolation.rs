//! A tenant can never read or change another tenant's rows: every route that
//! takes an id answers 404 (not 403) for a foreign one, and lists never show them.

use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::support::{TestApp, product_body};

backend_tests!(
    foreign_ids_are_not_found_on_every_route,
    lists_and_bulk_stay_within_the_tenant
);

async fn foreign_ids_are_not_found_on_every_route(app: TestApp) {
    let product = app
        .create_product(&product_body("Private", "PRIV", 1))
        .await;
    let product_id = product["id"].as_str().unwrap().to_string();
    let variant_id = product["variants"][0]["id"].as_str().unwrap().to_string();
    let key: Value = app
        .post("/v1/api-keys", &json!({ "name": "ci" }))
        .await
        .json()
        .await
        .unwrap();
    let key_id = key["id"].as_str().unwrap().to_string();

    let (_, intruder) = app.other_tenant().await;
    let attempts: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/v1/products/{product_id}"), None),
        (
            Method::PATCH,
            format!("/v1/products/{product_id}"),
            Some(json!({ "title": "pwned" })),
        ),
        (Method::DELETE, format!("/v1/products/{product_id}"), None),
        (Method::GET, format!("/v1/variants/{variant_id}"), None),
        (
            Method::PATCH,
            format!("/v1/variants/{variant_id}"),
            Some(json!({ "price": "0.01" })),
        ),
        (
            Method::PUT,
            format!("/v1/variants/{variant_id}/inventory"),
            Some(json!({ "set": 0 })),
        ),
        (
            Method::GET,
            format!("/v1/variants/{variant_id}/inventory"),
            None,
        ),
        (Method::DELETE, format!("/v1/api-keys/{key_id}"), None),
    ];
    for (method, path, body) in attempts {
        let mut request = app.request_as(&intruder, method.clone(), &path);
        if let Some(body) = &body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        assert_eq!(
            response.status(),
            404,
            "{method} {path} must not reach another tenant's row"
        );
    }

    // Nothing changed for the owner.
    let after: Value = app
        .get(&format!("/v1/products/{product_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after, product);
    let keys: Vec<Value> = app.get("/v1/api-keys").await.json().await.unwrap();
    assert!(keys.iter().all(|k| k["revoked_at"].is_null()));
}

async fn lists_and_bulk_stay_within_the_tenant(app: TestApp) {
    app.create_product(&product_body("Mine", "MINE", 1)).await;
    let (_, other) = app.other_tenant().await;
    let list = |key: String, path: &'static str| {
        let request = app.request_as(&key, Method::GET, path);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let theirs = list(other.clone(), "/v1/products?q=mine").await;
    assert_eq!(theirs["data"], json!([]));
    let audit = list(other.clone(), "/v1/audit").await;
    let entries = audit["data"].as_array().unwrap();
    assert!(
        entries.iter().all(|e| e["action"] == "api_key.create"),
        "the audit trail is per tenant: they see only their own key's creation: {audit}"
    );
    let keys = app
        .request_as(&other, Method::GET, "/v1/api-keys")
        .send()
        .await
        .unwrap()
        .json::<Vec<Value>>()
        .await
        .unwrap();
    assert_eq!(keys.len(), 1, "only their own key");

    // A bulk upsert naming our SKU creates their own product; ours is untouched.
    let outcome: Value = app
        .request_as(&other, Method::POST, "/v1/products/bulk")
        .json(&json!({ "products": [{ "title": "Theirs", "variants": [{ "sku": "MINE-0", "price": "1" }] }] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(outcome["created"], 1, "{outcome}");
    let ours = list(app.key.clone(), "/v1/products?q=mine-0").await;
    assert_eq!(ours["data"][0]["title"], "Mine");
    assert_eq!(ours["data"][0]["variants"][0]["price"], "19.99");
}
