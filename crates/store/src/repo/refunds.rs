// Channel refunds and the stock they give back. Compiled once per backend: see `backend.rs`.

/// What is still out of what an order took: `taken` less `returned`, per
/// variant and location (never below zero).
fn outstanding(taken: &[TakenStock], returned: &[TakenStock]) -> Vec<TakenStock> {
    let mut out: Vec<TakenStock> = Vec::new();
    for t in taken {
        match out
            .iter_mut()
            .find(|o| o.variant_id == t.variant_id && o.location_id == t.location_id)
        {
            Some(o) => o.quantity += t.quantity,
            None => out.push(t.clone()),
        }
    }
    for r in returned {
        if let Some(o) = out
            .iter_mut()
            .find(|o| o.variant_id == r.variant_id && o.location_id == r.location_id)
        {
            o.quantity -= r.quantity;
        }
    }
    out.retain(|o| o.quantity > 0);
    out
}

/// Takes up to `wanted` units of `variant` from what is still out, location
/// by location: what was drawn, and how many units were not there.
fn draw(left: &mut [TakenStock], variant: Uuid, wanted: i64) -> (Vec<TakenStock>, i64) {
    let mut drawn = Vec::new();
    let mut wanted = wanted;
    for out in left.iter_mut().filter(|o| o.variant_id == variant) {
        let n = wanted.min(out.quantity);
        if n <= 0 {
            continue;
        }
        out.quantity -= n;
        wanted -= n;
        drawn.push(TakenStock {
            variant_id: variant,
            location_id: out.location_id,
            quantity: n,
        });
    }
    (drawn, wanted)
}

/// Applies a refund to stock, once per refund id:
///
/// * the order was never recorded here (the refund overtook it, or the
///   order predates the connection): nothing moves and nothing is kept,
///   and the caller is told so;
/// * seen before (a redelivery, a poll): nothing moves;
/// * the tenant does not restock: the refund is recorded, nothing moves;
/// * otherwise each line's variant gets back the refunded quantity, capped
///   at what the order took of it less what earlier refunds or its
///   cancellation settled, at the location it was taken from; the
///   movement is recorded against the order and the refund and goes out
///   through the outbox to every channel;
/// * `kept` lines (refunded without a restock) move nothing but are
///   settled all the same, so the order's cancellation does not give
///   back units the buyer kept.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn apply_channel_refund(
    pool: &Pool,
    tenant: TenantId,
    connection: ConnectionId,
    platform: &str,
    order_external_id: &str,
    refund_id: &str,
    lines: &[OrderLineRef],
    kept: &[OrderLineRef],
    now: DateTime<Utc>,
) -> StoreResult<RefundApplied> {
    let reference = format!("{platform}:order:{order_external_id}:refund:{refund_id}");
    let ctx = WriteContext::new(tenant, format!("channel:{platform}"));
    let mut applied = RefundApplied::default();
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    // The order row is the lock every event of the order takes first, so a
    // refund and a cancellation of one order never both count the same units.
    let sql = format!(
        "SELECT taken, returned FROM channel_orders \
         WHERE connection_id = $1 AND external_id = $2 AND tenant_id = $3{LOCK_ROW}"
    );
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(connection.as_uuid())
        .bind(order_external_id)
        .bind(tenant.as_uuid())
        .fetch_optional(&mut *tx)
        .await?;
    let Some(row) = row else {
        applied.order_unknown = true;
        return Ok(applied);
    };
    let Json(taken): Json<Vec<TakenStock>> = row.try_get("taken")?;
    let Json(mut returned): Json<Vec<TakenStock>> = row.try_get("returned")?;
    let first: Option<String> = sqlx::query_scalar(
        "INSERT INTO channel_refunds (connection_id, refund_id, order_external_id, tenant_id, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (connection_id, refund_id) DO NOTHING RETURNING refund_id",
    )
    .bind(connection.as_uuid())
    .bind(refund_id)
    .bind(order_external_id)
    .bind(tenant.as_uuid())
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    if first.is_none() {
        applied.already = true;
        return Ok(applied);
    }
    applied.restock = tenant_restocks(&mut *tx, tenant).await?;
    let mut given: Vec<(Uuid, TakenStock)> = Vec::new();
    let mut settled: Vec<TakenStock> = Vec::new();
    let mut left = outstanding(&taken, &returned);
    // Kept lines first, whatever the tenant's setting: units the buyer kept
    // never come back, not with this refund nor with a later cancellation.
    for line in kept.iter().filter(|l| l.quantity > 0) {
        let Some((_, variant)) = order_line_variant(&mut tx, tenant, connection, line).await?
        else {
            continue;
        };
        let (off, _) = draw(&mut left, variant, line.quantity);
        settled.extend(off);
    }
    if applied.restock {
        for line in lines.iter().filter(|l| l.quantity > 0) {
            let Some((product, variant)) =
                order_line_variant(&mut tx, tenant, connection, line).await?
            else {
                applied.unmatched.push(line.clone());
                continue;
            };
            let (back, short) = draw(&mut left, variant, line.quantity);
            given.extend(back.into_iter().map(|t| (product, t)));
            applied.beyond_taken += short;
        }
    }
    let restocked: Vec<TakenStock> = given.iter().map(|(_, t)| t.clone()).collect();
    let moved = give_back(&mut tx, &ctx, "order_refunded", &reference, given, now).await?;
    applied.moved.extend(moved);
    applied.kept = settled.iter().map(|t| t.quantity).sum();
    if !restocked.is_empty() || !settled.is_empty() {
        returned.extend(restocked.iter().cloned());
        returned.extend(settled);
        sqlx::query(
            "UPDATE channel_orders SET returned = $1, updated_at = $2 \
             WHERE connection_id = $3 AND external_id = $4 AND tenant_id = $5",
        )
        .bind(Json(&returned))
        .bind(now)
        .bind(connection.as_uuid())
        .bind(order_external_id)
        .bind(tenant.as_uuid())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE channel_refunds SET restocked = $1 WHERE connection_id = $2 AND refund_id = $3 AND tenant_id = $4",
        )
        .bind(Json(&restocked))
        .bind(connection.as_uuid())
        .bind(refund_id)
        .bind(tenant.as_uuid())
        .execute(&mut *tx)
        .await?;
    }
    write_audit(
        &mut tx,
        &ctx,
        "order.refunded",
        "order",
        &reference,
        None,
        Some(serde_json::json!({
            "lines": lines,
            "kept": kept,
            "restock": applied.restock,
            "restocked": restocked,
            "unmatched": applied.unmatched,
        })),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(applied)
}
