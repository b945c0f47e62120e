//! Pricing a parsed query and shaping its answer.
//!
//! Costs as Shopify documents them
//! (https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits and
//! https://shopify.engineering/rate-limiting-graphql-apis-calculating-query-complexity):
//! scalars and enums cost 0, objects 1, a connection 2 plus its page size
//! times the cost of one node, and (in `mod.rs`) a mutation its defined
//! cost. The actual cost walks the answer instead of the page sizes, so a
//! short page is refunded. Answers keep only the selected fields, lists
//! with a page size become Relay connections
//! (https://shopify.dev/docs/api/usage/pagination-graphql) with opaque cursors.

use serde_json::{Map, Value, json};

use super::gql::Field;

/// The cost of one node of a connection: the object plus what is selected
/// under `nodes` or `edges { node }`.
fn node_cost(connection: &Field) -> f64 {
    let mut cost: f64 = 0.0;
    for child in &connection.selections {
        match child.name.as_str() {
            "nodes" => cost = cost.max(1.0 + children_cost(child)),
            "edges" => {
                for e in &child.selections {
                    if e.name == "node" {
                        cost = cost.max(1.0 + children_cost(e));
                    }
                }
            }
            _ => {}
        }
    }
    cost
}

fn children_cost(field: &Field) -> f64 {
    field.selections.iter().map(requested_cost).sum()
}

/// The requested (worst-case) cost of a query field.
pub fn requested_cost(field: &Field) -> f64 {
    if field.selections.is_empty() {
        return 0.0;
    }
    match field.page_size() {
        Some(n) => 2.0 + n as f64 * node_cost(field),
        None => 1.0 + children_cost(field),
    }
}

/// The actual cost of a query field, from what it answered.
pub fn actual_cost(field: &Field, answer: &Value) -> f64 {
    if field.selections.is_empty() || answer.is_null() {
        return 0.0;
    }
    if field.page_size().is_some() {
        let mut cost = 2.0;
        for child in &field.selections {
            let nodes: Vec<(&Field, &Value)> = match child.name.as_str() {
                "nodes" => answer
                    .get(child.key())
                    .and_then(Value::as_array)
                    .map(|a| a.iter().map(|n| (child, n)).collect())
                    .unwrap_or_default(),
                "edges" => {
                    let Some(node_field) = child.selections.iter().find(|f| f.name == "node")
                    else {
                        continue;
                    };
                    answer
                        .get(child.key())
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(|e| e.get(node_field.key()))
                                .map(|n| (node_field, n))
                                .collect()
                        })
                        .unwrap_or_default()
                }
                _ => continue,
            };
            cost += nodes
                .iter()
                .map(|(f, n)| {
                    1.0 + f
                        .selections
                        .iter()
                        .map(|c| actual_cost(c, n.get(c.key()).unwrap_or(&Value::Null)))
                        .sum::<f64>()
                })
                .sum::<f64>();
            // `nodes` and `edges` describe the same objects: count them once.
            break;
        }
        return cost;
    }
    1.0 + field
        .selections
        .iter()
        .map(|c| actual_cost(c, answer.get(c.key()).unwrap_or(&Value::Null)))
        .sum::<f64>()
}

/// An opaque cursor for position `index` of a list.
pub fn cursor(index: usize) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{{\"last_index\":{index}}}"))
}

/// The position after `cursor`, or `None` when it is not one of ours.
pub fn after_cursor(cursor: &str) -> Option<usize> {
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(cursor)
        .ok()?;
    let v: Value = serde_json::from_slice(&raw).ok()?;
    v.get("last_index")?.as_u64().map(|i| i as usize + 1)
}

/// A page of `items` as a connection object, per the field's `first`/`after`.
pub fn connection(field: &Field, items: Vec<Value>) -> Result<Value, String> {
    let start = match field.arg("after").and_then(Value::as_str) {
        Some(c) => after_cursor(c).ok_or_else(|| format!("Invalid cursor for {}", field.name))?,
        None => 0,
    };
    let first = field.page_size().unwrap_or(0);
    if first > 250 {
        return Err(format!(
            "The page size of {} can't exceed 250 (was {first})",
            field.name
        ));
    }
    let total = items.len();
    let page: Vec<(usize, Value)> = items
        .into_iter()
        .enumerate()
        .skip(start)
        .take(first)
        .collect();
    let end = page.last().map(|(i, _)| *i + 1).unwrap_or(start);
    let edges: Vec<Value> = page
        .iter()
        .map(|(i, n)| json!({"cursor": cursor(*i), "node": n}))
        .collect();
    Ok(json!({
        "__typename": "Connection",
        "nodes": page.iter().map(|(_, n)| n.clone()).collect::<Vec<_>>(),
        "edges": edges,
        "pageInfo": {
            "__typename": "PageInfo",
            "hasNextPage": end < total,
            "hasPreviousPage": start > 0,
            "startCursor": page.first().map(|(i, _)| cursor(*i)),
            "endCursor": page.last().map(|(i, _)| cursor(*i)),
        },
    }))
}

/// Answer only what `field` selects from a resolved value. A list-valued
/// field with a page size becomes a connection. A selected field the value
/// does not have is an error, as Shopify's schema validation would report.
pub fn project(field: &Field, value: &Value, errors: &mut Vec<Value>) -> Value {
    if field.selections.is_empty() {
        return value.clone();
    }
    match value {
        Value::Null => Value::Null,
        Value::Array(items) if field.page_size().is_some() => {
            match connection(field, items.clone()) {
                Ok(conn) => project_object(field, &conn, errors),
                Err(message) => {
                    errors.push(json!({"message": message, "extensions": {"code": "BAD_REQUEST"}}));
                    Value::Null
                }
            }
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| project(field, item, errors))
                .collect(),
        ),
        Value::Object(_) => project_object(field, value, errors),
        other => other.clone(),
    }
}

fn project_object(field: &Field, value: &Value, errors: &mut Vec<Value>) -> Value {
    let mut out = Map::new();
    for child in &field.selections {
        let resolved = match value.get(&child.name) {
            Some(v) => v,
            None => {
                let type_name = value
                    .get("__typename")
                    .and_then(Value::as_str)
                    .unwrap_or("Object");
                errors.push(json!({
                    "message": format!("Field '{}' doesn't exist on type '{}'", child.name, type_name),
                    "extensions": {"code": "undefinedField", "typeName": type_name, "fieldName": child.name},
                }));
                continue;
            }
        };
        out.insert(child.key().to_owned(), project(child, resolved, errors));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, json};

    use super::*;
    use crate::shopify::gql::parse;

    #[test]
    fn connection_costs_two_plus_page_size_times_node() {
        // The rate-limit guide's rule: objects 1, scalars 0, connections 2 + n × node.
        let op = parse(
            "{ products(first: 10) { nodes { id variants(first: 5) { nodes { sku } } } pageInfo { hasNextPage } } }",
            &Map::new(),
        )
        .unwrap();
        assert_eq!(
            requested_cost(&op.fields[0]),
            2.0 + 10.0 * (1.0 + 2.0 + 5.0)
        );
        let answer =
            json!({"nodes": [{"id": "1", "variants": {"nodes": [{"sku": "a"}]}}], "pageInfo": {}});
        assert_eq!(actual_cost(&op.fields[0], &answer), 2.0 + (1.0 + 2.0 + 1.0));
        let shop = parse("{ shop { name } }", &Map::new()).unwrap();
        assert_eq!(requested_cost(&shop.fields[0]), 1.0);
    }

    #[test]
    fn projection_pages_lists_and_reports_unknown_fields() {
        let op = parse(
            "{ product { id nope variants(first: 1) { nodes { sku } pageInfo { hasNextPage endCursor } } } }",
            &Map::new(),
        )
        .unwrap();
        let value =
            json!({"__typename": "Product", "id": "p", "variants": [{"sku": "a"}, {"sku": "b"}]});
        let mut errors = Vec::new();
        let out = project(&op.fields[0], &value, &mut errors);
        assert_eq!(out["variants"]["nodes"], json!([{"sku": "a"}]));
        assert_eq!(out["variants"]["pageInfo"]["hasNextPage"], json!(true));
        let end = out["variants"]["pageInfo"]["endCursor"].as_str().unwrap();
        assert_eq!(after_cursor(end), Some(1));
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0]["extensions"]["fieldName"], json!("nope"));
    }
}
