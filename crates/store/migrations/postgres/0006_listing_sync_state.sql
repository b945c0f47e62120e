-- Why a listing is excluded: 'rule' (a sync rule keeps it off the channel, so a
-- catalog or rule change looks again), anything else stays excluded until a
-- person includes it (NULL: excluded by hand, or its product was removed).
ALTER TABLE platform_listings ADD COLUMN excluded_by TEXT;

-- Hash of what the channel last accepted with stock left out: when only stock
-- changed since, the sync sets stock levels (the platform's cheap bulk call)
-- instead of sending the whole product again.
ALTER TABLE platform_listings ADD COLUMN catalog_hash BYTEA;

-- A sync run walks its connection's pending listings in product order,
-- a round at a time: an index range scan per round however large the backlog.
CREATE INDEX platform_listings_due ON platform_listings (connection_id, status, product_id);
