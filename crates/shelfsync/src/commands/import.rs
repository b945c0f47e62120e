//! `shelfsync import products.csv`: upsert a Shopify product CSV into the catalog.
//!
//! Bad rows are reported by line number and skipped; the rest is imported in
//! batches (one transaction each, with audit and outbox records like any API
//! write). Exits non-zero when any row was left out, so scripts notice.

use std::time::Instant;

use anyhow::Context;
use futures::{StreamExt, stream};
use indicatif::{ProgressBar, ProgressStyle};
use shelfsync_store::{BackendKind, WriteContext};

use crate::config::{GlobalOptions, ImportOptions};

/// Problems printed in full; the rest are counted.
const MAX_LISTED: usize = 50;

pub async fn run(global: &GlobalOptions, opts: ImportOptions) -> anyhow::Result<()> {
    let started = Instant::now();
    let file = std::fs::File::open(&opts.file)
        .with_context(|| format!("cannot open {}", opts.file.display()))?;
    let parsed = shelfsync_csv::read_products(std::io::BufReader::new(file))
        .with_context(|| format!("cannot read {}", opts.file.display()))?;
    let store = super::open_store(global).await?;
    let tenant = super::resolve_tenant(&store, opts.tenant.as_deref()).await?;
    let ctx = WriteContext {
        tenant,
        actor: "cli:import".into(),
        request_id: Some(format!("import:{}", opts.file.display())),
    };

    let progress = ProgressBar::new(parsed.products.len() as u64).with_style(
        ProgressStyle::with_template(
            "{spinner} importing [{bar:40}] {pos}/{len} products ({per_sec}, {eta} left)",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let mut problems: Vec<(u64, String)> = parsed
        .errors
        .iter()
        .map(|e| (e.line, e.message.clone()))
        .collect();
    let (mut created, mut updated, mut unchanged) = (0, 0, 0);
    // PostgreSQL takes batches in parallel (the import is round-trip bound);
    // SQLite has one writer, so more would only queue.
    let concurrency = match store.kind() {
        BackendKind::Postgres => opts.concurrency.max(1),
        BackendKind::Sqlite => 1,
    };
    let batches = parsed
        .products
        .chunks(opts.batch_size.clamp(1, 1000))
        .map(|batch| {
            let (store, ctx, progress) = (&store, &ctx, &progress);
            async move {
                let inputs: Vec<_> = batch.iter().map(|p| p.product.clone()).collect();
                let outcome = store.bulk_upsert(ctx, &inputs).await;
                progress.inc(batch.len() as u64);
                outcome.map(|o| (batch, o))
            }
        });
    let mut results = stream::iter(batches).buffer_unordered(concurrency);
    while let Some(result) = results.next().await {
        let (batch, outcome) = result.context("import failed")?;
        created += outcome.created;
        updated += outcome.updated;
        unchanged += outcome.unchanged;
        for error in outcome.errors {
            problems.push((batch[error.index].line, error.detail));
        }
    }
    drop(results);
    progress.finish_and_clear();
    if created + updated > 0
        && let Err(e) = store.analyze().await
    {
        tracing::warn!(error = %e, "could not refresh table statistics after the import");
    }
    store.close().await;

    println!(
        "imported {} products from {} rows in {:.2} s: {created} created, {updated} updated, {unchanged} unchanged",
        created + updated + unchanged,
        parsed.rows,
        started.elapsed().as_secs_f64()
    );
    for warning in &parsed.warnings {
        println!("  warning: line {}: {}", warning.line, warning.message);
    }
    if problems.is_empty() {
        return Ok(());
    }
    problems.sort_by_key(|(line, _)| *line);
    println!("{} problems (rows or products left out):", problems.len());
    for (line, message) in problems.iter().take(MAX_LISTED) {
        println!("  line {line}: {message}");
    }
    if problems.len() > MAX_LISTED {
        println!("  … and {} more", problems.len() - MAX_LISTED);
    }
    anyhow::bail!(
        "{} problems in {}; everything else was imported",
        problems.len(),
        opts.file.display()
    )
}
