//! Tests of whole rule runs: each action through `apply_rules`, the explanations,
//! and properties over generated rules and products.

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;

use super::*;
use crate::catalog::{Product, ProductStatus, Variant};
use crate::ids::{ProductId, VariantId};
use crate::money::{Currency, Price};

fn price(s: &str) -> Price {
    s.parse().unwrap()
}

pub(crate) fn variant(product: ProductId, sku: &str, p: &str, stock: i64) -> Variant {
    let at = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
    Variant {
        id: VariantId::new(),
        product_id: product,
        sku: sku.into(),
        barcode: None,
        title: "Default Title".into(),
        options: vec![],
        price: price(p),
        compare_at_price: None,
        currency: Currency::USD,
        weight_grams: None,
        position: 0,
        inventory_quantity: stock,
        inventory: vec![],
        created_at: at,
        updated_at: at,
    }
}

/// "Tee" with TEE-M (10.00, 5 in stock) and TEE-XL (12.00, none in stock).
pub(crate) fn sample_product() -> Product {
    let at = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
    let id = ProductId::new();
    Product {
        id,
        handle: "tee".into(),
        title: "Tee".into(),
        description: Some("Soft cotton.".into()),
        vendor: None,
        product_type: None,
        status: ProductStatus::Active,
        tags: vec!["Summer".into()],
        images: vec![],
        options: vec![],
        variants: vec![
            variant(id, "TEE-M", "10.00", 5),
            variant(id, "TEE-XL", "12.00", 0),
        ],
        version: 1,
        created_at: at,
        updated_at: at,
    }
}

fn rule(name: &str, priority: i32, condition: &str, actions: &str) -> Rule {
    let input: RuleInput = serde_json::from_str(&format!(
        r#"{{"name":"{name}","priority":{priority},"condition":{condition},"actions":{actions}}}"#
    ))
    .unwrap();
    input.validate().unwrap();
    input.into_rule(RuleId::new())
}

const ALWAYS: &str = r#"{"always":true}"#;

fn run(rules: &[Rule], product: &Product) -> RulesOutcome {
    apply_rules(rules, product, ConnectionId::new(), Platform::Ebay)
}

#[test]
fn markup_then_ending_is_explained() {
    let p = sample_product();
    let rules = [
        rule(
            "eBay +12%",
            10,
            ALWAYS,
            r#"[{"type":"price_adjust","kind":"percent","value":"12"}]"#,
        ),
        rule(
            ".99",
            20,
            ALWAYS,
            r#"[{"type":"price_ending","ending":"0.99"}]"#,
        ),
    ];
    let out = run(&rules, &p);
    assert_eq!(out.product.variants[0].price, price("11.99"));
    assert_eq!(out.product.variants[1].price, price("13.99"));
    assert_eq!(
        out.messages(),
        [
            "rule 'eBay +12%' changed price of TEE-M 10.00 -> 11.20",
            "rule 'eBay +12%' changed price of TEE-XL 12.00 -> 13.44",
            "rule '.99' changed price of TEE-M 11.20 -> 11.99",
            "rule '.99' changed price of TEE-XL 13.44 -> 13.99",
        ]
    );
    assert_eq!(
        out.applied[0].to_string(),
        "rule 'eBay +12%' changed price of TEE-M 10.00 -> 11.20; \
         rule 'eBay +12%' changed price of TEE-XL 12.00 -> 13.44"
    );
    assert!(!out.excluded);
}

#[test]
fn compare_at_price_moves_with_the_price() {
    let mut p = sample_product();
    p.variants[0].compare_at_price = Some(price("15.00"));
    let rules = [rule(
        "m",
        1,
        r#"{"sku":"TEE-M"}"#,
        r#"[{"type":"price_adjust","kind":"amount","value":"-2.50"},{"type":"price_ending","ending":"0.95"}]"#,
    )];
    let out = run(&rules, &p);
    let v = &out.product.variants[0];
    assert_eq!(
        (v.price, v.compare_at_price),
        (price("7.95"), Some(price("12.95")))
    );
    assert_eq!(out.product.variants[1].price, price("12.00"));
    let fields: Vec<_> = out.applied[0]
        .changes
        .iter()
        .map(|c| c.field.as_str())
        .collect();
    assert_eq!(
        fields,
        ["price", "compare_at_price", "price", "compare_at_price"]
    );
}

#[test]
fn a_price_floor_is_noted() {
    let p = sample_product();
    let rules = [rule(
        "clear",
        1,
        r#"{"sku":"TEE-M"}"#,
        r#"[{"type":"price_adjust","kind":"amount","value":"-20"}]"#,
    )];
    let out = run(&rules, &p);
    assert_eq!(out.product.variants[0].price, price("0.01"));
    assert_eq!(
        out.messages(),
        ["rule 'clear' changed price of TEE-M 10.00 -> 0.01 (held at the minimum price 0.01)"]
    );
}

#[test]
fn stock_actions() {
    let mut p = sample_product();
    p.variants[1].inventory_quantity = 40;
    let out = run(
        &[rule(
            "stock",
            1,
            ALWAYS,
            r#"[{"type":"stock_buffer","keep":2},{"type":"stock_percent","percent":50},{"type":"stock_cap","max":10}]"#,
        )],
        &p,
    );
    // TEE-M: 5 -> 3 -> 1 (floor of 1.5) -> 1; TEE-XL: 40 -> 38 -> 19 -> 10.
    assert_eq!(out.product.variants[0].inventory_quantity, 1);
    assert_eq!(out.product.variants[1].inventory_quantity, 10);
    assert_eq!(
        out.messages(),
        [
            "rule 'stock' changed quantity of TEE-M 5 -> 3",
            "rule 'stock' changed quantity of TEE-XL 40 -> 38",
            "rule 'stock' changed quantity of TEE-M 3 -> 1",
            "rule 'stock' changed quantity of TEE-XL 38 -> 19",
            "rule 'stock' changed quantity of TEE-XL 19 -> 10",
        ]
    );
}

#[test]
fn exclusion_of_some_and_of_all_variants() {
    let p = sample_product();
    let out = run(
        &[rule(
            "no XL",
            1,
            r#"{"sku":"*-XL"}"#,
            r#"[{"type":"exclude"}]"#,
        )],
        &p,
    );
    assert!(!out.excluded);
    assert_eq!(out.excluded_variants, [p.variants[1].id]);
    assert_eq!(out.product.variants.len(), 1);
    assert_eq!(out.messages(), ["rule 'no XL' excluded TEE-XL"]);

    let out = run(
        &[
            rule(
                "out of stock",
                1,
                r#"{"stock":{"op":"lte","value":0}}"#,
                r#"[{"type":"exclude"}]"#,
            ),
            rule("M too", 2, r#"{"sku":"TEE-M"}"#, r#"[{"type":"exclude"}]"#),
            rule("later", 3, ALWAYS, r#"[{"type":"stock_cap","max":1}]"#),
        ],
        &p,
    );
    assert!(out.excluded);
    assert!(out.product.variants.is_empty());
    assert_eq!(out.excluded_variants, [p.variants[0].id, p.variants[1].id]);
    // The rule after the last exclusion never runs.
    assert_eq!(out.applied.len(), 2);
}

#[test]
fn product_actions_need_one_matching_variant() {
    let mut p = sample_product();
    p.vendor = Some("Acme".into());
    let rules = [
        rule(
            "brand",
            1,
            r#"{"sku":"*-XL"}"#,
            r#"[{"type":"title_template","template":"{vendor} {title} ({product_type})"},
                {"type":"description_template","template":"{description} Ships in {{2}} days."},
                {"type":"set_field","field":"product_type","value":"Shirts"},
                {"type":"set_field","field":"vendor","value":""},
                {"type":"set_field","field":"status","value":"draft"},
                {"type":"set_field","field":"tags_add","value":"ebay"},
                {"type":"set_field","field":"tags_add","value":"EBAY"},
                {"type":"set_field","field":"tags_remove","value":"summer"}]"#,
        ),
        rule(
            "never",
            2,
            r#"{"sku":"NOPE-*"}"#,
            r#"[{"type":"title_template","template":"x"}]"#,
        ),
    ];
    let out = run(&rules, &p);
    let q = &out.product;
    assert_eq!(q.title, "Acme Tee ()");
    assert_eq!(
        q.description.as_deref(),
        Some("Soft cotton. Ships in {2} days.")
    );
    assert_eq!(q.product_type.as_deref(), Some("Shirts"));
    assert_eq!(q.vendor, None);
    assert_eq!(q.status, ProductStatus::Draft);
    assert_eq!(q.tags, ["ebay"]);
    assert_eq!(
        out.messages(),
        [
            "rule 'brand' changed title 'Tee' -> 'Acme Tee ()'",
            "rule 'brand' changed description 'Soft cotton.' -> 'Soft cotton. Ships in {2} days.'",
            "rule 'brand' changed product_type '' -> 'Shirts'",
            "rule 'brand' changed vendor 'Acme' -> ''",
            "rule 'brand' changed status active -> draft",
            "rule 'brand' changed tags 'Summer' -> 'Summer, ebay'",
            "rule 'brand' changed tags 'Summer, ebay' -> 'ebay'",
        ]
    );
}

#[test]
fn rules_that_change_nothing_are_omitted() {
    let p = sample_product();
    let out = run(
        &[rule(
            "cap high",
            1,
            ALWAYS,
            r#"[{"type":"stock_cap","max":100}]"#,
        )],
        &p,
    );
    assert!(out.applied.is_empty());
    assert_eq!(out.product, p);
}

#[test]
fn scope_and_enabled_filter_rules() {
    let p = sample_product();
    let conn = ConnectionId::new();
    let markup = r#"[{"type":"price_adjust","kind":"amount","value":"1"}]"#;
    let mut everywhere = rule("all", 1, ALWAYS, markup);
    let mut this_conn = rule("conn", 2, ALWAYS, markup);
    this_conn.scope.connection = Some(conn);
    let mut other_conn = rule("other", 3, ALWAYS, markup);
    other_conn.scope.connection = Some(ConnectionId::new());
    let mut etsy = rule("etsy", 4, ALWAYS, markup);
    etsy.scope.platform = Some(Platform::Etsy);
    let mut ebay_conn = rule("ebay+conn", 5, ALWAYS, markup);
    ebay_conn.scope = RuleScope {
        connection: Some(conn),
        platform: Some(Platform::Ebay),
    };
    let mut off = rule("off", 6, ALWAYS, markup);
    off.enabled = false;
    assert!(everywhere.applies_to(conn, Platform::Shopify));
    assert!(!etsy.applies_to(conn, Platform::Ebay));
    let rules = [
        everywhere.clone(),
        this_conn,
        other_conn,
        etsy,
        ebay_conn,
        off,
    ];
    let out = apply_rules(&rules, &p, conn, Platform::Ebay);
    let names: Vec<_> = out.applied.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["all", "conn", "ebay+conn"]);
    assert_eq!(out.product.variants[0].price, price("13.00"));
    everywhere.enabled = false;
    assert!(
        apply_rules(&[everywhere], &p, conn, Platform::Ebay)
            .applied
            .is_empty()
    );
}

#[test]
fn later_rules_see_earlier_changes() {
    let p = sample_product();
    let rules = [
        rule(
            "up",
            1,
            ALWAYS,
            r#"[{"type":"price_adjust","kind":"amount","value":"5"}]"#,
        ),
        // Only TEE-XL (17.00 after the markup) is above 16.
        rule(
            "dear",
            2,
            r#"{"price":{"op":"gt","value":"16"}}"#,
            r#"[{"type":"exclude"}]"#,
        ),
    ];
    let out = run(&rules, &p);
    assert_eq!(out.excluded_variants, [p.variants[1].id]);
}

#[test]
fn ties_in_priority_run_in_id_order() {
    let p = sample_product();
    let a = rule(
        "a",
        5,
        ALWAYS,
        r#"[{"type":"price_adjust","kind":"amount","value":"1"}]"#,
    );
    let b = rule(
        "b",
        5,
        ALWAYS,
        r#"[{"type":"price_adjust","kind":"percent","value":"100"}]"#,
    );
    assert!(a.id < b.id);
    // (10 + 1) * 2 = 22, not 10 * 2 + 1 = 21, whichever order they are given in.
    for rules in [[a.clone(), b.clone()], [b, a]] {
        assert_eq!(run(&rules, &p).product.variants[0].price, price("22.00"));
    }
}

#[test]
fn outcomes_serialise() {
    let p = sample_product();
    let out = run(&[rule("x", 1, ALWAYS, r#"[{"type":"exclude"}]"#)], &p);
    let json = serde_json::to_value(&out).unwrap();
    assert_eq!(json["excluded"], true);
    assert_eq!(json["applied"][0]["changes"][0]["field"], "excluded");
    assert!(json["applied"][0]["changes"][0].get("note").is_none());
    let back: RulesOutcome = serde_json::from_value(json).unwrap();
    assert_eq!(back, out);
    let r = rule("flat", 1, ALWAYS, r#"[{"type":"exclude"}]"#);
    let json = serde_json::to_value(&r).unwrap();
    assert!(json.get("connection_id").is_some() && json.get("scope").is_none());
    assert_eq!(serde_json::from_value::<Rule>(json).unwrap(), r);
}

// ---- properties -------------------------------------------------------------

fn arb_decimal(lo: i64, hi: i64, scale: u32) -> impl Strategy<Value = Decimal> {
    (lo..=hi).prop_map(move |n| Decimal::new(n, scale))
}

fn arb_stock_action() -> impl Strategy<Value = Action> {
    prop_oneof![
        (-5i64..50).prop_map(|keep| Action::StockBuffer { keep }),
        (-5i64..50).prop_map(|max| Action::StockCap { max }),
        arb_decimal(-50, 150, 0).prop_map(|percent| Action::StockPercent { percent }),
    ]
}

fn arb_price_action() -> impl Strategy<Value = Action> {
    prop_oneof![
        arb_decimal(-9_999, 100_000, 2).prop_map(|value| Action::PriceAdjust {
            kind: AdjustKind::Percent,
            value
        }),
        arb_decimal(-100_000, 100_000, 3).prop_map(|value| Action::PriceAdjust {
            kind: AdjustKind::Amount,
            value
        }),
        arb_decimal(0, 99, 2).prop_map(|ending| Action::PriceEnding { ending }),
    ]
}

fn arb_action() -> impl Strategy<Value = Action> {
    prop_oneof![
        4 => arb_price_action(),
        4 => arb_stock_action(),
        1 => Just(Action::Exclude),
        1 => Just(Action::TitleTemplate { template: "{vendor} {title}".into() }),
        1 => Just(Action::SetField { field: SetFieldKind::TagsAdd, value: "promo".into() }),
    ]
}

fn arb_condition() -> impl Strategy<Value = Condition> {
    let leaf = prop_oneof![
        Just(Condition::Always(true)),
        Just(Condition::Tag("promo".into())),
        Just(Condition::Sku("*-M".into())),
        arb_decimal(0, 3_000, 2).prop_map(|value| Condition::Price(PriceComparison {
            op: CompareOp::Gt,
            value
        })),
        (-5i64..20).prop_map(|value| Condition::Stock(StockComparison {
            op: CompareOp::Lte,
            value
        })),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Condition::All),
            prop::collection::vec(inner.clone(), 0..3).prop_map(Condition::Any),
            inner.prop_map(|c| Condition::Not(Box::new(c))),
        ]
    })
}

fn arb_rule() -> impl Strategy<Value = Rule> {
    (
        0i32..4,
        arb_condition(),
        prop::collection::vec(arb_action(), 1..4),
        any::<bool>(),
    )
        .prop_map(|(priority, condition, actions, enabled)| Rule {
            id: RuleId::new(),
            name: format!("p{priority}"),
            priority,
            scope: RuleScope::default(),
            condition,
            actions,
            enabled: enabled || priority != 3,
        })
}

fn arb_product() -> impl Strategy<Value = Product> {
    prop::collection::vec((0i64..1_000_000, -20i64..60), 1..4).prop_map(|vs| {
        let mut p = sample_product();
        let skus = ["A-M", "B-L", "C-M"];
        p.variants = vs
            .into_iter()
            .enumerate()
            .map(|(i, (cents, stock))| {
                let mut v = variant(p.id, skus[i], "1", stock);
                v.price = Price::new(Decimal::new(cents, 2)).unwrap();
                v
            })
            .collect();
        p
    })
}

fn cents(p: Price) -> bool {
    p.amount().normalize().scale() <= 2
}

proptest! {
    #[test]
    fn the_same_rules_in_any_order_give_the_same_outcome(
        rules in prop::collection::vec(arb_rule(), 0..6),
        product in arb_product(),
        seed in any::<u64>(),
    ) {
        let first = run(&rules, &product);
        prop_assert_eq!(&run(&rules, &product), &first);
        let mut shuffled = rules.clone();
        // A deterministic shuffle driven by the seed.
        let mut s = seed;
        for i in (1..shuffled.len()).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (s >> 33) as usize % (i + 1));
        }
        prop_assert_eq!(run(&shuffled, &product), first);
    }

    #[test]
    fn all_at_once_equals_one_at_a_time_by_priority(
        rules in prop::collection::vec(arb_rule(), 0..6),
        product in arb_product(),
    ) {
        let all = run(&rules, &product);
        let mut sorted: Vec<&Rule> = rules.iter().filter(|r| r.enabled).collect();
        sorted.sort_by_key(|r| (r.priority, r.id));
        let mut current = product.clone();
        let mut applied = Vec::new();
        let mut excluded = Vec::new();
        for r in sorted {
            if current.variants.is_empty() {
                break;
            }
            let step = run(std::slice::from_ref(r), &current);
            current = step.product;
            applied.extend(step.applied);
            excluded.extend(step.excluded_variants);
        }
        let position = |id: &VariantId| product.variants.iter().position(|v| v.id == *id);
        excluded.sort_by_key(position);
        prop_assert_eq!(&all.product, &current);
        prop_assert_eq!(&all.applied, &applied);
        prop_assert_eq!(&all.excluded_variants, &excluded);
        prop_assert_eq!(all.excluded, current.variants.is_empty());
    }

    #[test]
    fn stock_never_goes_negative(
        actions in prop::collection::vec(arb_stock_action(), 1..5),
        stock in prop_oneof![any::<i64>(), -100i64..100],
    ) {
        let mut p = sample_product();
        p.variants.truncate(1);
        p.variants[0].inventory_quantity = stock;
        let r = Rule {
            id: RuleId::new(), name: "s".into(), priority: 1, scope: RuleScope::default(),
            condition: Condition::Always(true), actions, enabled: true,
        };
        let out = run(&[r], &p);
        prop_assert!(out.product.variants[0].inventory_quantity >= 0);
        prop_assert!(out.product.variants[0].inventory_quantity <= stock.max(0));
    }

    #[test]
    fn prices_stay_at_or_above_a_cent_in_whole_cents(
        actions in prop::collection::vec(arb_price_action(), 1..5),
        amount in prop_oneof![0i64..10_000_000, Just(0), Just(1)],
        scale in 0u32..5,
        compare_extra in prop::option::of(0i64..1_000_000),
    ) {
        let mut p = sample_product();
        p.variants.truncate(1);
        p.variants[0].price = Price::new(Decimal::new(amount, scale)).unwrap();
        p.variants[0].compare_at_price = compare_extra
            .map(|e| Price::new(Decimal::new(amount, scale) + Decimal::new(e, 2)).unwrap());
        let r = Rule {
            id: RuleId::new(), name: "p".into(), priority: 1, scope: RuleScope::default(),
            condition: Condition::Always(true), actions, enabled: true,
        };
        let out = run(&[r], &p);
        let v = &out.product.variants[0];
        prop_assert!(v.price.amount() >= action::MIN_PRICE);
        prop_assert!(cents(v.price));
        if let Some(c) = v.compare_at_price {
            prop_assert!(c.amount() >= v.price.amount(), "compare-at {} below price {}", c, v.price);
            prop_assert!(cents(c));
        }
    }

    #[test]
    fn endings_end_in_the_ending_and_never_lower_the_price(
        amount in 0i64..100_000_000,
        scale in 0u32..5,
        ending in 0i64..100,
    ) {
        let input = Decimal::new(amount, scale);
        let ending = Decimal::new(ending, 2);
        let out = action::price_ending(input, ending).price.amount();
        prop_assert!(out >= input);
        prop_assert!(out >= action::MIN_PRICE);
        prop_assert_eq!(out.fract(), ending);
        // And it is the smallest such amount.
        prop_assert!(out - Decimal::ONE < input.max(action::MIN_PRICE));
    }
}
