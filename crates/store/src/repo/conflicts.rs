// Reconciliation's side of the store: the listings to check, the conflicts
// found, the policies that settle them. Compiled once per backend: see `backend.rs`.

const CONFLICT_COLUMNS: &str = "id, connection_id, listing_id, product_id, variant_id, sku, field, master_value, \
     channel_value, policy, status, resolution, external_product_id, external_variant_id, channel_updated_at, \
     detected_at, resolved_at";

fn conflict_row(row: &<DB as sqlx::Database>::Row) -> StoreResult<ConflictRecord> {
    let listing: Option<Uuid> = row.try_get("listing_id")?;
    let product: Option<Uuid> = row.try_get("product_id")?;
    let variant: Option<Uuid> = row.try_get("variant_id")?;
    let master: Option<Json<serde_json::Value>> = row.try_get("master_value")?;
    let channel: Option<Json<serde_json::Value>> = row.try_get("channel_value")?;
    Ok(ConflictRecord {
        id: row.try_get("id")?,
        connection_id: ConnectionId::from_uuid(row.try_get("connection_id")?),
        listing_id: listing.map(ListingId::from_uuid),
        product_id: product.map(ProductId::from_uuid),
        variant_id: variant.map(VariantId::from_uuid),
        sku: row.try_get("sku")?,
        field: row.try_get("field")?,
        master_value: master.map(|j| j.0).unwrap_or(serde_json::Value::Null),
        channel_value: channel.map(|j| j.0).unwrap_or(serde_json::Value::Null),
        policy: row.try_get("policy")?,
        status: row.try_get("status")?,
        resolution: row.try_get("resolution")?,
        external_product_id: row.try_get("external_product_id")?,
        external_variant_id: row.try_get("external_variant_id")?,
        channel_updated_at: row.try_get("channel_updated_at")?,
        detected_at: row.try_get("detected_at")?,
        resolved_at: row.try_get("resolved_at")?,
    })
}

/// A connection's listings the channel has accepted (`synced`), with their
/// channel ids and the hash of what was last pushed, grouped by product.
/// Pending, failed, excluded and conflicted listings are left out: a push
/// (or a decision) is on its way for them.
pub(crate) async fn synced_listings(
    pool: &Pool,
    tenant: TenantId,
    connection: ConnectionId,
) -> StoreResult<Vec<PendingListing>> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {PENDING_COLUMNS} FROM platform_listings \
         WHERE tenant_id = $1 AND connection_id = $2 AND status = 'synced' ORDER BY product_id, id"
    )))
    .bind(tenant.as_uuid())
    .bind(connection.as_uuid())
    .fetch_all(pool)
    .await?;
    rows.iter().map(pending_listing_from_row).collect()
}

/// The synced listings of the channel items `external_product_ids` (what a
/// channel's product webhook is about), with the rest of their products'
/// listings on the connection.
pub(crate) async fn synced_listings_for_items(
    pool: &Pool,
    tenant: TenantId,
    connection: ConnectionId,
    external_product_ids: &[String],
) -> StoreResult<Vec<PendingListing>> {
    if external_product_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut qb = QueryBuilder::<DB>::new(format!(
        "SELECT {PENDING_COLUMNS} FROM platform_listings WHERE tenant_id = "
    ));
    qb.push_bind(tenant.as_uuid())
        .push(" AND connection_id = ")
        .push_bind(connection.as_uuid())
        .push(" AND status = 'synced' AND product_id IN (SELECT product_id FROM platform_listings WHERE connection_id = ")
        .push_bind(connection.as_uuid())
        .push(" AND external_product_id IN (");
    let mut ids = qb.separated(", ");
    for id in external_product_ids {
        ids.push_bind(id.clone());
    }
    ids.push_unseparated(")) ORDER BY product_id, id");
    let rows = qb.build().fetch_all(pool).await?;
    rows.iter().map(pending_listing_from_row).collect()
}

/// Every active connection of every tenant: what `reconcile.all` visits.
pub(crate) async fn active_connections(pool: &Pool) -> StoreResult<Vec<(TenantId, ConnectionId)>> {
    let rows = sqlx::query(
        "SELECT tenant_id, id FROM platform_connections WHERE status = 'active' ORDER BY tenant_id, id",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok((
                TenantId::from_uuid(row.try_get("tenant_id")?),
                ConnectionId::from_uuid(row.try_get("id")?),
            ))
        })
        .collect()
}

/// Marks a connection's listings of these products pending with no pushed
/// hash, so the next sync run pushes them even if the master content did not
/// change (the channel's copy did), and enqueues the connection's sync job in
/// the same transaction. Excluded and conflicted listings are left alone.
/// Returns how many listings were marked.
pub(crate) async fn repush_products(
    pool: &Pool,
    tenant: TenantId,
    connection: ConnectionId,
    products: &[ProductId],
    sync_max_attempts: i32,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    let mut marked = 0;
    for product in products {
        marked += sqlx::query(
            "UPDATE platform_listings SET status = 'pending', last_pushed_hash = NULL, catalog_hash = NULL, next_retry_at = NULL, \
             attempts = 0, updated_at = $4 \
             WHERE tenant_id = $1 AND connection_id = $2 AND product_id = $3 AND status NOT IN ('excluded', 'conflict')",
        )
        .bind(tenant.as_uuid())
        .bind(connection.as_uuid())
        .bind(product.as_uuid())
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    if marked > 0 {
        enqueue_in(
            &mut tx,
            &NewJob::sync_connection(tenant, connection, sync_max_attempts),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(marked)
}

/// Records a conflict. Settled ones (`resolution` given) are stored as a
/// record of what a policy did. Open ones are one per listing and field
/// (finding it again refreshes the values), and put every listing of the
/// product on the connection into `conflict`, so nothing is pushed there
/// until it is settled; listings that were waiting for a push lose their
/// pushed hash so that push still happens once the conflict is settled.
pub(crate) async fn record_conflict(
    pool: &Pool,
    new: &NewConflict,
    now: DateTime<Utc>,
) -> StoreResult<Uuid> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    let (status, resolved_at) = match &new.resolution {
        Some(_) => ("resolved", Some(now)),
        None => ("open", None),
    };
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO product_conflicts (id, tenant_id, connection_id, listing_id, product_id, variant_id, sku, field, \
         master_value, channel_value, policy, status, resolution, external_product_id, external_variant_id, \
         channel_updated_at, detected_at, resolved_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) \
         ON CONFLICT (listing_id, field) WHERE status = 'open' DO UPDATE SET \
           master_value = excluded.master_value, channel_value = excluded.channel_value, \
           policy = excluded.policy, channel_updated_at = excluded.channel_updated_at \
         RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(new.tenant.as_uuid())
    .bind(new.connection.as_uuid())
    .bind(new.listing.as_uuid())
    .bind(new.product.as_uuid())
    .bind(new.variant.map(|v| v.as_uuid()))
    .bind(&new.sku)
    .bind(new.field.as_str())
    .bind(Json(&new.master_value))
    .bind(Json(&new.channel_value))
    .bind(new.policy.as_str())
    .bind(status)
    .bind(&new.resolution)
    .bind(&new.external_product_id)
    .bind(&new.external_variant_id)
    .bind(new.channel_updated_at)
    .bind(now)
    .bind(resolved_at)
    .fetch_one(&mut *tx)
    .await?;
    if new.resolution.is_none() {
        sqlx::query(
            "UPDATE platform_listings SET \
               last_pushed_hash = CASE WHEN status IN ('pending', 'failed') THEN NULL ELSE last_pushed_hash END, \
               status = 'conflict', next_retry_at = NULL, updated_at = $4 \
             WHERE tenant_id = $1 AND connection_id = $2 AND product_id = $3 AND status <> 'excluded'",
        )
        .bind(new.tenant.as_uuid())
        .bind(new.connection.as_uuid())
        .bind(new.product.as_uuid())
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(id)
}

pub(crate) async fn get_conflict(
    pool: &Pool,
    tenant: TenantId,
    id: Uuid,
) -> StoreResult<Option<ConflictRecord>> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {CONFLICT_COLUMNS} FROM product_conflicts WHERE id = $1 AND tenant_id = $2"
    )))
    .bind(id)
    .bind(tenant.as_uuid())
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(conflict_row).transpose()
}

/// A tenant's conflicts, newest first, a page at a time.
pub(crate) async fn list_conflicts(
    pool: &Pool,
    tenant: TenantId,
    query: &ConflictQuery,
) -> StoreResult<ConflictPage> {
    let limit = query.limit.clamp(1, 250);
    let mut sql = QueryBuilder::<DB>::new(format!(
        "SELECT {CONFLICT_COLUMNS} FROM product_conflicts WHERE tenant_id = "
    ));
    sql.push_bind(tenant.as_uuid());
    if let Some(status) = &query.status {
        sql.push(" AND status = ").push_bind(status.clone());
    }
    if let Some(connection) = query.connection {
        sql.push(" AND connection_id = ")
            .push_bind(connection.as_uuid());
    }
    if let Some(before) = query.before {
        sql.push(" AND id < ").push_bind(before);
    }
    sql.push(" ORDER BY id DESC LIMIT ")
        .push_bind(i64::from(limit) + 1);
    let rows = sql.build().fetch_all(pool).await?;
    let mut data = rows
        .iter()
        .map(conflict_row)
        .collect::<StoreResult<Vec<_>>>()?;
    let next_cursor = if data.len() > limit as usize {
        data.truncate(limit as usize);
        data.last().map(|c| c.id.to_string())
    } else {
        None
    };
    Ok(ConflictPage { data, next_cursor })
}

/// Settles an open conflict by hand. `Master` drops the pushed hash of the
/// product's listings on the connection, so they are pushed again. Once no
/// conflict of the product stays open there, its listings leave `conflict`:
/// pending (with the connection's sync job enqueued in the same
/// transaction) if a push is owed, synced otherwise. `None` if there is no
/// such conflict; `Conflict` if it is already settled.
pub(crate) async fn settle_conflict(
    pool: &Pool,
    tenant: TenantId,
    id: Uuid,
    settlement: ConflictSettlement,
    sync_max_attempts: i32,
    now: DateTime<Utc>,
) -> StoreResult<Option<ConflictRecord>> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {CONFLICT_COLUMNS} FROM product_conflicts WHERE id = $1 AND tenant_id = $2{LOCK_ROW}"
    )))
    .bind(id)
    .bind(tenant.as_uuid())
    .fetch_optional(&mut *tx)
    .await?;
    let Some(conflict) = row.as_ref().map(conflict_row).transpose()? else {
        tx.rollback().await?;
        return Ok(None);
    };
    if conflict.status != "open" {
        tx.rollback().await?;
        return Err(StoreError::Conflict(format!(
            "the conflict is already {}",
            conflict.status
        )));
    }
    let (status, resolution) = match settlement {
        ConflictSettlement::Master => ("resolved", "master"),
        ConflictSettlement::Channel => ("resolved", "channel"),
        ConflictSettlement::Ignore => ("ignored", "ignore"),
    };
    sqlx::query(
        "UPDATE product_conflicts SET status = $3, resolution = $4, resolved_at = $5 WHERE id = $1 AND tenant_id = $2",
    )
    .bind(id)
    .bind(tenant.as_uuid())
    .bind(status)
    .bind(resolution)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if let Some(product) = conflict.product_id {
        let connection = conflict.connection_id;
        if settlement == ConflictSettlement::Master {
            sqlx::query(
                "UPDATE platform_listings SET last_pushed_hash = NULL, catalog_hash = NULL, updated_at = $4 \
                 WHERE tenant_id = $1 AND connection_id = $2 AND product_id = $3 AND status <> 'excluded'",
            )
            .bind(tenant.as_uuid())
            .bind(connection.as_uuid())
            .bind(product.as_uuid())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        let open: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM product_conflicts WHERE tenant_id = $1 AND connection_id = $2 \
             AND product_id = $3 AND status = 'open'",
        )
        .bind(tenant.as_uuid())
        .bind(connection.as_uuid())
        .bind(product.as_uuid())
        .fetch_one(&mut *tx)
        .await?;
        if open == 0 {
            let released: Vec<String> = sqlx::query_scalar(
                "UPDATE platform_listings SET \
                   status = CASE WHEN last_pushed_hash IS NULL THEN 'pending' ELSE 'synced' END, \
                   attempts = 0, next_retry_at = NULL, updated_at = $4 \
                 WHERE tenant_id = $1 AND connection_id = $2 AND product_id = $3 AND status = 'conflict' \
                 RETURNING status",
            )
            .bind(tenant.as_uuid())
            .bind(connection.as_uuid())
            .bind(product.as_uuid())
            .bind(now)
            .fetch_all(&mut *tx)
            .await?;
            if released.iter().any(|s| s == "pending") {
                enqueue_in(
                    &mut tx,
                    &NewJob::sync_connection(tenant, connection, sync_max_attempts),
                    now,
                )
                .await?;
            }
        }
    }
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {CONFLICT_COLUMNS} FROM product_conflicts WHERE id = $1"
    )))
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    let settled = conflict_row(&row)?;
    tx.commit().await?;
    Ok(Some(settled))
}

fn policy_row(row: &<DB as sqlx::Database>::Row) -> StoreResult<PolicyRecord> {
    let connection: Option<Uuid> = row.try_get("connection_id")?;
    let field: Option<String> = row.try_get("field")?;
    let policy: String = row.try_get("policy")?;
    Ok(PolicyRecord {
        id: row.try_get("id")?,
        connection_id: connection.map(ConnectionId::from_uuid),
        field: field
            .map(|f| {
                ConflictField::parse(&f)
                    .ok_or_else(|| StoreError::Corrupt(format!("conflict field `{f}`")))
            })
            .transpose()?,
        policy: ConflictPolicy::parse(&policy)
            .ok_or_else(|| StoreError::Corrupt(format!("conflict policy `{policy}`")))?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// A tenant's conflict policies, tenant-wide ones first.
pub(crate) async fn list_policies(pool: &Pool, tenant: TenantId) -> StoreResult<Vec<PolicyRecord>> {
    let rows = sqlx::query(
        "SELECT id, connection_id, field, policy, created_at, updated_at FROM conflict_policies \
         WHERE tenant_id = $1 ORDER BY scope",
    )
    .bind(tenant.as_uuid())
    .fetch_all(pool)
    .await?;
    rows.iter().map(policy_row).collect()
}

/// Sets the policy of one scope (replacing what it had). `NotFound` if the
/// connection is not the tenant's.
pub(crate) async fn set_policy(
    pool: &Pool,
    tenant: TenantId,
    connection: Option<ConnectionId>,
    field: Option<ConflictField>,
    policy: ConflictPolicy,
    now: DateTime<Utc>,
) -> StoreResult<PolicyRecord> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    if let Some(connection) = connection {
        let known: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM platform_connections WHERE id = $1 AND tenant_id = $2",
        )
        .bind(connection.as_uuid())
        .bind(tenant.as_uuid())
        .fetch_optional(&mut *tx)
        .await?;
        if known.is_none() {
            tx.rollback().await?;
            return Err(StoreError::NotFound);
        }
    }
    let scope = format!(
        "{}:{}",
        connection.map_or_else(|| "*".to_owned(), |c| c.to_string()),
        field.map_or("*", |f| f.as_str())
    );
    let row = sqlx::query(
        "INSERT INTO conflict_policies (id, tenant_id, connection_id, field, scope, policy, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
         ON CONFLICT (tenant_id, scope) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at \
         RETURNING id, connection_id, field, policy, created_at, updated_at",
    )
    .bind(Uuid::now_v7())
    .bind(tenant.as_uuid())
    .bind(connection.map(|c| c.as_uuid()))
    .bind(field.map(|f| f.as_str()))
    .bind(&scope)
    .bind(policy.as_str())
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    let record = policy_row(&row)?;
    tx.commit().await?;
    Ok(record)
}
