//! Bad input of every kind gets a clear 4xx problem document, never a 500.

use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::support::{TestApp, problem, product_body};

backend_tests!(malformed_requests_get_clear_4xx, health_readiness_and_docs);

async fn malformed_requests_get_clear_4xx(app: TestApp) {
    let raw = |body: &'static str| {
        app.request(Method::POST, "/v1/products")
            .header("content-type", "application/json")
            .body(body)
            .send()
    };

    let (status, body) = problem(raw("{not json").await.unwrap()).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = problem(
        raw(r#"{"title":"x","variants":[],"colour":"red"}"#)
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("unknown field `colour`"),
        "{body}"
    );
    let (status, body) = problem(
        raw(r#"{"title":"x","variants":[{"sku":"A","price":"12.3.4"}]}"#)
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        body["detail"].as_str().unwrap().contains("12.3.4"),
        "{body}"
    );
    let (status, _) = problem(
        raw(r#"{"title":"x","variants":[{"sku":"A","price":"-5"}]}"#)
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 422);
    let (status, _) = problem(
        raw(r#"{"title":"x","variants":[{"sku":"A","price":"1","inventory_quantity":-3}]}"#)
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 422);

    let (status, body) = problem(
        app.post("/v1/products", &json!({ "title": "", "variants": [] }))
            .await,
    )
    .await;
    assert_eq!(status, 422);
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"title") && fields.contains(&"variants"),
        "every problem at once: {body}"
    );

    let (status, _) = problem(
        app.request(Method::POST, "/v1/products")
            .header("content-type", "text/plain")
            .body("hi")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 415);

    let huge = format!(
        r#"{{"title":"{}","variants":[]}}"#,
        "x".repeat(9 * 1024 * 1024)
    );
    // The server answers 413 before reading the whole body and then drops the
    // connection; a client of its own keeps that connection out of the shared pool.
    let r = reqwest::Client::new()
        .post(app.url("/v1/products"))
        .bearer_auth(&app.key)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);

    let (status, body) = problem(app.get("/v1/products/not-an-id").await).await;
    assert_eq!(status, 400);
    assert!(body["detail"].as_str().unwrap().contains("prod_"), "{body}");
    let (status, _) = problem(
        app.get("/v1/products/prod_0192f5a0c3d87a1b9e2f4c6d8e0a1b2c")
            .await,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = problem(
        app.get(&format!(
            "/v1/products/{}",
            "var_0192f5a0c3d87a1b9e2f4c6d8e0a1b2c"
        ))
        .await,
    )
    .await;
    assert_eq!(status, 400, "an id of the wrong kind");
    let (status, _) = problem(app.get("/v1/nothing-here").await).await;
    assert_eq!(status, 404);
    let (status, _) = problem(app.get("/v1/products?unknown=1").await).await;
    assert_eq!(status, 400);

    // A caller-supplied request id is echoed and quoted in errors.
    let r = app
        .request(Method::GET, "/v1/products/bad")
        .header("x-request-id", "trace-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers().get("x-request-id").unwrap(), "trace-abc-123");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["request_id"], "trace-abc-123");

    // Still healthy after all that.
    app.create_product(&product_body("Fine", "FINE", 1)).await;
}

async fn health_readiness_and_docs(app: TestApp) {
    let health: Value = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["database"], "ok");
    match app.backend {
        crate::support::Backend::Sqlite => assert_eq!(ready["redis"], "not configured"),
        crate::support::Backend::Postgres => assert_eq!(ready["redis"], "ok"),
    }

    let spec: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/v1/products",
        "/v1/products/{id}",
        "/v1/products/bulk",
        "/v1/variants/{id}/inventory",
        "/v1/api-keys",
        "/v1/audit",
    ] {
        assert!(spec["paths"].get(path).is_some(), "{path} is documented");
    }
    assert!(spec["components"]["schemas"].get("NewProduct").is_some());

    let docs = app
        .client
        .get(app.url("/docs"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(docs.contains("swagger-ui-bundle.js"));
    let js = app
        .client
        .get(app.url("/docs/swagger-ui-bundle.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), 200);
    assert!(
        js.bytes().await.unwrap().len() > 100_000,
        "Swagger UI is served from the binary"
    );
}
