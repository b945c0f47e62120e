//! Wake-ups: how a worker learns that its queue has work without polling.
//!
//! A wake-up carries no data (ARCHITECTURE.md principle 1): the work is in the
//! database, so a lost wake-up only delays it until the next poll, and a
//! duplicated one costs one empty claim. Inside a process a wake-up is a
//! [`Notify`]; across processes it travels over Redis pub/sub (scaled mode) or
//! PostgreSQL LISTEN/NOTIFY (PostgreSQL without Redis). The rest of the code
//! only ever calls [`Wakeups::wake`] and [`Wakeups::notified`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use sqlx::postgres::{PgListener, PgPool};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The PostgreSQL channel and the Redis channel prefix wake-ups travel on.
const PG_CHANNEL: &str = "shelfsync_wake";
const REDIS_PREFIX: &str = "shelfsync:wake:";

/// How wake-ups cross process boundaries.
#[derive(Clone)]
enum Transport {
    /// One process (embedded mode): in-process signals are all there is.
    Local,
    Redis(redis::Client),
    Postgres(PgPool),
}

/// Wake-up signals for every queue, shared by everything in a process.
#[derive(Clone)]
pub struct Wakeups {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Transport,
    local: Mutex<HashMap<String, Arc<Notify>>>,
    /// A publisher connection, made on first use and remade after an error.
    publisher: tokio::sync::Mutex<Option<redis::aio::MultiplexedConnection>>,
}

impl Wakeups {
    /// Wake-ups inside this process only.
    pub fn local() -> Self {
        Self::with(Transport::Local)
    }

    /// Wake-ups shared through Redis pub/sub.
    pub fn redis(url: &str) -> Result<Self, redis::RedisError> {
        Ok(Self::with(Transport::Redis(redis::Client::open(url)?)))
    }

    /// Wake-ups shared through PostgreSQL LISTEN/NOTIFY.
    pub fn postgres(pool: PgPool) -> Self {
        Self::with(Transport::Postgres(pool))
    }

    /// The transport a deployment uses: Redis when configured (scaled mode),
    /// else LISTEN/NOTIFY on PostgreSQL, else in-process (embedded mode).
    pub fn for_deployment(
        store: &shelfsync_store::Store,
        redis_url: Option<&str>,
    ) -> Result<Self, redis::RedisError> {
        match (redis_url, store.postgres_pool()) {
            (Some(url), _) => Self::redis(url),
            (None, Some(pool)) => Ok(Self::postgres(pool.clone())),
            (None, None) => Ok(Self::local()),
        }
    }

    fn with(transport: Transport) -> Self {
        Self {
            inner: Arc::new(Inner {
                transport,
                local: Mutex::new(HashMap::new()),
                publisher: tokio::sync::Mutex::new(None),
            }),
        }
    }

    /// Which transport this is, for the start-up log.
    pub fn describe(&self) -> &'static str {
        match self.inner.transport {
            Transport::Local => "in-process",
            Transport::Redis(_) => "Redis pub/sub",
            Transport::Postgres(_) => "PostgreSQL LISTEN/NOTIFY",
        }
    }

    fn signal(&self, queue: &str) -> Arc<Notify> {
        let mut local = self.inner.local.lock().expect("wake-up table poisoned");
        local.entry(queue.to_owned()).or_default().clone()
    }

    /// Wakes one worker of `queue` here, and every process listening
    /// elsewhere. Never fails: a wake-up that cannot be sent is logged and the
    /// workers' poll picks the work up.
    pub async fn wake(&self, queue: &str) {
        self.wake_local(queue);
        match &self.inner.transport {
            Transport::Local => {}
            Transport::Redis(client) => {
                if let Err(e) = self.publish_redis(client, queue).await {
                    tracing::warn!(error = %e, queue, "wake-up not published to Redis; workers will poll");
                }
            }
            Transport::Postgres(pool) => {
                if let Err(e) = sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(PG_CHANNEL)
                    .bind(queue)
                    .execute(pool)
                    .await
                {
                    tracing::warn!(error = %e, queue, "wake-up not sent by NOTIFY; workers will poll");
                }
            }
        }
    }

    fn wake_local(&self, queue: &str) {
        // `notify_one` stores a permit when nobody waits, so a wake-up sent
        // while the worker was busy claiming is not lost.
        self.signal(queue).notify_one();
    }

    async fn publish_redis(&self, client: &redis::Client, queue: &str) -> redis::RedisResult<()> {
        let mut guard = self.inner.publisher.lock().await;
        if guard.is_none() {
            *guard = Some(client.get_multiplexed_async_connection().await?);
        }
        let conn = guard.as_mut().expect("connection just made");
        let result: redis::RedisResult<i64> = redis::cmd("PUBLISH")
            .arg(format!("{REDIS_PREFIX}{queue}"))
            .arg("")
            .query_async(conn)
            .await;
        if result.is_err() {
            *guard = None;
        }
        result.map(|_| ())
    }

    /// Completes at the next wake-up of `queue` (or at once if one arrived
    /// since the last call).
    pub async fn notified(&self, queue: &str) {
        self.signal(queue).notified().await;
    }

    /// Relays wake-ups from other processes into this one until `stop`. After
    /// every (re)connection all local queues are woken once, since anything
    /// sent while disconnected was lost.
    pub fn spawn_listener(
        &self,
        queues: Vec<String>,
        stop: CancellationToken,
    ) -> Option<tokio::task::JoinHandle<()>> {
        let this = self.clone();
        match self.inner.transport.clone() {
            Transport::Local => None,
            Transport::Redis(client) => Some(tokio::spawn(async move {
                this.listen_redis(client, queues, stop).await;
            })),
            Transport::Postgres(pool) => Some(tokio::spawn(async move {
                this.listen_postgres(pool, queues, stop).await;
            })),
        }
    }

    fn wake_all(&self, queues: &[String]) {
        for q in queues {
            self.wake_local(q);
        }
    }

    async fn listen_redis(
        &self,
        client: redis::Client,
        queues: Vec<String>,
        stop: CancellationToken,
    ) {
        let mut backoff = Duration::from_millis(100);
        while !stop.is_cancelled() {
            let attempt = async {
                let mut pubsub = client.get_async_pubsub().await?;
                for q in &queues {
                    pubsub.subscribe(format!("{REDIS_PREFIX}{q}")).await?;
                }
                Ok::<_, redis::RedisError>(pubsub)
            };
            let pubsub = tokio::select! {
                _ = stop.cancelled() => return,
                r = attempt => r,
            };
            match pubsub {
                Ok(pubsub) => {
                    backoff = Duration::from_millis(100);
                    self.wake_all(&queues);
                    let mut messages = pubsub.into_on_message();
                    loop {
                        tokio::select! {
                            _ = stop.cancelled() => return,
                            msg = messages.next() => match msg {
                                Some(msg) => {
                                    if let Some(queue) = msg.get_channel_name().strip_prefix(REDIS_PREFIX) {
                                        self.wake_local(queue);
                                    }
                                }
                                None => {
                                    tracing::warn!("Redis wake-up subscription closed; reconnecting");
                                    break;
                                }
                            }
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot subscribe to Redis wake-ups; retrying")
                }
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    async fn listen_postgres(&self, pool: PgPool, queues: Vec<String>, stop: CancellationToken) {
        let mut backoff = Duration::from_millis(100);
        while !stop.is_cancelled() {
            let attempt = async {
                let mut listener = PgListener::connect_with(&pool).await?;
                listener.listen(PG_CHANNEL).await?;
                Ok::<_, sqlx::Error>(listener)
            };
            let listener = tokio::select! {
                _ = stop.cancelled() => return,
                r = attempt => r,
            };
            match listener {
                Ok(mut listener) => {
                    backoff = Duration::from_millis(100);
                    self.wake_all(&queues);
                    loop {
                        tokio::select! {
                            _ = stop.cancelled() => return,
                            n = listener.try_recv() => match n {
                                Ok(Some(n)) => self.wake_local(n.payload()),
                                // Reconnected: what was sent meanwhile is lost.
                                Ok(None) => self.wake_all(&queues),
                                Err(e) => {
                                    tracing::warn!(error = %e, "LISTEN connection failed; reconnecting");
                                    break;
                                }
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot LISTEN for wake-ups; retrying"),
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }
}
