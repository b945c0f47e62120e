//! A one-route HTTP server standing in for Shelfsync's webhook endpoint.

use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// A one-route HTTP server that hands every request it gets to the test.
pub async fn capture_server() -> (url::Url, mpsc::UnboundedReceiver<(HeaderMap, Vec<u8>)>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let head_end = loop {
                    let n = stream.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let mut headers = HeaderMap::new();
                for line in head.lines().skip(1) {
                    if let Some((k, v)) = line.split_once(':')
                        && let (Ok(k), Ok(v)) = (
                            HeaderName::from_bytes(k.trim().as_bytes()),
                            HeaderValue::from_str(v.trim()),
                        )
                    {
                        headers.append(k, v);
                    }
                }
                let len: usize = headers
                    .get("content-length")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                while buf.len() < head_end + len {
                    let n = stream.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
                let _ = tx.send((headers, buf[head_end..].to_vec()));
            });
        }
    });
    (
        format!("http://{addr}/webhooks/shopify").parse().unwrap(),
        rx,
    )
}

pub async fn next_delivery(
    rx: &mut mpsc::UnboundedReceiver<(HeaderMap, Vec<u8>)>,
) -> (HeaderMap, Vec<u8>) {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("a webhook arrives")
        .expect("capture server running")
}
