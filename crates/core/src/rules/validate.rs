//! Checking a [`RuleInput`] before it is saved, reporting every problem with a
//! path such as `actions[1].value` or `condition.all[0].sku`.
//!
//! The bounds keep a rule meaningful (a 5000% markup is a typo) and keep
//! evaluation cheap (conditions are small and shallow).

use rust_decimal::Decimal;

use super::RuleInput;
use super::action::{Action, AdjustKind, SetFieldKind};
use super::condition::Condition;
use super::template;
use crate::catalog::{MAX_DESCRIPTION_LEN, MAX_TITLE_LEN, ProductStatus};
use crate::money::Price;
use crate::validation::ValidationErrors;

pub const MAX_NAME_LEN: usize = 200;
pub const MAX_ACTIONS: usize = 50;
/// Nesting levels of `all`/`any`/`not`, counting the leaf.
pub const MAX_CONDITION_DEPTH: usize = 16;
/// Nodes in one condition, leaves and combinators alike.
pub const MAX_CONDITION_SIZE: usize = 500;
/// Largest markup; anything above is far more likely a typo than a price policy.
const MAX_MARKUP_PERCENT: Decimal = Decimal::from_parts(1000, 0, 0, false, 0);
/// Templates may be longer than the field they render (placeholders expand,
/// literal text does not), but not unboundedly.
const MAX_TITLE_TEMPLATE_LEN: usize = 1_000;

fn check_text(errors: &mut ValidationErrors, field: &str, value: &str, what: &str) {
    if value.trim().is_empty() {
        errors.push(field, format!("{what} must not be empty"));
    } else if value.chars().count() > MAX_TITLE_LEN {
        errors.push(field, format!("must be at most {MAX_TITLE_LEN} characters"));
    } else if value.chars().any(char::is_control) {
        errors.push(field, "must not contain control characters");
    }
}

fn check_condition(errors: &mut ValidationErrors, path: &str, c: &Condition) {
    match c {
        Condition::All(cs) | Condition::Any(cs) => {
            let key = if matches!(c, Condition::All(_)) {
                "all"
            } else {
                "any"
            };
            for (i, inner) in cs.iter().enumerate() {
                check_condition(errors, &format!("{path}.{key}[{i}]"), inner);
            }
        }
        Condition::Not(inner) => check_condition(errors, &format!("{path}.not"), inner),
        Condition::Always(_) | Condition::Status(_) => {}
        Condition::Tag(t) => {
            check_text(errors, &format!("{path}.tag"), t, "a tag");
            if t.contains(',') {
                errors.push(format!("{path}.tag"), "a tag cannot contain commas");
            }
        }
        Condition::Vendor(v) => check_text(errors, &format!("{path}.vendor"), v, "a vendor"),
        Condition::ProductType(t) => {
            check_text(errors, &format!("{path}.product_type"), t, "a product type")
        }
        Condition::Price(cmp) => {
            if cmp.value.is_sign_negative() && !cmp.value.is_zero() {
                errors.push(format!("{path}.price.value"), "must not be negative");
            }
        }
        Condition::Stock(_) => {}
        Condition::Sku(pattern) => {
            let field = format!("{path}.sku");
            if pattern.is_empty() {
                errors.push(field, "a SKU pattern must not be empty");
            } else if pattern.chars().count() > MAX_TITLE_LEN {
                errors.push(field, format!("must be at most {MAX_TITLE_LEN} characters"));
            } else if pattern.chars().any(|c| c.is_whitespace() || c.is_control()) {
                errors.push(field, "must not contain spaces (SKUs never do)");
            }
        }
    }
}

fn check_action(errors: &mut ValidationErrors, path: &str, action: &Action) {
    let at = |field: &str| format!("{path}.{field}");
    match action {
        Action::Exclude => {}
        Action::PriceAdjust { kind, value } => match kind {
            AdjustKind::Percent => {
                if *value <= -Decimal::ONE_HUNDRED || *value > MAX_MARKUP_PERCENT {
                    errors.push(
                        at("value"),
                        "a percentage must be above -100 (a markdown) and at most 1000 (a markup)",
                    );
                }
            }
            AdjustKind::Amount => {
                if value.abs() > Price::max() {
                    errors.push(at("value"), format!("must be within ±{}", Price::max()));
                } else if value.normalize().scale() > 2 {
                    errors.push(at("value"), "must have at most 2 decimal places");
                }
            }
        },
        Action::PriceEnding { ending } => {
            if ending.is_sign_negative() && !ending.is_zero() || *ending >= Decimal::ONE {
                errors.push(at("ending"), "must be at least 0 and below 1, e.g. 0.99");
            } else if ending.normalize().scale() > 2 {
                errors.push(at("ending"), "must have at most 2 decimal places");
            }
        }
        Action::StockBuffer { keep } => {
            if *keep < 0 {
                errors.push(at("keep"), "must not be negative");
            }
        }
        Action::StockCap { max } => {
            if *max < 0 {
                errors.push(at("max"), "must not be negative");
            }
        }
        Action::StockPercent { percent } => {
            if *percent < Decimal::ZERO || *percent > Decimal::ONE_HUNDRED {
                errors.push(at("percent"), "must be between 0 and 100");
            }
        }
        Action::TitleTemplate { template: t } => {
            if t.trim().is_empty() {
                errors.push(at("template"), "a title template must not be empty");
            } else if t.chars().count() > MAX_TITLE_TEMPLATE_LEN {
                errors.push(
                    at("template"),
                    format!("must be at most {MAX_TITLE_TEMPLATE_LEN} characters"),
                );
            } else if let Err(e) = template::check(t) {
                errors.push(at("template"), e.to_string());
            }
        }
        Action::DescriptionTemplate { template: t } => {
            if t.chars().count() > MAX_DESCRIPTION_LEN {
                errors.push(
                    at("template"),
                    format!("must be at most {MAX_DESCRIPTION_LEN} characters"),
                );
            } else if let Err(e) = template::check(t) {
                errors.push(at("template"), e.to_string());
            }
        }
        Action::SetField { field, value } => {
            let path = at("value");
            match field {
                SetFieldKind::Vendor | SetFieldKind::ProductType => {
                    if value.chars().count() > MAX_TITLE_LEN {
                        errors.push(path, format!("must be at most {MAX_TITLE_LEN} characters"));
                    } else if value.chars().any(char::is_control) {
                        errors.push(path, "must not contain control characters");
                    }
                }
                SetFieldKind::Status => {
                    if ProductStatus::parse(value).is_none() {
                        errors.push(path, "must be active, draft or archived");
                    }
                }
                SetFieldKind::TagsAdd | SetFieldKind::TagsRemove => {
                    check_text(errors, &path, value, "a tag");
                    if value.contains(',') {
                        errors.push(path, "a tag cannot contain commas");
                    }
                }
            }
        }
    }
}

impl RuleInput {
    /// Every problem with the rule, or `Ok`.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let name_len = self.name.trim().chars().count();
        if name_len == 0 {
            errors.push("name", "must not be empty");
        } else if name_len > MAX_NAME_LEN {
            errors.push("name", format!("must be at most {MAX_NAME_LEN} characters"));
        } else if self.name.chars().any(char::is_control) {
            errors.push("name", "must not contain control characters");
        }
        if self.condition.depth() > MAX_CONDITION_DEPTH {
            errors.push(
                "condition",
                format!("nests deeper than {MAX_CONDITION_DEPTH} levels"),
            );
        } else if self.condition.size() > MAX_CONDITION_SIZE {
            errors.push(
                "condition",
                format!("has more than {MAX_CONDITION_SIZE} clauses"),
            );
        } else {
            check_condition(&mut errors, "condition", &self.condition);
        }
        if self.actions.is_empty() {
            errors.push("actions", "a rule needs at least one action");
        } else if self.actions.len() > MAX_ACTIONS {
            errors.push("actions", format!("at most {MAX_ACTIONS} actions"));
        }
        for (i, action) in self.actions.iter().enumerate() {
            check_action(&mut errors, &format!("actions[{i}]"), action);
        }
        errors.into_result()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: &str) -> RuleInput {
        serde_json::from_str(json).unwrap()
    }

    fn fields(json: &str) -> Vec<String> {
        input(json)
            .validate()
            .unwrap_err()
            .0
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn a_good_rule_passes_and_gets_defaults() {
        let r = input(
            r#"{"name":"eBay +12%","platform":"ebay",
                "condition":{"all":[{"tag":"sale"},{"sku":"TEE-*"}]},
                "actions":[{"type":"price_adjust","kind":"percent","value":"12"},
                           {"type":"price_ending","ending":"0.99"},
                           {"type":"title_template","template":"{vendor} {title}"},
                           {"type":"set_field","field":"status","value":"draft"}]}"#,
        );
        r.validate().unwrap();
        assert_eq!(r.priority, 100);
        assert!(r.enabled);
        let minimal = input(r#"{"name":"x","actions":[{"type":"exclude"}]}"#);
        minimal.validate().unwrap();
        assert_eq!(minimal.condition, Condition::Always(true));
    }

    #[test]
    fn bounds_are_reported_with_paths() {
        let f = fields(
            r#"{"name":"","actions":[
                {"type":"price_adjust","kind":"percent","value":5000},
                {"type":"price_adjust","kind":"percent","value":-100},
                {"type":"stock_percent","percent":101},
                {"type":"stock_buffer","keep":-1},
                {"type":"stock_cap","max":-1},
                {"type":"price_ending","ending":"1"},
                {"type":"price_ending","ending":"0.999"},
                {"type":"title_template","template":"{price} {title}"},
                {"type":"description_template","template":"{title"},
                {"type":"set_field","field":"status","value":"gone"},
                {"type":"set_field","field":"tags_add","value":" "},
                {"type":"price_adjust","kind":"amount","value":"0.001"}
            ]}"#,
        );
        assert_eq!(
            f,
            [
                "name",
                "actions[0].value",
                "actions[1].value",
                "actions[2].percent",
                "actions[3].keep",
                "actions[4].max",
                "actions[5].ending",
                "actions[6].ending",
                "actions[7].template",
                "actions[8].template",
                "actions[9].value",
                "actions[10].value",
                "actions[11].value",
            ]
        );
        // The edges that are allowed.
        input(
            r#"{"name":"x","actions":[
                {"type":"price_adjust","kind":"percent","value":1000},
                {"type":"price_adjust","kind":"percent","value":"-99.99"},
                {"type":"stock_percent","percent":0},
                {"type":"stock_percent","percent":100},
                {"type":"price_ending","ending":0},
                {"type":"stock_buffer","keep":0}
            ]}"#,
        )
        .validate()
        .unwrap();
    }

    #[test]
    fn conditions_are_checked_in_place() {
        let f = fields(
            r#"{"name":"x","actions":[{"type":"exclude"}],
                "condition":{"any":[{"tag":"ok"},{"not":{"sku":""}},{"all":[{"tag":" "},{"vendor":""}]},
                                    {"price":{"op":"lt","value":"-1"}}]}}"#,
        );
        assert_eq!(
            f,
            [
                "condition.any[1].not.sku",
                "condition.any[2].all[0].tag",
                "condition.any[2].all[1].vendor",
                "condition.any[3].price.value",
            ]
        );
    }

    #[test]
    fn structure_limits() {
        assert_eq!(fields(r#"{"name":"x","actions":[]}"#), ["actions"]);
        let mut deep = r#"{"tag":"a"}"#.to_string();
        for _ in 0..MAX_CONDITION_DEPTH {
            deep = format!(r#"{{"not":{deep}}}"#);
        }
        let json = format!(r#"{{"name":"x","actions":[{{"type":"exclude"}}],"condition":{deep}}}"#);
        assert_eq!(fields(&json), ["condition"]);
        let long = "n".repeat(201);
        let json = format!(r#"{{"name":"{long}","actions":[{{"type":"exclude"}}]}}"#);
        assert_eq!(fields(&json), ["name"]);
        let ok = "ñ".repeat(200);
        let json = format!(r#"{{"name":"{ok}","actions":[{{"type":"exclude"}}]}}"#);
        input(&json).validate().unwrap();
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err = serde_json::from_str::<RuleInput>(
            r#"{"name":"x","prority":1,"actions":[{"type":"exclude"}]}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown field `prority`"), "{err}");
    }
}
