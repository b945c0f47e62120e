//! Reading a Shopify product CSV into catalog inputs. Bad rows are reported by
//! line number and skipped; every good row is kept.

use std::collections::HashMap;
use std::io::Read;

use csv::StringRecord;
use shelfsync_core::Price;
use shelfsync_core::catalog::{NewProduct, ProductStatus, VariantInput};
use shelfsync_core::slug::{handleize, is_valid_handle};

use crate::CsvError;
use crate::columns::{self as col, Columns};

/// One product assembled from the file, with the lines it came from.
#[derive(Debug, Clone)]
pub struct ParsedProduct {
    /// The line of the handle's first row (the header is line 1).
    pub line: u64,
    pub product: NewProduct,
}

/// A row (or product) that was skipped, or imported with a change, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    pub line: u64,
    pub message: String,
}

#[derive(Debug, Default)]
pub struct ReadOutcome {
    pub products: Vec<ParsedProduct>,
    /// Rows or products left out.
    pub errors: Vec<RowProblem>,
    /// Rows imported with a correction (e.g. negative stock read as zero).
    pub warnings: Vec<RowProblem>,
    /// Data rows read (not counting the header).
    pub rows: u64,
}

#[derive(Default)]
struct Draft {
    line: u64,
    handle: String,
    title: Option<String>,
    description: Option<String>,
    vendor: Option<String>,
    product_type: Option<String>,
    tags: Vec<String>,
    status: ProductStatus,
    option_names: Vec<String>,
    variants: Vec<VariantInput>,
    images: Vec<(u32, String)>,
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// Reads every product in the file. Fails only when the file is not a product
/// CSV at all; anything wrong with a row is reported in the outcome.
pub fn read_products<R: Read>(reader: R) -> Result<ReadOutcome, CsvError> {
    let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
    let columns = Columns::new(csv.headers()?);
    if !columns.has(col::HANDLE) {
        return Err(CsvError::MissingColumn(col::HANDLE));
    }
    let mut outcome = ReadOutcome::default();
    let mut drafts: Vec<Draft> = Vec::new();
    let mut by_handle: HashMap<String, usize> = HashMap::new();
    let mut record = StringRecord::new();
    loop {
        match csv.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                outcome.errors.push(RowProblem {
                    line,
                    message: format!("unreadable row: {e}"),
                });
                outcome.rows += 1;
                continue;
            }
        }
        outcome.rows += 1;
        let line = record.position().map_or(0, csv::Position::line);
        let raw_handle = columns.get(&record, col::HANDLE);
        if raw_handle.is_empty() {
            outcome.errors.push(RowProblem {
                line,
                message: "missing Handle".into(),
            });
            continue;
        }
        let handle = raw_handle.to_lowercase();
        let index = *by_handle.entry(handle.clone()).or_insert_with(|| {
            drafts.push(Draft {
                line,
                handle: handle.clone(),
                ..Draft::default()
            });
            drafts.len() - 1
        });
        let draft = &mut drafts[index];
        if draft.title.is_none()
            && let Some(title) = non_empty(columns.get(&record, col::TITLE))
        {
            take_product_fields(draft, &columns, &record, title);
        }
        take_image(draft, &columns, &record);
        if is_variant_row(&columns, &record) {
            match parse_variant(draft, &columns, &record) {
                Ok((variant, warning)) => {
                    if let Some(message) = warning {
                        outcome.warnings.push(RowProblem { line, message });
                    }
                    draft.variants.push(variant);
                }
                Err(message) => outcome.errors.push(RowProblem { line, message }),
            }
        }
    }
    for draft in drafts {
        match finish(draft) {
            Ok(parsed) => outcome.products.push(parsed),
            Err(problem) => outcome.errors.push(problem),
        }
    }
    outcome.errors.sort_by_key(|e| e.line);
    Ok(outcome)
}

fn take_product_fields(draft: &mut Draft, columns: &Columns, record: &StringRecord, title: String) {
    draft.title = Some(title);
    draft.description = non_empty(columns.get(record, col::BODY));
    draft.vendor = non_empty(columns.get(record, col::VENDOR));
    draft.product_type = non_empty(columns.product_type(record));
    draft.tags = columns
        .get(record, col::TAGS)
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(String::from)
        .collect();
    draft.status = ProductStatus::parse(columns.get(record, col::STATUS)).unwrap_or_else(|| {
        match columns
            .get(record, col::PUBLISHED)
            .to_ascii_lowercase()
            .as_str()
        {
            "false" => ProductStatus::Draft,
            _ => ProductStatus::Active,
        }
    });
    let names: Vec<String> = col::OPTION_NAMES
        .iter()
        .map(|n| columns.get(record, n).to_string())
        .collect();
    let last = names
        .iter()
        .rposition(|n| !n.is_empty())
        .map_or(0, |i| i + 1);
    draft.option_names = names[..last].to_vec();
    if draft.option_names == ["Title"] {
        draft.option_names.clear();
    }
}

fn take_image(draft: &mut Draft, columns: &Columns, record: &StringRecord) {
    let src = columns.get(record, col::IMAGE_SRC);
    if src.is_empty() || draft.images.iter().any(|(_, s)| s == src) {
        return;
    }
    let position = columns
        .get(record, col::IMAGE_POSITION)
        .parse()
        .unwrap_or(u32::MAX);
    draft.images.push((position, src.to_string()));
}

fn is_variant_row(columns: &Columns, record: &StringRecord) -> bool {
    [col::SKU, col::PRICE, col::QTY, col::OPTION_VALUES[0]]
        .iter()
        .any(|c| !columns.get(record, c).is_empty())
}

fn parse_variant(
    draft: &Draft,
    columns: &Columns,
    record: &StringRecord,
) -> Result<(VariantInput, Option<String>), String> {
    let sku = columns.get(record, col::SKU);
    if sku.is_empty() {
        return Err("missing Variant SKU".into());
    }
    let price: Price = match columns.get(record, col::PRICE) {
        "" => return Err(format!("variant {sku}: missing Variant Price")),
        p => p
            .parse()
            .map_err(|e| format!("variant {sku}: Variant Price {e}"))?,
    };
    let compare_at_price = match columns.get(record, col::COMPARE_AT) {
        "" => None,
        c => {
            let parsed: Price = c
                .parse()
                .map_err(|e| format!("variant {sku}: Variant Compare At Price {e}"))?;
            (!parsed.amount().is_zero()).then_some(parsed)
        }
    };
    let mut warning = None;
    let inventory_quantity = match columns.get(record, col::QTY) {
        "" => None,
        q => {
            let n: i64 = q.parse().map_err(|_| {
                format!("variant {sku}: Variant Inventory Qty `{q}` is not a whole number")
            })?;
            if n < 0 {
                warning = Some(format!("variant {sku}: negative stock {n} imported as 0"));
            }
            Some(n.max(0))
        }
    };
    let weight_grams = match columns.get(record, col::GRAMS) {
        "" => None,
        g => {
            let grams: f64 = g
                .parse()
                .map_err(|_| format!("variant {sku}: Variant Grams `{g}` is not a number"))?;
            if !grams.is_finite() || grams < 0.0 {
                return Err(format!("variant {sku}: Variant Grams must not be negative"));
            }
            Some(grams.round() as i64)
        }
    };
    let values: Vec<String> = col::OPTION_VALUES
        .iter()
        .map(|n| columns.get(record, n).to_string())
        .collect();
    let last = values
        .iter()
        .rposition(|v| !v.is_empty())
        .map_or(0, |i| i + 1);
    let mut options = values[..last].to_vec();
    if options == ["Default Title"] && draft.option_names.is_empty() {
        options.clear();
    }
    if options.len() > draft.option_names.len() && draft.title.is_some() {
        return Err(format!(
            "variant {sku}: {} option values but the product names {} options",
            options.len(),
            draft.option_names.len()
        ));
    }
    let barcode = non_empty(columns.get(record, col::BARCODE).trim_start_matches('\''));
    Ok((
        VariantInput {
            sku: sku.to_string(),
            barcode,
            options,
            price,
            compare_at_price,
            currency: None,
            weight_grams,
            inventory_quantity,
        },
        warning,
    ))
}

fn finish(mut draft: Draft) -> Result<ParsedProduct, RowProblem> {
    let line = draft.line;
    let Some(title) = draft.title.take() else {
        return Err(RowProblem {
            line,
            message: format!("handle `{}` has no row with a Title", draft.handle),
        });
    };
    if draft.variants.is_empty() {
        return Err(RowProblem {
            line,
            message: format!("product `{}` has no valid variant rows", draft.handle),
        });
    }
    draft.images.sort_by_key(|(position, _)| *position);
    let handle = if is_valid_handle(&draft.handle) {
        draft.handle.clone()
    } else {
        handleize(&draft.handle)
    };
    let product = NewProduct {
        title,
        handle: Some(handle),
        description: draft.description,
        vendor: draft.vendor,
        product_type: draft.product_type,
        status: draft.status,
        tags: draft.tags,
        images: draft.images.into_iter().map(|(_, src)| src).collect(),
        options: draft.option_names,
        variants: draft.variants,
    };
    product.validate().map_err(|e| RowProblem {
        line,
        message: format!("product `{}`: {}", draft.handle, e.summary()),
    })?;
    Ok(ParsedProduct { line, product })
}
