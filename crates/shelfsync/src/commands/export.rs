//! `shelfsync export`: the catalog as a Shopify product CSV, streamed a page at
//! a time so memory stays flat whatever the catalog's size.

use std::io::Write;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use shelfsync_csv::CsvWriter;

use crate::config::{ExportOptions, GlobalOptions};

const PAGE: usize = 500;

pub async fn run(global: &GlobalOptions, opts: ExportOptions) -> anyhow::Result<()> {
    let store = super::open_store(global).await?;
    let tenant = super::resolve_tenant(&store, opts.tenant.as_deref()).await?;
    let out: Box<dyn Write> = match &opts.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let ids = store.all_product_ids(tenant).await?;
    let progress = ProgressBar::new(ids.len() as u64).with_style(
        ProgressStyle::with_template("{spinner} exporting [{bar:40}] {pos}/{len} products")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let mut writer = CsvWriter::new(out)?;
    for page in ids.chunks(PAGE) {
        for product in store.get_products(tenant, page).await? {
            writer.write_product(&product)?;
        }
        progress.inc(page.len() as u64);
    }
    writer.finish()?.flush()?;
    progress.finish_and_clear();
    store.close().await;
    if let Some(path) = &opts.output {
        eprintln!("exported {} products to {}", ids.len(), path.display());
    }
    Ok(())
}
