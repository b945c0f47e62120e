-- SQLite dialect of ../postgres/0005_conflicts.sql.

-- Who wins a drifted field, per tenant, per connection, per field. A NULL
-- connection means every connection of the tenant, a NULL field every field.
-- `scope` spells out the pair ("*" for NULL) so one unique index covers it
-- without relying on how NULLs compare.
CREATE TABLE conflict_policies (
    id            BLOB PRIMARY KEY,
    tenant_id     BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    connection_id BLOB REFERENCES platform_connections(id) ON DELETE CASCADE,
    field         TEXT CHECK (field IN ('title', 'status', 'price', 'quantity')),
    scope         TEXT NOT NULL,
    policy        TEXT NOT NULL
                  CHECK (policy IN ('master_wins', 'channel_wins', 'newest_wins', 'manual')),
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE UNIQUE INDEX conflict_policies_scope ON conflict_policies (tenant_id, scope);

-- Which variant a conflict is about, and where it sits on the channel.
ALTER TABLE product_conflicts ADD COLUMN variant_id BLOB;
ALTER TABLE product_conflicts ADD COLUMN sku TEXT;
ALTER TABLE product_conflicts ADD COLUMN external_product_id TEXT;
ALTER TABLE product_conflicts ADD COLUMN external_variant_id TEXT;
-- When the channel says it changed the item, if it says.
ALTER TABLE product_conflicts ADD COLUMN channel_updated_at TEXT;
-- One open conflict per listing and field: detecting it again refreshes it.
CREATE UNIQUE INDEX product_conflicts_open_field ON product_conflicts (listing_id, field)
    WHERE status = 'open';
CREATE INDEX product_conflicts_product ON product_conflicts (connection_id, product_id, status);
