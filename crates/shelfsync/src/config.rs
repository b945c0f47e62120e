//! Command-line flags and environment variables: every setting has both, and
//! `--help` lists each with its variable and default.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "shelfsync",
    version,
    about = "Keep one master catalog in step with every sales channel."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOptions,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Everything in one process: API and (as they land) workers. Creates and
    /// prints an admin API key on first run.
    Serve(ServeOptions),
    /// The stateless HTTP API only, for running several behind a load balancer.
    Api(ServeOptions),
    /// Apply database migrations and exit.
    Migrate,
    /// Import products from a Shopify product CSV (upsert by SKU).
    Import(ImportOptions),
    /// Export products as a Shopify product CSV.
    Export(ExportOptions),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct GlobalOptions {
    /// Where embedded-mode files live (SQLite database, generated keys).
    #[arg(
        long,
        env = "SHELFSYNC_DATA_DIR",
        default_value = "./shelfsync-data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// `sqlite://path` or `postgres://…`; defaults to SQLite in the data dir.
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Enables scaled mode (shared rate limits, wake-ups); unset = embedded.
    #[arg(long, env = "REDIS_URL", global = true)]
    pub redis_url: Option<String>,
    /// Database connections per process.
    #[arg(
        long,
        env = "SHELFSYNC_DB_MAX_CONNECTIONS",
        default_value_t = 16,
        global = true
    )]
    pub db_max_connections: u32,
    #[arg(
        long,
        env = "SHELFSYNC_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,
}

impl GlobalOptions {
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("shelfsync.db").display()))
    }
}

#[derive(Debug, Args)]
pub struct ServeOptions {
    #[arg(long, env = "SHELFSYNC_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Fixes the first-run admin key instead of generating one.
    #[arg(long, env = "SHELFSYNC_BOOTSTRAP_API_KEY", hide_env_values = true)]
    pub bootstrap_api_key: Option<String>,
    /// Requests per minute per API key or user.
    #[arg(long, env = "SHELFSYNC_RATE_LIMIT_PER_MINUTE", default_value_t = 100)]
    pub rate_limit_per_minute: u32,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "SHELFSYNC_MAX_BODY_BYTES", default_value_t = shelfsync_server::DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// Clerk JWKS URL; enables Clerk session tokens.
    #[arg(long, env = "CLERK_JWKS_URL")]
    pub clerk_jwks_url: Option<String>,
    /// Expected `iss` of Clerk session tokens.
    #[arg(long, env = "CLERK_ISSUER")]
    pub clerk_issuer: Option<String>,
    /// Accepted `azp` values of Clerk session tokens, comma separated.
    #[arg(long, env = "CLERK_AUTHORIZED_PARTIES", value_delimiter = ',')]
    pub clerk_authorized_parties: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ImportOptions {
    /// The CSV file, in Shopify's product export layout.
    pub file: PathBuf,
    /// Tenant to import into (`ten_…`); defaults to the embedded default tenant.
    #[arg(long)]
    pub tenant: Option<String>,
    /// Products per transaction.
    #[arg(long, default_value_t = 250)]
    pub batch_size: usize,
    /// Batches written at once on PostgreSQL (SQLite always writes one at a time).
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
}

#[derive(Debug, Args)]
pub struct ExportOptions {
    /// Write here instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Tenant to export (`ten_…`); defaults to the embedded default tenant.
    #[arg(long)]
    pub tenant: Option<String>,
}
