// Tenants, users and API keys. Compiled once per backend: see `backend.rs`.

pub async fn create_tenant(
    pool: &Pool,
    name: &str,
    external_ref: Option<&str>,
    now: DateTime<Utc>,
) -> StoreResult<TenantId> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    let id = insert_tenant(&mut tx, name, external_ref, now).await?;
    tx.commit().await?;
    Ok(id)
}

async fn insert_tenant(
    tx: &mut Conn,
    name: &str,
    external_ref: Option<&str>,
    now: DateTime<Utc>,
) -> StoreResult<TenantId> {
    let id = TenantId::new();
    sqlx::query("INSERT INTO tenants (id, name, external_ref, created_at) VALUES ($1, $2, $3, $4)")
        .bind(id.as_uuid())
        .bind(name)
        .bind(external_ref)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    default_location(tx, id, now).await?;
    Ok(id)
}

pub async fn tenant_by_external_ref(
    pool: &Pool,
    external_ref: &str,
) -> StoreResult<Option<TenantId>> {
    let id: Option<Uuid> = sqlx::query_scalar("SELECT id FROM tenants WHERE external_ref = $1")
        .bind(external_ref)
        .fetch_optional(pool)
        .await?;
    Ok(id.map(TenantId::from_uuid))
}

/// The tenant a Clerk user acts for: their organisation's when the session has
/// one, else their own. Both are created on first sight.
pub async fn user_for_session(
    pool: &Pool,
    external_user: &str,
    email: Option<&str>,
    organisation: Option<&str>,
    now: DateTime<Utc>,
) -> StoreResult<UserOwner> {
    let tenant_ref = organisation.unwrap_or(external_user);
    let found = sqlx::query("SELECT u.id AS user_id, t.id AS tenant_id FROM users u JOIN tenants t ON t.external_ref = $2 WHERE u.external_id = $1 AND u.tenant_id = t.id")
        .bind(external_user)
        .bind(tenant_ref)
        .fetch_optional(pool)
        .await?;
    if let Some(row) = found {
        return Ok(UserOwner {
            user: UserId::from_uuid(row.try_get("user_id")?),
            tenant: TenantId::from_uuid(row.try_get("tenant_id")?),
        });
    }
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    let tenant =
        match sqlx::query_scalar::<_, Uuid>("SELECT id FROM tenants WHERE external_ref = $1")
            .bind(tenant_ref)
            .fetch_optional(&mut *tx)
            .await?
        {
            Some(t) => TenantId::from_uuid(t),
            None => {
                insert_tenant(&mut tx, email.unwrap_or(tenant_ref), Some(tenant_ref), now).await?
            }
        };
    let user = UserId::new();
    // A user moving between organisations keeps one row, pointed at the current tenant.
    sqlx::query(
        "INSERT INTO users (id, tenant_id, external_id, email, role, created_at) VALUES ($1, $2, $3, $4, 'admin', $5) \
         ON CONFLICT (external_id) DO UPDATE SET tenant_id = excluded.tenant_id, email = COALESCE(excluded.email, users.email)",
    )
    .bind(user.as_uuid())
    .bind(tenant.as_uuid())
    .bind(external_user)
    .bind(email)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let user: Uuid = sqlx::query_scalar("SELECT id FROM users WHERE external_id = $1")
        .bind(external_user)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(UserOwner {
        user: UserId::from_uuid(user),
        tenant,
    })
}

pub async fn insert_api_key(
    pool: &Pool,
    ctx: &WriteContext,
    name: &str,
    prefix: &str,
    key_hash: &[u8],
    now: DateTime<Utc>,
) -> StoreResult<ApiKeyRecord> {
    let id = ApiKeyId::new();
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    sqlx::query("INSERT INTO api_keys (id, tenant_id, name, prefix, key_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(id.as_uuid())
        .bind(ctx.tenant.as_uuid())
        .bind(name)
        .bind(prefix)
        .bind(key_hash)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let record = ApiKeyRecord {
        id,
        name: name.to_string(),
        prefix: prefix.to_string(),
        created_at: now,
        last_used_at: None,
        revoked_at: None,
    };
    write_audit(
        &mut tx,
        ctx,
        "api_key.create",
        "api_key",
        &id.to_string(),
        None,
        Some(serde_json::to_value(&record).unwrap_or_default()),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(record)
}

fn api_key_from_row(row: &<DB as sqlx::Database>::Row) -> StoreResult<ApiKeyRecord> {
    Ok(ApiKeyRecord {
        id: ApiKeyId::from_uuid(row.try_get("id")?),
        name: row.try_get("name")?,
        prefix: row.try_get("prefix")?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

pub async fn list_api_keys(pool: &Pool, tenant: TenantId) -> StoreResult<Vec<ApiKeyRecord>> {
    let rows = sqlx::query(
        "SELECT id, name, prefix, created_at, last_used_at, revoked_at FROM api_keys WHERE tenant_id = $1 ORDER BY id",
    )
    .bind(tenant.as_uuid())
    .fetch_all(pool)
    .await?;
    rows.iter().map(api_key_from_row).collect()
}

/// Revokes a key at once: the next request presenting it is refused.
pub async fn revoke_api_key(
    pool: &Pool,
    ctx: &WriteContext,
    id: ApiKeyId,
    now: DateTime<Utc>,
) -> StoreResult<ApiKeyRecord> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    let updated = sqlx::query("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE tenant_id = $2 AND id = $3")
        .bind(now)
        .bind(ctx.tenant.as_uuid())
        .bind(id.as_uuid())
        .execute(&mut *tx)
        .await?;
    if updated.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    let row = sqlx::query("SELECT id, name, prefix, created_at, last_used_at, revoked_at FROM api_keys WHERE tenant_id = $1 AND id = $2")
        .bind(ctx.tenant.as_uuid())
        .bind(id.as_uuid())
        .fetch_one(&mut *tx)
        .await?;
    let record = api_key_from_row(&row)?;
    write_audit(
        &mut tx,
        ctx,
        "api_key.revoke",
        "api_key",
        &id.to_string(),
        None,
        Some(serde_json::to_value(&record).unwrap_or_default()),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(record)
}

/// The live key with this hash. The hash is the index key, so the lookup itself
/// reveals nothing about near misses; callers still compare it in constant time.
pub async fn api_key_by_hash(pool: &Pool, key_hash: &[u8]) -> StoreResult<Option<ApiKeyOwner>> {
    let row = sqlx::query("SELECT id, tenant_id, key_hash, last_used_at FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL")
        .bind(key_hash)
        .fetch_optional(pool)
        .await?;
    row.map(|row| {
        Ok(ApiKeyOwner {
            key_id: ApiKeyId::from_uuid(row.try_get("id")?),
            tenant: TenantId::from_uuid(row.try_get("tenant_id")?),
            key_hash: row.try_get("key_hash")?,
            last_used_at: row.try_get("last_used_at")?,
        })
    })
    .transpose()
}

pub async fn touch_api_key(pool: &Pool, id: ApiKeyId, now: DateTime<Utc>) -> StoreResult<()> {
    sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id.as_uuid())
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn count_api_keys(pool: &Pool) -> StoreResult<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM api_keys")
        .fetch_one(pool)
        .await?)
}

const BOOTSTRAP_REF: &str = "shelfsync:bootstrap";

/// The embedded mode's default tenant, created on first use.
pub async fn ensure_default_tenant(pool: &Pool, now: DateTime<Utc>) -> StoreResult<TenantId> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    let tenant = default_tenant_in(&mut tx, now).await?;
    tx.commit().await?;
    Ok(tenant)
}

async fn default_tenant_in(tx: &mut Conn, now: DateTime<Utc>) -> StoreResult<TenantId> {
    match sqlx::query_scalar::<_, Uuid>("SELECT id FROM tenants WHERE external_ref = $1")
        .bind(BOOTSTRAP_REF)
        .fetch_optional(&mut *tx)
        .await?
    {
        Some(t) => Ok(TenantId::from_uuid(t)),
        None => insert_tenant(tx, "Default", Some(BOOTSTRAP_REF), now).await,
    }
}

/// Makes sure a key with this hash exists for the embedded mode's default tenant
/// (created if need be). Returns the tenant, and whether the key was new.
pub async fn ensure_bootstrap_key(
    pool: &Pool,
    prefix: &str,
    key_hash: &[u8],
    now: DateTime<Utc>,
) -> StoreResult<(TenantId, bool)> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    let tenant = default_tenant_in(&mut tx, now).await?;
    let exists: Option<Uuid> = sqlx::query_scalar("SELECT id FROM api_keys WHERE key_hash = $1")
        .bind(key_hash)
        .fetch_optional(&mut *tx)
        .await?;
    if exists.is_some() {
        tx.commit().await?;
        return Ok((tenant, false));
    }
    sqlx::query("INSERT INTO api_keys (id, tenant_id, name, prefix, key_hash, created_at) VALUES ($1, $2, 'bootstrap admin', $3, $4, $5)")
        .bind(Uuid::now_v7())
        .bind(tenant.as_uuid())
        .bind(prefix)
        .bind(key_hash)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok((tenant, true))
}

/// The embedded mode's default tenant, if the bootstrap has run.
pub async fn bootstrap_tenant(pool: &Pool) -> StoreResult<Option<TenantId>> {
    tenant_by_external_ref(pool, BOOTSTRAP_REF).await
}

/// The tenant created for a Clerk user or organisation, made if missing.
pub async fn ensure_tenant(
    pool: &Pool,
    external_ref: &str,
    name: &str,
    now: DateTime<Utc>,
) -> StoreResult<TenantId> {
    if let Some(found) = tenant_by_external_ref(pool, external_ref).await? {
        return Ok(found);
    }
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    // Another delivery may have made it since the read above.
    let raced: Option<Uuid> = sqlx::query_scalar("SELECT id FROM tenants WHERE external_ref = $1")
        .bind(external_ref)
        .fetch_optional(&mut *tx)
        .await?;
    let id = match raced {
        Some(id) => TenantId::from_uuid(id),
        None => insert_tenant(&mut tx, name, Some(external_ref), now).await?,
    };
    tx.commit().await?;
    Ok(id)
}

/// Removes the tenant made for a Clerk user or organisation, with
/// everything it owns. Whether there was one.
pub async fn delete_tenant_by_external_ref(pool: &Pool, external_ref: &str) -> StoreResult<bool> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    let id: Option<Uuid> = sqlx::query_scalar("SELECT id FROM tenants WHERE external_ref = $1")
        .bind(external_ref)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(id) = id else {
        return Ok(false);
    };
    // Rows kept without a foreign key (history, audit, events, jobs) go too.
    for table in [
        "inventory_history",
        "audit_log",
        "outbox_events",
        "jobs",
        "webhook_logs",
        "sync_logs",
        "product_conflicts",
        "idempotency_keys",
        "platform_listings",
        "channel_writes",
        "rate_limit_tracking",
    ] {
        sqlx::query(AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE tenant_id = $1"
        )))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query("DELETE FROM tenants WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}

/// Removes a Clerk user's row (their API keys go with it). Whether there was one.
pub async fn delete_user_by_external_id(pool: &Pool, external_id: &str) -> StoreResult<bool> {
    Ok(sqlx::query("DELETE FROM users WHERE external_id = $1")
        .bind(external_id)
        .execute(pool)
        .await?
        .rows_affected()
        > 0)
}

/// Takes a Clerk user out of an organisation's tenant: their row goes if it
/// points there (a user acts for one tenant at a time). Whether it did.
pub async fn remove_membership(
    pool: &Pool,
    external_user: &str,
    organisation: &str,
) -> StoreResult<bool> {
    Ok(sqlx::query(
        "DELETE FROM users WHERE external_id = $1 AND tenant_id IN (SELECT id FROM tenants WHERE external_ref = $2)",
    )
    .bind(external_user)
    .bind(organisation)
    .execute(pool)
    .await?
    .rows_affected()
        > 0)
}
