use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::support::{TestApp, problem, product_body};

backend_tests!(
    a_retry_returns_the_first_response,
    a_reused_key_with_another_body_is_refused,
    keys_are_per_tenant
);

async fn a_retry_returns_the_first_response(app: TestApp) {
    let body = product_body("Once", "ONCE", 1);
    let send = || {
        app.request(Method::POST, "/v1/products")
            .header("Idempotency-Key", "create-once-1")
            .json(&body)
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();
    let second = send().await.unwrap();
    assert_eq!(second.status(), 201);
    assert_eq!(second.headers().get("idempotent-replayed").unwrap(), "true");
    assert_eq!(second.json::<Value>().await.unwrap(), first);
    let page: Value = app.get("/v1/products?q=once").await.json().await.unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 1, "applied once");

    // A stock adjustment retried is applied once.
    let variant = first["variants"][0]["id"].as_str().unwrap();
    let path = format!("/v1/variants/{variant}/inventory");
    for _ in 0..3 {
        let r = app
            .request(Method::PUT, &path)
            .header("Idempotency-Key", "adjust-1")
            .json(&json!({ "adjust": -4 }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<Value>().await.unwrap()["inventory_quantity"], 6);
    }
    let v: Value = app
        .get(&format!("/v1/variants/{variant}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["inventory_quantity"], 6);

    // A refused request is replayed as refused (the key stays spent).
    let bad = || {
        app.request(Method::PUT, &path)
            .header("Idempotency-Key", "adjust-2")
            .json(&json!({ "adjust": -100 }))
            .send()
    };
    let (status, _) = problem(bad().await.unwrap()).await;
    assert_eq!(status, 422);
    let (status, _) = problem(bad().await.unwrap()).await;
    assert_eq!(status, 422);
}

async fn a_reused_key_with_another_body_is_refused(app: TestApp) {
    let r = app
        .request(Method::POST, "/v1/products")
        .header("Idempotency-Key", "k1")
        .json(&product_body("A", "A", 1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = app
        .request(Method::POST, "/v1/products")
        .header("Idempotency-Key", "k1")
        .json(&product_body("B", "B", 1))
        .send()
        .await
        .unwrap();
    let (status, body) = problem(r).await;
    assert_eq!(status, 422);
    assert!(body["detail"].as_str().unwrap().contains("Idempotency-Key"));
    let r = app
        .request(Method::POST, "/v1/products")
        .header("Idempotency-Key", "bad key with spaces")
        .json(&product_body("C", "C", 1))
        .send()
        .await
        .unwrap();
    let (status, _) = problem(r).await;
    assert_eq!(status, 400);
}

async fn keys_are_per_tenant(app: TestApp) {
    let (_, other) = app.other_tenant().await;
    let mine = app
        .request(Method::POST, "/v1/products")
        .header("Idempotency-Key", "shared")
        .json(&product_body("Mine", "M", 1))
        .send()
        .await
        .unwrap();
    assert_eq!(mine.status(), 201);
    let theirs = app
        .request_as(&other, Method::POST, "/v1/products")
        .header("Idempotency-Key", "shared")
        .json(&product_body("Theirs", "T", 1))
        .send()
        .await
        .unwrap();
    assert_eq!(
        theirs.status(),
        201,
        "another tenant's key space is separate"
    );
    assert!(theirs.headers().get("idempotent-replayed").is_none());
}
