// Syncs asked for through the API: what a run would cover, starting one, and
// the log of what runs did. Compiled once per backend: see `backend.rs`.

/// Listings of `connection` a sync of this scope covers (every listing that
/// is neither excluded by hand nor held in conflict; only those of
/// `products` when given),
/// grouped by product. A dry run plans over exactly these.
pub(crate) async fn listings_in_scope(
    pool: &Pool,
    tenant: TenantId,
    connection: ConnectionId,
    products: Option<&[ProductId]>,
) -> StoreResult<Vec<PendingListing>> {
    let mut query = QueryBuilder::<DB>::new(format!(
        "SELECT {PENDING_COLUMNS} FROM platform_listings WHERE tenant_id = "
    ));
    query.push_bind(tenant.as_uuid());
    query.push(" AND connection_id = ");
    query.push_bind(connection.as_uuid());
    query.push(" AND (status IN ('pending', 'synced', 'failed') OR excluded_by = 'rule')");
    if let Some(products) = products {
        if products.is_empty() {
            return Ok(Vec::new());
        }
        query.push(" AND product_id IN (");
        let mut list = query.separated(", ");
        for product in products {
            list.push_bind(product.as_uuid());
        }
        query.push(")");
    }
    query.push(" ORDER BY product_id, id");
    let rows = query.build().fetch_all(pool).await?;
    rows.iter().map(pending_listing_from_row).collect()
}

/// Marks the listings of this scope pending and wakes the connection's sync,
/// in one transaction. Content the channel already holds is still skipped by
/// its hash; this only makes the run look. Returns the listings marked.
pub(crate) async fn request_sync(
    pool: &Pool,
    tenant: TenantId,
    connection: ConnectionId,
    products: Option<&[ProductId]>,
    max_attempts: i32,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    let owned: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM platform_connections WHERE id = $1 AND tenant_id = $2 AND status = 'active'",
    )
    .bind(connection.as_uuid())
    .bind(tenant.as_uuid())
    .fetch_optional(&mut *tx)
    .await?;
    if owned.is_none() {
        return Err(StoreError::NotFound);
    }
    let mut query = QueryBuilder::<DB>::new(
        "UPDATE platform_listings SET status = 'pending', next_retry_at = NULL, attempts = 0, updated_at = ",
    );
    query.push_bind(now);
    query.push(" WHERE tenant_id = ");
    query.push_bind(tenant.as_uuid());
    query.push(" AND connection_id = ");
    query.push_bind(connection.as_uuid());
    query.push(" AND (status IN ('pending', 'synced', 'failed') OR excluded_by = 'rule')");
    if let Some(products) = products {
        if products.is_empty() {
            return Ok(0);
        }
        query.push(" AND product_id IN (");
        let mut list = query.separated(", ");
        for product in products {
            list.push_bind(product.as_uuid());
        }
        query.push(")");
    }
    let marked = query.build().execute(&mut *tx).await?.rows_affected();
    if marked > 0 {
        enqueue_in(
            &mut tx,
            &NewJob::sync_connection(tenant, connection, max_attempts),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(marked)
}

/// A page of a tenant's sync log, newest first.
pub(crate) async fn list_sync_logs(
    pool: &Pool,
    tenant: TenantId,
    filter: &SyncLogQuery,
) -> StoreResult<Vec<SyncLogRecord>> {
    let mut query = QueryBuilder::<DB>::new(
        "SELECT id, connection_id, listing_id, operation, status, dry_run, duration_ms, api_calls, \
         detail, error, created_at FROM sync_logs WHERE tenant_id = ",
    );
    query.push_bind(tenant.as_uuid());
    if let Some(connection) = filter.connection {
        query.push(" AND connection_id = ");
        query.push_bind(connection.as_uuid());
    }
    if let Some(dry_run) = filter.dry_run {
        query.push(" AND dry_run = ");
        query.push_bind(dry_run);
    }
    if let Some(before) = filter.before {
        query.push(" AND id < ");
        query.push_bind(before);
    }
    query.push(" ORDER BY id DESC LIMIT ");
    query.push_bind(filter.limit);
    let rows = query.build().fetch_all(pool).await?;
    rows.iter()
        .map(|row| {
            let connection: Option<Uuid> = row.try_get("connection_id")?;
            let listing: Option<Uuid> = row.try_get("listing_id")?;
            let detail: Option<Json<serde_json::Value>> = row.try_get("detail")?;
            Ok(SyncLogRecord {
                id: row.try_get("id")?,
                connection_id: connection.map(ConnectionId::from_uuid),
                listing_id: listing.map(ListingId::from_uuid),
                operation: row.try_get("operation")?,
                status: row.try_get("status")?,
                dry_run: row.try_get("dry_run")?,
                duration_ms: row.try_get("duration_ms")?,
                api_calls: row.try_get("api_calls")?,
                detail: detail.map(|d| d.0).unwrap_or(serde_json::Value::Null),
                error: row.try_get("error")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .collect()
}
