-- OAuth installs in flight: the state a platform hands back to our callback.
-- Stored as a SHA-256 hash, taken once (deleted on use), valid ten minutes.
CREATE TABLE oauth_states (
    state_hash    BYTEA PRIMARY KEY,
    tenant_id     UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    platform      TEXT NOT NULL,
    name          TEXT NOT NULL,
    account       TEXT,
    redirect_uri  TEXT NOT NULL,
    -- The PKCE verifier; useless without the code, which only the platform sends.
    pkce_verifier TEXT,
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX oauth_states_expiry ON oauth_states (expires_at);

-- Alerts raised by the system (quota thresholds now; sync failure rates,
-- webhook delays and missed heartbeats later). One open alert per subject.
CREATE TABLE alerts (
    id          UUID PRIMARY KEY,
    tenant_id   UUID,
    kind        TEXT NOT NULL,
    severity    TEXT NOT NULL DEFAULT 'warning',
    subject     TEXT NOT NULL,
    message     TEXT NOT NULL,
    detail      JSONB NOT NULL DEFAULT '{}',
    created_at  TIMESTAMPTZ NOT NULL,
    resolved_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX alerts_open_subject ON alerts (kind, subject) WHERE resolved_at IS NULL;
CREATE INDEX alerts_tenant ON alerts (tenant_id, created_at);
