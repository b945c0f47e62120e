//! Connections as the workers and the API use them: stored sealed, opened
//! only to build a channel client, refreshed before their tokens expire,
//! re-sealed under the newest key on rotation, and metered.
//!
//! [`ChannelHub`] is the one place that holds the key ring, so every path
//! that touches a credential goes through the same seal/open code and binds
//! the ciphertext to its connection (tenant and id as associated data).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use shelfsync_channels::oauth;
use shelfsync_channels::{
    AppCredentials, Channel, ChannelDeps, ChannelError, ConnectionConfig, ConnectionSecrets,
    Credentials, PlatformEndpoints,
};
use shelfsync_core::vault::{ExposeSecret, KeyRing, Sealed, VaultError};
use shelfsync_core::{ConnectionId, Platform, TenantId};
use shelfsync_store::{ConnectionRecord, NewAlert, Store, StoreError, UsageDelta};
use url::Url;

/// Refresh OAuth tokens this long before they expire.
pub const REFRESH_MARGIN: chrono::Duration = chrono::Duration::minutes(5);

/// Alert when a minute's use reaches this share of the quota.
pub const QUOTA_ALERT_THRESHOLD: f64 = 0.8;

/// Why a connection could not be used.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("no such connection")]
    NotFound,
    #[error("the connection is disconnected; reconnect it")]
    Disconnected,
    #[error("unknown platform `{0}`")]
    UnknownPlatform(String),
    #[error("stored credentials cannot be opened: {0}")]
    Vault(#[from] VaultError),
    #[error("stored credentials are unreadable")]
    Format,
    #[error(transparent)]
    Channel(#[from] ChannelError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where each platform is reached and as which app.
#[derive(Debug, Clone, Default)]
pub struct ChannelSettings {
    /// Base URL per platform when not the platform's own hosts (the
    /// simulator, a sandbox).
    pub bases: HashMap<Platform, Url>,
    /// The app Shelfsync is registered as on each OAuth platform.
    pub apps: HashMap<Platform, AppCredentials>,
}

impl ChannelSettings {
    /// Parse `shopify=http://…,ebay=http://…`.
    pub fn parse_bases(spec: &str) -> Result<HashMap<Platform, Url>, String> {
        let mut bases = HashMap::new();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (platform, url) = entry
                .split_once('=')
                .ok_or_else(|| format!("`{entry}` is not platform=url"))?;
            let platform: Platform = platform.trim().parse().map_err(|e| format!("{e}"))?;
            let url: Url = url
                .trim()
                .parse()
                .map_err(|e| format!("`{url}` is not a URL: {e}"))?;
            bases.insert(platform, url);
        }
        Ok(bases)
    }

    /// Parse `shopify=client_id:client_secret,…`. Errors never echo the secret.
    pub fn parse_apps(spec: &str) -> Result<HashMap<Platform, AppCredentials>, String> {
        let mut apps = HashMap::new();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (platform, creds) = entry
                .split_once('=')
                .ok_or_else(|| "an app entry is not platform=client_id:client_secret".to_owned())?;
            let platform: Platform = platform.trim().parse().map_err(|e| format!("{e}"))?;
            let (id, secret) = creds.split_once(':').ok_or_else(|| {
                format!("the {platform} app entry is not client_id:client_secret")
            })?;
            apps.insert(
                platform,
                AppCredentials {
                    client_id: id.trim().to_owned(),
                    client_secret: secret.trim().to_owned().into(),
                },
            );
        }
        Ok(apps)
    }
}

/// Opens, refreshes, re-seals and meters connections.
#[derive(Clone)]
pub struct ChannelHub {
    store: Store,
    vault: Arc<KeyRing>,
    deps: ChannelDeps,
    settings: Arc<ChannelSettings>,
    /// Adapters already built, so what an adapter learns once (a shop's
    /// location, a resolved marketplace) is not asked again on every run.
    adapters: Arc<Mutex<HashMap<ConnectionId, CachedAdapter>>>,
}

/// An adapter and the stored state it was built from: a change of
/// credentials (refresh, rotation), settings or status builds a new one.
struct CachedAdapter {
    fingerprint: Vec<u8>,
    expires_at: Option<chrono::DateTime<Utc>>,
    channel: Arc<dyn Channel>,
}

/// What an adapter depends on in a connection's row.
fn fingerprint(record: &ConnectionRecord) -> Vec<u8> {
    let mut f = Vec::new();
    if let Some(sealed) = &record.credentials {
        f.extend_from_slice(sealed.key_id.as_bytes());
        f.extend_from_slice(&sealed.nonce);
    }
    f.extend_from_slice(record.status.as_bytes());
    f.extend_from_slice(record.settings.to_string().as_bytes());
    f.extend_from_slice(record.account.as_deref().unwrap_or_default().as_bytes());
    f
}

/// What a key rotation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RotationReport {
    pub resealed: u64,
    /// Rows changed by someone else (a token refresh) between read and
    /// write; their new ciphertext is already under the current key.
    pub raced: u64,
    /// Rows no configured key opens (the key that sealed them was removed).
    pub unreadable: u64,
}

fn owner(tenant: TenantId, id: ConnectionId) -> Vec<u8> {
    format!("platform_connections/{tenant}/{id}").into_bytes()
}

impl ChannelHub {
    pub fn new(
        store: Store,
        vault: Arc<KeyRing>,
        deps: ChannelDeps,
        settings: ChannelSettings,
    ) -> Self {
        Self {
            store,
            vault,
            deps,
            settings: Arc::new(settings),
            adapters: Arc::default(),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn deps(&self) -> &ChannelDeps {
        &self.deps
    }

    pub fn vault(&self) -> &KeyRing {
        &self.vault
    }

    pub fn app(&self, platform: Platform) -> Option<&AppCredentials> {
        self.settings.apps.get(&platform)
    }

    /// The platform's endpoints for `account` under this deployment's settings.
    pub fn endpoints(&self, platform: Platform, account: &str) -> PlatformEndpoints {
        shelfsync_channels::endpoints(platform, account, self.settings.bases.get(&platform))
    }

    /// Seal a connection's secrets, bound to it.
    pub fn seal(&self, tenant: TenantId, id: ConnectionId, secrets: &ConnectionSecrets) -> Sealed {
        let plaintext = String::from_utf8(secrets.to_plaintext()).expect("credentials are JSON");
        self.vault.seal(&plaintext, &owner(tenant, id))
    }

    /// Open a stored connection's secrets.
    pub fn open(&self, record: &ConnectionRecord) -> Result<ConnectionSecrets, HubError> {
        let sealed = record.credentials.as_ref().ok_or(HubError::Disconnected)?;
        let plaintext = self.vault.open(sealed, &owner(record.tenant, record.id))?;
        ConnectionSecrets::from_plaintext(plaintext.expose_secret().as_bytes())
            .map_err(|_| HubError::Format)
    }

    fn platform(record: &ConnectionRecord) -> Result<Platform, HubError> {
        record
            .platform
            .parse()
            .map_err(|_| HubError::UnknownPlatform(record.platform.clone()))
    }

    /// What an adapter needs for this connection, refreshing its OAuth
    /// tokens first when they are inside [`REFRESH_MARGIN`] of expiry.
    pub async fn config(&self, record: &ConnectionRecord) -> Result<ConnectionConfig, HubError> {
        if record.status == "disconnected" {
            return Err(HubError::Disconnected);
        }
        let platform = Self::platform(record)?;
        let mut secrets = self.open(record)?;
        if secrets
            .oauth()
            .is_some_and(|t| t.needs_refresh(Utc::now(), REFRESH_MARGIN))
        {
            secrets = self.refresh(record, platform, secrets).await?;
        }
        let account = record.account.clone().unwrap_or_default();
        Ok(ConnectionConfig {
            tenant: record.tenant,
            connection: record.id,
            platform,
            endpoints: self.endpoints(platform, &account),
            account,
            settings: record.settings.clone(),
            secrets,
            app: self.app(platform).cloned(),
        })
    }

    /// The adapter for a tenant's connection.
    pub async fn channel(
        &self,
        tenant: TenantId,
        id: ConnectionId,
    ) -> Result<Arc<dyn Channel>, HubError> {
        let record = self
            .store
            .get_connection(tenant, id)
            .await?
            .ok_or(HubError::NotFound)?;
        let print = fingerprint(&record);
        {
            let adapters = self.adapters.lock().expect("adapter cache lock");
            if let Some(cached) = adapters.get(&id)
                && cached.fingerprint == print
                && cached
                    .expires_at
                    .is_none_or(|at| at - REFRESH_MARGIN > Utc::now())
            {
                return Ok(cached.channel.clone());
            }
        }
        let config = self.config(&record).await?;
        let expires_at = config.secrets.oauth().and_then(|t| t.expires_at);
        let channel = shelfsync_channels::connect(config, &self.deps)?;
        // After a refresh the row no longer matches `print`, so the next call
        // builds once more from what is stored now.
        self.adapters.lock().expect("adapter cache lock").insert(
            id,
            CachedAdapter {
                fingerprint: print,
                expires_at,
                channel: channel.clone(),
            },
        );
        Ok(channel)
    }

    /// Refresh a connection's tokens and store them sealed. If another
    /// process refreshed first (the stored ciphertext changed under us),
    /// use what it stored.
    async fn refresh(
        &self,
        record: &ConnectionRecord,
        platform: Platform,
        secrets: ConnectionSecrets,
    ) -> Result<ConnectionSecrets, HubError> {
        let (Some(tokens), Some(app)) = (secrets.oauth(), self.app(platform)) else {
            return Ok(secrets);
        };
        let account = record.account.clone().unwrap_or_default();
        let endpoints = self.endpoints(platform, &account);
        let Some(oauth_endpoints) = shelfsync_channels::oauth_endpoints(platform, &endpoints)
        else {
            return Ok(secrets);
        };
        let fresh =
            oauth::refresh(&self.deps.client, &oauth_endpoints, app, tokens, Utc::now()).await?;
        let expires_at = fresh.expires_at;
        let renewed = ConnectionSecrets {
            credentials: Credentials::OAuth(fresh),
            webhook_secret: secrets.webhook_secret.clone(),
        };
        let sealed = self.seal(record.tenant, record.id, &renewed);
        let stored = self
            .store
            .replace_credentials(
                record.tenant,
                record.id,
                record.credentials.as_ref(),
                &sealed,
                expires_at,
            )
            .await?;
        if stored {
            tracing::info!(connection = %record.id, platform = %platform, "refreshed OAuth tokens");
            return Ok(renewed);
        }
        let current = self
            .store
            .get_connection(record.tenant, record.id)
            .await?
            .ok_or(HubError::NotFound)?;
        self.open(&current)
    }

    /// Re-seal every stored credential under the newest key, in batches,
    /// while everything else keeps running: each row is swapped only if it
    /// is still what was read, so a concurrent refresh always wins.
    pub async fn rotate_keys(&self, batch: i64) -> Result<RotationReport, HubError> {
        let mut report = RotationReport::default();
        let mut skip: std::collections::HashSet<ConnectionId> = Default::default();
        loop {
            let stale = self
                .store
                .stale_credentials(self.vault.current_id(), batch + skip.len() as i64)
                .await?;
            let work: Vec<_> = stale
                .into_iter()
                .filter(|s| !skip.contains(&s.id))
                .collect();
            if work.is_empty() {
                return Ok(report);
            }
            for row in work {
                let resealed = match self.vault.reseal(&row.sealed, &owner(row.tenant, row.id)) {
                    Ok(sealed) => sealed,
                    Err(error) => {
                        tracing::warn!(connection = %row.id, %error, "credentials no configured key opens");
                        report.unreadable += 1;
                        skip.insert(row.id);
                        continue;
                    }
                };
                let current = self
                    .store
                    .get_connection(row.tenant, row.id)
                    .await?
                    .and_then(|r| r.token_expires_at);
                let swapped = self
                    .store
                    .replace_credentials(row.tenant, row.id, Some(&row.sealed), &resealed, current)
                    .await?;
                if swapped {
                    report.resealed += 1;
                } else {
                    report.raced += 1;
                }
            }
        }
    }

    /// Write the meter's counts to `rate_limit_tracking` and raise a quota
    /// alert for any connection whose minute reached 80% of its quota.
    pub async fn flush_usage(&self) -> Result<usize, HubError> {
        let rows = self.deps.usage.drain();
        if rows.is_empty() {
            return Ok(0);
        }
        let deltas: Vec<UsageDelta> = rows
            .iter()
            .map(|r| UsageDelta {
                tenant: r.tenant,
                connection: r.connection,
                window_start: r.window_start,
                calls: r.calls,
                cost_used: r.cost_used.round() as i64,
                throttled: r.throttled,
                quota_limit: r.quota_limit.map(|q| q.round() as i64),
            })
            .collect();
        if let Err(error) = self.store.add_usage(&deltas).await {
            // Put nothing back: usage is a gauge, and a lost minute is better
            // than counting it twice on the next flush.
            return Err(error.into());
        }
        for row in &rows {
            let Some(limit) = row.quota_limit.filter(|l| *l > 0.0) else {
                continue;
            };
            let stored = self
                .store
                .usage_since(row.tenant, row.connection, row.window_start)
                .await?;
            let used: i64 = stored
                .iter()
                .filter(|u| u.window_start == row.window_start)
                .map(|u| u.cost_used)
                .sum();
            let share = used as f64 / limit;
            if share >= QUOTA_ALERT_THRESHOLD {
                let raised = self
                    .store
                    .raise_alert(&NewAlert {
                        tenant: Some(row.tenant),
                        kind: "quota".into(),
                        severity: "warning".into(),
                        subject: format!("connection:{}", row.connection),
                        message: format!(
                            "connection {} used {:.0}% of its API quota in one minute",
                            row.connection,
                            share * 100.0
                        ),
                        detail: serde_json::json!({
                            "connection_id": row.connection.to_string(),
                            "window_start": row.window_start,
                            "used": used,
                            "limit": limit,
                        }),
                    })
                    .await?;
                if raised {
                    tracing::warn!(connection = %row.connection, share, "API quota above 80%");
                }
            }
        }
        Ok(rows.len())
    }
}
