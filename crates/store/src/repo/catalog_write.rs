// Changing the catalog. Each public function is one transaction that also writes
// the audit trail and the outbox event announcing the change.
// Compiled once per backend: see `backend.rs`.

fn to_json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

async fn handle_taken(
    tx: &mut Conn,
    tenant: TenantId,
    handle: &str,
    except: Option<Uuid>,
) -> StoreResult<bool> {
    let owner: Option<Uuid> =
        sqlx::query_scalar("SELECT id FROM products WHERE tenant_id = $1 AND handle = $2")
            .bind(tenant.as_uuid())
            .bind(handle)
            .fetch_optional(&mut *tx)
            .await?;
    Ok(owner.is_some_and(|o| Some(o) != except))
}

/// The first free handle among `base`, `base-2`, `base-3`…
async fn free_handle(tx: &mut Conn, tenant: TenantId, base: &str) -> StoreResult<String> {
    let mut candidate = base.to_string();
    let mut n = 2;
    while handle_taken(tx, tenant, &candidate, None).await? {
        candidate = format!("{base}-{n}");
        n += 1;
    }
    Ok(candidate)
}

/// SKUs from `skus` that some product other than `except` already uses.
async fn skus_in_use(
    tx: &mut Conn,
    tenant: TenantId,
    skus: &[&str],
    except: Option<Uuid>,
) -> StoreResult<Vec<String>> {
    if skus.is_empty() {
        return Ok(Vec::new());
    }
    let mut qb =
        QueryBuilder::<DB>::new("SELECT sku, product_id FROM product_variants WHERE tenant_id = ");
    qb.push_bind(tenant.as_uuid()).push(" AND sku IN (");
    let mut sep = qb.separated(", ");
    for s in skus {
        sep.push_bind(s.to_string());
    }
    sep.push_unseparated(")");
    let rows = qb.build().fetch_all(&mut *tx).await?;
    let mut taken = Vec::new();
    for row in rows {
        let pid: Uuid = row.try_get("product_id")?;
        if Some(pid) != except {
            taken.push(row.try_get::<String, _>("sku")?);
        }
    }
    taken.sort();
    Ok(taken)
}

async fn replace_tags(
    tx: &mut Conn,
    tenant: TenantId,
    product: Uuid,
    tags: &[String],
) -> StoreResult<()> {
    sqlx::query("DELETE FROM product_tags WHERE product_id = $1")
        .bind(product)
        .execute(&mut *tx)
        .await?;
    insert_tags(tx, tenant, product, tags).await
}

/// Tags for a product that has none yet.
async fn insert_tags(
    tx: &mut Conn,
    tenant: TenantId,
    product: Uuid,
    tags: &[String],
) -> StoreResult<()> {
    if tags.is_empty() {
        return Ok(());
    }
    let mut qb =
        QueryBuilder::<DB>::new("INSERT INTO product_tags (tenant_id, product_id, tag, position) ");
    qb.push_values(tags.iter().enumerate(), |mut b, (i, tag)| {
        b.push_bind(tenant.as_uuid())
            .push_bind(product)
            .push_bind(tag.clone())
            .push_bind(i as i32);
    });
    qb.build().execute(&mut *tx).await?;
    Ok(())
}

/// Records a stock movement and sets the level. `current` is the level before.
#[allow(clippy::too_many_arguments)]
async fn write_stock(
    tx: &mut Conn,
    ctx: &WriteContext,
    variant: Uuid,
    location: Uuid,
    current: i64,
    next: i64,
    reason: &str,
    reference: Option<&str>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO inventory_levels (tenant_id, variant_id, location_id, available, updated_at) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (variant_id, location_id) DO UPDATE SET available = excluded.available, updated_at = excluded.updated_at",
    )
    .bind(ctx.tenant.as_uuid())
    .bind(variant)
    .bind(location)
    .bind(next)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if next != current {
        sqlx::query(
            "INSERT INTO inventory_history (id, tenant_id, variant_id, location_id, delta, available_after, reason, reference, actor, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(Uuid::now_v7())
        .bind(ctx.tenant.as_uuid())
        .bind(variant)
        .bind(location)
        .bind(next - current)
        .bind(next)
        .bind(reason)
        .bind(reference.or(ctx.request_id.as_deref()))
        .bind(&ctx.actor)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

async fn insert_variants(
    tx: &mut Conn,
    ctx: &WriteContext,
    location: Uuid,
    product: Uuid,
    first_position: i32,
    variants: &[VariantInput],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    if variants.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = variants.iter().map(|_| Uuid::now_v7()).collect();
    let mut qb = QueryBuilder::<DB>::new(
        "INSERT INTO product_variants (id, tenant_id, product_id, sku, barcode, title, options, price, \
         compare_at_price, currency, weight_grams, position, created_at, updated_at) ",
    );
    qb.push_values(
        variants.iter().zip(&ids).enumerate(),
        |mut b, (i, (v, id))| {
            b.push_bind(*id)
                .push_bind(ctx.tenant.as_uuid())
                .push_bind(product)
                .push_bind(v.sku.clone())
                .push_bind(v.barcode.clone())
                .push_bind(variant_title(&v.options))
                .push_bind(Json(v.options.clone()))
                .push_bind(dec_in(v.price.amount()))
                .push_bind(v.compare_at_price.map(|p| dec_in(p.amount())))
                .push_bind(v.currency.unwrap_or_default().to_string())
                .push_bind(v.weight_grams)
                .push_bind(first_position + i as i32)
                .push_bind(now)
                .push_bind(now);
        },
    );
    qb.build()
        .execute(&mut *tx)
        .await
        .map_err(|e| sku_conflict(e, variants))?;
    // New variants have no stock rows yet: one multi-row insert for the levels
    // and one for the history, instead of two statements per variant.
    let mut levels = QueryBuilder::<DB>::new(
        "INSERT INTO inventory_levels (tenant_id, variant_id, location_id, available, updated_at) ",
    );
    levels.push_values(variants.iter().zip(&ids), |mut b, (v, id)| {
        b.push_bind(ctx.tenant.as_uuid())
            .push_bind(*id)
            .push_bind(location)
            .push_bind(v.inventory_quantity.unwrap_or(0))
            .push_bind(now);
    });
    levels.build().execute(&mut *tx).await?;
    let stocked: Vec<(&VariantInput, &Uuid)> = variants
        .iter()
        .zip(&ids)
        .filter(|(v, _)| v.inventory_quantity.unwrap_or(0) != 0)
        .collect();
    if !stocked.is_empty() {
        let mut history = QueryBuilder::<DB>::new(
            "INSERT INTO inventory_history (id, tenant_id, variant_id, location_id, delta, available_after, reason, reference, actor, created_at) ",
        );
        history.push_values(stocked, |mut b, (v, id)| {
            let quantity = v.inventory_quantity.unwrap_or(0);
            b.push_bind(Uuid::now_v7())
                .push_bind(ctx.tenant.as_uuid())
                .push_bind(*id)
                .push_bind(location)
                .push_bind(quantity)
                .push_bind(quantity)
                .push_bind("initial")
                .push_bind(ctx.request_id.clone())
                .push_bind(ctx.actor.clone())
                .push_bind(now);
        });
        history.build().execute(&mut *tx).await?;
    }
    Ok(())
}

fn sku_conflict(e: sqlx::Error, variants: &[VariantInput]) -> StoreError {
    if StoreError::is_unique_violation(&e) {
        let skus: Vec<_> = variants.iter().map(|v| v.sku.as_str()).collect();
        StoreError::Conflict(format!("a SKU among {} is already in use", skus.join(", ")))
    } else {
        e.into()
    }
}

/// Inserts a validated product; the caller owns the transaction.
/// `checked` says the caller has just found its SKUs and handle free in this
/// transaction (the bulk upsert's match), so they are not looked up twice;
/// the unique indexes remain the final guard either way.
async fn insert_product(
    tx: &mut Conn,
    ctx: &WriteContext,
    location: Uuid,
    input: &NewProduct,
    checked: bool,
    now: DateTime<Utc>,
) -> StoreResult<Uuid> {
    if !checked {
        let skus: Vec<&str> = input.variants.iter().map(|v| v.sku.as_str()).collect();
        let taken = skus_in_use(tx, ctx.tenant, &skus, None).await?;
        if !taken.is_empty() {
            return Err(StoreError::Conflict(format!(
                "SKU already in use: {}",
                taken.join(", ")
            )));
        }
    }
    let handle = match &input.handle {
        Some(h) if !checked && handle_taken(tx, ctx.tenant, h, None).await? => {
            return Err(StoreError::Conflict(format!(
                "handle `{h}` is already in use"
            )));
        }
        Some(h) => h.clone(),
        None => free_handle(tx, ctx.tenant, &handleize(&input.title)).await?,
    };
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO products (id, tenant_id, handle, title, description, vendor, product_type, status, images, options, version, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11, $12)",
    )
    .bind(id)
    .bind(ctx.tenant.as_uuid())
    .bind(&handle)
    .bind(input.title.trim())
    .bind(&input.description)
    .bind(&input.vendor)
    .bind(&input.product_type)
    .bind(input.status.as_str())
    .bind(Json(&input.images))
    .bind(Json(&input.options))
    .bind(now)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(|e| {
        if StoreError::is_unique_violation(&e) {
            StoreError::Conflict(format!("handle `{handle}` is already in use"))
        } else {
            e.into()
        }
    })?;
    insert_tags(tx, ctx.tenant, id, &input.normalised_tags()).await?;
    insert_variants(tx, ctx, location, id, 0, &input.variants, now).await?;
    Ok(id)
}

async fn announce(
    tx: &mut Conn,
    ctx: &WriteContext,
    action: &str,
    kind: &str,
    product: &Product,
    before: Option<&Product>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let id = product.id.to_string();
    write_audit(
        tx,
        ctx,
        action,
        "product",
        &id,
        before.map(to_json),
        Some(to_json(product)),
        now,
    )
    .await?;
    write_outbox(
        tx,
        ctx.tenant,
        kind,
        "product",
        &id,
        serde_json::json!({ "version": product.version }),
        now,
    )
    .await
}

pub async fn create_product(
    pool: &Pool,
    ctx: &WriteContext,
    input: &NewProduct,
    now: DateTime<Utc>,
) -> StoreResult<Product> {
    input.validate().map_err(StoreError::Invalid)?;
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    let location = default_location(&mut tx, ctx.tenant, now).await?;
    let id = insert_product(&mut tx, ctx, location, input, false, now).await?;
    let product = load_product(&mut tx, ctx.tenant, id)
        .await?
        .ok_or(StoreError::NotFound)?;
    announce(
        &mut tx,
        ctx,
        "product.create",
        "product.created",
        &product,
        None,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(product)
}

/// Serialises concurrent writers of one product (PostgreSQL row lock; SQLite's
/// `BEGIN IMMEDIATE` already does). Returns whether the product exists.
async fn lock_product(tx: &mut Conn, tenant: TenantId, product: Uuid) -> StoreResult<bool> {
    let sql = format!("SELECT id FROM products WHERE tenant_id = $1 AND id = $2{LOCK_ROW}");
    let found: Option<Uuid> = sqlx::query_scalar(AssertSqlSafe(sql))
        .bind(tenant.as_uuid())
        .bind(product)
        .fetch_optional(&mut *tx)
        .await?;
    Ok(found.is_some())
}

async fn bump_version(
    tx: &mut Conn,
    tenant: TenantId,
    product: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query("UPDATE products SET version = version + 1, updated_at = $1 WHERE tenant_id = $2 AND id = $3")
        .bind(now)
        .bind(tenant.as_uuid())
        .bind(product)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Applies a patch to a loaded product's own fields; the caller owns the transaction.
async fn update_product_fields(
    tx: &mut Conn,
    ctx: &WriteContext,
    before: &Product,
    patch: &ProductPatch,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let id = before.id.as_uuid();
    if let Some(h) = &patch.handle
        && h != &before.handle
        && handle_taken(tx, ctx.tenant, h, Some(id)).await?
    {
        return Err(StoreError::Conflict(format!(
            "handle `{h}` is already in use"
        )));
    }
    sqlx::query(
        "UPDATE products SET title = $1, handle = $2, description = $3, vendor = $4, product_type = $5, status = $6, \
         images = $7, options = $8, version = version + 1, updated_at = $9 WHERE tenant_id = $10 AND id = $11",
    )
    .bind(patch.title.as_deref().map(str::trim).unwrap_or(&before.title))
    .bind(patch.handle.as_ref().unwrap_or(&before.handle))
    .bind(patch.description.as_ref().or(before.description.as_ref()))
    .bind(patch.vendor.as_ref().or(before.vendor.as_ref()))
    .bind(patch.product_type.as_ref().or(before.product_type.as_ref()))
    .bind(patch.status.unwrap_or(before.status).as_str())
    .bind(Json(patch.images.as_ref().unwrap_or(&before.images)))
    .bind(Json(patch.options.as_ref().unwrap_or(&before.options)))
    .bind(now)
    .bind(ctx.tenant.as_uuid())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if let Some(tags) = &patch.tags {
        replace_tags(tx, ctx.tenant, id, &normalise_tags(tags)).await?;
    }
    Ok(())
}

pub async fn patch_product(
    pool: &Pool,
    ctx: &WriteContext,
    id: ProductId,
    patch: &ProductPatch,
    now: DateTime<Utc>,
) -> StoreResult<Product> {
    patch.validate().map_err(StoreError::Invalid)?;
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    lock_product(&mut tx, ctx.tenant, id.as_uuid()).await?;
    let before = load_product(&mut tx, ctx.tenant, id.as_uuid())
        .await?
        .ok_or(StoreError::NotFound)?;
    if patch.is_empty() {
        return Ok(before);
    }
    update_product_fields(&mut tx, ctx, &before, patch, now).await?;
    let after = load_product(&mut tx, ctx.tenant, id.as_uuid())
        .await?
        .ok_or(StoreError::NotFound)?;
    announce(
        &mut tx,
        ctx,
        "product.update",
        "product.updated",
        &after,
        Some(&before),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

pub async fn delete_product(
    pool: &Pool,
    ctx: &WriteContext,
    id: ProductId,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    lock_product(&mut tx, ctx.tenant, id.as_uuid()).await?;
    let before = load_product(&mut tx, ctx.tenant, id.as_uuid())
        .await?
        .ok_or(StoreError::NotFound)?;
    sqlx::query("DELETE FROM products WHERE tenant_id = $1 AND id = $2")
        .bind(ctx.tenant.as_uuid())
        .bind(id.as_uuid())
        .execute(&mut *tx)
        .await?;
    let key = id.to_string();
    write_audit(
        &mut tx,
        ctx,
        "product.delete",
        "product",
        &key,
        Some(to_json(&before)),
        None,
        now,
    )
    .await?;
    // Listings outlive the product; the event carries what the relay needs to delist them.
    let variants: Vec<_> = before
        .variants
        .iter()
        .map(|v| serde_json::json!({ "id": v.id, "sku": v.sku }))
        .collect();
    write_outbox(
        &mut tx,
        ctx.tenant,
        "product.deleted",
        "product",
        &key,
        serde_json::json!({ "variants": variants }),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn product_of_variant(
    tx: &mut Conn,
    tenant: TenantId,
    variant: VariantId,
) -> StoreResult<Uuid> {
    sqlx::query_scalar("SELECT product_id FROM product_variants WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_uuid())
        .bind(variant.as_uuid())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)
}

fn find_variant(product: Product, variant: VariantId) -> StoreResult<Variant> {
    product
        .variants
        .into_iter()
        .find(|v| v.id == variant)
        .ok_or(StoreError::NotFound)
}

pub async fn patch_variant(
    pool: &Pool,
    ctx: &WriteContext,
    variant: VariantId,
    patch: &VariantPatch,
    now: DateTime<Utc>,
) -> StoreResult<Variant> {
    patch.validate().map_err(StoreError::Invalid)?;
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    let product_id = product_of_variant(&mut tx, ctx.tenant, variant).await?;
    lock_product(&mut tx, ctx.tenant, product_id).await?;
    let before_product = load_product(&mut tx, ctx.tenant, product_id)
        .await?
        .ok_or(StoreError::NotFound)?;
    let before = find_variant(before_product, variant)?;
    if let Some(sku) = &patch.sku
        && sku != &before.sku
    {
        let taken = skus_in_use(&mut tx, ctx.tenant, &[sku.as_str()], None).await?;
        if !taken.is_empty() {
            return Err(StoreError::Conflict(format!("SKU already in use: {sku}")));
        }
    }
    let price = patch.price.unwrap_or(before.price);
    let compare_at = patch.compare_at_price.or(before.compare_at_price);
    if let Some(c) = compare_at
        && c.amount() < price.amount()
        && !c.amount().is_zero()
    {
        return Err(StoreError::invalid(
            "compare_at_price",
            "must not be below price",
        ));
    }
    let options = patch
        .options
        .clone()
        .unwrap_or_else(|| before.options.clone());
    sqlx::query(
        "UPDATE product_variants SET sku = $1, barcode = $2, title = $3, options = $4, price = $5, compare_at_price = $6, \
         currency = $7, weight_grams = $8, updated_at = $9 WHERE tenant_id = $10 AND id = $11",
    )
    .bind(patch.sku.as_ref().unwrap_or(&before.sku))
    .bind(patch.barcode.as_ref().or(before.barcode.as_ref()))
    .bind(variant_title(&options))
    .bind(Json(&options))
    .bind(dec_in(price.amount()))
    .bind(compare_at.map(|c| dec_in(c.amount())))
    .bind(patch.currency.unwrap_or(before.currency).to_string())
    .bind(patch.weight_grams.or(before.weight_grams))
    .bind(now)
    .bind(ctx.tenant.as_uuid())
    .bind(variant.as_uuid())
    .execute(&mut *tx)
    .await
    .map_err(|e| if StoreError::is_unique_violation(&e) { StoreError::Conflict("SKU already in use".into()) } else { e.into() })?;
    bump_version(&mut tx, ctx.tenant, product_id, now).await?;
    let after_product = load_product(&mut tx, ctx.tenant, product_id)
        .await?
        .ok_or(StoreError::NotFound)?;
    let version = after_product.version;
    let after = find_variant(after_product, variant)?;
    let key = variant.to_string();
    write_audit(
        &mut tx,
        ctx,
        "variant.update",
        "variant",
        &key,
        Some(to_json(&before)),
        Some(to_json(&after)),
        now,
    )
    .await?;
    write_outbox(
        &mut tx,
        ctx.tenant,
        "variant.updated",
        "variant",
        &key,
        serde_json::json!({ "product_id": after.product_id, "version": version }),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Locks and reads one stock level (0 when none is recorded yet).
async fn current_stock(
    tx: &mut Conn,
    ctx: &WriteContext,
    variant: Uuid,
    location: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<i64> {
    // Make sure the row exists so the lock below has something to hold.
    sqlx::query(
        "INSERT INTO inventory_levels (tenant_id, variant_id, location_id, available, updated_at) \
         VALUES ($1, $2, $3, 0, $4) ON CONFLICT (variant_id, location_id) DO NOTHING",
    )
    .bind(ctx.tenant.as_uuid())
    .bind(variant)
    .bind(location)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let sql = format!(
        "SELECT available FROM inventory_levels WHERE variant_id = $1 AND location_id = $2{LOCK_ROW}"
    );
    Ok(sqlx::query_scalar(AssertSqlSafe(sql))
        .bind(variant)
        .bind(location)
        .fetch_one(&mut *tx)
        .await?)
}

pub async fn change_inventory(
    pool: &Pool,
    ctx: &WriteContext,
    variant: VariantId,
    change: &InventoryChange,
    now: DateTime<Utc>,
) -> StoreResult<Variant> {
    let op = change.operation().map_err(StoreError::Invalid)?;
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    let product_id = product_of_variant(&mut tx, ctx.tenant, variant).await?;
    lock_product(&mut tx, ctx.tenant, product_id).await?;
    let location = match change.location_id {
        None => default_location(&mut tx, ctx.tenant, now).await?,
        Some(loc) => {
            let found: Option<Uuid> =
                sqlx::query_scalar("SELECT id FROM locations WHERE tenant_id = $1 AND id = $2")
                    .bind(ctx.tenant.as_uuid())
                    .bind(loc.as_uuid())
                    .fetch_optional(&mut *tx)
                    .await?;
            found.ok_or_else(|| StoreError::invalid("location_id", "no such location"))?
        }
    };
    let current = current_stock(&mut tx, ctx, variant.as_uuid(), location, now).await?;
    let next = op.apply(current).ok_or_else(|| {
        StoreError::invalid(
            "adjust",
            format!("would take stock below zero (available: {current})"),
        )
    })?;
    let reason = change.reason.as_deref().unwrap_or(match op {
        StockOperation::Set(_) => "set",
        StockOperation::Adjust(_) => "adjust",
    });
    write_stock(
        &mut tx,
        ctx,
        variant.as_uuid(),
        location,
        current,
        next,
        reason,
        None,
        now,
    )
    .await?;
    let key = variant.to_string();
    let location_id = LocationId::from_uuid(location);
    write_audit(
        &mut tx,
        ctx,
        "inventory.change",
        "variant",
        &key,
        Some(serde_json::json!({ "location_id": location_id, "available": current })),
        Some(serde_json::json!({ "location_id": location_id, "available": next })),
        now,
    )
    .await?;
    if next != current {
        stock_changed(
            &mut tx,
            ctx.tenant,
            ProductId::from_uuid(product_id),
            variant,
            location_id,
            next,
            now,
        )
        .await?;
    }
    let product = load_product(&mut tx, ctx.tenant, product_id)
        .await?
        .ok_or(StoreError::NotFound)?;
    tx.commit().await?;
    find_variant(product, variant)
}

/// Finds the product an upsert item refers to: by its SKUs, else by its handle.
async fn match_existing(
    tx: &mut Conn,
    tenant: TenantId,
    input: &NewProduct,
) -> StoreResult<Option<Uuid>> {
    let mut qb = QueryBuilder::<DB>::new(
        "SELECT DISTINCT product_id FROM product_variants WHERE tenant_id = ",
    );
    qb.push_bind(tenant.as_uuid()).push(" AND sku IN (");
    let mut sep = qb.separated(", ");
    for v in &input.variants {
        sep.push_bind(v.sku.clone());
    }
    sep.push_unseparated(")");
    let owners: Vec<Uuid> = qb.build_query_scalar().fetch_all(&mut *tx).await?;
    match owners.as_slice() {
        [one] => return Ok(Some(*one)),
        [] => {}
        _ => {
            return Err(StoreError::Conflict(
                "its SKUs belong to more than one existing product".into(),
            ));
        }
    }
    match &input.handle {
        Some(h) => Ok(sqlx::query_scalar(
            "SELECT id FROM products WHERE tenant_id = $1 AND handle = $2",
        )
        .bind(tenant.as_uuid())
        .bind(h)
        .fetch_optional(&mut *tx)
        .await?),
        None => Ok(None),
    }
}

fn differs<T: PartialEq + Clone>(new: &T, old: &T) -> Option<T> {
    (new != old).then(|| new.clone())
}

/// Brings an existing product in line with an upsert item. Returns whether anything changed.
async fn update_from_input(
    tx: &mut Conn,
    ctx: &WriteContext,
    location: Uuid,
    before: &Product,
    input: &NewProduct,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let tags = input.normalised_tags();
    let patch = ProductPatch {
        title: differs(&input.title.trim().to_string(), &before.title),
        handle: input
            .handle
            .as_ref()
            .and_then(|h| differs(h, &before.handle)),
        description: differs(&input.description, &before.description).flatten(),
        vendor: differs(&input.vendor, &before.vendor).flatten(),
        product_type: differs(&input.product_type, &before.product_type).flatten(),
        status: differs(&input.status, &before.status),
        tags: differs(&tags, &before.tags),
        images: differs(&input.images, &before.images),
        options: differs(&input.options, &before.options),
    };
    let mut changed = false;
    if !patch.is_empty() {
        update_product_fields(tx, ctx, before, &patch, now).await?;
        changed = true;
    }
    let mut new_variants = Vec::new();
    let mut variants_changed = false;
    for v in &input.variants {
        let Some(old) = before.variants.iter().find(|o| o.sku == v.sku) else {
            new_variants.push(v.clone());
            continue;
        };
        let currency = v.currency.unwrap_or(old.currency);
        if v.barcode != old.barcode
            || v.options != old.options
            || v.price != old.price
            || v.compare_at_price != old.compare_at_price
            || currency != old.currency
            || v.weight_grams != old.weight_grams
        {
            sqlx::query(
                "UPDATE product_variants SET barcode = $1, title = $2, options = $3, price = $4, compare_at_price = $5, \
                 currency = $6, weight_grams = $7, updated_at = $8 WHERE tenant_id = $9 AND id = $10",
            )
            .bind(&v.barcode)
            .bind(variant_title(&v.options))
            .bind(Json(&v.options))
            .bind(dec_in(v.price.amount()))
            .bind(v.compare_at_price.map(|c| dec_in(c.amount())))
            .bind(currency.to_string())
            .bind(v.weight_grams)
            .bind(now)
            .bind(ctx.tenant.as_uuid())
            .bind(old.id.as_uuid())
            .execute(&mut *tx)
            .await?;
            variants_changed = true;
        }
        if let Some(q) = v.inventory_quantity {
            let current = old
                .inventory
                .iter()
                .find(|l| l.location_id.as_uuid() == location)
                .map_or(0, |l| l.available);
            if q != current {
                write_stock(
                    tx,
                    ctx,
                    old.id.as_uuid(),
                    location,
                    current,
                    q,
                    "bulk upsert",
                    None,
                    now,
                )
                .await?;
                stock_changed(
                    tx,
                    ctx.tenant,
                    before.id,
                    old.id,
                    LocationId::from_uuid(location),
                    q,
                    now,
                )
                .await?;
                changed = true;
            }
        }
    }
    if !new_variants.is_empty() {
        let next_position = before
            .variants
            .iter()
            .map(|v| v.position + 1)
            .max()
            .unwrap_or(0);
        insert_variants(
            tx,
            ctx,
            location,
            before.id.as_uuid(),
            next_position,
            &new_variants,
            now,
        )
        .await?;
        variants_changed = true;
    }
    if variants_changed && patch.is_empty() {
        bump_version(tx, ctx.tenant, before.id.as_uuid(), now).await?;
    }
    Ok(changed || variants_changed)
}

async fn upsert_one(
    tx: &mut Conn,
    ctx: &WriteContext,
    location: Uuid,
    input: &NewProduct,
    now: DateTime<Utc>,
) -> StoreResult<(Uuid, UpsertAction)> {
    input.validate().map_err(StoreError::Invalid)?;
    match match_existing(tx, ctx.tenant, input).await? {
        None => {
            // `match_existing` found no owner of its SKUs and, if it names
            // one, no product with its handle.
            let id = insert_product(tx, ctx, location, input, true, now).await?;
            let product = load_product(tx, ctx.tenant, id)
                .await?
                .ok_or(StoreError::NotFound)?;
            announce(
                tx,
                ctx,
                "product.create",
                "product.created",
                &product,
                None,
                now,
            )
            .await?;
            Ok((id, UpsertAction::Created))
        }
        Some(id) => {
            lock_product(tx, ctx.tenant, id).await?;
            let before = load_product(tx, ctx.tenant, id)
                .await?
                .ok_or(StoreError::NotFound)?;
            let skus: Vec<&str> = input.variants.iter().map(|v| v.sku.as_str()).collect();
            let taken = skus_in_use(tx, ctx.tenant, &skus, Some(id)).await?;
            if !taken.is_empty() {
                return Err(StoreError::Conflict(format!(
                    "SKU already in use by another product: {}",
                    taken.join(", ")
                )));
            }
            if !update_from_input(tx, ctx, location, &before, input, now).await? {
                return Ok((id, UpsertAction::Unchanged));
            }
            let after = load_product(tx, ctx.tenant, id)
                .await?
                .ok_or(StoreError::NotFound)?;
            announce(
                tx,
                ctx,
                "product.update",
                "product.updated",
                &after,
                Some(&before),
                now,
            )
            .await?;
            Ok((id, UpsertAction::Updated))
        }
    }
}

/// Creates or updates each product, matched by SKU (then handle). One transaction;
/// each item in its own savepoint so a refused item does not undo the others.
pub async fn bulk_upsert(
    pool: &Pool,
    ctx: &WriteContext,
    items: &[NewProduct],
    now: DateTime<Utc>,
) -> StoreResult<BulkUpsertOutcome> {
    let mut outcome = BulkUpsertOutcome::default();
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    let location = default_location(&mut tx, ctx.tenant, now).await?;
    for (index, item) in items.iter().enumerate() {
        let mut savepoint = sqlx::Connection::begin(&mut *tx).await?;
        match upsert_one(&mut savepoint, ctx, location, item, now).await {
            Ok((id, action)) => {
                savepoint.commit().await?;
                match action {
                    UpsertAction::Created => outcome.created += 1,
                    UpsertAction::Updated => outcome.updated += 1,
                    UpsertAction::Unchanged => outcome.unchanged += 1,
                }
                outcome.results.push(UpsertItemResult {
                    index,
                    product_id: ProductId::from_uuid(id),
                    action,
                });
            }
            Err(StoreError::Invalid(e)) => {
                savepoint.rollback().await?;
                outcome.failed += 1;
                outcome.errors.push(UpsertItemError {
                    index,
                    detail: e.summary(),
                });
            }
            Err(StoreError::Conflict(detail)) => {
                savepoint.rollback().await?;
                outcome.failed += 1;
                outcome.errors.push(UpsertItemError { index, detail });
            }
            Err(other) => return Err(other),
        }
    }
    tx.commit().await?;
    Ok(outcome)
}
