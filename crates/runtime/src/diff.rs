//! What differs between what we want a channel to hold and what it holds.
//!
//! One comparison for the dry run (what a sync would change) and for
//! reconciliation (what drifted since the last push), so both speak of the
//! same fields the same way.

use serde::Serialize;
use shelfsync_channels::{ChannelListing, ProductPush, PushStatus};

/// One field whose value on the channel differs from the one we want there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldDiff {
    /// `title`, `status`, `price`, `quantity`, or `variant` (missing on the channel).
    pub field: String,
    /// The variant's SKU for variant fields.
    pub sku: Option<String>,
    /// What the channel holds; `None` when it holds nothing there.
    pub channel: Option<String>,
    /// What we want it to hold.
    pub desired: String,
}

/// The fields of `held` that differ from `desired`. Only fields the channel
/// reports are compared: a platform that does not return a value has not
/// drifted on it. Variants are matched by SKU.
pub fn compare(desired: &ProductPush, held: &ChannelListing) -> Vec<FieldDiff> {
    let mut diffs = Vec::new();
    if !held.title.is_empty() && held.title != desired.title {
        diffs.push(FieldDiff {
            field: "title".into(),
            sku: None,
            channel: Some(held.title.clone()),
            desired: desired.title.clone(),
        });
    }
    if let Some(status) = &held.status
        && let Some(mismatch) = status_mismatch(desired.status, status)
    {
        diffs.push(FieldDiff {
            field: "status".into(),
            sku: None,
            channel: Some(status.clone()),
            desired: mismatch.to_owned(),
        });
    }
    for variant in &desired.variants {
        let Some(found) = held
            .variants
            .iter()
            .find(|v| v.sku.as_deref() == Some(variant.sku.as_str()))
        else {
            diffs.push(FieldDiff {
                field: "variant".into(),
                sku: Some(variant.sku.clone()),
                channel: None,
                desired: variant.sku.clone(),
            });
            continue;
        };
        if let Some(price) = found.price
            && price.normalize() != variant.price.normalize()
        {
            diffs.push(FieldDiff {
                field: "price".into(),
                sku: Some(variant.sku.clone()),
                channel: Some(price.normalize().to_string()),
                desired: variant.price.normalize().to_string(),
            });
        }
        if let Some(quantity) = found.quantity
            && quantity != variant.quantity
        {
            diffs.push(FieldDiff {
                field: "quantity".into(),
                sku: Some(variant.sku.clone()),
                channel: Some(quantity.to_string()),
                desired: variant.quantity.to_string(),
            });
        }
    }
    diffs
}

/// Platforms name their states differently (`ACTIVE`, `publish`, `active`,
/// `BUYABLE`…); only a clear "on sale" versus "not on sale" disagreement
/// counts. Returns the desired state when they disagree.
fn status_mismatch(desired: PushStatus, held: &str) -> Option<&'static str> {
    let held = held.to_ascii_lowercase();
    let on_sale = matches!(
        held.as_str(),
        "active" | "publish" | "published" | "buyable" | "discoverable"
    );
    let off_sale = matches!(
        held.as_str(),
        "draft" | "inactive" | "archived" | "private" | "pending" | "expired" | "removed"
    );
    match desired {
        PushStatus::Active if off_sale => Some("active"),
        PushStatus::Draft if on_sale => Some("draft"),
        PushStatus::Archived if on_sale => Some("archived"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shelfsync_channels::{ChannelVariant, VariantPush};

    fn desired() -> ProductPush {
        ProductPush {
            key: "p".into(),
            external_id: Some("1".into()),
            handle: "tee".into(),
            title: "Tee".into(),
            description: None,
            vendor: None,
            product_type: None,
            tags: vec![],
            status: PushStatus::Active,
            options: vec![],
            images: vec![],
            variants: vec![VariantPush {
                sku: "TEE".into(),
                external_id: None,
                option_values: vec![],
                price: "10.00".parse().unwrap(),
                compare_at_price: None,
                currency: "USD".into(),
                barcode: None,
                weight_grams: None,
                quantity: 5,
            }],
        }
    }

    fn held(title: &str, price: Option<&str>, quantity: Option<i64>) -> ChannelListing {
        ChannelListing {
            external_id: "1".into(),
            title: title.into(),
            status: Some("ACTIVE".into()),
            variants: vec![ChannelVariant {
                external_id: "11".into(),
                sku: Some("TEE".into()),
                price: price.map(|p| p.parse().unwrap()),
                quantity,
            }],
            updated_at: None,
        }
    }

    #[test]
    fn equal_content_has_no_diff_whatever_the_decimal_scale() {
        assert!(compare(&desired(), &held("Tee", Some("10"), Some(5))).is_empty());
    }

    #[test]
    fn reports_each_differing_field() {
        let diffs = compare(&desired(), &held("Tee!", Some("12.50"), Some(3)));
        let fields: Vec<&str> = diffs.iter().map(|d| d.field.as_str()).collect();
        assert_eq!(fields, ["title", "price", "quantity"]);
        assert_eq!(diffs[1].channel.as_deref(), Some("12.5"));
        assert_eq!(diffs[1].desired, "10");
    }

    #[test]
    fn unreported_fields_are_not_drift() {
        assert!(compare(&desired(), &held("", None, None)).is_empty());
    }

    #[test]
    fn a_missing_variant_is_reported() {
        let mut listing = held("Tee", None, None);
        listing.variants.clear();
        let diffs = compare(&desired(), &listing);
        assert_eq!(diffs[0].field, "variant");
    }

    #[test]
    fn status_disagreement_only_when_clear() {
        let mut listing = held("Tee", None, None);
        listing.status = Some("draft".into());
        assert_eq!(compare(&desired(), &listing)[0].field, "status");
        listing.status = Some("something-else".into());
        assert!(compare(&desired(), &listing).is_empty());
    }
}
