-- The durable job queue, repeatable schedules, worker heartbeats and the
-- ledger of channel writes. Jobs are rows in the same database as the catalog,
-- so they can be enqueued in the transaction of the change that causes them.

CREATE TABLE jobs (
    id           BLOB PRIMARY KEY,
    queue        TEXT NOT NULL,
    kind         TEXT NOT NULL,
    tenant_id    BLOB,
    -- At most one ready-or-running job per (queue, dedupe_key): a second
    -- enqueue while one waits is absorbed; while one runs it sets `rerun`.
    dedupe_key   TEXT,
    payload      TEXT NOT NULL DEFAULT '{}',
    -- Lower runs first.
    priority     INTEGER NOT NULL DEFAULT 100,
    state        TEXT NOT NULL DEFAULT 'ready' CHECK (state IN ('ready', 'running', 'dead')),
    rerun        BOOLEAN NOT NULL DEFAULT 0,
    attempts     INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    run_at       TEXT NOT NULL,
    -- The lease: a running job whose lease has passed belongs to nobody.
    locked_by    TEXT,
    locked_until TEXT,
    last_error   TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE UNIQUE INDEX jobs_dedupe ON jobs (queue, dedupe_key)
    WHERE dedupe_key IS NOT NULL AND state IN ('ready', 'running');
CREATE INDEX jobs_due ON jobs (queue, priority, run_at) WHERE state = 'ready';
CREATE INDEX jobs_leases ON jobs (queue, locked_until) WHERE state = 'running';
CREATE INDEX jobs_dead ON jobs (queue, updated_at) WHERE state = 'dead';

-- Repeatable jobs: each process's scheduler advances `next_run_at` with a
-- compare-and-set, so one enqueue happens per period however many run.
CREATE TABLE job_schedules (
    name          TEXT PRIMARY KEY,
    queue         TEXT NOT NULL,
    kind          TEXT NOT NULL,
    every_seconds INTEGER NOT NULL CHECK (every_seconds > 0),
    next_run_at   TEXT NOT NULL
);

-- One row per worker process: a process whose heartbeat stops is visible as dead.
CREATE TABLE worker_heartbeats (
    id           TEXT PRIMARY KEY,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    queues       TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    stopped_at   TEXT,
    jobs_done    INTEGER NOT NULL DEFAULT 0,
    jobs_failed  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX worker_heartbeats_seen ON worker_heartbeats (last_seen_at);

-- Every channel write applied, keyed by (listing, content hash): a retried job
-- finds its write here and does not apply it again.
CREATE TABLE channel_writes (
    idempotency_key TEXT PRIMARY KEY,
    tenant_id       BLOB NOT NULL,
    listing_id      BLOB NOT NULL,
    content_hash    BLOB NOT NULL,
    applied_at      TEXT NOT NULL
);
CREATE INDEX channel_writes_applied ON channel_writes (applied_at);
