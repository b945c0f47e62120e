//! The job queue and its workers, against each backend: SQLite with
//! in-process wake-ups (embedded mode) and PostgreSQL with Redis wake-ups
//! (scaled mode).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use shelfsync_core::catalog::NewProduct;
use shelfsync_core::{ConnectionId, JobId, TenantId};
use shelfsync_runtime::{
    Backoff, ConnectionSync, JobContext, JobError, JobHandler, Runtime, RuntimeConfig, Wakeups,
    WorkerKind,
};
use shelfsync_store::{JobRecord, JobSchedule, NewJob, Store, WriteContext};
use shelfsync_testkit::{TestDatabase, backend_tests};

backend_tests!(
    a_job_survives_a_restart,
    a_killed_workers_job_is_redone_after_its_lease,
    duplicate_wakeups_make_one_run,
    a_wakeup_during_a_run_makes_one_more_run,
    retries_back_off_then_end_in_dead_letters,
    a_lost_wakeup_delays_work_but_loses_none,
    shutdown_finishes_short_jobs_and_hands_back_long_ones,
    priorities_and_delays_order_the_work,
    repeatable_jobs_run_once_per_period_across_processes,
    the_outbox_relay_marks_listings_pending_and_wakes_their_connection,
    heartbeats_show_live_and_stopped_workers,
    wakeups_reach_an_idle_worker_without_polling,
    a_channel_write_is_recorded_once,
    a_dead_job_retried_beside_a_live_one_is_dropped,
    a_job_whose_worker_dies_on_every_attempt_goes_dead,
);

/// PostgreSQL without Redis wakes workers by LISTEN/NOTIFY.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_wakes_an_idle_worker_without_polling() {
    let Some(db) = TestDatabase::create(shelfsync_testkit::Backend::Postgres).await else {
        return;
    };
    let pool = db.store.postgres_pool().unwrap().clone();
    idle_worker_is_woken(
        &db,
        Wakeups::postgres(pool.clone()),
        Wakeups::postgres(pool),
    )
    .await;
}

const QUEUE: &str = "test";
const KIND: &str = "test.job";

/// Fast timings so the tests run in seconds.
fn config() -> RuntimeConfig {
    RuntimeConfig {
        lease: Duration::from_secs(2),
        poll: Duration::from_millis(300),
        grace: Duration::from_secs(5),
        heartbeat: Duration::from_millis(200),
        max_attempts: 3,
        backoff: Backoff {
            base: Duration::from_millis(200),
            max: Duration::from_secs(2),
        },
        ..RuntimeConfig::default()
    }
}

/// Wake-ups as the deployment would have them.
fn wakeups(db: &TestDatabase) -> Wakeups {
    match &db.redis_url {
        Some(url) => Wakeups::redis(url).unwrap(),
        None => Wakeups::local(),
    }
}

/// What the test handler does on a run.
#[derive(Clone, Copy)]
enum Behaviour {
    Succeed,
    Fail,
    /// Sleep this long, then succeed.
    Sleep(Duration),
    /// The first run hangs forever (its worker "dies"); later runs succeed.
    HangFirst,
}

/// Records every run: which job, when it started.
#[derive(Clone)]
struct Recorder {
    behaviour: Behaviour,
    runs: Arc<Mutex<Vec<(JobId, String, Instant)>>>,
    started: Arc<AtomicUsize>,
}

impl Recorder {
    fn new(behaviour: Behaviour) -> Self {
        Self {
            behaviour,
            runs: Arc::default(),
            started: Arc::default(),
        }
    }

    fn count(&self) -> usize {
        self.runs.lock().unwrap().len()
    }

    fn labels(&self) -> Vec<String> {
        self.runs
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.1.clone())
            .collect()
    }

    fn times(&self) -> Vec<Instant> {
        self.runs.lock().unwrap().iter().map(|r| r.2).collect()
    }

    async fn wait_for(&self, n: usize, within: Duration) {
        let deadline = Instant::now() + within;
        while self.count() < n {
            assert!(
                Instant::now() < deadline,
                "expected {n} runs within {within:?}, saw {}",
                self.count()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[async_trait]
impl JobHandler for Recorder {
    async fn run(&self, job: &JobRecord, _cx: &JobContext) -> Result<(), JobError> {
        let label = job.payload["label"].as_str().unwrap_or_default().to_owned();
        self.runs
            .lock()
            .unwrap()
            .push((job.id, label, Instant::now()));
        let first = self.started.fetch_add(1, Ordering::SeqCst) == 0;
        match self.behaviour {
            Behaviour::Succeed => Ok(()),
            Behaviour::Fail => Err(JobError::Retry("the channel said no".into())),
            Behaviour::Sleep(d) => {
                tokio::time::sleep(d).await;
                Ok(())
            }
            Behaviour::HangFirst if first => {
                std::future::pending::<()>().await;
                Ok(())
            }
            Behaviour::HangFirst => Ok(()),
        }
    }
}

fn runtime(store: &Store, db: &TestDatabase, recorder: &Recorder, concurrency: usize) -> Runtime {
    Runtime::new(store.clone(), wakeups(db), config()).queue(
        QUEUE,
        concurrency,
        [(KIND, Arc::new(recorder.clone()) as Arc<dyn JobHandler>)],
    )
}

fn job(label: &str) -> NewJob {
    NewJob {
        payload: serde_json::json!({ "label": label }),
        ..NewJob::new(QUEUE, KIND, 3)
    }
}

async fn enqueue(db: &TestDatabase, jobs: &[NewJob]) {
    db.store.enqueue_jobs(jobs).await.unwrap();
    wakeups(db).wake(QUEUE).await;
}

async fn wait_until_empty(store: &Store, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let stats = store.queue_stats().await.unwrap();
        let busy: i64 = stats
            .iter()
            .filter(|s| s.queue == QUEUE)
            .map(|s| s.due + s.delayed + s.running)
            .sum();
        if busy == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "queue still busy: {stats:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_job_survives_a_restart(db: TestDatabase) {
    // Enqueued by one "process", which then goes away before any worker ran.
    {
        let store = db.reconnect().await;
        store.enqueue_jobs(&[job("kept")]).await.unwrap();
        store.close().await;
    }
    let store = db.reconnect().await;
    let recorder = Recorder::new(Behaviour::Succeed);
    let handle = runtime(&store, &db, &recorder, 1).start().await.unwrap();
    recorder.wait_for(1, Duration::from_secs(10)).await;
    wait_until_empty(&store, Duration::from_secs(5)).await;
    handle.shutdown().await;
    assert_eq!(recorder.labels(), ["kept"]);
}

async fn a_killed_workers_job_is_redone_after_its_lease(db: TestDatabase) {
    let recorder = Recorder::new(Behaviour::HangFirst);
    let first = runtime(&db.store, &db, &recorder, 1).start().await.unwrap();
    enqueue(&db, &[job("survivor")]).await;
    recorder.wait_for(1, Duration::from_secs(10)).await;
    // The worker dies mid-job: nothing is recorded or handed back.
    first.abort();
    let killed_at = Instant::now();

    let second = runtime(&db.reconnect().await, &db, &recorder, 1)
        .start()
        .await
        .unwrap();
    recorder.wait_for(2, Duration::from_secs(15)).await;
    wait_until_empty(&db.store, Duration::from_secs(5)).await;
    second.shutdown().await;
    let runs = recorder.runs.lock().unwrap().clone();
    assert_eq!(runs[0].0, runs[1].0, "the same job, run again");
    let retaken = runs[1].2.duration_since(killed_at);
    assert!(
        retaken >= Duration::from_millis(1500),
        "not taken while its lease held: {retaken:?}"
    );
    assert_eq!(recorder.count(), 2);
}

async fn duplicate_wakeups_make_one_run(db: TestDatabase) {
    let wake = NewJob {
        dedupe_key: Some("conn_42".into()),
        ..job("wake")
    };
    for _ in 0..50 {
        enqueue(&db, std::slice::from_ref(&wake)).await;
    }
    let outcomes = db
        .store
        .enqueue_jobs(&vec![wake.clone(); 20])
        .await
        .unwrap();
    let ids: std::collections::HashSet<JobId> = outcomes.iter().map(|o| o.id()).collect();
    assert_eq!(ids.len(), 1, "one waiting job absorbs every duplicate");

    let recorder = Recorder::new(Behaviour::Succeed);
    let handle = runtime(&db.store, &db, &recorder, 4).start().await.unwrap();
    recorder.wait_for(1, Duration::from_secs(10)).await;
    wait_until_empty(&db.store, Duration::from_secs(5)).await;
    // Give any stray duplicate the chance to show up.
    tokio::time::sleep(Duration::from_millis(500)).await;
    handle.shutdown().await;
    assert_eq!(recorder.count(), 1);
}

async fn a_wakeup_during_a_run_makes_one_more_run(db: TestDatabase) {
    let recorder = Recorder::new(Behaviour::Sleep(Duration::from_millis(600)));
    let handle = runtime(&db.store, &db, &recorder, 4).start().await.unwrap();
    let wake = NewJob {
        dedupe_key: Some("conn_7".into()),
        ..job("wake")
    };
    enqueue(&db, std::slice::from_ref(&wake)).await;
    recorder.wait_for(1, Duration::from_secs(10)).await;
    // New work arrives while the connection's sync runs: it must not be lost,
    // nor run alongside the first (same key), and ten arrivals make one rerun.
    for _ in 0..10 {
        enqueue(&db, std::slice::from_ref(&wake)).await;
    }
    recorder.wait_for(2, Duration::from_secs(10)).await;
    wait_until_empty(&db.store, Duration::from_secs(5)).await;
    handle.shutdown().await;
    assert_eq!(recorder.count(), 2);
    let times = recorder.times();
    assert!(
        times[1].duration_since(times[0]) >= Duration::from_millis(550),
        "the rerun starts after the first run ends"
    );
}

async fn retries_back_off_then_end_in_dead_letters(db: TestDatabase) {
    let recorder = Recorder::new(Behaviour::Fail);
    let handle = runtime(&db.store, &db, &recorder, 1).start().await.unwrap();
    enqueue(&db, &[job("doomed")]).await;
    recorder.wait_for(3, Duration::from_secs(15)).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let dead = db.store.dead_jobs(10).await.unwrap();
        if !dead.is_empty() {
            assert_eq!(dead.len(), 1);
            assert_eq!(dead[0].job.attempts, 3);
            assert_eq!(
                dead[0].last_error.as_deref(),
                Some("the channel said no"),
                "the dead letter says why"
            );
            break;
        }
        assert!(Instant::now() < deadline, "never reached the dead letters");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    handle.shutdown().await;
    assert_eq!(recorder.count(), 3, "no run after the last attempt");
    let t = recorder.times();
    // Ceilings of 200 ms then 400 ms, each waited at least by half.
    assert!(t[1].duration_since(t[0]) >= Duration::from_millis(100));
    assert!(t[2].duration_since(t[1]) >= Duration::from_millis(200));
    let stats = db.store.queue_stats().await.unwrap();
    let test = stats.iter().find(|s| s.queue == QUEUE).unwrap();
    assert_eq!((test.due, test.running, test.dead), (0, 0, 1));

    // A dead job can be sent back to work.
    let id = db.store.dead_jobs(1).await.unwrap()[0].job.id;
    assert!(db.store.retry_dead_job(id).await.unwrap());
    assert_eq!(db.store.dead_jobs(10).await.unwrap().len(), 0);
}

async fn a_lost_wakeup_delays_work_but_loses_none(db: TestDatabase) {
    let recorder = Recorder::new(Behaviour::Succeed);
    let handle = runtime(&db.store, &db, &recorder, 1).start().await.unwrap();
    // Let the worker go idle, waiting for a wake-up.
    tokio::time::sleep(Duration::from_millis(400)).await;
    if let Some(url) = &db.redis_url {
        // Redis loses its subscribers (as on a restart) and its data.
        let client = redis::Client::open(url.as_str()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let _: () = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("TYPE")
            .arg("pubsub")
            .query_async(&mut conn)
            .await
            .unwrap();
        let _: () = redis::cmd("FLUSHALL").query_async(&mut conn).await.unwrap();
    }
    // Enqueued without any wake-up at all: only the database knows.
    db.store.enqueue_jobs(&[job("quiet")]).await.unwrap();
    recorder.wait_for(1, Duration::from_secs(10)).await;
    wait_until_empty(&db.store, Duration::from_secs(5)).await;
    handle.shutdown().await;
    assert_eq!(recorder.labels(), ["quiet"]);
}

async fn shutdown_finishes_short_jobs_and_hands_back_long_ones(db: TestDatabase) {
    let recorder = Recorder::new(Behaviour::Sleep(Duration::from_millis(300)));
    let handle = runtime(&db.store, &db, &recorder, 1).start().await.unwrap();
    enqueue(&db, &[job("short")]).await;
    recorder.wait_for(1, Duration::from_secs(10)).await;
    handle.shutdown().await;
    let stats = db.store.queue_stats().await.unwrap();
    assert!(
        stats.iter().all(|s| s.queue != QUEUE),
        "the running job finished before exit: {stats:?}"
    );

    // A job longer than the grace period is handed back, not lost or charged.
    let recorder = Recorder::new(Behaviour::Sleep(Duration::from_secs(60)));
    let handle = Runtime::new(
        db.store.clone(),
        wakeups(&db),
        RuntimeConfig {
            grace: Duration::from_millis(200),
            ..config()
        },
    )
    .queue(
        QUEUE,
        1,
        [(KIND, Arc::new(recorder.clone()) as Arc<dyn JobHandler>)],
    )
    .start()
    .await
    .unwrap();
    enqueue(&db, &[job("long")]).await;
    recorder.wait_for(1, Duration::from_secs(10)).await;
    let started = Instant::now();
    handle.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(5));
    let stats = db.store.queue_stats().await.unwrap();
    let test = stats.iter().find(|s| s.queue == QUEUE).unwrap();
    assert_eq!((test.due, test.running), (1, 0), "ready again at once");
    let again = db
        .store
        .claim_jobs(QUEUE, "inspector", 1, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(again[0].attempts, 1, "the interrupted run was not charged");
}

async fn priorities_and_delays_order_the_work(db: TestDatabase) {
    let later = NewJob {
        run_at: Some(chrono::Utc::now() + chrono::Duration::milliseconds(1500)),
        ..job("delayed")
    };
    let low = NewJob {
        priority: 500,
        ..job("low")
    };
    let high = NewJob {
        priority: 1,
        ..job("high")
    };
    db.store
        .enqueue_jobs(&[later, low, job("normal"), high])
        .await
        .unwrap();
    let recorder = Recorder::new(Behaviour::Succeed);
    let started = Instant::now();
    let handle = runtime(&db.store, &db, &recorder, 1).start().await.unwrap();
    recorder.wait_for(4, Duration::from_secs(10)).await;
    handle.shutdown().await;
    assert_eq!(recorder.labels(), ["high", "normal", "low", "delayed"]);
    let delayed_at = recorder.times()[3].duration_since(started);
    assert!(
        delayed_at >= Duration::from_millis(1400),
        "a delayed job waits for its time: ran after {delayed_at:?}"
    );
}

async fn repeatable_jobs_run_once_per_period_across_processes(db: TestDatabase) {
    let recorder = Recorder::new(Behaviour::Succeed);
    let schedule = JobSchedule {
        name: "tick".into(),
        queue: QUEUE.into(),
        kind: KIND.into(),
        every_seconds: 1,
    };
    let started = Instant::now();
    let a = runtime(&db.store, &db, &recorder, 2)
        .with_schedule(schedule.clone())
        .start()
        .await
        .unwrap();
    let b = runtime(&db.reconnect().await, &db, &recorder, 2)
        .with_schedule(schedule)
        .start()
        .await
        .unwrap();
    recorder.wait_for(3, Duration::from_secs(10)).await;
    let elapsed = started.elapsed();
    a.shutdown().await;
    b.shutdown().await;
    let periods = elapsed.as_secs() as usize + 1;
    assert!(
        recorder.count() <= periods,
        "{} runs in {elapsed:?}: two schedulers must not both fire a period",
        recorder.count()
    );
}

async fn the_outbox_relay_marks_listings_pending_and_wakes_their_connection(db: TestDatabase) {
    let tenant = db.store.create_tenant("Shop", None).await.unwrap();
    let ctx = WriteContext::new(tenant, "test");
    let product: NewProduct = serde_json::from_value(serde_json::json!({
        "title": "Mug", "variants": [{ "sku": "MUG-1", "price": "9.50", "inventory_quantity": 5 }]
    }))
    .unwrap();
    let product = db.store.create_product(&ctx, &product).await.unwrap();
    let connection = db
        .store
        .insert_connection(tenant, "test", "Test shop")
        .await
        .unwrap();
    let listing = db
        .store
        .upsert_listing(tenant, connection, product.id, product.variants[0].id)
        .await
        .unwrap();
    // Another tenant's identical setup must not be touched.
    let other = db.store.create_tenant("Other", None).await.unwrap();
    let other_conn = db
        .store
        .insert_connection(other, "test", "Other shop")
        .await
        .unwrap();

    let wakeups = wakeups(&db);
    let synced = SyncRecorder::default();
    let handle = Runtime::standard(
        db.store.clone(),
        wakeups.clone(),
        config(),
        &[WorkerKind::Outbox, WorkerKind::Sync],
        Arc::new(synced.clone()),
        None,
    )
    .start()
    .await
    .unwrap();
    wakeups.wake(shelfsync_runtime::OUTBOX_QUEUE).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while db.store.outbox_backlog().await.unwrap().0 > 0 {
        assert!(Instant::now() < deadline, "the outbox was never relayed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The first change's sync has run; a change arriving before it would
    // rightly coalesce into the same run.
    while synced.calls.lock().unwrap().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the first change was never synced"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A stock change later is relayed within moments of its commit.
    let variant = product.variants[0].id;
    let change = serde_json::from_value(serde_json::json!({ "adjust": -1 })).unwrap();
    let committed = Instant::now();
    db.store
        .change_inventory(&ctx, variant, &change)
        .await
        .unwrap();
    wakeups.wake(shelfsync_runtime::OUTBOX_QUEUE).await;
    while db.store.outbox_backlog().await.unwrap().0 > 0 {
        assert!(committed.elapsed() < Duration::from_secs(10), "not relayed");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while synced.calls.lock().unwrap().len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the connection was not synced after each change"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    handle.shutdown().await;
    let calls = synced.calls.lock().unwrap().clone();
    assert!(
        calls.iter().all(|c| *c == (tenant, connection)),
        "{calls:?}"
    );

    let listings = db.store.list_listings(tenant, connection).await.unwrap();
    assert_eq!(listings.len(), 1);
    assert_eq!(listings[0].id, listing);
    assert_eq!(listings[0].status, "pending");
    assert!(
        db.store
            .list_listings(other, other_conn)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Records which connections the sync worker was asked to sync.
#[derive(Clone, Default)]
struct SyncRecorder {
    calls: Arc<Mutex<Vec<(TenantId, ConnectionId)>>>,
}

#[async_trait]
impl ConnectionSync for SyncRecorder {
    async fn sync(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        _cx: &JobContext,
    ) -> Result<(), JobError> {
        self.calls.lock().unwrap().push((tenant, connection));
        Ok(())
    }
}

/// The worker polls only once a minute here: a job done within seconds was
/// started by its wake-up. The waker is a separate handle, as another process's.
async fn idle_worker_is_woken(db: &TestDatabase, worker_side: Wakeups, waker: Wakeups) {
    let recorder = Recorder::new(Behaviour::Succeed);
    let handle = Runtime::new(
        db.store.clone(),
        worker_side,
        RuntimeConfig {
            poll: Duration::from_secs(60),
            ..config()
        },
    )
    .queue(
        QUEUE,
        1,
        [(KIND, Arc::new(recorder.clone()) as Arc<dyn JobHandler>)],
    )
    .start()
    .await
    .unwrap();
    // Past the start-up claim and the listener's first (re)connection wake-up.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    for n in 1..=3 {
        db.store.enqueue_jobs(&[job("woken")]).await.unwrap();
        waker.wake(QUEUE).await;
        recorder.wait_for(n, Duration::from_secs(10)).await;
    }
    handle.shutdown().await;
}

async fn wakeups_reach_an_idle_worker_without_polling(db: TestDatabase) {
    match db.backend {
        // In one process the worker and the waker share the signal.
        shelfsync_testkit::Backend::Sqlite => {
            let shared = wakeups(&db);
            idle_worker_is_woken(&db, shared.clone(), shared).await;
        }
        _ => idle_worker_is_woken(&db, wakeups(&db), wakeups(&db)).await,
    }
}

async fn a_channel_write_is_recorded_once(db: TestDatabase) {
    use shelfsync_core::ListingId;
    use shelfsync_runtime::idempotency::{content_hash, write_key};
    let tenant = db.store.create_tenant("Shop", None).await.unwrap();
    let listing = ListingId::new();
    let hash = content_hash(&serde_json::json!({ "quantity": 4 }));
    let write = shelfsync_store::ChannelWrite {
        key: write_key(listing, &hash),
        tenant,
        listing,
        content_hash: hash,
    };
    assert!(!db.store.channel_write_applied(&write.key).await.unwrap());
    assert!(db.store.record_channel_write(&write).await.unwrap());
    assert!(db.store.channel_write_applied(&write.key).await.unwrap());
    assert!(
        !db.store.record_channel_write(&write).await.unwrap(),
        "a retried write finds itself already applied"
    );
}

async fn heartbeats_show_live_and_stopped_workers(db: TestDatabase) {
    let recorder = Recorder::new(Behaviour::Succeed);
    let handle = runtime(&db.store, &db, &recorder, 1).start().await.unwrap();
    let id = handle.worker_id().to_owned();
    enqueue(&db, &[job("one")]).await;
    recorder.wait_for(1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let workers = db
        .store
        .list_workers(Duration::from_secs(60))
        .await
        .unwrap();
    let me = workers.iter().find(|w| w.id == id).expect("listed");
    assert!(me.stopped_at.is_none());
    assert_eq!(me.jobs_done, 1);
    assert_eq!(me.queues, QUEUE);
    handle.shutdown().await;
    let workers = db
        .store
        .list_workers(Duration::from_secs(60))
        .await
        .unwrap();
    let me = workers.iter().find(|w| w.id == id).expect("still listed");
    assert!(me.stopped_at.is_some(), "a clean stop is recorded");
}

async fn a_dead_job_retried_beside_a_live_one_is_dropped(db: TestDatabase) {
    let keyed = NewJob {
        dedupe_key: Some("conn_9".into()),
        ..job("keyed")
    };
    db.store
        .enqueue_jobs(std::slice::from_ref(&keyed))
        .await
        .unwrap();
    let claimed = db
        .store
        .claim_jobs(QUEUE, "w1", 1, Duration::from_secs(30))
        .await
        .unwrap();
    db.store
        .fail_job(claimed[0].id, "w1", "gave up", None)
        .await
        .unwrap();
    db.store
        .enqueue_jobs(std::slice::from_ref(&keyed))
        .await
        .unwrap();
    assert!(db.store.retry_dead_job(claimed[0].id).await.unwrap());
    let stats = db.store.queue_stats().await.unwrap();
    let test = stats.iter().find(|s| s.queue == QUEUE).unwrap();
    assert_eq!(
        (test.due, test.dead),
        (1, 0),
        "the live job covers the dead one's work"
    );
}

async fn a_job_whose_worker_dies_on_every_attempt_goes_dead(db: TestDatabase) {
    let fragile = NewJob {
        max_attempts: 2,
        ..job("fragile")
    };
    db.store.enqueue_jobs(&[fragile]).await.unwrap();
    for worker in ["w1", "w2"] {
        let claimed = db
            .store
            .claim_jobs(QUEUE, worker, 1, Duration::from_millis(1))
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1, "{worker} takes the stalled job");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let claimed = db
        .store
        .claim_jobs(QUEUE, "w3", 1, Duration::from_secs(30))
        .await
        .unwrap();
    assert!(claimed.is_empty());
    let dead = db.store.dead_jobs(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("stopped responding")
    );
}
