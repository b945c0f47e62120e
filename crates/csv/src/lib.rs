//! Shopify's product CSV layout, so merchants can move a catalog in and out with
//! the file they already have.
//!
//! The layout follows Shopify's help centre page "Using CSV files to import and
//! export products" and its product CSV template: one row per variant; rows that
//! share a `Handle` form one product; product fields sit on the handle's first
//! row; extra images may sit on rows of their own. A product without options is
//! written as `Option1 Name = Title`, `Option1 Value = Default Title`.

mod columns;
mod read;
mod write;

pub use read::{ParsedProduct, ReadOutcome, RowProblem, read_products};
pub use write::CsvWriter;

/// A file that cannot be read at all (as opposed to bad rows, which are reported).
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    #[error("the header has no `{0}` column: is this a Shopify product CSV?")]
    MissingColumn(&'static str),
    #[error("CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}
