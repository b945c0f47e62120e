//! Payload mapping against the shapes Medusa 2.21's Admin API takes and
//! answers (its route validators, and answers recorded from a real server,
//! shortened to the fields the adapter reads).

use rust_decimal::Decimal;
use serde_json::json;

use super::plan;
use super::wire;
use super::*;

fn push(options: &[&str], variants: &[(&str, &[&str], i64)]) -> ProductPush {
    ProductPush {
        key: "k".into(),
        external_id: None,
        handle: "tee".into(),
        title: "Tee".into(),
        description: Some("Soft.".into()),
        vendor: Some("Acme".into()),
        product_type: None,
        tags: vec!["summer".into()],
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
fn a_new_product_carries_options_variants_prices_in_major_units_and_its_channel() {
    let product = push(
        &["Size", "Color"],
        &[
            ("S-B", &["S", "Black"], 1999),
            ("M-B", &["M", "Black"], 2150),
            ("S-G", &["S", "Green"], 2000),
        ],
    );
    let body = wire::create_body(&product, "sc_1");
    assert_eq!(body["title"], "Tee");
    assert_eq!(body["handle"], "tee");
    assert_eq!(body["status"], "published");
    assert_eq!(body["sales_channels"], json!([{"id": "sc_1"}]));
    assert_eq!(
        body["images"],
        json!([{"url": "https://cdn.example/a.jpg"}])
    );
    assert_eq!(
        body["options"],
        json!([
            {"title": "Size", "values": ["S", "M"]},
            {"title": "Color", "values": ["Black", "Green"]}
        ])
    );
    let first = &body["variants"][0];
    assert_eq!(first["sku"], "S-B");
    assert_eq!(first["title"], "S / Black");
    assert_eq!(first["manage_inventory"], true);
    assert_eq!(first["options"], json!({"Size": "S", "Color": "Black"}));
    assert_eq!(first["weight"], json!(250));
    // 19.99 exactly, as a JSON number, and 21.5 without trailing zeros.
    assert_eq!(first["prices"][0]["amount"].to_string(), "19.99");
    assert_eq!(first["prices"][0]["currency_code"], "usd");
    assert_eq!(
        body["variants"][1]["prices"][0]["amount"].to_string(),
        "21.5"
    );
    // Medusa takes tags by id only and has no vendor.
    assert!(body.get("tags").is_none());
    assert!(body.get("vendor").is_none());
}

#[test]
fn a_product_without_options_gets_medusas_default_option() {
    let product = push(&[], &[("PLAIN", &[], 300)]);
    let body = wire::create_body(&product, "sc_1");
    assert_eq!(
        body["options"],
        json!([{"title": wire::DEFAULT_OPTION, "values": [wire::DEFAULT_OPTION_VALUE]}])
    );
    assert_eq!(
        body["variants"][0]["options"],
        json!({ (wire::DEFAULT_OPTION): wire::DEFAULT_OPTION_VALUE })
    );
    assert_eq!(body["variants"][0]["title"], "Tee");
}

#[test]
fn an_update_sends_every_variant_with_its_id_and_no_options() {
    let product = push(&["Size"], &[("S", &["S"], 1000), ("M", &["M"], 1100)]);
    let ids = vec![Some("variant_1".to_owned()), None];
    let body = wire::update_body(&product, "prod_1", &ids);
    assert_eq!(body["id"], "prod_1");
    assert!(body.get("options").is_none(), "refused since Medusa 2.16");
    assert!(body.get("images").is_none());
    assert!(body.get("sales_channels").is_none());
    assert_eq!(body["variants"][0]["id"], "variant_1");
    assert!(body["variants"][0].get("manage_inventory").is_none());
    assert!(body["variants"][1].get("id").is_none());
    assert_eq!(body["variants"][1]["manage_inventory"], true);
    assert_eq!(body["status"], "published");
    let mut archived = product.clone();
    archived.status = PushStatus::Archived;
    assert_eq!(
        wire::update_body(&archived, "prod_1", &ids)["status"],
        "draft"
    );
}

#[test]
fn pushes_medusa_cannot_hold_are_refused_before_any_call() {
    let two_without_options = push(&[], &[("A", &[], 100), ("B", &[], 100)]);
    assert_eq!(
        wire::check(&two_without_options)[0].code,
        "OPTIONS_REQUIRED"
    );
    let mut foreign = push(&["Size"], &[("A", &["S"], 100)]);
    foreign.external_id = Some("794".into());
    assert_eq!(wire::check(&foreign)[0].code, "INVALID_EXTERNAL_ID");
    foreign.external_id = Some("prod_01ABC".into());
    assert!(wire::check(&foreign).is_empty());
}

#[test]
fn answers_are_read_with_exact_prices_and_what_can_be_sold_at_our_location() {
    // A product as GET /admin/products answers it with the adapter's fields.
    let answer = json!({
        "id": "prod_1", "handle": "tee", "title": "Tee", "status": "published",
        "updated_at": "2026-11-30T00:55:09.988Z",
        "variants": [{
            "id": "variant_1", "sku": "TEE-S",
            "prices": [
                {"amount": 19.99, "currency_code": "usd"},
                {"amount": 18.5, "currency_code": "eur"}
            ],
            "inventory_items": [{
                "inventory_item_id": "iitem_1",
                "inventory": {"id": "iitem_1", "location_levels": [
                    {"location_id": "sloc_other", "stocked_quantity": 100, "reserved_quantity": 0},
                    {"location_id": "sloc_1", "stocked_quantity": 5, "reserved_quantity": 2}
                ]}
            }]
        }, {
            "id": "variant_2", "sku": "TEE-M", "prices": [{"amount": 21, "currency_code": "usd"}],
            "inventory_items": [{"inventory_item_id": "iitem_2",
                "inventory": {"id": "iitem_2", "location_levels": []}}]
        }]
    });
    let product: wire::Product = serde_json::from_value(answer).unwrap();
    let listing = product.listing(Some("usd"), "sloc_1");
    assert_eq!(listing.external_id, "prod_1");
    assert_eq!(listing.status.as_deref(), Some("published"));
    assert!(listing.updated_at.is_some());
    assert_eq!(listing.variants[0].price, Some(Decimal::new(1999, 2)));
    assert_eq!(
        listing.variants[0].quantity,
        Some(3),
        "stocked less reserved"
    );
    assert_eq!(listing.variants[1].price, Some(Decimal::new(21, 0)));
    assert_eq!(listing.variants[1].quantity, Some(0), "not stocked here");
    // Several prices and no currency setting: no price can be chosen.
    assert_eq!(product.listing(None, "sloc_1").variants[0].price, None);
    assert!(serde_json::from_value::<wire::Product>(json!({"title": "no id"})).is_err());
}

#[test]
fn orders_without_stock_are_left_out_and_lines_keep_sku_and_variant() {
    let list: wire::OrderList = serde_json::from_value(json!({
        "orders": [
            {"id": "order_1", "status": "pending", "created_at": "2026-11-30T00:55:48.192Z",
             "items": [{"variant_id": "variant_1", "variant_sku": "TEE-S", "quantity": 2}]},
            {"id": "order_2", "status": "canceled", "items": []},
            {"id": "order_3", "status": "draft", "items": []}
        ],
        "count": 3
    }))
    .unwrap();
    let kept: Vec<_> = list
        .orders
        .iter()
        .filter(|o| o.is_placed())
        .map(wire::Order::order)
        .collect();
    assert_eq!(kept.len(), 2, "drafts are left out, cancellations kept");
    assert!(!kept[0].cancelled);
    assert!(kept[1].cancelled, "status canceled");
    assert_eq!(kept[0].lines[0].sku.as_deref(), Some("TEE-S"));
    assert_eq!(
        kept[0].lines[0].external_variant_id.as_deref(),
        Some("variant_1")
    );
    assert_eq!(kept[0].lines[0].quantity, 2);
}

#[test]
fn lookups_and_stock_rounds_are_split_as_planned() {
    let products: Vec<ProductPush> = (0..(PRODUCT_BATCH + 1))
        .map(|n| {
            let mut p = push(&["Size"], &[("A", &["S"], 100), ("B", &["M"], 100)]);
            for v in &mut p.variants {
                v.sku = format!("{n}-{}", v.sku);
            }
            p
        })
        .collect();
    let chunks = plan::product_chunks(&products, &mut vec![None; products.len()]);
    assert_eq!(chunks.len(), 2);
    // 50 products of two new variants: 100 SKUs, one lookup.
    assert_eq!(plan::sku_lookups(&products, &chunks[0]).len(), 1);
    let mut known = products[0].clone();
    known.external_id = Some("prod_1".into());
    for v in &mut known.variants {
        v.external_id = Some("variant_x".into());
    }
    assert!(plan::sku_lookups(std::slice::from_ref(&known), &[0]).is_empty());

    let level = |sku: &str, item: Option<&str>| InventoryPush {
        sku: sku.into(),
        external_product_id: None,
        external_variant_id: None,
        inventory_ref: item.map(str::to_owned),
        quantity: 1,
    };
    let mut levels: Vec<_> = (0..INVENTORY_BATCH)
        .map(|n| level(&format!("S{n}"), Some("iitem_1")))
        .collect();
    levels.push(level("NEW", None));
    levels.push(level("OTHER", Some("42")));
    let rounds = plan::stock_rounds(&levels);
    assert_eq!(rounds.len(), 2);
    assert_eq!(rounds[0].len(), 1);
    assert_eq!(rounds[0][0].key, "id[]");
    assert_eq!(rounds[1].len(), 1, "a foreign ref is read by SKU");
    assert_eq!(rounds[1][0].key, "sku[]");
    assert_eq!(rounds[1][0].values, vec!["NEW", "OTHER"]);
}

#[test]
fn the_key_is_refused_unless_it_is_a_secret_key_and_never_shown() {
    use crate::{ConnectionSecrets, OAuthTokens};
    use shelfsync_core::{ConnectionId, TenantId};
    let config = |token: &str| ConnectionConfig {
        tenant: TenantId::new(),
        connection: ConnectionId::new(),
        platform: Platform::Medusa,
        account: "http://127.0.0.1:9000".into(),
        endpoints: endpoints("http://127.0.0.1:9000", None),
        settings: json!({"stock_location_id": "sloc_1", "sales_channel_id": "sc_1"}),
        secrets: ConnectionSecrets {
            credentials: Credentials::OAuth(OAuthTokens {
                access_token: token.to_owned().into(),
                refresh_token: None,
                expires_at: None,
                scope: None,
            }),
            webhook_secret: None,
        },
        app: None,
    };
    let deps = ChannelDeps::local();
    let error = connect(config("pk_publishable_value"), &deps)
        .err()
        .unwrap();
    assert!(!error.to_string().contains("pk_publishable_value"));
    let channel = connect(config("sk_secret_value"), &deps).unwrap();
    assert_eq!(channel.platform(), Platform::Medusa);
    // Both settings given: nothing to discover, so the plan has no lookup.
    let plan = channel.plan_upsert(&[push(&["Size"], &[("A", &["S"], 100)])]);
    assert_eq!(plan.calls, 3, "{plan:?}");
    assert!(channel.verify_webhook(&HeaderMap::new(), b"{}").is_err());
    assert_eq!(
        endpoints("https://shop.example.com", None).api.as_str(),
        "https://shop.example.com/"
    );
}

use ::http::HeaderMap;
use shelfsync_core::Platform;
