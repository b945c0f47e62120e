//! Set-up for the WooCommerce contract tests: a store on the simulator,
//! its control routes, and a bare HTTP endpoint for webhooks and callbacks.

use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;
use serde_json::{Value, json};
use shelfsync_channels::{Channel, ProductPush, ProductRef};
use shelfsync_core::Platform;
use shelfsync_sim::{AccountCredentials, SimListing, Simulator};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::support::{connection, deps, product, simulator};

pub const WOO: Platform = Platform::WooCommerce;
pub const NAME: &str = "woocommerce";

pub fn connect(
    sim: &Simulator,
    account: &str,
    creds: &AccountCredentials,
    settings: Value,
) -> Arc<dyn Channel> {
    shelfsync_channels::connect(connection(sim, WOO, account, creds, settings), &deps())
        .expect("adapter connects")
}

pub async fn store(
    account: &str,
    settings: Value,
) -> (Simulator, AccountCredentials, Arc<dyn Channel>) {
    let sim = simulator().await;
    let creds = sim.create_account(NAME, account, None);
    let channel = connect(&sim, account, &creds, settings);
    (sim, creds, channel)
}

/// A product without options: a WooCommerce simple product.
pub fn simple(prefix: &str) -> ProductPush {
    let mut p = product(prefix, 1);
    p.options.clear();
    p.variants[0].option_values.clear();
    p
}

pub async fn listings(sim: &Simulator, account: &str) -> Vec<SimListing> {
    reqwest::get(format!("{}/_sim/{NAME}/{account}/listings", sim.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub async fn place_order(sim: &Simulator, account: &str, lines: Value) -> String {
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/_sim/{NAME}/{account}/orders", sim.url()))
        .json(&json!({ "lines": lines }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["order_id"]
        .as_str()
        .expect("order placed")
        .to_owned()
}

pub async fn upsert_ok(channel: &dyn Channel, products: &[ProductPush]) -> Vec<ProductRef> {
    channel
        .upsert_products(products)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.result.expect("product saved"))
        .collect()
}

/// The push again, now carrying the ids the channel gave it.
pub fn with_refs(mut product: ProductPush, r: &ProductRef) -> ProductPush {
    product.external_id = Some(r.external_id.clone());
    for variant in &mut product.variants {
        variant.external_id = r
            .variants
            .iter()
            .find(|v| v.sku == variant.sku)
            .map(|v| v.external_id.clone());
    }
    product
}

/// A bare HTTP/1.1 endpoint that hands every request it gets to the test.
pub struct Receiver {
    pub url: url::Url,
    pub requests: mpsc::UnboundedReceiver<(HeaderMap, Vec<u8>)>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/hooks/woocommerce",
            listener.local_addr().unwrap()
        );
        let (tx, requests) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let tx = tx.clone();
                tokio::spawn(async move {
                    let mut buffer = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let head_end = loop {
                        let n = stream.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buffer.extend_from_slice(&chunk[..n]);
                        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                            break at + 4;
                        }
                    };
                    let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
                    let mut headers = HeaderMap::new();
                    for line in head.lines().skip(1) {
                        if let Some((name, value)) = line.split_once(':') {
                            headers.append(
                                http::HeaderName::from_bytes(name.trim().as_bytes()).unwrap(),
                                value.trim().parse().unwrap(),
                            );
                        }
                    }
                    let length: usize = headers
                        .get("content-length")
                        .and_then(|v| v.to_str().ok()?.parse().ok())
                        .unwrap_or(0);
                    while buffer.len() < head_end + length {
                        let n = stream.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        buffer.extend_from_slice(&chunk[..n]);
                    }
                    let _ = tx.send((headers, buffer[head_end..].to_vec()));
                    let _ = stream
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                        )
                        .await;
                });
            }
        });
        Receiver {
            url: url.parse().unwrap(),
            requests,
        }
    }

    pub async fn next(&mut self) -> (HeaderMap, Vec<u8>) {
        tokio::time::timeout(Duration::from_secs(10), self.requests.recv())
            .await
            .expect("a request arrives")
            .expect("receiver running")
    }
}
