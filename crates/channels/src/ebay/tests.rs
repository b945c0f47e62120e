//! Payload mapping, checked against the shapes of the examples on eBay's
//! reference pages (each cited beside its example; values are eBay's where
//! the page gives them, trimmed to the fields the adapter reads or writes).

use rust_decimal::Decimal;
use serde_json::json;

use super::wire::{self, ItemStatus, Responses};
use super::*;
use crate::{PushStatus, VariantPush};

fn settings() -> Settings {
    Settings::from_json(&json!({
        "category_id": "30120",
        "merchant_location_key": "WH-1",
        "fulfillment_policy_id": "3*****0",
        "payment_policy_id": "3*****1",
        "return_policy_id": "3*****2",
    }))
    .unwrap()
}

fn variant(sku: &str, size: &str, price: i64) -> VariantPush {
    VariantPush {
        sku: sku.into(),
        external_id: None,
        option_values: vec![size.into()],
        price: Decimal::new(price, 2),
        compare_at_price: None,
        currency: "USD".into(),
        barcode: None,
        weight_grams: Some(Decimal::new(200, 0)),
        quantity: 50,
    }
}

fn product(variants: Vec<VariantPush>) -> ProductPush {
    ProductPush {
        key: "prod-1".into(),
        external_id: None,
        handle: "gopro-hero4".into(),
        title: "GoPro Hero4 Helmet Cam".into(),
        description: Some("New GoPro Hero4 Helmet Cam. Unopened box.".into()),
        vendor: Some("GoPro".into()),
        product_type: None,
        tags: vec![],
        status: PushStatus::Active,
        options: vec!["Size".into()],
        images: vec!["https://i.ebayimg.com/images/i/182196556219-0-1/s-l1000.jpg".into()],
        variants,
    }
}

#[test]
fn settings_default_to_the_us_marketplace_and_derive_the_language() {
    let s = Settings::from_json(&json!({"locale": "de_DE"})).unwrap();
    assert_eq!(s.marketplace_id, "EBAY_US");
    assert_eq!(s.content_language, "de-DE");
    assert_eq!(s.condition, "NEW");
    assert_eq!(s.page_size, 25);
    assert!(Settings::from_json(&json!({"page_size": 500})).is_err());
    assert!(Settings::from_json(&json!({"category_id": ["x"]})).is_err());
}

#[test]
fn endpoints_are_ebays_hosts_or_the_same_paths_under_a_base() {
    let real = endpoints("seller", None);
    let oauth = oauth_endpoints(&real);
    assert_eq!(
        oauth.authorize.as_str(),
        "https://auth.ebay.com/oauth2/authorize"
    );
    assert_eq!(
        oauth.token.as_str(),
        "https://api.ebay.com/identity/v1/oauth2/token"
    );
    assert_eq!(oauth.client_auth, ClientAuth::Basic);
    assert!(!oauth.pkce);
    assert_eq!(
        oauth.scopes,
        [
            "https://api.ebay.com/oauth/api_scope/sell.inventory",
            "https://api.ebay.com/oauth/api_scope/sell.fulfillment"
        ]
    );
    let base: Url = "http://127.0.0.1:9/ebay".parse().unwrap();
    let sim = oauth_endpoints(&endpoints("seller", Some(&base)));
    assert_eq!(
        sim.authorize.as_str(),
        "http://127.0.0.1:9/ebay/oauth2/authorize"
    );
    assert_eq!(
        sim.token.as_str(),
        "http://127.0.0.1:9/ebay/identity/v1/oauth2/token"
    );
}

#[test]
fn the_published_quota_is_ebays_daily_call_limits() {
    let model = quota::published();
    assert_eq!(model.limits.len(), 2);
    assert_eq!(
        model.applicable(quota::INVENTORY).next().unwrap().1.limit,
        Limit::DailyCap { calls: 2_000_000.0 }
    );
    assert_eq!(
        model.applicable(quota::FULFILLMENT).next().unwrap().1.limit,
        Limit::DailyCap { calls: 100_000.0 }
    );
}

/// The request shape of the "Create/replace inventory items" sample on
/// <https://developer.ebay.com/api-docs/sell/inventory/resources/inventory_item/methods/bulkCreateOrReplaceInventoryItem>.
#[test]
fn a_variant_becomes_an_inventory_item() {
    let p = product(vec![variant("GP-Cam-01", "M", 28999)]);
    let item = wire::inventory_item(&p, &p.variants[0], &settings());
    let body = serde_json::to_value(wire::Requests {
        requests: vec![item],
    })
    .unwrap();
    assert_eq!(
        body,
        json!({"requests": [{
            "sku": "GP-Cam-01",
            "locale": "en_US",
            "product": {
                "title": "GoPro Hero4 Helmet Cam",
                "description": "New GoPro Hero4 Helmet Cam. Unopened box.",
                "aspects": {"Brand": ["GoPro"], "Size": ["M"]},
                "brand": "GoPro",
                "imageUrls": ["https://i.ebayimg.com/images/i/182196556219-0-1/s-l1000.jpg"]
            },
            "condition": "NEW",
            "availability": {"shipToLocationAvailability": {"quantity": 50}},
            "packageWeightAndSize": {"weight": {"value": 200.0, "unit": "GRAM"}}
        }]})
    );
    let mut long = p.clone();
    long.title = "x".repeat(120);
    let item = wire::inventory_item(&long, &long.variants[0], &settings());
    assert_eq!(item.product.title.chars().count(), 80, "eBay's title limit");
}

/// The group shape of the sample on
/// <https://developer.ebay.com/api-docs/sell/inventory/resources/inventory_item_group/methods/createOrReplaceInventoryItemGroup>.
#[test]
fn a_multi_variant_product_becomes_a_group_varying_by_its_options() {
    let p = product(vec![
        variant("V-00031-WHM", "M", 1999),
        variant("V-00031-WHL", "L", 1999),
        variant("V-00031-BLKM", "M", 1999),
    ]);
    let group = serde_json::to_value(wire::inventory_group(&p)).unwrap();
    assert_eq!(
        group["variantSKUs"],
        json!(["V-00031-WHM", "V-00031-WHL", "V-00031-BLKM"])
    );
    assert_eq!(
        group["variesBy"],
        json!({"aspectsImageVariesBy": ["Size"], "specifications": [{"name": "Size", "values": ["M", "L"]}]})
    );
    assert_eq!(group["aspects"], json!({"Brand": ["GoPro"]}));
    assert_eq!(wire::group_key(&p), "prod-1");
    let mut odd = p.clone();
    odd.key = "key with spaces/and slashes".into();
    let key = wire::group_key(&odd);
    assert!(key.len() <= 50 && key.chars().all(|c| c.is_ascii_alphanumeric()));
    odd.external_id = Some("GROUP-7".into());
    assert_eq!(wire::group_key(&odd), "GROUP-7");
}

/// `EbayOfferDetailsWithKeys` as in the bulkCreateOffer sample on
/// <https://developer.ebay.com/api-docs/sell/inventory/resources/offer/methods/bulkCreateOffer>.
#[test]
fn a_variant_becomes_a_fixed_price_offer() {
    let mut v = variant("GP-Cam-01", "M", 27299);
    v.compare_at_price = Some(Decimal::new(29999, 2));
    let p = product(vec![v]);
    let offer = serde_json::to_value(wire::offer(&p, &p.variants[0], &settings(), true)).unwrap();
    assert_eq!(
        offer,
        json!({
            "sku": "GP-Cam-01",
            "marketplaceId": "EBAY_US",
            "format": "FIXED_PRICE",
            "availableQuantity": 50,
            "pricingSummary": {
                "price": {"value": "272.99", "currency": "USD"},
                "originalRetailPrice": {"value": "299.99", "currency": "USD"}
            },
            "categoryId": "30120",
            "merchantLocationKey": "WH-1",
            "listingDescription": "New GoPro Hero4 Helmet Cam. Unopened box.",
            "listingPolicies": {
                "fulfillmentPolicyId": "3*****0",
                "paymentPolicyId": "3*****1",
                "returnPolicyId": "3*****2"
            }
        })
    );
    let update = serde_json::to_value(wire::offer(&p, &p.variants[0], &settings(), false)).unwrap();
    assert!(update.get("sku").is_none() && update.get("marketplaceId").is_none());
}

/// A 207 answer shaped like the bulkCreateOrReplaceInventoryItem sample
/// response (`responses[].statusCode/sku/locale`), one item refused with an
/// `ErrorDetailV3` (<https://developer.ebay.com/api-docs/static/handling-error-messages.html>).
#[test]
fn per_item_statuses_become_item_errors() {
    let answer: Responses = serde_json::from_value(json!({
        "responses": [
            {"statusCode": 200, "sku": "GP-Cam-01", "locale": "en_US"},
            {"statusCode": 400, "sku": "GP-Cam-02", "locale": "en_US", "errors": [{
                "errorId": 25004,
                "domain": "API_INVENTORY",
                "category": "REQUEST",
                "message": "Invalid quantity.",
                "longMessage": "The quantity must be zero or more."
            }]},
            {"statusCode": 500, "sku": "GP-Cam-03", "errors": [{"errorId": 25001, "category": "APPLICATION", "message": "A system error has occurred."}]},
            {"sku": "GP-Cam-04"}
        ]
    }))
    .unwrap();
    assert!(answer.responses[0].result().is_ok());
    let refused = answer.responses[1].result().unwrap_err();
    assert_eq!(refused.code, "25004");
    assert_eq!(
        refused.message,
        "Invalid quantity.: The quantity must be zero or more."
    );
    assert!(!refused.retryable);
    assert!(answer.responses[2].result().unwrap_err().retryable);
    assert_eq!(answer.responses[3].result().unwrap_err().code, "no_status");
    // Unknown shapes are refused, not guessed at.
    assert!(serde_json::from_value::<Responses>(json!({"responses": {"x": 1}})).is_err());
}

#[test]
fn ebays_throttle_and_existing_offer_errors_are_recognised() {
    // The body eBay sends with HTTP 429 when a call limit is spent.
    let throttle: wire::ErrorBody = serde_json::from_value(json!({"errors": [{
        "errorId": 2001, "domain": "ACCESS", "category": "REQUEST",
        "message": "Too many requests.",
        "longMessage": "The request limit has been reached for the resource."
    }]}))
    .unwrap();
    assert!(wire::item_error(429, &throttle.errors).retryable);
    // bulkCreateOffer's refusal of a SKU that already has an offer.
    let exists: ItemStatus = serde_json::from_value(json!({
        "statusCode": 400, "sku": "GP-Cam-01", "marketplaceId": "EBAY_US", "format": "FIXED_PRICE",
        "errors": [{"errorId": 25002, "domain": "API_INVENTORY", "category": "REQUEST",
            "message": "A user error has occurred. Offer entity already exists.",
            "parameters": [{"name": "offerId", "value": "6*******4"}]}]
    }))
    .unwrap();
    assert_eq!(exists.errors[0].parameter("offerId"), Some("6*******4"));
    assert!(exists.result().is_err());
}

/// Shaped like the getInventoryItems sample response on
/// <https://developer.ebay.com/api-docs/sell/inventory/resources/inventory_item/methods/getInventoryItems>.
#[test]
fn an_inventory_page_is_read_with_its_groups_and_next_page() {
    let page: wire::InventoryItems = serde_json::from_value(json!({
        "href": "https://api.ebay.com/sell/inventory/v1/inventory_item?offset=0&limit=2",
        "next": "https://api.ebay.com/sell/inventory/v1/inventory_item?offset=1&limit=2",
        "limit": 2, "size": 2, "total": 4,
        "inventoryItems": [
            {"sku": "GP-Cam-01", "locale": "en_US",
             "product": {"title": "GoPro Hero4 Helmet Cam", "aspects": {"Brand": ["GoPro"]}},
             "condition": "NEW",
             "availability": {"shipToLocationAvailability": {"quantity": 50}}},
            {"sku": "V-00031-WHM", "groupIds": ["V-00031"], "inventoryItemGroupKeys": ["V-00031"],
             "product": {"title": "Solid Color Polo Shirt"},
             "availability": {"shipToLocationAvailability": {"quantity": 12}}}
        ]
    }))
    .unwrap();
    assert_eq!(page.inventory_items[0].quantity(), Some(50));
    assert_eq!(page.inventory_items[0].group(), None);
    assert_eq!(page.inventory_items[1].group(), Some("V-00031"));
    assert_eq!(
        wire::offset_from_next(page.next.as_deref().unwrap()),
        Some(1)
    );
    assert_eq!(
        wire::offset_from_next("/sell/inventory/v1/inventory_item?limit=2&offset=3"),
        Some(3)
    );
    assert_eq!(wire::offset_from_next("garbage"), None);
}

/// Shaped like the getOffers sample on
/// <https://developer.ebay.com/api-docs/sell/inventory/resources/offer/methods/getOffers>.
#[test]
fn an_offer_gives_price_and_status() {
    let offers: wire::Offers = serde_json::from_value(json!({
        "total": 1, "size": 1, "limit": 25,
        "offers": [{
            "offerId": "7*******0", "sku": "GP-Cam-01", "marketplaceId": "EBAY_US",
            "format": "FIXED_PRICE", "availableQuantity": 75,
            "pricingSummary": {"price": {"value": "272.17", "currency": "USD"}},
            "status": "PUBLISHED",
            "listing": {"listingId": "1*********0", "listingStatus": "ACTIVE"}
        }]
    }))
    .unwrap();
    assert_eq!(offers.offers[0].price(), Some(Decimal::new(27217, 2)));
    assert_eq!(offers.offers[0].status.as_deref(), Some("PUBLISHED"));
}

/// Shaped like the getOrders sample on
/// <https://developer.ebay.com/api-docs/sell/fulfillment/resources/order/methods/getOrders>.
#[test]
fn orders_are_reduced_to_what_moves_stock() {
    let page: wire::Orders = serde_json::from_value(json!({
        "href": "https://api.ebay.com/sell/fulfillment/v1/order?limit=50&offset=0",
        "total": 2, "limit": 50, "offset": 0,
        "orders": [
            {"orderId": "06-00000-00000", "legacyOrderId": "110000000000-0000000000",
             "creationDate": "2019-10-04T16:51:08.000Z", "orderFulfillmentStatus": "NOT_STARTED",
             "orderPaymentStatus": "PAID", "cancelStatus": {"cancelState": "NONE_REQUESTED", "cancelRequests": []},
             "lineItems": [{"lineItemId": "10000000000000", "legacyItemId": "110000000000",
                 "sku": "GP-Cam-01", "title": "GoPro Hero4 Helmet Cam",
                 "lineItemCost": {"value": "272.17", "currency": "USD"}, "quantity": 2,
                 "lineItemFulfillmentStatus": "NOT_STARTED"}]},
            {"orderId": "06-00000-00001", "creationDate": "2019-10-05T10:00:00.000Z",
             "cancelStatus": {"cancelState": "CANCELED"},
             "lineItems": [{"sku": "GP-Cam-01", "quantity": 1}]}
        ]
    }))
    .unwrap();
    let orders: Vec<_> = page.orders.iter().filter_map(wire::order).collect();
    assert_eq!(orders.len(), 2, "a cancelled order is read, flagged");
    assert!(!orders[0].cancelled);
    assert!(orders[1].cancelled, "cancelState CANCELED");
    assert_eq!(orders[0].external_id, "06-00000-00000");
    assert_eq!(
        orders[0].created_at.unwrap().to_rfc3339(),
        "2019-10-04T16:51:08+00:00"
    );
    assert_eq!(orders[0].lines[0].sku.as_deref(), Some("GP-Cam-01"));
    assert_eq!(orders[0].lines[0].quantity, 2);
    let since = chrono::DateTime::parse_from_rfc3339("2016-03-21T08:25:43.511Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    assert_eq!(
        wire::modified_filter(since),
        "lastmodifieddate:[2016-03-21T08:25:43.511Z..]"
    );
    // A line without a quantity is not an order we can act on.
    assert!(
        serde_json::from_value::<wire::Orders>(
            json!({"orders": [{"orderId": "x", "lineItems": [{"sku": "a"}]}]})
        )
        .is_err()
    );
}
