//! Plain records the store hands out and takes in, shared by both backends.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shelfsync_core::catalog::{Product, ProductStatus};
use shelfsync_core::{
    ApiKeyId, ConnectionId, JobId, ListingId, ProductId, TenantId, UserId, VariantId,
};
use uuid::Uuid;

/// Who is making a change and under which request: every write records it.
#[derive(Debug, Clone)]
pub struct WriteContext {
    pub tenant: TenantId,
    /// `api_key:key_…`, `user:user_…` or `system:import`: shown in the audit trail.
    pub actor: String,
    pub request_id: Option<String>,
}

impl WriteContext {
    pub fn new(tenant: TenantId, actor: impl Into<String>) -> Self {
        Self {
            tenant,
            actor: actor.into(),
            request_id: None,
        }
    }
}

/// Filters and position for listing products.
#[derive(Debug, Clone, Default)]
pub struct ProductQuery {
    /// Return products created after this one (the previous page's last id).
    pub after: Option<ProductId>,
    pub limit: u32,
    pub tag: Option<String>,
    pub vendor: Option<String>,
    pub status: Option<ProductStatus>,
    /// Case-insensitive substring of the title or of any variant's SKU.
    pub search: Option<String>,
}

/// One page of results and where the next one starts.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProductPage {
    pub data: Vec<Product>,
    /// Pass as `cursor` to fetch the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// What a bulk upsert did with one input product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum UpsertAction {
    Created,
    Updated,
    Unchanged,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UpsertItemResult {
    /// Position of the product in the request.
    pub index: usize,
    pub product_id: ProductId,
    pub action: UpsertAction,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UpsertItemError {
    pub index: usize,
    pub detail: String,
}

/// The outcome of a bulk upsert: per-item results, good items applied even when
/// others were refused.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BulkUpsertOutcome {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub failed: usize,
    pub results: Vec<UpsertItemResult>,
    pub errors: Vec<UpsertItemError>,
}

/// An API key as listed: never the key itself.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiKeyRecord {
    pub id: ApiKeyId,
    pub name: String,
    /// The key's first characters, to tell keys apart.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The tenant and key a presented API key belongs to.
#[derive(Debug, Clone)]
pub struct ApiKeyOwner {
    pub key_id: ApiKeyId,
    pub tenant: TenantId,
    pub key_hash: Vec<u8>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// The tenant and user a verified session belongs to.
#[derive(Debug, Clone, Copy)]
pub struct UserOwner {
    pub user: UserId,
    pub tenant: TenantId,
}

/// Where an idempotent request stands when it arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyStart {
    /// First time this key is seen: run the request, then record its response.
    Started,
    /// Seen before with the same body: replay this response.
    Replay { status: u16, body: Vec<u8> },
    /// Seen before with a different body.
    Mismatch,
    /// The first request with this key is still running.
    InProgress,
}

/// One audit trail entry.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: String,
    pub actor: String,
    pub action: String,
    pub entity_type: String,
    pub entity_id: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub request_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// One stock movement.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InventoryMovement {
    pub variant_id: shelfsync_core::VariantId,
    pub location_id: shelfsync_core::LocationId,
    pub delta: i64,
    pub available_after: i64,
    pub reason: String,
    pub reference: Option<String>,
    pub actor: String,
    pub created_at: DateTime<Utc>,
}

/// A job to put on a queue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub queue: String,
    pub kind: String,
    pub tenant: Option<TenantId>,
    /// At most one waiting-or-running job per key and queue.
    pub dedupe_key: Option<String>,
    pub payload: serde_json::Value,
    /// Lower runs first.
    pub priority: i32,
    pub max_attempts: i32,
    /// `None` runs as soon as a worker is free.
    pub run_at: Option<DateTime<Utc>>,
}

/// The queue sync jobs live on, and the kind of job that syncs one connection.
pub const SYNC_QUEUE: &str = "sync";
pub const SYNC_CONNECTION_JOB: &str = "sync.connection";
/// The repeatable job that wakes connections whose failed listings are due for a retry.
pub const SYNC_RETRIES_JOB: &str = "sync.retries";

impl NewJob {
    pub fn new(queue: impl Into<String>, kind: impl Into<String>, max_attempts: i32) -> Self {
        Self {
            queue: queue.into(),
            kind: kind.into(),
            tenant: None,
            dedupe_key: None,
            payload: serde_json::Value::Object(Default::default()),
            priority: 100,
            max_attempts,
            run_at: None,
        }
    }

    /// The wake-up for one connection: "this connection has pending listings".
    /// Deduplicated by connection, so any number of changes make one run.
    pub fn sync_connection(tenant: TenantId, connection: ConnectionId, max_attempts: i32) -> Self {
        Self {
            tenant: Some(tenant),
            dedupe_key: Some(connection.to_string()),
            payload: serde_json::json!({ "connection_id": connection }),
            ..Self::new(SYNC_QUEUE, SYNC_CONNECTION_JOB, max_attempts)
        }
    }
}

/// What enqueueing did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnqueueOutcome {
    Created(JobId),
    /// Absorbed by a job with the same dedupe key (waiting, or running and now due to run again).
    Merged(JobId),
}

impl EnqueueOutcome {
    pub fn id(self) -> JobId {
        match self {
            Self::Created(id) | Self::Merged(id) => id,
        }
    }
}

/// A job as a worker receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    pub id: JobId,
    pub queue: String,
    pub kind: String,
    pub tenant: Option<TenantId>,
    pub dedupe_key: Option<String>,
    pub payload: serde_json::Value,
    pub priority: i32,
    /// Including the run now starting.
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

/// What recording finished jobs did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Completed {
    /// Jobs enqueued again while they ran, now ready: their queue needs a wake-up.
    pub requeued: usize,
    /// Jobs whose lease had passed to another worker: nothing was recorded.
    pub lost: Vec<JobId>,
}

/// What became of a failed job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOutcome {
    Retrying(DateTime<Utc>),
    Dead,
    /// The lease had passed to another worker; nothing was recorded.
    LeaseLost,
}

/// A job that ran out of attempts, kept for inspection and manual retry.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadJob {
    pub job: JobRecord,
    pub last_error: Option<String>,
    pub died_at: DateTime<Utc>,
}

/// One queue's numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct QueueStats {
    pub queue: String,
    /// Ready and due now.
    pub due: i64,
    /// Ready but waiting for their time (delayed jobs, retries in back-off).
    pub delayed: i64,
    /// Leased to a worker.
    pub running: i64,
    /// Out of attempts.
    pub dead: i64,
    /// How long the oldest due job has waited.
    pub oldest_due_ms: Option<i64>,
}

/// A repeatable job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSchedule {
    pub name: String,
    pub queue: String,
    pub kind: String,
    pub every_seconds: i64,
}

/// What a worker process reports on each heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerBeat {
    pub id: String,
    pub host: String,
    pub pid: i64,
    pub queues: String,
    pub started_at: DateTime<Utc>,
    pub jobs_done: i64,
    pub jobs_failed: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct WorkerRecord {
    pub id: String,
    pub host: String,
    pub pid: i64,
    pub queues: String,
    pub started_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub stopped_at: Option<DateTime<Utc>>,
    pub jobs_done: i64,
    pub jobs_failed: i64,
}

/// One relay pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelayBatch {
    pub events: usize,
    pub listings: usize,
    /// Connections that were given a sync job.
    pub connections: Vec<ConnectionId>,
    pub oldest_created_at: Option<DateTime<Utc>>,
}

/// A write to a channel, identified by what it writes where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelWrite {
    pub key: String,
    pub tenant: TenantId,
    pub listing: ListingId,
    pub content_hash: Vec<u8>,
}

/// Where a master variant is listed on one connection, and how its sync stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingRecord {
    pub id: ListingId,
    pub connection: ConnectionId,
    pub product: ProductId,
    pub variant: Option<shelfsync_core::VariantId>,
    /// pending, synced, failed, conflict or excluded.
    pub status: String,
    pub updated_at: DateTime<Utc>,
}

/// A channel account to register. The id is chosen by the caller because
/// the sealed credentials are bound to it.
#[derive(Debug, Clone)]
pub struct NewConnection {
    pub id: ConnectionId,
    pub tenant: TenantId,
    pub platform: String,
    pub name: String,
    pub account: Option<String>,
    pub settings: serde_json::Value,
    pub credentials: Option<shelfsync_core::vault::Sealed>,
    pub token_expires_at: Option<DateTime<Utc>>,
}

/// A channel account as stored, credentials still sealed.
#[derive(Debug, Clone)]
pub struct ConnectionRecord {
    pub id: ConnectionId,
    pub tenant: TenantId,
    pub platform: String,
    pub name: String,
    pub account: Option<String>,
    /// active or disconnected.
    pub status: String,
    pub settings: serde_json::Value,
    pub credentials: Option<shelfsync_core::vault::Sealed>,
    pub token_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Sealed credentials found under a key other than the current one.
#[derive(Debug, Clone)]
pub struct StaleCredentials {
    pub id: ConnectionId,
    pub tenant: TenantId,
    pub sealed: shelfsync_core::vault::Sealed,
}

/// An OAuth install waiting for the platform's callback.
#[derive(Debug, Clone, PartialEq)]
pub struct OAuthState {
    pub tenant: TenantId,
    pub platform: String,
    pub name: String,
    pub account: Option<String>,
    pub redirect_uri: String,
    pub pkce_verifier: Option<String>,
    pub expires_at: DateTime<Utc>,
}

/// Quota use of one connection in one minute, to add to what is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageDelta {
    pub tenant: TenantId,
    pub connection: ConnectionId,
    pub window_start: DateTime<Utc>,
    pub calls: i64,
    pub cost_used: i64,
    pub throttled: i64,
    pub quota_limit: Option<i64>,
}

/// A stored minute of quota use.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct UsageRecord {
    pub connection: ConnectionId,
    pub window_start: DateTime<Utc>,
    pub calls: i64,
    pub cost_used: i64,
    pub throttled: i64,
    pub quota_limit: Option<i64>,
}

/// An alert to raise; one stays open per (kind, subject).
#[derive(Debug, Clone)]
pub struct NewAlert {
    pub tenant: Option<TenantId>,
    pub kind: String,
    pub severity: String,
    pub subject: String,
    pub message: String,
    pub detail: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AlertRecord {
    pub id: Uuid,
    pub kind: String,
    pub severity: String,
    pub subject: String,
    pub message: String,
    pub detail: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

/// A listing waiting to be pushed (pending; failed ones become pending again
/// when their retry is due).
#[derive(Debug, Clone, PartialEq)]
pub struct PendingListing {
    pub id: ListingId,
    pub product: ProductId,
    pub variant: Option<shelfsync_core::VariantId>,
    pub external_product_id: Option<String>,
    pub external_variant_id: Option<String>,
    pub inventory_ref: Option<String>,
    pub last_pushed_hash: Option<Vec<u8>>,
    /// The last accepted content's hash without stock (see migration 0006).
    pub catalog_hash: Option<Vec<u8>>,
    pub attempts: i32,
    /// When it was last marked pending: the push's result is written only if
    /// this has not moved, so an edit made during the call is pushed again.
    pub updated_at: DateTime<Utc>,
}

/// What a push did to one listing.
#[derive(Debug, Clone, PartialEq)]
pub enum ListingOutcome {
    Synced {
        external_product_id: String,
        external_variant_id: Option<String>,
        inventory_ref: Option<String>,
        hash: Vec<u8>,
        /// The same content without stock.
        catalog_hash: Vec<u8>,
    },
    Failed {
        error: String,
        next_retry_at: Option<DateTime<Utc>>,
    },
    /// The product or variant no longer exists in the catalog.
    Gone,
    /// A sync rule keeps it off the channel; looked at again on the next change.
    Excluded { reason: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct ListingResult {
    pub id: ListingId,
    pub read_at: DateTime<Utc>,
    pub outcome: ListingOutcome,
}

/// One row of `sync_logs`.
#[derive(Debug, Clone)]
pub struct NewSyncLog {
    pub tenant: TenantId,
    pub connection: Option<ConnectionId>,
    pub listing: Option<ListingId>,
    pub operation: String,
    pub status: String,
    pub dry_run: bool,
    pub duration_ms: i64,
    pub api_calls: i32,
    pub detail: serde_json::Value,
    pub error: Option<String>,
}

// ---- reconciliation and conflicts ------------------------------------

/// The job that reads one connection back and repairs drift, and the
/// repeatable job that enqueues one per active connection. Both run on the
/// sync queue, beside the pushes they check.
pub const RECONCILE_CONNECTION_JOB: &str = "reconcile.connection";
pub const RECONCILE_ALL_JOB: &str = "reconcile.all";

impl NewJob {
    /// Reconcile one connection. Deduplicated per connection (in its own key
    /// space: the sync job of the same connection is a different job), so
    /// the schedule and on-demand requests make one run.
    pub fn reconcile_connection(
        tenant: TenantId,
        connection: ConnectionId,
        max_attempts: i32,
    ) -> Self {
        Self {
            tenant: Some(tenant),
            dedupe_key: Some(format!("reconcile:{connection}")),
            payload: serde_json::json!({ "connection_id": connection }),
            ..Self::new(SYNC_QUEUE, RECONCILE_CONNECTION_JOB, max_attempts)
        }
    }
}

/// What happens when a channel holds a value we did not push.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ConflictPolicy {
    /// The channel is repaired to the master catalog (the default).
    #[default]
    MasterWins,
    /// The master catalog takes the channel's value, and passes it on.
    ChannelWins,
    /// Whichever side changed last wins.
    NewestWins,
    /// Nothing is pushed until someone decides.
    Manual,
}

impl ConflictPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MasterWins => "master_wins",
            Self::ChannelWins => "channel_wins",
            Self::NewestWins => "newest_wins",
            Self::Manual => "manual",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::MasterWins,
            Self::ChannelWins,
            Self::NewestWins,
            Self::Manual,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
    }
}

/// The fields reconciliation compares: those every channel reads back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConflictField {
    Title,
    Status,
    Price,
    Quantity,
}

impl ConflictField {
    pub const ALL: [ConflictField; 4] = [Self::Title, Self::Status, Self::Price, Self::Quantity];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Title => "title",
            Self::Status => "status",
            Self::Price => "price",
            Self::Quantity => "quantity",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }

    /// Whether the field belongs to the product (else to one variant).
    pub fn is_product_level(self) -> bool {
        matches!(self, Self::Title | Self::Status)
    }
}

/// A stored conflict policy. `connection_id` absent: every connection of
/// the tenant; `field` absent: every field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PolicyRecord {
    pub id: Uuid,
    pub connection_id: Option<ConnectionId>,
    pub field: Option<ConflictField>,
    pub policy: ConflictPolicy,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The policy that applies to `field` on `connection`: the most specific
/// stored one, (connection, field) before (connection, any) before
/// (tenant, field) before (tenant, any); master wins when none is stored.
pub fn policy_for(
    policies: &[PolicyRecord],
    connection: ConnectionId,
    field: ConflictField,
) -> ConflictPolicy {
    let scopes = [
        (Some(connection), Some(field)),
        (Some(connection), None),
        (None, Some(field)),
        (None, None),
    ];
    scopes
        .iter()
        .find_map(|(c, f)| {
            policies
                .iter()
                .find(|p| p.connection_id == *c && p.field == *f)
                .map(|p| p.policy)
        })
        .unwrap_or_default()
}

/// A conflict to record. With `resolution` it is stored already settled
/// (a policy decided it); without, it is opened for someone to decide, and
/// the product's listings on the connection wait in `conflict`.
#[derive(Debug, Clone)]
pub struct NewConflict {
    pub tenant: TenantId,
    pub connection: ConnectionId,
    pub listing: ListingId,
    pub product: ProductId,
    pub variant: Option<shelfsync_core::VariantId>,
    pub sku: Option<String>,
    pub field: ConflictField,
    pub master_value: serde_json::Value,
    pub channel_value: serde_json::Value,
    pub policy: ConflictPolicy,
    pub external_product_id: Option<String>,
    pub external_variant_id: Option<String>,
    pub channel_updated_at: Option<DateTime<Utc>>,
    pub resolution: Option<String>,
}

/// A value a channel held that we did not push, and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConflictRecord {
    pub id: Uuid,
    pub connection_id: ConnectionId,
    pub listing_id: Option<ListingId>,
    pub product_id: Option<ProductId>,
    pub variant_id: Option<shelfsync_core::VariantId>,
    pub sku: Option<String>,
    /// title, status, price or quantity.
    pub field: String,
    /// What the master catalog held when the drift was found.
    pub master_value: serde_json::Value,
    /// What the channel held.
    pub channel_value: serde_json::Value,
    /// The policy that applied.
    pub policy: String,
    /// open, resolved or ignored.
    pub status: String,
    /// master, channel, ignore, master_wins or channel_wins.
    pub resolution: Option<String>,
    pub external_product_id: Option<String>,
    pub external_variant_id: Option<String>,
    pub channel_updated_at: Option<DateTime<Utc>>,
    pub detected_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

/// Which conflicts to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct ConflictQuery {
    pub status: Option<String>,
    pub connection: Option<ConnectionId>,
    /// The `next_cursor` of the previous page.
    pub before: Option<Uuid>,
    pub limit: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConflictPage {
    pub data: Vec<ConflictRecord>,
    /// Pass as `cursor` to fetch the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// How a conflict is settled by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictSettlement {
    /// The channel is pushed the master values again.
    Master,
    /// The master catalog already took the channel's value.
    Channel,
    /// Left as it is.
    Ignore,
}

/// Which sync log entries to list.
#[derive(Debug, Clone)]
pub struct SyncLogQuery {
    pub connection: Option<ConnectionId>,
    pub dry_run: Option<bool>,
    /// Entries older than this one (the previous page's last id).
    pub before: Option<Uuid>,
    pub limit: i64,
}

/// One entry of `sync_logs`: a call a sync run made, or a dry run's plan.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SyncLogRecord {
    pub id: Uuid,
    pub connection_id: Option<ConnectionId>,
    pub listing_id: Option<ListingId>,
    pub operation: String,
    /// succeeded, partial, failed, or planned (dry runs).
    pub status: String,
    pub dry_run: bool,
    pub duration_ms: Option<i64>,
    pub api_calls: i32,
    pub detail: serde_json::Value,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// The sync statuses a listing can be in, as stored and as the API filters by.
pub const LISTING_STATUSES: [&str; 5] = ["pending", "synced", "failed", "conflict", "excluded"];

/// One master product or variant to list on a connection, optionally with
/// the channel's ids for an item it already holds (linking instead of
/// creating a second copy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingLink {
    pub product: ProductId,
    /// `None` lists the whole product.
    pub variant: Option<shelfsync_core::VariantId>,
    pub external_product_id: Option<String>,
    pub external_variant_id: Option<String>,
    /// The channel's stock record id when it differs from the variant's
    /// (kept in the listing's metadata, where the sync worker reads it).
    pub inventory_ref: Option<String>,
    /// Mark the listing pending so the sync worker pushes it (an excluded
    /// listing stays excluded: only an explicit un-exclude lifts that).
    pub status_pending: bool,
}

/// Filters and position for listing listings.
#[derive(Debug, Clone, Default)]
pub struct ListingQuery {
    pub connection: Option<ConnectionId>,
    pub product: Option<ProductId>,
    /// One of [`LISTING_STATUSES`].
    pub status: Option<String>,
    /// Return listings after this one (the previous page's last id).
    pub after: Option<ListingId>,
    pub limit: u32,
}

/// A listing as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ListingView {
    pub id: ListingId,
    pub connection_id: ConnectionId,
    pub product_id: ProductId,
    /// Absent when the whole product is listed.
    pub variant_id: Option<shelfsync_core::VariantId>,
    /// The variant's SKU, absent for whole-product listings or deleted variants.
    pub sku: Option<String>,
    pub external_product_id: Option<String>,
    pub external_variant_id: Option<String>,
    /// pending, synced, failed, conflict or excluded.
    pub status: String,
    pub last_error: Option<String>,
    pub attempts: i32,
    pub next_retry_at: Option<DateTime<Utc>>,
    pub last_synced_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One page of listings and where the next one starts.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ListingViewPage {
    pub data: Vec<ListingView>,
    /// Pass as `cursor` to fetch the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A saved sync rule with its timestamps. Serialises flat: the rule's fields
/// beside `created_at` and `updated_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RuleRecord {
    #[serde(flatten)]
    pub rule: shelfsync_core::rules::Rule,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The queue webhook deliveries and order polls are worked from.
pub const WEBHOOK_QUEUE: &str = "webhook";
/// The job that applies one stored webhook delivery (or polled order).
pub const WEBHOOK_APPLY_JOB: &str = "webhook.apply";
/// The job that applies one Clerk delivery (users, organisations).
pub const CLERK_APPLY_JOB: &str = "clerk.apply";
/// The job that reads one connection's recent orders.
pub const ORDERS_POLL_JOB: &str = "orders.poll";
/// The repeatable job that enqueues an `orders.poll` per active connection.
pub const ORDERS_POLL_ALL_JOB: &str = "orders.poll_all";

impl NewJob {
    /// Apply stored delivery `log_id`. Ahead of routine work: a sale
    /// waiting here is stock the other channels still show.
    pub fn webhook_apply(tenant: Option<TenantId>, log_id: Uuid, max_attempts: i32) -> Self {
        Self {
            tenant,
            payload: serde_json::json!({ "log_id": log_id }),
            priority: 50,
            ..Self::new(WEBHOOK_QUEUE, WEBHOOK_APPLY_JOB, max_attempts)
        }
    }

    /// Poll one connection's orders; one waiting poll per connection.
    pub fn orders_poll(tenant: TenantId, connection: ConnectionId, max_attempts: i32) -> Self {
        Self {
            tenant: Some(tenant),
            dedupe_key: Some(format!("orders:{connection}")),
            payload: serde_json::json!({ "connection_id": connection }),
            ..Self::new(WEBHOOK_QUEUE, ORDERS_POLL_JOB, max_attempts)
        }
    }
}

/// A verified webhook delivery (or a polled order) to store before it is
/// acknowledged.
#[derive(Debug, Clone)]
pub struct NewWebhookLog {
    pub id: Uuid,
    /// `None` for deliveries that belong to no tenant yet (Clerk's).
    pub tenant: Option<TenantId>,
    pub connection: Option<ConnectionId>,
    /// `shopify`, `woocommerce`, …, `standard`, `clerk`.
    pub platform: String,
    /// The platform's id for the event: a second delivery of it is acknowledged and ignored.
    pub event_id: Option<String>,
    pub topic: Option<String>,
    /// Request headers with signatures and credentials left out.
    pub headers: serde_json::Value,
    pub body: Vec<u8>,
    pub platform_timestamp: Option<DateTime<Utc>>,
    /// What the receiver parsed, for the worker to act on.
    pub event: Option<serde_json::Value>,
    /// `webhook`, or `poll` for orders found by polling.
    pub source: String,
    /// Claim this nonce in `webhook_nonces` for the replay window (embedded
    /// mode; scaled mode claims it in Redis first and passes `None`).
    pub nonce: Option<String>,
    /// The job that applies it, enqueued in the same transaction.
    pub job: Option<NewJob>,
}

/// What became of one delivery offered to the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookAcceptance {
    /// Stored (and its job enqueued).
    Stored,
    /// Its event id was stored before: acknowledged, not stored again.
    Duplicate,
    /// Its nonce was claimed inside the replay window: refused.
    Replayed,
}

/// A stored delivery, as the worker and `/v1/webhook-logs` see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WebhookLogRecord {
    pub id: Uuid,
    pub tenant_id: Option<TenantId>,
    pub connection_id: Option<ConnectionId>,
    pub platform: String,
    pub event_id: Option<String>,
    pub topic: Option<String>,
    pub source: String,
    /// received, processed, ignored, unmatched or failed.
    pub status: String,
    pub error: Option<String>,
    pub received_at: DateTime<Utc>,
    pub platform_timestamp: Option<DateTime<Utc>>,
    pub processed_at: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub event: Option<serde_json::Value>,
    #[serde(skip)]
    pub headers: serde_json::Value,
    #[serde(skip)]
    pub body: Vec<u8>,
}

/// Filters and position for listing webhook logs.
#[derive(Debug, Clone, Default)]
pub struct WebhookLogQuery {
    pub after: Option<Uuid>,
    pub limit: i64,
    pub status: Option<String>,
    pub connection: Option<ConnectionId>,
}

/// One order line, as the channel named it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderLineRef {
    pub sku: Option<String>,
    pub external_variant_id: Option<String>,
    pub quantity: i64,
}

/// Whether an order was placed or called off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderEvent {
    Placed,
    /// Cancelled or refunded.
    Cancelled,
}

/// What applying an order event did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OrderApplied {
    /// Variants whose stock moved, with the change (negative for a sale).
    pub moved: Vec<(VariantId, i64)>,
    /// Lines no listing or SKU matched.
    pub unmatched: Vec<OrderLineRef>,
    /// Units sold that the master no longer had (stock stops at zero).
    pub oversold: i64,
    /// The event had already been applied, or its cancellation came first:
    /// nothing moved.
    pub already: bool,
}

/// What applying a refund did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RefundApplied {
    /// Variants whose stock came back, with the quantity.
    pub moved: Vec<(VariantId, i64)>,
    /// Lines to restock that no listing or SKU matched.
    pub unmatched: Vec<OrderLineRef>,
    /// Units the refund named beyond what the order still had out (taken
    /// less earlier refunds and cancellation): not given back twice.
    pub beyond_taken: i64,
    /// Units refunded without a restock: nothing moved, and the order's
    /// cancellation will not give them back.
    pub kept: i64,
    /// Whether the tenant restocks refunds; if not, nothing moved.
    pub restock: bool,
    /// The refund was applied before: nothing moved.
    pub already: bool,
    /// No order of that id was ever recorded on the connection (the refund
    /// overtook it, or it predates the connection): nothing moved, and the
    /// refund is not remembered.
    pub order_unknown: bool,
}

/// How many of a connection's listings are in one status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ListingCount {
    pub connection: ConnectionId,
    pub status: String,
    pub count: i64,
}

/// One stock movement, with the variant it moved and what moved it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StockMove {
    pub variant: VariantId,
    pub sku: String,
    /// The product's title.
    pub title: String,
    pub delta: i64,
    pub available_after: i64,
    pub reason: String,
    /// The order, import or request behind it (`shopify:order:…`).
    pub reference: Option<String>,
    pub at: DateTime<Utc>,
}

/// Where a connection's next order poll starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderPollCursor {
    /// Where the last poll ended, else when the connection was made.
    pub until: DateTime<Utc>,
    /// When the connection was made: no poll reaches back before it, since
    /// the stock it was linked with already counts earlier orders.
    pub made_at: DateTime<Utc>,
}
