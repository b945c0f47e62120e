//! Writes: products (productSet), prices (productVariantsBulkUpdate),
//! stock (inventorySetQuantities) and webhook subscriptions, batched.

use std::collections::{HashMap, VecDeque};

use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

use super::graphql::{self, Answer, Connection, Node, UserError};
use super::mapping::{self, SetPayload};
use super::{
    INVENTORY_PER_CALL, PRODUCTS_PER_CALL, SKUS_PER_LOOKUP, ShopifyChannel, TOPICS, setting,
};
use crate::{
    CallPlan, ChannelError, InventoryOutcome, InventoryPush, ItemError, ProductOutcome,
    ProductPush, ProductRef,
};

/// A new price for one variant, for [`ShopifyChannel::update_prices`].
#[derive(Debug, Clone, PartialEq)]
pub struct PriceUpdate {
    pub sku: String,
    pub product_id: String,
    pub variant_id: String,
    pub price: Decimal,
    pub compare_at_price: Option<Decimal>,
}

/// The result of one [`PriceUpdate`], in input order.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceOutcome {
    pub sku: String,
    pub result: Result<(), ItemError>,
}

struct Prepared {
    index: usize,
    input: Value,
    identifier: Value,
    cost: f64,
    variants: usize,
}

impl ShopifyChannel {
    /// Split `items` into requests of at most `per_call` items and `budget` points.
    fn pack(&self, items: Vec<Prepared>, per_call: usize) -> VecDeque<Vec<Prepared>> {
        let budget = self.budget();
        let mut batches = VecDeque::new();
        let mut current: Vec<Prepared> = Vec::new();
        let mut cost = 0.0;
        for item in items {
            if !current.is_empty()
                && (current.len() >= per_call || (cost + item.cost).ceil() > budget)
            {
                batches.push_back(std::mem::take(&mut current));
                cost = 0.0;
            }
            cost += item.cost;
            current.push(item);
        }
        if !current.is_empty() {
            batches.push_back(current);
        }
        batches
    }

    /// One request of aliased productSet calls; one result per product.
    async fn product_set_call(
        &self,
        products: &[ProductPush],
        batch: &[Prepared],
    ) -> Result<Vec<(usize, Result<ProductRef, ItemError>)>, ChannelError> {
        let mut decls = Vec::new();
        let mut fields = Vec::new();
        let mut variables = serde_json::Map::new();
        for (k, p) in batch.iter().enumerate() {
            decls.push(format!(
                "$in{k}: ProductSetInput!, $id{k}: ProductSetIdentifiers"
            ));
            fields.push(format!(
                "p{k}: productSet(input: $in{k}, identifier: $id{k}, synchronous: true) {{ \
                 product {{ id variants(first: {}) {{ nodes {{ id sku inventoryItem {{ id }} }} }} }} \
                 userErrors {{ field message code }} }}",
                p.variants.clamp(1, 250)
            ));
            variables.insert(format!("in{k}"), p.input.clone());
            variables.insert(format!("id{k}"), p.identifier.clone());
        }
        let query = format!(
            "mutation ShelfsyncProductSet({}) {{ {} }}",
            decls.join(", "),
            fields.join(" ")
        );
        let cost: f64 = batch.iter().map(|p| p.cost).sum();
        let answer: Answer<HashMap<String, Value>> = self
            .gql
            .call("productSet", cost, &query, Value::Object(variables))
            .await?;
        let data = answer.data.clone().unwrap_or_default();
        Ok(batch
            .iter()
            .enumerate()
            .map(|(k, p)| {
                let alias = format!("p{k}");
                let product = &products[p.index];
                let result = match data.get(&alias).filter(|v| !v.is_null()) {
                    Some(v) => match serde_json::from_value::<SetPayload>(v.clone()) {
                        Ok(payload) => mapping::product_outcome(product, payload),
                        Err(e) => Err(ItemError::retryable(
                            "PROTOCOL",
                            format!("productSet answer: {e}"),
                        )),
                    },
                    None => Err(alias_error(&answer, &alias)),
                };
                (p.index, result)
            })
            .collect())
    }

    /// Change variant prices with productVariantsBulkUpdate, which touches
    /// nothing else (productSet would replace the product's whole variant
    /// list). One alias per product, partial updates allowed, so one bad
    /// price does not hold back the others.
    pub async fn update_prices(
        &self,
        updates: &[PriceUpdate],
    ) -> Result<Vec<PriceOutcome>, ChannelError> {
        let mut results: Vec<Option<Result<(), ItemError>>> = vec![None; updates.len()];
        let mut by_product: Vec<(String, Vec<usize>)> = Vec::new();
        for (i, u) in updates.iter().enumerate() {
            match by_product.iter_mut().find(|(p, _)| p == &u.product_id) {
                Some((_, items)) => items.push(i),
                None => by_product.push((u.product_id.clone(), vec![i])),
            }
        }
        let groups: Vec<Prepared> = by_product
            .iter()
            .enumerate()
            .map(|(g, (_, items))| Prepared {
                index: g,
                input: Value::Null,
                identifier: Value::Null,
                cost: graphql::variants_bulk_cost(items.len()),
                variants: items.len(),
            })
            .collect();
        for batch in self.pack(groups, PRODUCTS_PER_CALL) {
            let mut decls = Vec::new();
            let mut fields = Vec::new();
            let mut variables = serde_json::Map::new();
            for (k, g) in batch.iter().enumerate() {
                let (product_id, items) = &by_product[g.index];
                decls.push(format!("$pid{k}: ID!, $v{k}: [ProductVariantsBulkInput!]!"));
                fields.push(format!(
                    "u{k}: productVariantsBulkUpdate(productId: $pid{k}, variants: $v{k}, allowPartialUpdates: true) \
                     {{ productVariants {{ id }} userErrors {{ field message code }} }}"
                ));
                variables.insert(format!("pid{k}"), json!(product_id));
                variables.insert(
                    format!("v{k}"),
                    Value::Array(
                        items
                            .iter()
                            .map(|&i| {
                                let u = &updates[i];
                                json!({"id": u.variant_id, "price": u.price.normalize().to_string(),
                                       "compareAtPrice": u.compare_at_price.map(|c| c.normalize().to_string())})
                            })
                            .collect(),
                    ),
                );
            }
            let query = format!(
                "mutation ShelfsyncPrices({}) {{ {} }}",
                decls.join(", "),
                fields.join(" ")
            );
            let cost: f64 = batch.iter().map(|g| g.cost).sum();
            let answer: Answer<HashMap<String, Value>> = self
                .gql
                .call(
                    "productVariantsBulkUpdate",
                    cost,
                    &query,
                    Value::Object(variables),
                )
                .await?;
            let data = answer.data.clone().unwrap_or_default();
            for (k, g) in batch.iter().enumerate() {
                let alias = format!("u{k}");
                let items = &by_product[g.index].1;
                let errors: Vec<UserError> = data
                    .get(&alias)
                    .and_then(|v| v.get("userErrors"))
                    .and_then(|v| serde_json::from_value(v.clone()).ok())
                    .unwrap_or_default();
                if data.get(&alias).is_none_or(Value::is_null) {
                    let e = alias_error(&answer, &alias);
                    items
                        .iter()
                        .for_each(|&i| results[i] = Some(Err(e.clone())));
                    continue;
                }
                for (pos, &i) in items.iter().enumerate() {
                    let mine: Vec<UserError> = errors
                        .iter()
                        .filter(|e| {
                            e.index_after("variants") == Some(pos)
                                || e.index_after("variants").is_none()
                        })
                        .cloned()
                        .collect();
                    results[i] = Some(if mine.is_empty() {
                        Ok(())
                    } else {
                        Err(mapping::item_error(&mine))
                    });
                }
            }
        }
        Ok(updates
            .iter()
            .zip(results)
            .map(|(u, r)| PriceOutcome {
                sku: u.sku.clone(),
                result: r.unwrap_or_else(|| Err(ItemError::retryable("NOT_SENT", "not sent"))),
            })
            .collect())
    }

    /// Inventory item ids for SKUs, from productVariants searches.
    async fn inventory_items(
        &self,
        skus: &[String],
    ) -> Result<HashMap<String, String>, ChannelError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Found {
            sku: Option<String>,
            inventory_item: Option<Node>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Data {
            product_variants: Connection<Found>,
        }
        let mut out = HashMap::new();
        let per = self.skus_per_lookup();
        for chunk in skus.chunks(per) {
            let search = chunk
                .iter()
                .map(|s| format!("sku:\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")))
                .collect::<Vec<_>>()
                .join(" OR ");
            let answer: Answer<Data> = self
                .gql
                .call(
                    "productVariants",
                    graphql::connection_cost(per, 2.0),
                    &format!(
                        "query ShelfsyncSkus($q: String!) {{ productVariants(first: {per}, query: $q) \
                         {{ nodes {{ sku inventoryItem {{ id }} }} }} }}"
                    ),
                    json!({"q": search}),
                )
                .await?;
            for v in answer
                .data
                .map(|d| d.product_variants.nodes)
                .unwrap_or_default()
            {
                if let (Some(sku), Some(item)) = (v.sku, v.inventory_item)
                    && chunk.contains(&sku)
                {
                    out.entry(sku).or_insert(item.id);
                }
            }
        }
        Ok(out)
    }

    /// The products [`mapping::check`] passes, by index; the others get
    /// their refusal in `results`.
    fn passing(
        &self,
        products: &[ProductPush],
        results: &mut [Option<Result<ProductRef, ItemError>>],
    ) -> Vec<usize> {
        let currency = setting(&self.config, "currency").and_then(Value::as_str);
        let mut passing = Vec::new();
        for (index, p) in products.iter().enumerate() {
            match crate::validate::refusal(mapping::check(p, currency)) {
                Ok(()) => passing.push(index),
                Err(e) => results[index] = Some(Err(e)),
            }
        }
        passing
    }

    /// The productSet requests for the products at `passing`, packed by
    /// [`Self::pack`]: what [`Self::upsert`] sends and [`Self::plan`] counts.
    fn product_set_batches(
        &self,
        products: &[ProductPush],
        passing: &[usize],
        location: &str,
        results: &mut [Option<Result<ProductRef, ItemError>>],
    ) -> VecDeque<Vec<Prepared>> {
        let currency = setting(&self.config, "currency").and_then(Value::as_str);
        let mut ready = Vec::new();
        for &index in passing {
            let p = &products[index];
            match mapping::product_set_input(p, Some(location), currency) {
                Ok((input, identifier)) => ready.push(Prepared {
                    index,
                    cost: graphql::product_set_cost(&input),
                    input,
                    identifier,
                    variants: p.variants.len(),
                }),
                Err(e) => results[index] = Some(Err(e)),
            }
        }
        self.pack(ready, PRODUCTS_PER_CALL)
    }

    /// The calls [`Self::upsert`] would make for `products` on a clean run:
    /// the location lookup while it is neither configured nor cached (and
    /// something is to be sent), then one productSet request per batch.
    pub(super) fn plan(&self, products: &[ProductPush]) -> CallPlan {
        let mut plan = CallPlan::default();
        let mut results = vec![None; products.len()];
        let passing = self.passing(products, &mut results);
        if passing.is_empty() {
            return plan;
        }
        if self.location_lookup_pending() {
            plan.add_once(
                "locations",
                1,
                graphql::whole_points(Self::location_lookup_cost()),
            );
        }
        // The location's id is only carried in the input; it costs nothing.
        let location = self
            .location
            .get()
            .cloned()
            .unwrap_or_else(|| "gid://shopify/Location/0".to_owned());
        for batch in self.product_set_batches(products, &passing, &location, &mut results) {
            plan.add(
                "productSet",
                1,
                graphql::whole_points(batch.iter().map(|p| p.cost).sum()),
            );
        }
        plan
    }

    /// productSet per product, aliased in batches; stock goes with it (at
    /// the connection's location). A batch Shopify refuses as a whole is
    /// re-sent one product at a time, so the refusal lands on its product.
    pub(super) async fn upsert(
        &self,
        products: &[ProductPush],
    ) -> Result<Vec<ProductOutcome>, ChannelError> {
        let mut results: Vec<Option<Result<ProductRef, ItemError>>> = vec![None; products.len()];
        let passing = self.passing(products, &mut results);
        if !passing.is_empty() {
            let location = self.location().await?;
            let queue = self.product_set_batches(products, &passing, &location, &mut results);
            self.send_product_sets(products, queue, &mut results)
                .await?;
        }
        Ok(products
            .iter()
            .zip(results)
            .map(|(p, r)| ProductOutcome {
                key: p.key.clone(),
                result: r.unwrap_or_else(|| Err(ItemError::retryable("NOT_SENT", "not sent"))),
            })
            .collect())
    }

    /// Send the packed batches; a batch refused as a whole is split.
    async fn send_product_sets(
        &self,
        products: &[ProductPush],
        mut queue: VecDeque<Vec<Prepared>>,
        results: &mut [Option<Result<ProductRef, ItemError>>],
    ) -> Result<(), ChannelError> {
        while let Some(batch) = queue.pop_front() {
            match self.product_set_call(products, &batch).await {
                Ok(done) => done.into_iter().for_each(|(i, r)| results[i] = Some(r)),
                Err(ChannelError::Rejected { .. } | ChannelError::Protocol(_))
                    if batch.len() > 1 =>
                {
                    queue.extend(batch.into_iter().map(|p| vec![p]));
                }
                Err(ChannelError::Rejected { status, message }) => {
                    results[batch[0].index] = Some(Err(ItemError::permanent(
                        format!("REJECTED_{status}"),
                        message,
                    )));
                }
                Err(ChannelError::Protocol(message)) => {
                    results[batch[0].index] = Some(Err(ItemError::retryable("PROTOCOL", message)));
                }
                Err(other) => return Err(other),
            }
        }
        Ok(())
    }

    /// SKUs one `productVariants` lookup asks for: as many as the query
    /// cost allows, at most [`SKUS_PER_LOOKUP`]. The lookup and its plan
    /// both size pages with this.
    fn skus_per_lookup(&self) -> usize {
        self.page_size(2.0, 0.0).min(SKUS_PER_LOOKUP)
    }

    /// The calls [`Self::set_levels`] makes on a clean run: the SKU lookup
    /// for levels without an inventory item id, the location while it is
    /// not known, then one mutation per [`INVENTORY_PER_CALL`] levels.
    pub(super) fn plan_levels(&self, levels: &[InventoryPush]) -> CallPlan {
        let mut plan = CallPlan::default();
        if levels.is_empty() {
            return plan;
        }
        let unknown = levels.iter().filter(|l| l.inventory_ref.is_none()).count();
        if unknown > 0 {
            let per = self.skus_per_lookup();
            let calls = unknown.div_ceil(per.max(1)) as u32;
            let units =
                graphql::whole_points(graphql::connection_cost(per, 2.0)) * f64::from(calls);
            plan.add("productVariants", calls, units);
        }
        if self.location_lookup_pending() {
            plan.add_once(
                "locations",
                1,
                graphql::whole_points(Self::location_lookup_cost()),
            );
        }
        let calls = levels.len().div_ceil(INVENTORY_PER_CALL) as u32;
        plan.add("inventorySetQuantities", calls, 10.0 * f64::from(calls));
        plan
    }

    /// inventorySetQuantities, 250 levels a call, absolute "available"
    /// quantities at the connection's location. The mutation is all or
    /// nothing, so the levels it refuses get their errors and the rest are
    /// sent again (with a new idempotency key: the arguments changed).
    pub(super) async fn set_levels(
        &self,
        levels: &[InventoryPush],
    ) -> Result<Vec<InventoryOutcome>, ChannelError> {
        let mut results: Vec<Option<Result<(), ItemError>>> = vec![None; levels.len()];
        if levels.is_empty() {
            return Ok(Vec::new());
        }
        let unknown: Vec<String> = levels
            .iter()
            .filter(|l| l.inventory_ref.is_none())
            .map(|l| l.sku.clone())
            .collect();
        let found = if unknown.is_empty() {
            HashMap::new()
        } else {
            self.inventory_items(&unknown).await?
        };
        let location = self.location().await?;
        let mut items: Vec<(usize, String)> = Vec::new();
        for (i, l) in levels.iter().enumerate() {
            match l
                .inventory_ref
                .clone()
                .or_else(|| found.get(&l.sku).cloned())
            {
                Some(item) => items.push((i, item)),
                None => {
                    results[i] = Some(Err(ItemError::permanent(
                        "UNKNOWN_SKU",
                        format!("no variant with SKU {} on the shop", l.sku),
                    )))
                }
            }
        }
        const MUTATION: &str = "mutation ShelfsyncInventory($input: InventorySetQuantitiesInput!, $key: String!) { \
            inventorySetQuantities(input: $input) @idempotent(key: $key) { \
            inventoryAdjustmentGroup { id } userErrors { field message code } } }";
        for chunk in items.chunks(INVENTORY_PER_CALL) {
            let mut remaining = chunk.to_vec();
            while !remaining.is_empty() {
                let quantities: Vec<Value> = remaining
                    .iter()
                    .map(|(i, item)| json!({"inventoryItemId": item, "locationId": location,
                                            "quantity": levels[*i].quantity, "changeFromQuantity": null}))
                    .collect();
                let variables = json!({
                    "input": {"name": "available", "reason": "correction", "quantities": quantities},
                    "key": uuid::Uuid::new_v4().to_string(),
                });
                let answer: Answer<HashMap<String, Value>> = match self
                    .gql
                    .call("inventorySetQuantities", 10.0, MUTATION, variables)
                    .await
                {
                    Ok(a) => a,
                    Err(ChannelError::Rejected { status, message }) => {
                        let e = ItemError::permanent(format!("REJECTED_{status}"), message);
                        remaining
                            .iter()
                            .for_each(|(i, _)| results[*i] = Some(Err(e.clone())));
                        break;
                    }
                    Err(other) => return Err(other),
                };
                let payload = answer
                    .data
                    .as_ref()
                    .and_then(|d| d.get("inventorySetQuantities"))
                    .filter(|v| !v.is_null());
                let Some(payload) = payload else {
                    let e = alias_error(&answer, "inventorySetQuantities");
                    remaining
                        .iter()
                        .for_each(|(i, _)| results[*i] = Some(Err(e.clone())));
                    break;
                };
                let errors: Vec<UserError> = payload
                    .get("userErrors")
                    .and_then(|v| serde_json::from_value(v.clone()).ok())
                    .unwrap_or_default();
                if errors.is_empty() {
                    remaining
                        .iter()
                        .for_each(|(i, _)| results[*i] = Some(Ok(())));
                    break;
                }
                let mut refused = vec![false; remaining.len()];
                for e in &errors {
                    if let Some(pos) = e.index_after("quantities").filter(|p| *p < remaining.len())
                    {
                        refused[pos] = true;
                        results[remaining[pos].0] =
                            Some(Err(inventory_error(std::slice::from_ref(e))));
                    }
                }
                if !refused.contains(&true) {
                    let e = inventory_error(&errors);
                    remaining
                        .iter()
                        .for_each(|(i, _)| results[*i] = Some(Err(e.clone())));
                    break;
                }
                remaining = remaining
                    .into_iter()
                    .zip(refused)
                    .filter(|(_, r)| !r)
                    .map(|(item, _)| item)
                    .collect();
            }
        }
        Ok(levels
            .iter()
            .zip(results)
            .map(|(l, r)| InventoryOutcome {
                sku: l.sku.clone(),
                result: r.unwrap_or_else(|| Err(ItemError::retryable("NOT_SENT", "not sent"))),
            })
            .collect())
    }

    /// webhookSubscriptionCreate for each topic in one request. A topic
    /// already sent to `callback` counts as subscribed.
    pub(super) async fn subscribe(&self, callback: &Url) -> Result<(), ChannelError> {
        let fields: Vec<String> = TOPICS
            .iter()
            .enumerate()
            .map(|(k, topic)| {
                format!(
                    "w{k}: webhookSubscriptionCreate(topic: {topic}, webhookSubscription: {{uri: $uri, format: JSON}}) \
                     {{ webhookSubscription {{ id }} userErrors {{ field message }} }}"
                )
            })
            .collect();
        let query = format!(
            "mutation ShelfsyncWebhooks($uri: String!) {{ {} }}",
            fields.join(" ")
        );
        let answer: Answer<HashMap<String, Value>> = self
            .gql
            .call(
                "webhookSubscriptionCreate",
                10.0 * TOPICS.len() as f64,
                &query,
                json!({"uri": callback.as_str()}),
            )
            .await?;
        let data = answer.data.clone().unwrap_or_default();
        let mut problems = Vec::new();
        for (k, topic) in TOPICS.iter().enumerate() {
            let alias = format!("w{k}");
            let Some(payload) = data.get(&alias).filter(|v| !v.is_null()) else {
                problems.push(format!("{topic}: {}", alias_error(&answer, &alias).message));
                continue;
            };
            let errors: Vec<UserError> = payload
                .get("userErrors")
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .unwrap_or_default();
            for e in errors {
                if !e.message.contains("already been taken") {
                    problems.push(format!("{topic}: {}", e.message));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ChannelError::Rejected {
                status: 200,
                message: problems.join("; "),
            })
        }
    }
}

/// Why an alias came back without data: its GraphQL errors, or nothing.
fn alias_error<T>(answer: &Answer<T>, alias: &str) -> ItemError {
    let errors: Vec<_> = answer
        .errors
        .iter()
        .filter(|e| e.root() == Some(alias))
        .collect();
    if errors.is_empty() {
        return ItemError::retryable("MISSING_RESULT", format!("no answer for {alias}"));
    }
    ItemError::permanent(
        errors
            .iter()
            .find_map(|e| e.code())
            .unwrap_or("GRAPHQL_ERROR"),
        errors
            .iter()
            .map(|e| e.message.as_str())
            .collect::<Vec<_>>()
            .join("; "),
    )
}

/// Inventory errors worth retrying unchanged.
fn inventory_error(errors: &[UserError]) -> ItemError {
    let mut e = mapping::item_error(errors);
    e.retryable = matches!(
        e.code.as_str(),
        "CHANGE_FROM_QUANTITY_STALE"
            | "IDEMPOTENCY_CONCURRENT_REQUEST"
            | "IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED"
    );
    e
}
