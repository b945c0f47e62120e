//! What happens in the store outside the API: webhooks registered, a
//! customer checking out, a merchant editing a product, and what the
//! store holds, for the simulator's control routes.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;

use super::store::{Line, Order, Store, Webhook, WpError, current, date, one_of, text};
use crate::{SimEdit, SimListing, SimOrderLine, SimVariant};

impl Store {
    pub fn create_webhook(
        &mut self,
        body: &Value,
        default_secret: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, WpError> {
        let body = body
            .as_object()
            .ok_or_else(|| WpError::invalid_param("body"))?;
        let topic = text(body, "topic")?.unwrap_or_default();
        let valid_topic = topic.starts_with("action.")
            || topic.split_once('.').is_some_and(|(resource, event)| {
                ["coupon", "customer", "order", "product"].contains(&resource)
                    && ["created", "updated", "deleted", "restored"].contains(&event)
            });
        if !valid_topic {
            return Err(WpError::new(
                "woocommerce_rest_shop_webhook_invalid_topic",
                "Webhook topic is required and must be valid.",
                400,
            ));
        }
        let url = text(body, "delivery_url")?.unwrap_or_default();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(WpError::new(
                "woocommerce_rest_shop_webhook_invalid_delivery_url",
                "Webhook delivery URL must be a valid URL starting with http:// or https://.",
                400,
            ));
        }
        let status = one_of(
            text(body, "status")?,
            &["active", "paused", "disabled"],
            "status",
        )?;
        let id = self.next();
        let name =
            text(body, "name")?.unwrap_or_else(|| format!("Webhook created on {}", date(now)));
        self.webhooks.insert(
            id,
            Webhook {
                id,
                name,
                status: status.unwrap_or_else(|| "active".into()),
                topic,
                delivery_url: url,
                secret: text(body, "secret")?.unwrap_or_else(|| default_secret.to_owned()),
                created: now,
            },
        );
        Ok(id)
    }

    /// A checkout: every line's SKU must be on sale with enough stock; then
    /// stock drops and the order is `processing` (paid).
    pub fn place_order(
        &mut self,
        lines: &[SimOrderLine],
        now: DateTime<Utc>,
    ) -> Result<u64, String> {
        let mut resolved = Vec::new();
        for line in lines {
            let (product_id, variation_id, name, price, stock) =
                if let Some(v) = self.variations.values().find(|v| v.sku == line.sku) {
                    let name = self
                        .products
                        .get(&v.parent)
                        .map(|p| p.name.clone())
                        .unwrap_or_default();
                    let price = current(&v.regular_price, &v.sale_price);
                    (
                        v.parent,
                        v.id,
                        name,
                        price,
                        v.manage_stock.then_some(v.stock_quantity.unwrap_or(0)),
                    )
                } else if let Some(p) = self
                    .products
                    .values()
                    .find(|p| p.sku == line.sku && p.kind != "variable")
                {
                    let price = current(&p.regular_price, &p.sale_price);
                    (
                        p.id,
                        0,
                        p.name.clone(),
                        price,
                        p.manage_stock.then_some(p.stock_quantity.unwrap_or(0)),
                    )
                } else {
                    return Err(format!("no product with SKU `{}`", line.sku));
                };
            if stock.is_some_and(|s| s < line.quantity) {
                return Err(format!("not enough stock for `{}`", line.sku));
            }
            let price = Decimal::from_str(&price).unwrap_or_default();
            resolved.push((line, product_id, variation_id, name, price));
        }
        let mut order_lines = Vec::new();
        for (line, product_id, variation_id, name, price) in resolved {
            let stock = if variation_id > 0 {
                self.variations
                    .get_mut(&variation_id)
                    .map(|v| (&mut v.stock_quantity, v.manage_stock))
            } else {
                self.products
                    .get_mut(&product_id)
                    .map(|p| (&mut p.stock_quantity, p.manage_stock))
            };
            if let Some((quantity, true)) = stock {
                *quantity = Some(quantity.unwrap_or(0) - line.quantity);
            }
            let id = self.next();
            order_lines.push(Line {
                id,
                name,
                product_id,
                variation_id,
                sku: line.sku.clone(),
                quantity: line.quantity,
                price,
            });
        }
        let id = self.next();
        self.orders.insert(
            id,
            Order {
                id,
                status: "processing".into(),
                created: now,
                modified: now,
                lines: order_lines,
            },
        );
        Ok(id)
    }

    /// The merchant cancels an order: status `cancelled`, and its units
    /// back in stock (WooCommerce increases stock levels on cancellation).
    pub fn cancel_order(&mut self, id: u64, now: DateTime<Utc>) -> Result<(), String> {
        let order = self
            .orders
            .get_mut(&id)
            .ok_or_else(|| format!("no order {id}"))?;
        if order.status == "cancelled" {
            return Err(format!("order {id} is cancelled already"));
        }
        order.status = "cancelled".into();
        order.modified = now;
        let lines = order.lines.clone();
        for line in lines {
            let stock = if line.variation_id > 0 {
                self.variations
                    .get_mut(&line.variation_id)
                    .map(|v| (&mut v.stock_quantity, v.manage_stock))
            } else {
                self.products
                    .get_mut(&line.product_id)
                    .map(|p| (&mut p.stock_quantity, p.manage_stock))
            };
            if let Some((quantity, true)) = stock {
                *quantity = Some(quantity.unwrap_or(0) + line.quantity);
            }
        }
        Ok(())
    }

    /// A merchant's edit in the admin.
    pub fn edit(&mut self, id: u64, edit: &SimEdit, now: DateTime<Utc>) -> Result<(), String> {
        let product = self
            .products
            .get_mut(&id)
            .ok_or_else(|| format!("no product {id}"))?;
        if let Some(title) = &edit.title {
            product.name = title.clone();
        }
        product.modified = now;
        if let Some(price) = edit.price {
            if product.kind == "variable" {
                for v in self.variations.values_mut().filter(|v| v.parent == id) {
                    v.regular_price = price.to_string();
                    v.sale_price.clear();
                    v.modified = now;
                }
            } else {
                product.regular_price = price.to_string();
                product.sale_price.clear();
            }
        }
        Ok(())
    }

    pub fn listings(&self) -> Vec<SimListing> {
        let variant =
            |id: u64, sku: &str, regular: &str, sale: &str, quantity: Option<i64>| SimVariant {
                external_id: id.to_string(),
                sku: sku.to_owned(),
                price: Decimal::from_str(&current(regular, sale)).unwrap_or_default(),
                quantity: quantity.unwrap_or(0),
            };
        self.products
            .values()
            .map(|p| SimListing {
                external_id: p.id.to_string(),
                title: p.name.clone(),
                status: p.status.clone(),
                variants: if p.kind == "variable" {
                    self.variations
                        .values()
                        .filter(|v| v.parent == p.id)
                        .map(|v| {
                            variant(
                                v.id,
                                &v.sku,
                                &v.regular_price,
                                &v.sale_price,
                                v.stock_quantity,
                            )
                        })
                        .collect()
                } else {
                    vec![variant(
                        p.id,
                        &p.sku,
                        &p.regular_price,
                        &p.sale_price,
                        p.stock_quantity,
                    )]
                },
            })
            .collect()
    }
}
