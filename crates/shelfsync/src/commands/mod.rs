pub mod channels;
pub mod demo;
pub mod export;
pub mod import;
pub mod keys;
pub mod migrate;
pub mod queue;
pub mod serve;
pub mod worker;

use anyhow::Context;
use shelfsync_core::TenantId;
use shelfsync_store::{Store, StoreOptions};

use crate::config::GlobalOptions;

/// Connects to the configured database and brings its schema up to date.
pub async fn open_store(global: &GlobalOptions) -> anyhow::Result<Store> {
    let url = global.database_url();
    let options = StoreOptions {
        max_connections: global.db_max_connections,
        ..StoreOptions::default()
    };
    let store = Store::connect(&url, &options)
        .await
        .with_context(|| format!("could not open the database ({})", redact_url(&url)))?;
    store
        .migrate()
        .await
        .context("could not apply database migrations")?;
    Ok(store)
}

/// The tenant a command-line operation acts on.
pub async fn resolve_tenant(store: &Store, tenant: Option<&str>) -> anyhow::Result<TenantId> {
    match tenant {
        Some(t) => t.parse().map_err(|e| anyhow::anyhow!("--tenant: {e}")),
        None => Ok(store.ensure_default_tenant().await?),
    }
}

/// A database URL with its password hidden, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}://{}:***@{}", &url[..scheme_end], user, &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact_url("postgres://u:secret@db:5432/x"),
            "postgres://u:***@db:5432/x"
        );
        assert_eq!(redact_url("sqlite://./data/s.db"), "sqlite://./data/s.db");
    }
}
