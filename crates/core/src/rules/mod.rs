//! Sync rules: per-tenant, optionally per-channel transformations of the master
//! catalog on its way to a channel ("eBay prices +12%, ending in .99; hold back
//! two units; never list clearance items on Amazon").
//!
//! A [`Rule`] is a [`Condition`] and a list of [`Action`]s. [`apply_rules`] runs
//! a tenant's rules over one product for one connection and returns the
//! transformed product plus an explanation of every change ([`AppliedRule`],
//! [`Change`]), so a merchant can see why a channel shows what it shows. The
//! exact semantics are documented on the [`apply`] module.
//!
//! Everything here is pure: storage, the API and the sync worker call in with
//! values they loaded.

pub mod action;
pub mod apply;
pub mod condition;
pub mod template;
mod validate;

use serde::{Deserialize, Serialize};

pub use action::{Action, AdjustKind, SetFieldKind};
pub use apply::{AppliedRule, Change, RulesOutcome, apply_rules};
pub use condition::{CompareOp, Condition, PriceComparison, StockComparison};
pub use validate::{MAX_ACTIONS, MAX_CONDITION_DEPTH, MAX_CONDITION_SIZE, MAX_NAME_LEN};

use crate::ids::{ConnectionId, RuleId};
use crate::platform::Platform;

/// Where a rule applies. Both absent: every channel of the tenant. When both
/// are given, both must match.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RuleScope {
    /// Only this connection.
    #[serde(rename = "connection_id", default)]
    pub connection: Option<ConnectionId>,
    /// Only connections to this platform.
    #[serde(default)]
    pub platform: Option<Platform>,
}

/// A saved rule. Serialises flat (`connection_id` and `platform` beside `name`),
/// the same shape as [`RuleInput`] plus `id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Rule {
    pub id: RuleId,
    pub name: String,
    /// Lower runs first; ties run in id (creation) order.
    pub priority: i32,
    #[serde(flatten)]
    pub scope: RuleScope,
    pub condition: Condition,
    pub actions: Vec<Action>,
    /// A disabled rule is kept but never applied.
    pub enabled: bool,
}

impl Rule {
    /// Whether the rule's scope covers this connection (a rule with no scope
    /// applies everywhere). Does not look at `enabled`.
    pub fn applies_to(&self, connection: ConnectionId, platform: Platform) -> bool {
        self.scope.connection.is_none_or(|c| c == connection)
            && self.scope.platform.is_none_or(|p| p == platform)
    }
}

fn default_priority() -> i32 {
    100
}

fn default_enabled() -> bool {
    true
}

fn default_condition() -> Condition {
    Condition::Always(true)
}

/// A rule as sent to create or replace one. Unknown fields are refused, so a
/// misspelt `prority` is an error instead of a silently default priority.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    /// Shown in explanations: `rule 'eBay +12%' changed price ...`. 1 to 200 characters.
    pub name: String,
    /// Lower runs first. Defaults to 100.
    #[serde(default = "default_priority")]
    pub priority: i32,
    /// Limit the rule to one connection.
    #[serde(default)]
    pub connection_id: Option<ConnectionId>,
    /// Limit the rule to one platform.
    #[serde(default)]
    pub platform: Option<Platform>,
    /// Defaults to `{"always":true}`.
    #[serde(default = "default_condition")]
    pub condition: Condition,
    /// At least one.
    pub actions: Vec<Action>,
    #[serde(default = "default_enabled")]
    pub enabled: bool,
}

impl RuleInput {
    /// The rule this input describes, under the given id. Call [`RuleInput::validate`] first.
    pub fn into_rule(self, id: RuleId) -> Rule {
        Rule {
            id,
            name: self.name.trim().to_string(),
            priority: self.priority,
            scope: RuleScope {
                connection: self.connection_id,
                platform: self.platform,
            },
            condition: self.condition,
            actions: self.actions,
            enabled: self.enabled,
        }
    }
}

impl From<Rule> for RuleInput {
    fn from(rule: Rule) -> Self {
        RuleInput {
            name: rule.name,
            priority: rule.priority,
            connection_id: rule.scope.connection,
            platform: rule.scope.platform,
            condition: rule.condition,
            actions: rule.actions,
            enabled: rule.enabled,
        }
    }
}

/// Decimals in rules are accepted as strings (`"0.99"`, exact) or JSON numbers
/// (`0.99`, read through their shortest decimal form), like prices are.
pub(crate) mod decimal {
    use std::fmt;

    use rust_decimal::Decimal;
    use serde::Deserializer;

    struct Visitor;

    impl serde::de::Visitor<'_> for Visitor {
        type Value = Decimal;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a decimal such as \"0.99\"")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Decimal, E> {
            Decimal::from_str_exact(v.trim())
                .map_err(|_| E::custom(format!("`{v}` is not a decimal number")))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Decimal, E> {
            if !v.is_finite() {
                return Err(E::custom("must be a finite number"));
            }
            self.visit_str(&v.to_string())
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Decimal, E> {
            Ok(Decimal::from(v))
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Decimal, E> {
            Ok(Decimal::from(v))
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        d.deserialize_any(Visitor)
    }
}

#[cfg(test)]
pub(crate) mod tests;
