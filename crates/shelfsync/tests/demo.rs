//! `shelfsync demo` as a new user meets it (the README's first command): it
//! prints a dashboard URL and a key, the sample catalog reaches all three
//! simulated shops, and the orders it places move stock on the other shops.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use shelfsync_testkit::free_port;

struct Demo(Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The value after `label` on the first printed line that has it.
fn printed(lines: &mpsc::Receiver<String>, seen: &mut Vec<String>, label: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(line) = seen.iter().find(|l| l.trim_start().starts_with(label)) {
            return line.trim_start()[label.len()..].trim().to_owned();
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(_) => panic!(
                "the demo never printed `{label}`; it printed:\n{}",
                seen.join("\n")
            ),
        }
    }
}

async fn get(client: &reqwest::Client, url: &str, key: Option<&str>) -> Value {
    let mut request = client.get(url);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().await.unwrap().json().await.unwrap()
}

async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_syncs_its_catalog_and_moves_stock_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_shelfsync"))
        .args(["demo", "--products", "24", "--order-every-seconds", "1"])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("SHELFSYNC_DATA_DIR", dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env_remove("SHELFSYNC_BOOTSTRAP_API_KEY")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _demo = Demo(child);
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let dashboard = printed(&lines, &mut seen, "Dashboard:");
    let key = printed(&lines, &mut seen, "API key:");
    let sim = printed(&lines, &mut seen, "Simulator:").replace("/_sim/stats", "");
    assert_eq!(dashboard, format!("http://127.0.0.1:{port}/#key={key}"));
    assert!(key.starts_with("ssk_"), "{key}");

    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let page = client.get(&base).send().await.unwrap();
    assert!(page.text().await.unwrap().contains("/dashboard.js"));

    // Every listing ends synced, or excluded by the demo's eBay rule.
    let overview = format!("{base}/v1/overview");
    eventually("every listing synced", || async {
        let seen = get(&client, &overview, Some(&key)).await;
        let connections = seen["connections"].as_array().unwrap();
        connections.len() == 3
            && connections.iter().all(|c| {
                let listings = c["listings"].as_object().unwrap();
                listings.keys().all(|s| s == "synced" || s == "excluded")
                    && listings.get("synced").and_then(Value::as_i64).unwrap_or(0) > 0
            })
    })
    .await;

    // An order on one shop lowers the master's stock; eBay (where no order
    // is placed) then holds the master's number for that SKU.
    let deadline = Instant::now() + Duration::from_secs(60);
    let sold = loop {
        let seen = get(&client, &overview, Some(&key)).await;
        // Wall art (`PSTR-…`) is kept off eBay by the demo's rule.
        let order = seen["recent_stock_moves"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["reason"] == "order" && !m["sku"].as_str().unwrap().starts_with("PSTR-"))
            .cloned();
        if let Some(order) = order {
            break order;
        }
        assert!(Instant::now() < deadline, "timed out waiting for an order");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let reference = sold["reference"].as_str().unwrap();
    assert!(
        reference.starts_with("shopify:order:") || reference.starts_with("woocommerce:order:"),
        "{reference}"
    );
    let sku = sold["sku"].as_str().unwrap().to_owned();
    let variant = format!("{base}/v1/variants/{}", sold["variant"].as_str().unwrap());
    let ebay = format!("{sim}/_sim/ebay/northwind-ebay/listings");
    eventually(&format!("{sku} on eBay at the master's stock"), || async {
        let master = get(&client, &variant, Some(&key)).await["inventory_quantity"].as_i64();
        let held = get(&client, &ebay, None)
            .await
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|l| l["variants"].as_array().unwrap().clone())
            .find(|v| v["sku"] == sku.as_str())
            .and_then(|v| v["quantity"].as_i64());
        master.is_some() && held == master
    })
    .await;
}
