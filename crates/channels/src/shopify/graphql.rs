//! The GraphQL Admin API transport: one POST per operation, the cost
//! estimate reserved before it, the cost report read after it.
//!
//! * Endpoint and auth: https://shopify.dev/docs/api/admin-graphql (POST
//!   `/admin/api/{version}/graphql.json`, header `X-Shopify-Access-Token`).
//! * Costs: https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits
//!   and https://shopify.engineering/rate-limiting-graphql-apis-calculating-query-complexity
//!   (objects 1, scalars 0, connections 2 + page size × node, mutations 10),
//!   https://shopify.dev/changelog/dynamic-complexity-cost-for-productset-mutation
//!   (productSet: 10 + 0.2 per variant + 1.9 per product file). Aliased
//!   mutations are charged per invocation
//!   (https://shopify.dev/changelog/dynamic-complexity-cost-for-metafieldsset-mutation).
//! * Throttling: a throttled call is HTTP 200 with
//!   `errors[].extensions.code == "THROTTLED"`; every answer carries
//!   `extensions.cost { requestedQueryCost, actualQueryCost, throttleStatus }`.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use shelfsync_core::quota::QuotaReport;
use shelfsync_core::vault::{ExposeSecret, SecretString};
use url::Url;

use crate::error::ChannelError;
use crate::http::{ChannelHttp, Reply};

/// No single query may request more than this many points, whatever the plan.
pub const MAX_QUERY_COST: f64 = 1000.0;

/// `extensions.cost` of an answer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cost {
    pub requested_query_cost: Option<f64>,
    pub actual_query_cost: Option<f64>,
    pub throttle_status: Option<ThrottleStatus>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThrottleStatus {
    pub maximum_available: f64,
    pub currently_available: f64,
    pub restore_rate: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Extensions {
    pub cost: Option<Cost>,
}

/// One entry of a GraphQL `errors` list.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct GqlError {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub path: Vec<Value>,
    #[serde(default)]
    pub extensions: Option<Value>,
}

impl GqlError {
    pub fn code(&self) -> Option<&str> {
        self.extensions
            .as_ref()
            .and_then(|e| e.get("code"))
            .and_then(Value::as_str)
    }

    /// The response key the error belongs to (an alias), when it has a path.
    pub fn root(&self) -> Option<&str> {
        self.path.first().and_then(Value::as_str)
    }
}

/// A GraphQL answer: `data`, `errors`, `extensions`.
#[derive(Debug, Clone)]
pub struct Answer<T> {
    pub data: Option<T>,
    pub errors: Vec<GqlError>,
}

#[derive(Deserialize)]
struct RawAnswer {
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    errors: Option<Value>,
    #[serde(default)]
    extensions: Option<Extensions>,
}

/// `errors` is a list on GraphQL answers; read anything else as one message.
fn read_errors(errors: Option<Value>) -> Vec<GqlError> {
    match errors {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|e| {
                serde_json::from_value(e.clone()).unwrap_or(GqlError {
                    message: e.to_string(),
                    ..GqlError::default()
                })
            })
            .collect(),
        Some(other) => vec![GqlError {
            message: other.to_string(),
            ..GqlError::default()
        }],
    }
}

/// Read Shopify's cost report from an answer for the quota gate: what is
/// left in the bucket, what the call really cost (the gate refunds the
/// difference to its reservation), or that the call was throttled. Bodies
/// that are not GraphQL answers (an HTTP 429 or 5xx page) report nothing.
pub fn inspect(reply: &Reply) -> QuotaReport {
    let Ok(raw) = serde_json::from_slice::<RawAnswer>(&reply.body) else {
        return QuotaReport::default();
    };
    let throttled = read_errors(raw.errors)
        .iter()
        .any(|e| e.code() == Some("THROTTLED"));
    let cost = raw.extensions.and_then(|e| e.cost);
    QuotaReport {
        available: cost
            .as_ref()
            .and_then(|c| c.throttle_status.as_ref())
            .map(|t| t.currently_available),
        actual_cost: if throttled {
            None
        } else {
            cost.as_ref().and_then(|c| c.actual_query_cost)
        },
        throttled,
        // Shopify sends no Retry-After: the emptied bucket paces the retry.
        retry_after_secs: None,
    }
}

/// `productSet`'s dynamic cost for one input.
pub fn product_set_cost(input: &Value) -> f64 {
    let count = |key: &str| input.get(key).and_then(Value::as_array).map_or(0, Vec::len) as f64;
    10.0 + 0.2 * count("variants") + 1.9 * count("files") + 0.4 * count("metafields")
}

/// `productVariantsBulkUpdate`'s cost for `variants` inputs. Shopify made it
/// dynamic in 2025-10 without publishing figures we could find; we assume
/// productSet's per-variant rate.
pub fn variants_bulk_cost(variants: usize) -> f64 {
    10.0 + 0.2 * variants as f64
}

/// The points a request reserves for an estimated `cost`: whole points,
/// without float noise (ten aliases of 10.2 are 102).
pub fn whole_points(cost: f64) -> f64 {
    (cost - 1e-6).ceil()
}

/// A connection of `page` nodes, each an object costing `node` in all.
pub fn connection_cost(page: usize, node: f64) -> f64 {
    2.0 + page as f64 * node
}

/// Speaks GraphQL to one shop.
pub struct Client {
    pub http: ChannelHttp,
    pub url: Url,
    pub token: SecretString,
}

impl Client {
    /// Send `query` with `variables` as `operation`, reserving `cost`
    /// points first. A 4xx is `Rejected`; an answer with errors and no data
    /// is `Rejected` too, except missing scopes (`Config`) and Shopify's
    /// internal errors (`Transient`).
    pub async fn call<T: DeserializeOwned>(
        &self,
        operation: &str,
        cost: f64,
        query: &str,
        variables: Value,
    ) -> Result<Answer<T>, ChannelError> {
        let body = serde_json::to_vec(&serde_json::json!({"query": query, "variables": variables}))
            .map_err(|e| ChannelError::Protocol(format!("request body: {e}")))?;
        let cost_estimate = whole_points(cost);
        let reply = self
            .http
            .send(
                operation,
                cost_estimate,
                |client| {
                    client
                        .post(self.url.clone())
                        .header("X-Shopify-Access-Token", self.token.expose_secret())
                        .header("Content-Type", "application/json")
                        .header("Accept", "application/json")
                        .body(body.clone())
                },
                &inspect,
            )
            .await?
            .ensure_success()?;
        let raw: RawAnswer = reply.json()?;
        let errors = read_errors(raw.errors);
        let data = match raw.data {
            None | Some(Value::Null) => None,
            Some(d) => Some(serde_json::from_value::<T>(d).map_err(|e| {
                ChannelError::Protocol(format!("{operation} answer: {e}: {}", reply.body_excerpt()))
            })?),
        };
        if data.is_none() && !errors.is_empty() {
            let message = errors
                .iter()
                .map(|e| match e.code() {
                    Some(code) => format!("{code}: {}", e.message),
                    None => e.message.clone(),
                })
                .collect::<Vec<_>>()
                .join("; ");
            return Err(match errors.iter().find_map(GqlError::code) {
                Some("ACCESS_DENIED") => ChannelError::Config(message),
                Some("INTERNAL_SERVER_ERROR") => ChannelError::Transient(message),
                _ => ChannelError::Rejected {
                    status: reply.status.as_u16(),
                    message,
                },
            });
        }
        if let Some(cost) = raw.extensions.and_then(|e| e.cost) {
            tracing::debug!(
                operation,
                estimated = cost_estimate,
                requested = ?cost.requested_query_cost,
                actual = ?cost.actual_query_cost,
                available = ?cost.throttle_status.map(|t| t.currently_available),
                "shopify query cost"
            );
        }
        Ok(Answer { data, errors })
    }
}

/// A `userErrors` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct UserError {
    #[serde(default)]
    pub field: Option<Vec<String>>,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub code: Option<String>,
}

impl UserError {
    /// The list index the error's field path points at after `list`
    /// (`["input", "quantities", "3", "locationId"]` → 3).
    pub fn index_after(&self, list: &str) -> Option<usize> {
        let field = self.field.as_ref()?;
        let at = field.iter().position(|f| f == list)?;
        field.get(at + 1)?.parse().ok()
    }
}

/// `pageInfo { hasNextPage endCursor }`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageInfo {
    #[serde(default)]
    pub has_next_page: bool,
    #[serde(default)]
    pub end_cursor: Option<String>,
}

/// `{ nodes [...] pageInfo {...} }`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection<T> {
    pub nodes: Vec<T>,
    #[serde(default)]
    pub page_info: PageInfo,
}

/// `{ id }`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Node {
    pub id: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::{HeaderMap, StatusCode};

    fn reply(body: &str) -> Reply {
        Reply {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: Bytes::from(body.to_owned()),
        }
    }

    #[test]
    fn reads_the_cost_report_of_an_answer() {
        // Shape of extensions.cost on
        // https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits
        let r = inspect(&reply(
            r#"{"data":{},"extensions":{"cost":{"requestedQueryCost":101,"actualQueryCost":46,
               "throttleStatus":{"maximumAvailable":2000.0,"currentlyAvailable":1954,"restoreRate":100.0}}}}"#,
        ));
        assert_eq!(r.available, Some(1954.0));
        assert_eq!(r.actual_cost, Some(46.0));
        assert!(!r.throttled);
    }

    #[test]
    fn a_throttled_answer_is_a_throttle_without_actual_cost() {
        // The throttled answer: HTTP 200, code THROTTLED, actualQueryCost null.
        let r = inspect(&reply(
            r#"{"errors":[{"message":"Throttled","extensions":{"code":"THROTTLED",
               "documentation":"https://shopify.dev/api/usage/rate-limits"}}],
               "extensions":{"cost":{"requestedQueryCost":70,"actualQueryCost":null,
               "throttleStatus":{"maximumAvailable":2000,"currentlyAvailable":66,"restoreRate":100}}}}"#,
        ));
        assert!(r.throttled);
        assert_eq!(r.actual_cost, None);
        assert_eq!(r.available, Some(66.0));
        assert_eq!(inspect(&reply("injected throttle")), QuotaReport::default());
    }

    #[test]
    fn costs_follow_the_published_rules() {
        // Changelog example: one variant, no files or metafields → 10.2 (≈10).
        let input = serde_json::json!({"variants": [{}]});
        assert!((product_set_cost(&input) - 10.2).abs() < 1e-9);
        let input = serde_json::json!({"variants": vec![serde_json::json!({}); 20], "files": [{}]});
        assert!((product_set_cost(&input) - (10.0 + 4.0 + 1.9)).abs() < 1e-9);
        assert_eq!(connection_cost(10, 1.0 + 2.0 + 5.0), 82.0);
    }

    #[test]
    fn user_error_paths_point_at_list_items() {
        let e: UserError = serde_json::from_value(serde_json::json!({
            "field": ["input", "quantities", "3", "locationId"], "message": "m", "code": "INVALID_LOCATION"
        }))
        .unwrap();
        assert_eq!(e.index_after("quantities"), Some(3));
        assert_eq!(e.index_after("variants"), None);
    }
}
