//! Payload mapping against examples from WooCommerce's own reference
//! (github.com/woocommerce/woocommerce-rest-api-docs, `source/includes/wp-api-v3/`),
//! shortened where noted to the fields the adapter reads.

use rust_decimal::Decimal;
use serde_json::json;

use super::channel::{parse_event, ping_id};
use super::wire::{self, WcOrder, WcProduct, WcVariation, WeightUnit};
use super::*;
use shelfsync_core::quota::Limit;

fn push(options: &[&str], variants: &[(&str, &[&str], i64)]) -> ProductPush {
    ProductPush {
        key: "k".into(),
        external_id: None,
        handle: "ship-your-idea".into(),
        title: "Ship Your Idea".into(),
        description: Some("<p>Soft.</p>".into()),
        vendor: None,
        product_type: None,
        tags: vec![],
        status: PushStatus::Active,
        options: options.iter().map(|s| s.to_string()).collect(),
        images: vec!["https://cdn.example/a.jpg".into()],
        variants: variants
            .iter()
            .map(|(sku, values, price)| VariantPush {
                sku: sku.to_string(),
                external_id: None,
                option_values: values.iter().map(|s| s.to_string()).collect(),
                price: Decimal::new(*price, 2),
                compare_at_price: None,
                currency: "USD".into(),
                barcode: None,
                weight_grams: Some(Decimal::new(250, 0)),
                quantity: 7,
            })
            .collect(),
    }
}

#[test]
fn a_product_without_options_is_a_simple_product_with_its_stock() {
    let product = push(&[], &[("Bar3", &[], 2199)]);
    let body = wire::product_body(&product, None, WeightUnit::Kg);
    assert_eq!(body["type"], "simple");
    assert_eq!(body["sku"], "Bar3");
    assert_eq!(body["regular_price"], "21.99");
    assert_eq!(body["sale_price"], "");
    assert_eq!(body["manage_stock"], true);
    assert_eq!(body["stock_quantity"], 7);
    assert_eq!(body["weight"], "0.25");
    assert_eq!(body["status"], "publish");
    assert_eq!(
        body["images"],
        json!([{"src": "https://cdn.example/a.jpg"}])
    );
    assert!(body.get("id").is_none());
    // Updates carry the id and leave images alone (they would be re-downloaded).
    let update = wire::product_body(&product, Some(794), WeightUnit::Kg);
    assert_eq!(update["id"], 794);
    assert!(update.get("images").is_none());
}

#[test]
fn options_become_variation_attributes_like_the_docs_variable_example() {
    // Shape of "create a variable product" in _products.md: attributes with
    // name, position, visible, variation and options.
    let product = push(
        &["Color", "Size"],
        &[
            ("S-B", &["Black", "S"], 1000),
            ("M-B", &["Black", "M"], 1000),
            ("S-G", &["Green", "S"], 1200),
        ],
    );
    let body = wire::product_body(&product, None, WeightUnit::G);
    assert_eq!(body["type"], "variable");
    assert!(
        body.get("sku").is_none(),
        "the parent has no SKU of its own"
    );
    assert_eq!(
        body["attributes"],
        json!([
            {"name": "Color", "position": 0, "visible": true, "variation": true, "options": ["Black", "Green"]},
            {"name": "Size", "position": 1, "visible": true, "variation": true, "options": ["S", "M"]}
        ])
    );
    let mut variant = product.variants[2].clone();
    variant.compare_at_price = Some(Decimal::new(1500, 2));
    let variation = wire::variation_body(&product, &variant, Some(733), WeightUnit::G);
    assert_eq!(variation["id"], 733);
    assert_eq!(variation["regular_price"], "15.00");
    assert_eq!(variation["sale_price"], "12.00");
    assert_eq!(variation["weight"], "250");
    assert_eq!(
        variation["attributes"],
        json!([{"name": "Color", "option": "Green"}, {"name": "Size", "option": "S"}])
    );
}

#[test]
fn pushes_woocommerce_cannot_hold_are_refused_before_any_call() {
    let two_without_options = push(&[], &[("A", &[], 100), ("B", &[], 100)]);
    assert_eq!(
        wire::check(&two_without_options)[0].code,
        "OPTIONS_REQUIRED"
    );
    let short = push(&["Size", "Color"], &[("A", &["S"], 100)]);
    assert_eq!(wire::check(&short)[0].code, "OPTION_VALUES_MISMATCH");
    let mut foreign = push(&["Size"], &[("A", &["S"], 100)]);
    foreign.external_id = Some("gid://shopify/Product/1".into());
    assert_eq!(wire::check(&foreign)[0].code, "INVALID_EXTERNAL_ID");
    // No length limits of its own: a long title is fine.
    let mut long = push(&["Size"], &[("A", &["S"], 100)]);
    long.title = "T".repeat(1000);
    assert!(wire::check(&long).is_empty());
    assert!(wire::check(&push(&["Size"], &[("A", &["S"], 100)])).is_empty());
}

#[test]
fn weights_follow_the_store_unit() {
    let grams = Decimal::new(1000, 0);
    assert_eq!(WeightUnit::Kg.format(grams), "1");
    assert_eq!(WeightUnit::G.format(grams), "1000");
    assert_eq!(WeightUnit::Lbs.format(grams), "2.205");
    assert_eq!(WeightUnit::Oz.format(grams), "35.274");
    assert!(WeightUnit::from_setting(Some("stone")).is_err());
}

/// "List all products" response in _products.md, shortened to the fields read.
const PRODUCTS_LIST: &str = r#"[
  {"id": 799, "name": "Ship Your Idea", "slug": "ship-your-idea-22",
   "date_modified_gmt": "2017-03-23T20:03:12", "type": "variable", "status": "publish",
   "sku": "", "price": "", "regular_price": "", "manage_stock": false, "stock_quantity": null,
   "stock_status": "instock", "variations": [], "attributes": [
     {"id": 6, "name": "Color", "position": 0, "visible": false, "variation": true, "options": ["Black", "Green"]}]},
  {"id": 794, "name": "Premium Quality", "slug": "premium-quality-19",
   "date_modified_gmt": "2017-03-23T20:01:14", "type": "simple", "status": "publish",
   "sku": "", "price": "21.99", "regular_price": "21.99", "sale_price": "",
   "manage_stock": false, "stock_quantity": null, "variations": []}
]"#;

#[test]
fn the_docs_product_list_maps_to_listings() {
    let products: Vec<WcProduct> = serde_json::from_str(PRODUCTS_LIST).unwrap();
    let simple = products[1].listing(None);
    assert_eq!(simple.external_id, "794");
    assert_eq!(simple.title, "Premium Quality");
    assert_eq!(simple.status.as_deref(), Some("publish"));
    assert_eq!(simple.variants.len(), 1);
    assert_eq!(simple.variants[0].external_id, "794");
    assert_eq!(simple.variants[0].sku, None, "an empty SKU is no SKU");
    assert_eq!(simple.variants[0].price, Some(Decimal::new(2199, 2)));
    assert_eq!(simple.variants[0].quantity, None);
    assert_eq!(
        simple.updated_at.unwrap().to_rfc3339(),
        "2017-03-23T20:01:14+00:00"
    );
    let variable = products[0].listing(Some(&[]));
    assert!(products[0].is_variable());
    assert!(variable.variants.is_empty());
}

/// "Create a product variation" response in _product-variations.md, shortened.
/// The docs show `"status": true` there: an untrusted shape that must not fail.
const VARIATION: &str = r#"{"id": 732, "sku": "", "price": "9.00", "regular_price": "9.00",
  "sale_price": "", "status": true, "manage_stock": false, "stock_quantity": null,
  "attributes": [{"id": 6, "name": "Color", "option": "Black"}]}"#;

#[test]
fn the_docs_variation_parses_despite_its_boolean_status() {
    let variation: WcVariation = serde_json::from_str(VARIATION).unwrap();
    let variant = variation.variant();
    assert_eq!(variant.external_id, "732");
    assert_eq!(variant.price, Some(Decimal::new(900, 2)));
    // Numbers as strings and floats are accepted; an object id is refused.
    let loose: WcVariation =
        serde_json::from_value(json!({"id": "735", "stock_quantity": "12", "price": 10})).unwrap();
    assert_eq!((loose.id, loose.stock_quantity), (735, Some(12)));
    assert!(serde_json::from_value::<WcVariation>(json!({"id": {"x": 1}})).is_err());
}

#[test]
fn a_batch_answer_carries_per_item_errors() {
    // `update` of "Batch update products" in _products.md (shortened), plus a
    // refused item in the shape WC_REST_Controller::batch_items builds.
    let answer = json!({
        "create": [{"id": 0, "error": {"code": "product_invalid_sku",
            "message": "Invalid or duplicated SKU.", "data": {"status": 400}}}],
        "update": [{"id": 799, "name": "Ship Your Idea", "type": "variable", "variations": []}]
    });
    let answer: wire::BatchAnswer = serde_json::from_value(answer).unwrap();
    let refused = wire::batch_item::<WcProduct>(&answer.create[0])
        .unwrap()
        .unwrap_err();
    assert_eq!(refused.code, "product_invalid_sku");
    assert!(!refused.retryable);
    let saved = wire::batch_item::<WcProduct>(&answer.update[0])
        .unwrap()
        .unwrap();
    assert_eq!(saved.id, 799);
    let server =
        json!({"id": 5, "error": {"code": "db_error", "message": "x", "data": {"status": 500}}});
    assert!(
        wire::batch_item::<WcProduct>(&server)
            .unwrap()
            .unwrap_err()
            .retryable
    );
    assert!(wire::batch_item::<WcProduct>(&json!({"name": "no id"})).is_err());
}

/// "Update an Order" response in _orders.md, shortened to the fields read.
const ORDER: &str = r#"{"id": 727, "status": "completed",
  "date_created_gmt": "2017-03-22T19:28:02", "date_modified_gmt": "2017-03-22T19:30:35",
  "line_items": [
    {"id": 315, "name": "Woo Single #1", "product_id": 93, "variation_id": 0, "quantity": 2,
     "sku": "", "price": 3},
    {"id": 316, "name": "Ship Your Idea &ndash; Color: Black, Size: M Test", "product_id": 22,
     "variation_id": 23, "quantity": 1, "sku": "Bar3", "price": 12}
  ]}"#;

#[test]
fn the_docs_order_maps_to_stock_lines() {
    let order: WcOrder = serde_json::from_str(ORDER).unwrap();
    let order = order.order();
    assert_eq!(order.external_id, "727");
    assert_eq!(
        order.created_at.unwrap().to_rfc3339(),
        "2017-03-22T19:28:02+00:00"
    );
    assert_eq!(
        order.lines,
        vec![
            OrderLine {
                sku: None,
                external_variant_id: Some("93".into()),
                quantity: 2
            },
            OrderLine {
                sku: Some("Bar3".into()),
                external_variant_id: Some("23".into()),
                quantity: 1
            },
        ]
    );
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(
            ::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    map
}

fn adapter(webhook_secret: Option<&str>) -> WooCommerce {
    let deps = ChannelDeps::local();
    let config = ConnectionConfig {
        tenant: shelfsync_core::TenantId::new(),
        connection: shelfsync_core::ConnectionId::new(),
        platform: Platform::WooCommerce,
        account: "https://shop.example.com".into(),
        endpoints: endpoints("https://shop.example.com", None),
        settings: json!({}),
        secrets: crate::ConnectionSecrets {
            credentials: Credentials::ConsumerKey {
                key: "ck_test".to_owned().into(),
                secret: "cs_test".to_owned().into(),
            },
            webhook_secret: webhook_secret.map(|s| s.to_owned().into()),
        },
        app: None,
    };
    let http = deps.http(&config, QuotaModel::unlimited());
    WooCommerce {
        http,
        api: config.endpoints.api.clone(),
        key: "ck_test".to_owned().into(),
        secret: "cs_test".to_owned().into(),
        webhook_secret: webhook_secret.map(|s| s.to_owned().into()),
        quota: QuotaModel::unlimited(),
        page_size: 100,
        weight_unit: WeightUnit::Kg,
    }
}

#[test]
fn webhooks_verify_by_base64_hmac_and_a_tampered_body_fails() {
    let channel = adapter(Some("whsec"));
    let body = ORDER.as_bytes();
    let signature = crate::signature::hmac_sha256_base64(b"whsec", body);
    let good = headers(&[
        ("x-wc-webhook-signature", &signature),
        ("x-wc-webhook-topic", "order.created"),
        ("x-wc-webhook-resource", "order"),
        ("x-wc-webhook-event", "created"),
        ("x-wc-webhook-id", "142"),
        ("x-wc-webhook-delivery-id", "3f1c0a"),
    ]);
    let event = channel.verify_webhook(&good, body).unwrap();
    assert!(event.event_id.starts_with("3f1c0a:"));
    assert_eq!(event.topic, "order.created");
    match event.kind {
        WebhookKind::OrderCreated { order } => assert_eq!(order.lines.len(), 2),
        other => panic!("{other:?}"),
    }
    let mut tampered = body.to_vec();
    tampered[10] ^= 1;
    assert_eq!(
        channel.verify_webhook(&good, &tampered),
        Err(WebhookError::BadSignature)
    );
    let unsigned = headers(&[("x-wc-webhook-topic", "order.created")]);
    assert_eq!(
        channel.verify_webhook(&unsigned, body),
        Err(WebhookError::MissingHeader("X-WC-Webhook-Signature"))
    );
    assert_eq!(
        adapter(None).verify_webhook(&good, body),
        Err(WebhookError::NoSecret)
    );
}

#[test]
fn the_creation_ping_is_acknowledged_and_carries_nothing() {
    let channel = adapter(Some("whsec"));
    let event = channel
        .verify_webhook(&HeaderMap::new(), b"webhook_id=142")
        .unwrap();
    assert_eq!(event.kind, WebhookKind::Other);
    assert_eq!(event.event_id, "ping:142");
    assert_eq!(ping_id(b"webhook_id=x"), None);
}

#[test]
fn webhook_topics_map_to_events() {
    let deleted = parse_event("product.deleted", "d1", br#"{"id": 794}"#).unwrap();
    assert_eq!(
        deleted.kind,
        WebhookKind::ProductDeleted {
            external_id: "794".into()
        }
    );
    let cancelled = json!({"id": 9, "status": "cancelled", "line_items": []}).to_string();
    assert!(matches!(
        parse_event("order.updated", "d2", cancelled.as_bytes())
            .unwrap()
            .kind,
        WebhookKind::OrderCancelled { .. }
    ));
    // A full refund moves the order to `refunded`: a cancellation too.
    let refunded = json!({"id": 9, "status": "refunded", "line_items": []}).to_string();
    match parse_event("order.updated", "d5", refunded.as_bytes())
        .unwrap()
        .kind
    {
        WebhookKind::OrderCancelled { order } => assert!(order.cancelled),
        other => panic!("{other:?}"),
    }
    let paid = json!({"id": 9, "status": "processing", "line_items": []}).to_string();
    assert_eq!(
        parse_event("order.updated", "d3", paid.as_bytes())
            .unwrap()
            .kind,
        WebhookKind::Other
    );
    let product = json!({"id": 799, "name": "Ship", "type": "variable", "variations": [800, 801],
        "date_modified_gmt": "2017-03-23T20:03:12"})
    .to_string();
    let updated = parse_event("product.updated", "d4", product.as_bytes()).unwrap();
    assert_eq!(
        updated.occurred_at.unwrap().to_rfc3339(),
        "2017-03-23T20:03:12+00:00"
    );
    match updated.kind {
        WebhookKind::ProductUpdated { listing } => assert_eq!(listing.variants.len(), 2),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        parse_event("order.created", "d5", b"not json"),
        Err(WebhookError::Malformed(_))
    ));
    // Same delivery id, different bodies: different events; same body: same event.
    let a = parse_event("coupon.created", "same", b"{}").unwrap();
    let b = parse_event("coupon.created", "same", b"{ }").unwrap();
    assert_ne!(a.event_id, b.event_id);
    assert_eq!(
        a.event_id,
        parse_event("coupon.created", "same", b"{}")
            .unwrap()
            .event_id
    );
}

#[test]
fn the_store_url_is_the_account() {
    let e = endpoints("https://shop.example.com/", None);
    assert_eq!(e.api.as_str(), "https://shop.example.com/wp-json/wc/v3");
    assert_eq!(e.auth.as_str(), "https://shop.example.com/");
    let bare = endpoints("shop.example.com", None);
    assert_eq!(bare.api.as_str(), "https://shop.example.com/wp-json/wc/v3");
    let subdir = endpoints("https://example.com/shop", None);
    assert_eq!(
        subdir.api.as_str(),
        "https://example.com/shop/wp-json/wc/v3"
    );
    let base: Url = "http://127.0.0.1:9/woocommerce".parse().unwrap();
    let named = endpoints("store1", Some(&base));
    assert_eq!(
        named.api.as_str(),
        "http://127.0.0.1:9/woocommerce/store1/wp-json/wc/v3"
    );
    assert_eq!(
        oauth_endpoints(&e).authorize.as_str(),
        "https://shop.example.com/wc-auth/v1/authorize"
    );
}

#[test]
fn api_keys_never_travel_over_plain_http_off_loopback() {
    let ok = |s: &str| require_tls(&s.parse().unwrap()).is_ok();
    assert!(ok("https://shop.example.com/wp-json/wc/v3"));
    assert!(ok("http://127.0.0.1:8080/wp-json/wc/v3"));
    assert!(ok("http://localhost/wp-json/wc/v3"));
    assert!(ok("http://[::1]:80/wp-json/wc/v3"));
    assert!(!ok("http://shop.example.com/wp-json/wc/v3"));
    assert!(!ok("http://10.0.0.5/wp-json/wc/v3"));
}

#[test]
fn headroom_keeps_one_unit_of_burst_in_reserve() {
    let model = QuotaModel::unlimited()
        .with(
            shelfsync_core::quota::Scope::All,
            Limit::TokenBucket {
                rate_per_sec: 5.0,
                burst: 10.0,
            },
        )
        .with(
            shelfsync_core::quota::Scope::All,
            Limit::TokenBucket {
                rate_per_sec: 1.0,
                burst: 1.0,
            },
        );
    let paced = with_headroom(&model);
    assert_eq!(paced.limits[0].limit.capacity(), 9.0);
    assert_eq!(paced.limits[0].limit.refill_per_sec(), 5.0);
    assert_eq!(paced.limits[1].limit.capacity(), 1.0);
    assert_eq!(published_quota(), QuotaModel::unlimited());
}

#[test]
fn pages_follow_the_wordpress_headers() {
    let reply = |pairs: &[(&str, &str)]| Reply {
        status: ::http::StatusCode::OK,
        headers: headers(pairs),
        body: bytes::Bytes::new(),
    };
    assert_eq!(
        next_page(&reply(&[("x-wp-totalpages", "3")]), 2, 10, 10),
        Some(3)
    );
    assert_eq!(
        next_page(&reply(&[("x-wp-totalpages", "3")]), 3, 10, 10),
        None
    );
    let link = r#"<https://www.example.com/wp-json/wc/v3/products?page=2>; rel="next""#;
    assert_eq!(next_page(&reply(&[("link", link)]), 1, 3, 10), Some(2));
    assert_eq!(next_page(&reply(&[]), 1, 10, 10), Some(2));
    assert_eq!(next_page(&reply(&[]), 1, 9, 10), None);
    let throttled = Reply {
        status: ::http::StatusCode::TOO_MANY_REQUESTS,
        headers: headers(&[("ratelimit-retry-after", "3"), ("retry-after", "4")]),
        body: bytes::Bytes::new(),
    };
    let report = inspect(&throttled);
    assert!(report.throttled);
    assert_eq!(report.retry_after_secs, Some(3.0));
    assert_eq!(
        inspect(&reply(&[("ratelimit-remaining", "4")])).available,
        Some(4.0)
    );
}

#[test]
fn wordpress_errors_become_readable_rejections() {
    let reply = Reply {
        status: ::http::StatusCode::NOT_FOUND,
        headers: HeaderMap::new(),
        // The "WooCommerce REST API error example" in _introduction.md.
        body: bytes::Bytes::from_static(
            br#"{"code": "woocommerce_rest_term_invalid", "message": "Resource doesn't exist.", "data": {"status": 404}}"#,
        ),
    };
    assert_eq!(
        success(reply).unwrap_err(),
        ChannelError::Rejected {
            status: 404,
            message: "woocommerce_rest_term_invalid: Resource doesn't exist.".into()
        }
    );
}
