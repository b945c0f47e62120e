//! `/v1/connections`: credentials go in sealed and never come out; OAuth
//! installs are single-use; quota use is recorded and alerted on.

use reqwest::StatusCode;
use serde_json::{Value, json};
use shelfsync_core::ConnectionId;
use shelfsync_core::vault::ExposeSecret;

use crate::backend_tests;
use crate::support::TestApp;

const CONSUMER_KEY: &str = "ck_0123456789abcdef0123456789abcdef";
const CONSUMER_SECRET: &str = "cs_fedcba9876543210fedcba9876543210";

async fn create_woo(app: &TestApp) -> Value {
    let response = app
        .post(
            "/v1/connections",
            &json!({
                "platform": "woocommerce",
                "name": "Main store",
                "account": "https://shop.example.com",
                "credentials": {"consumer_key": CONSUMER_KEY, "consumer_secret": CONSUMER_SECRET},
                "webhook_secret": "whsec_do_not_show"
            }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

async fn credentials_are_sealed_and_never_returned(app: TestApp) {
    let created = create_woo(&app).await;
    let text = created.to_string();
    for secret in [CONSUMER_KEY, CONSUMER_SECRET, "whsec_do_not_show"] {
        assert!(
            !text.contains(secret),
            "create response leaks a secret: {text}"
        );
    }
    assert_eq!(created["has_credentials"], true);
    assert_eq!(created["status"], "active");
    let id: ConnectionId = created["id"].as_str().unwrap().parse().unwrap();

    for path in [
        "/v1/connections".to_owned(),
        format!("/v1/connections/{id}"),
    ] {
        let body = app.get(&path).await.text().await.unwrap();
        assert!(!body.contains(CONSUMER_SECRET), "{path} leaks: {body}");
        assert!(body.contains("Main store"));
    }

    // Stored sealed: the ciphertext holds no plaintext, and opens to the keys.
    let record = app
        .store
        .get_connection(app.tenant, id)
        .await
        .unwrap()
        .unwrap();
    let sealed = record.credentials.clone().unwrap();
    assert_eq!(sealed.key_id, "test1");
    assert_eq!(sealed.nonce.len(), 12);
    assert!(!String::from_utf8_lossy(&sealed.ciphertext).contains(CONSUMER_SECRET));
    let hub = app.state.channels.as_ref().unwrap();
    let secrets = hub.open(&record).unwrap();
    match secrets.credentials {
        shelfsync_channels::Credentials::ConsumerKey { key, secret } => {
            assert_eq!(key.expose_secret(), CONSUMER_KEY);
            assert_eq!(secret.expose_secret(), CONSUMER_SECRET);
        }
        other => panic!("unexpected credentials {other:?}"),
    }

    // Another tenant sees nothing, not even that it exists.
    let (_, intruder) = app.other_tenant().await;
    for path in [
        format!("/v1/connections/{id}"),
        format!("/v1/connections/{id}/usage"),
    ] {
        let response = app
            .request_as(&intruder, reqwest::Method::GET, &path)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let response = app
        .request_as(
            &intruder,
            reqwest::Method::DELETE,
            &format!("/v1/connections/{id}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let listed: Value = app
        .request_as(&intruder, reqwest::Method::GET, "/v1/connections")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed, json!([]));
}

async fn bad_connections_get_clear_errors(app: TestApp) {
    let cases = [
        json!({"platform": "shopify", "name": "x", "account": "a.myshopify.com",
               "credentials": {"consumer_key": "k", "consumer_secret": "s"}}),
        json!({"platform": "woocommerce", "name": "x", "account": "https://s",
               "credentials": {"access_token": "t"}}),
        json!({"platform": "woocommerce", "name": "", "account": "https://s",
               "credentials": {"consumer_key": "k", "consumer_secret": "s"}}),
        json!({"platform": "ebay", "name": "x", "account": "seller",
               "credentials": {"access_token": "t", "expires_in": -5}}),
    ];
    for body in cases {
        let response = app.post("/v1/connections", &body).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}"
        );
    }
    let response = app
        .post(
            "/v1/connections",
            &json!({"platform": "myspace", "name": "x", "account": "a", "credentials": {"access_token": "t"}}),
        )
        .await;
    assert!(response.status().is_client_error());
    let response = app.get("/v1/connections/not-an-id").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = app.get("/v1/connections/myspace/install").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    // WooCommerce does not use OAuth; Shopify needs the shop first.
    let response = app.get("/v1/connections/woocommerce/install").await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let response = app.get("/v1/connections/shopify/install").await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

async fn a_callback_needs_a_live_single_use_state(app: TestApp) {
    // No Authorization header: the browser comes back from the platform.
    let url = app.url("/v1/connections/etsy/callback?code=abc&state=forged");
    let response = app.client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let url = app.url("/v1/connections/etsy/callback?code=abc");
    let response = app.client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let url = app.url("/v1/connections/etsy/callback?error=access_denied&state=x");
    let response = app.client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

async fn install_redirects_with_a_state_that_works_once(app: TestApp) {
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = no_redirects
        .get(app.url("/v1/connections/etsy/install?name=Etsy%20shop&account=12345"))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    let location: url::Url = response.headers()["location"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let query: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert!(
        location.as_str().starts_with(&app.sim.base("etsy")),
        "{location}"
    );
    assert_eq!(query["client_id"], "shelfsync-test-app");
    assert_eq!(query["code_challenge_method"], "S256");
    assert!(query["state"].len() >= 40);
    assert!(query["redirect_uri"].ends_with("/v1/connections/etsy/callback"));
    assert!(!location.as_str().contains(shelfsync_sim::SIM_CLIENT_SECRET));

    // A state is bound to its platform and taken once, even when the code is bad.
    let state = &query["state"];
    let url = app.url(&format!(
        "/v1/connections/ebay/callback?code=x&state={state}"
    ));
    assert_eq!(
        app.client.get(&url).send().await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    let url = app.url(&format!(
        "/v1/connections/etsy/callback?code=x&state={state}"
    ));
    assert_eq!(
        app.client.get(&url).send().await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
}

async fn oauth_connects_a_shop_end_to_end(app: TestApp) {
    for (platform, account, query) in [
        ("etsy", "12345", "account=12345"),
        (
            "shopify",
            "acme.myshopify.com",
            "account=acme.myshopify.com",
        ),
        ("ebay", "seller-1", "name=eBay"),
        ("amazon", "A2SELLER", "name=Amazon"),
    ] {
        app.sim.create_account(platform, account, None);
        // Following the redirects as a browser would: to the platform's
        // consent page, which approves and sends it back to our callback.
        let response = app
            .client
            .get(app.url(&format!("/v1/connections/{platform}/install?{query}")))
            .bearer_auth(&app.key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED, "{platform}");
        let created: Value = response.json().await.unwrap();
        assert_eq!(created["platform"], platform);
        assert_eq!(created["has_credentials"], true);
        let id: ConnectionId = created["id"].as_str().unwrap().parse().unwrap();
        // The connection belongs to the tenant that started the install,
        // and its tokens work against the platform.
        let hub = app.state.channels.as_ref().unwrap();
        let channel = hub.channel(app.tenant, id).await.unwrap();
        channel.read_listings(None).await.unwrap();
        let text = created.to_string();
        assert!(
            !text.contains("sim_at_") && !text.contains("sim_rt_"),
            "{text}"
        );

        // Disconnecting revokes where the platform can: Shopify's uninstall
        // call makes the token useless at once.
        if platform == "shopify" {
            let record = app
                .store
                .get_connection(app.tenant, id)
                .await
                .unwrap()
                .unwrap();
            let token = match hub.open(&record).unwrap().credentials {
                shelfsync_channels::Credentials::OAuth(t) => {
                    t.access_token.expose_secret().to_owned()
                }
                other => panic!("unexpected {other:?}"),
            };
            assert!(
                app.sim
                    .core
                    .accounts
                    .authenticate("shopify", &token)
                    .is_some()
            );
            let response = app.delete(&format!("/v1/connections/{id}")).await;
            assert_eq!(response.status(), StatusCode::OK);
            assert!(
                app.sim
                    .core
                    .accounts
                    .authenticate("shopify", &token)
                    .is_none()
            );
        }
    }
}

async fn disconnect_forgets_the_credentials(app: TestApp) {
    let created = create_woo(&app).await;
    let id = created["id"].as_str().unwrap();
    let response = app.delete(&format!("/v1/connections/{id}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "disconnected");
    assert_eq!(body["has_credentials"], false);
    let record = app
        .store
        .get_connection(app.tenant, id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(record.credentials.is_none());
    let hub = app.state.channels.as_ref().unwrap();
    assert!(hub.channel(app.tenant, id.parse().unwrap()).await.is_err());
}

async fn quota_use_is_recorded_and_alerted_at_80_percent(app: TestApp) {
    let created = create_woo(&app).await;
    let id: ConnectionId = created["id"].as_str().unwrap().parse().unwrap();
    let hub = app.state.channels.as_ref().unwrap();
    let meter = &hub.deps().usage;
    let now = chrono::Utc::now();
    // 70 of a 100-per-minute quota: recorded, no alert.
    for _ in 0..70 {
        meter.record(app.tenant, id, now, 1.0, false, Some(100.0));
    }
    hub.flush_usage().await.unwrap();
    let alerts: Value = app.get("/v1/alerts").await.json().await.unwrap();
    assert_eq!(alerts, json!([]));
    let usage: Value = app
        .get(&format!("/v1/connections/{id}/usage"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(usage[0]["calls"], 70);
    assert_eq!(usage[0]["quota_limit"], 100);
    // Ten more, one throttled: 80 in the minute crosses the threshold once.
    for n in 0..10 {
        meter.record(app.tenant, id, now, 1.0, n == 0, Some(100.0));
    }
    hub.flush_usage().await.unwrap();
    for _ in 0..5 {
        meter.record(app.tenant, id, now, 1.0, false, Some(100.0));
    }
    hub.flush_usage().await.unwrap();
    let usage: Value = app
        .get(&format!("/v1/connections/{id}/usage"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(usage[0]["calls"], 85);
    assert_eq!(usage[0]["throttled"], 1);
    let alerts: Value = app.get("/v1/alerts").await.json().await.unwrap();
    assert_eq!(alerts.as_array().unwrap().len(), 1, "{alerts}");
    assert_eq!(alerts[0]["kind"], "quota");
    assert!(alerts[0]["message"].as_str().unwrap().contains("80%"));
}

backend_tests!(
    credentials_are_sealed_and_never_returned,
    bad_connections_get_clear_errors,
    a_callback_needs_a_live_single_use_state,
    install_redirects_with_a_state_that_works_once,
    oauth_connects_a_shop_end_to_end,
    disconnect_forgets_the_credentials,
    quota_use_is_recorded_and_alerted_at_80_percent,
);
