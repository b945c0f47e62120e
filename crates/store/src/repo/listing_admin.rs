// Listings as the merchant manages them: listing products on a connection,
// linking them to items the channel already holds, browsing and excluding.
// Compiled once per backend: see `backend.rs`.

/// The columns of a `ListingView`, with the variant's SKU joined in.
const LISTING_VIEW_COLUMNS: &str = "l.id, l.connection_id, l.product_id, l.variant_id, v.sku, \
     l.external_product_id, l.external_variant_id, l.status, l.last_error, l.attempts, \
     l.next_retry_at, l.last_synced_at, l.created_at, l.updated_at \
     FROM platform_listings l \
     LEFT JOIN product_variants v ON v.id = l.variant_id AND v.tenant_id = l.tenant_id";

fn listing_view(row: &<DB as sqlx::Database>::Row) -> StoreResult<ListingView> {
    let variant: Option<Uuid> = row.try_get("variant_id")?;
    Ok(ListingView {
        id: ListingId::from_uuid(row.try_get("id")?),
        connection_id: ConnectionId::from_uuid(row.try_get("connection_id")?),
        product_id: ProductId::from_uuid(row.try_get("product_id")?),
        variant_id: variant.map(VariantId::from_uuid),
        sku: row.try_get("sku")?,
        external_product_id: row.try_get("external_product_id")?,
        external_variant_id: row.try_get("external_variant_id")?,
        status: row.try_get("status")?,
        last_error: row.try_get("last_error")?,
        attempts: row.try_get("attempts")?,
        next_retry_at: row.try_get("next_retry_at")?,
        last_synced_at: row.try_get("last_synced_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Takes the connection's row lock (PostgreSQL; SQLite's write transaction
/// already serialises) after checking it is the tenant's. Two link calls on
/// one connection then never race to insert the same whole-product listing,
/// which the unique index cannot catch (its variant is NULL).
async fn lock_connection(
    tx: &mut Conn,
    tenant: TenantId,
    connection: ConnectionId,
) -> StoreResult<()> {
    let owned: Option<Uuid> = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT id FROM platform_connections WHERE id = $1 AND tenant_id = $2{LOCK_ROW}"
    )))
    .bind(connection.as_uuid())
    .bind(tenant.as_uuid())
    .fetch_optional(&mut *tx)
    .await?;
    owned.map(|_| ()).ok_or(StoreError::NotFound)
}

/// Lists products or variants on a connection, one listing per (product,
/// variant), reusing the existing one: calling it twice changes nothing
/// more than calling it once. Channel ids given are recorded (with the
/// last pushed hash forgotten, so the next push writes to that item);
/// ids not given keep what the listing had, so re-listing never makes the
/// worker create a duplicate. Pending listings wake the connection's sync
/// job, enqueued (deduplicated) in the same transaction as the rows.
pub(crate) async fn link_listings(
    pool: &Pool,
    ctx: &WriteContext,
    connection: ConnectionId,
    links: &[ListingLink],
    sync_max_attempts: i32,
    now: DateTime<Utc>,
) -> StoreResult<Vec<ListingId>> {
    let tenant = ctx.tenant;
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    lock_connection(&mut tx, tenant, connection).await?;
    let mut ids = Vec::with_capacity(links.len());
    let mut pending = false;
    for link in links {
        let known: Option<i32> = match link.variant {
            Some(variant) => sqlx::query_scalar(
                "SELECT 1 FROM product_variants WHERE id = $1 AND product_id = $2 AND tenant_id = $3",
            )
            .bind(variant.as_uuid())
            .bind(link.product.as_uuid())
            .bind(tenant.as_uuid())
            .fetch_optional(&mut *tx)
            .await?,
            None => sqlx::query_scalar("SELECT 1 FROM products WHERE id = $1 AND tenant_id = $2")
                .bind(link.product.as_uuid())
                .bind(tenant.as_uuid())
                .fetch_optional(&mut *tx)
                .await?,
        };
        if known.is_none() {
            return Err(StoreError::NotFound);
        }
        let linked = link.external_product_id.is_some() || link.external_variant_id.is_some();
        let metadata = Json(serde_json::json!({ "inventory_ref": link.inventory_ref }));
        let existing = sqlx::query(
            "SELECT id, status FROM platform_listings \
             WHERE tenant_id = $1 AND connection_id = $2 AND product_id = $3 AND variant_id IS NOT DISTINCT FROM $4",
        )
        .bind(tenant.as_uuid())
        .bind(connection.as_uuid())
        .bind(link.product.as_uuid())
        .bind(link.variant.map(|v| v.as_uuid()))
        .fetch_optional(&mut *tx)
        .await?;
        let id = match existing {
            Some(row) => {
                let id: Uuid = row.try_get("id")?;
                let status: String = row.try_get("status")?;
                let repend = link.status_pending && status != "excluded";
                if linked {
                    sqlx::query(
                        "UPDATE platform_listings SET external_product_id = $1, external_variant_id = $2, \
                         metadata = $3, last_pushed_hash = NULL, catalog_hash = NULL, updated_at = $4 WHERE id = $5 AND tenant_id = $6",
                    )
                    .bind(&link.external_product_id)
                    .bind(&link.external_variant_id)
                    .bind(&metadata)
                    .bind(now)
                    .bind(id)
                    .bind(tenant.as_uuid())
                    .execute(&mut *tx)
                    .await?;
                }
                if repend {
                    sqlx::query(
                        "UPDATE platform_listings SET status = 'pending', attempts = 0, next_retry_at = NULL, \
                         updated_at = $1 WHERE id = $2 AND tenant_id = $3",
                    )
                    .bind(now)
                    .bind(id)
                    .bind(tenant.as_uuid())
                    .execute(&mut *tx)
                    .await?;
                    pending = true;
                }
                id
            }
            None => {
                let id = ListingId::new().as_uuid();
                let status = if link.status_pending {
                    pending = true;
                    "pending"
                } else {
                    "synced"
                };
                sqlx::query(
                    "INSERT INTO platform_listings (id, tenant_id, connection_id, product_id, variant_id, \
                     external_product_id, external_variant_id, status, metadata, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
                )
                .bind(id)
                .bind(tenant.as_uuid())
                .bind(connection.as_uuid())
                .bind(link.product.as_uuid())
                .bind(link.variant.map(|v| v.as_uuid()))
                .bind(&link.external_product_id)
                .bind(&link.external_variant_id)
                .bind(status)
                .bind(&metadata)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                id
            }
        };
        ids.push(ListingId::from_uuid(id));
    }
    if pending {
        enqueue_in(
            &mut tx,
            &NewJob::sync_connection(tenant, connection, sync_max_attempts),
            now,
        )
        .await?;
    }
    let linked = links
        .iter()
        .filter(|l| l.external_product_id.is_some() || l.external_variant_id.is_some())
        .count();
    write_audit(
        &mut tx,
        ctx,
        "listings.link",
        "connection",
        &connection.to_string(),
        None,
        Some(serde_json::json!({ "listings": ids.len(), "linked_to_channel_items": linked })),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(ids)
}

/// A tenant's listings, filtered, in id order from `after`.
pub(crate) async fn query_listings(
    pool: &Pool,
    tenant: TenantId,
    query: &ListingQuery,
) -> StoreResult<ListingViewPage> {
    let limit = i64::from(query.limit.clamp(1, 250));
    let mut qb: QueryBuilder<DB> = QueryBuilder::new("SELECT ");
    qb.push(LISTING_VIEW_COLUMNS);
    qb.push(" WHERE l.tenant_id = ").push_bind(tenant.as_uuid());
    if let Some(connection) = query.connection {
        qb.push(" AND l.connection_id = ")
            .push_bind(connection.as_uuid());
    }
    if let Some(product) = query.product {
        qb.push(" AND l.product_id = ").push_bind(product.as_uuid());
    }
    if let Some(status) = &query.status {
        qb.push(" AND l.status = ").push_bind(status.clone());
    }
    if let Some(after) = query.after {
        qb.push(" AND l.id > ").push_bind(after.as_uuid());
    }
    qb.push(" ORDER BY l.id LIMIT ").push_bind(limit + 1);
    let rows = qb.build().fetch_all(pool).await?;
    let mut data = rows
        .iter()
        .map(listing_view)
        .collect::<StoreResult<Vec<_>>>()?;
    let more = data.len() as i64 > limit;
    data.truncate(limit as usize);
    let next_cursor = if more {
        data.last().map(|l| l.id.to_string())
    } else {
        None
    };
    Ok(ListingViewPage { data, next_cursor })
}

/// Listings by id, the tenant's only, in the order asked (unknown ids skipped).
pub(crate) async fn get_listings(
    pool: &Pool,
    tenant: TenantId,
    ids: &[ListingId],
) -> StoreResult<Vec<ListingView>> {
    let mut found: HashMap<ListingId, ListingView> = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let mut qb: QueryBuilder<DB> = QueryBuilder::new("SELECT ");
        qb.push(LISTING_VIEW_COLUMNS);
        qb.push(" WHERE l.tenant_id = ").push_bind(tenant.as_uuid());
        qb.push(" AND l.id IN (");
        let mut list = qb.separated(", ");
        for id in chunk {
            list.push_bind(id.as_uuid());
        }
        qb.push(")");
        for row in qb.build().fetch_all(pool).await? {
            let view = listing_view(&row)?;
            found.insert(view.id, view);
        }
    }
    Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
}

pub(crate) async fn get_listing(
    pool: &Pool,
    tenant: TenantId,
    id: ListingId,
) -> StoreResult<Option<ListingView>> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {LISTING_VIEW_COLUMNS} WHERE l.tenant_id = $1 AND l.id = $2"
    )))
    .bind(tenant.as_uuid())
    .bind(id.as_uuid())
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(listing_view).transpose()
}

/// Excludes a listing from sync, or lets it sync again: un-excluding marks
/// it pending and wakes the connection's sync job in the same transaction.
/// Asking for the state it is already in changes nothing.
pub(crate) async fn set_listing_excluded(
    pool: &Pool,
    ctx: &WriteContext,
    id: ListingId,
    excluded: bool,
    sync_max_attempts: i32,
    now: DateTime<Utc>,
) -> StoreResult<ListingView> {
    let tenant = ctx.tenant;
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT connection_id, status FROM platform_listings WHERE id = $1 AND tenant_id = $2{LOCK_ROW}"
    )))
    .bind(id.as_uuid())
    .bind(tenant.as_uuid())
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(StoreError::NotFound)?;
    let connection = ConnectionId::from_uuid(row.try_get("connection_id")?);
    let status: String = row.try_get("status")?;
    let changed = match (excluded, status == "excluded") {
        (true, false) => {
            sqlx::query(
                "UPDATE platform_listings SET status = 'excluded', next_retry_at = NULL, updated_at = $1 \
                 WHERE id = $2 AND tenant_id = $3",
            )
            .bind(now)
            .bind(id.as_uuid())
            .bind(tenant.as_uuid())
            .execute(&mut *tx)
            .await?;
            true
        }
        (false, true) => {
            sqlx::query(
                "UPDATE platform_listings SET status = 'pending', last_error = NULL, attempts = 0, \
                 next_retry_at = NULL, updated_at = $1 WHERE id = $2 AND tenant_id = $3",
            )
            .bind(now)
            .bind(id.as_uuid())
            .bind(tenant.as_uuid())
            .execute(&mut *tx)
            .await?;
            enqueue_in(
                &mut tx,
                &NewJob::sync_connection(tenant, connection, sync_max_attempts),
                now,
            )
            .await?;
            true
        }
        _ => false,
    };
    if changed {
        write_audit(
            &mut tx,
            ctx,
            if excluded {
                "listing.exclude"
            } else {
                "listing.include"
            },
            "listing",
            &id.to_string(),
            Some(serde_json::json!({ "status": status })),
            Some(serde_json::json!({ "status": if excluded { "excluded" } else { "pending" } })),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    get_listing(pool, tenant, id)
        .await?
        .ok_or(StoreError::NotFound)
}
