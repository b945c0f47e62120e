// Channel connections, their sealed credentials, OAuth installs in flight,
// quota use and alerts. Compiled once per backend: see `backend.rs`.

const CONNECTION_COLUMNS: &str = "id, tenant_id, platform, name, external_account, status, settings, \
     credentials_key_id, credentials_nonce, credentials, token_expires_at, created_at, updated_at";

fn sealed_from(
    key_id: Option<String>,
    nonce: Option<Vec<u8>>,
    ciphertext: Option<Vec<u8>>,
) -> Option<shelfsync_core::vault::Sealed> {
    match (key_id, nonce, ciphertext) {
        (Some(key_id), Some(nonce), Some(ciphertext)) => Some(shelfsync_core::vault::Sealed {
            key_id,
            nonce,
            ciphertext,
        }),
        _ => None,
    }
}

fn connection_from_row(row: &<DB as sqlx::Database>::Row) -> StoreResult<ConnectionRecord> {
    let settings: Json<serde_json::Value> = row.try_get("settings")?;
    Ok(ConnectionRecord {
        id: ConnectionId::from_uuid(row.try_get("id")?),
        tenant: TenantId::from_uuid(row.try_get("tenant_id")?),
        platform: row.try_get("platform")?,
        name: row.try_get("name")?,
        account: row.try_get("external_account")?,
        status: row.try_get("status")?,
        settings: settings.0,
        credentials: sealed_from(
            row.try_get("credentials_key_id")?,
            row.try_get("credentials_nonce")?,
            row.try_get("credentials")?,
        ),
        token_expires_at: row.try_get("token_expires_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub(crate) async fn create_connection(
    pool: &Pool,
    new: &NewConnection,
    now: DateTime<Utc>,
) -> StoreResult<ConnectionRecord> {
    let sealed = new.credentials.as_ref();
    let row = sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO platform_connections (id, tenant_id, platform, name, external_account, status, settings, \
         credentials_key_id, credentials_nonce, credentials, token_expires_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 'active', $6, $7, $8, $9, $10, $11, $11) RETURNING {CONNECTION_COLUMNS}"
    )))
    .bind(new.id.as_uuid())
    .bind(new.tenant.as_uuid())
    .bind(&new.platform)
    .bind(&new.name)
    .bind(&new.account)
    .bind(Json(&new.settings))
    .bind(sealed.map(|s| s.key_id.clone()))
    .bind(sealed.map(|s| s.nonce.clone()))
    .bind(sealed.map(|s| s.ciphertext.clone()))
    .bind(new.token_expires_at)
    .bind(now)
    .fetch_one(pool)
    .await?;
    connection_from_row(&row)
}

pub(crate) async fn get_connection(
    pool: &Pool,
    tenant: TenantId,
    id: ConnectionId,
) -> StoreResult<Option<ConnectionRecord>> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {CONNECTION_COLUMNS} FROM platform_connections WHERE id = $1 AND tenant_id = $2"
    )))
    .bind(id.as_uuid())
    .bind(tenant.as_uuid())
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(connection_from_row).transpose()
}

pub(crate) async fn list_connections(
    pool: &Pool,
    tenant: TenantId,
) -> StoreResult<Vec<ConnectionRecord>> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {CONNECTION_COLUMNS} FROM platform_connections WHERE tenant_id = $1 ORDER BY id"
    )))
    .bind(tenant.as_uuid())
    .fetch_all(pool)
    .await?;
    rows.iter().map(connection_from_row).collect()
}

/// Replace a connection's credentials if they are still the ones the caller
/// read (`previous`): a token refresh and a key rotation racing each other
/// must not overwrite the newer tokens with a re-sealed older copy.
pub(crate) async fn replace_credentials(
    pool: &Pool,
    tenant: TenantId,
    id: ConnectionId,
    previous: Option<&shelfsync_core::vault::Sealed>,
    sealed: &shelfsync_core::vault::Sealed,
    token_expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let result = match previous {
        Some(previous) => {
            sqlx::query(
                "UPDATE platform_connections SET credentials_key_id = $1, credentials_nonce = $2, credentials = $3, \
                 token_expires_at = $4, updated_at = $5 \
                 WHERE id = $6 AND tenant_id = $7 AND credentials_key_id = $8 AND credentials_nonce = $9",
            )
            .bind(&sealed.key_id)
            .bind(&sealed.nonce)
            .bind(&sealed.ciphertext)
            .bind(token_expires_at)
            .bind(now)
            .bind(id.as_uuid())
            .bind(tenant.as_uuid())
            .bind(&previous.key_id)
            .bind(&previous.nonce)
            .execute(pool)
            .await?
        }
        None => {
            sqlx::query(
                "UPDATE platform_connections SET credentials_key_id = $1, credentials_nonce = $2, credentials = $3, \
                 token_expires_at = $4, updated_at = $5, status = 'active' \
                 WHERE id = $6 AND tenant_id = $7 AND credentials IS NULL",
            )
            .bind(&sealed.key_id)
            .bind(&sealed.nonce)
            .bind(&sealed.ciphertext)
            .bind(token_expires_at)
            .bind(now)
            .bind(id.as_uuid())
            .bind(tenant.as_uuid())
            .execute(pool)
            .await?
        }
    };
    Ok(result.rows_affected() == 1)
}

/// Forget a connection's credentials and mark it disconnected.
pub(crate) async fn disconnect_connection(
    pool: &Pool,
    tenant: TenantId,
    id: ConnectionId,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let result = sqlx::query(
        "UPDATE platform_connections SET status = 'disconnected', credentials_key_id = NULL, \
         credentials_nonce = NULL, credentials = NULL, token_expires_at = NULL, updated_at = $1 \
         WHERE id = $2 AND tenant_id = $3",
    )
    .bind(now)
    .bind(id.as_uuid())
    .bind(tenant.as_uuid())
    .execute(pool)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Credentials sealed under any key but `current_key_id`, oldest first:
/// the work list of a key rotation. Crosses tenants by design (it is the
/// operator's command); each row carries its tenant for the re-seal.
pub(crate) async fn stale_credentials(
    pool: &Pool,
    current_key_id: &str,
    limit: i64,
) -> StoreResult<Vec<StaleCredentials>> {
    let rows = sqlx::query(
        "SELECT id, tenant_id, credentials_key_id, credentials_nonce, credentials FROM platform_connections \
         WHERE credentials IS NOT NULL AND credentials_key_id <> $1 ORDER BY id LIMIT $2",
    )
    .bind(current_key_id)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            let sealed = sealed_from(
                row.try_get("credentials_key_id")?,
                row.try_get("credentials_nonce")?,
                row.try_get("credentials")?,
            )
            .ok_or_else(|| StoreError::Corrupt("credentials without key id or nonce".into()))?;
            Ok(StaleCredentials {
                id: ConnectionId::from_uuid(row.try_get("id")?),
                tenant: TenantId::from_uuid(row.try_get("tenant_id")?),
                sealed,
            })
        })
        .collect()
}

/// Count of stored credentials per key id.
pub(crate) async fn credentials_by_key(pool: &Pool) -> StoreResult<Vec<(String, i64)>> {
    let rows = sqlx::query(
        "SELECT credentials_key_id, COUNT(*) AS n FROM platform_connections \
         WHERE credentials IS NOT NULL GROUP BY credentials_key_id ORDER BY credentials_key_id",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("credentials_key_id")?, row.try_get("n")?)))
        .collect()
}

pub(crate) async fn insert_oauth_state(
    pool: &Pool,
    state_hash: &[u8],
    state: &OAuthState,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    // Expired installs are swept on the way in, so the table stays small
    // without a job of its own.
    sqlx::query("DELETE FROM oauth_states WHERE expires_at < $1")
        .bind(now)
        .execute(pool)
        .await?;
    sqlx::query(
        "INSERT INTO oauth_states (state_hash, tenant_id, platform, name, account, redirect_uri, pkce_verifier, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(state_hash)
    .bind(state.tenant.as_uuid())
    .bind(&state.platform)
    .bind(&state.name)
    .bind(&state.account)
    .bind(&state.redirect_uri)
    .bind(&state.pkce_verifier)
    .bind(now)
    .bind(state.expires_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// Take an install's state: deleted in the same statement, so a state works
/// once; `None` when unknown, used or expired.
pub(crate) async fn take_oauth_state(
    pool: &Pool,
    state_hash: &[u8],
    now: DateTime<Utc>,
) -> StoreResult<Option<OAuthState>> {
    let row = sqlx::query(
        "DELETE FROM oauth_states WHERE state_hash = $1 \
         RETURNING tenant_id, platform, name, account, redirect_uri, pkce_verifier, expires_at",
    )
    .bind(state_hash)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let state = OAuthState {
        tenant: TenantId::from_uuid(row.try_get("tenant_id")?),
        platform: row.try_get("platform")?,
        name: row.try_get("name")?,
        account: row.try_get("account")?,
        redirect_uri: row.try_get("redirect_uri")?,
        pkce_verifier: row.try_get("pkce_verifier")?,
        expires_at: row.try_get("expires_at")?,
    };
    Ok((state.expires_at > now).then_some(state))
}

/// Add calls to the per-minute rows (summing into rows already there).
pub(crate) async fn add_usage(pool: &Pool, deltas: &[UsageDelta]) -> StoreResult<()> {
    if deltas.is_empty() {
        return Ok(());
    }
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    for d in deltas {
        // A connection deleted meanwhile has nothing left to track.
        sqlx::query(
            "INSERT INTO rate_limit_tracking (tenant_id, connection_id, window_start, calls, cost_used, throttled, quota_limit) \
             SELECT $1, $2, $3, $4, $5, $6, $7 WHERE EXISTS (SELECT 1 FROM platform_connections WHERE id = $2) \
             ON CONFLICT (connection_id, window_start) DO UPDATE SET calls = rate_limit_tracking.calls + excluded.calls, \
             cost_used = rate_limit_tracking.cost_used + excluded.cost_used, \
             throttled = rate_limit_tracking.throttled + excluded.throttled, \
             quota_limit = COALESCE(excluded.quota_limit, rate_limit_tracking.quota_limit)",
        )
        .bind(d.tenant.as_uuid())
        .bind(d.connection.as_uuid())
        .bind(d.window_start)
        .bind(d.calls)
        .bind(d.cost_used)
        .bind(d.throttled)
        .bind(d.quota_limit)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn usage_since(
    pool: &Pool,
    tenant: TenantId,
    connection: ConnectionId,
    since: DateTime<Utc>,
) -> StoreResult<Vec<UsageRecord>> {
    let rows = sqlx::query(
        "SELECT connection_id, window_start, calls, cost_used, throttled, quota_limit FROM rate_limit_tracking \
         WHERE tenant_id = $1 AND connection_id = $2 AND window_start >= $3 ORDER BY window_start",
    )
    .bind(tenant.as_uuid())
    .bind(connection.as_uuid())
    .bind(since)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(UsageRecord {
                connection: ConnectionId::from_uuid(row.try_get("connection_id")?),
                window_start: row.try_get("window_start")?,
                calls: row.try_get("calls")?,
                cost_used: row.try_get("cost_used")?,
                throttled: row.try_get("throttled")?,
                quota_limit: row.try_get("quota_limit")?,
            })
        })
        .collect()
}

/// Raise an alert unless one of the same kind and subject is still open.
/// Returns whether a new alert was stored.
pub(crate) async fn raise_alert(
    pool: &Pool,
    alert: &NewAlert,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let result = sqlx::query(
        "INSERT INTO alerts (id, tenant_id, kind, severity, subject, message, detail, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (kind, subject) WHERE resolved_at IS NULL DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(alert.tenant.map(|t| t.as_uuid()))
    .bind(&alert.kind)
    .bind(&alert.severity)
    .bind(&alert.subject)
    .bind(&alert.message)
    .bind(Json(&alert.detail))
    .bind(now)
    .execute(pool)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Close the open alert of this kind and subject, if any.
pub(crate) async fn resolve_alert(
    pool: &Pool,
    kind: &str,
    subject: &str,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let result = sqlx::query(
        "UPDATE alerts SET resolved_at = $1 WHERE kind = $2 AND subject = $3 AND resolved_at IS NULL",
    )
    .bind(now)
    .bind(kind)
    .bind(subject)
    .execute(pool)
    .await?;
    Ok(result.rows_affected() == 1)
}

pub(crate) async fn list_alerts(
    pool: &Pool,
    tenant: TenantId,
    limit: i64,
) -> StoreResult<Vec<AlertRecord>> {
    let rows = sqlx::query(
        "SELECT id, kind, severity, subject, message, detail, created_at, resolved_at FROM alerts \
         WHERE tenant_id = $1 ORDER BY created_at DESC LIMIT $2",
    )
    .bind(tenant.as_uuid())
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            let detail: Json<serde_json::Value> = row.try_get("detail")?;
            Ok(AlertRecord {
                id: row.try_get("id")?,
                kind: row.try_get("kind")?,
                severity: row.try_get("severity")?,
                subject: row.try_get("subject")?,
                message: row.try_get("message")?,
                detail: detail.0,
                created_at: row.try_get("created_at")?,
                resolved_at: row.try_get("resolved_at")?,
            })
        })
        .collect()
}

/// Renames a connection or replaces its settings (location, marketplace,
/// a plan's quota). Returns the row as stored after the change.
pub(crate) async fn update_connection(
    pool: &Pool,
    tenant: TenantId,
    id: ConnectionId,
    name: Option<&str>,
    settings: Option<&serde_json::Value>,
    now: DateTime<Utc>,
) -> StoreResult<ConnectionRecord> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    let done = sqlx::query(
        "UPDATE platform_connections SET name = COALESCE($1, name), \
         settings = COALESCE($2, settings), updated_at = $3 WHERE id = $4 AND tenant_id = $5",
    )
    .bind(name)
    .bind(settings.map(Json))
    .bind(now)
    .bind(id.as_uuid())
    .bind(tenant.as_uuid())
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    tx.commit().await?;
    get_connection(pool, tenant, id)
        .await?
        .ok_or(StoreError::NotFound)
}
