//! Where each column we use sits in a given file: matched by header name,
//! case-insensitively, in any order; columns we do not use are ignored.

use std::collections::HashMap;

use csv::StringRecord;

/// The columns Shopify's product template names that Shelfsync reads or writes.
pub const HANDLE: &str = "Handle";
pub const TITLE: &str = "Title";
pub const BODY: &str = "Body (HTML)";
pub const VENDOR: &str = "Vendor";
pub const TYPE: &str = "Type";
pub const TAGS: &str = "Tags";
pub const PUBLISHED: &str = "Published";
pub const OPTION_NAMES: [&str; 3] = ["Option1 Name", "Option2 Name", "Option3 Name"];
pub const OPTION_VALUES: [&str; 3] = ["Option1 Value", "Option2 Value", "Option3 Value"];
pub const SKU: &str = "Variant SKU";
pub const GRAMS: &str = "Variant Grams";
pub const QTY: &str = "Variant Inventory Qty";
pub const PRICE: &str = "Variant Price";
pub const COMPARE_AT: &str = "Variant Compare At Price";
pub const BARCODE: &str = "Variant Barcode";
pub const IMAGE_SRC: &str = "Image Src";
pub const IMAGE_POSITION: &str = "Image Position";
pub const STATUS: &str = "Status";

/// The header written on export, in Shopify's order.
pub const EXPORT_HEADER: [&str; 22] = [
    HANDLE,
    TITLE,
    BODY,
    VENDOR,
    TYPE,
    TAGS,
    PUBLISHED,
    OPTION_NAMES[0],
    OPTION_VALUES[0],
    OPTION_NAMES[1],
    OPTION_VALUES[1],
    OPTION_NAMES[2],
    OPTION_VALUES[2],
    SKU,
    GRAMS,
    QTY,
    PRICE,
    COMPARE_AT,
    BARCODE,
    IMAGE_SRC,
    IMAGE_POSITION,
    STATUS,
];

pub struct Columns {
    index: HashMap<String, usize>,
}

impl Columns {
    pub fn new(header: &StringRecord) -> Self {
        let index = header
            .iter()
            .enumerate()
            .map(|(i, name)| {
                (
                    name.trim()
                        .trim_start_matches('\u{feff}')
                        .to_ascii_lowercase(),
                    i,
                )
            })
            .collect();
        Self { index }
    }

    pub fn has(&self, name: &str) -> bool {
        self.index.contains_key(&name.to_ascii_lowercase())
    }

    /// The trimmed cell, or `""` when the column or cell is absent.
    pub fn get<'r>(&self, record: &'r StringRecord, name: &str) -> &'r str {
        self.index
            .get(&name.to_ascii_lowercase())
            .and_then(|&i| record.get(i))
            .map_or("", str::trim)
    }

    /// `Type`, or Shopify's newer `Product Category` when `Type` is empty.
    pub fn product_type<'r>(&self, record: &'r StringRecord) -> &'r str {
        let t = self.get(record, TYPE);
        if t.is_empty() {
            self.get(record, "Product Category")
        } else {
            t
        }
    }
}
