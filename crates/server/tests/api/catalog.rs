use serde_json::{Value, json};

use crate::backend_tests;
use crate::support::{TestApp, problem, product_body};

backend_tests!(
    create_fetch_update_delete,
    list_paginates_filters_and_searches,
    sku_is_unique_per_tenant,
    inventory_set_and_adjust_write_history,
    bulk_upsert_creates_updates_and_reports,
    variant_price_patch_is_exact,
    writes_are_audited_and_announced,
);

async fn create_fetch_update_delete(app: TestApp) {
    let created = app
        .create_product(&json!({
            "title": "Classic Tee",
            "description": "Soft cotton",
            "vendor": "Acme",
            "product_type": "Shirts",
            "tags": ["summer", "cotton", "summer"],
            "images": ["https://img.example/tee.jpg"],
            "options": ["Size", "Colour"],
            "variants": [
                { "sku": "TEE-S-RED", "options": ["S", "Red"], "price": "19.99", "compare_at_price": "24.99", "currency": "eur", "inventory_quantity": 5, "barcode": "4006381333931", "weight_grams": 180 },
                { "sku": "TEE-M-RED", "options": ["M", "Red"], "price": 19.5 }
            ]
        }))
        .await;
    let id = created["id"].as_str().unwrap();
    assert!(id.starts_with("prod_"));
    assert_eq!(created["handle"], "classic-tee");
    assert_eq!(created["tags"], json!(["summer", "cotton"]));
    assert_eq!(created["variants"][0]["price"], "19.99");
    assert_eq!(created["variants"][0]["compare_at_price"], "24.99");
    assert_eq!(created["variants"][0]["currency"], "EUR");
    assert_eq!(created["variants"][0]["title"], "S / Red");
    assert_eq!(created["variants"][0]["inventory_quantity"], 5);
    assert_eq!(created["variants"][1]["price"], "19.5");
    assert_eq!(created["variants"][1]["inventory_quantity"], 0);

    let fetched: Value = app
        .get(&format!("/v1/products/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fetched, created);

    let second = app
        .create_product(&product_body("Classic Tee", "TEE2", 1))
        .await;
    assert_eq!(
        second["handle"], "classic-tee-2",
        "derived handles never collide"
    );

    let response = app
        .patch(
            &format!("/v1/products/{id}"),
            &json!({ "title": "Classic Tee v2", "status": "draft", "tags": ["winter"] }),
        )
        .await;
    assert_eq!(response.status(), 200);
    let updated: Value = response.json().await.unwrap();
    assert_eq!(updated["title"], "Classic Tee v2");
    assert_eq!(updated["status"], "draft");
    assert_eq!(updated["tags"], json!(["winter"]));
    assert_eq!(
        updated["description"], "Soft cotton",
        "absent fields are left alone"
    );
    assert_eq!(updated["version"], 2);

    let (status, body) = problem(
        app.patch(
            &format!("/v1/products/{id}"),
            &json!({ "handle": "classic-tee-2" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 409, "{body}");

    assert_eq!(
        app.delete(&format!("/v1/products/{id}")).await.status(),
        204
    );
    assert_eq!(app.get(&format!("/v1/products/{id}")).await.status(), 404);
    assert_eq!(
        app.delete(&format!("/v1/products/{id}")).await.status(),
        404
    );
    // Its SKUs are free again.
    app.create_product(
        &json!({ "title": "Reborn", "variants": [{ "sku": "TEE-S-RED", "price": "1" }] }),
    )
    .await;
}

async fn list_paginates_filters_and_searches(app: TestApp) {
    for i in 0..7 {
        let mut body = product_body(&format!("Widget {i}"), &format!("W{i}"), 1);
        if i % 2 == 0 {
            body["vendor"] = json!("Globex");
            body["tags"] = json!(["even"]);
        }
        if i == 3 {
            body["status"] = json!("archived");
        }
        app.create_product(&body).await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/products?limit=3&cursor={c}"),
            None => "/v1/products?limit=3".to_string(),
        };
        let page: Value = app.get(&path).await.json().await.unwrap();
        for p in page["data"].as_array().unwrap() {
            seen.push(p["title"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let expected: Vec<String> = (0..7).map(|i| format!("Widget {i}")).collect();
    assert_eq!(
        seen, expected,
        "pages walk every product once, in creation order"
    );

    let titles = |v: Value| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["title"].as_str().unwrap().to_string())
            .collect()
    };
    let by_vendor = titles(
        app.get("/v1/products?vendor=Globex")
            .await
            .json()
            .await
            .unwrap(),
    );
    assert_eq!(by_vendor, ["Widget 0", "Widget 2", "Widget 4", "Widget 6"]);
    let by_tag = titles(
        app.get("/v1/products?tag=even&limit=2")
            .await
            .json()
            .await
            .unwrap(),
    );
    assert_eq!(by_tag, ["Widget 0", "Widget 2"]);
    let by_status = titles(
        app.get("/v1/products?status=archived")
            .await
            .json()
            .await
            .unwrap(),
    );
    assert_eq!(by_status, ["Widget 3"]);
    let by_sku = titles(app.get("/v1/products?q=w5-0").await.json().await.unwrap());
    assert_eq!(by_sku, ["Widget 5"]);
    let by_title = titles(
        app.get("/v1/products?q=WIDGET%206")
            .await
            .json()
            .await
            .unwrap(),
    );
    assert_eq!(by_title, ["Widget 6"]);
    let literal = titles(app.get("/v1/products?q=%25").await.json().await.unwrap());
    assert!(
        literal.is_empty(),
        "% is matched literally, not as a wildcard"
    );

    let (status, _) = problem(app.get("/v1/products?limit=0").await).await;
    assert_eq!(status, 400);
    let (status, _) = problem(app.get("/v1/products?cursor=garbage").await).await;
    assert_eq!(status, 400);
    let (status, _) = problem(app.get("/v1/products?status=sold").await).await;
    assert_eq!(status, 400);
}

async fn sku_is_unique_per_tenant(app: TestApp) {
    app.create_product(&product_body("A", "DUP", 1)).await;
    let (status, body) =
        problem(app.post("/v1/products", &product_body("B", "DUP", 1)).await).await;
    assert_eq!(status, 409);
    assert!(body["detail"].as_str().unwrap().contains("DUP-0"), "{body}");
    // The same SKU in another tenant is fine.
    let (_, other_key) = app.other_tenant().await;
    let response = app
        .request_as(&other_key, reqwest::Method::POST, "/v1/products")
        .json(&product_body("B", "DUP", 1))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
}

async fn inventory_set_and_adjust_write_history(app: TestApp) {
    let product = app.create_product(&product_body("Mug", "MUG", 1)).await;
    let variant = product["variants"][0]["id"].as_str().unwrap().to_string();
    let path = format!("/v1/variants/{variant}/inventory");

    let v: Value = app
        .put(&path, &json!({ "set": 40, "reason": "stock take" }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["inventory_quantity"], 40);
    let v: Value = app
        .put(&path, &json!({ "adjust": -15 }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["inventory_quantity"], 25);

    let (status, body) = problem(app.put(&path, &json!({ "adjust": -26 })).await).await;
    assert_eq!(status, 422, "stock never goes negative: {body}");
    let (status, _) = problem(app.put(&path, &json!({ "set": -1 })).await).await;
    assert_eq!(status, 422);
    let (status, _) = problem(app.put(&path, &json!({ "set": 1, "adjust": 1 })).await).await;
    assert_eq!(status, 422);
    let (status, _) = problem(
        app.put(
            &path,
            &json!({ "set": 1, "location_id": "loc_0192f5a0c3d87a1b9e2f4c6d8e0a1b2c" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422, "unknown location");

    let history: Vec<Value> = app.get(&path).await.json().await.unwrap();
    let deltas: Vec<i64> = history
        .iter()
        .map(|h| h["delta"].as_i64().unwrap())
        .collect();
    assert_eq!(
        deltas,
        [-15, 30, 10],
        "newest first: adjust, stock take, initial"
    );
    assert_eq!(history[1]["reason"], "stock take");
    assert_eq!(history[0]["available_after"], 25);
    assert!(
        history[0]["actor"]
            .as_str()
            .unwrap()
            .starts_with("api_key:key_")
    );

    let fetched: Value = app
        .get(&format!("/v1/products/{}", product["id"].as_str().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fetched["variants"][0]["inventory_quantity"], 25);
}

async fn bulk_upsert_creates_updates_and_reports(app: TestApp) {
    let existing = app.create_product(&product_body("Lamp", "LAMP", 2)).await;
    // Matches by SKU: updates price and stock, adds a variant.
    let lamp = json!({ "title": "Lamp", "vendor": "Acme", "tags": ["summer"], "options": ["Size"], "variants": [
        { "sku": "LAMP-0", "options": ["Size 0"], "price": "29.99", "inventory_quantity": 3 },
        { "sku": "LAMP-9", "options": ["Size 9"], "price": "39.99" }
    ]});
    let body = json!({ "products": [
        lamp,
        { "title": "Desk", "variants": [{ "sku": "DESK-1", "price": "120" }] },
        // Refused (a SKU repeated within the product); the others still apply.
        { "title": "Bad", "variants": [{ "sku": "X-1", "price": "1" }, { "sku": "X-1", "price": "1" }] },
        // The same again: nothing left to change.
        lamp,
    ]});
    let response = app.post("/v1/products/bulk", &body).await;
    assert_eq!(response.status(), 200);
    let outcome: Value = response.json().await.unwrap();
    assert_eq!(outcome["created"], 1, "{outcome}");
    assert_eq!(outcome["updated"], 1, "{outcome}");
    assert_eq!(outcome["failed"], 1, "{outcome}");
    assert_eq!(outcome["unchanged"], 1, "{outcome}");
    assert_eq!(outcome["errors"][0]["index"], 2);
    assert!(
        outcome["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("repeated")
    );
    assert_eq!(outcome["results"][0]["product_id"], existing["id"]);

    let lamp: Value = app
        .get(&format!(
            "/v1/products/{}",
            existing["id"].as_str().unwrap()
        ))
        .await
        .json()
        .await
        .unwrap();
    let variants = lamp["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 3);
    assert_eq!(variants[0]["price"], "29.99");
    assert_eq!(variants[0]["inventory_quantity"], 3);
    assert_eq!(
        variants[1]["inventory_quantity"], 10,
        "stock left alone when omitted"
    );
    assert_eq!(variants[2]["sku"], "LAMP-9");

    // Too many in one call.
    let many: Vec<Value> = (0..1001)
        .map(|i| product_body("P", &format!("M{i}"), 1))
        .collect();
    let (status, _) = problem(
        app.post("/v1/products/bulk", &json!({ "products": many }))
            .await,
    )
    .await;
    assert_eq!(status, 422);
    let (status, _) = problem(
        app.post("/v1/products/bulk", &json!({ "products": [] }))
            .await,
    )
    .await;
    assert_eq!(status, 422);
}

async fn variant_price_patch_is_exact(app: TestApp) {
    let product = app.create_product(&product_body("Pen", "PEN", 1)).await;
    let variant = product["variants"][0]["id"].as_str().unwrap();
    let response = app
        .patch(
            &format!("/v1/variants/{variant}"),
            &json!({ "price": "0.10", "sku": "PEN-NEW" }),
        )
        .await;
    assert_eq!(response.status(), 200);
    let v: Value = response.json().await.unwrap();
    assert_eq!(v["price"], "0.1");
    assert_eq!(v["sku"], "PEN-NEW");
    let fetched: Value = app
        .get(&format!("/v1/variants/{variant}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fetched["price"], "0.1");
    let p: Value = app
        .get(&format!("/v1/products/{}", product["id"].as_str().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        p["version"], 2,
        "a variant change bumps its product's version"
    );

    app.create_product(&product_body("Other", "OTHER", 1)).await;
    let (status, _) = problem(
        app.patch(
            &format!("/v1/variants/{variant}"),
            &json!({ "sku": "OTHER-0" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 409);
    let (status, _) = problem(
        app.patch(
            &format!("/v1/variants/{variant}"),
            &json!({ "compare_at_price": "0.05" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
}

async fn writes_are_audited_and_announced(app: TestApp) {
    let outbox_before = app.store.count_outbox(app.tenant).await.unwrap();
    let product = app.create_product(&product_body("Audited", "AUD", 1)).await;
    let id = product["id"].as_str().unwrap();
    let variant = product["variants"][0]["id"].as_str().unwrap();
    app.patch(
        &format!("/v1/products/{id}"),
        &json!({ "title": "Audited 2" }),
    )
    .await;
    app.put(
        &format!("/v1/variants/{variant}/inventory"),
        &json!({ "adjust": 1 }),
    )
    .await;
    app.delete(&format!("/v1/products/{id}")).await;
    let outbox_after = app.store.count_outbox(app.tenant).await.unwrap();
    assert_eq!(
        outbox_after - outbox_before,
        4,
        "one outbox event per change, in the same transaction"
    );

    let audit: Value = app.get("/v1/audit?limit=10").await.json().await.unwrap();
    let actions: Vec<&str> = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "product.delete",
            "inventory.change",
            "product.update",
            "product.create"
        ]
    );
    let update = &audit["data"][2];
    assert_eq!(update["before"]["title"], "Audited");
    assert_eq!(update["after"]["title"], "Audited 2");
    assert!(update["request_id"].as_str().unwrap().starts_with("req_"));
    assert!(update["actor"].as_str().unwrap().starts_with("api_key:"));
}
