//! The Medusa adapter against a real Medusa 2.x server (see
//! `shelfsync_testkit::medusa`): skipped unless `SHELFSYNC_TEST_MEDUSA=1`.
//!
//! One server per test (starting one takes seconds and a few hundred MB),
//! so the end-to-end story runs as the steps of one test, in the order a
//! merchant meets them. Every step checks that the calls the adapter
//! planned are the calls it made, counted by the connection's usage meter
//! (every request attempt is metered, retries included).

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use shelfsync_channels::{
    CallPlan, Channel, ChannelDeps, ChannelListing, ConnectionConfig, ConnectionSecrets,
    Credentials, InventoryPush, OAuthTokens, ProductPush, ProductRef, PushStatus, VariantPush,
};
use shelfsync_core::{ConnectionId, Platform, TenantId};
use shelfsync_testkit::medusa::MedusaServer;

/// A connection to `server` with `settings`, and the deps whose meter counts its calls.
fn connect(
    server: &MedusaServer,
    settings: Value,
) -> (Arc<dyn Channel>, ChannelDeps, ConnectionId) {
    let connection = ConnectionId::new();
    let config = ConnectionConfig {
        tenant: TenantId::new(),
        connection,
        platform: Platform::Medusa,
        account: server.url.clone(),
        endpoints: shelfsync_channels::endpoints(Platform::Medusa, &server.url, None),
        settings,
        secrets: ConnectionSecrets {
            credentials: Credentials::OAuth(OAuthTokens {
                access_token: server.api_key.clone().into(),
                refresh_token: None,
                expires_at: None,
                scope: None,
            }),
            webhook_secret: None,
        },
        app: None,
    };
    let deps = ChannelDeps::local();
    let channel = shelfsync_channels::connect(config, &deps).expect("adapter connects");
    (channel, deps, connection)
}

/// A product with three sizes, SKUs `{prefix}-S|M|L`.
fn product(prefix: &str, n: i64) -> ProductPush {
    ProductPush {
        key: format!("key-{prefix}"),
        external_id: None,
        handle: prefix.to_lowercase(),
        title: format!("Product {prefix}"),
        description: Some("Soft cotton.".into()),
        vendor: Some("Acme".into()),
        product_type: None,
        tags: vec![],
        status: PushStatus::Active,
        options: vec!["Size".into()],
        images: vec![],
        variants: ["S", "M", "L"]
            .iter()
            .enumerate()
            .map(|(k, size)| VariantPush {
                sku: format!("{prefix}-{size}"),
                external_id: None,
                option_values: vec![(*size).to_owned()],
                price: Decimal::new(1999 + n * 10 + k as i64, 2),
                compare_at_price: None,
                currency: "USD".into(),
                barcode: None,
                weight_grams: Some(Decimal::new(200, 0)),
                quantity: n % 17 + k as i64,
            })
            .collect(),
    }
}

/// The push again, carrying the ids Medusa gave it.
fn with_ref(mut product: ProductPush, saved: &ProductRef) -> ProductPush {
    product.external_id = Some(saved.external_id.clone());
    for variant in &mut product.variants {
        variant.external_id = saved
            .variants
            .iter()
            .find(|v| v.sku == variant.sku)
            .map(|v| v.external_id.clone());
    }
    product
}

/// Run `work` and check it made exactly the calls `plan` counts.
async fn exactly<T>(
    deps: &ChannelDeps,
    connection: ConnectionId,
    plan: &CallPlan,
    work: impl std::future::Future<Output = T>,
) -> T {
    let before = deps.usage.calls_so_far(connection);
    let out = work.await;
    let made = deps.usage.calls_so_far(connection) - before;
    assert_eq!(made, u64::from(plan.calls), "planned {plan:?}, made {made}");
    out
}

async fn upsert_ok(
    channel: &dyn Channel,
    deps: &ChannelDeps,
    connection: ConnectionId,
    products: &[ProductPush],
) -> Vec<ProductRef> {
    let plan = channel.plan_upsert(products);
    exactly(deps, connection, &plan, channel.upsert_products(products))
        .await
        .expect("upsert")
        .into_iter()
        .map(|o| o.result.unwrap_or_else(|e| panic!("{}: {e:?}", o.key)))
        .collect()
}

/// Every listing, page by page.
async fn all_listings(channel: &dyn Channel) -> Vec<ChannelListing> {
    let mut listings = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = channel
            .read_listings(cursor.as_deref())
            .await
            .expect("read");
        listings.extend(page.listings);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return listings,
        }
    }
}

fn variant<'a>(
    listings: &'a [ChannelListing],
    sku: &str,
) -> &'a shelfsync_channels::ChannelVariant {
    listings
        .iter()
        .flat_map(|l| &l.variants)
        .find(|v| v.sku.as_deref() == Some(sku))
        .unwrap_or_else(|| panic!("{sku} not read back"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalog_lives_on_a_real_medusa() {
    let Some(server) = MedusaServer::start().await else {
        return;
    };
    let started = Instant::now();
    let since = Utc::now() - chrono::Duration::seconds(5);
    // No settings: the store's default location and sales channel are found once.
    let (channel, deps, conn) = connect(&server, json!({"currency": "usd"}));
    let channel = channel.as_ref();

    // 1. Publish 200 products of three variants each.
    let products: Vec<ProductPush> = (0..200).map(|n| product(&format!("P{n:03}"), n)).collect();
    let plan = channel.plan_upsert(&products);
    assert_eq!(plan.by_operation.get("stores.list"), Some(&1), "{plan:?}");
    assert_eq!(
        plan.by_operation.get("products.batch"),
        Some(&4),
        "{plan:?}"
    );
    let refs = upsert_ok(channel, &deps, conn, &products).await;
    assert!(
        refs.iter()
            .all(|r| r.variants.len() == 3 && r.variants.iter().all(|v| v.inventory_ref.is_some()))
    );
    let held = all_listings(channel).await;
    assert_eq!(held.len(), 200);
    assert_eq!(
        variant(&held, "P007-M").price,
        Some(Decimal::new(1999 + 70 + 1, 2))
    );
    assert_eq!(variant(&held, "P007-M").quantity, Some(7 + 1));
    assert_eq!(
        held.iter()
            .find(|l| l.external_id == refs[7].external_id)
            .unwrap()
            .status
            .as_deref(),
        Some("published")
    );
    // The store's defaults are cached: a second plan needs no lookup.
    assert!(
        !channel
            .plan_upsert(&products[..1])
            .by_operation
            .contains_key("stores.list")
    );

    // 2. Change prices (through the products) and stock (through levels).
    let mut changed: Vec<ProductPush> = products[..20]
        .iter()
        .zip(&refs)
        .map(|(p, r)| with_ref(p.clone(), r))
        .collect();
    for (n, p) in changed.iter_mut().enumerate() {
        p.variants[0].price = Decimal::new(5000 + n as i64, 2);
        p.title = format!("{} v2", p.title);
    }
    let again = upsert_ok(channel, &deps, conn, &changed).await;
    assert_eq!(
        again[3].external_id, refs[3].external_id,
        "updated in place"
    );
    assert_eq!(again[3].variants, refs[3].variants);
    let levels: Vec<InventoryPush> = refs[20..50]
        .iter()
        .enumerate()
        .map(|(n, r)| InventoryPush {
            sku: r.variants[1].sku.clone(),
            external_product_id: Some(r.external_id.clone()),
            external_variant_id: Some(r.variants[1].external_id.clone()),
            inventory_ref: r.variants[1].inventory_ref.clone(),
            quantity: 100 + n as i64,
        })
        .collect();
    let plan = channel.plan_inventory(&levels);
    let outcomes = exactly(&deps, conn, &plan, channel.set_inventory(&levels))
        .await
        .expect("stock");
    assert!(outcomes.iter().all(|o| o.result.is_ok()), "{outcomes:?}");
    // Read back from Medusa itself, as the merchant's admin shows it.
    let product3 = server
        .admin_get(&format!(
            "/admin/products/{}?fields=title,variants.sku,variants.prices.amount",
            refs[3].external_id
        ))
        .await;
    assert_eq!(product3["product"]["title"], "Product P003 v2");
    let small = product3["product"]["variants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["sku"] == "P003-S")
        .unwrap();
    assert_eq!(
        small["prices"].as_array().unwrap().len(),
        1,
        "replaced, not added"
    );
    assert_eq!(small["prices"][0]["amount"].to_string(), "50.03");
    let item = refs[25].variants[1].inventory_ref.clone().unwrap();
    let levels_held = server
        .admin_get(&format!("/admin/inventory-items/{item}/location-levels"))
        .await;
    assert_eq!(levels_held["inventory_levels"][0]["stocked_quantity"], 105);
    // Stock set by SKU alone (no ids) lands too, and a SKU Medusa lacks fails alone.
    let by_sku = [
        InventoryPush {
            sku: "P060-L".into(),
            external_product_id: None,
            external_variant_id: None,
            inventory_ref: None,
            quantity: 3,
        },
        InventoryPush {
            sku: "NOT-IN-MEDUSA".into(),
            external_product_id: None,
            external_variant_id: None,
            inventory_ref: None,
            quantity: 3,
        },
    ];
    let outcomes = channel.set_inventory(&by_sku).await.unwrap();
    assert!(outcomes[0].result.is_ok());
    assert_eq!(outcomes[1].result.as_ref().unwrap_err().code, "not_found");
    let held = all_listings(channel).await;
    assert_eq!(variant(&held, "P003-S").price, Some(Decimal::new(5003, 2)));
    assert_eq!(variant(&held, "P025-M").quantity, Some(105));
    assert_eq!(variant(&held, "P060-L").quantity, Some(3));

    // 3. A merchant edits a product in Medusa's admin: reconciliation sees it.
    let edited = &refs[42];
    let before = held
        .iter()
        .find(|l| l.external_id == edited.external_id)
        .unwrap()
        .updated_at
        .unwrap();
    server
        .admin_post(
            &format!("/admin/products/{}", edited.external_id),
            &json!({"title": "Renamed by the merchant"}),
        )
        .await;
    server
        .admin_post(
            &format!(
                "/admin/products/{}/variants/{}",
                edited.external_id, edited.variants[0].external_id
            ),
            &json!({"prices": [{"currency_code": "usd", "amount": 7.25}]}),
        )
        .await;
    let held = all_listings(channel).await;
    let listing = held
        .iter()
        .find(|l| l.external_id == edited.external_id)
        .unwrap();
    assert_eq!(listing.title, "Renamed by the merchant");
    assert!(listing.updated_at.unwrap() > before);
    assert_eq!(variant(&held, "P042-S").price, Some(Decimal::new(725, 2)));

    // 4. An order placed in Medusa comes back from the poll, and its
    // reserved units are no longer counted as sellable.
    let sold = &refs[10];
    let order_id = server
        .place_order(&[(&sold.variants[2].external_id, 2)])
        .await;
    let orders = channel.recent_orders(since).await.expect("orders");
    let order = orders
        .iter()
        .find(|o| o.external_id == order_id)
        .unwrap_or_else(|| panic!("{order_id} not in {orders:?}"));
    assert_eq!(order.lines.len(), 1);
    assert_eq!(order.lines[0].sku.as_deref(), Some("P010-L"));
    assert_eq!(
        order.lines[0].external_variant_id.as_deref(),
        Some(sold.variants[2].external_id.as_str())
    );
    assert_eq!(order.lines[0].quantity, 2);
    assert!(order.created_at.unwrap() >= since);
    assert!(!order.cancelled);
    let later = Utc::now() + chrono::Duration::minutes(5);
    assert!(channel.recent_orders(later).await.unwrap().is_empty());
    // Cancelled in Medusa's admin: a poll from after the sale reads it
    // again (by update time), flagged.
    let after_sale = Utc::now();
    let other = server
        .place_order(&[(&sold.variants[1].external_id, 1)])
        .await;
    server.cancel_order(&other).await;
    let orders = channel.recent_orders(after_sale).await.expect("orders");
    let cancelled = orders
        .iter()
        .find(|o| o.external_id == other)
        .unwrap_or_else(|| panic!("{other} not in {orders:?}"));
    assert!(cancelled.cancelled, "{cancelled:?}");
    assert_eq!(cancelled.lines.len(), 1);
    let held = all_listings(channel).await;
    assert_eq!(variant(&held, "P010-L").quantity, Some(10 + 2 - 2));
    // Pushing the same stock again keeps the reservation out of what can be sold.
    let level = [InventoryPush {
        sku: "P010-L".into(),
        external_product_id: Some(sold.external_id.clone()),
        external_variant_id: Some(sold.variants[2].external_id.clone()),
        inventory_ref: sold.variants[2].inventory_ref.clone(),
        quantity: 9,
    }];
    channel.set_inventory(&level).await.unwrap()[0]
        .result
        .clone()
        .unwrap();
    assert_eq!(
        variant(&all_listings(channel).await, "P010-L").quantity,
        Some(9)
    );

    // 5. A push that lost its ids links to what Medusa holds by SKU
    // instead of making a second copy.
    let relinked = upsert_ok(channel, &deps, conn, &products[100..102]).await;
    assert_eq!(relinked[0], refs[100]);
    assert_eq!(relinked[1], refs[101]);
    assert_eq!(all_listings(channel).await.len(), 200);

    // 6. A product Medusa refuses fails alone; the rest of its batch is saved.
    let mut taken = product("NEW1", 1);
    taken.variants[0].sku = "P150-S".into(); // another product's SKU
    taken.external_id = Some(refs[0].external_id.clone());
    let fresh = product("NEW2", 2);
    let mut duplicate_handle = product("NEW3", 3);
    duplicate_handle.handle = "p001".into();
    let outcomes = channel
        .upsert_products(&[taken, fresh, duplicate_handle])
        .await
        .unwrap();
    assert_eq!(outcomes[0].result.as_ref().unwrap_err().code, "sku_taken");
    assert!(outcomes[1].result.is_ok(), "{outcomes:?}");
    let refused = outcomes[2].result.as_ref().unwrap_err();
    assert!(!refused.retryable, "{refused:?}");
    assert_eq!(all_listings(channel).await.len(), 201);

    let _ = std::io::Write::write_fmt(
        &mut std::io::stderr(),
        format_args!(
            "medusa end-to-end steps took {:.1} s\n",
            started.elapsed().as_secs_f64()
        ),
    );
}

/// The benchmark BENCHMARKS.md records: a full sync of 1,000 products
/// (3,000 variants with their stock) into an empty Medusa, then one
/// read-back of everything. Runs only with `SHELFSYNC_MEDUSA_BENCH=1`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_full_sync_of_1000_products() {
    if std::env::var("SHELFSYNC_MEDUSA_BENCH").map_or(true, |v| v != "1") {
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            b"\nSKIPPED: the Medusa sync benchmark (set SHELFSYNC_MEDUSA_BENCH=1)\n",
        );
        return;
    }
    let Some(server) = MedusaServer::start().await else {
        return;
    };
    let (channel, deps, conn) = connect(
        &server,
        json!({
            "stock_location_id": server.stock_location_id,
            "sales_channel_id": server.sales_channel_id,
            "currency": "usd",
            "page_size": 200,
        }),
    );
    let channel = channel.as_ref();
    let products: Vec<ProductPush> = (0..1000).map(|n| product(&format!("B{n:04}"), n)).collect();
    let per_call = channel.batch_limits().products;
    let plan = channel.plan_upsert(&products);
    let start = Instant::now();
    let mut saved = 0;
    for batch in products.chunks(per_call) {
        saved += upsert_ok(channel, &deps, conn, batch).await.len();
    }
    let push = start.elapsed();
    let read_start = Instant::now();
    let held = all_listings(channel).await;
    let read = read_start.elapsed();
    assert_eq!(saved, 1000);
    assert_eq!(held.len(), 1000);
    assert_eq!(held.iter().map(|l| l.variants.len()).sum::<usize>(), 3000);
    let _ = std::io::Write::write_fmt(
        &mut std::io::stderr(),
        format_args!(
            "\nmedusa-sync: 1000 products / 3000 variants pushed in {:.1} s ({:.1} products/s, \
             {} calls planned); read back in {:.1} s\n",
            push.as_secs_f64(),
            1000.0 / push.as_secs_f64(),
            plan.calls,
            read.as_secs_f64()
        ),
    );
}
