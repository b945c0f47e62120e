// Webhook deliveries: the replay window, the log, and the job that applies
// each. Compiled once per backend: see `backend.rs`.

const WEBHOOK_LOG_COLUMNS: &str = "id, tenant_id, connection_id, platform, event_id, topic, source, status, error, received_at, platform_timestamp, processed_at, event, headers, body";

fn webhook_log_from_row(row: &<DB as sqlx::Database>::Row) -> StoreResult<WebhookLogRecord> {
    let tenant: Option<Uuid> = row.try_get("tenant_id")?;
    let connection: Option<Uuid> = row.try_get("connection_id")?;
    let event: Option<Json<serde_json::Value>> = row.try_get("event")?;
    let headers: Json<serde_json::Value> = row.try_get("headers")?;
    Ok(WebhookLogRecord {
        id: row.try_get("id")?,
        tenant_id: tenant.map(TenantId::from_uuid),
        connection_id: connection.map(ConnectionId::from_uuid),
        platform: row.try_get("platform")?,
        event_id: row.try_get("event_id")?,
        topic: row.try_get("topic")?,
        source: row.try_get("source")?,
        status: row.try_get("status")?,
        error: row.try_get("error")?,
        received_at: row.try_get("received_at")?,
        platform_timestamp: row.try_get("platform_timestamp")?,
        processed_at: row.try_get("processed_at")?,
        event: event.map(|e| e.0),
        headers: headers.0,
        body: row.try_get("body")?,
    })
}

/// Stores a batch of verified deliveries in one transaction (the receiver
/// gathers concurrent requests into one commit), each with its nonce claim
/// and its job, in one statement per table rather than per delivery. The
/// answer for each says whether it was stored, was a redelivery of a stored
/// event, or replayed a nonce inside the window.
pub(crate) async fn accept_webhooks(
    pool: &Pool,
    batch: &[NewWebhookLog],
    replay_window: chrono::Duration,
    now: DateTime<Utc>,
) -> StoreResult<Vec<WebhookAcceptance>> {
    let mut answers = vec![WebhookAcceptance::Stored; batch.len()];
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;

    // Nonces: a nonce twice in one batch is a replay of the first; the rest
    // are claimed together (one whose window has passed may be claimed again).
    let mut seen = std::collections::HashSet::new();
    let mut claims: Vec<(usize, &str)> = Vec::new();
    for (i, delivery) in batch.iter().enumerate() {
        if let Some(nonce) = delivery.nonce.as_deref() {
            if seen.insert(nonce) {
                claims.push((i, nonce));
            } else {
                answers[i] = WebhookAcceptance::Replayed;
            }
        }
    }
    if !claims.is_empty() {
        let nonces: Vec<&str> = claims.iter().map(|(_, nonce)| *nonce).collect();
        let claimed: std::collections::HashSet<String> =
            insert_webhook_nonces(&mut tx, &nonces, now + replay_window, now)
                .await?
                .into_iter()
                .collect();
        for (i, nonce) in &claims {
            if !claimed.contains(*nonce) {
                answers[*i] = WebhookAcceptance::Replayed;
            }
        }
    }

    // The deliveries: an event id already stored is a duplicate.
    let fresh: Vec<&NewWebhookLog> = batch
        .iter()
        .zip(&answers)
        .filter(|(_, a)| **a == WebhookAcceptance::Stored)
        .map(|(d, _)| d)
        .collect();
    if !fresh.is_empty() {
        let stored: std::collections::HashSet<Uuid> = insert_webhook_logs(&mut tx, &fresh, now)
            .await?
            .into_iter()
            .collect();
        for (delivery, answer) in batch.iter().zip(answers.iter_mut()) {
            if *answer == WebhookAcceptance::Stored && !stored.contains(&delivery.id) {
                *answer = WebhookAcceptance::Duplicate;
            }
        }
    }

    // Their jobs: plain ones in one statement, deduplicated ones one by one.
    let jobs: Vec<&NewJob> = batch
        .iter()
        .zip(&answers)
        .filter(|(_, a)| **a == WebhookAcceptance::Stored)
        .filter_map(|(d, _)| d.job.as_ref())
        .collect();
    let (plain, deduplicated): (Vec<&NewJob>, Vec<&NewJob>) =
        jobs.into_iter().partition(|j| j.dedupe_key.is_none());
    if !plain.is_empty() {
        insert_ready_jobs(&mut tx, &plain, now).await?;
    }
    for job in deduplicated {
        enqueue_in(&mut tx, job, now).await?;
    }
    tx.commit().await?;
    Ok(answers)
}

/// One stored delivery, for the worker (unscoped: the job names it by id).
pub(crate) async fn webhook_log(pool: &Pool, id: Uuid) -> StoreResult<Option<WebhookLogRecord>> {
    let sql = format!("SELECT {WEBHOOK_LOG_COLUMNS} FROM webhook_logs WHERE id = $1");
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(webhook_log_from_row).transpose()
}

/// One of a tenant's deliveries.
pub(crate) async fn tenant_webhook_log(
    pool: &Pool,
    tenant: TenantId,
    id: Uuid,
) -> StoreResult<Option<WebhookLogRecord>> {
    let sql =
        format!("SELECT {WEBHOOK_LOG_COLUMNS} FROM webhook_logs WHERE tenant_id = $1 AND id = $2");
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(tenant.as_uuid())
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(webhook_log_from_row).transpose()
}

/// A tenant's deliveries, oldest first after `query.after`.
pub(crate) async fn list_webhook_logs(
    pool: &Pool,
    tenant: TenantId,
    query: &WebhookLogQuery,
) -> StoreResult<Vec<WebhookLogRecord>> {
    let mut qb = QueryBuilder::<DB>::new(format!(
        "SELECT {WEBHOOK_LOG_COLUMNS} FROM webhook_logs WHERE tenant_id = "
    ));
    qb.push_bind(tenant.as_uuid());
    if let Some(after) = query.after {
        qb.push(" AND id > ").push_bind(after);
    }
    if let Some(status) = &query.status {
        qb.push(" AND status = ").push_bind(status.clone());
    }
    if let Some(connection) = query.connection {
        qb.push(" AND connection_id = ")
            .push_bind(connection.as_uuid());
    }
    qb.push(" ORDER BY id LIMIT ").push_bind(query.limit);
    let rows = qb.build().fetch_all(pool).await?;
    rows.iter().map(webhook_log_from_row).collect()
}

/// Records what applying a delivery came to.
pub(crate) async fn finish_webhook(
    pool: &Pool,
    id: Uuid,
    status: &str,
    error: Option<&str>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query("UPDATE webhook_logs SET status = $1, error = $2, processed_at = $3 WHERE id = $4")
        .bind(status)
        .bind(error)
        .bind(now)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Forgets nonces whose replay window has passed.
pub(crate) async fn purge_webhook_nonces(pool: &Pool, now: DateTime<Utc>) -> StoreResult<u64> {
    Ok(
        sqlx::query("DELETE FROM webhook_nonces WHERE expires_at <= $1")
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected(),
    )
}

/// A connection by id alone, for the webhook receiver: the id in the path
/// is the only routing key a platform's delivery carries, and the signature
/// checked against this connection's secret is what proves the caller.
pub(crate) async fn connection_for_webhook(
    pool: &Pool,
    id: ConnectionId,
) -> StoreResult<Option<ConnectionRecord>> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {CONNECTION_COLUMNS} FROM platform_connections WHERE id = $1"
    )))
    .bind(id.as_uuid())
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(connection_from_row).transpose()
}

/// Forgets one nonce before its window ends.
pub(crate) async fn forget_webhook_nonce(pool: &Pool, nonce: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM webhook_nonces WHERE nonce = $1")
        .bind(nonce)
        .execute(pool)
        .await?;
    Ok(())
}
