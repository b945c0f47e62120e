-- SQLite dialect of ../postgres/0002_sync.sql: UUIDs are 16-byte BLOBs, timestamps
-- RFC 3339 TEXT, JSON and exact decimals TEXT (the store parses them back).

-- The seed's sync tables. Created now so the model is whole; the pipeline,
-- channel and webhook work fills in their behaviour.

-- OAuth tokens or API credentials per channel account, encrypted (AES-256-GCM):
-- the key id travels with the ciphertext so several keys can be live during rotation.
CREATE TABLE platform_connections (
    id                 BLOB PRIMARY KEY,
    tenant_id          BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    platform           TEXT NOT NULL,
    name               TEXT NOT NULL,
    -- The shop domain / seller id on the platform.
    external_account   TEXT,
    status             TEXT NOT NULL DEFAULT 'active',
    credentials_key_id TEXT,
    credentials_nonce  BLOB,
    credentials        BLOB,
    token_expires_at   TEXT,
    settings           TEXT NOT NULL DEFAULT '{}',
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);
CREATE INDEX platform_connections_tenant ON platform_connections (tenant_id, id);
CREATE INDEX platform_connections_key ON platform_connections (credentials_key_id);

CREATE TABLE platform_listings (
    id                  BLOB PRIMARY KEY,
    tenant_id           BLOB NOT NULL,
    connection_id       BLOB NOT NULL REFERENCES platform_connections(id) ON DELETE CASCADE,
    -- No foreign keys to the catalog: a listing outlives a deleted product until
    -- the channel has been told to take it down.
    product_id          BLOB NOT NULL,
    variant_id          BLOB,
    external_product_id TEXT,
    external_variant_id TEXT,
    status              TEXT NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'synced', 'failed', 'conflict', 'excluded')),
    -- Hash of the payload we want the channel to hold, and of what it last accepted.
    desired_hash        BLOB,
    last_pushed_hash    BLOB,
    last_error          TEXT,
    attempts            INTEGER NOT NULL DEFAULT 0,
    next_retry_at       TEXT,
    metadata            TEXT NOT NULL DEFAULT '{}',
    last_synced_at      TEXT,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
CREATE UNIQUE INDEX platform_listings_variant ON platform_listings (connection_id, product_id, variant_id);
CREATE INDEX platform_listings_pending ON platform_listings (connection_id, status, next_retry_at);
CREATE INDEX platform_listings_tenant ON platform_listings (tenant_id, id);
CREATE INDEX platform_listings_product ON platform_listings (product_id);
CREATE INDEX platform_listings_external ON platform_listings (connection_id, external_variant_id);

CREATE TABLE sync_rules (
    id            BLOB PRIMARY KEY,
    tenant_id     BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    connection_id BLOB REFERENCES platform_connections(id) ON DELETE CASCADE,
    platform      TEXT,
    name          TEXT NOT NULL,
    priority      INTEGER NOT NULL DEFAULT 100,
    condition     TEXT NOT NULL,
    actions       TEXT NOT NULL,
    enabled       INTEGER NOT NULL DEFAULT 1,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX sync_rules_tenant ON sync_rules (tenant_id, priority, id);

-- Calls made per connection per minute, and how close they came to the quota.
CREATE TABLE rate_limit_tracking (
    tenant_id     BLOB NOT NULL,
    connection_id BLOB NOT NULL REFERENCES platform_connections(id) ON DELETE CASCADE,
    window_start  TEXT NOT NULL,
    calls         INTEGER NOT NULL DEFAULT 0,
    cost_used     INTEGER NOT NULL DEFAULT 0,
    throttled     INTEGER NOT NULL DEFAULT 0,
    quota_limit   INTEGER,
    PRIMARY KEY (connection_id, window_start)
);
CREATE INDEX rate_limit_tracking_tenant ON rate_limit_tracking (tenant_id, window_start);

-- Transactional outbox: written in the same transaction as the change it announces.
CREATE TABLE outbox_events (
    id             BLOB PRIMARY KEY,
    tenant_id      BLOB NOT NULL,
    kind           TEXT NOT NULL,
    aggregate_type TEXT NOT NULL,
    aggregate_id   TEXT NOT NULL,
    payload        TEXT NOT NULL DEFAULT '{}',
    created_at     TEXT NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    processed_at   TEXT
);
-- The relay only ever scans the unprocessed tail.
CREATE INDEX outbox_events_unprocessed ON outbox_events (id) WHERE processed_at IS NULL;
CREATE INDEX outbox_events_processed ON outbox_events (processed_at) WHERE processed_at IS NOT NULL;

CREATE TABLE sync_logs (
    id            BLOB PRIMARY KEY,
    tenant_id     BLOB NOT NULL,
    connection_id BLOB,
    listing_id    BLOB,
    operation     TEXT NOT NULL,
    status        TEXT NOT NULL,
    dry_run       INTEGER NOT NULL DEFAULT 0,
    duration_ms   INTEGER,
    api_calls     INTEGER NOT NULL DEFAULT 0,
    detail        TEXT,
    error         TEXT,
    created_at    TEXT NOT NULL
);
CREATE INDEX sync_logs_tenant ON sync_logs (tenant_id, id);
CREATE INDEX sync_logs_connection ON sync_logs (connection_id, created_at);
CREATE INDEX sync_logs_created ON sync_logs (created_at);

CREATE TABLE product_conflicts (
    id            BLOB PRIMARY KEY,
    tenant_id     BLOB NOT NULL,
    connection_id BLOB NOT NULL REFERENCES platform_connections(id) ON DELETE CASCADE,
    listing_id    BLOB REFERENCES platform_listings(id) ON DELETE CASCADE,
    product_id    BLOB REFERENCES products(id) ON DELETE CASCADE,
    field         TEXT NOT NULL,
    master_value  TEXT,
    channel_value TEXT,
    policy        TEXT NOT NULL DEFAULT 'master_wins',
    status        TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved', 'ignored')),
    resolution    TEXT,
    detected_at   TEXT NOT NULL,
    resolved_at   TEXT
);
CREATE INDEX product_conflicts_open ON product_conflicts (tenant_id, status, id);

CREATE TABLE webhook_logs (
    id                 BLOB PRIMARY KEY,
    tenant_id          BLOB,
    connection_id      BLOB,
    platform           TEXT NOT NULL,
    event_id           TEXT,
    topic              TEXT,
    headers            TEXT NOT NULL DEFAULT '{}',
    body               BLOB NOT NULL,
    received_at        TEXT NOT NULL,
    platform_timestamp TEXT,
    status             TEXT NOT NULL DEFAULT 'received',
    processed_at       TEXT,
    error              TEXT
);
-- Idempotency on the platform's own event id, beyond the short nonce window.
CREATE UNIQUE INDEX webhook_logs_event ON webhook_logs (platform, connection_id, event_id)
    WHERE event_id IS NOT NULL;
CREATE INDEX webhook_logs_tenant ON webhook_logs (tenant_id, id);
CREATE INDEX webhook_logs_pending ON webhook_logs (status, received_at);
