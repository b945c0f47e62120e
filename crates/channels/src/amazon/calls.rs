//! The calls behind the adapter: LWA token upkeep, one SP-API request at
//! a time through the quota gate, and the per-SKU submissions a batch is
//! made of (sources in `mod.rs`).

use std::future::Future;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use http::{Method, StatusCode};
use serde_json::Value;
use shelfsync_core::quota::QuotaReport;
use shelfsync_core::vault::ExposeSecret;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use url::Url;

use super::wire::{self, ErrorList, Family, ListingContext};
use super::{OP_GET_ORDER_ITEMS, OP_PATCH_ITEM, OP_PUT_ITEM};
use crate::CallPlan;
use crate::credentials::{AppCredentials, OAuthTokens};
use crate::http::{ChannelHttp, Reply};
use crate::oauth::OAuthEndpoints;
use crate::{
    ChannelError, InventoryOutcome, InventoryPush, ItemError, ProductOutcome, ProductPush,
    ProductRef, VariantRef,
};

pub(super) struct Inner {
    pub(super) http: ChannelHttp,
    pub(super) client: reqwest::Client,
    pub(super) oauth: OAuthEndpoints,
    pub(super) app: Option<AppCredentials>,
    pub(super) seller_id: String,
    pub(super) api: Url,
    pub(super) ctx: ListingContext,
    pub(super) tokens: Mutex<OAuthTokens>,
    /// One LWA refresh at a time; the others wait and use its token.
    pub(super) refreshing: tokio::sync::Mutex<()>,
    pub(super) concurrency: usize,
}

/// SP-API reports the plan's rate (`x-amzn-RateLimit-Limit`), not what
/// remains, and signals throttling only by 429, which `ChannelHttp` sees.
pub(super) fn inspect(_reply: &Reply) -> QuotaReport {
    QuotaReport::default()
}

fn is_refused_token(reply: &Reply) -> bool {
    reply.status == StatusCode::FORBIDDEN
        && reply
            .json::<ErrorList>()
            .is_ok_and(|e| e.errors.iter().any(|e| e.code == "Unauthorized"))
}

pub(super) fn error_text(reply: &Reply) -> String {
    match reply.json::<ErrorList>() {
        Ok(list) => list.summary(),
        Err(_) => reply.body_excerpt(),
    }
}

/// Whether an error stops the whole batch (every other item would fail the
/// same way) rather than just the item that met it.
fn stops_batch(error: &ChannelError) -> bool {
    matches!(
        error,
        ChannelError::Unauthorized(_) | ChannelError::Config(_)
    )
}

fn item_error(error: ChannelError) -> ItemError {
    let code = match &error {
        ChannelError::Throttled { .. } | ChannelError::QuotaExhausted { .. } => "throttled",
        ChannelError::Transient(_) => "transient",
        ChannelError::Rejected { .. } => "rejected",
        ChannelError::Protocol(_) => "protocol",
        ChannelError::Unauthorized(_) | ChannelError::Config(_) => "unauthorized",
    };
    ItemError {
        code: code.into(),
        retryable: error.is_retryable(),
        message: error.to_string(),
    }
}

/// The operation name a plan gives the LWA token refresh (not an SP-API
/// call: no SP-API quota applies to it).
pub const OP_REFRESH_TOKEN: &str = "lwa.refreshToken";

/// Amazon's limits: `item_name` holds at most 200 characters (the
/// `maxLength` product type definitions give it, e.g.
/// https://developer-docs.amazon.com/sp-api/docs/product-type-definitions-api-v2020-09-01-reference),
/// and a seller SKU at most 40 (Listings Items answers "Invalid 'sku'"
/// beyond that: https://github.com/amz-tools/amazon-sp-api/issues/126).
pub const TITLE_MAX: usize = 200;
pub const SKU_MAX: usize = 40;

/// What Amazon would refuse a product for, known without a call: the
/// shared rules, the title and SKU limits, and a parent SKU (the handle or
/// external id) for a variation family.
pub(super) fn check(product: &ProductPush) -> Vec<ItemError> {
    let mut errors = crate::validate::common(product);
    errors.extend(crate::validate::title_length(product, TITLE_MAX, "Amazon"));
    errors.extend(crate::validate::sku_length(product, SKU_MAX, "Amazon"));
    if let Some(family) = Family::of(product) {
        let length = family.parent_sku.chars().count();
        if family.parent_sku.trim().is_empty() {
            errors.push(ItemError::permanent(
                "PARENT_SKU_EMPTY",
                "handle: a variation family needs a handle for its parent SKU",
            ));
        } else if length > SKU_MAX {
            errors.push(ItemError::permanent(
                crate::validate::SKU_TOO_LONG,
                format!(
                    "handle: parent SKU {} has {length} characters; Amazon allows at most {SKU_MAX}",
                    family.parent_sku
                ),
            ));
        }
    }
    errors
}

/// One putListingsItem of a product.
pub(super) struct Submission {
    pub sku: String,
    pub body: Value,
    pub parent: bool,
}

/// The listing items a product is put as: a variation family's parent
/// first, then one item per variant (a standalone product is one item).
pub(super) fn submissions(
    product: &ProductPush,
    family: Option<&Family>,
    ctx: &wire::ListingContext,
) -> Vec<Submission> {
    let mut items = Vec::with_capacity(product.variants.len() + 1);
    if let Some(family) = family {
        items.push(Submission {
            sku: family.parent_sku.clone(),
            body: wire::parent_body(product, family, ctx),
            parent: true,
        });
    }
    for variant in &product.variants {
        items.push(Submission {
            sku: variant.sku.clone(),
            body: wire::variant_body(product, variant, family, ctx),
            parent: false,
        });
    }
    items
}

impl Inner {
    fn access_token(&self) -> String {
        self.tokens
            .lock()
            .expect("token lock")
            .access_token
            .expose_secret()
            .to_owned()
    }

    /// Whether the next call will refresh the access token first.
    fn refresh_due(&self) -> bool {
        self.tokens
            .lock()
            .expect("token lock")
            .needs_refresh(Utc::now(), chrono::Duration::seconds(60))
    }

    fn can_refresh(&self) -> bool {
        self.app.is_some()
            && self
                .tokens
                .lock()
                .expect("token lock")
                .refresh_token
                .is_some()
    }

    /// Trade the refresh token for a new access token, unless another call
    /// already replaced `stale`.
    async fn refresh(&self, stale: &str) -> Result<(), ChannelError> {
        let _one_at_a_time = self.refreshing.lock().await;
        if self.access_token() != stale {
            return Ok(());
        }
        let app = self
            .app
            .as_ref()
            .ok_or_else(|| ChannelError::Config("no LWA app credentials to refresh with".into()))?;
        let current = self.tokens.lock().expect("token lock").clone();
        let fresh =
            crate::oauth::refresh(&self.client, &self.oauth, app, &current, Utc::now()).await?;
        *self.tokens.lock().expect("token lock") = fresh;
        tracing::debug!(seller = %self.seller_id, "refreshed the LWA access token");
        Ok(())
    }

    /// One SP-API call: refreshes the LWA token when it is about to expire
    /// or Amazon refuses it, and turns any other 403 into `Unauthorized`.
    /// Other answers are returned for the caller to judge.
    pub(super) async fn call(
        &self,
        operation: &'static str,
        method: Method,
        url: &Url,
        body: Option<&Value>,
    ) -> Result<Reply, ChannelError> {
        if self.refresh_due() {
            self.refresh(&self.access_token()).await?;
        }
        let mut refreshed = false;
        loop {
            let token = self.access_token();
            let build = |client: &reqwest::Client| {
                let request = client
                    .request(method.clone(), url.clone())
                    .header("x-amz-access-token", token.as_str())
                    .header("accept", "application/json");
                match body {
                    Some(body) => request.json(body),
                    None => request,
                }
            };
            let reply = self.http.send(operation, 1.0, build, &inspect).await?;
            if reply.status != StatusCode::FORBIDDEN {
                return Ok(reply);
            }
            if !refreshed && is_refused_token(&reply) && self.can_refresh() {
                refreshed = true;
                self.refresh(&token).await?;
                continue;
            }
            return Err(ChannelError::Unauthorized(error_text(&reply)));
        }
    }

    pub(super) fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut url = self.api.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    fn item_url(&self, sku: &str) -> Url {
        self.url(
            &[
                "listings",
                "2021-08-01",
                "items",
                self.seller_id.as_str(),
                sku,
            ],
            &[("marketplaceIds", &self.ctx.marketplace_id)],
        )
    }

    /// Put or patch one SKU: the item's own outcome, or an error that stops
    /// the batch.
    async fn submit(
        &self,
        operation: &'static str,
        method: Method,
        sku: &str,
        body: &Value,
    ) -> Result<Result<(), ItemError>, ChannelError> {
        let reply = match self
            .call(operation, method, &self.item_url(sku), Some(body))
            .await
        {
            Ok(reply) => reply,
            Err(error) if stops_batch(&error) => return Err(error),
            Err(error) => return Ok(Err(item_error(error))),
        };
        if reply.status.is_success() {
            return Ok(match reply.json::<wire::SubmissionResponse>() {
                Ok(submission) => submission.into_result(),
                Err(error) => Err(item_error(error)),
            });
        }
        let message = format!("SKU {sku}: {}", error_text(&reply));
        let code = reply
            .json::<ErrorList>()
            .ok()
            .and_then(|e| e.errors.first().map(|e| e.code.clone()))
            .unwrap_or_else(|| reply.status.as_u16().to_string());
        Ok(Err(ItemError::permanent(code, message)))
    }

    /// Put every listing item of one product, parent first: one call per
    /// [`submissions`] entry. A refused parent stops its children.
    pub(super) async fn upsert_product(
        &self,
        product: ProductPush,
    ) -> Result<ProductOutcome, ChannelError> {
        let outcome = |result| ProductOutcome {
            key: product.key.clone(),
            result,
        };
        if let Err(error) = crate::validate::refusal(check(&product)) {
            return Ok(outcome(Err(error)));
        }
        let family = Family::of(&product);
        let mut first_error = None;
        for item in submissions(&product, family.as_ref(), &self.ctx) {
            if let Err(error) = self
                .submit(OP_PUT_ITEM, Method::PUT, &item.sku, &item.body)
                .await?
            {
                if item.parent {
                    return Ok(outcome(Err(error)));
                }
                first_error.get_or_insert(error);
            }
        }
        if let Some(error) = first_error {
            return Ok(outcome(Err(error)));
        }
        let external_id = match &family {
            Some(family) => family.parent_sku.clone(),
            None => product.variants[0].sku.clone(),
        };
        let variants = product
            .variants
            .iter()
            .map(|v| VariantRef {
                sku: v.sku.clone(),
                external_id: v.sku.clone(),
                inventory_ref: None,
            })
            .collect();
        Ok(outcome(Ok(ProductRef {
            external_id,
            variants,
        })))
    }

    /// The calls `upsert_products` makes for `products` when Amazon accepts
    /// them: a token refresh when the access token is about to expire (one,
    /// shared by every task), then one putListingsItem per [`submissions`]
    /// entry of each product [`check`] passes.
    pub(super) fn plan(&self, products: &[ProductPush]) -> CallPlan {
        let mut plan = CallPlan::default();
        let mut puts = 0u32;
        for product in products.iter().filter(|p| check(p).is_empty()) {
            let family = Family::of(product);
            puts += submissions(product, family.as_ref(), &self.ctx).len() as u32;
        }
        if puts > 0 && self.refresh_due() {
            plan.add(OP_REFRESH_TOKEN, 1, 0.0);
        }
        plan.add(OP_PUT_ITEM, puts, f64::from(puts));
        plan
    }

    pub(super) async fn set_quantity(
        &self,
        level: InventoryPush,
    ) -> Result<InventoryOutcome, ChannelError> {
        let body = wire::quantity_patch(level.quantity, &self.ctx);
        let result = self
            .submit(OP_PATCH_ITEM, Method::PATCH, &level.sku, &body)
            .await?;
        Ok(InventoryOutcome {
            sku: level.sku,
            result,
        })
    }

    pub(super) async fn order_lines(
        &self,
        order_id: &str,
    ) -> Result<Vec<crate::OrderLine>, ChannelError> {
        let mut lines = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let mut query = Vec::new();
            if let Some(token) = &next {
                query.push(("NextToken", token.as_str()));
            }
            let url = self.url(&["orders", "v0", "orders", order_id, "orderItems"], &query);
            let reply = self
                .call(OP_GET_ORDER_ITEMS, Method::GET, &url, None)
                .await?
                .ensure_success()?;
            let list = reply
                .json::<wire::GetOrderItemsResponse>()?
                .payload
                .ok_or_else(|| ChannelError::Protocol("getOrderItems without payload".into()))?;
            lines.extend(list.order_items.iter().map(wire::OrderItem::line));
            match list.next_token {
                Some(token) => next = Some(token),
                None => return Ok(lines),
            }
        }
    }

    /// Run `work` on each item, at most `concurrency` at a time (the gate
    /// still paces every call); outcomes in input order. An error that
    /// stops the batch cancels the rest.
    pub(super) async fn each<T, R, F, Fut>(
        self: &Arc<Self>,
        items: Vec<T>,
        work: F,
    ) -> Result<Vec<R>, ChannelError>
    where
        T: Send + 'static,
        R: Send + 'static,
        F: Fn(Arc<Inner>, T) -> Fut,
        Fut: Future<Output = Result<R, ChannelError>> + Send + 'static,
    {
        let permits = Arc::new(Semaphore::new(self.concurrency));
        let mut results: Vec<Option<R>> = items.iter().map(|_| None).collect();
        let mut tasks = JoinSet::new();
        for (at, item) in items.into_iter().enumerate() {
            let permit = permits
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| ChannelError::Transient("work queue closed".into()))?;
            let job = work(self.clone(), item);
            tasks.spawn(async move {
                let _permit = permit;
                (at, job.await)
            });
            while let Some(done) = tasks.try_join_next() {
                Self::collect(done, &mut results, &mut tasks)?;
            }
        }
        while let Some(done) = tasks.join_next().await {
            Self::collect(done, &mut results, &mut tasks)?;
        }
        results
            .into_iter()
            .map(|r| r.ok_or_else(|| ChannelError::Transient("an item was not processed".into())))
            .collect()
    }

    fn collect<R: 'static>(
        done: Result<(usize, Result<R, ChannelError>), tokio::task::JoinError>,
        results: &mut [Option<R>],
        tasks: &mut JoinSet<(usize, Result<R, ChannelError>)>,
    ) -> Result<(), ChannelError> {
        let (at, result) =
            done.map_err(|e| ChannelError::Transient(format!("task failed: {e}")))?;
        match result {
            Ok(value) => {
                results[at] = Some(value);
                Ok(())
            }
            Err(error) => {
                tasks.abort_all();
                Err(error)
            }
        }
    }
}
