-- Why a listing is excluded: 'rule' (a sync rule keeps it off the channel, so a
-- catalog or rule change looks again), anything else stays excluded until a
-- person includes it (NULL: excluded by hand, or its product was removed).
ALTER TABLE platform_listings ADD COLUMN excluded_by TEXT;

-- Hash of what the channel last accepted with stock left out: when only stock
-- changed since, the sync sets stock levels (the platform's cheap bulk call)
-- instead of sending the whole product again.
ALTER TABLE platform_listings ADD COLUMN catalog_hash BYTEA;
