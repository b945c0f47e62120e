//! What a rule does, and the arithmetic behind each price and stock action.
//!
//! The arithmetic is total: whatever numbers an (even unvalidated) rule carries,
//! prices come out with two decimal places within [`MIN_PRICE`, `Price::max()`]
//! and stock comes out at zero or more. Nothing here panics on overflow.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::money::Price;

/// No channel lists an item for free; a markdown that would go lower stops here.
pub const MIN_PRICE: Decimal = Decimal::from_parts(1, 0, 0, false, 2);

/// How a `price_adjust` value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AdjustKind {
    /// `value` percent of the price: `12` is a 12% markup, `-20` a 20% markdown.
    Percent,
    /// A fixed amount added (negative: taken off) in the variant's currency.
    Amount,
}

/// A product field `set_field` can override.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SetFieldKind {
    /// Replace the vendor; an empty value clears it.
    Vendor,
    /// Replace the product type; an empty value clears it.
    ProductType,
    /// `active`, `draft` or `archived`.
    Status,
    /// Add one tag (kept once, case-insensitively).
    TagsAdd,
    /// Remove one tag (case-insensitively).
    TagsRemove,
}

impl SetFieldKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SetFieldKind::Vendor => "vendor",
            SetFieldKind::ProductType => "product_type",
            SetFieldKind::Status => "status",
            SetFieldKind::TagsAdd => "tags_add",
            SetFieldKind::TagsRemove => "tags_remove",
        }
    }
}

/// One thing a rule does. JSON is tagged by `type`:
/// `{"type":"price_adjust","kind":"percent","value":"12"}`.
///
/// Variant actions (`exclude`, price and stock actions) apply to each variant
/// the rule's condition holds for; product actions (templates, `set_field`)
/// apply once when the condition holds for at least one variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Do not list the matching variants on the channel (the whole product when
    /// every variant is excluded).
    Exclude,
    /// Mark up (positive) or down (negative) the price and compare-at price.
    PriceAdjust {
        kind: AdjustKind,
        #[serde(deserialize_with = "super::decimal::deserialize")]
        #[schema(value_type = String, example = "12")]
        value: Decimal,
    },
    /// Round the price (and compare-at price) up to the next amount ending in
    /// `ending`: with `0.99`, 11.20 becomes 11.99, 11.99 stays, 12.00 becomes 12.99.
    PriceEnding {
        #[serde(deserialize_with = "super::decimal::deserialize")]
        #[schema(value_type = String, example = "0.99")]
        ending: Decimal,
    },
    /// Hold back `keep` units: the channel sees stock minus `keep`, never below 0.
    StockBuffer { keep: i64 },
    /// Show at most `max` units.
    StockCap { max: i64 },
    /// Show `percent` of stock, rounded down.
    StockPercent {
        #[serde(deserialize_with = "super::decimal::deserialize")]
        #[schema(value_type = String, example = "50")]
        percent: Decimal,
    },
    /// Replace the title; see [`super::template`] for placeholders.
    TitleTemplate { template: String },
    /// Replace the description; see [`super::template`] for placeholders.
    DescriptionTemplate { template: String },
    /// Override a product field.
    SetField { field: SetFieldKind, value: String },
}

impl Action {
    /// Whether the action works per variant (as opposed to once per product).
    pub fn is_variant_level(&self) -> bool {
        matches!(
            self,
            Action::Exclude
                | Action::PriceAdjust { .. }
                | Action::PriceEnding { .. }
                | Action::StockBuffer { .. }
                | Action::StockCap { .. }
                | Action::StockPercent { .. }
        )
    }
}

/// A price after an action, and whether it had to be pulled into range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PriceResult {
    pub price: Price,
    pub clamped: Option<Clamp>,
}

/// Which bound a computed price hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clamp {
    Min,
    Max,
}

/// Half-up to cents (11.205 -> 11.21; banker's rounding would give 11.20), then
/// into [`MIN_PRICE`, `Price::max()`].
pub fn finish_price(raw: Option<Decimal>) -> PriceResult {
    let rounded = raw.map(|d| d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero));
    let (value, clamped) = match rounded {
        Some(d) if d < MIN_PRICE => (MIN_PRICE, Some(Clamp::Min)),
        Some(d) if d > Price::max() => (Price::max(), Some(Clamp::Max)),
        Some(d) => (d, None),
        // Only overflow gets here, and only an astronomically large value overflows.
        None => (Price::max(), Some(Clamp::Max)),
    };
    PriceResult {
        price: Price::new(value).unwrap_or_else(|_| unreachable_price()),
        clamped,
    }
}

/// `Price::new` accepts every value `finish_price` produces (two places, within
/// range); this keeps the code total without an `unwrap` should that change.
fn unreachable_price() -> Price {
    Price::new(MIN_PRICE).expect("0.01 is a valid price")
}

/// `price_adjust`: percent or amount, then [`finish_price`].
pub fn adjust_price(price: Decimal, kind: AdjustKind, value: Decimal) -> PriceResult {
    let raw = match kind {
        AdjustKind::Percent => value
            .checked_div(Decimal::ONE_HUNDRED)
            .and_then(|f| Decimal::ONE.checked_add(f))
            .and_then(|f| price.checked_mul(f)),
        AdjustKind::Amount => price.checked_add(value),
    };
    finish_price(raw)
}

/// The ending as it is applied: its fractional part in cents, in [0, 0.99].
/// Validation only admits such endings; this keeps unvalidated ones sensible.
pub fn normalise_ending(ending: Decimal) -> Decimal {
    let e = ending
        .abs()
        .fract()
        .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    if e >= Decimal::ONE { Decimal::ZERO } else { e }
}

/// `price_ending`: the smallest amount at or above both `price` and
/// [`MIN_PRICE`] whose fractional part is `ending`.
pub fn price_ending(price: Decimal, ending: Decimal) -> PriceResult {
    let e = normalise_ending(ending);
    let floor = price.max(MIN_PRICE);
    let candidate = floor.trunc().checked_add(e);
    let raw = candidate.and_then(|c| {
        if c >= floor {
            Some(c)
        } else {
            c.checked_add(Decimal::ONE)
        }
    });
    finish_price(raw)
}

/// `stock_buffer`: stock minus `keep`, never below zero.
pub fn stock_buffer(stock: i64, keep: i64) -> i64 {
    stock.saturating_sub(keep.max(0)).max(0)
}

/// `stock_cap`: at most `max`, never below zero.
pub fn stock_cap(stock: i64, max: i64) -> i64 {
    stock.min(max).max(0)
}

/// `stock_percent`: `percent` of stock rounded down; percent is read within
/// 0..=100 (validation refuses anything else), stock below zero counts as zero.
pub fn stock_percent(stock: i64, percent: Decimal) -> i64 {
    let p = percent.clamp(Decimal::ZERO, Decimal::ONE_HUNDRED);
    let shown = Decimal::from(stock.max(0)) * p / Decimal::ONE_HUNDRED;
    // At most `stock`, so it fits back into an i64.
    i64::try_from(shown.floor()).unwrap_or(0).max(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn p(r: PriceResult) -> String {
        r.price.to_string()
    }

    #[test]
    fn percent_markup_and_markdown() {
        assert_eq!(
            p(adjust_price(d("10.00"), AdjustKind::Percent, d("12"))),
            "11.20"
        );
        assert_eq!(
            p(adjust_price(d("10.00"), AdjustKind::Percent, d("-25"))),
            "7.50"
        );
        // 9.99 * 1.125 = 11.23875 -> 11.24
        assert_eq!(
            p(adjust_price(d("9.99"), AdjustKind::Percent, d("12.5"))),
            "11.24"
        );
    }

    #[test]
    fn rounding_is_half_up_not_bankers() {
        // 10.01 * 1.05 = 10.5105 -> 10.51; 11.1 * 1.05 = 11.655 -> 11.66 (banker's: 11.66 too);
        // 10.10 * 1.05 = 10.605 -> 10.61 (banker's would give 10.60).
        assert_eq!(
            p(adjust_price(d("10.10"), AdjustKind::Percent, d("5"))),
            "10.61"
        );
        assert_eq!(
            p(adjust_price(d("0.125"), AdjustKind::Amount, d("0"))),
            "0.13"
        );
    }

    #[test]
    fn amount_adjustments_and_the_floor() {
        assert_eq!(
            p(adjust_price(d("10.00"), AdjustKind::Amount, d("2.5"))),
            "12.50"
        );
        let r = adjust_price(d("10.00"), AdjustKind::Amount, d("-15"));
        assert_eq!(p(r), "0.01");
        assert_eq!(r.clamped, Some(Clamp::Min));
        let r = adjust_price(d("10.00"), AdjustKind::Percent, d("-100"));
        assert_eq!((p(r), r.clamped), ("0.01".into(), Some(Clamp::Min)));
        let r = adjust_price(Price::max(), AdjustKind::Percent, d("1000"));
        assert_eq!(r.clamped, Some(Clamp::Max));
        let r = adjust_price(d("5"), AdjustKind::Amount, Decimal::MAX);
        assert_eq!(r.clamped, Some(Clamp::Max));
        assert_eq!(
            adjust_price(d("5"), AdjustKind::Amount, d("1")).clamped,
            None
        );
    }

    #[test]
    fn endings_round_up() {
        let e = d("0.99");
        assert_eq!(p(price_ending(d("11.20"), e)), "11.99");
        assert_eq!(p(price_ending(d("11.99"), e)), "11.99");
        assert_eq!(p(price_ending(d("12.00"), e)), "12.99");
        assert_eq!(p(price_ending(d("0"), e)), "0.99");
        assert_eq!(p(price_ending(d("11.20"), d("0.5"))), "11.50");
        assert_eq!(p(price_ending(d("11.60"), d("0.50"))), "12.50");
        assert_eq!(p(price_ending(d("11.20"), d("0"))), "12.00");
        assert_eq!(p(price_ending(d("12"), d("0"))), "12.00");
        // Zero ending on a zero price: 0.00 is below the floor, so 1.00.
        assert_eq!(p(price_ending(d("0"), d("0"))), "1.00");
        // Out-of-range endings are read as their cents.
        assert_eq!(p(price_ending(d("11.20"), d("1.95"))), "11.95");
    }

    #[test]
    fn stock_arithmetic() {
        assert_eq!(stock_buffer(10, 3), 7);
        assert_eq!(stock_buffer(2, 3), 0);
        assert_eq!(stock_buffer(-4, 0), 0);
        assert_eq!(stock_buffer(i64::MIN, i64::MAX), 0);
        assert_eq!(stock_buffer(5, -3), 5);
        assert_eq!(stock_cap(10, 3), 3);
        assert_eq!(stock_cap(2, 3), 2);
        assert_eq!(stock_cap(-2, 3), 0);
        assert_eq!(stock_percent(7, d("50")), 3);
        assert_eq!(stock_percent(10, d("33.3")), 3);
        assert_eq!(stock_percent(10, d("100")), 10);
        assert_eq!(stock_percent(-10, d("50")), 0);
        assert_eq!(stock_percent(i64::MAX, d("250")), i64::MAX);
    }

    #[test]
    fn json_shape() {
        let a: Action =
            serde_json::from_str(r#"{"type":"price_adjust","kind":"percent","value":12}"#).unwrap();
        assert_eq!(
            a,
            Action::PriceAdjust {
                kind: AdjustKind::Percent,
                value: d("12")
            }
        );
        let a: Action = serde_json::from_str(r#"{"type":"exclude"}"#).unwrap();
        assert_eq!(a, Action::Exclude);
        let a: Action = serde_json::from_str(r#"{"type":"price_ending","ending":"0.99"}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            r#"{"type":"price_ending","ending":"0.99"}"#
        );
        let err =
            serde_json::from_str::<Action>(r#"{"type":"stock_cap","max":3,"min":1}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `min`"), "{err}");
        assert!(serde_json::from_str::<Action>(r#"{"type":"teleport"}"#).is_err());
        assert!(
            serde_json::from_str::<Action>(r#"{"type":"set_field","field":"colour","value":"x"}"#)
                .is_err()
        );
    }
}
