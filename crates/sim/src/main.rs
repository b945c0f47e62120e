//! `shelfsync-sim`: the channel simulator as a standalone server.

use std::net::SocketAddr;

use clap::Parser;

/// Serve simulated Shopify, WooCommerce, eBay, Etsy and Amazon APIs.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "SHELFSYNC_SIM_LISTEN", default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let sim = shelfsync_sim::Simulator::start(args.listen).await?;
    println!("channel simulator listening on {}", sim.url());
    for platform in shelfsync_sim::platforms() {
        println!("  {:<12} {}", platform.name(), sim.base(platform.name()));
    }
    println!("  control      {}/_sim/stats", sim.url());
    tokio::signal::ctrl_c().await?;
    Ok(())
}
