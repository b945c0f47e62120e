use reqwest::Method;
use shelfsync_server::ServerConfig;

use crate::support::{Backend, TestApp, problem};

async fn limited_app(backend: Backend) -> Option<TestApp> {
    TestApp::spawn_with(
        backend,
        ServerConfig {
            rate_limit_per_minute: 5,
            ..ServerConfig::default()
        },
    )
    .await
}

async fn over_budget_is_429_with_retry_after(app: TestApp) {
    for i in 0..5 {
        let r = app.get("/v1/products").await;
        assert_eq!(r.status(), 200, "request {i} is within the budget");
        assert_eq!(r.headers().get("ratelimit-limit").unwrap(), "5");
    }
    let r = app.get("/v1/products").await;
    let retry_after: u64 = r
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=60).contains(&retry_after),
        "retry after {retry_after} s"
    );
    let (status, _) = problem(r).await;
    assert_eq!(status, 429);

    // The budget is per caller: another key is unaffected.
    let (_, other) = app.other_tenant().await;
    let r = app
        .request_as(&other, Method::GET, "/v1/products")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Health checks are not rate limited.
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_over_budget_is_429_with_retry_after() {
    if let Some(app) = limited_app(Backend::Sqlite).await {
        over_budget_is_429_with_retry_after(app).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_over_budget_is_429_with_retry_after() {
    if let Some(app) = limited_app(Backend::Postgres).await {
        over_budget_is_429_with_retry_after(app).await;
    }
}

/// Two API processes on one Redis share one budget per user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_api_processes_share_one_budget() {
    let Some(app) = limited_app(Backend::Postgres).await else {
        return;
    };
    let sibling = app.sibling().await;
    let mut allowed = 0;
    for i in 0..10 {
        let base = if i % 2 == 0 { app.addr } else { sibling };
        let r = app
            .client
            .get(format!("http://{base}/v1/products"))
            .bearer_auth(&app.key)
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            allowed += 1;
        } else {
            assert_eq!(r.status(), 429);
        }
    }
    assert_eq!(
        allowed, 5,
        "10 requests over two processes: exactly the budget of 5 got through"
    );
}
