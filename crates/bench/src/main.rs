//! Benchmarks against the real `shelfsync` binary, as a user would run it.
//! Each prints the figures BENCHMARKS.md records; see that file for commands.

mod catalog_csv;
mod load;
mod open_loop;
mod queue;
mod relay;
mod server;
mod stats;
mod sync;
mod webhooks;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "shelfsync-bench")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a synthetic catalog in Shopify's product CSV layout.
    Csv {
        #[arg(long, default_value_t = 10_000)]
        rows: usize,
        #[arg(long)]
        out: PathBuf,
    },
    /// Seed products through the bulk API, then hold GET /v1/products/{id} at a
    /// fixed request rate (open loop) and report latency percentiles.
    GetProduct(load::GetProductOptions),
    /// No-op jobs through the queue: throughput and enqueue-to-start latency.
    Queue(queue::QueueOptions),
    /// Commit-to-wake-up latency of the outbox relay and sync queue.
    Relay(relay::RelayOptions),
    /// A price change through the API until three simulated channels hold it.
    SyncLatency(sync::LatencyOptions),
    /// New stock for 100,000 SKUs to a simulated Shopify shop at its quota.
    InventorySync(sync::InventoryOptions),
    /// Signed webhook deliveries at a fixed rate to an `api` process.
    WebhookAccept(webhooks::AcceptOptions),
    /// An order on a simulated Shopify shop until two other channels show the stock.
    OrderLatency(webhooks::OrderOptions),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Csv { rows, out } => {
            let file = std::fs::File::create(&out)?;
            let written = catalog_csv::write(std::io::BufWriter::new(file), rows)?;
            println!("wrote {written} rows to {}", out.display());
            Ok(())
        }
        Command::GetProduct(opts) => load::get_product(opts).await,
        Command::Queue(opts) => queue::run(opts).await,
        Command::Relay(opts) => relay::run(opts).await,
        Command::SyncLatency(opts) => sync::latency(opts).await,
        Command::InventorySync(opts) => sync::inventory(opts).await,
        Command::WebhookAccept(opts) => webhooks::accept(opts).await,
        Command::OrderLatency(opts) => webhooks::order_latency(opts).await,
    }
}
