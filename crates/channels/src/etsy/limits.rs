//! Etsy's own limits on what a listing may hold, from the Open API v3
//! reference (https://developers.etsy.com/documentation/reference):
//!
//! * `title` (createDraftListing / updateListing): at most 140 characters
//!   (lowered from 255 in 2011: https://groups.google.com/g/etsy-api-v2/c/TROSD3BdGIE);
//!   "valid title strings contain only letters, numbers, punctuation marks,
//!   mathematical symbols, whitespace characters, ™, © and ®", and "%", ":",
//!   "&" and "+" may each appear only once.
//! * `sku` of a listing product (updateListingInventory): at most 32 characters.
//! * an offering's `quantity`: 0 to 999; its `price`: 0.20 to 50,000.00 in
//!   the shop's currency.
//!
//! Rust's standard library has no Unicode general categories, so the title
//! rule is approximated: letters and numbers as Rust classifies them, the
//! space separators, ASCII punctuation and math symbols except the ones
//! Etsy's pattern leaves out (`$`, `^` and `` ` ``, which are currency and
//! modifier symbols, and `\`), and the Latin-1 and General Punctuation
//! blocks' marks. Emoji and other symbols are refused, as Etsy does.

use rust_decimal::Decimal;

use crate::model::{ItemError, ProductPush};
use crate::validate;

pub const TITLE_MAX: usize = 140;
pub const SKU_MAX: usize = 32;
pub const QUANTITY_MAX: i64 = 999;
/// 0.20, the smallest offering price.
pub const PRICE_MIN: Decimal = Decimal::from_parts(20, 0, 0, false, 2);
/// 50,000.00, the largest offering price.
pub const PRICE_MAX: Decimal = Decimal::from_parts(50_000, 0, 0, false, 0);
/// Characters a title may use at most once each.
const ONCE: [char; 4] = ['%', ':', '&', '+'];

/// Whether Etsy's title pattern takes `c` (see the module notes).
fn title_char(c: char) -> bool {
    if c.is_alphanumeric() || matches!(c, '™' | '©' | '®') {
        return true;
    }
    if c.is_ascii() {
        return c == ' ' || (c.is_ascii_punctuation() && !matches!(c, '$' | '^' | '`' | '\\'));
    }
    matches!(c,
        '\u{00A0}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}'
        | '¡' | '§' | '«' | '¶' | '·' | '»' | '¿' | '×' | '÷' | '±' | '¬'
        | '\u{2010}'..='\u{2027}' | '\u{2030}'..='\u{205E}'
        | '\u{2200}'..='\u{22FF}')
}

/// Etsy's limits on `product` (the module notes cite each).
pub fn check(product: &ProductPush) -> Vec<ItemError> {
    let mut errors = Vec::new();
    errors.extend(validate::title_length(product, TITLE_MAX, "Etsy"));
    let title = product.title.trim();
    let bad: String = title.chars().filter(|c| !title_char(*c)).collect();
    if !bad.is_empty() {
        errors.push(ItemError::permanent(
            validate::TITLE_INVALID_CHARACTERS,
            format!(
                "title: Etsy takes letters, numbers, punctuation, math symbols, spaces, ™, © and ®; not `{bad}`"
            ),
        ));
    }
    let repeated: Vec<String> = ONCE
        .iter()
        .filter(|c| title.matches(**c).count() > 1)
        .map(char::to_string)
        .collect();
    if !repeated.is_empty() {
        errors.push(ItemError::permanent(
            validate::TITLE_INVALID_CHARACTERS,
            format!(
                "title: Etsy allows each of % : & + once; `{}` repeats",
                repeated.join(" ")
            ),
        ));
    }
    errors.extend(validate::sku_length(product, SKU_MAX, "Etsy"));
    errors.extend(validate::quantity_max(product, QUANTITY_MAX, "Etsy"));
    errors.extend(validate::price_range(product, PRICE_MIN, PRICE_MAX, "Etsy"));
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PushStatus, VariantPush};

    fn product(title: &str) -> ProductPush {
        ProductPush {
            key: "k".into(),
            external_id: None,
            handle: "mug".into(),
            title: title.into(),
            description: None,
            vendor: None,
            product_type: None,
            tags: vec![],
            status: PushStatus::Active,
            options: vec![],
            images: vec![],
            variants: vec![VariantPush {
                sku: "MUG-1".into(),
                external_id: None,
                option_values: vec![],
                price: Decimal::new(2400, 2),
                compare_at_price: None,
                currency: "USD".into(),
                barcode: None,
                weight_grams: None,
                quantity: 5,
            }],
        }
    }

    fn codes(p: &ProductPush) -> Vec<String> {
        check(p).into_iter().map(|e| e.code).collect()
    }

    #[test]
    fn etsy_titles_follow_its_length_and_character_rules() {
        assert!(codes(&product("Handmade Ceramic Mug — Stoneware, 12 oz (Blue) ™")).is_empty());
        assert!(codes(&product("Café mug: 100% handmade & glazed + fired")).is_empty());
        assert_eq!(codes(&product(&"m".repeat(141))), ["TITLE_TOO_LONG"]);
        assert!(codes(&product(&"m".repeat(140))).is_empty());
        for bad in ["Mug $20", "Mug ^", "Mug `x`", "Mug 🙂", "Mug\\"] {
            assert_eq!(codes(&product(bad)), ["TITLE_INVALID_CHARACTERS"], "{bad}");
        }
        let e = check(&product("Mug: blue: big")).remove(0);
        assert_eq!(e.code, "TITLE_INVALID_CHARACTERS");
        assert!(e.message.contains(':'), "{}", e.message);
    }

    #[test]
    fn etsy_skus_quantities_and_prices_have_limits() {
        let mut p = product("Mug");
        p.variants[0].sku = "S".repeat(33);
        assert_eq!(codes(&p), ["SKU_TOO_LONG"]);
        p.variants[0].sku = "S".repeat(32);
        assert!(codes(&p).is_empty());

        p.variants[0].quantity = 1000;
        assert_eq!(codes(&p), ["QUANTITY_TOO_HIGH"]);
        p.variants[0].quantity = 999;
        assert!(codes(&p).is_empty());

        p.variants[0].price = Decimal::new(19, 2);
        assert_eq!(codes(&p), ["PRICE_OUT_OF_RANGE"]);
        p.variants[0].price = Decimal::new(5_000_001, 2);
        assert_eq!(codes(&p), ["PRICE_OUT_OF_RANGE"]);
        p.variants[0].price = PRICE_MIN;
        assert!(codes(&p).is_empty());
        p.variants[0].price = PRICE_MAX;
        assert!(codes(&p).is_empty());
    }
}
