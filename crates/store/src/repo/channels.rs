// Connections and listings: the minimum the pipeline needs. Compiled once per backend: see `backend.rs`.

/// Registers a channel account for a tenant (credentials come with the channel adapters).
pub(crate) async fn insert_connection(
    pool: &Pool,
    tenant: TenantId,
    platform: &str,
    name: &str,
    now: DateTime<Utc>,
) -> StoreResult<ConnectionId> {
    let id = ConnectionId::new();
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    sqlx::query(
        "INSERT INTO platform_connections (id, tenant_id, platform, name, status, created_at, updated_at) VALUES ($1, $2, $3, $4, 'active', $5, $5)",
    )
    .bind(id.as_uuid())
    .bind(tenant.as_uuid())
    .bind(platform)
    .bind(name)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Lists a product's variant on a connection (idempotent), pending its first push.
pub(crate) async fn upsert_listing(
    pool: &Pool,
    tenant: TenantId,
    connection: ConnectionId,
    product: ProductId,
    variant: VariantId,
    now: DateTime<Utc>,
) -> StoreResult<ListingId> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    let owned: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM platform_connections WHERE id = $1 AND tenant_id = $2")
            .bind(connection.as_uuid())
            .bind(tenant.as_uuid())
            .fetch_optional(&mut *tx)
            .await?;
    if owned.is_none() {
        return Err(StoreError::NotFound);
    }
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO platform_listings (id, tenant_id, connection_id, product_id, variant_id, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6) \
         ON CONFLICT (connection_id, product_id, variant_id) DO UPDATE SET updated_at = platform_listings.updated_at \
         RETURNING id",
    )
    .bind(ListingId::new().as_uuid())
    .bind(tenant.as_uuid())
    .bind(connection.as_uuid())
    .bind(product.as_uuid())
    .bind(variant.as_uuid())
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(ListingId::from_uuid(id))
}

/// A connection's listings, oldest first.
pub(crate) async fn list_listings(
    pool: &Pool,
    tenant: TenantId,
    connection: ConnectionId,
) -> StoreResult<Vec<ListingRecord>> {
    let rows = sqlx::query(
        "SELECT id, product_id, variant_id, status, updated_at FROM platform_listings WHERE tenant_id = $1 AND connection_id = $2 ORDER BY id",
    )
    .bind(tenant.as_uuid())
    .bind(connection.as_uuid())
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            let variant: Option<Uuid> = row.try_get("variant_id")?;
            Ok(ListingRecord {
                id: ListingId::from_uuid(row.try_get("id")?),
                connection,
                product: ProductId::from_uuid(row.try_get("product_id")?),
                variant: variant.map(VariantId::from_uuid),
                status: row.try_get("status")?,
                updated_at: row.try_get("updated_at")?,
            })
        })
        .collect()
}
