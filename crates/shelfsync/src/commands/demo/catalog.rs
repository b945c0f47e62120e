//! The demo's sample catalog: a small design shop's range, made up but
//! shaped like a real one (product types with their own option axes, prices
//! and stock that vary, tags that rules can select on), and the same on
//! every run so a merchant trying the demo twice sees the same shop.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use shelfsync_core::catalog::{NewProduct, ProductStatus, VariantInput};
use shelfsync_core::money::Price;

/// One kind of product the shop makes.
struct Kind {
    /// The SKU prefix.
    code: &'static str,
    noun: &'static str,
    product_type: &'static str,
    /// Price in cents of the cheapest variant.
    base_cents: i64,
    option: &'static str,
    /// Each value with what it adds to the price, in cents.
    values: &'static [(&'static str, i64)],
    tags: &'static [&'static str],
}

const SIZES: &[(&str, i64)] = &[("S", 0), ("M", 0), ("L", 0), ("XL", 200)];

const KINDS: &[Kind] = &[
    Kind {
        code: "TEE",
        noun: "T-Shirt",
        product_type: "Apparel",
        base_cents: 2400,
        option: "Size",
        values: SIZES,
        tags: &["apparel", "cotton"],
    },
    Kind {
        code: "HOOD",
        noun: "Hoodie",
        product_type: "Apparel",
        base_cents: 5800,
        option: "Size",
        values: SIZES,
        tags: &["apparel", "winter"],
    },
    Kind {
        code: "MUG",
        noun: "Mug",
        product_type: "Kitchen",
        base_cents: 1600,
        option: "Size",
        values: &[("11oz", 0), ("15oz", 300)],
        tags: &["kitchen", "ceramic", "gift"],
    },
    Kind {
        code: "TOTE",
        noun: "Tote Bag",
        product_type: "Accessories",
        base_cents: 1900,
        option: "Colour",
        values: &[("Natural", 0), ("Black", 0)],
        tags: &["accessories", "cotton"],
    },
    Kind {
        code: "NOTE",
        noun: "Notebook",
        product_type: "Stationery",
        base_cents: 1400,
        option: "Ruling",
        values: &[("Lined", 0), ("Dotted", 0), ("Plain", 0)],
        tags: &["stationery", "gift"],
    },
    Kind {
        code: "CNDL",
        noun: "Candle",
        product_type: "Home",
        base_cents: 2600,
        option: "Size",
        values: &[("Small", 0), ("Large", 1400)],
        tags: &["home", "gift"],
    },
    Kind {
        code: "PSTR",
        noun: "Art Print",
        product_type: "Wall Art",
        base_cents: 3000,
        option: "Size",
        values: &[("A3", 0), ("A2", 1500)],
        tags: &["home", "print"],
    },
    Kind {
        code: "BTL",
        noun: "Water Bottle",
        product_type: "Accessories",
        base_cents: 2800,
        option: "Capacity",
        values: &[("500ml", 0), ("750ml", 400)],
        tags: &["accessories", "outdoor"],
    },
];

const MOODS: &[&str] = &[
    "Alpine", "Coastal", "Midnight", "Meadow", "Harbour", "Desert", "Aurora", "Forest", "Citrus",
    "Granite", "Tidal", "Ember", "Willow", "Lagoon", "Orchard", "Saffron", "Glacier", "Dune",
];

const MOTIFS: &[&str] = &[
    "Fox", "Wave", "Pine", "Moth", "Heron", "Peak", "Fern", "Comet", "Otter", "Lantern",
];

const VENDORS: &[&str] = &["Northwind Studio", "Fieldnote Goods", "Harbour & Pine"];

/// `count` products (at most every kind × mood × motif), the same ones on
/// every call. Every SKU is unique: kind, mood, motif and option value.
pub fn sample_catalog(count: usize) -> Vec<NewProduct> {
    let mut rng = StdRng::seed_from_u64(0x5e1f_5ca1e);
    let designs = MOODS
        .iter()
        .flat_map(|mood| MOTIFS.iter().map(move |motif| (*mood, *motif)));
    designs
        .flat_map(|design| KINDS.iter().map(move |kind| (design, kind)))
        .take(count)
        .map(|((mood, motif), kind)| product(&mut rng, kind, mood, motif))
        .collect()
}

fn product(rng: &mut StdRng, kind: &Kind, mood: &str, motif: &str) -> NewProduct {
    let design = format!("{}{}", &mood[..3], &motif[..3]).to_uppercase();
    let base = kind.base_cents + 100 * rng.random_range(0..=4_i64);
    let variants = kind
        .values
        .iter()
        .map(|(value, extra_cents)| VariantInput {
            sku: format!("{}-{design}-{}", kind.code, value.to_uppercase()),
            barcode: None,
            options: vec![(*value).to_owned()],
            price: cents(base + extra_cents),
            compare_at_price: None,
            currency: None,
            weight_grams: None,
            inventory_quantity: Some(rng.random_range(8..=60)),
        })
        .collect();
    let mut tags: Vec<String> = kind.tags.iter().map(|t| (*t).to_owned()).collect();
    tags.push(mood.to_lowercase());
    NewProduct {
        title: format!("{mood} {motif} {}", kind.noun),
        handle: None,
        description: Some(format!(
            "Our {mood} {motif} design on a {}. Made in small batches.",
            kind.noun.to_lowercase()
        )),
        vendor: Some(VENDORS[rng.random_range(0..VENDORS.len())].to_owned()),
        product_type: Some(kind.product_type.to_owned()),
        status: ProductStatus::Active,
        tags,
        images: Vec::new(),
        options: vec![kind.option.to_owned()],
        variants,
    }
}

/// A shop's price: `cents` (whole units here) less one cent, ending in .99.
fn cents(cents: i64) -> Price {
    Price::new(Decimal::new(cents - 1, 2)).expect("sample prices are positive")
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn the_catalog_is_the_same_on_every_run_and_every_sku_is_unique() {
        let catalog = sample_catalog(300);
        assert_eq!(catalog.len(), 300);
        assert_eq!(catalog, sample_catalog(300));
        let skus: Vec<&str> = catalog
            .iter()
            .flat_map(|p| p.variants.iter().map(|v| v.sku.as_str()))
            .collect();
        assert!(skus.len() > 600, "{} variants", skus.len());
        assert_eq!(skus.iter().collect::<HashSet<_>>().len(), skus.len());
    }

    #[test]
    fn every_product_passes_the_catalog_validation() {
        for product in sample_catalog(MOODS.len() * MOTIFS.len() * KINDS.len()) {
            product
                .validate()
                .unwrap_or_else(|e| panic!("{}: {e:?}", product.title));
        }
    }
}
