-- SQLite dialect of ../postgres/0009_refunds.sql.

ALTER TABLE channel_orders ADD COLUMN returned TEXT NOT NULL DEFAULT '[]';

CREATE TABLE channel_refunds (
    connection_id     BLOB NOT NULL REFERENCES platform_connections(id) ON DELETE CASCADE,
    refund_id         TEXT NOT NULL,
    order_external_id TEXT NOT NULL,
    tenant_id         BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    restocked         TEXT NOT NULL DEFAULT '[]',
    created_at        TEXT NOT NULL,
    PRIMARY KEY (connection_id, refund_id)
);
CREATE INDEX channel_refunds_order ON channel_refunds (connection_id, order_external_id);
CREATE INDEX channel_refunds_tenant ON channel_refunds (tenant_id, created_at);
