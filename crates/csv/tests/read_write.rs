use shelfsync_core::catalog::{Product, ProductStatus, Variant};
use shelfsync_core::{Currency, ProductId, VariantId};
use shelfsync_csv::{CsvWriter, read_products};

const SAMPLE: &str = include_str!("fixtures/shopify-sample.csv");

#[test]
fn reads_products_variants_and_images_in_shopify_layout() {
    let outcome = read_products(SAMPLE.as_bytes()).unwrap();
    let handles: Vec<&str> = outcome
        .products
        .iter()
        .map(|p| p.product.handle.as_deref().unwrap())
        .collect();
    assert_eq!(handles, ["classic-tee", "gift-mug", "half-good"]);

    let tee = &outcome.products[0];
    assert_eq!(tee.line, 2);
    let p = &tee.product;
    assert_eq!(p.title, "Classic Tee");
    assert_eq!(
        p.description.as_deref(),
        Some("<p>Soft cotton, cut\nfor summer.</p>")
    );
    assert_eq!(p.vendor.as_deref(), Some("Acme"));
    assert_eq!(p.product_type.as_deref(), Some("Shirts"));
    assert_eq!(p.tags, ["summer", "cotton"]);
    assert_eq!(p.options, ["Size", "Colour"]);
    assert_eq!(p.status, ProductStatus::Active);
    assert_eq!(
        p.images,
        [
            "https://cdn.example/tee-front.jpg",
            "https://cdn.example/tee-back.jpg",
            "https://cdn.example/tee-detail.jpg"
        ]
    );
    let skus: Vec<&str> = p.variants.iter().map(|v| v.sku.as_str()).collect();
    assert_eq!(skus, ["TEE-S-RED", "TEE-M-RED", "TEE-L-BLUE"]);
    assert_eq!(p.variants[0].options, ["S", "Red"]);
    assert_eq!(p.variants[0].price.to_string(), "19.99");
    assert_eq!(p.variants[0].compare_at_price.unwrap().to_string(), "24.99");
    assert_eq!(
        p.variants[0].barcode.as_deref(),
        Some("0012345678905"),
        "Shopify's leading apostrophe is dropped"
    );
    assert_eq!(p.variants[0].weight_grams, Some(180));
    assert_eq!(p.variants[0].inventory_quantity, Some(12));
    assert_eq!(p.variants[2].compare_at_price, None);

    let mug = &outcome.products[1].product;
    assert!(mug.options.is_empty(), "Default Title means no options");
    assert!(mug.variants[0].options.is_empty());
    assert_eq!(mug.status, ProductStatus::Draft);
    assert_eq!(mug.product_type.as_deref(), Some("Kitchen"));
}

#[test]
fn bad_rows_are_reported_by_line_and_good_rows_kept() {
    let outcome = read_products(SAMPLE.as_bytes()).unwrap();
    // The tee's description spans two physical lines, so every later row is one line further down.
    let errors: Vec<(u64, &str)> = outcome
        .errors
        .iter()
        .map(|e| (e.line, e.message.as_str()))
        .collect();
    let find = |line: u64| {
        errors
            .iter()
            .find(|(l, _)| *l == line)
            .map(|(_, m)| *m)
            .unwrap_or_else(|| panic!("no error at line {line}: {errors:?}"))
    };
    assert!(find(8).contains("12.3.4"), "malformed price");
    assert!(find(10).contains("missing Variant SKU"));
    assert!(find(12).contains("not a whole number"));
    assert!(
        find(13).contains("no row with a Title"),
        "a handle with no first row"
    );
    assert!(find(14).contains("missing Handle"));
    assert!(
        errors
            .iter()
            .any(|(l, m)| *l == 8 && m.contains("no valid variant")),
        "the product left with no variants is reported too"
    );
    assert_eq!(errors.len(), 6, "{errors:?}");

    let half = &outcome.products[2].product;
    let skus: Vec<&str> = half.variants.iter().map(|v| v.sku.as_str()).collect();
    assert_eq!(skus, ["HG-S", "HG-L"], "its good variants survive");
    assert_eq!(half.variants[1].inventory_quantity, Some(0));
    assert_eq!(outcome.warnings.len(), 1);
    assert_eq!(outcome.warnings[0].line, 11);
    assert_eq!(outcome.rows, 12);
}

#[test]
fn a_file_without_handles_is_refused_whole() {
    let err = read_products("Title,Price\nx,1\n".as_bytes()).unwrap_err();
    assert!(err.to_string().contains("Handle"));
}

fn stored(new: &shelfsync_core::catalog::NewProduct) -> Product {
    let now = chrono_now();
    let id = ProductId::new();
    Product {
        id,
        handle: new.handle.clone().unwrap(),
        title: new.title.clone(),
        description: new.description.clone(),
        vendor: new.vendor.clone(),
        product_type: new.product_type.clone(),
        status: new.status,
        tags: new.tags.clone(),
        images: new.images.clone(),
        options: new.options.clone(),
        variants: new
            .variants
            .iter()
            .enumerate()
            .map(|(i, v)| Variant {
                id: VariantId::new(),
                product_id: id,
                sku: v.sku.clone(),
                barcode: v.barcode.clone(),
                title: shelfsync_core::catalog::variant_title(&v.options),
                options: v.options.clone(),
                price: v.price,
                compare_at_price: v.compare_at_price,
                currency: v.currency.unwrap_or(Currency::USD),
                weight_grams: v.weight_grams,
                position: i as i32,
                inventory_quantity: v.inventory_quantity.unwrap_or(0),
                inventory: vec![],
                created_at: now,
                updated_at: now,
            })
            .collect(),
        version: 1,
        created_at: now,
        updated_at: now,
    }
}

fn chrono_now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap()
}

#[test]
fn export_then_import_gives_back_the_same_catalog() {
    let original = read_products(SAMPLE.as_bytes()).unwrap();
    let mut writer = CsvWriter::new(Vec::new()).unwrap();
    for p in &original.products {
        writer.write_product(&stored(&p.product)).unwrap();
    }
    let bytes = writer.finish().unwrap();
    let again = read_products(bytes.as_slice()).unwrap();
    assert!(again.errors.is_empty(), "{:?}", again.errors);
    let a: Vec<_> = original.products.iter().map(|p| &p.product).collect();
    let b: Vec<_> = again.products.iter().map(|p| &p.product).collect();
    assert_eq!(a, b);
}

#[test]
fn ten_thousand_rows_read() {
    let mut csv = String::from(
        "Handle,Title,Option1 Name,Option1 Value,Variant SKU,Variant Price,Variant Inventory Qty\n",
    );
    for p in 0..2500 {
        for (i, size) in ["S", "M", "L", "XL"].iter().enumerate() {
            let title = if i == 0 {
                format!("Product {p}")
            } else {
                String::new()
            };
            let name = if i == 0 { "Size" } else { "" };
            csv.push_str(&format!(
                "p-{p},{title},{name},{size},SKU-{p}-{size},9.99,{i}\n"
            ));
        }
    }
    let outcome = read_products(csv.as_bytes()).unwrap();
    assert_eq!(outcome.rows, 10_000);
    assert_eq!(outcome.products.len(), 2500);
    assert!(outcome.errors.is_empty());
    assert!(
        outcome
            .products
            .iter()
            .all(|p| p.product.variants.len() == 4)
    );
}
