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
