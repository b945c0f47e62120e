//! The store's objects as the REST API v3 shows them (the property tables
//! and response examples of `_products.md`, `_product-variations.md`,
//! `_orders.md` and `_webhooks.md`), trimmed to what is simulated.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::store::{Order, Product, Store, Variation, Webhook, current, date};

fn links(base: &str, path: &str, collection: &str, up: Option<String>) -> Value {
    let mut links = json!({
        "self": [{"href": format!("{base}/wp-json/wc/v3/{path}")}],
        "collection": [{"href": format!("{base}/wp-json/wc/v3/{collection}")}],
    });
    if let Some(up) = up {
        links["up"] = json!([{"href": format!("{base}/wp-json/wc/v3/{up}")}]);
    }
    links
}

fn stock_status(manage: bool, quantity: Option<i64>) -> &'static str {
    if manage && quantity.unwrap_or(0) <= 0 {
        "outofstock"
    } else {
        "instock"
    }
}

impl Store {
    fn display_price(&self, p: &Product) -> String {
        if p.kind != "variable" {
            return current(&p.regular_price, &p.sale_price);
        }
        self.variations
            .values()
            .filter(|v| v.parent == p.id)
            .filter_map(|v| Decimal::from_str(&current(&v.regular_price, &v.sale_price)).ok())
            .min()
            .map(|d| d.to_string())
            .unwrap_or_default()
    }

    pub fn product_json(&self, p: &Product, base: &str) -> Value {
        let price = self.display_price(p);
        json!({
            "id": p.id,
            "name": p.name,
            "slug": p.slug,
            "permalink": format!("{base}/product/{}/", p.slug),
            "date_created": date(p.created),
            "date_created_gmt": date(p.created),
            "date_modified": date(p.modified),
            "date_modified_gmt": date(p.modified),
            "type": p.kind,
            "status": p.status,
            "featured": false,
            "catalog_visibility": "visible",
            "description": p.description,
            "short_description": "",
            "sku": p.sku,
            "price": price,
            "regular_price": if p.kind == "variable" { "" } else { p.regular_price.as_str() },
            "sale_price": if p.kind == "variable" { "" } else { p.sale_price.as_str() },
            "on_sale": !p.sale_price.is_empty(),
            "purchasable": !price.is_empty(),
            "manage_stock": p.manage_stock,
            "stock_quantity": p.stock_quantity,
            "stock_status": stock_status(p.manage_stock, p.stock_quantity),
            "backorders": "no",
            "weight": p.weight,
            "dimensions": {"length": "", "width": "", "height": ""},
            "categories": [],
            "tags": [],
            "images": p.images.iter().enumerate().map(|(i, src)| json!({
                "id": p.id * 1000 + i as u64, "src": src, "name": "", "alt": ""
            })).collect::<Vec<_>>(),
            "attributes": p.attributes.iter().map(|a| json!({
                "id": 0, "name": a.name, "position": a.position, "visible": a.visible,
                "variation": a.variation, "options": a.options
            })).collect::<Vec<_>>(),
            "default_attributes": [],
            "variations": self.variation_ids(p.id),
            "meta_data": [],
            "_links": links(base, &format!("products/{}", p.id), "products", None),
        })
    }

    pub fn variation_json(&self, v: &Variation, base: &str) -> Value {
        json!({
            "id": v.id,
            "date_created": date(v.created),
            "date_created_gmt": date(v.created),
            "date_modified": date(v.modified),
            "date_modified_gmt": date(v.modified),
            "description": "",
            "sku": v.sku,
            "price": current(&v.regular_price, &v.sale_price),
            "regular_price": v.regular_price,
            "sale_price": v.sale_price,
            "on_sale": !v.sale_price.is_empty(),
            "status": v.status,
            "purchasable": !v.regular_price.is_empty(),
            "manage_stock": v.manage_stock,
            "stock_quantity": v.stock_quantity,
            "stock_status": stock_status(v.manage_stock, v.stock_quantity),
            "backorders": "no",
            "weight": v.weight,
            "dimensions": {"length": "", "width": "", "height": ""},
            "attributes": v.attributes.iter().map(|(name, option)| json!({
                "id": 0, "name": name, "option": option
            })).collect::<Vec<_>>(),
            "meta_data": [],
            "_links": links(
                base,
                &format!("products/{}/variations/{}", v.parent, v.id),
                &format!("products/{}/variations", v.parent),
                Some(format!("products/{}", v.parent)),
            ),
        })
    }

    pub fn order_json(&self, o: &Order, base: &str) -> Value {
        let total: Decimal = o
            .lines
            .iter()
            .map(|l| l.price * Decimal::from(l.quantity))
            .sum();
        json!({
            "id": o.id,
            "parent_id": 0,
            "number": o.id.to_string(),
            "order_key": format!("wc_order_{}", o.id),
            "created_via": "checkout",
            "status": o.status,
            "currency": "USD",
            "date_created": date(o.created),
            "date_created_gmt": date(o.created),
            "date_modified": date(o.modified),
            "date_modified_gmt": date(o.modified),
            "total": format!("{:.2}", total),
            "line_items": o.lines.iter().map(|l| json!({
                "id": l.id,
                "name": l.name,
                "product_id": l.product_id,
                "variation_id": l.variation_id,
                "quantity": l.quantity,
                "tax_class": "",
                "subtotal": format!("{:.2}", l.price * Decimal::from(l.quantity)),
                "total": format!("{:.2}", l.price * Decimal::from(l.quantity)),
                "meta_data": [],
                "sku": l.sku,
                "price": l.price,
            })).collect::<Vec<_>>(),
            "_links": links(base, &format!("orders/{}", o.id), "orders", None),
        })
    }

    pub fn webhook_json(&self, w: &Webhook, base: &str) -> Value {
        let (resource, event) = w
            .topic
            .split_once('.')
            .unwrap_or(("action", w.topic.as_str()));
        json!({
            "id": w.id,
            "name": w.name,
            "status": w.status,
            "topic": w.topic,
            "resource": resource,
            "event": event,
            "hooks": [],
            "delivery_url": w.delivery_url,
            "date_created": date(w.created),
            "date_created_gmt": date(w.created),
            "date_modified": date(w.created),
            "date_modified_gmt": date(w.created),
            "_links": links(base, &format!("webhooks/{}", w.id), "webhooks", None),
        })
    }
}
