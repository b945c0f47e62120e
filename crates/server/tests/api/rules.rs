//! `/v1/rules`: saving rules, refusing bad ones with field paths, keeping them
//! per tenant, and previewing what they do to a product on one connection.

use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::support::{TestApp, problem};

backend_tests!(
    rules_round_trip_through_crud,
    bad_rules_are_refused_with_the_field,
    another_tenants_rules_are_not_found,
    preview_explains_markup_then_ending,
);

fn markup_rule() -> Value {
    json!({
        "name": "eBay +12%",
        "priority": 10,
        "platform": "ebay",
        "condition": { "all": [{ "tag": "summer" }, { "sku": "TEE-*" }] },
        "actions": [{ "type": "price_adjust", "kind": "percent", "value": "12" }]
    })
}

async fn json_of(response: reqwest::Response, status: u16) -> Value {
    let got = response.status().as_u16();
    let body = response.text().await.unwrap();
    assert_eq!(got, status, "unexpected status: {body}");
    serde_json::from_str(&body).unwrap()
}

async fn rules_round_trip_through_crud(app: TestApp) {
    let created = json_of(app.post("/v1/rules", &markup_rule()).await, 201).await;
    let id = created["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("rule_"));
    assert_eq!(created["name"], "eBay +12%");
    assert_eq!(created["enabled"], true);
    assert_eq!(created["platform"], "ebay");
    assert_eq!(created["connection_id"], Value::Null);
    assert_eq!(created["actions"][0]["value"], "12");
    assert!(created["created_at"].is_string());

    let fetched = json_of(app.get(&format!("/v1/rules/{id}")).await, 200).await;
    assert_eq!(fetched, created);

    // A second rule that runs first, scoped to a connection of this tenant.
    let conn = app
        .store
        .insert_connection(app.tenant, "ebay", "eBay UK")
        .await
        .unwrap();
    let first = json_of(
        app.post(
            "/v1/rules",
            &json!({ "name": "buffer", "priority": 1, "connection_id": conn.to_string(),
                     "actions": [{ "type": "stock_buffer", "keep": 2 }] }),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(first["condition"], json!({ "always": true }));
    let listed = json_of(app.get("/v1/rules").await, 200).await;
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["buffer", "eBay +12%"]);

    // PUT replaces the whole rule.
    let replaced = json_of(
        app.put(
            &format!("/v1/rules/{id}"),
            &json!({ "name": "eBay .99", "enabled": false,
                     "actions": [{ "type": "price_ending", "ending": 0.99 }] }),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(replaced["id"], created["id"]);
    assert_eq!(replaced["name"], "eBay .99");
    assert_eq!(replaced["priority"], 100);
    assert_eq!(replaced["platform"], Value::Null);
    assert_eq!(replaced["enabled"], false);
    assert_eq!(
        replaced["actions"],
        json!([{ "type": "price_ending", "ending": "0.99" }])
    );
    assert_eq!(replaced["created_at"], created["created_at"]);

    // Only enabled rules in scope reach the sync worker.
    let for_sync = app
        .store
        .rules_for(app.tenant, conn, shelfsync_core::Platform::Ebay)
        .await
        .unwrap();
    assert_eq!(for_sync.len(), 1);
    assert_eq!(for_sync[0].name, "buffer");

    let deleted = app.delete(&format!("/v1/rules/{id}")).await;
    assert_eq!(deleted.status(), 204);
    let (status, _) = problem(app.get(&format!("/v1/rules/{id}")).await).await;
    assert_eq!(status, 404);
    let (status, _) = problem(app.delete(&format!("/v1/rules/{id}")).await).await;
    assert_eq!(status, 404);

    // The API document describes the routes and the rule language.
    let spec = json_of(app.get("/openapi.json").await, 200).await;
    for path in ["/v1/rules", "/v1/rules/{id}", "/v1/rules/preview"] {
        assert!(
            spec["paths"][path].is_object(),
            "{path} missing from the spec"
        );
    }
    for schema in [
        "Condition",
        "Action",
        "RuleInput",
        "RuleRecord",
        "PreviewResponse",
    ] {
        assert!(
            spec["components"]["schemas"][schema].is_object(),
            "{schema} missing from the spec"
        );
    }

    // Every write is in the audit trail.
    let audit = json_of(app.get("/v1/audit?limit=500").await, 200).await;
    let text = audit.to_string();
    for action in ["rule.create", "rule.update", "rule.delete"] {
        assert!(text.contains(action), "{action} missing from {text}");
    }
}

/// The field paths of a 422 answer.
async fn refused(app: &TestApp, body: &Value) -> Vec<String> {
    let (status, problem) = problem(app.post("/v1/rules", body).await).await;
    assert_eq!(status, 422, "{problem}");
    problem["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no field errors in {problem}"))
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_string())
        .collect()
}

async fn bad_rules_are_refused_with_the_field(app: TestApp) {
    let mut rule = markup_rule();
    rule["actions"][0]["value"] = json!(5000);
    assert_eq!(refused(&app, &rule).await, ["actions[0].value"]);

    let rule = json!({ "name": "t", "actions": [
        { "type": "exclude" },
        { "type": "title_template", "template": "{title} {colour}" }
    ] });
    assert_eq!(refused(&app, &rule).await, ["actions[1].template"]);

    let rule = json!({ "name": "x", "actions": [{ "type": "exclude" }], "prority": 1 });
    let (status, body) = problem(app.post("/v1/rules", &rule).await).await;
    assert_eq!(status, 422);
    assert!(body.to_string().contains("prority"), "{body}");

    let rule = json!({ "name": "x", "actions": [{ "type": "stock_cap", "max": 1, "min": 0 }] });
    let fields = refused(&app, &rule).await;
    assert!(fields[0].starts_with("actions[0]"), "{fields:?}");

    let rule = json!({ "name": "", "condition": { "any": [{ "sku": "" }] }, "actions": [] });
    assert_eq!(
        refused(&app, &rule).await,
        ["name", "condition.any[0].sku", "actions"]
    );

    // A connection of another tenant is unknown here.
    let (other, _) = app.other_tenant().await;
    let foreign = app
        .store
        .insert_connection(other, "ebay", "Theirs")
        .await
        .unwrap();
    let rule = json!({ "name": "x", "connection_id": foreign.to_string(), "actions": [{ "type": "exclude" }] });
    let (status, body) = problem(app.post("/v1/rules", &rule).await).await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["field"], "connection_id");
    assert_eq!(body["errors"][0]["message"], "unknown connection");

    // Nothing was saved.
    let listed = json_of(app.get("/v1/rules").await, 200).await;
    assert_eq!(listed, json!([]));
}

async fn another_tenants_rules_are_not_found(app: TestApp) {
    let created = json_of(app.post("/v1/rules", &markup_rule()).await, 201).await;
    let id = created["id"].as_str().unwrap();
    let (_, intruder) = app.other_tenant().await;
    let path = format!("/v1/rules/{id}");
    for (method, body) in [
        (Method::GET, None),
        (Method::PUT, Some(markup_rule())),
        (Method::DELETE, None),
    ] {
        let mut request = app.request_as(&intruder, method.clone(), &path);
        if let Some(body) = &body {
            request = request.json(body);
        }
        let (status, _) = problem(request.send().await.unwrap()).await;
        assert_eq!(status, 404, "{method} {path}");
    }
    let theirs: Value = app
        .request_as(&intruder, Method::GET, "/v1/rules")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(theirs, json!([]));
    // Untouched for its owner.
    let fetched = json_of(app.get(&path).await, 200).await;
    assert_eq!(fetched, created);
}

async fn preview_explains_markup_then_ending(app: TestApp) {
    let product = app
        .create_product(&json!({
            "title": "Tee", "vendor": "Acme", "tags": ["summer"], "options": ["Size"],
            "variants": [
                { "sku": "TEE-M", "options": ["M"], "price": "10.00", "inventory_quantity": 5 },
                { "sku": "TEE-XL", "options": ["XL"], "price": "12.00", "inventory_quantity": 0 }
            ]
        }))
        .await;
    let product_id = product["id"].as_str().unwrap();
    let conn = app
        .store
        .insert_connection(app.tenant, "ebay", "eBay")
        .await
        .unwrap()
        .to_string();
    json_of(app.post("/v1/rules", &markup_rule()).await, 201).await;
    json_of(
        app.post(
            "/v1/rules",
            &json!({ "name": ".99", "priority": 20,
                     "actions": [{ "type": "price_ending", "ending": "0.99" }] }),
        )
        .await,
        201,
    )
    .await;
    json_of(
        app.post(
            "/v1/rules",
            &json!({ "name": "no stock, no listing", "priority": 30,
                     "condition": { "stock": { "op": "lte", "value": 0 } },
                     "actions": [{ "type": "exclude" }] }),
        )
        .await,
        201,
    )
    .await;
    // Scoped to Etsy: not applied to an eBay connection.
    json_of(
        app.post(
            "/v1/rules",
            &json!({ "name": "etsy", "platform": "etsy",
                     "actions": [{ "type": "price_adjust", "kind": "amount", "value": "100" }] }),
        )
        .await,
        201,
    )
    .await;

    let body = json!({ "product_id": product_id, "connection_id": conn });
    let out = json_of(app.post("/v1/rules/preview", &body).await, 200).await;
    assert_eq!(
        out["messages"],
        json!([
            "rule 'eBay +12%' changed price of TEE-M 10.00 -> 11.20",
            "rule 'eBay +12%' changed price of TEE-XL 12.00 -> 13.44",
            "rule '.99' changed price of TEE-M 11.20 -> 11.99",
            "rule '.99' changed price of TEE-XL 13.44 -> 13.99",
            "rule 'no stock, no listing' excluded TEE-XL",
        ])
    );
    assert_eq!(out["excluded"], false);
    assert_eq!(
        out["excluded_variants"],
        json!([product["variants"][1]["id"]])
    );
    let variants = out["product"]["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 1);
    assert_eq!(variants[0]["sku"], "TEE-M");
    assert_eq!(variants[0]["price"], "11.99");
    let first = &out["applied"][0]["changes"][0];
    assert_eq!(
        (&first["field"], &first["sku"], &first["from"], &first["to"]),
        (
            &json!("price"),
            &json!("TEE-M"),
            &json!("10.00"),
            &json!("11.20")
        )
    );

    // Unsaved rules replace the saved ones for a try-out.
    let body = json!({ "product_id": product_id, "connection_id": conn, "rules": [
        { "name": "half stock", "actions": [{ "type": "stock_percent", "percent": 50 }] },
        { "name": "everything", "priority": 200, "actions": [{ "type": "exclude" }] }
    ] });
    let out = json_of(app.post("/v1/rules/preview", &body).await, 200).await;
    assert_eq!(
        out["messages"],
        json!([
            "rule 'half stock' changed quantity of TEE-M 5 -> 2",
            "rule 'everything' excluded TEE-M",
            "rule 'everything' excluded TEE-XL",
        ])
    );
    assert_eq!(out["excluded"], true);
    assert_eq!(out["product"]["variants"], json!([]));

    // Bad unsaved rules are 422 with their index.
    let body = json!({ "product_id": product_id, "connection_id": conn, "rules": [
        { "name": "ok", "actions": [{ "type": "exclude" }] },
        { "name": "bad", "actions": [{ "type": "stock_percent", "percent": 150 }] }
    ] });
    let (status, problem_body) = problem(app.post("/v1/rules/preview", &body).await).await;
    assert_eq!(status, 422);
    assert_eq!(
        problem_body["errors"][0]["field"],
        "rules[1].actions[0].percent"
    );

    // Another tenant's connection or product is not found.
    let (other, _) = app.other_tenant().await;
    let foreign = app
        .store
        .insert_connection(other, "ebay", "Theirs")
        .await
        .unwrap()
        .to_string();
    let body = json!({ "product_id": product_id, "connection_id": foreign });
    let (status, _) = problem(app.post("/v1/rules/preview", &body).await).await;
    assert_eq!(status, 404);
    let missing = shelfsync_core::ProductId::new().to_string();
    let body = json!({ "product_id": missing, "connection_id": conn });
    let (status, _) = problem(app.post("/v1/rules/preview", &body).await).await;
    assert_eq!(status, 404);
}
