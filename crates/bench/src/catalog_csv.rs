//! A synthetic catalog: products of one to four size variants, Shopify layout.

use std::io::Write;

const HEADER: &str = "Handle,Title,Body (HTML),Vendor,Type,Tags,Published,Option1 Name,Option1 Value,Variant SKU,Variant Grams,Variant Inventory Qty,Variant Price,Variant Compare At Price,Variant Barcode,Image Src,Status";
const SIZES: [&str; 4] = ["S", "M", "L", "XL"];
const VENDORS: [&str; 5] = ["Acme", "Globex", "Initech", "Umbrella", "Hooli"];

/// Writes at least `rows` variant rows (whole products only); returns the count.
pub fn write(mut out: impl Write, rows: usize) -> anyhow::Result<usize> {
    writeln!(out, "{HEADER}")?;
    let mut written = 0;
    let mut product = 0;
    while written < rows {
        let variants = 1 + product % 4;
        let handle = format!("bench-product-{product}");
        for (v, size) in SIZES.iter().take(variants).enumerate() {
            let sku = format!("BENCH-{product}-{size}");
            let price = format!("{}.{:02}", 5 + product % 95, (product * 7 + v) % 100);
            let qty = (product * 13 + v * 3) % 200;
            if v == 0 {
                writeln!(
                    out,
                    "{handle},Bench Product {product},\"<p>Soft, durable, bench-tested.</p>\",{vendor},Shirts,\"bench, size-{variants}\",TRUE,Size,{size},{sku},250,{qty},{price},,,https://img.example/{handle}.jpg,active",
                    vendor = VENDORS[product % VENDORS.len()],
                )?;
            } else {
                writeln!(out, "{handle},,,,,,,,{size},{sku},250,{qty},{price},,,,")?;
            }
            written += 1;
        }
        product += 1;
    }
    out.flush()?;
    Ok(written)
}
