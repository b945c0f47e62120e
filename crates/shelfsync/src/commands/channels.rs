//! Wiring for channel credentials: the key ring and the channel hub.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use shelfsync_channels::{ChannelDeps, LocalGate, QuotaGate, RedisGate, UsageMeter};
use shelfsync_core::vault::{ExposeSecret, KeyRing};
use shelfsync_runtime::connections::{ChannelHub, ChannelSettings};
use shelfsync_store::Store;

use crate::config::GlobalOptions;

/// The key file embedded mode generates when no keys are configured.
pub const KEY_FILE: &str = "encryption-keys";

fn embedded(global: &GlobalOptions) -> bool {
    global.database_url().starts_with("sqlite:")
}

/// A key id for a key made today.
pub fn new_key_id() -> String {
    format!(
        "k{}-{:04x}",
        chrono::Utc::now().format("%Y%m%d"),
        rand::random::<u16>()
    )
}

/// The configured key ring: `SHELFSYNC_ENCRYPTION_KEYS`, or in embedded mode
/// the data dir's key file (created with a new key on first run).
pub fn key_ring(global: &GlobalOptions) -> anyhow::Result<KeyRing> {
    if let Some(spec) = &global.encryption_keys {
        return KeyRing::parse(spec).map_err(|e| anyhow::anyhow!("SHELFSYNC_ENCRYPTION_KEYS: {e}"));
    }
    if !embedded(global) {
        anyhow::bail!(
            "SHELFSYNC_ENCRYPTION_KEYS is required with PostgreSQL (every process must share the keys); \
             make one with `shelfsync keys generate`"
        );
    }
    let path = global.data_dir.join(KEY_FILE);
    if !path.exists() {
        std::fs::create_dir_all(&global.data_dir)
            .with_context(|| format!("could not create {}", global.data_dir.display()))?;
        write_key_file(
            &path,
            KeyRing::generate_entry(&new_key_id()).expose_secret(),
        )?;
        tracing::info!(path = %path.display(), "generated an encryption key for channel credentials");
    }
    let spec = std::fs::read_to_string(&path)
        .with_context(|| format!("could not read {}", path.display()))?;
    KeyRing::parse(spec.trim()).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Write the key file readable by its owner only.
pub fn write_key_file(path: &Path, spec: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let tmp = path.with_extension("tmp");
    let mut file = options
        .open(&tmp)
        .with_context(|| format!("could not write {}", tmp.display()))?;
    file.write_all(spec.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("could not replace {}", path.display()))?;
    Ok(())
}

/// The hub every role uses to reach channels.
pub async fn hub(global: &GlobalOptions, store: &Store) -> anyhow::Result<ChannelHub> {
    let vault = key_ring(global)?;
    let mut settings = ChannelSettings::default();
    if let Some(spec) = &global.channel_bases {
        settings.bases = ChannelSettings::parse_bases(spec)
            .map_err(|e| anyhow::anyhow!("SHELFSYNC_CHANNEL_BASES: {e}"))?;
    }
    if let Some(spec) = &global.channel_apps {
        settings.apps = ChannelSettings::parse_apps(spec)
            .map_err(|e| anyhow::anyhow!("SHELFSYNC_CHANNEL_APPS: {e}"))?;
    }
    let gate: Arc<dyn QuotaGate> = match &global.redis_url {
        Some(url) => {
            let client = redis::Client::open(url.as_str()).context("REDIS_URL is not usable")?;
            let manager = tokio::time::timeout(
                std::time::Duration::from_secs(10),
                redis::aio::ConnectionManager::new(client),
            )
            .await
            .context("timed out connecting to Redis")?
            .context("could not connect to Redis")?;
            Arc::new(RedisGate::new(manager, "shelfsync:"))
        }
        None => Arc::new(LocalGate::default()),
    };
    let deps = ChannelDeps {
        client: shelfsync_channels::default_client(),
        gate,
        usage: Arc::new(UsageMeter::default()),
    };
    Ok(ChannelHub::new(
        store.clone(),
        Arc::new(vault),
        deps,
        settings,
    ))
}
