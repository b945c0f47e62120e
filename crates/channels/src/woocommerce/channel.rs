//! The `Channel` operations for a WooCommerce store, and its webhooks.

use std::collections::BTreeMap;

use super::*;

/// How a webhook's body becomes an event. The delivery id WooCommerce sends
/// is a hash of the webhook id and the current second
/// (`WC_Webhook::get_new_delivery_id`), so two different deliveries of one
/// webhook in the same second share it; the event id adds a digest of the
/// body, which tells those apart while a repeated delivery of the same
/// body in the same second still deduplicates.
pub(super) fn parse_event(
    topic: &str,
    delivery: &str,
    body: &[u8],
) -> Result<WebhookEvent, WebhookError> {
    let digest = hex::encode(&Sha256::digest(body)[..8]);
    let event_id = format!("{delivery}:{digest}");
    let malformed = |e: serde_json::Error| WebhookError::Malformed(e.to_string());
    let (kind, occurred_at) = match topic {
        "order.created" | "order.updated" => {
            let order: WcOrder = serde_json::from_slice(body).map_err(malformed)?;
            let at = wire::gmt(
                order
                    .date_modified_gmt
                    .as_deref()
                    .or(order.date_created_gmt.as_deref()),
            );
            // An order created already cancelled or refunded never took
            // stock; one updated to either status gives it back.
            let kind = match (topic, order.is_called_off()) {
                (_, true) => WebhookKind::OrderCancelled {
                    order: order.order(),
                },
                ("order.created", false) => WebhookKind::OrderCreated {
                    order: order.order(),
                },
                _ => WebhookKind::Other,
            };
            (kind, at)
        }
        "product.created" | "product.updated" | "product.restored" => {
            let product: WcProduct = serde_json::from_slice(body).map_err(malformed)?;
            let at = wire::gmt(product.date_modified_gmt.as_deref());
            (
                WebhookKind::ProductUpdated {
                    listing: product.listing(None),
                },
                at,
            )
        }
        "product.deleted" => {
            // A deleted resource's payload is only `{"id": …}` (`WC_Webhook::build_payload`).
            #[derive(serde::Deserialize)]
            struct Deleted {
                id: Value,
            }
            let deleted: Deleted = serde_json::from_slice(body).map_err(malformed)?;
            let id = match &deleted.id {
                Value::Number(n) => n.to_string(),
                Value::String(s) => s.clone(),
                other => return Err(WebhookError::Malformed(format!("product id {other}"))),
            };
            (WebhookKind::ProductDeleted { external_id: id }, None)
        }
        _ => (WebhookKind::Other, None),
    };
    Ok(WebhookEvent {
        event_id,
        topic: topic.to_owned(),
        occurred_at,
        kind,
    })
}

/// The ping WooCommerce posts to a new webhook's URL: `webhook_id={id}`,
/// form-encoded and unsigned (`WC_Webhook::deliver_ping`).
pub(super) fn ping_id(body: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(body).ok()?.trim();
    text.strip_prefix("webhook_id=")?.parse().ok()
}

#[async_trait]
impl Channel for WooCommerce {
    fn platform(&self) -> Platform {
        Platform::WooCommerce
    }

    fn quota_model(&self) -> &QuotaModel {
        &self.quota
    }

    fn batch_limits(&self) -> BatchLimits {
        BatchLimits {
            products: BATCH_LIMIT,
            inventory: BATCH_LIMIT,
        }
    }

    /// [`wire::check`]: the shared rules and what a WooCommerce product needs.
    fn validate_push(&self, product: &ProductPush) -> Vec<ItemError> {
        wire::check(product)
    }

    /// One `products/batch` per 100 products, then each variable product's
    /// `variations/batch` calls, 100 variations each, as `upsert_products`
    /// chunks them.
    fn plan_upsert(&self, products: &[ProductPush]) -> CallPlan {
        let mut plan = CallPlan::default();
        let todo = passing(products, &mut vec![None; products.len()]);
        plan.add(
            op::PRODUCTS_BATCH,
            todo.chunks(BATCH_LIMIT).count() as u32,
            todo.chunks(BATCH_LIMIT).count() as f64,
        );
        for (i, id) in &todo {
            let product = &products[*i];
            if !wire::is_simple(product) {
                let calls = variation_batches(product, *id).len() as u32;
                plan.add(op::VARIATIONS_BATCH, calls, f64::from(calls));
            }
        }
        plan
    }

    /// Products go through `products/batch`, 100 a call; then each variable
    /// product's variations through its `variations/batch`. A new product
    /// whose variations are refused is deleted again. An error before
    /// anything was written fails the call; after, it fails the items left.
    async fn upsert_products(
        &self,
        products: &[ProductPush],
    ) -> Result<Vec<ProductOutcome>, ChannelError> {
        let mut outcomes: Vec<Option<Result<ProductRef, ItemError>>> = vec![None; products.len()];
        let todo = passing(products, &mut outcomes);
        let mut written = false;
        let mut rollback: Vec<(usize, u64)> = Vec::new();
        for chunk in todo.chunks(BATCH_LIMIT) {
            let (mut creates, mut create_index, mut updates, mut update_index) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for (i, id) in chunk {
                let body = wire::product_body(&products[*i], *id, self.weight_unit);
                match id {
                    Some(id) => {
                        updates.push((*id, body));
                        update_index.push(*i);
                    }
                    None => {
                        creates.push(body);
                        create_index.push(*i);
                    }
                }
            }
            let answers = self
                .batch::<WcProduct>(op::PRODUCTS_BATCH, "products/batch", creates, updates)
                .await;
            let (created, updated) = match answers {
                Ok(answers) => answers,
                Err(e) if e.stops_run() || !written => return Err(e),
                Err(e) => {
                    for (i, _) in chunk {
                        outcomes[*i] = Some(Err(e.as_item_error()));
                    }
                    continue;
                }
            };
            written = true;
            let answered = create_index
                .iter()
                .map(|i| (*i, true))
                .zip(created)
                .chain(update_index.iter().map(|i| (*i, false)).zip(updated));
            for ((i, is_new), result) in answered {
                let product = &products[i];
                let saved = match result {
                    Err(e) => {
                        outcomes[i] = Some(Err(e));
                        continue;
                    }
                    Ok(saved) => saved,
                };
                let outcome = if wire::is_simple(product) {
                    Ok(ProductRef {
                        external_id: saved.id.to_string(),
                        variants: product
                            .variants
                            .iter()
                            .map(|v| VariantRef {
                                sku: v.sku.clone(),
                                external_id: saved.id.to_string(),
                                inventory_ref: None,
                            })
                            .collect(),
                    })
                } else {
                    self.save_variations(product, saved.id).await?
                };
                if outcome.is_err() && is_new {
                    rollback.push((i, saved.id));
                }
                outcomes[i] = Some(outcome);
            }
        }
        if !rollback.is_empty() {
            self.roll_back(&rollback, &mut outcomes).await;
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

    /// Simple products' stock through `products/batch`; variations' through
    /// their product's `variations/batch`; 100 levels a call.
    fn plan_inventory(&self, levels: &[InventoryPush]) -> CallPlan {
        let mut plan = CallPlan::default();
        for (_, operation, _) in stock_calls(levels).1 {
            plan.add(operation, 1, 1.0);
        }
        plan
    }

    async fn set_inventory(
        &self,
        levels: &[InventoryPush],
    ) -> Result<Vec<InventoryOutcome>, ChannelError> {
        let mut outcomes: Vec<Option<Result<(), ItemError>>> = vec![None; levels.len()];
        let (refused, calls) = stock_calls(levels);
        for (i, error) in refused {
            outcomes[i] = Some(Err(error));
        }
        let mut written = false;
        for (path, operation, items) in calls {
            let updates = items
                .iter()
                .map(|(i, id)| (*id, wire::stock_body(*id, levels[*i].quantity)))
                .collect();
            match self
                .batch::<Value>(operation, &path, Vec::new(), updates)
                .await
            {
                Ok((_, updated)) => {
                    written = true;
                    for ((i, _), result) in items.iter().zip(updated) {
                        outcomes[*i] = Some(result.map(|_| ()));
                    }
                }
                Err(e) if e.stops_run() || !written => return Err(e),
                Err(e) => {
                    for (i, _) in &items {
                        outcomes[*i] = Some(Err(e.as_item_error()));
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

    /// `GET /products` in id order, `page_size` a page; the cursor is the
    /// next page number. Variable products' variations are read with them.
    async fn read_listings(&self, cursor: Option<&str>) -> Result<ListingPage, ChannelError> {
        let page: u32 = match cursor {
            None => 1,
            Some(c) => c
                .parse()
                .ok()
                .filter(|p| *p >= 1)
                .ok_or_else(|| ChannelError::Config(format!("`{c}` is not a page cursor")))?,
        };
        let query = [
            ("per_page", self.page_size.to_string()),
            ("page", page.to_string()),
            ("orderby", "id".to_owned()),
            ("order", "asc".to_owned()),
        ];
        let reply = self
            .call(op::PRODUCTS_LIST, Method::GET, "products", &query, None)
            .await?;
        let products: Vec<WcProduct> = reply.json()?;
        let next = next_page(&reply, page, products.len(), self.page_size);
        let mut listings = Vec::with_capacity(products.len());
        for product in &products {
            if product.is_variable() && !product.variations.is_empty() {
                let variations = self.variations(product.id).await?;
                listings.push(product.listing(Some(&variations)));
            } else {
                listings.push(product.listing(None));
            }
        }
        Ok(ListingPage {
            listings,
            next_cursor: next.map(|p| p.to_string()),
        })
    }

    /// `GET /orders?modified_after=…&dates_are_gmt=true` (WooCommerce 5.8+),
    /// so an order cancelled or refunded after it was placed is read again;
    /// only the statuses whose units WooCommerce took out of stock, and
    /// `cancelled` and `refunded` ones, flagged, whose units went back.
    async fn recent_orders(&self, since: DateTime<Utc>) -> Result<Vec<ChannelOrder>, ChannelError> {
        let after = since.format("%Y-%m-%dT%H:%M:%S").to_string();
        let mut orders = Vec::new();
        let mut page = 1;
        loop {
            let query = [
                ("modified_after", after.clone()),
                ("dates_are_gmt", "true".to_owned()),
                ("status", POLLED_STATUSES.to_owned()),
                ("orderby", "id".to_owned()),
                ("order", "asc".to_owned()),
                ("per_page", MAX_PER_PAGE.to_string()),
                ("page", page.to_string()),
            ];
            let reply = self
                .call(op::ORDERS_LIST, Method::GET, "orders", &query, None)
                .await?;
            let batch: Vec<WcOrder> = reply.json()?;
            let next = next_page(&reply, page, batch.len(), MAX_PER_PAGE);
            orders.extend(batch.iter().map(WcOrder::order));
            match next {
                Some(n) if n <= MAX_PAGES => page = n,
                Some(_) => return Err(ChannelError::Protocol("too many order pages".into())),
                None => return Ok(orders),
            }
        }
    }

    /// One `POST /webhooks` per topic, signed with the connection's webhook
    /// secret; topics already delivered to `callback` by an active webhook
    /// are left alone, so subscribing again adds nothing.
    async fn subscribe_webhooks(&self, callback: &Url) -> Result<(), ChannelError> {
        let secret = self.webhook_secret.as_ref().ok_or_else(|| {
            ChannelError::Config("a webhook secret is needed to subscribe".into())
        })?;
        let query = [("per_page", MAX_PER_PAGE.to_string())];
        let reply = self
            .call(op::WEBHOOKS_LIST, Method::GET, "webhooks", &query, None)
            .await?;
        let existing: Vec<WcWebhook> = reply.json()?;
        for topic in TOPICS {
            let present = existing.iter().any(|w| {
                w.topic.as_deref() == Some(topic)
                    && w.delivery_url.as_deref() == Some(callback.as_str())
                    && w.status.as_deref().unwrap_or("active") == "active"
            });
            if present {
                continue;
            }
            let body = json!({
                "name": format!("Shelfsync {topic}"),
                "topic": topic,
                "delivery_url": callback.as_str(),
                "secret": secret.expose_secret(),
                "status": "active",
            });
            self.call(
                op::WEBHOOKS_CREATE,
                Method::POST,
                "webhooks",
                &[],
                Some(&body),
            )
            .await?;
        }
        Ok(())
    }

    /// `X-WC-Webhook-Signature` is the base64 HMAC-SHA256 of the raw body
    /// under the webhook's secret, checked in constant time. The unsigned
    /// ping sent when a webhook is created is accepted as `Other` (it
    /// carries nothing to act on) so the store sees its URL answer.
    fn verify_webhook(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<WebhookEvent, WebhookError> {
        let secret = self.webhook_secret.as_ref().ok_or(WebhookError::NoSecret)?;
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let Some(signature) = header("x-wc-webhook-signature") else {
            if let Some(id) = ping_id(body) {
                return Ok(WebhookEvent {
                    event_id: format!("ping:{id}"),
                    topic: "ping".into(),
                    occurred_at: None,
                    kind: WebhookKind::Other,
                });
            }
            return Err(WebhookError::MissingHeader("X-WC-Webhook-Signature"));
        };
        if !crate::signature::verify_base64(secret.expose_secret().as_bytes(), body, signature) {
            return Err(WebhookError::BadSignature);
        }
        let topic = header("x-wc-webhook-topic")
            .ok_or(WebhookError::MissingHeader("X-WC-Webhook-Topic"))?;
        let delivery = header("x-wc-webhook-delivery-id")
            .ok_or(WebhookError::MissingHeader("X-WC-Webhook-Delivery-ID"))?;
        parse_event(topic, delivery, body)
    }
}

/// One stock call: its path, its quota operation, and (level index, id) pairs.
type StockCall = (String, &'static str, Vec<(usize, u64)>);

/// How `set_inventory` splits stock levels into calls, shared with its plan:
/// simple products in `products/batch` calls of 100, variations in
/// `products/{id}/variations/batch` calls per parent; levels without a
/// product id are refused.
fn stock_calls(levels: &[InventoryPush]) -> (Vec<(usize, ItemError)>, Vec<StockCall>) {
    let mut refused = Vec::new();
    let mut simple: Vec<(usize, u64)> = Vec::new();
    let mut variations: BTreeMap<u64, Vec<(usize, u64)>> = BTreeMap::new();
    for (i, level) in levels.iter().enumerate() {
        let Some(product) = level.external_product_id.as_deref().and_then(parse_id) else {
            refused.push((
                i,
                ItemError::permanent(
                    "no_product_id",
                    "WooCommerce sets stock by product id; push the product first",
                ),
            ));
            continue;
        };
        match level.external_variant_id.as_deref().and_then(parse_id) {
            Some(variation) if variation != product => {
                variations.entry(product).or_default().push((i, variation))
            }
            _ => simple.push((i, product)),
        }
    }
    let mut calls: Vec<StockCall> = Vec::new();
    for chunk in simple.chunks(BATCH_LIMIT) {
        calls.push(("products/batch".into(), op::PRODUCTS_BATCH, chunk.to_vec()));
    }
    for (product, items) in &variations {
        for chunk in items.chunks(BATCH_LIMIT) {
            let path = format!("products/{product}/variations/batch");
            calls.push((path, op::VARIATIONS_BATCH, chunk.to_vec()));
        }
    }
    (refused, calls)
}
