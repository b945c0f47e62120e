use axum::routing::get;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use reqwest::Method;
use serde_json::{Value, json};
use shelfsync_server::ServerConfig;
use shelfsync_server::auth::clerk::ClerkConfig;

use crate::backend_tests;
use crate::support::{Backend, TestApp, problem};

backend_tests!(
    api_keys_are_shown_once_and_revocable,
    missing_or_bad_credentials_are_401
);

async fn api_keys_are_shown_once_and_revocable(app: TestApp) {
    let response = app
        .post("/v1/api-keys", &json!({ "name": "warehouse" }))
        .await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    let secret = created["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("ssk_"));
    let id = created["id"].as_str().unwrap();

    let listed = app.get("/v1/api-keys").await.text().await.unwrap();
    assert!(!listed.contains(&secret), "the secret is never shown again");
    assert!(listed.contains(id));

    let as_new = app
        .request_as(&secret, Method::GET, "/v1/products")
        .send()
        .await
        .unwrap();
    assert_eq!(as_new.status(), 200);

    let revoked: Value = app
        .delete(&format!("/v1/api-keys/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert!(revoked["revoked_at"].is_string());
    let (status, _) = problem(
        app.request_as(&secret, Method::GET, "/v1/products")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401, "a revoked key stops working at once");

    let (status, _) = problem(app.post("/v1/api-keys", &json!({ "name": "" })).await).await;
    assert_eq!(status, 422);
}

async fn missing_or_bad_credentials_are_401(app: TestApp) {
    let (status, _) = problem(
        app.client
            .get(app.url("/v1/products"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = problem(
        app.request_as("ssk_not-a-real-key", Method::GET, "/v1/products")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    let (status, body) = problem(
        app.client
            .get(app.url("/v1/products"))
            .header("Authorization", format!("Basic {}", app.key))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    assert!(
        !body.to_string().contains(&app.key),
        "credentials are never echoed"
    );
    // A JWT when Clerk is not configured.
    let (status, _) = problem(
        app.request_as("eyJhbGciOiJSUzI1NiJ9.e30.sig", Method::GET, "/v1/products")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
}

const TEST_KEY: &[u8] = include_bytes!("fixtures/clerk-test-key.pem");
const TEST_JWKS: &str = include_str!("fixtures/clerk-test-jwks.json");
const ISSUER: &str = "https://clerk.shelfsync.test";

async fn serve_jwks() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route(
        "/.well-known/jwks.json",
        get(|| async { ([("content-type", "application/json")], TEST_JWKS) }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/.well-known/jwks.json")
}

fn token(claims: Value, kid: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_string());
    encode(
        &header,
        &claims,
        &EncodingKey::from_rsa_pem(TEST_KEY).unwrap(),
    )
    .unwrap()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

async fn clerk_sessions(backend: Backend) {
    let jwks_url = serve_jwks().await;
    let config = ServerConfig {
        rate_limit_per_minute: 10_000,
        clerk: Some(ClerkConfig {
            jwks_url,
            issuer: Some(ISSUER.into()),
            authorized_parties: vec!["https://app.shelfsync.test".into()],
        }),
        ..ServerConfig::default()
    };
    let Some(app) = TestApp::spawn_with(backend, config).await else {
        return;
    };
    let valid = |sub: &str, org: Option<&str>| {
        let mut claims = json!({ "sub": sub, "iss": ISSUER, "exp": now() + 60, "nbf": now() - 5, "iat": now(), "azp": "https://app.shelfsync.test" });
        if let Some(org) = org {
            claims["o"] = json!({ "id": org, "rol": "admin" });
        }
        token(claims, "test-key-1")
    };

    // First sight of a user creates their tenant; their data stays theirs.
    let alice = valid("user_alice", None);
    let r = app
        .request_as(&alice, Method::POST, "/v1/products")
        .json(&crate::support::product_body("Alice's", "AL", 1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = app
        .request_as(&alice, Method::GET, "/v1/products")
        .send()
        .await
        .unwrap();
    let page: Value = r.json().await.unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    let audit: Value = app
        .request_as(&alice, Method::GET, "/v1/audit")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        audit["data"][0]["actor"]
            .as_str()
            .unwrap()
            .starts_with("user:user_")
    );
    let api_key_view: Value = app.get("/v1/products").await.json().await.unwrap();
    assert_eq!(
        api_key_view["data"],
        json!([]),
        "Alice's tenant is not the bootstrap tenant"
    );

    // Members of one organisation share its tenant.
    let bob = valid("user_bob", Some("org_acme"));
    let carol = valid("user_carol", Some("org_acme"));
    app.request_as(&bob, Method::POST, "/v1/products")
        .json(&crate::support::product_body("Acme's", "ACME", 1))
        .send()
        .await
        .unwrap();
    let page: Value = app
        .request_as(&carol, Method::GET, "/v1/products")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["data"][0]["title"], "Acme's");

    let refused = [
        (
            "expired",
            token(
                json!({ "sub": "user_x", "iss": ISSUER, "exp": now() - 60 }),
                "test-key-1",
            ),
        ),
        (
            "not yet valid",
            token(
                json!({ "sub": "user_x", "iss": ISSUER, "exp": now() + 600, "nbf": now() + 300 }),
                "test-key-1",
            ),
        ),
        (
            "wrong issuer",
            token(
                json!({ "sub": "user_x", "iss": "https://evil.test", "exp": now() + 60 }),
                "test-key-1",
            ),
        ),
        (
            "unknown key",
            token(
                json!({ "sub": "user_x", "iss": ISSUER, "exp": now() + 60 }),
                "rotated-away",
            ),
        ),
        (
            "wrong azp",
            token(
                json!({ "sub": "user_x", "iss": ISSUER, "exp": now() + 60, "azp": "https://evil.test" }),
                "test-key-1",
            ),
        ),
        (
            "no subject",
            token(json!({ "iss": ISSUER, "exp": now() + 60 }), "test-key-1"),
        ),
        (
            "HS256",
            encode(
                &Header::new(Algorithm::HS256),
                &json!({ "sub": "user_x", "iss": ISSUER, "exp": now() + 60 }),
                &EncodingKey::from_secret(b"guess"),
            )
            .unwrap(),
        ),
    ];
    for (why, jwt) in refused {
        let r = app
            .request_as(&jwt, Method::GET, "/v1/products")
            .send()
            .await
            .unwrap();
        let (status, _) = problem(r).await;
        assert_eq!(status, 401, "{why} token must be refused");
    }
    // A tampered payload fails the signature.
    let mut parts: Vec<String> = valid("user_alice", None)
        .split('.')
        .map(String::from)
        .collect();
    parts[1] = parts[1].replace('A', "B");
    let (status, _) = problem(
        app.request_as(&parts.join("."), Method::GET, "/v1/products")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_clerk_sessions_map_users_to_tenants() {
    clerk_sessions(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_clerk_sessions_map_users_to_tenants() {
    clerk_sessions(Backend::Postgres).await;
}
