// Helpers shared by every repository module. Compiled once per backend: see `backend.rs`.

/// Appends an entry to the audit trail inside the caller's transaction.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn write_audit(
    tx: &mut Conn,
    ctx: &WriteContext,
    action: &str,
    entity_type: &str,
    entity_id: &str,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO audit_log (id, tenant_id, actor, action, entity_type, entity_id, before, after, request_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(Uuid::now_v7())
    .bind(ctx.tenant.as_uuid())
    .bind(&ctx.actor)
    .bind(action)
    .bind(entity_type)
    .bind(entity_id)
    .bind(before.map(Json))
    .bind(after.map(Json))
    .bind(&ctx.request_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Records an event in the transactional outbox: it commits or rolls back with the change.
pub(crate) async fn write_outbox(
    tx: &mut Conn,
    tenant: TenantId,
    kind: &str,
    aggregate_type: &str,
    aggregate_id: &str,
    payload: serde_json::Value,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO outbox_events (id, tenant_id, kind, aggregate_type, aggregate_id, payload, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(Uuid::now_v7())
    .bind(tenant.as_uuid())
    .bind(kind)
    .bind(aggregate_type)
    .bind(aggregate_id)
    .bind(Json(payload))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The outbox event every stock change sends on to the channels.
pub(crate) async fn stock_changed(
    tx: &mut Conn,
    tenant: TenantId,
    product: ProductId,
    variant: VariantId,
    location: LocationId,
    available: i64,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    write_outbox(
        tx,
        tenant,
        "inventory.changed",
        "variant",
        &variant.to_string(),
        serde_json::json!({ "product_id": product, "location_id": location, "available": available }),
        now,
    )
    .await
}

/// The tenant's default stock location, created on first use.
pub(crate) async fn default_location(
    tx: &mut Conn,
    tenant: TenantId,
    now: DateTime<Utc>,
) -> StoreResult<Uuid> {
    let found: Option<Uuid> =
        sqlx::query_scalar("SELECT id FROM locations WHERE tenant_id = $1 AND is_default")
            .bind(tenant.as_uuid())
            .fetch_optional(&mut *tx)
            .await?;
    if let Some(id) = found {
        return Ok(id);
    }
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO locations (id, tenant_id, name, is_default, created_at) VALUES ($1, $2, 'Default', TRUE, $3)",
    )
    .bind(id)
    .bind(tenant.as_uuid())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(id)
}
