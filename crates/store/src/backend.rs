//! The repository code, written once and compiled for each database.
//!
//! sqlx's `Any` driver cannot carry UUIDs, decimals or timestamps, and generic
//! code over `sqlx::Database` needs a wall of trait bounds on every function.
//! Instead each file in `repo/` is plain sqlx code against a type alias `DB`,
//! included into one module per backend, so both are type-checked against their
//! real driver and the SQL is shared. The few dialect differences (how exact
//! decimals are stored, how a write transaction starts, row locks) are the
//! small set of items each module defines before the include, plus the
//! multi-row inserts in `repo/bulk/` (arrays through UNNEST on PostgreSQL,
//! a VALUES list on SQLite), written once per backend.

pub(crate) mod sqlite {
    pub(crate) type DB = sqlx::Sqlite;
    include!("repo/prelude.rs");

    /// SQLite has no exact numeric type: decimals are stored as canonical text.
    pub(crate) type Dec = String;
    /// Take the write lock up front, so two writers queue on the busy timeout
    /// instead of deadlocking when a reader upgrades.
    pub(crate) const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";
    /// Unneeded: `BEGIN IMMEDIATE` already serialises writers.
    pub(crate) const LOCK_ROW: &str = "";
    /// Unneeded for the same reason: one writer at a time never meets a locked row.
    pub(crate) const SKIP_LOCKED: &str = "";
    /// The two-argument minimum.
    pub(crate) const LEAST: &str = "MIN";
    /// WAL with `synchronous = NORMAL` already commits without waiting for the disk.
    pub(crate) const RELAXED_COMMIT: Option<&str> = None;
    /// The tenant column in a filter that must not pick the tenant index:
    /// without statistics SQLite prefers `tenant_id = ?` over a list of
    /// product ids and walks the tenant's every listing (the unary `+` keeps
    /// the filter and drops the index).
    pub(crate) const TENANT_FILTER: &str = "+tenant_id";

    pub(crate) fn dec_in(d: Decimal) -> Dec {
        d.normalize().to_string()
    }

    pub(crate) fn dec_out(s: Dec) -> StoreResult<Decimal> {
        Decimal::from_str_exact(&s).map_err(|_| StoreError::Corrupt(format!("decimal `{s}`")))
    }

    include!("repo/common.rs");
    include!("repo/catalog_read.rs");
    include!("repo/catalog_write.rs");
    include!("repo/auth.rs");
    include!("repo/idempotency.rs");
    include!("repo/jobs.rs");
    include!("repo/outbox.rs");
    include!("repo/channels.rs");
    include!("repo/connections.rs");
    include!("repo/listings.rs");
    include!("repo/sync_runs.rs");
    include!("repo/listing_admin.rs");
    include!("repo/rules.rs");
    include!("repo/conflicts.rs");
    include!("repo/bulk/sqlite.rs");
    include!("repo/webhooks.rs");
    include!("repo/orders.rs");
    include!("repo/refunds.rs");
    include!("repo/overview.rs");
}

pub(crate) mod postgres {
    pub(crate) type DB = sqlx::Postgres;
    include!("repo/prelude.rs");

    pub(crate) type Dec = Decimal;
    pub(crate) const BEGIN_WRITE: &str = "BEGIN";
    pub(crate) const LOCK_ROW: &str = " FOR UPDATE";
    pub(crate) const SKIP_LOCKED: &str = " FOR UPDATE SKIP LOCKED";
    pub(crate) const LEAST: &str = "LEAST";
    /// For queue bookkeeping only (claims, completions): commit without waiting
    /// for the WAL flush. A crash can forget the last few milliseconds of them,
    /// which leases and idempotent handlers absorb (the job runs again); the
    /// database stays consistent. Never used for enqueues or business writes.
    pub(crate) const RELAXED_COMMIT: Option<&str> = Some("SET LOCAL synchronous_commit = off");
    /// PostgreSQL plans from statistics; the plain column.
    pub(crate) const TENANT_FILTER: &str = "tenant_id";

    pub(crate) fn dec_in(d: Decimal) -> Dec {
        d
    }

    pub(crate) fn dec_out(d: Dec) -> StoreResult<Decimal> {
        Ok(d.normalize())
    }

    include!("repo/common.rs");
    include!("repo/catalog_read.rs");
    include!("repo/catalog_write.rs");
    include!("repo/auth.rs");
    include!("repo/idempotency.rs");
    include!("repo/jobs.rs");
    include!("repo/outbox.rs");
    include!("repo/channels.rs");
    include!("repo/connections.rs");
    include!("repo/listings.rs");
    include!("repo/sync_runs.rs");
    include!("repo/listing_admin.rs");
    include!("repo/rules.rs");
    include!("repo/conflicts.rs");
    include!("repo/bulk/postgres.rs");
    include!("repo/webhooks.rs");
    include!("repo/orders.rs");
    include!("repo/refunds.rs");
    include!("repo/overview.rs");
}
