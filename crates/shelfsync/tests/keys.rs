//! Key rotation while channels are in use: connections sealed under an old
//! key are re-sealed by `shelfsync keys rotate` while a worker keeps
//! calling their channels (and refreshing their OAuth tokens, which writes
//! new ciphertexts at the same time). Nothing fails, no old ciphertext
//! remains, and no token appears in any log or API response.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use shelfsync_channels::{
    AppCredentials, ChannelDeps, ConnectionSecrets, Credentials, OAuthTokens,
};
use shelfsync_core::vault::{ExposeSecret, KeyRing};
use shelfsync_core::{ConnectionId, Platform};
use shelfsync_runtime::connections::{ChannelHub, ChannelSettings};
use shelfsync_store::{NewConnection, Store, StoreOptions};

const API_KEY: &str = "ssk_keyrotationtestkeyrotationtest000000";

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn hub(store: &Store, sim: &shelfsync_sim::Simulator, keys: &str) -> ChannelHub {
    let mut settings = ChannelSettings::default();
    for platform in [Platform::Ebay, Platform::WooCommerce] {
        settings
            .bases
            .insert(platform, sim.base(platform.as_str()).parse().unwrap());
    }
    settings.apps.insert(
        Platform::Ebay,
        AppCredentials {
            client_id: "shelfsync-test-app".into(),
            client_secret: shelfsync_sim::SIM_CLIENT_SECRET.to_owned().into(),
        },
    );
    ChannelHub::new(
        store.clone(),
        Arc::new(KeyRing::parse(keys).unwrap()),
        ChannelDeps::local(),
        settings,
    )
}

fn bases(sim: &shelfsync_sim::Simulator) -> String {
    format!(
        "ebay={},woocommerce={}",
        sim.base("ebay"),
        sim.base("woocommerce")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_keys_while_syncing_loses_nothing_and_leaks_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}", dir.path().join("shelfsync.db").display());
    let old_keys = KeyRing::generate_entry("k1").expose_secret().to_owned();
    let new_key = KeyRing::generate_entry("k2").expose_secret().to_owned();
    let both_keys = format!("{new_key},{old_keys}");
    let sim = shelfsync_sim::Simulator::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();

    let store = Store::connect(&db_url, &StoreOptions::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let key = shelfsync_server::auth::api_key::from_secret(API_KEY);
    let (tenant, _) = store
        .ensure_bootstrap_key(&key.display_prefix, &key.hash)
        .await
        .unwrap();

    // Twelve connections sealed under the old key: WooCommerce keys, and
    // eBay tokens a minute from expiry, so every use refreshes them.
    let old_hub = hub(&store, &sim, &old_keys);
    let mut secrets_seen: Vec<String> = Vec::new();
    let mut connections: Vec<ConnectionId> = Vec::new();
    for n in 0..12 {
        let id = ConnectionId::new();
        let (platform, account, secrets) = if n % 2 == 0 {
            let creds = sim.create_account("woocommerce", &format!("store{n}"), None);
            secrets_seen.extend([creds.consumer_key.clone(), creds.consumer_secret.clone()]);
            (
                Platform::WooCommerce,
                format!("{}/store{n}", sim.base("woocommerce")),
                ConnectionSecrets {
                    credentials: Credentials::ConsumerKey {
                        key: creds.consumer_key.into(),
                        secret: creds.consumer_secret.into(),
                    },
                    webhook_secret: Some(creds.webhook_secret.into()),
                },
            )
        } else {
            let creds = sim.create_account("ebay", &format!("seller{n}"), None);
            secrets_seen.extend([creds.access_token.clone(), creds.refresh_token.clone()]);
            (
                Platform::Ebay,
                format!("seller{n}"),
                ConnectionSecrets {
                    credentials: Credentials::OAuth(OAuthTokens {
                        access_token: creds.access_token.into(),
                        refresh_token: Some(creds.refresh_token.into()),
                        expires_at: Some(chrono::Utc::now() + chrono::Duration::seconds(60)),
                        scope: None,
                    }),
                    webhook_secret: None,
                },
            )
        };
        store
            .create_connection(&NewConnection {
                id,
                tenant,
                platform: platform.as_str().into(),
                name: format!("connection {n}"),
                account: Some(account),
                settings: serde_json::json!({}),
                credentials: Some(old_hub.seal(tenant, id, &secrets)),
                token_expires_at: None,
            })
            .await
            .unwrap();
        connections.push(id);
    }

    // The API process, restarted with the new key first, logging everything.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let serve_log = dir.path().join("serve.log");
    let listen = format!("127.0.0.1:{port}");
    let _serve = Process(
        Command::new(env!("CARGO_BIN_EXE_shelfsync"))
            .args(["serve", "--listen", &listen])
            .env("DATABASE_URL", &db_url)
            .env_remove("REDIS_URL")
            .env("SHELFSYNC_DATA_DIR", dir.path())
            .env("SHELFSYNC_ENCRYPTION_KEYS", &both_keys)
            .env("SHELFSYNC_CHANNEL_BASES", bases(&sim))
            .env("SHELFSYNC_BOOTSTRAP_API_KEY", API_KEY)
            .env("RUST_LOG", "debug")
            .stdout(std::fs::File::create(&serve_log).unwrap())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let client = reqwest::Client::new();
    let base = format!("http://{listen}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.get(format!("{base}/readyz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "serve never came up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A worker using every connection, continuously, under the new ring.
    let worker_hub = hub(&store, &sim, &both_keys);
    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let worker = {
        let (stop, calls, failures) = (stop.clone(), calls.clone(), failures.clone());
        let connections = connections.clone();
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                for id in &connections {
                    let result = match worker_hub.channel(tenant, *id).await {
                        Ok(channel) => channel.read_listings(None).await.map_err(|e| e.to_string()),
                        Err(e) => Err(e.to_string()),
                    };
                    match result {
                        Ok(_) => calls.fetch_add(1, Ordering::Relaxed),
                        Err(e) => {
                            failures.lock().unwrap().push(format!("{id}: {e}"));
                            0
                        }
                    };
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;

    let output = tokio::task::spawn_blocking({
        let db_url = db_url.clone();
        let both_keys = both_keys.clone();
        let data_dir = dir.path().to_owned();
        move || {
            Command::new(env!("CARGO_BIN_EXE_shelfsync"))
                .args(["keys", "rotate"])
                .env("DATABASE_URL", &db_url)
                .env("SHELFSYNC_DATA_DIR", &data_dir)
                .env("SHELFSYNC_ENCRYPTION_KEYS", &both_keys)
                .env("RUST_LOG", "debug")
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let rotate_out = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{rotate_out}");
    assert!(
        rotate_out.contains("every stored credential is under the current key"),
        "{rotate_out}"
    );

    // Keep using the channels a little after the rotation, then stop.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    worker.await.unwrap();
    let failures = failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "channel use failed during rotation: {failures:?}"
    );
    assert!(calls.load(Ordering::Relaxed) >= 24, "the worker barely ran");

    // No ciphertext under the old key: every row opens with the new key alone.
    let counts = store.credentials_by_key().await.unwrap();
    assert_eq!(counts, vec![("k2".to_owned(), 12)], "{counts:?}");
    let new_only = hub(&store, &sim, &new_key);
    for id in &connections {
        let record = store.get_connection(tenant, *id).await.unwrap().unwrap();
        let secrets = new_only
            .open(&record)
            .expect("opens with the new key alone");
        // Refreshed tokens are secrets too: the grep below looks for them.
        match secrets.credentials {
            Credentials::OAuth(t) => {
                secrets_seen.push(t.access_token.expose_secret().to_owned());
                secrets_seen.extend(t.refresh_token.map(|r| r.expose_secret().to_owned()));
            }
            Credentials::ConsumerKey { key, secret } => {
                secrets_seen.extend([
                    key.expose_secret().to_owned(),
                    secret.expose_secret().to_owned(),
                ]);
            }
        }
    }

    // Grep every API response and every log line for every token.
    let mut texts = vec![rotate_out];
    for path in std::iter::once("/v1/connections".to_owned())
        .chain(connections.iter().map(|id| format!("/v1/connections/{id}")))
        .chain(
            connections
                .iter()
                .map(|id| format!("/v1/connections/{id}/usage")),
        )
    {
        let response = client
            .get(format!("{base}{path}"))
            .bearer_auth(API_KEY)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{path}");
        texts.push(response.text().await.unwrap());
    }
    let listed: Value = serde_json::from_str(&texts[1]).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 12);
    drop(_serve);
    texts.push(std::fs::read_to_string(&serve_log).unwrap());
    for secret in &secrets_seen {
        assert!(secret.len() >= 10);
        for text in &texts {
            assert!(
                !text.contains(secret.as_str()),
                "a token leaked into output"
            );
        }
    }
}
