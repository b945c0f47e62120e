-- Webhooks in, and the stock channel orders take.

-- The event the receiver parsed from a verified delivery, so the worker acts
-- on it without asking the adapter again; and where the delivery came from
-- ('webhook', or 'poll' for orders found by polling the channel).
ALTER TABLE webhook_logs ADD COLUMN event JSONB;
ALTER TABLE webhook_logs ADD COLUMN source TEXT NOT NULL DEFAULT 'webhook';

-- Delivery ids seen in the replay window (embedded mode; scaled deployments
-- keep them in Redis with SET NX EX). A second delivery with the same id
-- inside the window is a replay and is refused.
CREATE TABLE webhook_nonces (
    nonce      TEXT PRIMARY KEY,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX webhook_nonces_expiry ON webhook_nonces (expires_at);

-- What each channel order did to stock, once per order whichever way it
-- arrived (webhook, redelivery, poll) and in whichever order its creation and
-- cancellation arrive.
CREATE TABLE channel_orders (
    connection_id UUID NOT NULL REFERENCES platform_connections(id) ON DELETE CASCADE,
    external_id   TEXT NOT NULL,
    tenant_id     UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    -- 'placed', or 'cancelled' (a cancellation that arrived first leaves the
    -- later creation nothing to take).
    state         TEXT NOT NULL CHECK (state IN ('placed', 'cancelled')),
    -- The stock taken: [{variant_id, location_id, quantity}], what a restock gives back.
    taken         JSONB NOT NULL DEFAULT '[]',
    restocked     BOOLEAN NOT NULL DEFAULT FALSE,
    -- Lines no listing or SKU matched: [{sku, external_variant_id, quantity}].
    unmatched     JSONB NOT NULL DEFAULT '[]',
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (connection_id, external_id)
);
CREATE INDEX channel_orders_tenant ON channel_orders (tenant_id, created_at);

-- Whether a cancelled or refunded order's stock goes back on the shelf.
ALTER TABLE tenants ADD COLUMN restock_on_cancel BOOLEAN NOT NULL DEFAULT TRUE;

-- How far order polling has read each connection's orders.
ALTER TABLE platform_connections ADD COLUMN orders_polled_until TIMESTAMPTZ;
-- Connections made before polling existed start from now: their earlier
-- orders are already in the stock they were linked with.
UPDATE platform_connections SET orders_polled_until = now();

-- A channel's product webhook names the item by the channel's product id.
CREATE INDEX platform_listings_external_product ON platform_listings (connection_id, external_product_id);
