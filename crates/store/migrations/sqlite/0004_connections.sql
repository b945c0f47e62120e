-- SQLite dialect of ../postgres/0004_connections.sql.

CREATE TABLE oauth_states (
    state_hash    BLOB PRIMARY KEY,
    tenant_id     BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    platform      TEXT NOT NULL,
    name          TEXT NOT NULL,
    account       TEXT,
    redirect_uri  TEXT NOT NULL,
    pkce_verifier TEXT,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL
);
CREATE INDEX oauth_states_expiry ON oauth_states (expires_at);

CREATE TABLE alerts (
    id          BLOB PRIMARY KEY,
    tenant_id   BLOB,
    kind        TEXT NOT NULL,
    severity    TEXT NOT NULL DEFAULT 'warning',
    subject     TEXT NOT NULL,
    message     TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '{}',
    created_at  TEXT NOT NULL,
    resolved_at TEXT
);
CREATE UNIQUE INDEX alerts_open_subject ON alerts (kind, subject) WHERE resolved_at IS NULL;
CREATE INDEX alerts_tenant ON alerts (tenant_id, created_at);
