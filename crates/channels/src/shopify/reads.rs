//! Reads: the stock location, listings and recent orders, page by page.

use serde::Deserialize;
use serde_json::{Value, json};

use super::graphql::{self, Answer, Connection, Node};
use super::mapping::{self, ListedLine, ListedOrder, ListedProduct, ListedVariant};
use super::{LISTING_VARIANTS, MAX_ORDER_PAGES, ORDER_LINES, ShopifyChannel, setting};
use crate::{ChannelError, ChannelOrder, ListingPage};

impl ShopifyChannel {
    /// The location stock is kept at: the `location_id` setting, or the
    /// shop's first location.
    /// The location the settings name, which needs no lookup.
    fn configured_location(&self) -> Option<String> {
        match setting(&self.config, "location_id") {
            Some(Value::String(s)) if s.starts_with("gid://") => Some(s.clone()),
            Some(Value::String(s)) => Some(format!("gid://shopify/Location/{s}")),
            Some(Value::Number(n)) => Some(format!("gid://shopify/Location/{n}")),
            _ => None,
        }
    }

    /// Whether [`Self::location`] would have to ask the shop: no location in
    /// the settings and none looked up yet. A plan counts that call.
    pub(super) fn location_lookup_pending(&self) -> bool {
        self.location.get().is_none() && self.configured_location().is_none()
    }

    /// The cost [`Self::location`]'s lookup reserves.
    pub(super) fn location_lookup_cost() -> f64 {
        graphql::connection_cost(1, 1.0)
    }

    pub(super) async fn location(&self) -> Result<String, ChannelError> {
        self.location
            .get_or_try_init(|| async {
                if let Some(location) = self.configured_location() {
                    return Ok(location);
                }
                #[derive(Deserialize)]
                struct Data {
                    locations: Connection<Node>,
                }
                let answer: Answer<Data> = self
                    .gql
                    .call(
                        "locations",
                        Self::location_lookup_cost(),
                        "query ShelfsyncLocation { locations(first: 1) { nodes { id } } }",
                        json!({}),
                    )
                    .await?;
                answer
                    .data
                    .and_then(|d| d.locations.nodes.into_iter().next())
                    .map(|n| n.id)
                    .ok_or_else(|| ChannelError::Config("the shop has no location".into()))
            })
            .await
            .cloned()
    }

    /// Variants of a product past the first listing page.
    async fn more_variants(
        &self,
        product: &str,
        mut after: String,
    ) -> Result<Vec<ListedVariant>, ChannelError> {
        #[derive(Deserialize)]
        struct P {
            variants: Connection<ListedVariant>,
        }
        #[derive(Deserialize)]
        struct Data {
            product: Option<P>,
        }
        let per = self.page_size(1.0, 1.0);
        let mut out = Vec::new();
        loop {
            let answer: Answer<Data> = self
                .gql
                .call(
                    "product",
                    1.0 + graphql::connection_cost(per, 1.0),
                    &format!(
                        "query ShelfsyncVariants($id: ID!, $after: String) {{ product(id: $id) {{ \
                         variants(first: {per}, after: $after) {{ nodes {{ id sku price inventoryQuantity }} \
                         pageInfo {{ hasNextPage endCursor }} }} }} }}"
                    ),
                    json!({"id": product, "after": after}),
                )
                .await?;
            let Some(p) = answer.data.and_then(|d| d.product) else {
                return Ok(out);
            };
            out.extend(p.variants.nodes);
            match mapping::more(&p.variants.page_info) {
                Some(next) if next != after => after = next.to_owned(),
                Some(_) => {
                    return Err(ChannelError::Protocol(
                        "variant cursor did not advance".into(),
                    ));
                }
                None => return Ok(out),
            }
        }
    }

    /// Lines of an order past the first page.
    async fn more_lines(
        &self,
        order: &str,
        mut after: String,
    ) -> Result<Vec<ListedLine>, ChannelError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct O {
            line_items: Connection<ListedLine>,
        }
        #[derive(Deserialize)]
        struct Data {
            order: Option<O>,
        }
        let per = self.page_size(2.0, 1.0);
        let mut out = Vec::new();
        loop {
            let answer: Answer<Data> = self
                .gql
                .call(
                    "order",
                    1.0 + graphql::connection_cost(per, 2.0),
                    &format!(
                        "query ShelfsyncLines($id: ID!, $after: String) {{ order(id: $id) {{ \
                         lineItems(first: {per}, after: $after) {{ nodes {{ sku quantity variant {{ id }} }} \
                         pageInfo {{ hasNextPage endCursor }} }} }} }}"
                    ),
                    json!({"id": order, "after": after}),
                )
                .await?;
            let Some(o) = answer.data.and_then(|d| d.order) else {
                return Ok(out);
            };
            out.extend(o.line_items.nodes);
            match mapping::more(&o.line_items.page_info) {
                Some(next) if next != after => after = next.to_owned(),
                Some(_) => {
                    return Err(ChannelError::Protocol(
                        "line item cursor did not advance".into(),
                    ));
                }
                None => return Ok(out),
            }
        }
    }

    /// One page of products (as many as fit the budget, oldest first), each
    /// with all its variants.
    pub(super) async fn listings_page(
        &self,
        cursor: Option<&str>,
    ) -> Result<ListingPage, ChannelError> {
        #[derive(Deserialize)]
        struct Data {
            products: Connection<ListedProduct>,
        }
        let node = 1.0 + graphql::connection_cost(LISTING_VARIANTS, 1.0);
        let page = self.page_size(node, 0.0);
        let answer: Answer<Data> = self
            .gql
            .call(
                "products",
                graphql::connection_cost(page, node),
                &format!(
                    "query ShelfsyncListings($after: String) {{ products(first: {page}, after: $after, sortKey: ID) {{ \
                     nodes {{ id title status updatedAt variants(first: {LISTING_VARIANTS}) {{ \
                     nodes {{ id sku price inventoryQuantity }} pageInfo {{ hasNextPage endCursor }} }} }} \
                     pageInfo {{ hasNextPage endCursor }} }} }}"
                ),
                json!({"after": cursor}),
            )
            .await?;
        let products = answer
            .data
            .ok_or_else(|| ChannelError::Protocol("products answer without data".into()))?
            .products;
        let mut listings = Vec::new();
        for mut p in products.nodes {
            if let Some(after) = mapping::more(&p.variants.page_info).map(str::to_owned) {
                let rest = self.more_variants(&p.id, after).await?;
                p.variants.nodes.extend(rest);
            }
            listings.push(mapping::listing(&p));
        }
        Ok(ListingPage {
            listings,
            next_cursor: mapping::more(&products.page_info).map(str::to_owned),
        })
    }

    pub(super) async fn orders_since(
        &self,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<ChannelOrder>, ChannelError> {
        #[derive(Deserialize)]
        struct Data {
            orders: Connection<ListedOrder>,
        }
        let node = 1.0 + graphql::connection_cost(ORDER_LINES, 2.0);
        let page = self.page_size(node, 0.0);
        // By last update, so an order cancelled after it was placed comes
        // back (https://shopify.dev/docs/api/admin-graphql/latest/queries/orders:
        // the `updated_at` search field and the UPDATED_AT sort key).
        let search = format!(
            "updated_at:>='{}'",
            since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        let mut after: Option<String> = None;
        let mut out = Vec::new();
        for _ in 0..MAX_ORDER_PAGES {
            let answer: Answer<Data> = self
                .gql
                .call(
                    "orders",
                    graphql::connection_cost(page, node),
                    &format!(
                        "query ShelfsyncOrders($after: String, $q: String!) {{ \
                         orders(first: {page}, after: $after, query: $q, sortKey: UPDATED_AT) {{ \
                         nodes {{ id createdAt cancelledAt lineItems(first: {ORDER_LINES}) {{ \
                         nodes {{ sku quantity variant {{ id }} }} pageInfo {{ hasNextPage endCursor }} }} }} \
                         pageInfo {{ hasNextPage endCursor }} }} }}"
                    ),
                    json!({"after": after, "q": search}),
                )
                .await?;
            let orders = answer
                .data
                .ok_or_else(|| ChannelError::Protocol("orders answer without data".into()))?
                .orders;
            for mut o in orders.nodes {
                if let Some(more) = mapping::more(&o.line_items.page_info).map(str::to_owned) {
                    let rest = self.more_lines(&o.id, more).await?;
                    o.line_items.nodes.extend(rest);
                }
                out.push(mapping::order(&o));
            }
            match mapping::more(&orders.page_info) {
                Some(next) if after.as_deref() != Some(next) => after = Some(next.to_owned()),
                Some(_) => {
                    return Err(ChannelError::Protocol(
                        "order cursor did not advance".into(),
                    ));
                }
                None => return Ok(out),
            }
        }
        Err(ChannelError::Protocol(format!(
            "more than {MAX_ORDER_PAGES} pages of orders since {since}"
        )))
    }
}
