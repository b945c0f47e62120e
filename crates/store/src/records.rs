//! Plain records the store hands out and takes in, shared by both backends.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shelfsync_core::catalog::{Product, ProductStatus};
use shelfsync_core::{ApiKeyId, ProductId, TenantId, UserId};

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
