-- Refunds, whole or partial, and what each gave back.

-- What refunds and a cancellation have settled of what the order took
-- (given back, or refunded without a restock because the buyer kept it):
-- [{variant_id, location_id, quantity}]. Whatever comes back later (another
-- refund, the cancellation) is capped by `taken` less this, so an order
-- never returns more than it took however its refunds and cancellation mix.
ALTER TABLE channel_orders ADD COLUMN returned JSONB NOT NULL DEFAULT '[]';

-- One row per refund a channel reported, so a redelivery or a poll of the
-- same refund moves nothing. A refund of an order we never saw leaves no
-- row: there was nothing to give back.
CREATE TABLE channel_refunds (
    connection_id     UUID NOT NULL REFERENCES platform_connections(id) ON DELETE CASCADE,
    refund_id         TEXT NOT NULL,
    order_external_id TEXT NOT NULL,
    tenant_id         UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    -- The stock this refund put back: [{variant_id, location_id, quantity}]
    -- (empty when the tenant does not restock, or no line was to be restocked).
    restocked         JSONB NOT NULL DEFAULT '[]',
    created_at        TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (connection_id, refund_id)
);
CREATE INDEX channel_refunds_order ON channel_refunds (connection_id, order_external_id);
CREATE INDEX channel_refunds_tenant ON channel_refunds (tenant_id, created_at);
