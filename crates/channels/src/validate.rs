//! What a channel would refuse a product for, found without a call.
//!
//! A dry run reports these per listing, and each adapter's
//! `upsert_products` refuses with the very same checks before it spends a
//! call, so the two always agree. The rules every platform shares live in
//! [`common`]; each adapter adds its platform's documented limits with the
//! helpers below (each cites its source where it is called).
//!
//! Codes are stable strings callers may match on; messages name the field,
//! the SKU where there is one, and the limit.

use std::collections::HashSet;

use rust_decimal::Decimal;

use crate::model::{ItemError, ProductPush};

pub const TITLE_EMPTY: &str = "TITLE_EMPTY";
pub const TITLE_TOO_LONG: &str = "TITLE_TOO_LONG";
pub const TITLE_INVALID_CHARACTERS: &str = "TITLE_INVALID_CHARACTERS";
pub const NO_VARIANTS: &str = "NO_VARIANTS";
pub const TOO_MANY_VARIANTS: &str = "TOO_MANY_VARIANTS";
pub const TOO_MANY_OPTIONS: &str = "TOO_MANY_OPTIONS";
pub const OPTIONS_REQUIRED: &str = "OPTIONS_REQUIRED";
pub const OPTION_VALUES_MISMATCH: &str = "OPTION_VALUES_MISMATCH";
pub const SKU_EMPTY: &str = "SKU_EMPTY";
pub const SKU_DUPLICATE: &str = "SKU_DUPLICATE";
pub const SKU_TOO_LONG: &str = "SKU_TOO_LONG";
pub const PRICE_NOT_POSITIVE: &str = "PRICE_NOT_POSITIVE";
pub const PRICE_OUT_OF_RANGE: &str = "PRICE_OUT_OF_RANGE";
pub const QUANTITY_NEGATIVE: &str = "QUANTITY_NEGATIVE";
pub const QUANTITY_TOO_HIGH: &str = "QUANTITY_TOO_HIGH";
pub const CURRENCY_INVALID: &str = "CURRENCY_INVALID";
pub const CURRENCY_MISMATCH: &str = "CURRENCY_MISMATCH";
pub const HANDLE_EMPTY: &str = "HANDLE_EMPTY";
pub const INVALID_EXTERNAL_ID: &str = "INVALID_EXTERNAL_ID";

/// The first problem as the product's refusal, or nothing to refuse. The
/// first is the one `upsert_products` reports; a dry run shows them all.
pub fn refusal(errors: Vec<ItemError>) -> Result<(), ItemError> {
    match errors.into_iter().next() {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// What no channel accepts: a product without a title or variants, a
/// variant without a SKU or with one its product already uses, a price that
/// is not positive, negative stock, option values that do not line up with
/// the options, a currency that is not an ISO 4217 code.
pub fn common(product: &ProductPush) -> Vec<ItemError> {
    let mut errors = Vec::new();
    if product.title.trim().is_empty() {
        errors.push(ItemError::permanent(
            TITLE_EMPTY,
            "title: a product needs a title",
        ));
    }
    if product.variants.is_empty() {
        errors.push(ItemError::permanent(
            NO_VARIANTS,
            "variants: a product needs at least one variant",
        ));
    }
    let mut seen = HashSet::new();
    for (n, v) in product.variants.iter().enumerate() {
        let name = if v.sku.trim().is_empty() {
            errors.push(ItemError::permanent(
                SKU_EMPTY,
                format!("variants[{n}].sku: every variant needs a SKU"),
            ));
            format!("variant {n}")
        } else {
            if !seen.insert(v.sku.as_str()) {
                errors.push(ItemError::permanent(
                    SKU_DUPLICATE,
                    format!(
                        "variants[{n}].sku: SKU {} appears twice in the product",
                        v.sku
                    ),
                ));
            }
            format!("SKU {}", v.sku)
        };
        if v.price <= Decimal::ZERO {
            errors.push(ItemError::permanent(
                PRICE_NOT_POSITIVE,
                format!("{name}: price {} must be above 0", v.price),
            ));
        }
        if v.quantity < 0 {
            errors.push(ItemError::permanent(
                QUANTITY_NEGATIVE,
                format!("{name}: quantity {} must be 0 or more", v.quantity),
            ));
        }
        if v.option_values.len() != product.options.len() {
            errors.push(ItemError::permanent(
                OPTION_VALUES_MISMATCH,
                format!(
                    "{name}: {} option values for {} options",
                    v.option_values.len(),
                    product.options.len()
                ),
            ));
        }
        if !(v.currency.len() == 3 && v.currency.chars().all(|c| c.is_ascii_alphabetic())) {
            errors.push(ItemError::permanent(
                CURRENCY_INVALID,
                format!(
                    "{name}: currency `{}` is not a three-letter ISO 4217 code",
                    v.currency
                ),
            ));
        }
    }
    errors
}

/// A title longer than `max` characters (Unicode scalar values, as the
/// platforms count them), trimmed as the adapters send it.
pub fn title_length(product: &ProductPush, max: usize, platform: &str) -> Option<ItemError> {
    let length = product.title.trim().chars().count();
    (length > max).then(|| {
        ItemError::permanent(
            TITLE_TOO_LONG,
            format!("title: {length} characters; {platform} allows at most {max}"),
        )
    })
}

/// Every SKU longer than `max` characters.
pub fn sku_length(product: &ProductPush, max: usize, platform: &str) -> Vec<ItemError> {
    product
        .variants
        .iter()
        .filter(|v| v.sku.chars().count() > max)
        .map(|v| {
            ItemError::permanent(
                SKU_TOO_LONG,
                format!(
                    "sku: SKU {} has {} characters; {platform} allows at most {max}",
                    v.sku,
                    v.sku.chars().count()
                ),
            )
        })
        .collect()
}

/// More variants than `max`.
pub fn variant_count(product: &ProductPush, max: usize, platform: &str) -> Option<ItemError> {
    (product.variants.len() > max).then(|| {
        ItemError::permanent(
            TOO_MANY_VARIANTS,
            format!(
                "variants: {} variants; {platform} takes at most {max} per product",
                product.variants.len()
            ),
        )
    })
}

/// More options than `max`.
pub fn option_count(product: &ProductPush, max: usize, platform: &str) -> Option<ItemError> {
    (product.options.len() > max).then(|| {
        ItemError::permanent(
            TOO_MANY_OPTIONS,
            format!(
                "options: {} options; {platform} allows at most {max}",
                product.options.len()
            ),
        )
    })
}

/// Several variants and no option to tell them apart.
pub fn options_for_variants(product: &ProductPush, platform: &str) -> Option<ItemError> {
    (product.variants.len() > 1 && product.options.is_empty()).then(|| {
        ItemError::permanent(
            OPTIONS_REQUIRED,
            format!("options: {platform} needs options to tell several variants apart"),
        )
    })
}

/// Prices in another currency than the one the shop sells in, when the
/// connection says which that is.
pub fn currency_matches(product: &ProductPush, shop: Option<&str>) -> Vec<ItemError> {
    let Some(shop) = shop else {
        return Vec::new();
    };
    product
        .variants
        .iter()
        .filter(|v| !v.currency.eq_ignore_ascii_case(shop))
        .map(|v| {
            ItemError::permanent(
                CURRENCY_MISMATCH,
                format!(
                    "currency: SKU {} is priced in {}, the shop sells in {shop}",
                    v.sku, v.currency
                ),
            )
        })
        .collect()
}

/// Quantities above `max`.
pub fn quantity_max(product: &ProductPush, max: i64, platform: &str) -> Vec<ItemError> {
    product
        .variants
        .iter()
        .filter(|v| v.quantity > max)
        .map(|v| {
            ItemError::permanent(
                QUANTITY_TOO_HIGH,
                format!(
                    "quantity: SKU {} has {}; {platform} allows at most {max}",
                    v.sku, v.quantity
                ),
            )
        })
        .collect()
}

/// Prices outside `min..=max` (positive prices only: [`common`] reports the rest).
pub fn price_range(
    product: &ProductPush,
    min: Decimal,
    max: Decimal,
    platform: &str,
) -> Vec<ItemError> {
    product
        .variants
        .iter()
        .filter(|v| v.price > Decimal::ZERO && (v.price < min || v.price > max))
        .map(|v| {
            ItemError::permanent(
                PRICE_OUT_OF_RANGE,
                format!(
                    "price: SKU {} costs {}; {platform} takes {min} to {max}",
                    v.sku, v.price
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PushStatus, VariantPush};

    fn variant(sku: &str, size: &str) -> VariantPush {
        VariantPush {
            sku: sku.into(),
            external_id: None,
            option_values: vec![size.into()],
            price: Decimal::new(1999, 2),
            compare_at_price: None,
            currency: "USD".into(),
            barcode: None,
            weight_grams: None,
            quantity: 3,
        }
    }

    fn product() -> ProductPush {
        ProductPush {
            key: "k".into(),
            external_id: None,
            handle: "tee".into(),
            title: "Tee".into(),
            description: None,
            vendor: None,
            product_type: None,
            tags: vec![],
            status: PushStatus::Active,
            options: vec!["Size".into()],
            images: vec![],
            variants: vec![variant("T-S", "S"), variant("T-M", "M")],
        }
    }

    fn codes(errors: &[ItemError]) -> Vec<&str> {
        errors.iter().map(|e| e.code.as_str()).collect()
    }

    #[test]
    fn a_sound_product_passes() {
        assert!(common(&product()).is_empty());
        assert_eq!(refusal(common(&product())), Ok(()));
    }

    #[test]
    fn each_shared_rule_has_its_code() {
        let mut p = product();
        p.title = "  ".into();
        assert_eq!(codes(&common(&p)), [TITLE_EMPTY]);

        let mut p = product();
        p.variants.clear();
        assert_eq!(codes(&common(&p)), [NO_VARIANTS]);

        let mut p = product();
        p.variants[1].sku = " ".into();
        assert_eq!(codes(&common(&p)), [SKU_EMPTY]);

        let mut p = product();
        p.variants[1].sku = "T-S".into();
        let errors = common(&p);
        assert_eq!(codes(&errors), [SKU_DUPLICATE]);
        assert!(errors[0].message.contains("T-S"), "{}", errors[0].message);

        let mut p = product();
        p.variants[0].price = Decimal::ZERO;
        p.variants[1].price = Decimal::new(-1, 0);
        assert_eq!(codes(&common(&p)), [PRICE_NOT_POSITIVE, PRICE_NOT_POSITIVE]);

        let mut p = product();
        p.variants[0].quantity = -1;
        assert_eq!(codes(&common(&p)), [QUANTITY_NEGATIVE]);
        p.variants[0].quantity = 0;
        assert!(common(&p).is_empty(), "zero stock is fine");

        let mut p = product();
        p.variants[0].option_values.push("Red".into());
        assert_eq!(codes(&common(&p)), [OPTION_VALUES_MISMATCH]);

        for bad in ["US", "USDX", "U$D", ""] {
            let mut p = product();
            p.variants[0].currency = bad.into();
            assert_eq!(codes(&common(&p)), [CURRENCY_INVALID], "{bad}");
        }
    }

    #[test]
    fn all_problems_are_listed_and_the_first_is_the_refusal() {
        let mut p = product();
        p.title = String::new();
        p.variants[0].quantity = -5;
        let errors = common(&p);
        assert_eq!(codes(&errors), [TITLE_EMPTY, QUANTITY_NEGATIVE]);
        assert_eq!(refusal(errors).unwrap_err().code, TITLE_EMPTY);
    }

    #[test]
    fn platform_limits_name_the_field_and_the_limit() {
        let mut p = product();
        p.title = "x".repeat(81);
        let e = title_length(&p, 80, "eBay").unwrap();
        assert_eq!(e.code, TITLE_TOO_LONG);
        assert!(
            e.message.contains("81") && e.message.contains("80"),
            "{}",
            e.message
        );
        assert!(title_length(&p, 81, "eBay").is_none());
        // Characters, not bytes.
        p.title = "é".repeat(80);
        assert!(title_length(&p, 80, "eBay").is_none());

        let mut p = product();
        p.variants[0].sku = "S".repeat(41);
        assert_eq!(codes(&sku_length(&p, 40, "Amazon")), [SKU_TOO_LONG]);
        assert!(sku_length(&p, 41, "Amazon").is_empty());

        let p = product();
        assert_eq!(variant_count(&p, 1, "X").unwrap().code, TOO_MANY_VARIANTS);
        assert!(variant_count(&p, 2, "X").is_none());
        assert_eq!(option_count(&p, 0, "X").unwrap().code, TOO_MANY_OPTIONS);

        let mut p = product();
        p.options.clear();
        assert_eq!(
            options_for_variants(&p, "X").unwrap().code,
            OPTIONS_REQUIRED
        );
        p.variants.truncate(1);
        assert!(options_for_variants(&p, "X").is_none());

        let p = product();
        assert!(currency_matches(&p, Some("usd")).is_empty());
        assert!(currency_matches(&p, None).is_empty());
        assert_eq!(
            codes(&currency_matches(&p, Some("EUR"))),
            [CURRENCY_MISMATCH, CURRENCY_MISMATCH]
        );

        let mut p = product();
        p.variants[1].quantity = 1000;
        assert_eq!(codes(&quantity_max(&p, 999, "Etsy")), [QUANTITY_TOO_HIGH]);
        p.variants[1].quantity = 999;
        assert!(quantity_max(&p, 999, "Etsy").is_empty());

        let mut p = product();
        let (min, max) = (Decimal::new(20, 2), Decimal::new(50_000, 0));
        p.variants[0].price = Decimal::new(19, 2);
        p.variants[1].price = Decimal::new(50_001, 0);
        assert_eq!(
            codes(&price_range(&p, min, max, "Etsy")),
            [PRICE_OUT_OF_RANGE, PRICE_OUT_OF_RANGE]
        );
        p.variants[0].price = min;
        p.variants[1].price = max;
        assert!(price_range(&p, min, max, "Etsy").is_empty());
    }
}
