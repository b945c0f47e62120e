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
    /// Everything in one process: the API and all workers. Creates and prints
    /// an admin API key on first run.
    Serve(ServeOptions),
    /// The stateless HTTP API only, for running several behind a load balancer.
    Api(ServeOptions),
    /// Try the product: `serve` on a fresh demo database with three simulated
    /// shops, a sample catalog, rules and a trickle of orders; prints the
    /// dashboard URL and an API key.
    Demo(crate::commands::demo::DemoOptions),
    /// Background workers only (outbox relay, sync, webhook, cleanup).
    Worker(WorkerOptions),
    /// Show the job queues, the outbox backlog and the worker processes.
    Queue,
    /// Apply database migrations and exit.
    Migrate,
    /// Import products from a Shopify product CSV (upsert by SKU).
    Import(ImportOptions),
    /// Export products as a Shopify product CSV.
    Export(ExportOptions),
    /// Encryption keys for channel credentials: generate, rotate, status.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Print a new key entry (`id:base64key`) to put first in SHELFSYNC_ENCRYPTION_KEYS.
    Generate {
        /// The key's id; defaults to one based on today's date.
        #[arg(long)]
        id: Option<String>,
    },
    /// Re-encrypt every stored credential under the first (newest) key,
    /// online: workers and the API keep running.
    Rotate {
        /// Embedded mode: generate a new key, put it first in the data
        /// dir's key file, then re-encrypt under it.
        #[arg(long)]
        add_key: bool,
    },
    /// How many stored credentials each key encrypts.
    Status,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Args)]
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
    /// Keys for channel credentials, `id:base64key,…`, newest first (it
    /// encrypts; all decrypt). Generated into the data dir on the first
    /// embedded run if unset.
    #[arg(
        long,
        env = "SHELFSYNC_ENCRYPTION_KEYS",
        hide_env_values = true,
        global = true
    )]
    pub encryption_keys: Option<String>,
    /// Where to reach platforms other than their own hosts, `platform=url,…`
    /// (the channel simulator, a sandbox).
    #[arg(long, env = "SHELFSYNC_CHANNEL_BASES", global = true)]
    pub channel_bases: Option<String>,
    /// The OAuth app per platform, `platform=client_id:client_secret,…`.
    #[arg(
        long,
        env = "SHELFSYNC_CHANNEL_APPS",
        hide_env_values = true,
        global = true
    )]
    pub channel_apps: Option<String>,
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
    /// The URL this server is reached at from outside (OAuth redirects);
    /// unset, the request's own `Host` over http:// (fine for local use).
    #[arg(long, env = "SHELFSYNC_PUBLIC_URL")]
    pub public_url: Option<String>,
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
    /// Signing secret(s) of the Clerk webhook endpoint (`whsec_…`, comma
    /// separated while rotating); enables `POST /webhooks/clerk`.
    #[arg(
        long,
        env = "CLERK_WEBHOOK_SIGNING_SECRET",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub clerk_webhook_signing_secret: Vec<String>,
    /// Largest accepted webhook body, in bytes.
    #[arg(long, env = "SHELFSYNC_MAX_WEBHOOK_BYTES", default_value_t = shelfsync_server::webhooks::DEFAULT_MAX_WEBHOOK_BYTES)]
    pub max_webhook_bytes: usize,
    #[command(flatten)]
    pub runtime: RuntimeOptions,
}

#[derive(Debug, Args)]
pub struct WorkerOptions {
    /// Run only these workers (comma separated): sync, webhook, outbox, cleanup.
    #[arg(long, env = "SHELFSYNC_WORKERS", value_delimiter = ',', value_parser = parse_worker_kind)]
    pub only: Vec<shelfsync_runtime::WorkerKind>,
    #[command(flatten)]
    pub runtime: RuntimeOptions,
}

fn parse_worker_kind(s: &str) -> Result<shelfsync_runtime::WorkerKind, String> {
    s.trim().parse()
}

/// How workers run (`serve` and `worker`).
#[derive(Debug, Clone, Args)]
pub struct RuntimeOptions {
    /// Seconds a worker holds a job without renewing; a dead worker's jobs return after it.
    #[arg(long, env = "SHELFSYNC_JOB_LEASE_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub job_lease_secs: u64,
    /// Milliseconds between checks for work when no wake-up arrives.
    #[arg(long, env = "SHELFSYNC_QUEUE_POLL_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..))]
    pub queue_poll_ms: u64,
    /// Seconds shutdown waits for running jobs before handing them back.
    #[arg(long, env = "SHELFSYNC_SHUTDOWN_GRACE_SECS", default_value_t = 30)]
    pub shutdown_grace_secs: u64,
    /// Attempts before a job moves to the dead letters.
    #[arg(long, env = "SHELFSYNC_JOB_MAX_ATTEMPTS", default_value_t = 10, value_parser = clap::value_parser!(i32).range(1..))]
    pub job_max_attempts: i32,
    /// Connections synced at once per process.
    #[arg(long, env = "SHELFSYNC_SYNC_CONCURRENCY", default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..))]
    pub sync_concurrency: u64,
    /// Minutes between reconciliations of every active connection.
    #[arg(long, env = "SHELFSYNC_RECONCILE_EVERY_MINUTES", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..))]
    pub reconcile_every_minutes: u64,
    /// Seconds between polls of every active connection's recent orders
    /// (the way in for channels without webhooks; a safety net for the rest).
    #[arg(long, env = "SHELFSYNC_ORDER_POLL_EVERY_SECONDS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    pub order_poll_every_seconds: u64,
}

impl RuntimeOptions {
    pub fn config(&self) -> shelfsync_runtime::RuntimeConfig {
        use std::time::Duration;
        shelfsync_runtime::RuntimeConfig {
            lease: Duration::from_secs(self.job_lease_secs),
            poll: Duration::from_millis(self.queue_poll_ms),
            grace: Duration::from_secs(self.shutdown_grace_secs),
            max_attempts: self.job_max_attempts,
            sync_concurrency: self.sync_concurrency as usize,
            reconcile_every: Duration::from_secs(self.reconcile_every_minutes * 60),
            order_poll_every: Duration::from_secs(self.order_poll_every_seconds),
            ..shelfsync_runtime::RuntimeConfig::default()
        }
    }
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
