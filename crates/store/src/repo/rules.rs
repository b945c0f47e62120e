// Sync rules: CRUD for the API and the ordered, in-scope list the sync worker
// applies. Conditions and actions are stored as JSON (JSONB on PostgreSQL) in
// the core's serde shape. Every write is audited in its own transaction.
// Compiled once per backend: see `backend.rs`.

const RULE_COLUMNS: &str = "id, connection_id, platform, name, priority, condition, actions, enabled, created_at, updated_at";

fn rule_from_row(row: &<DB as sqlx::Database>::Row) -> StoreResult<RuleRecord> {
    let id = RuleId::from_uuid(row.try_get("id")?);
    let platform: Option<String> = row.try_get("platform")?;
    let platform = platform
        .map(|p| {
            p.parse::<Platform>()
                .map_err(|_| StoreError::Corrupt(format!("rule {id} platform `{p}`")))
        })
        .transpose()?;
    let condition: Json<serde_json::Value> = row.try_get("condition")?;
    let actions: Json<serde_json::Value> = row.try_get("actions")?;
    let connection: Option<Uuid> = row.try_get("connection_id")?;
    Ok(RuleRecord {
        rule: Rule {
            id,
            name: row.try_get("name")?,
            priority: row.try_get("priority")?,
            scope: RuleScope {
                connection: connection.map(ConnectionId::from_uuid),
                platform,
            },
            condition: serde_json::from_value(condition.0)
                .map_err(|e| StoreError::Corrupt(format!("rule {id} condition: {e}")))?,
            actions: serde_json::from_value(actions.0)
                .map_err(|e| StoreError::Corrupt(format!("rule {id} actions: {e}")))?,
            enabled: row.try_get("enabled")?,
        },
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn rule_json(record: &RuleRecord) -> serde_json::Value {
    serde_json::to_value(record).unwrap_or(serde_json::Value::Null)
}

/// Validates the input, and checks a named connection is the tenant's own and
/// fits the named platform: a rule scoped to nothing that exists would silently
/// never apply.
async fn check_rule_input(tx: &mut Conn, tenant: TenantId, input: &RuleInput) -> StoreResult<()> {
    input.validate().map_err(StoreError::Invalid)?;
    if let Some(connection) = input.connection_id {
        let platform: Option<String> = sqlx::query_scalar(
            "SELECT platform FROM platform_connections WHERE id = $1 AND tenant_id = $2",
        )
        .bind(connection.as_uuid())
        .bind(tenant.as_uuid())
        .fetch_optional(&mut *tx)
        .await?;
        match (platform, input.platform) {
            (None, _) => return Err(StoreError::invalid("connection_id", "unknown connection")),
            (Some(found), Some(wanted)) if found != wanted.as_str() => {
                return Err(StoreError::invalid(
                    "platform",
                    format!("the connection is a {found} connection, not {wanted}"),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

async fn load_rule(tx: &mut Conn, tenant: TenantId, id: RuleId) -> StoreResult<RuleRecord> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {RULE_COLUMNS} FROM sync_rules WHERE tenant_id = $1 AND id = $2{LOCK_ROW}"
    )))
    .bind(tenant.as_uuid())
    .bind(id.as_uuid())
    .fetch_optional(&mut *tx)
    .await?;
    row.as_ref()
        .map(rule_from_row)
        .transpose()?
        .ok_or(StoreError::NotFound)
}

pub(crate) async fn create_rule(
    pool: &Pool,
    ctx: &WriteContext,
    input: &RuleInput,
    now: DateTime<Utc>,
) -> StoreResult<RuleRecord> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    check_rule_input(&mut tx, ctx.tenant, input).await?;
    let rule = input.clone().into_rule(RuleId::new());
    sqlx::query(
        "INSERT INTO sync_rules (id, tenant_id, connection_id, platform, name, priority, condition, actions, \
         enabled, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
    )
    .bind(rule.id.as_uuid())
    .bind(ctx.tenant.as_uuid())
    .bind(rule.scope.connection.map(|c| c.as_uuid()))
    .bind(rule.scope.platform.map(Platform::as_str))
    .bind(&rule.name)
    .bind(rule.priority)
    .bind(Json(&rule.condition))
    .bind(Json(&rule.actions))
    .bind(rule.enabled)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let record = load_rule(&mut tx, ctx.tenant, rule.id).await?;
    let key = rule.id.to_string();
    write_audit(
        &mut tx,
        ctx,
        "rule.create",
        "rule",
        &key,
        None,
        Some(rule_json(&record)),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(record)
}

pub(crate) async fn get_rule(pool: &Pool, tenant: TenantId, id: RuleId) -> StoreResult<RuleRecord> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {RULE_COLUMNS} FROM sync_rules WHERE tenant_id = $1 AND id = $2"
    )))
    .bind(tenant.as_uuid())
    .bind(id.as_uuid())
    .fetch_optional(pool)
    .await?;
    row.as_ref()
        .map(rule_from_row)
        .transpose()?
        .ok_or(StoreError::NotFound)
}

pub(crate) async fn list_rules(pool: &Pool, tenant: TenantId) -> StoreResult<Vec<RuleRecord>> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {RULE_COLUMNS} FROM sync_rules WHERE tenant_id = $1 ORDER BY priority, id"
    )))
    .bind(tenant.as_uuid())
    .fetch_all(pool)
    .await?;
    rows.iter().map(rule_from_row).collect()
}

/// The enabled rules that apply to one connection, in the order they run.
pub(crate) async fn rules_for(
    pool: &Pool,
    tenant: TenantId,
    connection: ConnectionId,
    platform: Platform,
) -> StoreResult<Vec<Rule>> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {RULE_COLUMNS} FROM sync_rules WHERE tenant_id = $1 AND enabled = TRUE \
         AND (connection_id IS NULL OR connection_id = $2) AND (platform IS NULL OR platform = $3) \
         ORDER BY priority, id"
    )))
    .bind(tenant.as_uuid())
    .bind(connection.as_uuid())
    .bind(platform.as_str())
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| rule_from_row(row).map(|r| r.rule))
        .collect()
}

/// Replaces every field of a rule but its id and creation time.
pub(crate) async fn update_rule(
    pool: &Pool,
    ctx: &WriteContext,
    id: RuleId,
    input: &RuleInput,
    now: DateTime<Utc>,
) -> StoreResult<RuleRecord> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    let before = load_rule(&mut tx, ctx.tenant, id).await?;
    check_rule_input(&mut tx, ctx.tenant, input).await?;
    let rule = input.clone().into_rule(id);
    sqlx::query(
        "UPDATE sync_rules SET connection_id = $1, platform = $2, name = $3, priority = $4, condition = $5, \
         actions = $6, enabled = $7, updated_at = $8 WHERE tenant_id = $9 AND id = $10",
    )
    .bind(rule.scope.connection.map(|c| c.as_uuid()))
    .bind(rule.scope.platform.map(Platform::as_str))
    .bind(&rule.name)
    .bind(rule.priority)
    .bind(Json(&rule.condition))
    .bind(Json(&rule.actions))
    .bind(rule.enabled)
    .bind(now)
    .bind(ctx.tenant.as_uuid())
    .bind(id.as_uuid())
    .execute(&mut *tx)
    .await?;
    let after = load_rule(&mut tx, ctx.tenant, id).await?;
    write_audit(
        &mut tx,
        ctx,
        "rule.update",
        "rule",
        &id.to_string(),
        Some(rule_json(&before)),
        Some(rule_json(&after)),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

pub(crate) async fn delete_rule(
    pool: &Pool,
    ctx: &WriteContext,
    id: RuleId,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    let before = load_rule(&mut tx, ctx.tenant, id).await?;
    sqlx::query("DELETE FROM sync_rules WHERE tenant_id = $1 AND id = $2")
        .bind(ctx.tenant.as_uuid())
        .bind(id.as_uuid())
        .execute(&mut *tx)
        .await?;
    write_audit(
        &mut tx,
        ctx,
        "rule.delete",
        "rule",
        &id.to_string(),
        Some(rule_json(&before)),
        None,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
