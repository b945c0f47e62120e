//! `/v1/conflicts`: policies per tenant, connection and field; conflicts
//! listed, fetched and resolved; reconciliation on demand. Tenants see only
//! their own.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shelfsync_core::{ConnectionId, ProductId, VariantId};
use shelfsync_store::{ConflictField, ConflictPolicy, NewConflict};

use crate::backend_tests;
use crate::support::{TestApp, problem, product_body};

backend_tests!(
    policies_are_set_per_scope_and_validated,
    conflicts_are_listed_and_resolved,
    reconciliation_runs_on_demand,
);

async fn create_woo(app: &TestApp) -> ConnectionId {
    let response = app
        .post(
            "/v1/connections",
            &json!({
                "platform": "woocommerce",
                "name": "Main store",
                "account": "https://shop.example.com",
                "credentials": {
                    "consumer_key": "ck_0123456789abcdef0123456789abcdef",
                    "consumer_secret": "cs_fedcba9876543210fedcba9876543210"
                }
            }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    body["id"].as_str().unwrap().parse().unwrap()
}

fn field_errors(body: &Value) -> Vec<String> {
    let mut fields: Vec<String> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    fields.sort();
    fields
}

async fn policies_are_set_per_scope_and_validated(app: TestApp) {
    let connection = create_woo(&app).await;
    let listed: Vec<Value> = app
        .get("/v1/conflicts/policies")
        .await
        .json()
        .await
        .unwrap();
    assert!(listed.is_empty());

    let response = app
        .put("/v1/conflicts/policies", &json!({ "policy": "manual" }))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let tenant_wide: Value = response.json().await.unwrap();
    assert_eq!(tenant_wide["policy"], "manual");
    assert!(tenant_wide["connection_id"].is_null() && tenant_wide["field"].is_null());

    let scoped = json!({ "connection_id": connection, "field": "price", "policy": "channel_wins" });
    let first: Value = app
        .put("/v1/conflicts/policies", &scoped)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["field"], "price");
    // The same scope again replaces its policy rather than adding one.
    let again: Value = app
        .put(
            "/v1/conflicts/policies",
            &json!({ "connection_id": connection, "field": "price", "policy": "newest_wins" }),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["policy"], "newest_wins");
    let listed: Vec<Value> = app
        .get("/v1/conflicts/policies")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed.len(), 2, "{listed:?}");

    // The most specific scope applies.
    let policies = app.store.list_policies(app.tenant).await.unwrap();
    assert_eq!(
        shelfsync_store::policy_for(&policies, connection, ConflictField::Price),
        ConflictPolicy::NewestWins
    );
    assert_eq!(
        shelfsync_store::policy_for(&policies, connection, ConflictField::Title),
        ConflictPolicy::Manual
    );
    assert_eq!(
        shelfsync_store::policy_for(&[], connection, ConflictField::Title),
        ConflictPolicy::MasterWins
    );

    // Bad input: every problem named, nothing stored.
    let (status, body) = problem(
        app.put(
            "/v1/conflicts/policies",
            &json!({ "field": "colour", "policy": "loudest_wins", "connection_id": "nope" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(field_errors(&body), ["connection_id", "field", "policy"]);
    let (status, body) = problem(app.put("/v1/conflicts/policies", &json!({})).await).await;
    assert_eq!(status, 422);
    assert_eq!(field_errors(&body), ["policy"]);
    let (status, _) = problem(
        app.put(
            "/v1/conflicts/policies",
            &json!({ "policy": "manual", "extra": 1 }),
        )
        .await,
    )
    .await;
    assert!(status == 400 || status == 422, "{status}");

    // Another tenant cannot aim at this connection, nor see these policies.
    let (_, other_key) = app.other_tenant().await;
    let response = app
        .request_as(&other_key, Method::PUT, "/v1/conflicts/policies")
        .json(&json!({ "connection_id": connection, "policy": "manual" }))
        .send()
        .await
        .unwrap();
    let (status, _) = problem(response).await;
    assert_eq!(status, 404);
    let theirs: Vec<Value> = app
        .request_as(&other_key, Method::GET, "/v1/conflicts/policies")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(theirs.is_empty());
    let listed: Vec<Value> = app
        .get("/v1/conflicts/policies")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed.len(), 2);
}

/// A product listed on a connection, and a manual conflict opened on a field of it.
async fn open_conflict(
    app: &TestApp,
    connection: ConnectionId,
    sku: &str,
    field: ConflictField,
    master: Value,
    channel: Value,
) -> (ProductId, VariantId, uuid::Uuid) {
    let product = app.create_product(&product_body("Tee", sku, 1)).await;
    let product_id: ProductId = product["id"].as_str().unwrap().parse().unwrap();
    let variant_id: VariantId = product["variants"][0]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let listing = app
        .store
        .upsert_listing(app.tenant, connection, product_id, variant_id)
        .await
        .unwrap();
    let id = app
        .store
        .record_conflict(&NewConflict {
            tenant: app.tenant,
            connection,
            listing,
            product: product_id,
            variant: Some(variant_id),
            sku: Some(format!("{sku}-0")),
            field,
            master_value: master,
            channel_value: channel,
            policy: ConflictPolicy::Manual,
            external_product_id: Some("101".into()),
            external_variant_id: Some("101".into()),
            channel_updated_at: None,
            resolution: None,
        })
        .await
        .unwrap();
    (product_id, variant_id, id)
}

async fn listing_status(app: &TestApp, connection: ConnectionId, product: ProductId) -> String {
    app.store
        .list_listings(app.tenant, connection)
        .await
        .unwrap()
        .into_iter()
        .find(|l| l.product == product)
        .unwrap()
        .status
}

async fn conflicts_are_listed_and_resolved(app: TestApp) {
    let connection = create_woo(&app).await;
    let (product, variant, price) = open_conflict(
        &app,
        connection,
        "PRICE",
        ConflictField::Price,
        json!("19.99"),
        json!("25"),
    )
    .await;
    assert_eq!(listing_status(&app, connection, product).await, "conflict");
    let (other_product, _, quantity) = open_conflict(
        &app,
        connection,
        "QTY",
        ConflictField::Quantity,
        json!(10),
        json!(4),
    )
    .await;

    let page: Value = app
        .get("/v1/conflicts?status=open")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 2, "{page}");
    assert!(page["next_cursor"].is_null());
    // A page at a time, newest first.
    let first: Value = app.get("/v1/conflicts?limit=1").await.json().await.unwrap();
    assert_eq!(first["data"][0]["id"], quantity.to_string());
    let cursor = first["next_cursor"].as_str().unwrap();
    let second: Value = app
        .get(&format!("/v1/conflicts?limit=1&cursor={cursor}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(second["data"][0]["id"], price.to_string());
    let by_connection: Value = app
        .get(&format!(
            "/v1/conflicts?connection_id={connection}&status=resolved"
        ))
        .await
        .json()
        .await
        .unwrap();
    assert!(by_connection["data"].as_array().unwrap().is_empty());
    let (status, _) = problem(app.get("/v1/conflicts?status=maybe").await).await;
    assert_eq!(status, 400);
    let (status, _) = problem(app.get("/v1/conflicts?cursor=zzz").await).await;
    assert_eq!(status, 400);

    let one: Value = app
        .get(&format!("/v1/conflicts/{price}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            one["field"].as_str(),
            one["channel_value"].as_str(),
            one["status"].as_str()
        ),
        (Some("price"), Some("25"), Some("open"))
    );

    // Another tenant sees none of it and cannot resolve it.
    let (_, other_key) = app.other_tenant().await;
    let response = app
        .request_as(&other_key, Method::GET, &format!("/v1/conflicts/{price}"))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(response).await.0, 404);
    let response = app
        .request_as(
            &other_key,
            Method::POST,
            &format!("/v1/conflicts/{price}/resolve"),
        )
        .json(&json!({ "resolution": "master" }))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(response).await.0, 404);
    let theirs: Value = app
        .request_as(&other_key, Method::GET, "/v1/conflicts")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(theirs["data"].as_array().unwrap().is_empty());

    let resolve = format!("/v1/conflicts/{price}/resolve");
    let (status, body) = problem(app.post(&resolve, &json!({ "resolution": "both" })).await).await;
    assert_eq!(status, 422);
    assert_eq!(field_errors(&body), ["resolution"]);

    // The channel's price is taken into the master catalog.
    let outbox_before = app.store.count_outbox(app.tenant).await.unwrap();
    let response = app
        .post(&resolve, &json!({ "resolution": "channel" }))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let settled: Value = response.json().await.unwrap();
    assert_eq!(
        (settled["status"].as_str(), settled["resolution"].as_str()),
        (Some("resolved"), Some("channel"))
    );
    let variant = app
        .store
        .get_variant(app.tenant, variant)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(variant.price.amount().normalize().to_string(), "25");
    assert!(
        app.store.count_outbox(app.tenant).await.unwrap() > outbox_before,
        "the change goes out to the other channels"
    );
    assert_ne!(listing_status(&app, connection, product).await, "conflict");
    let (status, _) = problem(app.post(&resolve, &json!({ "resolution": "master" })).await).await;
    assert_eq!(status, 409, "settled once");

    // Ignored: the listing leaves `conflict`, the catalog is untouched.
    let response = app
        .post(
            &format!("/v1/conflicts/{quantity}/resolve"),
            &json!({ "resolution": "ignore" }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let ignored: Value = response.json().await.unwrap();
    assert_eq!(ignored["status"], "ignored");
    assert_ne!(
        listing_status(&app, connection, other_product).await,
        "conflict"
    );
    let open: Value = app
        .get("/v1/conflicts?status=open")
        .await
        .json()
        .await
        .unwrap();
    assert!(open["data"].as_array().unwrap().is_empty());
    let (status, _) = problem(
        app.get(&format!("/v1/conflicts/{}", uuid::Uuid::now_v7()))
            .await,
    )
    .await;
    assert_eq!(status, 404);
}

async fn reconciliation_runs_on_demand(app: TestApp) {
    let connection = create_woo(&app).await;
    let path = format!("/v1/connections/{connection}/reconcile");
    let response = app.post(&path, &json!({})).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let first: Value = response.json().await.unwrap();
    assert!(
        first["job_id"]
            .as_str()
            .is_some_and(|j| j.starts_with("job_")),
        "{first}"
    );
    // Asked again while it waits: the same job.
    let second: Value = app.post(&path, &json!({})).await.json().await.unwrap();
    assert_eq!(first["job_id"], second["job_id"]);

    let (_, other_key) = app.other_tenant().await;
    let response = app
        .request_as(&other_key, Method::POST, &path)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(response).await.0, 404);
    let (status, _) = problem(
        app.post("/v1/connections/con_nope/reconcile", &json!({}))
            .await,
    )
    .await;
    assert_eq!(status, 404);
}
