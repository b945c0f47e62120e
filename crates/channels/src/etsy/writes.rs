//! Writes: listings created and updated, stock set. Etsy has no
//! multi-listing write, so each product is its own calls: a new one is
//! created as a draft, given its inventory, then published; an existing
//! one has its fields and state patched, then its inventory replaced.
//! Stock is read for up to 100 listings at once and each listing's whole
//! inventory written back once with the new quantities.

use std::collections::HashMap;
use std::sync::Arc;

use super::wire::{self, InventoryUpdate, ListingInventory, ShopListing};
use super::{Inner, Page, item_error, success};
use crate::error::ChannelError;
use crate::model::*;

impl Inner {
    /// Every product, several listings at once (each paced by the gate).
    pub(super) async fn upsert_all(
        self: &Arc<Self>,
        products: &[ProductPush],
    ) -> Result<Vec<ProductOutcome>, ChannelError> {
        let mut outcomes: Vec<Option<ProductOutcome>> = vec![None; products.len()];
        let mut tasks = tokio::task::JoinSet::new();
        let mut next = 0;
        while next < products.len() || !tasks.is_empty() {
            while tasks.len() < self.concurrency && next < products.len() {
                let inner = self.clone();
                let product = products[next].clone();
                let index = next;
                tasks.spawn(async move { (index, inner.upsert_one(&product).await) });
                next += 1;
            }
            let Some(joined) = tasks.join_next().await else {
                break;
            };
            let (index, result) = joined
                .map_err(|e| ChannelError::Transient(format!("listing write stopped: {e}")))?;
            match result {
                Ok(result) => {
                    outcomes[index] = Some(ProductOutcome {
                        key: products[index].key.clone(),
                        result,
                    })
                }
                Err(fatal) => {
                    tasks.abort_all();
                    return Err(fatal);
                }
            }
        }
        Ok(outcomes.into_iter().flatten().collect())
    }

    /// Stock levels grouped by listing, 100 listings per batch read.
    pub(super) async fn set_all(
        &self,
        levels: &[InventoryPush],
    ) -> Result<Vec<InventoryOutcome>, ChannelError> {
        let mut outcomes: Vec<Option<InventoryOutcome>> = vec![None; levels.len()];
        let mut groups: HashMap<u64, Vec<(usize, &InventoryPush)>> = HashMap::new();
        let mut order: Vec<u64> = Vec::new();
        for (i, level) in levels.iter().enumerate() {
            match level.external_product_id.as_deref().map(str::parse::<u64>) {
                Some(Ok(id)) => {
                    if !groups.contains_key(&id) {
                        order.push(id);
                    }
                    groups.entry(id).or_default().push((i, level));
                }
                _ => {
                    outcomes[i] = Some(outcome(
                        level,
                        Err(ItemError::permanent(
                            "no_listing",
                            "Etsy sets stock per listing: the listing id is needed",
                        )),
                    ))
                }
            }
        }
        for chunk in order.chunks(100) {
            self.set_stock(chunk, &groups, &mut outcomes).await?;
        }
        Ok(outcomes.into_iter().flatten().collect())
    }

    /// The listing fields of `createDraftListing` or `updateListing` (form
    /// bodies, tags comma-separated); Etsy requires a description, so the
    /// title stands in when there is none.
    fn listing_form(&self, product: &ProductPush, creating: bool) -> Vec<(&'static str, String)> {
        let title = product.title.trim().to_owned();
        let description = product
            .description
            .as_deref()
            .map(super::text::plain_text)
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| title.clone());
        let mut form = vec![("title", title), ("description", description)];
        let tags = super::text::etsy_tags(&product.tags);
        if !tags.is_empty() {
            form.push(("tags", tags.join(",")));
        }
        if let Some(grams) = product.variants.iter().find_map(|v| v.weight_grams) {
            form.push(("item_weight", grams.normalize().to_string()));
            form.push(("item_weight_unit", "g".into()));
        }
        let d = &self.defaults;
        if let Some(id) = d.shipping_profile_id {
            form.push(("shipping_profile_id", id.to_string()));
        }
        if let Some(id) = d.return_policy_id {
            form.push(("return_policy_id", id.to_string()));
        }
        if creating {
            form.push(("who_made", d.who_made.clone()));
            form.push(("when_made", d.when_made.clone()));
            form.push(("taxonomy_id", d.taxonomy_id.to_string()));
            if let Some(id) = d.readiness_state_id {
                form.push(("readiness_state_id", id.to_string()));
            }
        }
        form
    }

    /// What Etsy would refuse anyway, caught before any call is spent:
    /// the shared rules, Etsy's limits ([`super::limits`]), at most two
    /// variation properties, options for several SKUs, prices in the shop's
    /// currency, a numeric listing id, and an inventory that can be built.
    pub(super) fn check(&self, product: &ProductPush) -> Vec<ItemError> {
        let mut errors = crate::validate::common(product);
        errors.extend(super::limits::check(product));
        errors.extend(crate::validate::option_count(
            product,
            wire::CUSTOM_PROPERTY_IDS.len(),
            "Etsy (custom variation properties)",
        ));
        errors.extend(crate::validate::options_for_variants(product, "Etsy"));
        errors.extend(crate::validate::currency_matches(
            product,
            self.currency.as_deref(),
        ));
        if let Some(id) = product.external_id.as_deref()
            && id.parse::<u64>().is_err()
        {
            errors.push(ItemError::permanent(
                crate::validate::INVALID_EXTERNAL_ID,
                format!("external_id: {id} is not an Etsy listing id"),
            ));
        }
        if errors.is_empty()
            && let Err(e) = wire::inventory_for(product, self.defaults.readiness_state_id)
        {
            errors.push(e);
        }
        errors
    }

    /// The calls [`Self::upsert_all`] makes for `products` when Etsy accepts
    /// them: [`steps`] for every product [`Self::check`] passes.
    pub(super) fn plan(&self, products: &[ProductPush]) -> CallPlan {
        let mut plan = CallPlan::default();
        for product in products.iter().filter(|p| self.check(p).is_empty()) {
            for step in steps(product) {
                plan.add(step.operation(), 1, 1.0);
            }
        }
        plan
    }

    async fn put_inventory(
        &self,
        listing_id: u64,
        body: &InventoryUpdate,
    ) -> Result<ListingInventory, ChannelError> {
        let url = self.url(&format!("v3/application/listings/{listing_id}/inventory"));
        let reply = self
            .call("updateListingInventory", |c| c.put(url.clone()).json(body))
            .await?;
        success(reply)?.json()
    }

    async fn patch_listing(
        &self,
        listing_id: u64,
        form: &[(&'static str, String)],
    ) -> Result<ShopListing, ChannelError> {
        let url = self.url(&format!(
            "v3/application/shops/{}/listings/{listing_id}",
            self.shop_id
        ));
        let reply = self
            .call("updateListing", |c| c.patch(url.clone()).form(form))
            .await?;
        success(reply)?.json()
    }

    /// One product: create its listing (draft, inventory, then publish) or
    /// update it (fields and state, then inventory), one call per [`steps`].
    /// The outer error fails the whole batch; the inner one is this product's.
    async fn upsert_one(
        &self,
        product: &ProductPush,
    ) -> Result<Result<ProductRef, ItemError>, ChannelError> {
        if let Err(e) = crate::validate::refusal(self.check(product)) {
            return Ok(Err(e));
        }
        let inventory = match wire::inventory_for(product, self.defaults.readiness_state_id) {
            Ok(i) => i,
            Err(e) => return Ok(Err(e)),
        };
        // `check` made sure an external id is a listing id.
        let mut listing_id = product
            .external_id
            .as_deref()
            .and_then(|id| id.parse().ok());
        let mut created = false;
        let mut held = None;
        for step in steps(product) {
            let done = match (step, listing_id) {
                (Step::CreateDraft, _) => self.create_draft(product).await.map(|id| {
                    listing_id = Some(id);
                    created = true;
                }),
                (Step::UpdateListing, Some(id)) => {
                    let form = self.update_form(product);
                    self.patch_listing(id, &form).await.map(drop)
                }
                (Step::PutInventory, Some(id)) => self
                    .put_inventory(id, &inventory)
                    .await
                    .map(|h| held = Some(h)),
                (Step::Publish, Some(id)) => self
                    .patch_listing(id, &[("state", "active".to_owned())])
                    .await
                    .map(drop),
                (_, None) => Err(ChannelError::Protocol("no listing id to write to".into())),
            };
            if let Err(e) = done {
                // A draft exists from its creation on: a failure names it, so
                // it can be found (and deleted) rather than silently duplicated.
                let e = match (created, listing_id) {
                    (true, Some(id)) => draft_left(id, e),
                    _ => e,
                };
                return item_error(e).map(Err);
            }
        }
        match (listing_id, held) {
            (Some(id), Some(held)) => match product_ref(id, product, &held) {
                Ok(r) => Ok(Ok(r)),
                Err(e) => item_error(e).map(Err),
            },
            _ => Ok(Err(ItemError::retryable(
                "etsy_protocol",
                "the listing was written without an inventory answer",
            ))),
        }
    }

    /// `createDraftListing`; the new listing's id.
    async fn create_draft(&self, product: &ProductPush) -> Result<u64, ChannelError> {
        let mut form = self.listing_form(product, true);
        let quantity: i64 = product.variants.iter().map(|v| v.quantity.max(0)).sum();
        // A draft needs a positive quantity; the inventory sets the real ones.
        form.push(("quantity", quantity.max(1).to_string()));
        let min_price = product
            .variants
            .iter()
            .map(|v| v.price)
            .min()
            .unwrap_or_default();
        form.push(("price", min_price.normalize().to_string()));
        let url = self.url(&format!("v3/application/shops/{}/listings", self.shop_id));
        let reply = self
            .call("createDraftListing", |c| c.post(url.clone()).form(&form))
            .await?;
        let listing: ShopListing = success(reply)?.json()?;
        Ok(listing.listing_id)
    }

    /// `updateListing`'s fields and state for an existing listing.
    fn update_form(&self, product: &ProductPush) -> Vec<(&'static str, String)> {
        let mut form = self.listing_form(product, false);
        match product.status {
            PushStatus::Active => form.push(("state", "active".into())),
            PushStatus::Archived => form.push(("state", "inactive".into())),
            // The API cannot return a listing to draft; leave its state be.
            PushStatus::Draft => {}
        }
        form
    }

    /// Stock for the levels of some listings: one batch read of their
    /// inventories, then one write per listing.
    async fn set_stock(
        &self,
        listing_ids: &[u64],
        groups: &HashMap<u64, Vec<(usize, &InventoryPush)>>,
        outcomes: &mut [Option<InventoryOutcome>],
    ) -> Result<(), ChannelError> {
        let ids = listing_ids
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let url = self.url("v3/application/listings/batch");
        let read = self
            .call("getListingsByListingIds", |c| {
                c.get(url.clone())
                    .query(&[("listing_ids", ids.as_str()), ("includes", "Inventory")])
            })
            .await
            .and_then(success)
            .and_then(|r| r.json::<Page<ShopListing>>());
        let page = match read {
            Ok(page) => page,
            Err(e) => {
                let err = item_error(e)?;
                for id in listing_ids {
                    for (i, level) in &groups[id] {
                        outcomes[*i] = Some(outcome(level, Err(err.clone())));
                    }
                }
                return Ok(());
            }
        };
        let found: HashMap<u64, &ShopListing> =
            page.results.iter().map(|l| (l.listing_id, l)).collect();
        for id in listing_ids {
            let levels = &groups[id];
            let Some(inventory) = found.get(id).and_then(|l| l.inventory.as_ref()) else {
                let err = ItemError::permanent(
                    "listing_not_found",
                    format!("listing {id} is not in the shop (or has no inventory)"),
                );
                for (i, level) in levels {
                    outcomes[*i] = Some(outcome(level, Err(err.clone())));
                }
                continue;
            };
            let mut quantities = HashMap::new();
            let mut placed = Vec::new();
            for (i, level) in levels {
                match find_product(inventory, level) {
                    Some(product_id) => {
                        quantities.insert(product_id, level.quantity);
                        placed.push((*i, *level));
                    }
                    None => {
                        outcomes[*i] = Some(outcome(
                            level,
                            Err(ItemError::permanent(
                                "sku_not_in_listing",
                                format!("SKU {} is not in listing {id}", level.sku),
                            )),
                        ));
                    }
                }
            }
            if placed.is_empty() {
                continue;
            }
            let result = match wire::inventory_with_quantities(inventory, &quantities) {
                Err(e) => Err(e),
                Ok(body) => match self.put_inventory(*id, &body).await {
                    Ok(_) => Ok(()),
                    Err(e) => Err(item_error(e)?),
                },
            };
            for (i, level) in placed {
                outcomes[i] = Some(outcome(level, result.clone()));
            }
        }
        Ok(())
    }
}

/// One call of a product's write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    CreateDraft,
    UpdateListing,
    PutInventory,
    Publish,
}

impl Step {
    /// The operation the call is charged under.
    pub(super) fn operation(self) -> &'static str {
        match self {
            Step::CreateDraft => "createDraftListing",
            Step::UpdateListing | Step::Publish => "updateListing",
            Step::PutInventory => "updateListingInventory",
        }
    }
}

/// The calls that write `product`, in order: a new listing is created as a
/// draft, given its inventory, then published if it is to be active; an
/// existing one has its fields and state patched, then its inventory
/// replaced. Etsy has no multi-listing write, so this is per product.
pub(super) fn steps(product: &ProductPush) -> Vec<Step> {
    match product.external_id {
        Some(_) => vec![Step::UpdateListing, Step::PutInventory],
        None if product.status == PushStatus::Active => {
            vec![Step::CreateDraft, Step::PutInventory, Step::Publish]
        }
        None => vec![Step::CreateDraft, Step::PutInventory],
    }
}

fn draft_left(listing_id: u64, error: ChannelError) -> ChannelError {
    match error {
        ChannelError::Rejected { status, message } => ChannelError::Rejected {
            status,
            message: format!("draft listing {listing_id} was created, then: {message}"),
        },
        ChannelError::Protocol(m) => {
            ChannelError::Protocol(format!("draft listing {listing_id} was created, then: {m}"))
        }
        ChannelError::Transient(m) => {
            ChannelError::Transient(format!("draft listing {listing_id} was created, then: {m}"))
        }
        other => other,
    }
}

fn outcome(level: &InventoryPush, result: Result<(), ItemError>) -> InventoryOutcome {
    InventoryOutcome {
        sku: level.sku.clone(),
        result,
    }
}

/// The Etsy product a stock level is for: by SKU, else by product id.
fn find_product(inventory: &ListingInventory, level: &InventoryPush) -> Option<u64> {
    let live = || inventory.products.iter().filter(|p| !p.is_deleted);
    live()
        .find(|p| p.sku() == Some(level.sku.as_str()))
        .or_else(|| {
            let id: u64 = level.external_variant_id.as_deref()?.parse().ok()?;
            live().find(|p| p.product_id == id)
        })
        .map(|p| p.product_id)
}

fn product_ref(
    listing_id: u64,
    product: &ProductPush,
    held: &ListingInventory,
) -> Result<ProductRef, ChannelError> {
    let variants = product
        .variants
        .iter()
        .map(|v| {
            held.products
                .iter()
                .find(|p| !p.is_deleted && p.sku() == Some(v.sku.as_str()))
                .map(|p| VariantRef {
                    sku: v.sku.clone(),
                    external_id: p.product_id.to_string(),
                    inventory_ref: None,
                })
                .ok_or_else(|| {
                    ChannelError::Protocol(format!(
                        "listing {listing_id}'s inventory came back without SKU {}",
                        v.sku
                    ))
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ProductRef {
        external_id: listing_id.to_string(),
        variants,
    })
}
