//! When a rule fires: a small boolean language over a product and one of its variants.
//!
//! A condition is always evaluated for one (product, variant) pair. Product-level
//! leaves (`tag`, `vendor`, `product_type`, `status`) look at the product and give
//! the same answer for every variant; variant-level leaves (`price`, `stock`,
//! `sku`) look at the variant. So `{"all":[{"tag":"sale"},{"stock":{"op":"lt","value":5}}]}`
//! picks the low-stock variants of products tagged `sale`.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::catalog::{Product, ProductStatus, Variant};

/// A comparison operator for numeric leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CompareOp {
    Lt,
    Lte,
    Gt,
    Gte,
    Eq,
}

impl CompareOp {
    fn holds<T: PartialOrd>(self, left: T, right: T) -> bool {
        match self {
            CompareOp::Lt => left < right,
            CompareOp::Lte => left <= right,
            CompareOp::Gt => left > right,
            CompareOp::Gte => left >= right,
            CompareOp::Eq => left == right,
        }
    }
}

/// `{"op":"lt","value":"10.00"}`: the variant's price compared with an exact decimal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceComparison {
    pub op: CompareOp,
    /// A decimal, as a string (`"10.00"`) or a JSON number.
    #[serde(deserialize_with = "super::decimal::deserialize")]
    #[schema(value_type = String, example = "10.00")]
    pub value: Decimal,
}

/// `{"op":"lte","value":0}`: the variant's available stock compared with a count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockComparison {
    pub op: CompareOp,
    pub value: i64,
}

/// Which (product, variant) pairs a rule acts on. JSON is externally tagged:
/// `{"all":[...]}`, `{"any":[...]}`, `{"not":{...}}`, `{"always":true}`,
/// `{"tag":"sale"}`, `{"vendor":"Acme"}`, `{"product_type":"Shirts"}`,
/// `{"status":"draft"}`, `{"price":{"op":"gte","value":"50"}}`,
/// `{"stock":{"op":"lt","value":3}}`, `{"sku":"TEE-*"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// Every clause holds (an empty list holds).
    #[schema(no_recursion)]
    All(Vec<Condition>),
    /// At least one clause holds (an empty list never does).
    #[schema(no_recursion)]
    Any(Vec<Condition>),
    /// The clause does not hold.
    #[schema(no_recursion)]
    Not(Box<Condition>),
    /// `true`: every variant; `false`: none (a rule switched off by its condition).
    Always(bool),
    /// The product carries this tag (case-insensitive, surrounding spaces ignored).
    Tag(String),
    /// The product's vendor equals this (case-insensitive).
    Vendor(String),
    /// The product's type equals this (case-insensitive).
    ProductType(String),
    /// The product's status.
    Status(ProductStatus),
    /// The variant's price.
    Price(PriceComparison),
    /// The variant's available stock, summed over locations.
    Stock(StockComparison),
    /// The variant's SKU matches a glob: `*` any run of characters, `?` exactly
    /// one; ASCII case-insensitive. `TEE-*`, `*-XL`, `MUG-??`.
    Sku(String),
}

fn same_text(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

impl Condition {
    /// Whether the condition holds for this variant of this product.
    pub fn matches(&self, product: &Product, variant: &Variant) -> bool {
        match self {
            Condition::All(cs) => cs.iter().all(|c| c.matches(product, variant)),
            Condition::Any(cs) => cs.iter().any(|c| c.matches(product, variant)),
            Condition::Not(c) => !c.matches(product, variant),
            Condition::Always(b) => *b,
            Condition::Tag(t) => product.tags.iter().any(|pt| same_text(pt, t)),
            Condition::Vendor(v) => product.vendor.as_deref().is_some_and(|pv| same_text(pv, v)),
            Condition::ProductType(t) => product
                .product_type
                .as_deref()
                .is_some_and(|pt| same_text(pt, t)),
            Condition::Status(s) => product.status == *s,
            Condition::Price(cmp) => cmp.op.holds(variant.price.amount(), cmp.value),
            Condition::Stock(cmp) => cmp.op.holds(variant.inventory_quantity, cmp.value),
            Condition::Sku(pattern) => glob_match(pattern, &variant.sku),
        }
    }

    /// Nesting depth: a leaf is 1, `{"not":leaf}` is 2. Bounded by validation so
    /// evaluation cannot recurse without limit.
    pub fn depth(&self) -> usize {
        match self {
            Condition::All(cs) | Condition::Any(cs) => {
                1 + cs.iter().map(Condition::depth).max().unwrap_or(0)
            }
            Condition::Not(c) => 1 + c.depth(),
            _ => 1,
        }
    }

    /// Number of nodes, leaves and combinators alike.
    pub fn size(&self) -> usize {
        match self {
            Condition::All(cs) | Condition::Any(cs) => {
                1 + cs.iter().map(Condition::size).sum::<usize>()
            }
            Condition::Not(c) => 1 + c.size(),
            _ => 1,
        }
    }
}

/// Glob matching over characters: `*` matches any run (including none), `?`
/// exactly one character, anything else itself, ASCII case-insensitively.
///
/// The classic linear backtracking walk: on a mismatch, go back to the last `*`
/// and let it swallow one more character. No recursion, O(pattern × text) worst case.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().map(|c| c.to_ascii_lowercase()).collect();
    let t: Vec<char> = text.chars().map(|c| c.to_ascii_lowercase()).collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::tests::sample_product;

    fn cond(json: &str) -> Condition {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn globs() {
        assert!(glob_match("TEE-*", "TEE-M"));
        assert!(glob_match("tee-*", "TEE-M"));
        assert!(glob_match("*-XL", "TEE-XL"));
        assert!(!glob_match("*-XL", "TEE-XXL-2"));
        assert!(glob_match("MUG-??", "MUG-12"));
        assert!(!glob_match("MUG-??", "MUG-1"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("?", ""));
        assert!(glob_match("A*B*C", "AxxBxxBxC"));
        assert!(!glob_match("A*B*C", "AxxBxxBx"));
        assert!(glob_match("TEE-M", "TEE-M"));
        assert!(!glob_match("TEE-M", "TEE-MX"));
        assert!(glob_match("**a", "bba"));
    }

    #[test]
    fn product_leaves_ignore_case() {
        let mut p = sample_product();
        p.tags = vec!["Summer Sale".into()];
        p.vendor = Some("Acme".into());
        p.product_type = Some("Shirts".into());
        let v = &p.variants[0];
        assert!(cond(r#"{"tag":"summer sale"}"#).matches(&p, v));
        assert!(!cond(r#"{"tag":"summer"}"#).matches(&p, v));
        assert!(cond(r#"{"vendor":"ACME"}"#).matches(&p, v));
        assert!(cond(r#"{"product_type":"shirts"}"#).matches(&p, v));
        assert!(cond(r#"{"status":"active"}"#).matches(&p, v));
        assert!(!cond(r#"{"status":"draft"}"#).matches(&p, v));
        p.vendor = None;
        assert!(!cond(r#"{"vendor":"ACME"}"#).matches(&p, v));
    }

    #[test]
    fn variant_leaves_look_at_the_variant() {
        let p = sample_product(); // TEE-M 10.00 x5, TEE-XL 12.00 x0
        let (m, xl) = (&p.variants[0], &p.variants[1]);
        let cheap = cond(r#"{"price":{"op":"lt","value":"11"}}"#);
        assert!(cheap.matches(&p, m) && !cheap.matches(&p, xl));
        let exact = cond(r#"{"price":{"op":"eq","value":12}}"#);
        assert!(!exact.matches(&p, m) && exact.matches(&p, xl));
        let exact_f = cond(r#"{"price":{"op":"gte","value":10.0}}"#);
        assert!(exact_f.matches(&p, m) && exact_f.matches(&p, xl));
        let out = cond(r#"{"stock":{"op":"lte","value":0}}"#);
        assert!(!out.matches(&p, m) && out.matches(&p, xl));
        let gt = cond(r#"{"stock":{"op":"gt","value":4}}"#);
        assert!(gt.matches(&p, m) && !gt.matches(&p, xl));
        let sku = cond(r#"{"sku":"*-XL"}"#);
        assert!(!sku.matches(&p, m) && sku.matches(&p, xl));
    }

    #[test]
    fn combinators() {
        let p = sample_product();
        let (m, xl) = (&p.variants[0], &p.variants[1]);
        let c = cond(r#"{"all":[{"always":true},{"not":{"sku":"*-XL"}}]}"#);
        assert!(c.matches(&p, m) && !c.matches(&p, xl));
        let c = cond(r#"{"any":[{"sku":"*-XL"},{"stock":{"op":"eq","value":5}}]}"#);
        assert!(c.matches(&p, m) && c.matches(&p, xl));
        assert!(cond(r#"{"all":[]}"#).matches(&p, m));
        assert!(!cond(r#"{"any":[]}"#).matches(&p, m));
        assert!(!cond(r#"{"always":false}"#).matches(&p, m));
        assert_eq!(cond(r#"{"not":{"all":[{"tag":"x"}]}}"#).depth(), 3);
        assert_eq!(cond(r#"{"any":[{"tag":"x"},{"tag":"y"}]}"#).size(), 3);
    }

    #[test]
    fn json_shape_is_strict() {
        assert!(serde_json::from_str::<Condition>(r#"{"colour":"red"}"#).is_err());
        assert!(
            serde_json::from_str::<Condition>(r#"{"price":{"op":"lt","value":"1","x":1}}"#)
                .is_err()
        );
        assert!(
            serde_json::from_str::<Condition>(r#"{"price":{"op":"about","value":"1"}}"#).is_err()
        );
        let c = cond(r#"{"price":{"op":"lt","value":"10.50"}}"#);
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"price":{"op":"lt","value":"10.50"}}"#
        );
    }
}
