//! `shelfsync serve` and `shelfsync api`.

use std::net::SocketAddr;

use anyhow::Context;
use shelfsync_channels::standard_webhooks::SigningSecret;
use shelfsync_runtime::WorkerKind;
use shelfsync_server::auth::api_key;
use shelfsync_server::auth::clerk::ClerkConfig;
use shelfsync_server::{AppState, ServerConfig};
use shelfsync_store::Store;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::config::{GlobalOptions, ServeOptions};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything in one process; makes a first-run admin key.
    Serve,
    /// HTTP only.
    Api,
}

/// Runs until SIGINT or SIGTERM. `ready`, if given, learns the address once
/// the server listens (the demo seeds through the API from then on).
pub async fn run(
    global: &GlobalOptions,
    opts: ServeOptions,
    role: Role,
    ready: Option<oneshot::Sender<SocketAddr>>,
) -> anyhow::Result<()> {
    let store = super::open_store(global).await?;
    let admin_key = bootstrap(&store, opts.bootstrap_api_key.as_deref(), role).await?;

    let config = ServerConfig {
        rate_limit_per_minute: opts.rate_limit_per_minute,
        max_body_bytes: opts.max_body_bytes,
        clerk: opts.clerk_jwks_url.map(|jwks_url| ClerkConfig {
            jwks_url,
            issuer: opts.clerk_issuer,
            authorized_parties: opts.clerk_authorized_parties,
        }),
        public_url: opts.public_url.clone(),
        max_webhook_bytes: opts.max_webhook_bytes,
        clerk_webhook_secrets: opts
            .clerk_webhook_signing_secret
            .iter()
            .map(|s| SigningSecret::parse(s.trim()))
            .collect::<Result<_, _>>()
            .map_err(|_| anyhow::anyhow!("CLERK_WEBHOOK_SIGNING_SECRET is not a whsec_ secret"))?,
        ..ServerConfig::default()
    };
    let hub = super::channels::hub(global, &store).await?;
    let mut state = AppState::new(store.clone(), config, global.redis_url.as_deref()).await?;
    state.channels = Some(hub.clone());
    // `serve` runs every worker in this process, sharing the API's wake-ups.
    let workers = match role {
        Role::Serve => Some(
            super::worker::start(
                &store,
                state.wakeups.clone(),
                &opts.runtime,
                &WorkerKind::ALL,
                hub,
            )
            .await?,
        ),
        Role::Api => None,
    };
    let app = shelfsync_server::router(state);
    let listener = TcpListener::bind(opts.listen)
        .await
        .with_context(|| format!("could not listen on {}", opts.listen))?;
    let addr = listener.local_addr()?;

    println!("Shelfsync is running on http://{addr}");
    println!("  API docs:  http://{addr}/docs");
    println!("  database:  {}", super::redact_url(&global.database_url()));
    println!(
        "  mode:      {}",
        if global.redis_url.is_some() {
            "scaled (Redis)"
        } else {
            "embedded"
        }
    );
    if let Some(key) = admin_key {
        println!();
        println!("  Admin API key (shown once, keep it safe):");
        println!("    {key}");
        println!("  Try: curl -H 'Authorization: Bearer {key}' http://{addr}/v1/products");
    }
    tracing::info!(%addr, ?role, "listening");
    if let Some(ready) = ready {
        let _ = ready.send(addr);
    }

    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("server failed")?;
    if let Some(workers) = workers {
        workers.shutdown().await;
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Makes sure someone can log in: the configured bootstrap key, or on the first
/// `serve` of an empty database a generated one. Returns a key to print once.
async fn bootstrap(
    store: &Store,
    configured: Option<&str>,
    role: Role,
) -> anyhow::Result<Option<String>> {
    if let Some(secret) = configured {
        if !api_key::looks_like_key(secret) || secret.len() < 24 {
            anyhow::bail!(
                "SHELFSYNC_BOOTSTRAP_API_KEY must start with `{}` and be at least 24 characters",
                api_key::KEY_PREFIX
            );
        }
        let key = api_key::from_secret(secret);
        store
            .ensure_bootstrap_key(&key.display_prefix, &key.hash)
            .await?;
        return Ok(None);
    }
    if role == Role::Serve && store.count_api_keys().await? == 0 {
        let key = api_key::generate();
        store
            .ensure_bootstrap_key(&key.display_prefix, &key.hash)
            .await?;
        return Ok(Some(key.secret));
    }
    Ok(None)
}

/// Resolves on SIGINT or SIGTERM: in-flight requests finish, new ones are refused.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
