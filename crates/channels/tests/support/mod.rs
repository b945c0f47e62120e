//! Shared set-up for the adapters' contract tests: a simulator on a free
//! port, an account on it, and a connection configured against it.
#![allow(dead_code)]

use rust_decimal::Decimal;
use shelfsync_channels::{
    AppCredentials, ChannelDeps, ConnectionConfig, ConnectionSecrets, Credentials, OAuthTokens,
    ProductPush, PushStatus, VariantPush,
};
use shelfsync_core::quota::QuotaModel;
use shelfsync_core::{ConnectionId, Platform, TenantId};
use shelfsync_sim::{AccountCredentials, Simulator};

pub async fn simulator() -> Simulator {
    Simulator::start("127.0.0.1:0".parse().unwrap())
        .await
        .expect("simulator starts")
}

/// A connection to `account` on the simulator, authenticated with OAuth
/// tokens (or consumer keys for WooCommerce), with optional `settings`.
pub fn connection(
    sim: &Simulator,
    platform: Platform,
    account: &str,
    creds: &AccountCredentials,
    settings: serde_json::Value,
) -> ConnectionConfig {
    let base: url::Url = sim.base(platform.as_str()).parse().unwrap();
    let (account_name, endpoints) = match platform {
        // A WooCommerce store is its own URL; on the simulator, under /woocommerce/{store}.
        Platform::WooCommerce => {
            let store = format!("{}/{}", sim.base("woocommerce"), account);
            (
                store.clone(),
                shelfsync_channels::endpoints(platform, &store, None),
            )
        }
        _ => (
            account.to_owned(),
            shelfsync_channels::endpoints(platform, account, Some(&base)),
        ),
    };
    let credentials = match platform {
        Platform::WooCommerce => Credentials::ConsumerKey {
            key: creds.consumer_key.clone().into(),
            secret: creds.consumer_secret.clone().into(),
        },
        _ => Credentials::OAuth(OAuthTokens {
            access_token: creds.access_token.clone().into(),
            refresh_token: Some(creds.refresh_token.clone().into()),
            expires_at: None,
            scope: None,
        }),
    };
    let webhook_secret = match platform {
        Platform::Shopify => creds.client_secret.clone(),
        _ => creds.webhook_secret.clone(),
    };
    ConnectionConfig {
        tenant: TenantId::new(),
        connection: ConnectionId::new(),
        platform,
        account: account_name,
        endpoints,
        settings,
        secrets: ConnectionSecrets {
            credentials,
            webhook_secret: Some(webhook_secret.into()),
        },
        app: Some(AppCredentials {
            client_id: "shelfsync-test-app".into(),
            client_secret: creds.client_secret.clone().into(),
        }),
    }
}

/// Settings that make the adapter use `quota` instead of the published limits.
/// Cancel an order on the simulated platform as its merchant would.
pub async fn cancel_order(sim: &Simulator, platform: &str, account: &str, order_id: &str) {
    let reply = reqwest::Client::new()
        .post(format!(
            "{}/_sim/{platform}/{account}/orders/{}/cancel",
            sim.url(),
            order_id.replace('/', "%2F")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 204, "{}", reply.text().await.unwrap());
}

pub fn quota_settings(quota: &QuotaModel) -> serde_json::Value {
    serde_json::json!({ "quota": quota })
}

pub fn deps() -> ChannelDeps {
    ChannelDeps::local()
}

/// A product with `variants` sizes, SKUs `{prefix}-{n}`.
pub fn product(prefix: &str, variants: usize) -> ProductPush {
    ProductPush {
        key: format!("key-{prefix}"),
        external_id: None,
        handle: prefix.to_lowercase(),
        title: format!("Product {prefix}"),
        description: Some("<p>Soft cotton.</p>".into()),
        vendor: Some("Acme".into()),
        product_type: Some("Shirts".into()),
        tags: vec!["summer".into()],
        status: PushStatus::Active,
        options: vec!["Size".into()],
        images: vec![],
        variants: (0..variants)
            .map(|n| VariantPush {
                sku: format!("{prefix}-{n}"),
                external_id: None,
                option_values: vec![["S", "M", "L", "XL", "XXL"][n % 5].to_owned()],
                price: Decimal::new(1999 + n as i64 * 100, 2),
                compare_at_price: None,
                currency: "USD".into(),
                barcode: None,
                weight_grams: Some(Decimal::new(200, 0)),
                quantity: 10 + n as i64,
            })
            .collect(),
    }
}

/// `products` (all accepted) carrying the ids the channel gave them, as
/// the sync engine would push them next time.
pub fn with_ids(
    products: &[ProductPush],
    outcomes: Vec<shelfsync_channels::ProductOutcome>,
) -> Vec<ProductPush> {
    products
        .iter()
        .zip(outcomes)
        .map(|(product, outcome)| {
            let saved = outcome
                .result
                .unwrap_or_else(|e| panic!("{}: {e:?}", product.key));
            let mut product = product.clone();
            product.external_id = Some(saved.external_id);
            for variant in &mut product.variants {
                variant.external_id = saved
                    .variants
                    .iter()
                    .find(|v| v.sku == variant.sku)
                    .map(|v| v.external_id.clone());
            }
            product
        })
        .collect()
}

/// The dry-run contract: `plan_upsert(batch)` is exactly the number of
/// requests the simulated `platform` account then receives from
/// `upsert_products(batch)`; nothing is throttled (the plan is for a clean
/// run); every product the validator passes is saved, and every product it
/// refuses is refused with the validator's first code. Returns the plan and
/// the outcomes.
pub async fn assert_plan_is_exact(
    sim: &Simulator,
    platform: &str,
    account: &str,
    channel: &dyn shelfsync_channels::Channel,
    batch: &[ProductPush],
) -> (
    shelfsync_channels::CallPlan,
    Vec<shelfsync_channels::ProductOutcome>,
) {
    let plan = channel.plan_upsert(batch);
    assert_eq!(
        plan.by_operation.values().sum::<u32>(),
        plan.calls,
        "{plan:?}"
    );
    let expected: Vec<Option<String>> = batch
        .iter()
        .map(|p| channel.validate_push(p).first().map(|e| e.code.clone()))
        .collect();
    let before = sim.stats(platform, account);
    let outcomes = channel.upsert_products(batch).await.expect("upsert");
    let after = sim.stats(platform, account);
    assert_eq!(after.throttled, before.throttled, "the run was throttled");
    assert_eq!(
        after.requests - before.requests,
        u64::from(plan.calls),
        "planned {plan:?}; sent {:?} before {:?}",
        after.by_operation,
        before.by_operation
    );
    for ((product, outcome), code) in batch.iter().zip(&outcomes).zip(&expected) {
        assert_eq!(outcome.key, product.key);
        match (code, &outcome.result) {
            (None, Ok(_)) => {}
            (Some(code), Err(e)) => assert_eq!(&e.code, code, "{}: {e:?}", product.key),
            (code, result) => panic!(
                "{}: validator said {code:?}, upsert {result:?}",
                product.key
            ),
        }
    }
    assert!(channel.estimate_seconds(&plan) >= 0.0);
    (plan, outcomes)
}

/// A product the validator refuses costs no call, in the plan and in fact,
/// and is refused with the validator's code.
pub async fn assert_refused_without_a_call(
    sim: &Simulator,
    platform: &str,
    account: &str,
    channel: &dyn shelfsync_channels::Channel,
    bad: &ProductPush,
    code: &str,
) {
    let errors = channel.validate_push(bad);
    assert_eq!(
        errors.first().map(|e| e.code.as_str()),
        Some(code),
        "{errors:?}"
    );
    let plan = channel.plan_upsert(std::slice::from_ref(bad));
    assert_eq!(plan.calls, 0, "{plan:?}");
    let before = sim.stats(platform, account).requests;
    let outcomes = channel
        .upsert_products(std::slice::from_ref(bad))
        .await
        .expect("upsert");
    assert_eq!(
        sim.stats(platform, account).requests,
        before,
        "a call was made"
    );
    let error = outcomes[0].result.clone().expect_err("refused");
    assert_eq!(error.code, code);
    assert!(!error.retryable);
}
