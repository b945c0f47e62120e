//! `TestApp`: the whole API served on port 0 against a fresh database.
//!
//! SQLite tests get a new file in a temporary directory. PostgreSQL tests get a
//! new database (created from `SHELFSYNC_TEST_POSTGRES_URL`, dropped afterwards)
//! and, as in scaled mode, Redis from `SHELFSYNC_TEST_REDIS_URL` with a key
//! prefix of their own. Without those variables the PostgreSQL variants say
//! they are skipped, unless `SHELFSYNC_TEST_REQUIRE_SERVICES=1` (as in CI), in
//! which case a missing service fails the test.

use std::net::SocketAddr;

use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};
use shelfsync_core::TenantId;
use shelfsync_runtime::connections::{ChannelHub, ChannelSettings};
use shelfsync_server::auth::api_key;
use shelfsync_server::{AppState, ServerConfig};
use shelfsync_store::{Store, WriteContext};

pub use shelfsync_testkit::{Backend, TestDatabase};

/// Generates one `#[tokio::test]` per backend for each named test function
/// `async fn name(app: TestApp)`: the same test, never duplicated.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(app) = $crate::support::TestApp::spawn($crate::support::Backend::Sqlite).await {
                        super::$name(app).await;
                    }
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(app) = $crate::support::TestApp::spawn($crate::support::Backend::Postgres).await {
                        super::$name(app).await;
                    }
                }
            )*
        }
    };
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    /// Admin key of the test's first tenant.
    pub key: String,
    pub tenant: TenantId,
    pub store: Store,
    pub backend: Backend,
    pub state: AppState,
    /// The channel simulator every platform points at.
    pub sim: shelfsync_sim::Simulator,
    redis_url: Option<String>,
    _db: TestDatabase,
}

/// A hub with a fresh key ring whose platforms all point at `sim`, with an
/// OAuth app on each that the simulator accepts.
pub fn channel_hub(store: &Store, sim: &shelfsync_sim::Simulator, keys: &str) -> ChannelHub {
    let mut settings = ChannelSettings::default();
    for platform in shelfsync_core::Platform::ALL {
        settings
            .bases
            .insert(platform, sim.base(platform.as_str()).parse().unwrap());
        settings.apps.insert(
            platform,
            shelfsync_channels::AppCredentials {
                client_id: "shelfsync-test-app".into(),
                client_secret: shelfsync_sim::SIM_CLIENT_SECRET.to_owned().into(),
            },
        );
    }
    ChannelHub::new(
        store.clone(),
        std::sync::Arc::new(shelfsync_core::vault::KeyRing::parse(keys).unwrap()),
        shelfsync_channels::ChannelDeps::local(),
        settings,
    )
}

/// A key ring spec with one fresh key.
pub fn fresh_keys(id: &str) -> String {
    use shelfsync_core::vault::{ExposeSecret, KeyRing};
    KeyRing::generate_entry(id).expose_secret().to_owned()
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        Self::spawn_with(
            backend,
            ServerConfig {
                rate_limit_per_minute: 10_000,
                ..ServerConfig::default()
            },
        )
        .await
    }

    pub async fn spawn_with(backend: Backend, mut config: ServerConfig) -> Option<TestApp> {
        let db = TestDatabase::create(backend).await?;
        let store = db.store.clone();
        let redis_url = db.redis_url.clone();
        config.redis_prefix = format!("shelfsync-test:{}:", uuid::Uuid::new_v4().simple());
        let key = api_key::generate();
        let (tenant, _) = store
            .ensure_bootstrap_key(&key.display_prefix, &key.hash)
            .await
            .unwrap();
        let sim = shelfsync_sim::Simulator::start("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let mut state = AppState::new(store.clone(), config, redis_url.as_deref())
            .await
            .unwrap();
        state.channels = Some(channel_hub(&store, &sim, &fresh_keys("test1")));
        let addr = serve(state.clone()).await;
        Some(TestApp {
            addr,
            client: reqwest::Client::new(),
            key: key.secret,
            tenant,
            store,
            backend,
            state,
            sim,
            redis_url,
            _db: db,
        })
    }

    /// A second server on the same database and Redis, as a second API process.
    pub async fn sibling(&self) -> SocketAddr {
        let config = (*self.state.config).clone();
        let mut state = AppState::new(self.store.clone(), config, self.redis_url.as_deref())
            .await
            .unwrap();
        state.channels = self.state.channels.clone();
        serve(state).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.request_as(&self.key, method, path)
    }

    pub fn request_as(&self, key: &str, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path)).bearer_auth(key)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path).send().await.unwrap()
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.request(Method::POST, path)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Response {
        self.request(Method::PATCH, path)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn put(&self, path: &str, body: &Value) -> Response {
        self.request(Method::PUT, path)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.request(Method::DELETE, path).send().await.unwrap()
    }

    /// Creates a product and returns its JSON.
    pub async fn create_product(&self, body: &Value) -> Value {
        let response = self.post("/v1/products", body).await;
        assert_eq!(
            response.status(),
            201,
            "create failed: {}",
            response.text().await.unwrap()
        );
        response.json().await.unwrap()
    }

    /// Starts the outbox relay and the sync worker on this app's store,
    /// wake-ups and channel hub, as `shelfsync serve` runs them beside the
    /// API, with short polls and back-offs for tests. Shut the handle down
    /// at the end of the test.
    pub async fn start_workers(&self) -> shelfsync_runtime::RuntimeHandle {
        use shelfsync_runtime::WorkerKind;
        self.start_workers_of(&[WorkerKind::Outbox, WorkerKind::Sync], false)
            .await
    }

    /// Starts `kinds` of worker; with `reconcile`, product edits arriving by
    /// webhook are settled (and scheduled reconciliations run).
    pub async fn start_workers_of(
        &self,
        kinds: &[shelfsync_runtime::WorkerKind],
        reconcile: bool,
    ) -> shelfsync_runtime::RuntimeHandle {
        use std::time::Duration;

        use shelfsync_runtime::push::ChannelPush;
        use shelfsync_runtime::{Backoff, Reconciler, Runtime, RuntimeConfig};

        let hub = self
            .state
            .channels
            .clone()
            .expect("the test app has a channel hub");
        let config = RuntimeConfig {
            lease: Duration::from_secs(5),
            poll: Duration::from_millis(200),
            grace: Duration::from_secs(5),
            heartbeat: Duration::from_millis(200),
            max_attempts: 5,
            backoff: Backoff {
                base: Duration::from_millis(200),
                max: Duration::from_secs(2),
            },
            ..RuntimeConfig::default()
        };
        Runtime::standard(
            self.store.clone(),
            self.state.wakeups.clone(),
            config,
            kinds,
            std::sync::Arc::new(ChannelPush::new(hub.clone())),
            reconcile.then(|| std::sync::Arc::new(Reconciler::new(hub.clone(), 5))),
        )
        .with_channels(hub)
        .start()
        .await
        .unwrap()
    }

    /// Connects a channel through the API; the new connection's id.
    pub async fn connect(&self, body: &Value) -> String {
        let response = self.post("/v1/connections", body).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 201, "connect failed: {body}");
        body["id"].as_str().unwrap().to_owned()
    }

    /// A simulated WooCommerce store `store`, connected with its keys.
    pub async fn connect_woo(&self, store: &str) -> String {
        let creds = self.sim.create_account("woocommerce", store, None);
        self.connect_woo_with(&creds).await
    }

    /// The simulated WooCommerce store `creds` are for, connected with them.
    pub async fn connect_woo_with(&self, creds: &shelfsync_sim::AccountCredentials) -> String {
        let store = &creds.account;
        self.connect(&json!({
            "platform": "woocommerce",
            "name": format!("Woo {store}"),
            "account": store,
            "credentials": {"consumer_key": creds.consumer_key, "consumer_secret": creds.consumer_secret},
            "webhook_secret": creds.webhook_secret,
        }))
        .await
    }

    /// What the simulated `platform` account holds.
    pub async fn sim_listings(&self, platform: &str, account: &str) -> Vec<Value> {
        reqwest::get(format!(
            "{}/_sim/{platform}/{account}/listings",
            self.sim.url()
        ))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
    }

    /// A new tenant with an admin key of its own.
    pub async fn other_tenant(&self) -> (TenantId, String) {
        let tenant = self
            .store
            .create_tenant("Other merchant", None)
            .await
            .unwrap();
        let key = api_key::generate();
        self.store
            .insert_api_key(
                &WriteContext::new(tenant, "test"),
                "other",
                &key.display_prefix,
                &key.hash,
            )
            .await
            .unwrap();
        (tenant, key.secret)
    }
}

async fn serve(state: AppState) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = shelfsync_server::router(state);
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    addr
}

/// A product body with `n` variants whose SKUs start with `sku`.
pub fn product_body(title: &str, sku: &str, n: usize) -> Value {
    let variants: Vec<Value> = (0..n)
        .map(|i| json!({ "sku": format!("{sku}-{i}"), "options": [format!("Size {i}")], "price": "19.99", "inventory_quantity": 10 }))
        .collect();
    json!({ "title": title, "vendor": "Acme", "tags": ["summer"], "options": ["Size"], "variants": variants })
}

pub async fn problem(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        content_type, "application/problem+json",
        "errors are problem documents: {body}"
    );
    assert!(
        body["request_id"]
            .as_str()
            .is_some_and(|r| r.starts_with("req_")),
        "error names its request: {body}"
    );
    (status, body)
}
