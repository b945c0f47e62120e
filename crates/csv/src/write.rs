//! Writing the catalog in Shopify's product CSV layout, a product at a time so
//! an export of any size streams.

use std::io::Write;

use shelfsync_core::catalog::Product;

use crate::CsvError;
use crate::columns::EXPORT_HEADER;

pub struct CsvWriter<W: Write> {
    csv: csv::Writer<W>,
}

impl<W: Write> CsvWriter<W> {
    /// Starts the file with Shopify's header row.
    pub fn new(out: W) -> Result<Self, CsvError> {
        let mut csv = csv::Writer::from_writer(out);
        csv.write_record(EXPORT_HEADER)?;
        Ok(Self { csv })
    }

    pub fn write_product(&mut self, product: &Product) -> Result<(), CsvError> {
        let (names, default_title): (Vec<&str>, bool) = if product.options.is_empty() {
            (vec!["Title"], true)
        } else {
            (product.options.iter().map(String::as_str).collect(), false)
        };
        let rows = product.variants.len().max(product.images.len());
        for i in 0..rows {
            let first = i == 0;
            let mut row: Vec<String> = vec![String::new(); EXPORT_HEADER.len()];
            row[0] = product.handle.clone();
            if first {
                row[1] = product.title.clone();
                row[2] = product.description.clone().unwrap_or_default();
                row[3] = product.vendor.clone().unwrap_or_default();
                row[4] = product.product_type.clone().unwrap_or_default();
                row[5] = product.tags.join(", ");
                row[6] = if product.status == shelfsync_core::catalog::ProductStatus::Active {
                    "TRUE"
                } else {
                    "FALSE"
                }
                .into();
                for (n, name) in names.iter().enumerate().take(3) {
                    row[7 + 2 * n] = (*name).to_string();
                }
                row[21] = product.status.as_str().to_string();
            }
            if let Some(v) = product.variants.get(i) {
                if default_title {
                    row[8] = "Default Title".into();
                } else {
                    for (n, value) in v.options.iter().enumerate().take(3) {
                        row[8 + 2 * n] = value.clone();
                    }
                }
                row[13] = v.sku.clone();
                row[14] = v.weight_grams.map(|g| g.to_string()).unwrap_or_default();
                row[15] = v.inventory_quantity.to_string();
                row[16] = v.price.to_string();
                row[17] = v
                    .compare_at_price
                    .map(|p| p.to_string())
                    .unwrap_or_default();
                row[18] = v.barcode.clone().unwrap_or_default();
            }
            if let Some(src) = product.images.get(i) {
                row[19] = src.clone();
                row[20] = (i + 1).to_string();
            }
            self.csv.write_record(&row)?;
        }
        Ok(())
    }

    /// Flushes and hands back the output.
    pub fn finish(self) -> Result<W, CsvError> {
        self.csv
            .into_inner()
            .map_err(|e| CsvError::Io(e.into_error()))
    }
}
