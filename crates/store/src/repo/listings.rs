// Listings as the sync worker sees them: what is due, and what a push did.
// Compiled once per backend: see `backend.rs`.

pub(crate) async fn pending_listings(
    pool: &Pool,
    tenant: TenantId,
    connection: ConnectionId,
    after: Option<ProductId>,
    limit: i64,
) -> StoreResult<Vec<PendingListing>> {
    // The products come from walking the (connection, status, product)
    // index from `after`, so each round of a long run is a range scan that
    // starts where the last one ended.
    let after_clause = if after.is_some() {
        " AND product_id > $4"
    } else {
        ""
    };
    let query = format!(
        "SELECT {PENDING_COLUMNS} FROM platform_listings \
         WHERE tenant_id = $1 AND connection_id = $2 AND status = 'pending' AND product_id IN ( \
           SELECT DISTINCT product_id FROM platform_listings \
           WHERE tenant_id = $1 AND connection_id = $2 AND status = 'pending'{after_clause} \
           ORDER BY product_id LIMIT $3) \
         ORDER BY product_id, id"
    );
    let mut query = sqlx::query(AssertSqlSafe(query))
        .bind(tenant.as_uuid())
        .bind(connection.as_uuid())
        .bind(limit);
    if let Some(after) = after {
        query = query.bind(after.as_uuid());
    }
    let rows = query.fetch_all(pool).await?;
    rows.iter().map(pending_listing_from_row).collect()
}

/// The columns `pending_listing_from_row` reads.
const PENDING_COLUMNS: &str = "id, product_id, variant_id, external_product_id, external_variant_id, \
     metadata, last_pushed_hash, catalog_hash, attempts, updated_at";

fn pending_listing_from_row(row: &<DB as sqlx::Database>::Row) -> StoreResult<PendingListing> {
    let variant: Option<Uuid> = row.try_get("variant_id")?;
    let metadata: Json<serde_json::Value> = row.try_get("metadata")?;
    Ok(PendingListing {
        id: ListingId::from_uuid(row.try_get("id")?),
        product: ProductId::from_uuid(row.try_get("product_id")?),
        variant: variant.map(VariantId::from_uuid),
        external_product_id: row.try_get("external_product_id")?,
        external_variant_id: row.try_get("external_variant_id")?,
        inventory_ref: metadata
            .0
            .get("inventory_ref")
            .and_then(|v| v.as_str())
            .map(str::to_owned),
        last_pushed_hash: row.try_get("last_pushed_hash")?,
        catalog_hash: row.try_get("catalog_hash")?,
        attempts: row.try_get("attempts")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Record what a push did. Each row changes only if it was not marked
/// pending again since it was read; returns how many rows were written.
pub(crate) async fn record_listing_results(
    pool: &Pool,
    tenant: TenantId,
    results: &[ListingResult],
    logs: &[NewSyncLog],
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let mut written = 0;
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    for log in logs {
        write_sync_log(&mut tx, log, now).await?;
    }
    for result in results {
        let done = match &result.outcome {
            ListingOutcome::Synced {
                external_product_id,
                external_variant_id,
                inventory_ref,
                hash,
                catalog_hash,
            } => {
                let done = sqlx::query(
                    "UPDATE platform_listings SET status = 'synced', excluded_by = NULL, external_product_id = $1, \
                     external_variant_id = $2, last_pushed_hash = $3, desired_hash = $3, catalog_hash = $9, last_error = NULL, \
                     attempts = 0, next_retry_at = NULL, last_synced_at = $4, updated_at = $4, metadata = $5 \
                     WHERE id = $6 AND tenant_id = $7 AND updated_at = $8",
                )
                .bind(external_product_id)
                .bind(external_variant_id)
                .bind(hash)
                .bind(now)
                .bind(Json(serde_json::json!({ "inventory_ref": inventory_ref })))
                .bind(result.id.as_uuid())
                .bind(tenant.as_uuid())
                .bind(result.read_at)
                .bind(catalog_hash)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    // Marked pending again during the call: the follow-up push
                    // must still know where the channel put the item, or it
                    // would create it a second time.
                    sqlx::query(
                        "UPDATE platform_listings SET external_product_id = $1, external_variant_id = $2, \
                         metadata = $3 WHERE id = $4 AND tenant_id = $5",
                    )
                    .bind(external_product_id)
                    .bind(external_variant_id)
                    .bind(Json(serde_json::json!({ "inventory_ref": inventory_ref })))
                    .bind(result.id.as_uuid())
                    .bind(tenant.as_uuid())
                    .execute(&mut *tx)
                    .await?;
                }
                done
            }
            ListingOutcome::Failed {
                error,
                next_retry_at,
            } => {
                sqlx::query(
                    "UPDATE platform_listings SET status = 'failed', last_error = $1, attempts = attempts + 1, \
                     next_retry_at = $2, updated_at = $3 WHERE id = $4 AND tenant_id = $5 AND updated_at = $6",
                )
                .bind(error)
                .bind(next_retry_at)
                .bind(now)
                .bind(result.id.as_uuid())
                .bind(tenant.as_uuid())
                .bind(result.read_at)
                .execute(&mut *tx)
                .await?
            }
            ListingOutcome::Excluded { reason } => {
                sqlx::query(
                    "UPDATE platform_listings SET status = 'excluded', excluded_by = 'rule', last_error = $1, \
                     attempts = 0, next_retry_at = NULL, updated_at = $2 WHERE id = $3 AND tenant_id = $4 AND updated_at = $5",
                )
                .bind(reason)
                .bind(now)
                .bind(result.id.as_uuid())
                .bind(tenant.as_uuid())
                .bind(result.read_at)
                .execute(&mut *tx)
                .await?
            }
            ListingOutcome::Gone => {
                sqlx::query(
                    "UPDATE platform_listings SET status = 'excluded', last_error = 'removed from the catalog', \
                     updated_at = $1 WHERE id = $2 AND tenant_id = $3 AND updated_at = $4",
                )
                .bind(now)
                .bind(result.id.as_uuid())
                .bind(tenant.as_uuid())
                .bind(result.read_at)
                .execute(&mut *tx)
                .await?
            }
        };
        written += done.rows_affected();
    }
    tx.commit().await?;
    Ok(written)
}

pub(crate) async fn insert_sync_log(
    pool: &Pool,
    log: &NewSyncLog,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let mut conn = pool.acquire().await?;
    write_sync_log(&mut conn, log, now).await
}

async fn write_sync_log(conn: &mut Conn, log: &NewSyncLog, now: DateTime<Utc>) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO sync_logs (id, tenant_id, connection_id, listing_id, operation, status, dry_run, \
         duration_ms, api_calls, detail, error, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(Uuid::now_v7())
    .bind(log.tenant.as_uuid())
    .bind(log.connection.map(|c| c.as_uuid()))
    .bind(log.listing.map(|l| l.as_uuid()))
    .bind(&log.operation)
    .bind(&log.status)
    .bind(log.dry_run)
    .bind(log.duration_ms)
    .bind(log.api_calls)
    .bind(Json(&log.detail))
    .bind(&log.error)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Makes failed listings whose retry time has come pending again and
/// returns their connections, whose sync runs must be woken: the run that
/// failed them has long ended. Attempts are kept, so back-off keeps growing.
pub(crate) async fn wake_due_retries(
    pool: &Pool,
    now: DateTime<Utc>,
) -> StoreResult<Vec<(TenantId, ConnectionId)>> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    let rows = sqlx::query(
        "UPDATE platform_listings SET status = 'pending', next_retry_at = NULL, updated_at = $1 \
         WHERE status = 'failed' AND next_retry_at IS NOT NULL AND next_retry_at <= $1 \
         RETURNING tenant_id, connection_id",
    )
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    let mut woken = Vec::new();
    for row in &rows {
        let pair = (
            TenantId::from_uuid(row.try_get("tenant_id")?),
            ConnectionId::from_uuid(row.try_get("connection_id")?),
        );
        if !woken.contains(&pair) {
            woken.push(pair);
        }
    }
    tx.commit().await?;
    Ok(woken)
}
