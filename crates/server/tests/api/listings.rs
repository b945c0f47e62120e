//! `/v1/listings`: publishing products to a channel, linking them to items
//! the channel already holds, browsing and excluding listings; each against
//! the simulated WooCommerce with the sync worker running.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shelfsync_channels::ProductPush;

use crate::backend_tests;
use crate::support::{TestApp, problem, product_body};

backend_tests!(
    publish_lists_every_variant_and_the_worker_creates_them,
    link_attaches_to_the_channels_items_without_duplicates,
    listings_are_invisible_to_other_tenants,
    bad_requests_get_problem_documents,
);

/// A WooCommerce connection, made through the API, to a fresh simulated store.
async fn connect_woo_with(app: &TestApp, store: &str, key: &str, secret: &str) -> String {
    app.connect(&json!({
        "platform": "woocommerce",
        "name": format!("Woo {store}"),
        "account": store,
        "credentials": {"consumer_key": key, "consumer_secret": secret}
    }))
    .await
}

/// Polls the connection's listings until every one is `synced`.
async fn until_synced(app: &TestApp, connection: &str, expected: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let page: Value = app
            .get(&format!(
                "/v1/listings?connection_id={connection}&limit=250"
            ))
            .await
            .json()
            .await
            .unwrap();
        let rows = page["data"].as_array().unwrap().clone();
        if rows.len() == expected && rows.iter().all(|l| l["status"] == "synced") {
            return rows;
        }
        assert!(
            Instant::now() < deadline,
            "listings never all synced: {rows:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn ids(values: &[Value]) -> Vec<String> {
    values
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn publish_lists_every_variant_and_the_worker_creates_them(app: TestApp) {
    let connection = app.connect_woo("store1").await;
    let mut products = Vec::new();
    for n in 0..3 {
        let body = product_body(&format!("Tee {n}"), &format!("PUB-{n}"), 2);
        products.push(app.create_product(&body).await);
    }
    let product_ids: Vec<&str> = products.iter().map(|p| p["id"].as_str().unwrap()).collect();
    let workers = app.start_workers().await;

    let response = app
        .post(
            "/v1/listings",
            &json!({ "connection_id": connection, "product_ids": product_ids, "mode": "publish" }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let published: Value = response.json().await.unwrap();
    let listings = published["listings"].as_array().unwrap();
    assert_eq!(listings.len(), 6, "one listing per variant: {published}");
    let mut skus: Vec<&str> = listings
        .iter()
        .map(|l| l["sku"].as_str().unwrap())
        .collect();
    skus.sort();
    assert_eq!(
        skus,
        [
            "PUB-0-0", "PUB-0-1", "PUB-1-0", "PUB-1-1", "PUB-2-0", "PUB-2-1"
        ]
    );
    for listing in listings {
        assert_eq!(listing["connection_id"], connection.as_str());
        assert!(listing["external_product_id"].is_null());
        assert!(product_ids.contains(&listing["product_id"].as_str().unwrap()));
    }

    // The worker creates the three products, and the listings carry their ids.
    let synced = until_synced(&app, &connection, 6).await;
    let channel = app.sim_listings("woocommerce", "store1").await;
    assert_eq!(channel.len(), 3, "{channel:#?}");
    for listing in &synced {
        let sku = listing["sku"].as_str().unwrap();
        let item = channel
            .iter()
            .find(|p| {
                p["variants"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|v| v["sku"] == sku)
            })
            .unwrap_or_else(|| panic!("{sku} is not on the channel: {channel:#?}"));
        assert_eq!(listing["external_product_id"], item["external_id"]);
        let variant = item["variants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["sku"] == sku)
            .unwrap();
        assert_eq!(listing["external_variant_id"], variant["external_id"]);
        assert!(listing["last_synced_at"].is_string());
    }

    // Publishing again is idempotent: the same listings, no second copy.
    let again: Value = app
        .post(
            "/v1/listings",
            &json!({ "connection_id": connection, "product_ids": product_ids, "mode": "publish" }),
        )
        .await
        .json()
        .await
        .unwrap();
    let mut first = ids(listings);
    let mut second = ids(again["listings"].as_array().unwrap());
    first.sort();
    second.sort();
    assert_eq!(first, second);
    until_synced(&app, &connection, 6).await;
    assert_eq!(app.sim_listings("woocommerce", "store1").await.len(), 3);

    // Cursor pagination over the six, filtered by product and status.
    let page: Value = app
        .get(&format!("/v1/listings?connection_id={connection}&limit=4"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 4);
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest: Value = app
        .get(&format!(
            "/v1/listings?connection_id={connection}&limit=4&cursor={cursor}"
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rest["data"].as_array().unwrap().len(), 2);
    assert!(rest["next_cursor"].is_null());
    let mut all = ids(page["data"].as_array().unwrap());
    all.extend(ids(rest["data"].as_array().unwrap()));
    all.sort();
    assert_eq!(all, first);
    let by_product: Value = app
        .get(&format!("/v1/listings?product_id={}", product_ids[1]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_product["data"].as_array().unwrap().len(), 2);

    // Excluding stops syncing the listing; including it again re-pends it.
    let target = &first[0];
    let response = app
        .patch(
            &format!("/v1/listings/{target}"),
            &json!({ "excluded": true }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let excluded: Value = response.json().await.unwrap();
    assert_eq!(excluded["status"], "excluded");
    let listed: Value = app
        .get("/v1/listings?status=excluded")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        ids(listed["data"].as_array().unwrap()),
        std::slice::from_ref(target)
    );
    // A catalog edit does not bring an excluded listing back.
    let product = excluded["product_id"].as_str().unwrap();
    let response = app
        .patch(
            &format!("/v1/products/{product}"),
            &json!({ "title": "Tee renamed" }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let shown: Value = app
        .get(&format!("/v1/listings/{target}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["status"], "excluded");
    let response = app
        .patch(
            &format!("/v1/listings/{target}"),
            &json!({ "excluded": false }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    until_synced(&app, &connection, 6).await;
    assert_eq!(app.sim_listings("woocommerce", "store1").await.len(), 3);
    workers.shutdown().await;
}

async fn link_attaches_to_the_channels_items_without_duplicates(app: TestApp) {
    let connection = app.connect_woo("store2").await;
    // The merchant already sells on this store: a variable product with two
    // sizes and a simple product, created there before Shelfsync.
    let hub = app.state.channels.as_ref().unwrap();
    let channel = hub
        .channel(app.tenant, connection.parse().unwrap())
        .await
        .unwrap();
    let existing: Vec<ProductPush> = serde_json::from_value(json!([
        {
            "key": "a", "external_id": null, "handle": "old-hoodie", "title": "Old hoodie",
            "description": null, "vendor": null, "product_type": null, "tags": [],
            "status": "active", "options": ["Size"], "images": [],
            "variants": [
                { "sku": "LNK-A-0", "external_id": null, "option_values": ["S"], "price": "30.00",
                  "compare_at_price": null, "currency": "USD", "barcode": null, "weight_grams": null, "quantity": 1 },
                { "sku": "LNK-A-1", "external_id": null, "option_values": ["M"], "price": "30.00",
                  "compare_at_price": null, "currency": "USD", "barcode": null, "weight_grams": null, "quantity": 1 }
            ]
        },
        {
            "key": "b", "external_id": null, "handle": "old-mug", "title": "Old mug",
            "description": null, "vendor": null, "product_type": null, "tags": [],
            "status": "active", "options": [], "images": [],
            "variants": [
                { "sku": "LNK-B", "external_id": null, "option_values": [], "price": "9.00",
                  "compare_at_price": null, "currency": "USD", "barcode": null, "weight_grams": null, "quantity": 1 }
            ]
        }
    ]))
    .unwrap();
    let created = channel.upsert_products(&existing).await.unwrap();
    assert!(created.iter().all(|o| o.result.is_ok()), "{created:?}");
    let before = app.sim_listings("woocommerce", "store2").await;
    assert_eq!(before.len(), 2);
    let place = |sku: &str| -> (String, String) {
        before
            .iter()
            .find_map(|p| {
                p["variants"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|v| v["sku"] == sku)
                    .map(|v| {
                        (
                            p["external_id"].as_str().unwrap().to_owned(),
                            v["external_id"].as_str().unwrap().to_owned(),
                        )
                    })
            })
            .unwrap()
    };

    // The master catalog: the hoodie with a third size the channel lacks,
    // the mug, and a product the channel has never seen.
    let hoodie = app
        .create_product(&json!({
            "title": "Hoodie", "options": ["Size"],
            "variants": [
                { "sku": "LNK-A-0", "options": ["S"], "price": "35.00", "inventory_quantity": 4 },
                { "sku": "LNK-A-1", "options": ["M"], "price": "35.00", "inventory_quantity": 6 },
                { "sku": "LNK-A-2", "options": ["L"], "price": "35.00", "inventory_quantity": 2 }
            ]
        }))
        .await;
    let mug = app
        .create_product(&json!({
            "title": "Mug",
            "variants": [{ "sku": "LNK-B", "price": "12.00", "inventory_quantity": 7 }]
        }))
        .await;
    let new = app.create_product(&product_body("Cap", "LNK-NEW", 1)).await;

    let response = app
        .post(
            "/v1/listings",
            &json!({
                "connection_id": connection,
                "product_ids": [hoodie["id"], mug["id"], new["id"]],
                "mode": "link"
            }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let outcome: Value = response.json().await.unwrap();
    let mut unmatched: Vec<&str> = outcome["unmatched_skus"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    unmatched.sort();
    assert_eq!(unmatched, ["LNK-A-2", "LNK-NEW-0"], "{outcome}");
    assert_eq!(outcome["ambiguous_skus"], json!([]));
    let linked = outcome["linked"].as_array().unwrap();
    assert_eq!(linked.len(), 3, "{outcome}");
    for listing in linked {
        let (product, variant) = place(listing["sku"].as_str().unwrap());
        assert_eq!(
            listing["external_product_id"],
            product.as_str(),
            "{listing}"
        );
        assert_eq!(
            listing["external_variant_id"],
            variant.as_str(),
            "{listing}"
        );
        assert_eq!(listing["status"], "pending");
    }

    // The sync updates the channel's items in place: the same two products,
    // now with the master's titles, prices and stock.
    let workers = app.start_workers().await;
    let synced = until_synced(&app, &connection, 3).await;
    for listing in &synced {
        let (product, variant) = place(listing["sku"].as_str().unwrap());
        assert_eq!(listing["external_product_id"], product.as_str());
        assert_eq!(listing["external_variant_id"], variant.as_str());
    }
    let after = app.sim_listings("woocommerce", "store2").await;
    assert_eq!(after.len(), 2, "no duplicate was created: {after:#?}");
    let mut titles: Vec<&str> = after.iter().map(|p| p["title"].as_str().unwrap()).collect();
    titles.sort();
    assert_eq!(titles, ["Hoodie", "Mug"]);
    let mug_on_channel = after.iter().find(|p| p["title"] == "Mug").unwrap();
    assert_eq!(mug_on_channel["variants"][0]["quantity"], 7);
    assert!(
        after
            .iter()
            .flat_map(|p| p["variants"].as_array().unwrap())
            .all(|v| v["sku"] != "LNK-A-2" && v["sku"] != "LNK-NEW-0"),
        "unmatched variants are not listed: {after:#?}"
    );
    workers.shutdown().await;
}

async fn listings_are_invisible_to_other_tenants(app: TestApp) {
    let connection = app.connect_woo("store3").await;
    let product = app.create_product(&product_body("Tee", "ISO", 1)).await;
    let published: Value = app
        .post(
            "/v1/listings",
            &json!({ "connection_id": connection, "product_ids": [product["id"]], "mode": "publish" }),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = published["listings"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.get(&format!("/v1/listings/{id}")).await.status(),
        StatusCode::OK
    );

    let (_, intruder) = app.other_tenant().await;
    let as_intruder = |method: Method, path: String| app.request_as(&intruder, method, &path);
    let response = as_intruder(Method::GET, format!("/v1/listings/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(response).await.0, 404);
    let response = as_intruder(Method::PATCH, format!("/v1/listings/{id}"))
        .json(&json!({ "excluded": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(response).await.0, 404);
    let listed: Value = as_intruder(Method::GET, "/v1/listings".into())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"], json!([]));
    let listed: Value = as_intruder(
        Method::GET,
        format!("/v1/listings?connection_id={connection}"),
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(listed["data"], json!([]));

    // The first tenant's connection, with the intruder's own product or the
    // first tenant's: both unknown to the intruder, in either mode.
    let own = app
        .request_as(&intruder, Method::POST, "/v1/products")
        .json(&product_body("Theirs", "THEIRS", 1))
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), StatusCode::CREATED);
    let own: Value = own.json().await.unwrap();
    for mode in ["link", "publish"] {
        for product_id in [&own["id"], &product["id"]] {
            let response = as_intruder(Method::POST, "/v1/listings".into())
                .json(&json!({ "connection_id": connection, "product_ids": [product_id], "mode": mode }))
                .send()
                .await
                .unwrap();
            assert_eq!(problem(response).await.0, 404, "{mode}");
        }
    }
    // Nor may the intruder list the first tenant's product on a connection of its own.
    let creds = app.sim.create_account("woocommerce", "intruder", None);
    let response = as_intruder(Method::POST, "/v1/connections".into())
        .json(&json!({
            "platform": "woocommerce", "name": "Mine", "account": "intruder",
            "credentials": {"consumer_key": creds.consumer_key, "consumer_secret": creds.consumer_secret}
        }))
        .send()
        .await
        .unwrap();
    let theirs: Value = response.json().await.unwrap();
    let response = as_intruder(Method::POST, "/v1/listings".into())
        .json(&json!({ "connection_id": theirs["id"], "product_ids": [product["id"]], "mode": "publish" }))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(response).await.0, 404);
    // The owner's listing is untouched.
    let shown: Value = app
        .get(&format!("/v1/listings/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["status"], "pending");
}

async fn bad_requests_get_problem_documents(app: TestApp) {
    let connection = app.connect_woo("store4").await;
    let product = app.create_product(&product_body("Tee", "BAD", 1)).await;
    let cases = [
        (
            json!({ "connection_id": connection, "product_ids": [product["id"]], "mode": "mirror" }),
            422,
        ),
        (
            json!({ "connection_id": connection, "product_ids": [], "mode": "publish" }),
            422,
        ),
        (
            json!({ "connection_id": connection, "product_ids": [product["id"]] }),
            422,
        ),
        (
            json!({ "connection_id": "con_nope", "product_ids": [product["id"]], "mode": "publish" }),
            422,
        ),
        (
            json!({ "connection_id": shelfsync_core::ConnectionId::new(), "product_ids": [product["id"]], "mode": "publish" }),
            404,
        ),
        (
            json!({ "connection_id": connection, "product_ids": [shelfsync_core::ProductId::new()], "mode": "link" }),
            404,
        ),
    ];
    for (body, status) in cases {
        let (got, detail) = problem(app.post("/v1/listings", &body).await).await;
        assert_eq!(got, status, "{body} -> {detail}");
    }
    let many: Vec<String> = (0..1001)
        .map(|_| shelfsync_core::ProductId::new().to_string())
        .collect();
    let response = app
        .post(
            "/v1/listings",
            &json!({ "connection_id": connection, "product_ids": many, "mode": "publish" }),
        )
        .await;
    assert_eq!(problem(response).await.0, 422);

    for path in [
        "/v1/listings?cursor=garbage",
        "/v1/listings?cursor=prd_0192f5a0c3d87a1b9e2f4c6d8e0a1b2c",
        "/v1/listings?status=gone",
        "/v1/listings?limit=0",
        "/v1/listings?connection_id=nope",
        "/v1/listings?product_id=nope",
        "/v1/listings/nope",
    ] {
        let (status, body) = problem(app.get(path).await).await;
        assert_eq!(status, 400, "{path}: {body}");
    }
    let missing = shelfsync_core::ListingId::new();
    assert_eq!(
        problem(app.get(&format!("/v1/listings/{missing}")).await)
            .await
            .0,
        404
    );
    let response = app
        .patch(
            &format!("/v1/listings/{missing}"),
            &json!({ "excluded": "yes" }),
        )
        .await;
    assert_eq!(problem(response).await.0, 422);

    // A channel that refuses the credentials is a 502 that names no secret.
    app.sim.create_account("woocommerce", "store5", None);
    let wrong = connect_woo_with(&app, "store5", "ck_wrong_key_0001", "cs_wrong_secret_0001").await;
    let response = app
        .post(
            "/v1/listings",
            &json!({ "connection_id": wrong, "product_ids": [product["id"]], "mode": "link" }),
        )
        .await;
    let (status, body) = problem(response).await;
    assert_eq!(status, 502, "{body}");
    let text = body.to_string();
    assert!(
        !text.contains("cs_wrong_secret_0001") && !text.contains("ck_wrong_key_0001"),
        "{text}"
    );
    // Nothing was listed.
    let listed: Value = app
        .get(&format!("/v1/listings?connection_id={wrong}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"], json!([]));
}
