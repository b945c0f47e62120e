//! Running a tenant's rules over one product for one channel.
//!
//! Semantics, in full:
//! - Only enabled rules whose scope covers the connection and platform run, in
//!   ascending `priority`, ties broken by rule id, so the result never depends
//!   on the order rules were stored or passed in.
//! - Each rule sees the product as the rules before it left it (a markup rule at
//!   priority 10 changes the price a `price` condition at priority 20 compares).
//! - A rule's condition is evaluated once per remaining variant, before any of
//!   its actions run. Its variant actions (exclude, price, stock) then apply, in
//!   the order listed, to each variant it held for; its product actions
//!   (templates, `set_field`) apply once if it held for at least one variant.
//! - Excluded variants are removed from the working product, so later rules do
//!   not see them; once every variant is excluded the product is excluded and
//!   no further rule runs.
//! - Applying all rules at once gives exactly what applying them one at a time
//!   in that order would.

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::Rule;
use super::action::{self, Action, AdjustKind, Clamp, PriceResult, SetFieldKind};
use super::template;
use crate::catalog::{Product, ProductStatus, Variant};
use crate::ids::{ConnectionId, RuleId, VariantId};
use crate::money::Price;
use crate::platform::Platform;

/// One field one rule changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Change {
    /// `price`, `compare_at_price`, `quantity`, `title`, `description`,
    /// `vendor`, `product_type`, `status`, `tags`, or `excluded`.
    pub field: String,
    /// The variant's SKU for variant fields; absent for product fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    pub from: String,
    pub to: String,
    /// Why the value is not exactly what the rule computed (a price held at 0.01).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Text fields are quoted (and long ones shortened) so a message stays readable.
fn quoted(field: &str, value: &str) -> String {
    const MAX: usize = 60;
    if matches!(
        field,
        "price" | "compare_at_price" | "quantity" | "status" | "excluded"
    ) {
        return value.to_string();
    }
    if value.chars().count() > MAX {
        let short: String = value.chars().take(MAX).collect();
        format!("'{short}…'")
    } else {
        format!("'{value}'")
    }
}

/// `changed price of TEE-M 10.00 -> 11.20`, `excluded TEE-M`, `changed title 'Tee' -> 'Acme Tee'`.
impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field == "excluded" {
            return match &self.sku {
                Some(sku) => write!(f, "excluded {sku}"),
                None => f.write_str("excluded the product"),
            };
        }
        write!(f, "changed {}", self.field)?;
        if let Some(sku) = &self.sku {
            write!(f, " of {sku}")?;
        }
        write!(
            f,
            " {} -> {}",
            quoted(&self.field, &self.from),
            quoted(&self.field, &self.to)
        )?;
        if let Some(note) = &self.note {
            write!(f, " ({note})")?;
        }
        Ok(())
    }
}

/// What one rule did to the product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AppliedRule {
    pub rule: RuleId,
    pub name: String,
    pub changes: Vec<Change>,
}

impl AppliedRule {
    /// One line per change: `rule 'eBay +12%' changed price of TEE-M 10.00 -> 11.20`.
    pub fn messages(&self) -> Vec<String> {
        if self.changes.is_empty() {
            return vec![format!("rule '{}' matched but changed nothing", self.name)];
        }
        self.changes
            .iter()
            .map(|c| format!("rule '{}' {c}", self.name))
            .collect()
    }
}

/// The [`AppliedRule::messages`] joined with `; `.
impl fmt::Display for AppliedRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.messages().join("; "))
    }
}

/// The product as one channel should see it, and how it got that way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RulesOutcome {
    /// The transformed product; excluded variants are removed from `variants`.
    pub product: Product,
    /// Every variant was excluded: the product should not be listed at all.
    pub excluded: bool,
    /// Variants removed by `exclude` actions, in the product's variant order.
    pub excluded_variants: Vec<VariantId>,
    /// Rules that changed something (or excluded), in the order they ran.
    pub applied: Vec<AppliedRule>,
}

impl RulesOutcome {
    /// Every change as a sentence, in order: what the API and sync logs show.
    pub fn messages(&self) -> Vec<String> {
        self.applied
            .iter()
            .flat_map(AppliedRule::messages)
            .collect()
    }
}

/// Applies the tenant's rules to one product for one connection. See the
/// module docs for the exact semantics. Pure: the same input always gives the
/// same outcome.
pub fn apply_rules(
    rules: &[Rule],
    product: &Product,
    connection: ConnectionId,
    platform: Platform,
) -> RulesOutcome {
    let mut ordered: Vec<&Rule> = rules
        .iter()
        .filter(|r| r.enabled && r.applies_to(connection, platform))
        .collect();
    ordered.sort_by_key(|r| (r.priority, r.id));

    let mut outcome = RulesOutcome {
        product: product.clone(),
        excluded: false,
        excluded_variants: Vec::new(),
        applied: Vec::new(),
    };
    for rule in ordered {
        if outcome.product.variants.is_empty() {
            break;
        }
        apply_one(rule, &mut outcome);
    }
    outcome.excluded = !product.variants.is_empty() && outcome.product.variants.is_empty();
    // Report exclusions in the master product's variant order.
    let position = |id: &VariantId| product.variants.iter().position(|v| v.id == *id);
    outcome.excluded_variants.sort_by_key(position);
    outcome
}

fn apply_one(rule: &Rule, outcome: &mut RulesOutcome) {
    let product = &mut outcome.product;
    let matched: Vec<bool> = product
        .variants
        .iter()
        .map(|v| rule.condition.matches(product, v))
        .collect();
    if !matched.contains(&true) {
        return;
    }
    let mut changes = Vec::new();
    let mut excluded = vec![false; matched.len()];
    for action in &rule.actions {
        if action.is_variant_level() {
            for (i, variant) in product.variants.iter_mut().enumerate() {
                if matched[i] && !excluded[i] {
                    if matches!(action, Action::Exclude) {
                        excluded[i] = true;
                        changes.push(Change {
                            field: "excluded".into(),
                            sku: Some(variant.sku.clone()),
                            from: "false".into(),
                            to: "true".into(),
                            note: None,
                        });
                    } else {
                        apply_variant_action(action, variant, &mut changes);
                    }
                }
            }
        } else {
            apply_product_action(action, product, &mut changes);
        }
    }
    let mut i = 0;
    product.variants.retain(|v| {
        let keep = !excluded[i];
        i += 1;
        if !keep {
            outcome.excluded_variants.push(v.id);
        }
        keep
    });
    if !changes.is_empty() {
        outcome.applied.push(AppliedRule {
            rule: rule.id,
            name: rule.name.clone(),
            changes,
        });
    }
}

fn clamp_note(clamped: Option<Clamp>) -> Option<String> {
    clamped.map(|c| match c {
        Clamp::Min => format!("held at the minimum price {}", action::MIN_PRICE),
        Clamp::Max => format!("held at the maximum price {}", Price::max()),
    })
}

fn set_price(
    field: &str,
    sku: &str,
    slot: &mut Price,
    result: PriceResult,
    changes: &mut Vec<Change>,
) {
    if result.price != *slot {
        changes.push(Change {
            field: field.into(),
            sku: Some(sku.into()),
            from: slot.to_string(),
            to: result.price.to_string(),
            note: clamp_note(result.clamped),
        });
        *slot = result.price;
    }
}

fn apply_variant_action(action: &Action, variant: &mut Variant, changes: &mut Vec<Change>) {
    let price_op: Option<Box<dyn Fn(Decimal) -> PriceResult>> = match action {
        Action::PriceAdjust { kind, value } => {
            let (kind, value): (AdjustKind, Decimal) = (*kind, *value);
            Some(Box::new(move |p| action::adjust_price(p, kind, value)))
        }
        Action::PriceEnding { ending } => {
            let ending = *ending;
            Some(Box::new(move |p| action::price_ending(p, ending)))
        }
        _ => None,
    };
    if let Some(op) = price_op {
        let result = op(variant.price.amount());
        set_price("price", &variant.sku, &mut variant.price, result, changes);
        // The compare-at ("was") price moves with the price, so a sale stays a sale;
        // every price operation is monotonic, so compare-at stays at or above price.
        if let Some(mut cap) = variant.compare_at_price.filter(|c| !c.amount().is_zero()) {
            let result = op(cap.amount());
            set_price("compare_at_price", &variant.sku, &mut cap, result, changes);
            variant.compare_at_price = Some(cap);
        }
        return;
    }
    let before = variant.inventory_quantity;
    let after = match action {
        Action::StockBuffer { keep } => action::stock_buffer(before, *keep),
        Action::StockCap { max } => action::stock_cap(before, *max),
        Action::StockPercent { percent } => action::stock_percent(before, *percent),
        _ => before,
    };
    if after != before {
        changes.push(Change {
            field: "quantity".into(),
            sku: Some(variant.sku.clone()),
            from: before.to_string(),
            to: after.to_string(),
            note: None,
        });
        variant.inventory_quantity = after;
    }
}

fn text_change(
    field: &str,
    slot: &mut Option<String>,
    value: Option<String>,
    changes: &mut Vec<Change>,
) {
    if *slot != value {
        changes.push(Change {
            field: field.into(),
            sku: None,
            from: slot.clone().unwrap_or_default(),
            to: value.clone().unwrap_or_default(),
            note: None,
        });
        *slot = value;
    }
}

fn apply_product_action(action: &Action, product: &mut Product, changes: &mut Vec<Change>) {
    match action {
        Action::TitleTemplate { template } => {
            let title = template::render(template, product);
            if title != product.title {
                changes.push(Change {
                    field: "title".into(),
                    sku: None,
                    from: std::mem::replace(&mut product.title, title.clone()),
                    to: title,
                    note: None,
                });
            }
        }
        Action::DescriptionTemplate { template } => {
            let description = Some(template::render(template, product));
            text_change(
                "description",
                &mut product.description,
                description,
                changes,
            );
        }
        Action::SetField { field, value } => {
            let trimmed = value.trim();
            let text = (!trimmed.is_empty()).then(|| trimmed.to_string());
            match field {
                SetFieldKind::Vendor => text_change("vendor", &mut product.vendor, text, changes),
                SetFieldKind::ProductType => {
                    text_change("product_type", &mut product.product_type, text, changes)
                }
                SetFieldKind::Status => {
                    // Validation refuses unknown statuses; an unvalidated one is ignored.
                    if let Some(status) = ProductStatus::parse(trimmed)
                        && status != product.status
                    {
                        changes.push(Change {
                            field: "status".into(),
                            sku: None,
                            from: product.status.as_str().into(),
                            to: status.as_str().into(),
                            note: None,
                        });
                        product.status = status;
                    }
                }
                SetFieldKind::TagsAdd | SetFieldKind::TagsRemove => {
                    let before = product.tags.clone();
                    let wanted = trimmed.to_lowercase();
                    let has = |t: &String| t.trim().to_lowercase() == wanted;
                    if *field == SetFieldKind::TagsAdd {
                        if !trimmed.is_empty() && !product.tags.iter().any(has) {
                            product.tags.push(trimmed.to_string());
                        }
                    } else {
                        product.tags.retain(|t| !has(t));
                    }
                    if product.tags != before {
                        changes.push(Change {
                            field: "tags".into(),
                            sku: None,
                            from: before.join(", "),
                            to: product.tags.join(", "),
                            note: None,
                        });
                    }
                }
            }
        }
        _ => {}
    }
}
