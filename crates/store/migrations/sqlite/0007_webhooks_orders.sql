-- SQLite dialect of ../postgres/0007_webhooks_orders.sql.

ALTER TABLE webhook_logs ADD COLUMN event TEXT;
ALTER TABLE webhook_logs ADD COLUMN source TEXT NOT NULL DEFAULT 'webhook';

CREATE TABLE webhook_nonces (
    nonce      TEXT PRIMARY KEY,
    expires_at TEXT NOT NULL
);
CREATE INDEX webhook_nonces_expiry ON webhook_nonces (expires_at);

CREATE TABLE channel_orders (
    connection_id BLOB NOT NULL REFERENCES platform_connections(id) ON DELETE CASCADE,
    external_id   TEXT NOT NULL,
    tenant_id     BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    state         TEXT NOT NULL CHECK (state IN ('placed', 'cancelled')),
    taken         TEXT NOT NULL DEFAULT '[]',
    restocked     BOOLEAN NOT NULL DEFAULT 0,
    unmatched     TEXT NOT NULL DEFAULT '[]',
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (connection_id, external_id)
);
CREATE INDEX channel_orders_tenant ON channel_orders (tenant_id, created_at);

ALTER TABLE tenants ADD COLUMN restock_on_cancel BOOLEAN NOT NULL DEFAULT 1;

ALTER TABLE platform_connections ADD COLUMN orders_polled_until TEXT;
-- Connections made before polling existed start from now: their earlier
-- orders are already in the stock they were linked with.
UPDATE platform_connections SET orders_polled_until = strftime('%Y-%m-%dT%H:%M:%SZ', 'now');

-- A channel's product webhook names the item by the channel's product id.
CREATE INDEX platform_listings_external_product ON platform_listings (connection_id, external_product_id);
