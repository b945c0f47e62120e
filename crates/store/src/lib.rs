//! Storage for Shelfsync: the master catalog and everything the sync pipeline
//! records, on SQLite (one machine, nothing installed) or PostgreSQL (scaled).
//!
//! [`Store`] is the one handle the rest of the code sees. Every method that
//! reads or writes a tenant's rows takes a [`TenantId`] (inside a
//! [`WriteContext`] for writes): there is no way to ask for a row without one.

mod backend;
mod error;
mod records;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use shelfsync_core::catalog::{
    InventoryChange, NewProduct, Product, ProductPatch, Variant, VariantPatch,
};
use shelfsync_core::rules::{Rule, RuleInput};
use shelfsync_core::{
    ApiKeyId, ConnectionId, JobId, ListingId, Platform, ProductId, RuleId, TenantId, VariantId,
};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use error::{StoreError, StoreResult};
pub use records::*;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Which database a [`Store`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Connection pool settings.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

/// The handle to the database. Cheap to clone: it is a pool.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
}

/// Calls the same repository function on whichever backend this store has.
macro_rules! dispatch {
    ($self:ident . $func:ident ( $($arg:expr),* $(,)? )) => {
        match &$self.backend {
            Backend::Sqlite(pool) => backend::sqlite::$func(pool, $($arg),*).await,
            Backend::Postgres(pool) => backend::postgres::$func(pool, $($arg),*).await,
        }
    };
}

impl Store {
    /// Connects to `sqlite://path` (created if missing, WAL) or `postgres://…`.
    pub async fn connect(url: &str, options: &StoreOptions) -> StoreResult<Self> {
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // Plan every execution with its real parameters. sqlx keeps prepared
            // statements per connection, and a generic plan cached while a table
            // was small (a fresh tenant, the start of an import) would keep
            // scanning it sequentially as it grows.
            let connect = PgConnectOptions::from_str(url)?
                .options([("plan_cache_mode", "force_custom_plan")]);
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect)
                .await?;
            Backend::Postgres(pool)
        } else if url.starts_with("sqlite:") {
            let connect = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true);
            if let Some(parent) = Path::new(connect.get_filename()).parent()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent)
                    .map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
            }
            let pool = SqlitePoolOptions::new()
                .max_connections(options.max_connections.min(8))
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect)
                .await?;
            Backend::Sqlite(pool)
        } else {
            return Err(StoreError::Database(sqlx::Error::Configuration(
                "DATABASE_URL must start with sqlite:// or postgres://".into(),
            )));
        };
        Ok(Self { backend })
    }

    pub fn kind(&self) -> BackendKind {
        match self.backend {
            Backend::Sqlite(_) => BackendKind::Sqlite,
            Backend::Postgres(_) => BackendKind::Postgres,
        }
    }

    /// Applies pending migrations for this backend. Safe to run on every start.
    pub async fn migrate(&self) -> StoreResult<()> {
        match &self.backend {
            Backend::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await?,
            Backend::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// The PostgreSQL pool, for the pieces (LISTEN/NOTIFY) that only it has.
    pub fn postgres_pool(&self) -> Option<&PgPool> {
        match &self.backend {
            Backend::Postgres(p) => Some(p),
            Backend::Sqlite(_) => None,
        }
    }

    /// Refreshes the planner's statistics: worth it after a large import, so
    /// the next queries are planned for the tables as they now are.
    pub async fn analyze(&self) -> StoreResult<()> {
        match &self.backend {
            Backend::Sqlite(p) => {
                sqlx::query("PRAGMA optimize").execute(p).await?;
            }
            Backend::Postgres(p) => {
                sqlx::query("ANALYZE").execute(p).await?;
            }
        }
        Ok(())
    }

    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite(p) => p.close().await,
            Backend::Postgres(p) => p.close().await,
        }
    }

    pub async fn ping(&self) -> StoreResult<()> {
        dispatch!(self.ping())
    }

    // ---- catalog -------------------------------------------------------

    pub async fn create_product(
        &self,
        ctx: &WriteContext,
        input: &NewProduct,
    ) -> StoreResult<Product> {
        dispatch!(self.create_product(ctx, input, Utc::now()))
    }

    pub async fn get_product(
        &self,
        tenant: TenantId,
        id: ProductId,
    ) -> StoreResult<Option<Product>> {
        dispatch!(self.get_product(tenant, id))
    }

    pub async fn get_products(
        &self,
        tenant: TenantId,
        ids: &[ProductId],
    ) -> StoreResult<Vec<Product>> {
        dispatch!(self.get_products(tenant, ids))
    }

    pub async fn all_product_ids(&self, tenant: TenantId) -> StoreResult<Vec<ProductId>> {
        dispatch!(self.all_product_ids(tenant))
    }

    pub async fn list_products(
        &self,
        tenant: TenantId,
        query: &ProductQuery,
    ) -> StoreResult<ProductPage> {
        dispatch!(self.list_products(tenant, query))
    }

    pub async fn patch_product(
        &self,
        ctx: &WriteContext,
        id: ProductId,
        patch: &ProductPatch,
    ) -> StoreResult<Product> {
        dispatch!(self.patch_product(ctx, id, patch, Utc::now()))
    }

    pub async fn delete_product(&self, ctx: &WriteContext, id: ProductId) -> StoreResult<()> {
        dispatch!(self.delete_product(ctx, id, Utc::now()))
    }

    pub async fn get_variant(
        &self,
        tenant: TenantId,
        id: VariantId,
    ) -> StoreResult<Option<Variant>> {
        dispatch!(self.get_variant(tenant, id))
    }

    pub async fn patch_variant(
        &self,
        ctx: &WriteContext,
        id: VariantId,
        patch: &VariantPatch,
    ) -> StoreResult<Variant> {
        dispatch!(self.patch_variant(ctx, id, patch, Utc::now()))
    }

    pub async fn change_inventory(
        &self,
        ctx: &WriteContext,
        id: VariantId,
        change: &InventoryChange,
    ) -> StoreResult<Variant> {
        dispatch!(self.change_inventory(ctx, id, change, Utc::now()))
    }

    pub async fn inventory_history(
        &self,
        tenant: TenantId,
        id: VariantId,
        limit: u32,
    ) -> StoreResult<Vec<InventoryMovement>> {
        dispatch!(self.inventory_history(tenant, id, limit))
    }

    pub async fn bulk_upsert(
        &self,
        ctx: &WriteContext,
        items: &[NewProduct],
    ) -> StoreResult<BulkUpsertOutcome> {
        dispatch!(self.bulk_upsert(ctx, items, Utc::now()))
    }

    pub async fn list_audit(
        &self,
        tenant: TenantId,
        before: Option<uuid::Uuid>,
        limit: u32,
    ) -> StoreResult<Vec<AuditEntry>> {
        dispatch!(self.list_audit(tenant, before, limit))
    }

    pub async fn count_outbox(&self, tenant: TenantId) -> StoreResult<i64> {
        dispatch!(self.count_outbox(tenant))
    }

    // ---- tenants, users, keys -----------------------------------------

    pub async fn create_tenant(
        &self,
        name: &str,
        external_ref: Option<&str>,
    ) -> StoreResult<TenantId> {
        dispatch!(self.create_tenant(name, external_ref, Utc::now()))
    }

    pub async fn user_for_session(
        &self,
        external_user: &str,
        email: Option<&str>,
        organisation: Option<&str>,
    ) -> StoreResult<UserOwner> {
        dispatch!(self.user_for_session(external_user, email, organisation, Utc::now()))
    }

    pub async fn insert_api_key(
        &self,
        ctx: &WriteContext,
        name: &str,
        prefix: &str,
        key_hash: &[u8],
    ) -> StoreResult<ApiKeyRecord> {
        dispatch!(self.insert_api_key(ctx, name, prefix, key_hash, Utc::now()))
    }

    pub async fn list_api_keys(&self, tenant: TenantId) -> StoreResult<Vec<ApiKeyRecord>> {
        dispatch!(self.list_api_keys(tenant))
    }

    pub async fn revoke_api_key(
        &self,
        ctx: &WriteContext,
        id: ApiKeyId,
    ) -> StoreResult<ApiKeyRecord> {
        dispatch!(self.revoke_api_key(ctx, id, Utc::now()))
    }

    pub async fn api_key_by_hash(&self, key_hash: &[u8]) -> StoreResult<Option<ApiKeyOwner>> {
        dispatch!(self.api_key_by_hash(key_hash))
    }

    pub async fn touch_api_key(&self, id: ApiKeyId) -> StoreResult<()> {
        dispatch!(self.touch_api_key(id, Utc::now()))
    }

    pub async fn count_api_keys(&self) -> StoreResult<i64> {
        dispatch!(self.count_api_keys())
    }

    pub async fn ensure_bootstrap_key(
        &self,
        prefix: &str,
        key_hash: &[u8],
    ) -> StoreResult<(TenantId, bool)> {
        dispatch!(self.ensure_bootstrap_key(prefix, key_hash, Utc::now()))
    }

    pub async fn ensure_default_tenant(&self) -> StoreResult<TenantId> {
        dispatch!(self.ensure_default_tenant(Utc::now()))
    }

    pub async fn bootstrap_tenant(&self) -> StoreResult<Option<TenantId>> {
        dispatch!(self.bootstrap_tenant())
    }

    // ---- idempotency ----------------------------------------------------

    pub async fn idempotency_start(
        &self,
        tenant: TenantId,
        key: &str,
        request_hash: &[u8],
        ttl: chrono::Duration,
    ) -> StoreResult<IdempotencyStart> {
        dispatch!(self.idempotency_start(tenant, key, request_hash, Utc::now(), ttl))
    }

    pub async fn idempotency_finish(
        &self,
        tenant: TenantId,
        key: &str,
        status: u16,
        body: &[u8],
    ) -> StoreResult<()> {
        dispatch!(self.idempotency_finish(tenant, key, status, body))
    }

    pub async fn idempotency_abandon(&self, tenant: TenantId, key: &str) -> StoreResult<()> {
        dispatch!(self.idempotency_abandon(tenant, key))
    }

    pub async fn purge_idempotency_keys(&self) -> StoreResult<u64> {
        dispatch!(self.purge_idempotency_keys(Utc::now()))
    }

    // ---- job queue -----------------------------------------------------

    /// Enqueues jobs in one transaction (see [`NewJob::dedupe_key`] for merging).
    pub async fn enqueue_jobs(&self, jobs: &[NewJob]) -> StoreResult<Vec<EnqueueOutcome>> {
        dispatch!(self.enqueue_jobs(jobs, Utc::now()))
    }

    /// Leases up to `limit` due jobs of `queue` to `worker` for `lease`.
    pub async fn claim_jobs(
        &self,
        queue: &str,
        worker: &str,
        limit: u32,
        lease: Duration,
    ) -> StoreResult<Vec<JobRecord>> {
        let now = Utc::now();
        let until = now + chrono_duration(lease);
        dispatch!(self.claim_jobs(queue, worker, i64::from(limit), until, now))
    }

    /// Finishes jobs in one transaction (see [`Completed`]).
    pub async fn complete_jobs(&self, ids: &[JobId], worker: &str) -> StoreResult<Completed> {
        dispatch!(self.complete_jobs(ids, worker, Utc::now()))
    }

    /// Records a failure: retry at `retry_at`, or dead letter when `None`.
    pub async fn fail_job(
        &self,
        id: JobId,
        worker: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> StoreResult<FailOutcome> {
        dispatch!(self.fail_job(id, worker, error, retry_at, Utc::now()))
    }

    /// Hands a leased job back without charging an attempt (shutdown).
    pub async fn release_job(&self, id: JobId, worker: &str) -> StoreResult<bool> {
        dispatch!(self.release_job(id, worker, Utc::now()))
    }

    /// Extends the leases `worker` holds; returns the ids it still holds.
    pub async fn extend_leases(
        &self,
        worker: &str,
        ids: &[JobId],
        lease: Duration,
    ) -> StoreResult<Vec<JobId>> {
        let now = Utc::now();
        dispatch!(self.extend_leases(worker, ids, now + chrono_duration(lease), now))
    }

    /// Listings per connection and status, for the overview.
    pub async fn listing_counts(&self, tenant: TenantId) -> StoreResult<Vec<ListingCount>> {
        dispatch!(self.listing_counts(tenant))
    }

    /// The tenant's latest `limit` stock movements, newest first.
    pub async fn recent_stock_moves(
        &self,
        tenant: TenantId,
        limit: u32,
    ) -> StoreResult<Vec<StockMove>> {
        dispatch!(self.recent_stock_moves(tenant, i64::from(limit)))
    }

    pub async fn queue_stats(&self) -> StoreResult<Vec<QueueStats>> {
        dispatch!(self.queue_stats(Utc::now()))
    }

    pub async fn dead_jobs(&self, limit: u32) -> StoreResult<Vec<DeadJob>> {
        dispatch!(self.dead_jobs(i64::from(limit)))
    }

    pub async fn retry_dead_job(&self, id: JobId) -> StoreResult<bool> {
        dispatch!(self.retry_dead_job(id, Utc::now()))
    }

    pub async fn purge_dead_jobs(&self, older_than: Duration) -> StoreResult<u64> {
        dispatch!(self.purge_dead_jobs(Utc::now() - chrono_duration(older_than)))
    }

    pub async fn upsert_schedule(&self, schedule: &JobSchedule) -> StoreResult<()> {
        dispatch!(self.upsert_schedule(schedule, Utc::now()))
    }

    /// Enqueues the repeatable jobs that are due; returns their names.
    pub async fn run_due_schedules(&self, max_attempts: i32) -> StoreResult<Vec<String>> {
        dispatch!(self.run_due_schedules(max_attempts, Utc::now()))
    }

    // ---- workers -------------------------------------------------------

    pub async fn worker_heartbeat(&self, beat: &WorkerBeat) -> StoreResult<()> {
        dispatch!(self.worker_heartbeat(beat, Utc::now()))
    }

    pub async fn worker_stopped(&self, id: &str) -> StoreResult<()> {
        dispatch!(self.worker_stopped(id, Utc::now()))
    }

    /// Workers still running, or seen within `recent`.
    pub async fn list_workers(&self, recent: Duration) -> StoreResult<Vec<WorkerRecord>> {
        dispatch!(self.list_workers(Utc::now() - chrono_duration(recent)))
    }

    pub async fn purge_workers(&self, older_than: Duration) -> StoreResult<u64> {
        dispatch!(self.purge_workers(Utc::now() - chrono_duration(older_than)))
    }

    // ---- outbox and channel writes ------------------------------------

    /// Relays one batch of outbox events (see the repository for the guarantees).
    pub async fn relay_outbox(
        &self,
        limit: u32,
        sync_max_attempts: i32,
    ) -> StoreResult<RelayBatch> {
        dispatch!(self.relay_outbox(i64::from(limit), sync_max_attempts, Utc::now()))
    }

    /// Unprocessed events and the age in milliseconds of the oldest.
    pub async fn outbox_backlog(&self) -> StoreResult<(i64, Option<i64>)> {
        dispatch!(self.outbox_backlog(Utc::now()))
    }

    pub async fn purge_outbox(&self, older_than: Duration) -> StoreResult<u64> {
        dispatch!(self.purge_outbox(Utc::now() - chrono_duration(older_than)))
    }

    /// Records a channel write as applied; `false` if it already was.
    pub async fn record_channel_write(&self, write: &ChannelWrite) -> StoreResult<bool> {
        dispatch!(self.record_channel_write(write, Utc::now()))
    }

    pub async fn channel_write_applied(&self, key: &str) -> StoreResult<bool> {
        dispatch!(self.channel_write_applied(key))
    }

    pub async fn purge_channel_writes(&self, older_than: Duration) -> StoreResult<u64> {
        dispatch!(self.purge_channel_writes(Utc::now() - chrono_duration(older_than)))
    }

    // ---- connections and listings -------------------------------------

    pub async fn insert_connection(
        &self,
        tenant: TenantId,
        platform: &str,
        name: &str,
    ) -> StoreResult<ConnectionId> {
        dispatch!(self.insert_connection(tenant, platform, name, Utc::now()))
    }

    pub async fn upsert_listing(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        product: ProductId,
        variant: VariantId,
    ) -> StoreResult<ListingId> {
        dispatch!(self.upsert_listing(tenant, connection, product, variant, Utc::now()))
    }

    pub async fn list_listings(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
    ) -> StoreResult<Vec<ListingRecord>> {
        dispatch!(self.list_listings(tenant, connection))
    }

    pub async fn create_connection(&self, new: &NewConnection) -> StoreResult<ConnectionRecord> {
        dispatch!(self.create_connection(new, Utc::now()))
    }

    pub async fn get_connection(
        &self,
        tenant: TenantId,
        id: ConnectionId,
    ) -> StoreResult<Option<ConnectionRecord>> {
        dispatch!(self.get_connection(tenant, id))
    }

    /// Rename a connection or replace its settings.
    pub async fn update_connection(
        &self,
        tenant: TenantId,
        id: ConnectionId,
        name: Option<&str>,
        settings: Option<&serde_json::Value>,
    ) -> StoreResult<ConnectionRecord> {
        dispatch!(self.update_connection(tenant, id, name, settings, Utc::now()))
    }

    pub async fn list_connections(&self, tenant: TenantId) -> StoreResult<Vec<ConnectionRecord>> {
        dispatch!(self.list_connections(tenant))
    }

    /// Swap sealed credentials if they are still `previous` (compare and set).
    pub async fn replace_credentials(
        &self,
        tenant: TenantId,
        id: ConnectionId,
        previous: Option<&shelfsync_core::vault::Sealed>,
        sealed: &shelfsync_core::vault::Sealed,
        token_expires_at: Option<DateTime<Utc>>,
    ) -> StoreResult<bool> {
        dispatch!(self.replace_credentials(
            tenant,
            id,
            previous,
            sealed,
            token_expires_at,
            Utc::now()
        ))
    }

    pub async fn disconnect_connection(
        &self,
        tenant: TenantId,
        id: ConnectionId,
    ) -> StoreResult<bool> {
        dispatch!(self.disconnect_connection(tenant, id, Utc::now()))
    }

    /// Credentials sealed under another key than `current_key_id`, for rotation.
    pub async fn stale_credentials(
        &self,
        current_key_id: &str,
        limit: i64,
    ) -> StoreResult<Vec<StaleCredentials>> {
        dispatch!(self.stale_credentials(current_key_id, limit))
    }

    /// How many stored credentials each key id seals.
    pub async fn credentials_by_key(&self) -> StoreResult<Vec<(String, i64)>> {
        dispatch!(self.credentials_by_key())
    }

    pub async fn insert_oauth_state(
        &self,
        state_hash: &[u8],
        state: &OAuthState,
    ) -> StoreResult<()> {
        dispatch!(self.insert_oauth_state(state_hash, state, Utc::now()))
    }

    /// Take (and delete) an install's state; `None` if unknown, used or expired.
    pub async fn take_oauth_state(&self, state_hash: &[u8]) -> StoreResult<Option<OAuthState>> {
        dispatch!(self.take_oauth_state(state_hash, Utc::now()))
    }

    pub async fn add_usage(&self, deltas: &[UsageDelta]) -> StoreResult<()> {
        dispatch!(self.add_usage(deltas))
    }

    pub async fn usage_since(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<UsageRecord>> {
        dispatch!(self.usage_since(tenant, connection, since))
    }

    /// Store an alert unless the same one is open; true when stored.
    pub async fn raise_alert(&self, alert: &NewAlert) -> StoreResult<bool> {
        dispatch!(self.raise_alert(alert, Utc::now()))
    }

    pub async fn resolve_alert(&self, kind: &str, subject: &str) -> StoreResult<bool> {
        dispatch!(self.resolve_alert(kind, subject, Utc::now()))
    }

    pub async fn list_alerts(&self, tenant: TenantId, limit: i64) -> StoreResult<Vec<AlertRecord>> {
        dispatch!(self.list_alerts(tenant, limit))
    }

    /// A connection's listings due for a push, of at most `limit` products
    /// after `after` (in product id order),
    /// grouped by product: a product's due listings always come together, so
    /// one push carries all of them (a split would create it twice).
    pub async fn pending_listings(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        after: Option<ProductId>,
        limit: i64,
    ) -> StoreResult<Vec<PendingListing>> {
        dispatch!(self.pending_listings(tenant, connection, after, limit))
    }

    /// Failed listings due for a retry made pending again; their connections.
    pub async fn wake_due_retries(&self) -> StoreResult<Vec<(TenantId, ConnectionId)>> {
        dispatch!(self.wake_due_retries(Utc::now()))
    }

    /// Write what pushes did; rows marked pending again meanwhile are left pending.
    pub async fn record_listing_results(
        &self,
        tenant: TenantId,
        results: &[ListingResult],
    ) -> StoreResult<u64> {
        dispatch!(self.record_listing_results(tenant, results, &[], Utc::now()))
    }

    /// A sync round's listing results and the logs of the calls that
    /// settled them, in one write transaction: on SQLite's single writer a
    /// round costs one turn at the lock, not one per call.
    pub async fn record_sync_round(
        &self,
        tenant: TenantId,
        results: &[ListingResult],
        logs: &[NewSyncLog],
    ) -> StoreResult<u64> {
        dispatch!(self.record_listing_results(tenant, results, logs, Utc::now()))
    }

    /// Lists products or variants on a connection (idempotent per product and
    /// variant), recording channel ids where given, and wakes the
    /// connection's sync job in the same transaction when any is pending.
    /// `NotFound` when the connection or a product/variant is not the tenant's.
    pub async fn link_listings(
        &self,
        ctx: &WriteContext,
        connection: ConnectionId,
        links: &[ListingLink],
        sync_max_attempts: i32,
    ) -> StoreResult<Vec<ListingId>> {
        dispatch!(self.link_listings(ctx, connection, links, sync_max_attempts, Utc::now()))
    }

    /// One page of a tenant's listings.
    pub async fn query_listings(
        &self,
        tenant: TenantId,
        query: &ListingQuery,
    ) -> StoreResult<ListingViewPage> {
        dispatch!(self.query_listings(tenant, query))
    }

    pub async fn get_listing(
        &self,
        tenant: TenantId,
        id: ListingId,
    ) -> StoreResult<Option<ListingView>> {
        dispatch!(self.get_listing(tenant, id))
    }

    /// Listings by id in the order given; ids not the tenant's are skipped.
    pub async fn get_listings(
        &self,
        tenant: TenantId,
        ids: &[ListingId],
    ) -> StoreResult<Vec<ListingView>> {
        dispatch!(self.get_listings(tenant, ids))
    }

    /// Excludes a listing from sync, or lets it sync again (pending, with
    /// its connection's sync job enqueued in the same transaction).
    pub async fn set_listing_excluded(
        &self,
        ctx: &WriteContext,
        id: ListingId,
        excluded: bool,
        sync_max_attempts: i32,
    ) -> StoreResult<ListingView> {
        dispatch!(self.set_listing_excluded(ctx, id, excluded, sync_max_attempts, Utc::now()))
    }

    pub async fn insert_sync_log(&self, log: &NewSyncLog) -> StoreResult<()> {
        dispatch!(self.insert_sync_log(log, Utc::now()))
    }

    // ---- reconciliation and conflicts ---------------------------------

    /// A connection's synced listings, grouped by product: what
    /// reconciliation compares with the channel.
    pub async fn synced_listings(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
    ) -> StoreResult<Vec<PendingListing>> {
        dispatch!(self.synced_listings(tenant, connection))
    }

    /// The synced listings a channel's product webhook is about.
    pub async fn synced_listings_for_items(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        external_product_ids: &[String],
    ) -> StoreResult<Vec<PendingListing>> {
        dispatch!(self.synced_listings_for_items(tenant, connection, external_product_ids))
    }

    /// Every active connection, of every tenant.
    pub async fn active_connections(&self) -> StoreResult<Vec<(TenantId, ConnectionId)>> {
        dispatch!(self.active_connections())
    }

    /// Push these products to the connection again even if their content
    /// did not change (the channel's copy did); enqueues the sync job.
    pub async fn repush_products(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        products: &[ProductId],
        sync_max_attempts: i32,
    ) -> StoreResult<u64> {
        dispatch!(self.repush_products(tenant, connection, products, sync_max_attempts, Utc::now()))
    }

    /// Open a conflict (idempotent per listing and field; the product's
    /// listings on the connection wait in `conflict`), or record one a
    /// policy settled.
    pub async fn record_conflict(&self, new: &NewConflict) -> StoreResult<uuid::Uuid> {
        dispatch!(self.record_conflict(new, Utc::now()))
    }

    pub async fn get_conflict(
        &self,
        tenant: TenantId,
        id: uuid::Uuid,
    ) -> StoreResult<Option<ConflictRecord>> {
        dispatch!(self.get_conflict(tenant, id))
    }

    pub async fn list_conflicts(
        &self,
        tenant: TenantId,
        query: &ConflictQuery,
    ) -> StoreResult<ConflictPage> {
        dispatch!(self.list_conflicts(tenant, query))
    }

    /// Settle an open conflict by hand; see [`ConflictSettlement`]. A
    /// `Channel` settlement expects the caller to have written the channel's
    /// value into the catalog first ([`Store::absorb_channel_value`]).
    pub async fn settle_conflict(
        &self,
        tenant: TenantId,
        id: uuid::Uuid,
        settlement: ConflictSettlement,
        sync_max_attempts: i32,
    ) -> StoreResult<Option<ConflictRecord>> {
        dispatch!(self.settle_conflict(tenant, id, settlement, sync_max_attempts, Utc::now()))
    }

    pub async fn list_policies(&self, tenant: TenantId) -> StoreResult<Vec<PolicyRecord>> {
        dispatch!(self.list_policies(tenant))
    }

    /// Set the conflict policy of a scope; `NotFound` for another tenant's connection.
    pub async fn set_policy(
        &self,
        tenant: TenantId,
        connection: Option<ConnectionId>,
        field: Option<ConflictField>,
        policy: ConflictPolicy,
    ) -> StoreResult<PolicyRecord> {
        dispatch!(self.set_policy(tenant, connection, field, policy, Utc::now()))
    }

    /// Write a value a channel holds into the master catalog, through the
    /// ordinary write paths (audit trail and outbox included, so every other
    /// channel is brought along): the product's title or status, a variant's
    /// price, or its stock (set at the default location, never below 0).
    pub async fn absorb_channel_value(
        &self,
        ctx: &WriteContext,
        product: ProductId,
        variant: Option<VariantId>,
        field: ConflictField,
        value: &serde_json::Value,
    ) -> StoreResult<()> {
        let invalid = |message: &str| {
            let mut errors = shelfsync_core::validation::ValidationErrors::default();
            errors.push(field.as_str(), message);
            StoreError::Invalid(errors)
        };
        let variant = || variant.ok_or_else(|| invalid("the conflict names no variant"));
        match field {
            ConflictField::Title | ConflictField::Status => {
                let patch: ProductPatch =
                    serde_json::from_value(serde_json::json!({ field.as_str(): value }))
                        .map_err(|e| invalid(&e.to_string()))?;
                self.patch_product(ctx, product, &patch).await?;
            }
            ConflictField::Price => {
                let patch: VariantPatch =
                    serde_json::from_value(serde_json::json!({ "price": value }))
                        .map_err(|e| invalid(&e.to_string()))?;
                self.patch_variant(ctx, variant()?, &patch).await?;
            }
            ConflictField::Quantity => {
                let quantity = value
                    .as_i64()
                    .ok_or_else(|| invalid("the channel's quantity is not a whole number"))?;
                let change = InventoryChange {
                    location_id: None,
                    set: Some(quantity.max(0)),
                    adjust: None,
                    reason: Some("taken from the channel by reconciliation".into()),
                };
                self.change_inventory(ctx, variant()?, &change).await?;
            }
        }
        Ok(())
    }

    /// The listings a sync of this scope covers, for a dry run to plan over.
    pub async fn listings_in_scope(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        products: Option<&[ProductId]>,
    ) -> StoreResult<Vec<PendingListing>> {
        dispatch!(self.listings_in_scope(tenant, connection, products))
    }

    /// Mark this scope's listings pending and wake the connection's sync.
    pub async fn request_sync(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        products: Option<&[ProductId]>,
        max_attempts: i32,
    ) -> StoreResult<u64> {
        dispatch!(self.request_sync(tenant, connection, products, max_attempts, Utc::now()))
    }

    pub async fn list_sync_logs(
        &self,
        tenant: TenantId,
        filter: &SyncLogQuery,
    ) -> StoreResult<Vec<SyncLogRecord>> {
        dispatch!(self.list_sync_logs(tenant, filter))
    }

    // ---- sync rules ----------------------------------------------------

    /// Saves a new rule. Invalid input, or a `connection_id` that is not one of
    /// the tenant's connections, is [`StoreError::Invalid`].
    pub async fn create_rule(
        &self,
        ctx: &WriteContext,
        input: &RuleInput,
    ) -> StoreResult<RuleRecord> {
        dispatch!(self.create_rule(ctx, input, Utc::now()))
    }

    /// One of the tenant's rules; another tenant's id is [`StoreError::NotFound`].
    pub async fn get_rule(&self, tenant: TenantId, id: RuleId) -> StoreResult<RuleRecord> {
        dispatch!(self.get_rule(tenant, id))
    }

    /// All of the tenant's rules, enabled or not, in the order they run.
    pub async fn list_rules(&self, tenant: TenantId) -> StoreResult<Vec<RuleRecord>> {
        dispatch!(self.list_rules(tenant))
    }

    /// Replaces a rule's fields (all of them: a PUT, not a patch).
    pub async fn update_rule(
        &self,
        ctx: &WriteContext,
        id: RuleId,
        input: &RuleInput,
    ) -> StoreResult<RuleRecord> {
        dispatch!(self.update_rule(ctx, id, input, Utc::now()))
    }

    pub async fn delete_rule(&self, ctx: &WriteContext, id: RuleId) -> StoreResult<()> {
        dispatch!(self.delete_rule(ctx, id, Utc::now()))
    }

    /// The enabled rules in scope for one connection, ordered by priority then
    /// id: what the sync worker hands to `shelfsync_core::rules::apply_rules`.
    pub async fn rules_for(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        platform: Platform,
    ) -> StoreResult<Vec<Rule>> {
        dispatch!(self.rules_for(tenant, connection, platform))
    }

    /// The tenant made for a Clerk user or organisation, if there is one.
    pub async fn tenant_by_external_ref(
        &self,
        external_ref: &str,
    ) -> StoreResult<Option<TenantId>> {
        dispatch!(self.tenant_by_external_ref(external_ref))
    }

    /// The tenant of a Clerk user or organisation, made if missing.
    pub async fn ensure_tenant(&self, external_ref: &str, name: &str) -> StoreResult<TenantId> {
        dispatch!(self.ensure_tenant(external_ref, name, Utc::now()))
    }

    /// Remove a Clerk user's or organisation's tenant and all it owns.
    pub async fn delete_tenant_by_external_ref(&self, external_ref: &str) -> StoreResult<bool> {
        dispatch!(self.delete_tenant_by_external_ref(external_ref))
    }

    pub async fn delete_user_by_external_id(&self, external_id: &str) -> StoreResult<bool> {
        dispatch!(self.delete_user_by_external_id(external_id))
    }

    pub async fn remove_membership(
        &self,
        external_user: &str,
        organisation: &str,
    ) -> StoreResult<bool> {
        dispatch!(self.remove_membership(external_user, organisation))
    }

    /// Store verified deliveries with their nonce claims and jobs, in one
    /// transaction; one answer per delivery, in order.
    pub async fn accept_webhooks(
        &self,
        batch: &[NewWebhookLog],
        replay_window: chrono::Duration,
    ) -> StoreResult<Vec<WebhookAcceptance>> {
        dispatch!(self.accept_webhooks(batch, replay_window, Utc::now()))
    }

    /// A stored delivery by id, whoever it belongs to (for its job).
    pub async fn webhook_log(&self, id: uuid::Uuid) -> StoreResult<Option<WebhookLogRecord>> {
        dispatch!(self.webhook_log(id))
    }

    pub async fn tenant_webhook_log(
        &self,
        tenant: TenantId,
        id: uuid::Uuid,
    ) -> StoreResult<Option<WebhookLogRecord>> {
        dispatch!(self.tenant_webhook_log(tenant, id))
    }

    pub async fn list_webhook_logs(
        &self,
        tenant: TenantId,
        query: &WebhookLogQuery,
    ) -> StoreResult<Vec<WebhookLogRecord>> {
        dispatch!(self.list_webhook_logs(tenant, query))
    }

    /// Records the outcome of applying a delivery.
    pub async fn finish_webhook(
        &self,
        id: uuid::Uuid,
        status: &str,
        error: Option<&str>,
    ) -> StoreResult<()> {
        dispatch!(self.finish_webhook(id, status, error, Utc::now()))
    }

    /// Forgets one nonce before its window ends (its delivery was not stored).
    pub async fn forget_webhook_nonce(&self, nonce: &str) -> StoreResult<()> {
        dispatch!(self.forget_webhook_nonce(nonce))
    }

    /// Forgets nonces whose replay window has passed.
    pub async fn purge_webhook_nonces(&self) -> StoreResult<u64> {
        dispatch!(self.purge_webhook_nonces(Utc::now()))
    }

    /// A connection by id alone: only for the webhook receiver, which has
    /// nothing else to go on and checks the caller by the connection's secret.
    pub async fn connection_for_webhook(
        &self,
        id: ConnectionId,
    ) -> StoreResult<Option<ConnectionRecord>> {
        dispatch!(self.connection_for_webhook(id))
    }

    /// Apply an order's placement or cancellation to stock, once per order.
    pub async fn apply_channel_order(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        platform: &str,
        external_id: &str,
        lines: &[OrderLineRef],
        event: OrderEvent,
    ) -> StoreResult<OrderApplied> {
        dispatch!(self.apply_channel_order(
            tenant,
            connection,
            platform,
            external_id,
            lines,
            event,
            Utc::now()
        ))
    }

    /// Apply a refund of part or all of an order to stock, once per refund id,
    /// never giving back more than the order took less what earlier refunds
    /// and its cancellation gave back. `kept` lines (refunded without a
    /// restock) move nothing, and are never given back later.
    #[allow(clippy::too_many_arguments)]
    pub async fn apply_channel_refund(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        platform: &str,
        order_external_id: &str,
        refund_id: &str,
        restocked: &[OrderLineRef],
        kept: &[OrderLineRef],
    ) -> StoreResult<RefundApplied> {
        dispatch!(self.apply_channel_refund(
            tenant,
            connection,
            platform,
            order_external_id,
            refund_id,
            restocked,
            kept,
            Utc::now()
        ))
    }

    /// Whether cancelled and refunded orders give their stock back (default yes).
    pub async fn restock_on_cancel(&self, tenant: TenantId) -> StoreResult<bool> {
        dispatch!(self.restock_on_cancel(tenant))
    }

    pub async fn set_restock_on_cancel(
        &self,
        ctx: &WriteContext,
        restock: bool,
    ) -> StoreResult<()> {
        dispatch!(self.set_restock_on_cancel(ctx, restock, Utc::now()))
    }

    /// Where the next order poll of a connection starts; `None` if it is gone.
    pub async fn orders_polled_until(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
    ) -> StoreResult<Option<OrderPollCursor>> {
        dispatch!(self.orders_polled_until(tenant, connection))
    }

    pub async fn set_orders_polled_until(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        until: DateTime<Utc>,
    ) -> StoreResult<()> {
        dispatch!(self.set_orders_polled_until(tenant, connection, until))
    }
}

fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}
