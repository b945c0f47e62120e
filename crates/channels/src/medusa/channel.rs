//! The `Channel` operations for a Medusa server.

use std::collections::HashMap;

use ::http::HeaderMap;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::json;
use shelfsync_core::Platform;

use super::plan::{self, StockRead};
use super::*;
use crate::WebhookError;

/// Where one passing product goes: an update of a product Medusa has (with
/// its variants' ids where known), or a create.
#[derive(Debug, Clone)]
struct Target {
    index: usize,
    product_id: Option<String>,
    variant_ids: Vec<Option<String>>,
}

/// Each product of a chunk as saved, or why not, in chunk order.
type Saved = Vec<(usize, Result<wire::Product, ItemError>)>;

impl Medusa {
    /// Where each product of `chunk` goes, from its own ids and the variants
    /// found by SKU. A product whose SKUs are already held by another
    /// Medusa product is refused (linking would move them).
    fn targets(
        products: &[ProductPush],
        chunk: &[usize],
        found: &HashMap<String, wire::Variant>,
    ) -> Vec<Result<Target, (usize, ItemError)>> {
        chunk
            .iter()
            .map(|&index| {
                let product = &products[index];
                let mut product_id = product.external_id.clone();
                let mut variant_ids = Vec::with_capacity(product.variants.len());
                for variant in &product.variants {
                    if variant.external_id.is_some() {
                        variant_ids.push(variant.external_id.clone());
                        continue;
                    }
                    let Some(held) = found.get(&variant.sku) else {
                        variant_ids.push(None);
                        continue;
                    };
                    match (&product_id, &held.product_id) {
                        (_, None) => variant_ids.push(None),
                        (None, Some(owner)) => {
                            product_id = Some(owner.clone());
                            variant_ids.push(Some(held.id.clone()));
                        }
                        (Some(mine), Some(owner)) if mine == owner => {
                            variant_ids.push(Some(held.id.clone()))
                        }
                        (Some(_), Some(owner)) => {
                            return Err((
                                index,
                                ItemError::permanent(
                                    "sku_taken",
                                    format!(
                                        "variant {}: the SKU belongs to Medusa product {owner}",
                                        variant.sku
                                    ),
                                ),
                            ));
                        }
                    }
                }
                Ok(Target {
                    index,
                    product_id,
                    variant_ids,
                })
            })
            .collect()
    }

    /// Save `targets` in one `products/batch` call; when Medusa refuses the
    /// call (one bad product fails them all, writing nothing), each
    /// product is sent alone so only the bad one fails.
    async fn save(
        &self,
        products: &[ProductPush],
        targets: &[Target],
        sales_channel: &str,
    ) -> Result<Saved, ChannelError> {
        let mut creates = Vec::new();
        let mut updates = Vec::new();
        for target in targets {
            let product = &products[target.index];
            match &target.product_id {
                Some(id) => updates.push((
                    id.clone(),
                    wire::update_body(product, id, &target.variant_ids),
                )),
                None => creates.push((
                    product.handle.clone(),
                    wire::create_body(product, sales_channel),
                )),
            }
        }
        match self.batch(&creates, &updates).await {
            Ok((created, updated)) => {
                let mut created = created.into_iter();
                let mut updated = updated.into_iter();
                Ok(targets
                    .iter()
                    .map(|t| {
                        let saved = if t.product_id.is_some() {
                            updated.next()
                        } else {
                            created.next()
                        };
                        (t.index, Ok(saved.expect("one answer per product")))
                    })
                    .collect())
            }
            Err(e) if targets.len() > 1 && refusal(&e).is_some() => {
                let mut saved = Vec::with_capacity(targets.len());
                for target in targets {
                    let one =
                        Box::pin(self.save(products, std::slice::from_ref(target), sales_channel))
                            .await;
                    match one {
                        Ok(mut answer) => saved.append(&mut answer),
                        Err(e) if e.stops_run() => return Err(e),
                        Err(e) => saved.push((target.index, Err(e.as_item_error()))),
                    }
                }
                Ok(saved)
            }
            Err(e) => match (targets, refusal(&e)) {
                ([only], Some(error)) => Ok(vec![(only.index, Err(error))]),
                _ => Err(e),
            },
        }
    }

    /// Set each saved product's stock at `location`, in one call; the
    /// product refs, or the error that kept the stock from being set.
    async fn stock_saved(
        &self,
        products: &[ProductPush],
        saved: Saved,
        location: &str,
    ) -> Result<Vec<(usize, Result<ProductRef, ItemError>)>, ChannelError> {
        let mut creates = Vec::new();
        let mut updates = Vec::new();
        let mut refs = Vec::with_capacity(saved.len());
        for (index, result) in saved {
            let answered = match result {
                Ok(answered) => answered,
                Err(e) => {
                    refs.push((index, Err(e)));
                    continue;
                }
            };
            let product = &products[index];
            let mut variants = Vec::with_capacity(product.variants.len());
            let mut missing = None;
            for pushed in &product.variants {
                let Some(held) = answered
                    .variants
                    .iter()
                    .find(|v| v.sku.as_deref() == Some(&pushed.sku))
                else {
                    missing = Some(pushed.sku.clone());
                    break;
                };
                let inventory = held.inventory();
                if let Some(link) = inventory {
                    let level = link
                        .inventory
                        .as_ref()
                        .and_then(|item| item.level_at(location));
                    let stocked = pushed.quantity.max(0)
                        + level.and_then(|l| l.reserved_quantity).unwrap_or(0);
                    let entry = json!({
                        "inventory_item_id": link.inventory_item_id,
                        "location_id": location,
                        "stocked_quantity": stocked,
                    });
                    if level.is_some() {
                        updates.push(entry);
                    } else {
                        creates.push(entry);
                    }
                }
                variants.push(VariantRef {
                    sku: pushed.sku.clone(),
                    external_id: held.id.clone(),
                    inventory_ref: inventory.map(|i| i.inventory_item_id.clone()),
                });
            }
            let outcome = match missing {
                Some(sku) => Err(ItemError::retryable(
                    "protocol",
                    format!("products/batch answered without variant {sku}"),
                )),
                None => Ok(ProductRef {
                    external_id: answered.id.clone(),
                    variants,
                }),
            };
            refs.push((index, outcome));
        }
        if creates.is_empty() && updates.is_empty() {
            return Ok(refs);
        }
        if let Err(e) = self.write_levels(creates, updates).await {
            if e.stops_run() {
                return Err(e);
            }
            // The products are saved; their next push finds them by SKU.
            for (_, outcome) in &mut refs {
                if outcome.is_ok() {
                    *outcome = Err(ItemError::retryable(
                        "stock_not_set",
                        format!("the product was saved but its stock was not: {e}"),
                    ));
                }
            }
        }
        Ok(refs)
    }

    /// One chunk of products: SKU lookups, the batch, the stock.
    async fn upsert_chunk(
        &self,
        products: &[ProductPush],
        chunk: &[usize],
        placement: &Placement,
        outcomes: &mut [Option<Result<ProductRef, ItemError>>],
    ) -> Result<(), ChannelError> {
        let mut found = HashMap::new();
        for skus in plan::sku_lookups(products, chunk) {
            for variant in self.variants_by_sku(&skus).await? {
                if let Some(sku) = variant.sku.clone() {
                    found.entry(sku).or_insert(variant);
                }
            }
        }
        let mut targets = Vec::new();
        for target in Self::targets(products, chunk, &found) {
            match target {
                Ok(target) => targets.push(target),
                Err((index, error)) => outcomes[index] = Some(Err(error)),
            }
        }
        if targets.is_empty() {
            return Ok(());
        }
        let saved = self
            .save(products, &targets, &placement.sales_channel)
            .await?;
        for (index, outcome) in self
            .stock_saved(products, saved, &placement.location)
            .await?
        {
            outcomes[index] = Some(outcome);
        }
        Ok(())
    }
}

/// One stock level to write, or why it cannot be.
fn level_entry(
    level: &InventoryPush,
    item: Option<&wire::InventoryItem>,
    location: &str,
) -> Result<(bool, Value), ItemError> {
    let item = item.ok_or_else(|| {
        ItemError::permanent(
            "not_found",
            format!(
                "no Medusa inventory item for SKU {}; push the product first",
                level.sku
            ),
        )
    })?;
    let existing = item.level_at(location);
    let stocked = level.quantity.max(0) + existing.and_then(|l| l.reserved_quantity).unwrap_or(0);
    Ok((
        existing.is_some(),
        json!({
            "inventory_item_id": item.id,
            "location_id": location,
            "stocked_quantity": stocked,
        }),
    ))
}

#[async_trait]
impl Channel for Medusa {
    fn platform(&self) -> Platform {
        Platform::Medusa
    }

    fn quota_model(&self) -> &QuotaModel {
        &self.quota
    }

    fn batch_limits(&self) -> BatchLimits {
        BatchLimits {
            products: PRODUCT_BATCH,
            inventory: INVENTORY_BATCH,
        }
    }

    /// [`wire::check`]: the shared rules and what a Medusa product needs.
    fn validate_push(&self, product: &ProductPush) -> Vec<ItemError> {
        wire::check(product)
    }

    /// Per chunk of [`PRODUCT_BATCH`]: the SKU lookups for variants without
    /// an id, one `products/batch`, one `location-levels/batch`; and the
    /// store's defaults once, while they are not yet known.
    fn plan_upsert(&self, products: &[ProductPush]) -> CallPlan {
        let mut plan = CallPlan::default();
        let chunks = plan::product_chunks(products, &mut vec![None; products.len()]);
        if chunks.is_empty() {
            return plan;
        }
        if self.placement_cold() {
            plan.add_once(op::STORES_LIST, 1, 1.0);
        }
        for chunk in &chunks {
            let lookups = plan::sku_lookups(products, chunk).len() as u32;
            plan.add(op::VARIANTS_LIST, lookups, f64::from(lookups));
            plan.add(op::PRODUCTS_BATCH, 1, 1.0);
            plan.add(op::LEVELS_BATCH, 1, 1.0);
        }
        plan
    }

    /// Chunks of [`PRODUCT_BATCH`] products: variants without an id are
    /// first looked up by SKU and linked; then one `products/batch` (each
    /// product alone if Medusa refuses the batch); then one
    /// `location-levels/batch` for their stock. An error before anything
    /// was written fails the call; after, it fails the products left.
    async fn upsert_products(
        &self,
        products: &[ProductPush],
    ) -> Result<Vec<ProductOutcome>, ChannelError> {
        let mut outcomes: Vec<Option<Result<ProductRef, ItemError>>> = vec![None; products.len()];
        let chunks = plan::product_chunks(products, &mut outcomes);
        if !chunks.is_empty() {
            let placement = self.placement().await?.clone();
            let mut written = false;
            for chunk in &chunks {
                match self
                    .upsert_chunk(products, chunk, &placement, &mut outcomes)
                    .await
                {
                    Ok(()) => written = true,
                    Err(e) if e.stops_run() || !written => return Err(e),
                    Err(e) => {
                        for i in chunk {
                            if outcomes[*i].is_none() {
                                outcomes[*i] = Some(Err(e.as_item_error()));
                            }
                        }
                    }
                }
            }
        }
        Ok(products
            .iter()
            .zip(outcomes)
            .map(|(product, outcome)| ProductOutcome {
                key: product.key.clone(),
                result: outcome.unwrap_or_else(|| {
                    Err(ItemError::retryable("not_sent", "the product was not sent"))
                }),
            })
            .collect())
    }

    /// Per round of [`INVENTORY_BATCH`] levels: one inventory read by id
    /// and/or one by SKU, and one `location-levels/batch`; plus the store's
    /// defaults once, while not yet known.
    fn plan_inventory(&self, levels: &[InventoryPush]) -> CallPlan {
        let mut plan = CallPlan::default();
        let rounds = plan::stock_rounds(levels);
        if rounds.is_empty() {
            return plan;
        }
        if self.placement_cold() {
            plan.add_once(op::STORES_LIST, 1, 1.0);
        }
        for reads in &rounds {
            plan.add(op::INVENTORY_LIST, reads.len() as u32, reads.len() as f64);
            plan.add(op::LEVELS_BATCH, 1, 1.0);
        }
        plan
    }

    /// Each level's inventory item is read (with its levels, so a missing
    /// level is created rather than updated and reservations are added to
    /// what may be sold), then all are written in one call per round.
    async fn set_inventory(
        &self,
        levels: &[InventoryPush],
    ) -> Result<Vec<InventoryOutcome>, ChannelError> {
        let mut outcomes: Vec<Option<Result<(), ItemError>>> = vec![None; levels.len()];
        let rounds = plan::stock_rounds(levels);
        if !rounds.is_empty() {
            let location = self.placement().await?.location.clone();
            let mut written = false;
            for reads in rounds {
                match self
                    .stock_round(levels, &reads, &location, &mut outcomes)
                    .await
                {
                    Ok(()) => written = true,
                    Err(e) if e.stops_run() || !written => return Err(e),
                    Err(e) => {
                        for i in reads.iter().flat_map(|r| &r.levels) {
                            if outcomes[*i].is_none() {
                                outcomes[*i] = Some(Err(e.as_item_error()));
                            }
                        }
                    }
                }
            }
        }
        Ok(levels
            .iter()
            .zip(outcomes)
            .map(|(level, outcome)| InventoryOutcome {
                sku: level.sku.clone(),
                result: outcome.unwrap_or_else(|| {
                    Err(ItemError::retryable(
                        "not_sent",
                        "the stock level was not sent",
                    ))
                }),
            })
            .collect())
    }

    /// `GET /admin/products` in id order, `page_size` a page, with variant
    /// prices and stock at our location; the cursor is the next offset.
    async fn read_listings(&self, cursor: Option<&str>) -> Result<ListingPage, ChannelError> {
        let offset: usize = match cursor {
            None => 0,
            Some(c) => c
                .parse()
                .map_err(|_| ChannelError::Config(format!("`{c}` is not an offset cursor")))?,
        };
        let location = self.placement().await?.location.clone();
        let query = [
            ("fields", PRODUCT_FIELDS.to_owned()),
            ("order", "id".to_owned()),
            ("limit", self.page_size.to_string()),
            ("offset", offset.to_string()),
        ];
        let reply = self
            .call(
                op::PRODUCTS_LIST,
                Method::GET,
                "admin/products",
                &query,
                None,
            )
            .await?;
        let page: wire::ProductList = reply.json()?;
        let read = offset + page.products.len();
        let more = match page.count {
            Some(count) => (read as u64) < count,
            None => page.products.len() >= self.page_size,
        };
        Ok(ListingPage {
            listings: page
                .products
                .iter()
                .map(|p| p.listing(self.currency.as_deref(), &location))
                .collect(),
            next_cursor: (more && !page.products.is_empty()).then(|| read.to_string()),
        })
    }

    /// `GET /admin/orders?updated_at[$gte]=…`, least recently updated
    /// first, without drafts (they hold no stock); canceled orders are
    /// flagged, so one canceled after it was placed gives its stock back.
    async fn recent_orders(&self, since: DateTime<Utc>) -> Result<Vec<ChannelOrder>, ChannelError> {
        let since = since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut orders = Vec::new();
        for page in 0..MAX_ORDER_PAGES {
            let query = [
                ("updated_at[$gte]", since.clone()),
                ("order", "updated_at".to_owned()),
                (
                    "fields",
                    "id,status,created_at,canceled_at,items.variant_id,items.variant_sku,items.quantity"
                        .to_owned(),
                ),
                ("limit", ORDER_PAGE.to_string()),
                ("offset", (page * ORDER_PAGE).to_string()),
            ];
            let reply = self
                .call(op::ORDERS_LIST, Method::GET, "admin/orders", &query, None)
                .await?;
            let list: wire::OrderList = reply.json()?;
            let len = list.orders.len();
            orders.extend(
                list.orders
                    .iter()
                    .filter(|o| o.is_placed())
                    .map(wire::Order::order),
            );
            let read = (page * ORDER_PAGE + len) as u64;
            let more = match list.count {
                Some(count) => read < count,
                None => len >= ORDER_PAGE,
            };
            if !more || len == 0 {
                return Ok(orders);
            }
        }
        Err(ChannelError::Protocol("too many order pages".into()))
    }

    /// Medusa sends no webhooks of its own (its orders are polled), so
    /// nothing that arrives claiming to be one is accepted.
    fn verify_webhook(
        &self,
        _headers: &HeaderMap,
        _body: &[u8],
    ) -> Result<WebhookEvent, WebhookError> {
        Err(WebhookError::Malformed(
            "Medusa sends no webhooks; its orders are polled".into(),
        ))
    }
}

impl Medusa {
    /// One round of `set_inventory`: read the items, write their levels.
    async fn stock_round(
        &self,
        levels: &[InventoryPush],
        reads: &[StockRead],
        location: &str,
        outcomes: &mut [Option<Result<(), ItemError>>],
    ) -> Result<(), ChannelError> {
        let mut creates = Vec::new();
        let mut updates = Vec::new();
        let mut sent = Vec::new();
        for read in reads {
            let items = self.inventory_items(read.key, &read.values).await?;
            for &i in &read.levels {
                let level = &levels[i];
                let item = match plan::item_id(level) {
                    Some(id) if read.key == "id[]" => items.iter().find(|it| it.id == id),
                    _ => items
                        .iter()
                        .find(|it| it.sku.as_deref() == Some(level.sku.as_str())),
                };
                match level_entry(level, item, location) {
                    Ok((true, entry)) => {
                        updates.push(entry);
                        sent.push(i);
                    }
                    Ok((false, entry)) => {
                        creates.push(entry);
                        sent.push(i);
                    }
                    Err(error) => outcomes[i] = Some(Err(error)),
                }
            }
        }
        if sent.is_empty() {
            return Ok(());
        }
        self.write_levels(creates, updates).await?;
        for i in sent {
            outcomes[i] = Some(Ok(()));
        }
        Ok(())
    }
}
