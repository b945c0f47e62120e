// Many rows in one statement, PostgreSQL's way: one array per column through
// UNNEST. The statement's text is the same whatever the batch's size, so each
// connection prepares it once; a VALUES list would be a new statement (parsed
// and planned again, and crowding the statement cache) for every size.

/// Claims `claims` in `webhook_nonces` (an expired claim may be taken
/// again); answers the nonces that were claimed.
async fn insert_webhook_nonces(
    tx: &mut sqlx::Transaction<'_, DB>,
    claims: &[&str],
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<Vec<String>> {
    Ok(sqlx::query_scalar(
        "INSERT INTO webhook_nonces (nonce, expires_at) SELECT nonce, $2 FROM UNNEST($1::text[]) AS t(nonce) \
         ON CONFLICT (nonce) DO UPDATE SET expires_at = excluded.expires_at \
         WHERE webhook_nonces.expires_at <= $3 RETURNING nonce",
    )
    .bind(claims)
    .bind(expires_at)
    .bind(now)
    .fetch_all(&mut **tx)
    .await?)
}

/// Stores `deliveries` as received at `now`; an event id already stored is
/// skipped. Answers the ids stored.
async fn insert_webhook_logs(
    tx: &mut sqlx::Transaction<'_, DB>,
    deliveries: &[&NewWebhookLog],
    now: DateTime<Utc>,
) -> StoreResult<Vec<Uuid>> {
    let ids: Vec<Uuid> = deliveries.iter().map(|d| d.id).collect();
    let tenants: Vec<Option<Uuid>> = deliveries
        .iter()
        .map(|d| d.tenant.map(|t| t.as_uuid()))
        .collect();
    let connections: Vec<Option<Uuid>> = deliveries
        .iter()
        .map(|d| d.connection.map(|c| c.as_uuid()))
        .collect();
    let platforms: Vec<&str> = deliveries.iter().map(|d| d.platform.as_str()).collect();
    let event_ids: Vec<Option<&str>> = deliveries.iter().map(|d| d.event_id.as_deref()).collect();
    let topics: Vec<Option<&str>> = deliveries.iter().map(|d| d.topic.as_deref()).collect();
    let headers: Vec<Json<&serde_json::Value>> =
        deliveries.iter().map(|d| Json(&d.headers)).collect();
    let bodies: Vec<&[u8]> = deliveries.iter().map(|d| d.body.as_slice()).collect();
    let stamps: Vec<Option<DateTime<Utc>>> =
        deliveries.iter().map(|d| d.platform_timestamp).collect();
    let events: Vec<Option<Json<&serde_json::Value>>> = deliveries
        .iter()
        .map(|d| d.event.as_ref().map(Json))
        .collect();
    let sources: Vec<&str> = deliveries.iter().map(|d| d.source.as_str()).collect();
    Ok(sqlx::query_scalar(
        "INSERT INTO webhook_logs (id, tenant_id, connection_id, platform, event_id, topic, headers, body, received_at, platform_timestamp, status, event, source) \
         SELECT id, tenant_id, connection_id, platform, event_id, topic, headers, body, $12, platform_timestamp, 'received', event, source \
         FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::jsonb[], $8::bytea[], $9::timestamptz[], $10::jsonb[], $11::text[]) \
         AS t(id, tenant_id, connection_id, platform, event_id, topic, headers, body, platform_timestamp, event, source) \
         ON CONFLICT (platform, connection_id, event_id) WHERE event_id IS NOT NULL DO NOTHING RETURNING id",
    )
    .bind(ids)
    .bind(tenants)
    .bind(connections)
    .bind(platforms)
    .bind(event_ids)
    .bind(topics)
    .bind(headers)
    .bind(bodies)
    .bind(stamps)
    .bind(events)
    .bind(sources)
    .bind(now)
    .fetch_all(&mut **tx)
    .await?)
}

/// Enqueues `jobs` (none of which has a dedupe key) ready to run.
async fn insert_ready_jobs(
    tx: &mut sqlx::Transaction<'_, DB>,
    jobs: &[&NewJob],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let ids: Vec<Uuid> = jobs.iter().map(|_| JobId::new().as_uuid()).collect();
    let queues: Vec<&str> = jobs.iter().map(|j| j.queue.as_str()).collect();
    let kinds: Vec<&str> = jobs.iter().map(|j| j.kind.as_str()).collect();
    let tenants: Vec<Option<Uuid>> = jobs.iter().map(|j| j.tenant.map(|t| t.as_uuid())).collect();
    let payloads: Vec<Json<&serde_json::Value>> = jobs.iter().map(|j| Json(&j.payload)).collect();
    let priorities: Vec<i32> = jobs.iter().map(|j| j.priority).collect();
    let max_attempts: Vec<i32> = jobs.iter().map(|j| j.max_attempts).collect();
    let run_at: Vec<DateTime<Utc>> = jobs.iter().map(|j| j.run_at.unwrap_or(now)).collect();
    sqlx::query(
        "INSERT INTO jobs (id, queue, kind, tenant_id, dedupe_key, payload, priority, state, rerun, attempts, max_attempts, run_at, created_at, updated_at) \
         SELECT id, queue, kind, tenant_id, NULL, payload, priority, 'ready', FALSE, 0, max_attempts, run_at, $9, $9 \
         FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::jsonb[], $6::int4[], $7::int4[], $8::timestamptz[]) \
         AS t(id, queue, kind, tenant_id, payload, priority, max_attempts, run_at)",
    )
    .bind(ids)
    .bind(queues)
    .bind(kinds)
    .bind(tenants)
    .bind(payloads)
    .bind(priorities)
    .bind(max_attempts)
    .bind(run_at)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
