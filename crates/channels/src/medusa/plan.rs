//! How the adapter splits work into calls. The real path and the dry-run
//! plan both call these, so a plan counts exactly the calls a clean run
//! makes.

use crate::model::{InventoryPush, ItemError, ProductPush, ProductRef};

use super::wire;

/// Products per `products/batch` call. Medusa documents no item limit (the
/// body is capped by size); one call runs one workflow whose time grows with
/// the batch, and a refused product fails the whole call, so batches stay
/// modest.
pub const PRODUCT_BATCH: usize = 50;
/// SKUs per `GET /admin/product-variants?sku[]=…` lookup, which keeps the
/// query string well under the server's header limit.
pub const SKU_LOOKUP: usize = 100;
/// Stock levels per `set_inventory` round: one inventory read and one
/// `location-levels/batch` call.
pub const INVENTORY_BATCH: usize = 100;

/// The products [`wire::check`] passes, in calls of [`PRODUCT_BATCH`]; the
/// others get their refusal in `outcomes`.
pub fn product_chunks(
    products: &[ProductPush],
    outcomes: &mut [Option<Result<ProductRef, ItemError>>],
) -> Vec<Vec<usize>> {
    let mut passing = Vec::new();
    for (i, product) in products.iter().enumerate() {
        match crate::validate::refusal(wire::check(product)) {
            Ok(()) => passing.push(i),
            Err(e) => outcomes[i] = Some(Err(e)),
        }
    }
    passing.chunks(PRODUCT_BATCH).map(<[_]>::to_vec).collect()
}

/// The SKUs of a chunk's variants that have no Medusa id yet, in lookups of
/// [`SKU_LOOKUP`]: a variant with that SKU may already be in Medusa (made
/// by the merchant, or by an earlier push whose answer was lost), and is
/// then linked instead of created twice.
pub fn sku_lookups(products: &[ProductPush], chunk: &[usize]) -> Vec<Vec<String>> {
    let skus: Vec<String> = chunk
        .iter()
        .flat_map(|i| &products[*i].variants)
        .filter(|v| v.external_id.is_none())
        .map(|v| v.sku.clone())
        .collect();
    skus.chunks(SKU_LOOKUP).map(<[_]>::to_vec).collect()
}

/// One read of inventory items before their levels are written: by id
/// where the level carries the item's id (`iitem_…`), by SKU otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockRead {
    /// The query key: `id[]` or `sku[]`.
    pub key: &'static str,
    pub values: Vec<String>,
    /// Indexes into the levels given to [`stock_rounds`].
    pub levels: Vec<usize>,
}

/// The inventory item id a level names, if it names one.
pub fn item_id(level: &InventoryPush) -> Option<&str> {
    level
        .inventory_ref
        .as_deref()
        .filter(|r| r.starts_with("iitem_"))
}

/// `set_inventory`'s rounds: [`INVENTORY_BATCH`] levels each, read by id
/// and/or by SKU (one call each), then written in one call.
pub fn stock_rounds(levels: &[InventoryPush]) -> Vec<Vec<StockRead>> {
    let indexes: Vec<usize> = (0..levels.len()).collect();
    indexes
        .chunks(INVENTORY_BATCH)
        .map(|chunk| {
            let mut by_id = StockRead {
                key: "id[]",
                values: Vec::new(),
                levels: Vec::new(),
            };
            let mut by_sku = StockRead {
                key: "sku[]",
                values: Vec::new(),
                levels: Vec::new(),
            };
            for i in chunk {
                match item_id(&levels[*i]) {
                    Some(id) => {
                        by_id.values.push(id.to_owned());
                        by_id.levels.push(*i);
                    }
                    None => {
                        by_sku.values.push(levels[*i].sku.clone());
                        by_sku.levels.push(*i);
                    }
                }
            }
            [by_id, by_sku]
                .into_iter()
                .filter(|r| !r.levels.is_empty())
                .collect()
        })
        .collect()
}
