// Many rows in one statement, SQLite's way: a VALUES list (SQLite has no
// arrays to bind). Its statements are prepared in-process and cheaply, so a
// new text per batch size costs little.

/// Claims `claims` in `webhook_nonces` (an expired claim may be taken
/// again); answers the nonces that were claimed.
async fn insert_webhook_nonces(
    tx: &mut sqlx::Transaction<'_, DB>,
    claims: &[&str],
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<Vec<String>> {
    let mut qb = QueryBuilder::<DB>::new("INSERT INTO webhook_nonces (nonce, expires_at) ");
    qb.push_values(claims, |mut row, nonce| {
        row.push_bind(*nonce).push_bind(expires_at);
    });
    qb.push(
        " ON CONFLICT (nonce) DO UPDATE SET expires_at = excluded.expires_at \
         WHERE webhook_nonces.expires_at <= ",
    )
    .push_bind(now)
    .push(" RETURNING nonce");
    Ok(qb.build_query_scalar().fetch_all(&mut **tx).await?)
}

/// Stores `deliveries` as received at `now`; an event id already stored is
/// skipped. Answers the ids stored.
async fn insert_webhook_logs(
    tx: &mut sqlx::Transaction<'_, DB>,
    deliveries: &[&NewWebhookLog],
    now: DateTime<Utc>,
) -> StoreResult<Vec<Uuid>> {
    let mut qb = QueryBuilder::<DB>::new(
        "INSERT INTO webhook_logs (id, tenant_id, connection_id, platform, event_id, topic, headers, body, received_at, platform_timestamp, status, event, source) ",
    );
    qb.push_values(deliveries, |mut row, d| {
        row.push_bind(d.id)
            .push_bind(d.tenant.map(|t| t.as_uuid()))
            .push_bind(d.connection.map(|c| c.as_uuid()))
            .push_bind(d.platform.as_str())
            .push_bind(d.event_id.as_deref())
            .push_bind(d.topic.as_deref())
            .push_bind(Json(&d.headers))
            .push_bind(d.body.as_slice())
            .push_bind(now)
            .push_bind(d.platform_timestamp)
            .push_bind("received")
            .push_bind(d.event.as_ref().map(Json))
            .push_bind(d.source.as_str());
    });
    qb.push(
        " ON CONFLICT (platform, connection_id, event_id) WHERE event_id IS NOT NULL DO NOTHING RETURNING id",
    );
    Ok(qb.build_query_scalar().fetch_all(&mut **tx).await?)
}

/// Enqueues `jobs` (none of which has a dedupe key) ready to run.
async fn insert_ready_jobs(
    tx: &mut sqlx::Transaction<'_, DB>,
    jobs: &[&NewJob],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let mut qb = QueryBuilder::<DB>::new(
        "INSERT INTO jobs (id, queue, kind, tenant_id, dedupe_key, payload, priority, state, rerun, attempts, max_attempts, run_at, created_at, updated_at) ",
    );
    qb.push_values(jobs, |mut row, job| {
        row.push_bind(JobId::new().as_uuid())
            .push_bind(job.queue.as_str())
            .push_bind(job.kind.as_str())
            .push_bind(job.tenant.map(|t| t.as_uuid()))
            .push_bind(None::<&str>)
            .push_bind(Json(&job.payload))
            .push_bind(job.priority)
            .push_bind("ready")
            .push_bind(false)
            .push_bind(0_i32)
            .push_bind(job.max_attempts)
            .push_bind(job.run_at.unwrap_or(now))
            .push_bind(now)
            .push_bind(now);
    });
    qb.build().execute(&mut **tx).await?;
    Ok(())
}
