//! An open-loop HTTP/1.1 sender over a fixed set of keep-alive connections.
//!
//! Requests are due at fixed times whether or not earlier ones were
//! answered, and each one's latency runs from when it was due, so a slow
//! server is charged for the queue it causes (no coordinated omission).
//! The sender is built to cost the machine little: requests are made before
//! the clock starts, and connections are opened once. A client that opens a
//! connection whenever none is idle spends most of its time (and the
//! server's) in TCP setup and ephemeral-port search once thousands of
//! sockets sit in TIME_WAIT, which is a cost of the benchmark, not of the
//! server under test.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::{Mutex, mpsc};

/// One request's outcome.
pub struct Sample {
    /// The request's index in the schedule.
    pub index: usize,
    /// From when it was due until its response was read.
    pub latency: Duration,
    /// A 2xx answer.
    pub ok: bool,
    /// When its response was read.
    pub done: Instant,
}

/// What a run measured.
pub struct Run {
    /// When the first request was due.
    pub start: Instant,
    pub samples: Vec<Sample>,
}

/// Opens `connections` connections to `address`, then sends `requests[i]`
/// at `start + i × interval` (the clock starting once every connection is
/// open, so their setup is not charged to the first requests), and returns
/// every request's sample.
pub async fn run(
    address: std::net::SocketAddr,
    connections: usize,
    requests: Vec<Request<Full<Bytes>>>,
    interval: Duration,
) -> anyhow::Result<Run> {
    let total = requests.len();
    let (due_tx, due_rx) = mpsc::unbounded_channel::<(usize, Request<Full<Bytes>>)>();
    let due_rx = Arc::new(Mutex::new(due_rx));
    let mut opened = Vec::with_capacity(connections);
    for _ in 0..connections.max(1) {
        let stream = TcpStream::connect(address).await?;
        stream.set_nodelay(true)?;
        let (send, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        opened.push(send);
    }
    let start = Instant::now() + Duration::from_millis(200);
    let mut senders = Vec::with_capacity(opened.len());
    for mut send in opened {
        let due_rx = due_rx.clone();
        senders.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            loop {
                let next = due_rx.lock().await.recv().await;
                let Some((index, request)) = next else {
                    return Ok::<_, anyhow::Error>(samples);
                };
                let due = start + interval.mul_f64(index as f64);
                send.ready().await?;
                let ok = match send.send_request(request).await {
                    Ok(response) => {
                        let ok = response.status().is_success();
                        response.into_body().collect().await?;
                        ok
                    }
                    Err(_) => false,
                };
                let done = Instant::now();
                samples.push(Sample {
                    index,
                    latency: done.saturating_duration_since(due),
                    ok,
                    done,
                });
            }
        }));
    }
    for (index, request) in requests.into_iter().enumerate() {
        let due = start + interval.mul_f64(index as f64);
        tokio::time::sleep_until(due.into()).await;
        due_tx
            .send((index, request))
            .map_err(|_| anyhow::anyhow!("every connection has closed"))?;
    }
    drop(due_tx);
    let mut samples = Vec::with_capacity(total);
    for sender in senders {
        samples.extend(sender.await??);
    }
    Ok(Run { start, samples })
}
