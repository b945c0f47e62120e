//! Payload mapping against examples copied from Amazon's published models.

use super::*;
use crate::model::VariantPush;

fn ctx() -> ListingContext {
    ListingContext {
        marketplace_id: "ATVPDKIKX0DER".into(),
        product_type: "PRODUCT".into(),
        language_tag: "en_US".into(),
    }
}

fn shirt(variants: usize) -> ProductPush {
    ProductPush {
        key: "p1".into(),
        external_id: None,
        handle: "tee".into(),
        title: "Tee".into(),
        description: Some("Soft cotton.".into()),
        vendor: Some("Acme".into()),
        product_type: None,
        tags: vec![],
        status: PushStatus::Active,
        options: vec!["Size".into(), "Colour".into()],
        images: vec![
            "https://img.example/1.jpg".into(),
            "https://img.example/2.jpg".into(),
        ],
        variants: (0..variants)
            .map(|n| VariantPush {
                sku: format!("TEE-{n}"),
                external_id: None,
                option_values: vec!["M".into(), "Red".into()],
                price: Decimal::new(1999, 2),
                compare_at_price: Some(Decimal::new(2999, 2)),
                currency: "USD".into(),
                barcode: Some("012345678905".into()),
                weight_grams: Some(Decimal::new(200, 0)),
                quantity: 7,
            })
            .collect(),
    }
}

// putListingsItem 200 example, listingsItems_2021-08-01.json
// (https://developer-docs.amazon.com/sp-api/reference/putlistingsitem).
const ACCEPTED: &str = r#"{"sku":"GM-ZDPI-9B4E","status":"ACCEPTED","submissionId":"f1dc2914-75dd-11ea-bc55-0242ac130003","issues":[]}"#;

// putListingsItem sandbox response for sku VALIDATION_INVALID, same model.
const INVALID: &str = r#"{
  "sku": "VALIDATION_INVALID", "status": "INVALID",
  "submissionId": "a1c562c2-1695-11ee-be56-0242ac120002", "identifiers": [],
  "issues": [
    {"code":"90220","message":"'condition_type' is required but not supplied.","severity":"ERROR",
     "attributeNames":["condition_type"],"categories":["MISSING_ATTRIBUTE"],
     "enforcements":{"actions":[{"action":"LISTING_SUPPRESSED"}],"exemption":{"status":"NOT_EXEMPT"}}},
    {"code":"90000900","message":"The attributes are invalid.","severity":"ERROR",
     "attributeNames":["fake_attribute"],"categories":[]}
  ]}"#;

#[test]
fn accepted_submissions_succeed_and_invalid_ones_carry_amazons_issues() {
    let ok: SubmissionResponse = serde_json::from_str(ACCEPTED).unwrap();
    assert_eq!(ok.submission_id, "f1dc2914-75dd-11ea-bc55-0242ac130003");
    assert_eq!(ok.into_result(), Ok(()));

    let bad: SubmissionResponse = serde_json::from_str(INVALID).unwrap();
    assert_eq!(bad.issues[0].attribute_names, vec!["condition_type"]);
    let error = bad.into_result().unwrap_err();
    assert_eq!(error.code, "90220");
    assert!(!error.retryable);
    assert!(
        error.message.contains("VALIDATION_INVALID"),
        "{}",
        error.message
    );
    assert!(error.message.contains("The attributes are invalid."));

    let odd = SubmissionResponse {
        status: "PENDING".into(),
        ..serde_json::from_str(ACCEPTED).unwrap()
    };
    assert!(odd.into_result().unwrap_err().retryable);
}

#[test]
fn an_error_list_reads_amazons_throttle_body() {
    // The 429 body quoted in amzn/selling-partner-api-models issue #418.
    let body = r#"{"errors":[{"code":"QuotaExceeded","message":"You exceeded your quota for the requested resource.","details":""}]}"#;
    let list: ErrorList = serde_json::from_str(body).unwrap();
    assert_eq!(
        list.summary(),
        "QuotaExceeded: You exceeded your quota for the requested resource."
    );
    assert!(serde_json::from_str::<ErrorList>(r#"{"errors": "nope"}"#).is_err());
}

// searchListingsItems 200 example (trimmed to the datasets we request),
// listingsItems_2021-08-01.json.
const SEARCH: &str = r#"{
  "numberOfResults": 3,
  "pagination": {"nextToken": "xsdflkj324lkjsdlkj3423klkjsdfkljlk2j34klj2l3k4jlksdjl234",
                 "previousToken": "ilkjsdflkj234lkjds234234lkjl234lksjdflkj234234lkjsfsdflkj333d"},
  "items": [{
    "sku": "GM-ZDPI-9B4E",
    "summaries": [{"marketplaceId": "ATVPDKIKX0DER", "asin": "B071VG5N9D", "productType": "LUGGAGE",
      "conditionType": "new_new", "status": ["BUYABLE"],
      "itemName": "Hardside Carry-On Spinner Suitcase Luggage",
      "createdDate": "2021-02-01T00:00:00Z", "lastUpdatedDate": "2021-03-01T00:00:00Z",
      "mainImage": {"link": "https://www.example.com/luggage.png", "height": 500, "width": 500}}],
    "offers": [{"marketplaceId": "ATVPDKIKX0DER", "offerType": "B2C",
                "price": {"currencyCode": "USD", "amount": "100.00"}}],
    "fulfillmentAvailability": [{"fulfillmentChannelCode": "DEFAULT", "quantity": 100}],
    "issues": [{"code": "90220", "message": "'size' is required but not supplied.", "severity": "ERROR",
                "attributeNames": ["size"], "categories": ["MISSING_ATTRIBUTE"]}]
  }]}"#;

#[test]
fn search_results_become_a_listing_page_with_the_next_token() {
    let results: ItemSearchResults = serde_json::from_str(SEARCH).unwrap();
    let page = listing_page(results, "ATVPDKIKX0DER").unwrap();
    assert_eq!(
        page.next_cursor.as_deref(),
        Some("xsdflkj324lkjsdlkj3423klkjsdfkljlk2j34klj2l3k4jlksdjl234")
    );
    let listing = &page.listings[0];
    assert_eq!(listing.external_id, "GM-ZDPI-9B4E");
    assert_eq!(listing.title, "Hardside Carry-On Spinner Suitcase Luggage");
    assert_eq!(listing.status.as_deref(), Some("BUYABLE"));
    assert_eq!(listing.variants[0].price, Some(Decimal::new(10000, 2)));
    assert_eq!(listing.variants[0].quantity, Some(100));
    assert_eq!(
        listing.updated_at.unwrap().to_rfc3339(),
        "2021-03-01T00:00:00+00:00"
    );
}

#[test]
fn variation_children_are_grouped_under_their_parent() {
    // Relationship shapes per ItemRelationshipsByMarketplace in the same model.
    let summary = |name: &str| {
        json!([{"marketplaceId": "ATVPDKIKX0DER", "productType": "SHIRT", "status": ["BUYABLE"],
                "itemName": name, "createdDate": "2024-01-01T00:00:00Z",
                "lastUpdatedDate": "2024-01-02T00:00:00Z"}])
    };
    let body = json!({
        "numberOfResults": 3,
        "items": [
            {"sku": "TEE", "summaries": summary("Tee"),
             "relationships": [{"marketplaceId": "ATVPDKIKX0DER", "relationships": [
                 {"type": "VARIATION", "childSkus": ["TEE-M", "TEE-L"],
                  "variationTheme": {"attributes": ["size"], "theme": "SIZE"}}]}]},
            {"sku": "TEE-L", "summaries": summary("Tee L"),
             "offers": [{"marketplaceId": "ATVPDKIKX0DER", "offerType": "B2C",
                         "price": {"currencyCode": "USD", "amount": "21.00"}}],
             "relationships": [{"marketplaceId": "ATVPDKIKX0DER", "relationships": [
                 {"type": "VARIATION", "parentSkus": ["TEE"]}]}]},
            {"sku": "MUG", "summaries": summary("Mug"), "relationships": []}
        ]
    });
    let page = listing_page(serde_json::from_value(body).unwrap(), "ATVPDKIKX0DER").unwrap();
    assert_eq!(page.listings.len(), 2);
    assert_eq!(page.listings[0].external_id, "TEE");
    assert_eq!(page.listings[0].title, "Tee");
    let skus: Vec<_> = page.listings[0]
        .variants
        .iter()
        .map(|v| v.external_id.as_str())
        .collect();
    assert_eq!(skus, vec!["TEE-L"]);
    assert_eq!(
        page.listings[0].variants[0].price,
        Some(Decimal::new(2100, 2))
    );
    assert_eq!(page.listings[1].variants[0].sku.as_deref(), Some("MUG"));
    assert_eq!(page.next_cursor, None);

    let bad = json!({"numberOfResults": 1, "items": [{"sku": "X",
        "offers": [{"marketplaceId": "ATVPDKIKX0DER", "offerType": "B2C",
                    "price": {"currencyCode": "USD", "amount": "ten"}}]}]});
    let error = listing_page(serde_json::from_value(bad).unwrap(), "ATVPDKIKX0DER").unwrap_err();
    assert!(matches!(error, ChannelError::Protocol(_)));
}

// getOrders 200 example and getOrderItems 200 example, ordersV0.json
// (https://developer-docs.amazon.com/sp-api/reference/getorders, .../getorderitems).
const ORDERS: &str = r#"{"payload": {"NextToken": "2YgYW55IGNhcm5hbCBwbGVhc3VyZS4", "Orders": [{
  "AmazonOrderId": "902-3159896-1390916", "PurchaseDate": "2017-01-20T19:49:35Z",
  "LastUpdateDate": "2017-01-20T19:49:35Z", "OrderStatus": "Pending",
  "FulfillmentChannel": "SellerFulfilled", "NumberOfItemsShipped": 0, "NumberOfItemsUnshipped": 0,
  "PaymentMethod": "Other", "PaymentMethodDetails": ["CreditCard", "GiftCerificate"],
  "MarketplaceId": "ATVPDKIKX0DER", "ShipmentServiceLevelCategory": "Standard",
  "OrderType": "StandardOrder", "EarliestShipDate": "2017-01-20T19:51:16Z",
  "LatestShipDate": "2017-01-25T19:49:35Z", "IsBusinessOrder": false, "IsPrime": false,
  "IsGlobalExpressEnabled": false, "IsPremiumOrder": false, "IsSoldByAB": false}]}}"#;

const ORDER_ITEMS: &str = r#"{"payload": {"AmazonOrderId": "903-1671087-0812628",
  "NextToken": "2YgYW55IGNhcm5hbCBwbGVhc3VyZS4", "OrderItems": [
  {"ASIN": "BT0093TELA", "OrderItemId": "68828574383266", "SellerSKU": "CBA_OTF_1",
   "Title": "Example item name", "QuantityOrdered": 1, "QuantityShipped": 1,
   "ItemPrice": {"CurrencyCode": "JPY", "Amount": "25.99"}},
  {"ASIN": "BCTU1104UEFB", "OrderItemId": "79039765272157", "SellerSKU": "CBA_OTF_5",
   "Title": "Example item name", "QuantityOrdered": 2, "QuantityShipped": 0}]}}"#;

#[test]
fn orders_and_their_items_read_from_the_documented_shapes() {
    let orders: GetOrdersResponse = serde_json::from_str(ORDERS).unwrap();
    let list = orders.payload.unwrap();
    assert_eq!(
        list.next_token.as_deref(),
        Some("2YgYW55IGNhcm5hbCBwbGVhc3VyZS4")
    );
    assert_eq!(list.orders[0].amazon_order_id, "902-3159896-1390916");
    assert_eq!(list.orders[0].order_status, "Pending");
    assert_eq!(
        list.orders[0].purchase_date.to_rfc3339(),
        "2017-01-20T19:49:35+00:00"
    );

    let items: GetOrderItemsResponse = serde_json::from_str(ORDER_ITEMS).unwrap();
    let lines: Vec<_> = items
        .payload
        .unwrap()
        .order_items
        .iter()
        .map(OrderItem::line)
        .collect();
    assert_eq!(lines[0].sku.as_deref(), Some("CBA_OTF_1"));
    assert_eq!(lines[0].external_variant_id.as_deref(), Some("CBA_OTF_1"));
    assert_eq!(lines[1].quantity, 2);
}

#[test]
fn a_variant_is_put_with_its_offer_quantity_and_family_attributes() {
    let product = shirt(2);
    let family = Family::of(&product).unwrap();
    assert_eq!(
        family,
        Family {
            parent_sku: "tee".into(),
            theme: "SIZE/COLOR".into()
        }
    );
    let body = variant_body(&product, &product.variants[0], Some(&family), &ctx());
    assert_eq!(body["productType"], "PRODUCT");
    assert_eq!(body["requirements"], "LISTING");
    let a = &body["attributes"];
    assert_eq!(a["item_name"][0]["value"], "Tee");
    assert_eq!(a["item_name"][0]["language_tag"], "en_US");
    assert_eq!(a["brand"][0]["value"], "Acme");
    assert_eq!(a["condition_type"][0]["value"], "new_new");
    let offer = &a["purchasable_offer"][0];
    assert_eq!(offer["marketplace_id"], "ATVPDKIKX0DER");
    assert_eq!(offer["currency"], "USD");
    assert_eq!(
        offer["our_price"][0]["schedule"][0]["value_with_tax"],
        19.99
    );
    assert_eq!(a["list_price"][0]["value"], 29.99);
    assert_eq!(
        a["fulfillment_availability"][0]["fulfillment_channel_code"],
        "DEFAULT"
    );
    assert_eq!(a["fulfillment_availability"][0]["quantity"], 7);
    assert_eq!(
        a["externally_assigned_product_identifier"][0]["type"],
        "upc"
    );
    assert_eq!(a["item_weight"][0]["unit"], "grams");
    assert_eq!(a["parentage_level"][0]["value"], "child");
    assert_eq!(a["child_parent_sku_relationship"][0]["parent_sku"], "tee");
    assert_eq!(a["variation_theme"][0]["name"], "SIZE/COLOR");
    assert_eq!(a["size"][0]["value"], "M");
    assert_eq!(a["color"][0]["value"], "Red");
    assert_eq!(
        a["main_product_image_locator"][0]["media_location"],
        "https://img.example/1.jpg"
    );
    assert_eq!(
        a["other_product_image_locator_1"][0]["media_location"],
        "https://img.example/2.jpg"
    );

    let parent = parent_body(&product, &family, &ctx());
    assert_eq!(parent["requirements"], "LISTING_PRODUCT_ONLY");
    assert_eq!(
        parent["attributes"]["parentage_level"][0]["value"],
        "parent"
    );
    assert!(parent["attributes"].get("purchasable_offer").is_none());
}

#[test]
fn drafts_have_no_offer_archived_sell_nothing_and_singles_stand_alone() {
    let mut product = shirt(1);
    assert_eq!(Family::of(&product), None);
    let body = variant_body(&product, &product.variants[0], None, &ctx());
    assert!(body["attributes"].get("parentage_level").is_none());
    assert!(body["attributes"].get("size").is_none());

    product.status = PushStatus::Draft;
    let body = variant_body(&product, &product.variants[0], None, &ctx());
    assert_eq!(body["requirements"], "LISTING_PRODUCT_ONLY");
    assert!(body["attributes"].get("purchasable_offer").is_none());

    product.status = PushStatus::Archived;
    product.title = " ".into();
    let body = variant_body(&product, &product.variants[0], None, &ctx());
    assert_eq!(
        body["attributes"]["fulfillment_availability"][0]["quantity"],
        0
    );
    assert!(body["attributes"].get("item_name").is_none());

    let mut family = shirt(2);
    family.external_id = Some("TEE-0".into());
    assert_eq!(Family::of(&family).unwrap().parent_sku, "tee");
    family.external_id = Some("TEE-PARENT".into());
    assert_eq!(Family::of(&family).unwrap().parent_sku, "TEE-PARENT");
}

#[test]
fn a_quantity_patch_merges_only_the_default_channel() {
    // Shape per https://developer-docs.amazon.com/sp-api/docs/merge-a-listing.
    let body = quantity_patch(-3, &ctx());
    assert_eq!(
        body,
        json!({"productType": "PRODUCT", "patches": [{"op": "merge",
            "path": "/attributes/fulfillment_availability",
            "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 0}]}]})
    );
}
