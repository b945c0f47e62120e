// Reading products back with their variants, tags and stock.
// Compiled once per backend: see `backend.rs`.

const PRODUCT_COLUMNS: &str = "id, handle, title, description, vendor, product_type, status, images, options, version, created_at, updated_at";

fn push_id_list(qb: &mut QueryBuilder<DB>, ids: &[Uuid]) {
    qb.push(" (");
    let mut sep = qb.separated(", ");
    for id in ids {
        sep.push_bind(*id);
    }
    sep.push_unseparated(")");
}

fn product_from_row(row: &<DB as sqlx::Database>::Row) -> StoreResult<Product> {
    let status: String = row.try_get("status")?;
    let images: Json<Vec<String>> = row.try_get("images")?;
    let options: Json<Vec<String>> = row.try_get("options")?;
    Ok(Product {
        id: ProductId::from_uuid(row.try_get("id")?),
        handle: row.try_get("handle")?,
        title: row.try_get("title")?,
        description: row.try_get("description")?,
        vendor: row.try_get("vendor")?,
        product_type: row.try_get("product_type")?,
        status: ProductStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("product status `{status}`")))?,
        tags: Vec::new(),
        images: images.0,
        options: options.0,
        variants: Vec::new(),
        version: row.try_get("version")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn price_from(value: Dec, column: &str) -> StoreResult<Price> {
    let d = dec_out(value)?;
    Price::new(d).map_err(|e| StoreError::Corrupt(format!("{column} {d}: {e}")))
}

fn variant_from_row(row: &<DB as sqlx::Database>::Row) -> StoreResult<Variant> {
    let options: Json<Vec<String>> = row.try_get("options")?;
    let currency: String = row.try_get("currency")?;
    let compare_at: Option<Dec> = row.try_get("compare_at_price")?;
    Ok(Variant {
        id: VariantId::from_uuid(row.try_get("id")?),
        product_id: ProductId::from_uuid(row.try_get("product_id")?),
        sku: row.try_get("sku")?,
        barcode: row.try_get("barcode")?,
        title: row.try_get("title")?,
        options: options.0,
        price: price_from(row.try_get("price")?, "price")?,
        compare_at_price: compare_at
            .map(|c| price_from(c, "compare_at_price"))
            .transpose()?,
        currency: currency
            .trim()
            .parse()
            .map_err(|e: String| StoreError::Corrupt(e))?,
        weight_grams: row.try_get("weight_grams")?,
        position: row.try_get("position")?,
        inventory_quantity: 0,
        inventory: Vec::new(),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Loads whole products (variants, tags, stock) for the given ids, in id order.
/// Ids of other tenants are silently absent: the tenant is part of every query.
pub(crate) async fn load_products(
    conn: &mut <DB as sqlx::Database>::Connection,
    tenant: TenantId,
    ids: &[Uuid],
) -> StoreResult<Vec<Product>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut qb = QueryBuilder::<DB>::new(format!(
        "SELECT {PRODUCT_COLUMNS} FROM products WHERE tenant_id = "
    ));
    qb.push_bind(tenant.as_uuid()).push(" AND id IN");
    push_id_list(&mut qb, ids);
    qb.push(" ORDER BY id");
    let rows = qb.build().fetch_all(&mut *conn).await?;
    let mut products = rows
        .iter()
        .map(product_from_row)
        .collect::<StoreResult<Vec<_>>>()?;
    if products.is_empty() {
        return Ok(products);
    }
    let index: HashMap<Uuid, usize> = products
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id.as_uuid(), i))
        .collect();
    // The children are read by product id alone: these ids came from the
    // tenant-scoped query above, so every row below is the tenant's. A
    // `tenant_id` filter here adds nothing but a second index the planner can
    // pick wrongly while the table's statistics are stale (after a large
    // import it scanned every row of the tenant's index for one product).
    let ids: Vec<Uuid> = products.iter().map(|p| p.id.as_uuid()).collect();
    let ids = ids.as_slice();

    let mut qb =
        QueryBuilder::<DB>::new("SELECT product_id, tag FROM product_tags WHERE product_id IN");
    push_id_list(&mut qb, ids);
    qb.push(" ORDER BY product_id, position");
    for row in qb.build().fetch_all(&mut *conn).await? {
        let pid: Uuid = row.try_get("product_id")?;
        if let Some(&i) = index.get(&pid) {
            products[i].tags.push(row.try_get("tag")?);
        }
    }

    let mut qb = QueryBuilder::<DB>::new(
        "SELECT id, product_id, sku, barcode, title, options, price, compare_at_price, currency, \
         weight_grams, position, created_at, updated_at FROM product_variants WHERE product_id IN",
    );
    push_id_list(&mut qb, ids);
    qb.push(" ORDER BY product_id, position, id");
    let mut variant_index: HashMap<Uuid, (usize, usize)> = HashMap::new();
    for row in qb.build().fetch_all(&mut *conn).await? {
        let v = variant_from_row(&row)?;
        if let Some(&i) = index.get(&v.product_id.as_uuid()) {
            variant_index.insert(v.id.as_uuid(), (i, products[i].variants.len()));
            products[i].variants.push(v);
        }
    }

    if variant_index.is_empty() {
        return Ok(products);
    }
    // By the variant ids just read, not by a join on product id: a lookup on
    // the (variant_id, location_id) key whatever the statistics say (with
    // none, the planner hashed the whole table for one product).
    let variant_ids: Vec<Uuid> = variant_index.keys().copied().collect();
    let mut qb = QueryBuilder::<DB>::new(
        "SELECT variant_id, location_id, available FROM inventory_levels WHERE variant_id IN",
    );
    push_id_list(&mut qb, &variant_ids);
    qb.push(" ORDER BY location_id");
    for row in qb.build().fetch_all(&mut *conn).await? {
        let vid: Uuid = row.try_get("variant_id")?;
        if let Some(&(p, v)) = variant_index.get(&vid) {
            let available: i64 = row.try_get("available")?;
            let variant = &mut products[p].variants[v];
            variant.inventory_quantity += available;
            variant.inventory.push(InventoryLevel {
                location_id: LocationId::from_uuid(row.try_get("location_id")?),
                available,
            });
        }
    }
    Ok(products)
}

pub(crate) async fn load_product(
    conn: &mut <DB as sqlx::Database>::Connection,
    tenant: TenantId,
    id: Uuid,
) -> StoreResult<Option<Product>> {
    Ok(load_products(conn, tenant, &[id]).await?.pop())
}

pub async fn get_product(
    pool: &Pool,
    tenant: TenantId,
    id: ProductId,
) -> StoreResult<Option<Product>> {
    let mut conn = pool.acquire().await?;
    load_product(&mut conn, tenant, id.as_uuid()).await
}

/// Escapes `%`, `_` and `\` so user text is matched literally by LIKE … ESCAPE '\'.
fn like_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

pub async fn list_products(
    pool: &Pool,
    tenant: TenantId,
    query: &ProductQuery,
) -> StoreResult<ProductPage> {
    let limit = query.limit.clamp(1, 250) as i64;
    let mut qb = QueryBuilder::<DB>::new("SELECT p.id FROM products p WHERE p.tenant_id = ");
    qb.push_bind(tenant.as_uuid());
    if let Some(after) = query.after {
        qb.push(" AND p.id > ").push_bind(after.as_uuid());
    }
    if let Some(vendor) = &query.vendor {
        qb.push(" AND p.vendor = ").push_bind(vendor.clone());
    }
    if let Some(status) = query.status {
        qb.push(" AND p.status = ").push_bind(status.as_str());
    }
    if let Some(tag) = &query.tag {
        qb.push(" AND p.id IN (SELECT t.product_id FROM product_tags t WHERE t.tenant_id = ")
            .push_bind(tenant.as_uuid())
            .push(" AND t.tag = ")
            .push_bind(tag.clone())
            .push(")");
    }
    if let Some(search) = query.search.as_deref().filter(|s| !s.trim().is_empty()) {
        let pattern = like_pattern(search.trim());
        qb.push(" AND (LOWER(p.title) LIKE ")
            .push_bind(pattern.clone())
            .push(" ESCAPE '\\' OR EXISTS (SELECT 1 FROM product_variants v WHERE v.product_id = p.id AND LOWER(v.sku) LIKE ")
            .push_bind(pattern)
            .push(" ESCAPE '\\'))");
    }
    qb.push(" ORDER BY p.id LIMIT ").push_bind(limit + 1);
    let mut conn = pool.acquire().await?;
    let mut ids: Vec<Uuid> = qb.build_query_scalar().fetch_all(&mut *conn).await?;
    let more = ids.len() as i64 > limit;
    ids.truncate(limit as usize);
    let data = load_products(&mut conn, tenant, &ids).await?;
    let next_cursor = if more {
        data.last().map(|p| p.id.to_string())
    } else {
        None
    };
    Ok(ProductPage { data, next_cursor })
}

pub async fn list_audit(
    pool: &Pool,
    tenant: TenantId,
    before: Option<Uuid>,
    limit: u32,
) -> StoreResult<Vec<AuditEntry>> {
    let mut qb = QueryBuilder::<DB>::new(
        "SELECT id, actor, action, entity_type, entity_id, before, after, request_id, created_at \
         FROM audit_log WHERE tenant_id = ",
    );
    qb.push_bind(tenant.as_uuid());
    if let Some(b) = before {
        qb.push(" AND id < ").push_bind(b);
    }
    qb.push(" ORDER BY id DESC LIMIT ")
        .push_bind(limit.clamp(1, 500) as i64);
    let rows = qb.build().fetch_all(pool).await?;
    rows.iter()
        .map(|row| {
            let before: Option<Json<serde_json::Value>> = row.try_get("before")?;
            let after: Option<Json<serde_json::Value>> = row.try_get("after")?;
            let id: Uuid = row.try_get("id")?;
            Ok(AuditEntry {
                id: format!("aud_{}", id.simple()),
                actor: row.try_get("actor")?,
                action: row.try_get("action")?,
                entity_type: row.try_get("entity_type")?,
                entity_id: row.try_get("entity_id")?,
                before: before.map(|j| j.0),
                after: after.map(|j| j.0),
                request_id: row.try_get("request_id")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .collect()
}

pub async fn inventory_history(
    pool: &Pool,
    tenant: TenantId,
    variant: VariantId,
    limit: u32,
) -> StoreResult<Vec<InventoryMovement>> {
    let rows = sqlx::query(
        "SELECT variant_id, location_id, delta, available_after, reason, reference, actor, created_at \
         FROM inventory_history WHERE tenant_id = $1 AND variant_id = $2 ORDER BY id DESC LIMIT $3",
    )
    .bind(tenant.as_uuid())
    .bind(variant.as_uuid())
    .bind(limit.clamp(1, 500) as i64)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(InventoryMovement {
                variant_id: VariantId::from_uuid(row.try_get("variant_id")?),
                location_id: LocationId::from_uuid(row.try_get("location_id")?),
                delta: row.try_get("delta")?,
                available_after: row.try_get("available_after")?,
                reason: row.try_get("reason")?,
                reference: row.try_get("reference")?,
                actor: row.try_get("actor")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .collect()
}

/// Every product of a tenant in id order, a page at a time (for export).
pub async fn all_product_ids(pool: &Pool, tenant: TenantId) -> StoreResult<Vec<ProductId>> {
    let ids: Vec<Uuid> =
        sqlx::query_scalar("SELECT id FROM products WHERE tenant_id = $1 ORDER BY id")
            .bind(tenant.as_uuid())
            .fetch_all(pool)
            .await?;
    Ok(ids.into_iter().map(ProductId::from_uuid).collect())
}

pub async fn get_products(
    pool: &Pool,
    tenant: TenantId,
    ids: &[ProductId],
) -> StoreResult<Vec<Product>> {
    let raw: Vec<Uuid> = ids.iter().map(|i| i.as_uuid()).collect();
    let mut conn = pool.acquire().await?;
    load_products(&mut conn, tenant, &raw).await
}

pub async fn get_variant(
    pool: &Pool,
    tenant: TenantId,
    id: VariantId,
) -> StoreResult<Option<Variant>> {
    let mut conn = pool.acquire().await?;
    let product: Option<Uuid> = sqlx::query_scalar(
        "SELECT product_id FROM product_variants WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.as_uuid())
    .bind(id.as_uuid())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(product) = product else {
        return Ok(None);
    };
    Ok(load_product(&mut conn, tenant, product)
        .await?
        .and_then(|p| p.variants.into_iter().find(|v| v.id == id)))
}
