-- SQLite dialect of ../postgres/0001_catalog.sql: UUIDs are 16-byte BLOBs, timestamps
-- RFC 3339 TEXT, JSON and exact decimals TEXT (the store parses them back).

-- Master catalog, auth and audit. Every tenant-owned table carries tenant_id and
-- every lookup index starts with it: no query reads across tenants.

CREATE TABLE tenants (
    id           BLOB PRIMARY KEY,
    name         TEXT NOT NULL,
    -- Clerk user or organisation id this tenant was created for, if any.
    external_ref TEXT UNIQUE,
    created_at   TEXT NOT NULL
);

CREATE TABLE users (
    id          BLOB PRIMARY KEY,
    tenant_id   BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    -- Clerk user id (`sub` claim).
    external_id TEXT NOT NULL UNIQUE,
    email       TEXT,
    role        TEXT NOT NULL DEFAULT 'admin',
    created_at  TEXT NOT NULL
);
CREATE INDEX users_tenant ON users (tenant_id);

CREATE TABLE api_keys (
    id           BLOB PRIMARY KEY,
    tenant_id    BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    -- First characters of the key, shown so a person can tell keys apart.
    prefix       TEXT NOT NULL,
    -- SHA-256 of the whole key; the key itself is shown once and never stored.
    key_hash     BLOB NOT NULL UNIQUE,
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, id);

CREATE TABLE locations (
    id         BLOB PRIMARY KEY,
    tenant_id  BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    is_default INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    UNIQUE (tenant_id, name)
);
CREATE UNIQUE INDEX locations_one_default ON locations (tenant_id) WHERE is_default;

CREATE TABLE products (
    id           BLOB PRIMARY KEY,
    tenant_id    BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    handle       TEXT NOT NULL,
    title        TEXT NOT NULL,
    description  TEXT,
    vendor       TEXT,
    product_type TEXT,
    status       TEXT NOT NULL CHECK (status IN ('active', 'draft', 'archived')),
    images       TEXT NOT NULL DEFAULT '[]',
    options      TEXT NOT NULL DEFAULT '[]',
    version      INTEGER NOT NULL DEFAULT 1,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    UNIQUE (tenant_id, handle)
);
-- Cursor pagination walks (tenant_id, id); ids are BLOBv7 so this is creation order.
CREATE INDEX products_tenant_id ON products (tenant_id, id);
CREATE INDEX products_tenant_vendor ON products (tenant_id, vendor, id);
CREATE INDEX products_tenant_status ON products (tenant_id, status, id);

CREATE TABLE product_tags (
    tenant_id  BLOB NOT NULL,
    product_id BLOB NOT NULL REFERENCES products(id) ON DELETE CASCADE,
    tag        TEXT NOT NULL,
    position   INTEGER NOT NULL,
    PRIMARY KEY (product_id, tag)
);
CREATE INDEX product_tags_by_tag ON product_tags (tenant_id, tag, product_id);

-- One of the seed's ten tables: a sellable variation of a product.
CREATE TABLE product_variants (
    id               BLOB PRIMARY KEY,
    tenant_id        BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    product_id       BLOB NOT NULL REFERENCES products(id) ON DELETE CASCADE,
    sku              TEXT NOT NULL,
    barcode          TEXT,
    title            TEXT NOT NULL,
    options          TEXT NOT NULL DEFAULT '[]',
    price            TEXT NOT NULL,
    compare_at_price TEXT,
    currency         TEXT NOT NULL,
    weight_grams     INTEGER,
    position         INTEGER NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    UNIQUE (tenant_id, sku)
);
CREATE INDEX product_variants_product ON product_variants (product_id, position);
CREATE INDEX product_variants_barcode ON product_variants (tenant_id, barcode) WHERE barcode IS NOT NULL;

CREATE TABLE inventory_levels (
    tenant_id   BLOB NOT NULL,
    variant_id  BLOB NOT NULL REFERENCES product_variants(id) ON DELETE CASCADE,
    location_id BLOB NOT NULL REFERENCES locations(id) ON DELETE CASCADE,
    available   INTEGER NOT NULL CHECK (available >= 0),
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (variant_id, location_id)
);

-- One of the seed's ten tables: every stock movement, with why and who.
CREATE TABLE inventory_history (
    id              BLOB PRIMARY KEY,
    tenant_id       BLOB NOT NULL,
    variant_id      BLOB NOT NULL,
    location_id     BLOB NOT NULL,
    delta           INTEGER NOT NULL,
    available_after INTEGER NOT NULL,
    reason          TEXT NOT NULL,
    -- An order id, an import file, a request id: what caused the movement.
    reference       TEXT,
    actor           TEXT NOT NULL,
    created_at      TEXT NOT NULL
);
CREATE INDEX inventory_history_variant ON inventory_history (tenant_id, variant_id, created_at);
CREATE INDEX inventory_history_created ON inventory_history (created_at);

CREATE TABLE audit_log (
    id          BLOB PRIMARY KEY,
    tenant_id   BLOB NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    before      TEXT,
    after       TEXT,
    request_id  TEXT,
    created_at  TEXT NOT NULL
);
CREATE INDEX audit_log_tenant ON audit_log (tenant_id, id);
CREATE INDEX audit_log_entity ON audit_log (tenant_id, entity_type, entity_id);

-- Responses to mutating calls, replayed when a client retries with the same key.
CREATE TABLE idempotency_keys (
    tenant_id     BLOB NOT NULL,
    key           TEXT NOT NULL,
    request_hash  BLOB NOT NULL,
    -- NULL while the first request is still running.
    status_code   INTEGER,
    response_body BLOB,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
