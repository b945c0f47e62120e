// Channel orders and the stock they take. Compiled once per backend: see `backend.rs`.

/// A stock movement an order made, kept so a cancellation gives back exactly it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct TakenStock {
    variant_id: Uuid,
    location_id: Uuid,
    quantity: i64,
}

/// Applies an order's placement or cancellation to stock, once per order
/// whichever way and in whichever order its events arrive:
///
/// * placed, first seen: each line's variant (found by the listing's channel
///   variant id, else by SKU) loses the quantity at the default location,
///   never below zero; the movement is recorded against the order and goes
///   out through the outbox to every channel;
/// * placed, seen before (a redelivery, a poll after the webhook) or
///   cancelled first: nothing moves;
/// * cancelled after placement: the stock taken, less what refunds gave
///   back already, comes back when the tenant restocks cancellations;
/// * cancelled first: remembered, so the placement arriving later takes nothing.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn apply_channel_order(
    pool: &Pool,
    tenant: TenantId,
    connection: ConnectionId,
    platform: &str,
    external_id: &str,
    lines: &[OrderLineRef],
    event: OrderEvent,
    now: DateTime<Utc>,
) -> StoreResult<OrderApplied> {
    let reference = format!("{platform}:order:{external_id}");
    let ctx = WriteContext::new(tenant, format!("channel:{platform}"));
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    let state = match event {
        OrderEvent::Placed => "placed",
        OrderEvent::Cancelled => "cancelled",
    };
    // Whoever inserts the order row owns its first event; a concurrent
    // delivery of the same order waits on the key and then finds it taken.
    let first: Option<String> = sqlx::query_scalar(
        "INSERT INTO channel_orders (connection_id, external_id, tenant_id, state, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (connection_id, external_id) DO NOTHING RETURNING state",
    )
    .bind(connection.as_uuid())
    .bind(external_id)
    .bind(tenant.as_uuid())
    .bind(state)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let mut applied = OrderApplied::default();
    match (event, first.is_some()) {
        (OrderEvent::Placed, true) => {
            let mut taken = Vec::new();
            let location = default_location(&mut tx, tenant, now).await?;
            let mut matched = Vec::new();
            for line in lines.iter().filter(|l| l.quantity > 0) {
                match order_line_variant(&mut tx, tenant, connection, line).await? {
                    Some((product, variant)) => matched.push((product, variant, line.quantity)),
                    None => applied.unmatched.push(line.clone()),
                }
            }
            // Lock products in one order so two orders never wait on each other.
            matched.sort_by_key(|(product, variant, _)| (*product, *variant));
            for (product, variant, quantity) in matched {
                lock_product(&mut tx, tenant, product).await?;
                let current = current_stock(&mut tx, &ctx, variant, location, now).await?;
                let next = (current - quantity).max(0);
                applied.oversold += quantity - (current - next);
                if next == current {
                    continue;
                }
                write_stock(
                    &mut tx,
                    &ctx,
                    variant,
                    location,
                    current,
                    next,
                    "order",
                    Some(&reference),
                    now,
                )
                .await?;
                stock_changed(
                    &mut tx,
                    tenant,
                    ProductId::from_uuid(product),
                    VariantId::from_uuid(variant),
                    LocationId::from_uuid(location),
                    next,
                    now,
                )
                .await?;
                applied
                    .moved
                    .push((VariantId::from_uuid(variant), next - current));
                taken.push(TakenStock {
                    variant_id: variant,
                    location_id: location,
                    quantity: current - next,
                });
            }
            sqlx::query(
                "UPDATE channel_orders SET taken = $1, unmatched = $2 WHERE connection_id = $3 AND external_id = $4",
            )
            .bind(Json(&taken))
            .bind(Json(&applied.unmatched))
            .bind(connection.as_uuid())
            .bind(external_id)
            .execute(&mut *tx)
            .await?;
            write_audit(
                &mut tx,
                &ctx,
                "order.placed",
                "order",
                &reference,
                None,
                Some(serde_json::json!({ "lines": lines, "taken": taken, "unmatched": applied.unmatched })),
                now,
            )
            .await?;
        }
        (OrderEvent::Cancelled, false) => {
            let row = sqlx::query(
                "UPDATE channel_orders SET state = 'cancelled', updated_at = $1 \
                 WHERE connection_id = $2 AND external_id = $3 AND tenant_id = $4 AND state = 'placed' \
                 RETURNING taken, returned",
            )
            .bind(now)
            .bind(connection.as_uuid())
            .bind(external_id)
            .bind(tenant.as_uuid())
            .fetch_optional(&mut *tx)
            .await?;
            match row {
                None => applied.already = true,
                Some(row) => {
                    let Json(taken): Json<Vec<TakenStock>> = row.try_get("taken")?;
                    let Json(mut returned): Json<Vec<TakenStock>> = row.try_get("returned")?;
                    let restock = tenant_restocks(&mut *tx, tenant).await?;
                    if restock {
                        // Refunds may have given some of it back already.
                        let rest = outstanding(&taken, &returned);
                        restock_taken(&mut tx, &ctx, &reference, &rest, &mut applied, now).await?;
                        returned.extend(rest);
                        sqlx::query(
                            "UPDATE channel_orders SET restocked = TRUE, returned = $1 \
                             WHERE connection_id = $2 AND external_id = $3 AND tenant_id = $4",
                        )
                        .bind(Json(&returned))
                        .bind(connection.as_uuid())
                        .bind(external_id)
                        .bind(tenant.as_uuid())
                        .execute(&mut *tx)
                        .await?;
                    }
                    write_audit(
                        &mut tx,
                        &ctx,
                        "order.cancelled",
                        "order",
                        &reference,
                        None,
                        Some(serde_json::json!({ "restocked": restock, "taken": taken })),
                        now,
                    )
                    .await?;
                }
            }
        }
        // Seen before, or cancelled before it was placed: nothing to take.
        (OrderEvent::Placed, false) => applied.already = true,
        // Cancelled before its placement arrived: remembered by the row alone.
        (OrderEvent::Cancelled, true) => {}
    }
    tx.commit().await?;
    Ok(applied)
}

/// Gives back what an order took.
async fn restock_taken(
    tx: &mut Conn,
    ctx: &WriteContext,
    reference: &str,
    taken: &[TakenStock],
    applied: &mut OrderApplied,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let mut owned = Vec::new();
    for t in taken {
        let product: Option<Uuid> = sqlx::query_scalar(
            "SELECT product_id FROM product_variants WHERE tenant_id = $1 AND id = $2",
        )
        .bind(ctx.tenant.as_uuid())
        .bind(t.variant_id)
        .fetch_optional(&mut *tx)
        .await?;
        // A variant deleted since has no shelf to go back to.
        if let Some(product) = product {
            owned.push((product, t.clone()));
        }
    }
    let moved = give_back(tx, ctx, "order_cancelled", reference, owned, now).await?;
    applied.moved.extend(moved);
    Ok(())
}

/// Puts `stock` (each with its variant's product) back on the shelf: the
/// movement recorded with `reason` and `reference`, the new level sent out
/// through the outbox. Answers what moved. Shared by cancellations and
/// refunds, so both restock the same way.
async fn give_back(
    tx: &mut Conn,
    ctx: &WriteContext,
    reason: &str,
    reference: &str,
    mut stock: Vec<(Uuid, TakenStock)>,
    now: DateTime<Utc>,
) -> StoreResult<Vec<(VariantId, i64)>> {
    // Lock products in one order so two writers never wait on each other.
    stock.sort_by_key(|(product, t)| (*product, t.variant_id, t.location_id));
    let mut moved = Vec::with_capacity(stock.len());
    for (product, t) in &stock {
        lock_product(tx, ctx.tenant, *product).await?;
        let current = current_stock(tx, ctx, t.variant_id, t.location_id, now).await?;
        let next = current + t.quantity;
        write_stock(
            tx,
            ctx,
            t.variant_id,
            t.location_id,
            current,
            next,
            reason,
            Some(reference),
            now,
        )
        .await?;
        stock_changed(
            tx,
            ctx.tenant,
            ProductId::from_uuid(*product),
            VariantId::from_uuid(t.variant_id),
            LocationId::from_uuid(t.location_id),
            next,
            now,
        )
        .await?;
        moved.push((VariantId::from_uuid(t.variant_id), t.quantity));
    }
    Ok(moved)
}

/// The master (product, variant) an order line is for: the variant listed
/// under the channel's variant id on this connection, else the tenant's
/// variant with the line's SKU.
async fn order_line_variant(
    tx: &mut Conn,
    tenant: TenantId,
    connection: ConnectionId,
    line: &OrderLineRef,
) -> StoreResult<Option<(Uuid, Uuid)>> {
    if let Some(external) = &line.external_variant_id {
        let row = sqlx::query(
            "SELECT product_id, variant_id FROM platform_listings \
             WHERE connection_id = $1 AND external_variant_id = $2 AND tenant_id = $3 AND variant_id IS NOT NULL",
        )
        .bind(connection.as_uuid())
        .bind(external)
        .bind(tenant.as_uuid())
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = row {
            return Ok(Some((
                row.try_get("product_id")?,
                row.try_get("variant_id")?,
            )));
        }
    }
    let Some(sku) = line.sku.as_deref().filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let row = sqlx::query(
        "SELECT product_id, id FROM product_variants WHERE tenant_id = $1 AND sku = $2",
    )
    .bind(tenant.as_uuid())
    .bind(sku)
    .fetch_optional(&mut *tx)
    .await?;
    row.map(|r| Ok((r.try_get("product_id")?, r.try_get("id")?)))
        .transpose()
}

/// Whether a cancelled or refunded order's stock goes back (default yes).
async fn tenant_restocks<'e, E>(executor: E, tenant: TenantId) -> StoreResult<bool>
where
    E: sqlx::Executor<'e, Database = DB>,
{
    Ok(
        sqlx::query_scalar("SELECT restock_on_cancel FROM tenants WHERE id = $1")
            .bind(tenant.as_uuid())
            .fetch_optional(executor)
            .await?
            .unwrap_or(true),
    )
}

pub(crate) async fn restock_on_cancel(pool: &Pool, tenant: TenantId) -> StoreResult<bool> {
    tenant_restocks(pool, tenant).await
}

pub(crate) async fn set_restock_on_cancel(
    pool: &Pool,
    ctx: &WriteContext,
    restock: bool,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    let before: bool = sqlx::query_scalar("SELECT restock_on_cancel FROM tenants WHERE id = $1")
        .bind(ctx.tenant.as_uuid())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
    sqlx::query("UPDATE tenants SET restock_on_cancel = $1 WHERE id = $2")
        .bind(restock)
        .bind(ctx.tenant.as_uuid())
        .execute(&mut *tx)
        .await?;
    write_audit(
        &mut tx,
        ctx,
        "settings.update",
        "tenant",
        &ctx.tenant.to_string(),
        Some(serde_json::json!({ "restock_on_cancel": before })),
        Some(serde_json::json!({ "restock_on_cancel": restock })),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Where order polling starts for a connection: where the last poll ended,
/// else when the connection was made (earlier orders were counted in the
/// stock it was linked with).
pub(crate) async fn orders_polled_until(
    pool: &Pool,
    tenant: TenantId,
    connection: ConnectionId,
) -> StoreResult<Option<OrderPollCursor>> {
    let row = sqlx::query(
        "SELECT orders_polled_until, created_at FROM platform_connections WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.as_uuid())
    .bind(connection.as_uuid())
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        let polled: Option<DateTime<Utc>> = r.try_get("orders_polled_until")?;
        let created: DateTime<Utc> = r.try_get("created_at")?;
        Ok(OrderPollCursor {
            until: polled.unwrap_or(created),
            made_at: created,
        })
    })
    .transpose()
}

pub(crate) async fn set_orders_polled_until(
    pool: &Pool,
    tenant: TenantId,
    connection: ConnectionId,
    until: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE platform_connections SET orders_polled_until = $1 WHERE tenant_id = $2 AND id = $3",
    )
    .bind(until)
    .bind(tenant.as_uuid())
    .bind(connection.as_uuid())
    .execute(pool)
    .await?;
    Ok(())
}
