-- Master catalog, auth and audit. Every tenant-owned table carries tenant_id and
-- every lookup index starts with it: no query reads across tenants.

CREATE TABLE tenants (
    id           UUID PRIMARY KEY,
    name         TEXT NOT NULL,
    -- Clerk user or organisation id this tenant was created for, if any.
    external_ref TEXT UNIQUE,
    created_at   TIMESTAMPTZ NOT NULL
);

CREATE TABLE users (
    id          UUID PRIMARY KEY,
    tenant_id   UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    -- Clerk user id (`sub` claim).
    external_id TEXT NOT NULL UNIQUE,
    email       TEXT,
    role        TEXT NOT NULL DEFAULT 'admin',
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX users_tenant ON users (tenant_id);

CREATE TABLE api_keys (
    id           UUID PRIMARY KEY,
    tenant_id    UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    -- First characters of the key, shown so a person can tell keys apart.
    prefix       TEXT NOT NULL,
    -- SHA-256 of the whole key; the key itself is shown once and never stored.
    key_hash     BYTEA NOT NULL UNIQUE,
    created_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, id);

CREATE TABLE locations (
    id         UUID PRIMARY KEY,
    tenant_id  UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    is_default BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMPTZ NOT NULL,
    UNIQUE (tenant_id, name)
);
CREATE UNIQUE INDEX locations_one_default ON locations (tenant_id) WHERE is_default;

CREATE TABLE products (
    id           UUID PRIMARY KEY,
    tenant_id    UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    handle       TEXT NOT NULL,
    title        TEXT NOT NULL,
    description  TEXT,
    vendor       TEXT,
    product_type TEXT,
    status       TEXT NOT NULL CHECK (status IN ('active', 'draft', 'archived')),
    images       JSONB NOT NULL DEFAULT '[]',
    options      JSONB NOT NULL DEFAULT '[]',
    version      BIGINT NOT NULL DEFAULT 1,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    UNIQUE (tenant_id, handle)
);
-- Cursor pagination walks (tenant_id, id); ids are UUIDv7 so this is creation order.
CREATE INDEX products_tenant_id ON products (tenant_id, id);
CREATE INDEX products_tenant_vendor ON products (tenant_id, vendor, id);
CREATE INDEX products_tenant_status ON products (tenant_id, status, id);

CREATE TABLE product_tags (
    tenant_id  UUID NOT NULL,
    product_id UUID NOT NULL REFERENCES products(id) ON DELETE CASCADE,
    tag        TEXT NOT NULL,
    position   INTEGER NOT NULL,
    PRIMARY KEY (product_id, tag)
);
CREATE INDEX product_tags_by_tag ON product_tags (tenant_id, tag, product_id);

-- One of the seed's ten tables: a sellable variation of a product.
CREATE TABLE product_variants (
    id               UUID PRIMARY KEY,
    tenant_id        UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    product_id       UUID NOT NULL REFERENCES products(id) ON DELETE CASCADE,
    sku              TEXT NOT NULL,
    barcode          TEXT,
    title            TEXT NOT NULL,
    options          JSONB NOT NULL DEFAULT '[]',
    price            NUMERIC(18, 4) NOT NULL CHECK (price >= 0),
    compare_at_price NUMERIC(18, 4) CHECK (compare_at_price >= 0),
    currency         CHAR(3) NOT NULL,
    weight_grams     BIGINT,
    position         INTEGER NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    UNIQUE (tenant_id, sku)
);
CREATE INDEX product_variants_product ON product_variants (product_id, position);
CREATE INDEX product_variants_barcode ON product_variants (tenant_id, barcode) WHERE barcode IS NOT NULL;

CREATE TABLE inventory_levels (
    tenant_id   UUID NOT NULL,
    variant_id  UUID NOT NULL REFERENCES product_variants(id) ON DELETE CASCADE,
    location_id UUID NOT NULL REFERENCES locations(id) ON DELETE CASCADE,
    available   BIGINT NOT NULL CHECK (available >= 0),
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (variant_id, location_id)
);

-- One of the seed's ten tables: every stock movement, with why and who.
CREATE TABLE inventory_history (
    id              UUID PRIMARY KEY,
    tenant_id       UUID NOT NULL,
    variant_id      UUID NOT NULL,
    location_id     UUID NOT NULL,
    delta           BIGINT NOT NULL,
    available_after BIGINT NOT NULL,
    reason          TEXT NOT NULL,
    -- An order id, an import file, a request id: what caused the movement.
    reference       TEXT,
    actor           TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX inventory_history_variant ON inventory_history (tenant_id, variant_id, created_at);
CREATE INDEX inventory_history_created ON inventory_history (created_at);

CREATE TABLE audit_log (
    id          UUID PRIMARY KEY,
    tenant_id   UUID NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    before      JSONB,
    after       JSONB,
    request_id  TEXT,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX audit_log_tenant ON audit_log (tenant_id, id);
CREATE INDEX audit_log_entity ON audit_log (tenant_id, entity_type, entity_id);

-- Responses to mutating calls, replayed when a client retries with the same key.
CREATE TABLE idempotency_keys (
    tenant_id     UUID NOT NULL,
    key           TEXT NOT NULL,
    request_hash  BYTEA NOT NULL,
    -- NULL while the first request is still running.
    status_code   INTEGER,
    response_body BYTEA,
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
