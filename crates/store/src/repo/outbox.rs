// The outbox relay's side of the store. Compiled once per backend: see `backend.rs`.

/// Rows one relay statement names at most (well under SQLite's 32,766
/// bound parameters).
const RELAY_CHUNK: usize = 500;

/// The product an outbox event is about, if it is about one.
fn event_product(
    aggregate_type: &str,
    aggregate_id: &str,
    payload: &serde_json::Value,
) -> Option<Uuid> {
    match aggregate_type {
        "product" => aggregate_id.parse::<ProductId>().ok().map(|p| p.as_uuid()),
        _ => payload
            .get("product_id")
            .and_then(|v| v.as_str())
            .and_then(|s| s.parse::<ProductId>().ok())
            .map(|p| p.as_uuid()),
    }
}

/// Relays up to `limit` unprocessed outbox events in one transaction: every
/// listing of each event's product becomes pending (bar excluded ones, and
/// conflicted ones, which only learn they owe a push), each connection with
/// pending listings gets one deduplicated sync job, and the events are marked
/// processed. Either all of that commits or none of it does, so an event is
/// applied once however many relays run (PostgreSQL relays skip each other's
/// locked rows) and whenever one dies.
pub(crate) async fn relay_outbox(
    pool: &Pool,
    limit: i64,
    sync_max_attempts: i32,
    now: DateTime<Utc>,
) -> StoreResult<RelayBatch> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT id, tenant_id, kind, aggregate_type, aggregate_id, payload, created_at FROM outbox_events \
         WHERE processed_at IS NULL ORDER BY id LIMIT $1{SKIP_LOCKED}"
    )))
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    let mut batch = RelayBatch::default();
    if rows.is_empty() {
        tx.rollback().await?;
        return Ok(batch);
    }
    let mut products: Vec<(Uuid, Uuid)> = Vec::new();
    let mut ids: Vec<Uuid> = Vec::with_capacity(rows.len());
    for row in &rows {
        let id: Uuid = row.try_get("id")?;
        let tenant: Uuid = row.try_get("tenant_id")?;
        let aggregate_type: String = row.try_get("aggregate_type")?;
        let aggregate_id: String = row.try_get("aggregate_id")?;
        let payload: Json<serde_json::Value> = row.try_get("payload")?;
        ids.push(id);
        if let Some(product) = event_product(&aggregate_type, &aggregate_id, &payload.0)
            && !products.contains(&(tenant, product))
        {
            products.push((tenant, product));
        }
        let created: DateTime<Utc> = row.try_get("created_at")?;
        batch.oldest_created_at = Some(
            batch
                .oldest_created_at
                .map_or(created, |o: DateTime<Utc>| o.min(created)),
        );
    }

    let mut connections: Vec<(Uuid, Uuid)> = Vec::new();
    // Per tenant, a few hundred products per statement, in one order so
    // concurrent relays take row locks the same way round.
    let mut by_tenant: std::collections::BTreeMap<Uuid, Vec<Uuid>> = Default::default();
    for (tenant, product) in &products {
        by_tenant.entry(*tenant).or_default().push(*product);
    }
    for (tenant, mut products) in by_tenant {
        products.sort();
        for chunk in products.chunks(RELAY_CHUNK) {
            // A listing waiting on a conflict stays there (nothing is pushed
            // until someone decides) but owes a push once it is settled.
            let mut query = QueryBuilder::<DB>::new(
                "UPDATE platform_listings SET \
                   last_pushed_hash = CASE WHEN status = 'conflict' THEN NULL ELSE last_pushed_hash END, \
                   catalog_hash = CASE WHEN status = 'conflict' THEN NULL ELSE catalog_hash END, \
                   status = CASE WHEN status = 'conflict' THEN 'conflict' ELSE 'pending' END, \
                   next_retry_at = NULL, attempts = 0, updated_at = ",
            );
            query.push_bind(now);
            query.push(format!(" WHERE {TENANT_FILTER} = "));
            query.push_bind(tenant);
            query.push(" AND (status <> 'excluded' OR excluded_by = 'rule') AND product_id IN (");
            let mut list = query.separated(", ");
            for product in chunk {
                list.push_bind(*product);
            }
            query.push(") RETURNING connection_id, status");
            let touched = query.build().fetch_all(&mut *tx).await?;
            for row in touched {
                let status: String = row.try_get("status")?;
                if status != "pending" {
                    continue;
                }
                batch.listings += 1;
                let connection: Uuid = row.try_get("connection_id")?;
                if !connections.contains(&(tenant, connection)) {
                    connections.push((tenant, connection));
                }
            }
        }
    }
    // One lock order for every writer of job rows, so two relays never deadlock.
    connections.sort();
    for (tenant, connection) in &connections {
        let connection = ConnectionId::from_uuid(*connection);
        enqueue_in(
            &mut tx,
            &NewJob::sync_connection(TenantId::from_uuid(*tenant), connection, sync_max_attempts),
            now,
        )
        .await?;
        batch.connections.push(connection);
    }

    for chunk in ids.chunks(RELAY_CHUNK) {
        let mut query = QueryBuilder::<DB>::new(
            "UPDATE outbox_events SET attempts = attempts + 1, processed_at = ",
        );
        query.push_bind(now);
        query.push(" WHERE id IN (");
        let mut list = query.separated(", ");
        for id in chunk {
            list.push_bind(*id);
        }
        query.push(")");
        query.build().execute(&mut *tx).await?;
    }
    tx.commit().await?;
    batch.events = ids.len();
    Ok(batch)
}

/// Unprocessed outbox events, and the age of the oldest: the relay's backlog.
pub(crate) async fn outbox_backlog(
    pool: &Pool,
    now: DateTime<Utc>,
) -> StoreResult<(i64, Option<i64>)> {
    let row = sqlx::query("SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox_events WHERE processed_at IS NULL")
        .fetch_one(pool)
        .await?;
    let n: i64 = row.try_get("n")?;
    let oldest: Option<DateTime<Utc>> = row.try_get("oldest")?;
    Ok((n, oldest.map(|t| (now - t).num_milliseconds().max(0))))
}

/// Deletes outbox events processed before `before`.
pub(crate) async fn purge_outbox(pool: &Pool, before: DateTime<Utc>) -> StoreResult<u64> {
    Ok(sqlx::query(
        "DELETE FROM outbox_events WHERE processed_at IS NOT NULL AND processed_at < $1",
    )
    .bind(before)
    .execute(pool)
    .await?
    .rows_affected())
}
