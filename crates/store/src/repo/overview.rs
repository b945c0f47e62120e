// What the dashboard's overview shows at a glance: how far each connection's
// listings have got, and the latest stock movements with what caused them.

/// Listings per connection and status.
pub(crate) async fn listing_counts(
    pool: &Pool,
    tenant: TenantId,
) -> StoreResult<Vec<ListingCount>> {
    let rows = sqlx::query(
        "SELECT connection_id, status, COUNT(*) AS n FROM platform_listings \
         WHERE tenant_id = $1 GROUP BY connection_id, status",
    )
    .bind(tenant.as_uuid())
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(ListingCount {
                connection: ConnectionId::from_uuid(row.try_get("connection_id")?),
                status: row.try_get("status")?,
                count: row.try_get("n")?,
            })
        })
        .collect()
}

/// The tenant's latest stock movements, newest first.
pub(crate) async fn recent_stock_moves(
    pool: &Pool,
    tenant: TenantId,
    limit: i64,
) -> StoreResult<Vec<StockMove>> {
    let rows = sqlx::query(
        "SELECT h.variant_id, v.sku, p.title, h.delta, h.available_after, h.reason, \
                h.reference, h.created_at \
         FROM inventory_history h \
         JOIN product_variants v ON v.id = h.variant_id \
         JOIN products p ON p.id = v.product_id \
         WHERE h.tenant_id = $1 ORDER BY h.created_at DESC, h.id DESC LIMIT $2",
    )
    .bind(tenant.as_uuid())
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(StockMove {
                variant: VariantId::from_uuid(row.try_get("variant_id")?),
                sku: row.try_get("sku")?,
                title: row.try_get("title")?,
                delta: row.try_get("delta")?,
                available_after: row.try_get("available_after")?,
                reason: row.try_get("reason")?,
                reference: row.try_get("reference")?,
                at: row.try_get("created_at")?,
            })
        })
        .collect()
}
