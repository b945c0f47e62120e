// Stored responses for `Idempotency-Key`. Compiled once per backend: see `backend.rs`.

/// Claims `key` for a request with this body hash, or says how it was used before.
pub async fn idempotency_start(
    pool: &Pool,
    tenant: TenantId,
    key: &str,
    request_hash: &[u8],
    now: DateTime<Utc>,
    ttl: chrono::Duration,
) -> StoreResult<IdempotencyStart> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    sqlx::query(
        "DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key = $2 AND expires_at <= $3",
    )
    .bind(tenant.as_uuid())
    .bind(key)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (tenant_id, key, request_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (tenant_id, key) DO NOTHING",
    )
    .bind(tenant.as_uuid())
    .bind(key)
    .bind(request_hash)
    .bind(now)
    .bind(now + ttl)
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 1 {
        tx.commit().await?;
        return Ok(IdempotencyStart::Started);
    }
    let row = sqlx::query("SELECT request_hash, status_code, response_body FROM idempotency_keys WHERE tenant_id = $1 AND key = $2")
        .bind(tenant.as_uuid())
        .bind(key)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    let stored_hash: Vec<u8> = row.try_get("request_hash")?;
    if stored_hash != request_hash {
        return Ok(IdempotencyStart::Mismatch);
    }
    let status: Option<i32> = row.try_get("status_code")?;
    let body: Option<Vec<u8>> = row.try_get("response_body")?;
    Ok(match status {
        None => IdempotencyStart::InProgress,
        Some(status) => IdempotencyStart::Replay {
            status: u16::try_from(status).unwrap_or(500),
            body: body.unwrap_or_default(),
        },
    })
}

pub async fn idempotency_finish(
    pool: &Pool,
    tenant: TenantId,
    key: &str,
    status: u16,
    body: &[u8],
) -> StoreResult<()> {
    sqlx::query("UPDATE idempotency_keys SET status_code = $1, response_body = $2 WHERE tenant_id = $3 AND key = $4")
        .bind(i32::from(status))
        .bind(body)
        .bind(tenant.as_uuid())
        .bind(key)
        .execute(pool)
        .await?;
    Ok(())
}

/// Forgets a key whose request failed on our side, so the client may retry it.
pub async fn idempotency_abandon(pool: &Pool, tenant: TenantId, key: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key = $2")
        .bind(tenant.as_uuid())
        .bind(key)
        .execute(pool)
        .await?;
    Ok(())
}

/// Drops expired keys; returns how many.
pub async fn purge_idempotency_keys(pool: &Pool, now: DateTime<Utc>) -> StoreResult<u64> {
    Ok(
        sqlx::query("DELETE FROM idempotency_keys WHERE expires_at <= $1")
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected(),
    )
}

/// Outbox events not yet handed on (for tests and metrics until the relay consumes them).
pub async fn count_outbox(pool: &Pool, tenant: TenantId) -> StoreResult<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbox_events WHERE tenant_id = $1 AND processed_at IS NULL",
    )
    .bind(tenant.as_uuid())
    .fetch_one(pool)
    .await?)
}

pub async fn ping(pool: &Pool) -> StoreResult<()> {
    sqlx::query("SELECT 1").execute(pool).await?;
    Ok(())
}
