//! Offers: create, read, update, publish, withdraw, and the bulk price and
//! quantity update, as the Inventory API's offer and inventory_item
//! resources describe them.

use serde_json::{Value, json};

use super::store::{
    Answer, Offer, Store, amount, error, multi, not_found, offer_unavailable, refuse, requests,
};

impl Store {
    /// bulkCreateOffer: one marketplace per call; an existing offer for the
    /// SKU is refused with error 25002 naming it.
    pub fn bulk_create_offers(&mut self, body: &Value) -> Answer {
        let list = match requests(body) {
            Ok(list) => list.clone(),
            Err(answer) => return answer,
        };
        let mut marketplaces: Vec<&str> = list
            .iter()
            .filter_map(|r| r["marketplaceId"].as_str())
            .collect();
        marketplaces.dedup();
        if marketplaces.len() > 1 {
            return refuse(
                400,
                25002,
                "A user error has occurred. All offers must be for the same marketplace.",
            );
        }
        let mut responses = Vec::new();
        for request in &list {
            let sku = request["sku"].as_str().unwrap_or_default().to_owned();
            let marketplace = request["marketplaceId"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let format = request["format"]
                .as_str()
                .unwrap_or("FIXED_PRICE")
                .to_owned();
            let entry = |status: u16, errors: Vec<Value>| json!({"statusCode": status, "sku": sku, "marketplaceId": marketplace, "format": format, "errors": errors});
            if !self.items.contains_key(&sku) {
                responses.push(entry(
                    400,
                    vec![error(
                        25702,
                        "REQUEST",
                        format!("SKU {sku} is not available in the system"),
                    )],
                ));
                continue;
            }
            if marketplace.is_empty() {
                responses.push(entry(
                    400,
                    vec![error(25709, "REQUEST", "Invalid value for marketplaceId.")],
                ));
                continue;
            }
            if let Some(existing) = self
                .offers
                .values()
                .find(|o| o.sku == sku && o.marketplace_id == marketplace && o.format == format)
            {
                let mut e = error(
                    25002,
                    "REQUEST",
                    "A user error has occurred. Offer entity already exists.",
                );
                e["parameters"] = json!([{"name": "offerId", "value": existing.offer_id}]);
                responses.push(entry(400, vec![e]));
                continue;
            }
            let price = match request.pointer("/pricingSummary/price") {
                Some(p) => match amount(p) {
                    Ok(p) => Some(p),
                    Err(e) => {
                        responses.push(entry(400, vec![e]));
                        continue;
                    }
                },
                None => None,
            };
            let quantity = request["availableQuantity"].as_i64().unwrap_or(0);
            if quantity < 0 {
                responses.push(entry(
                    400,
                    vec![error(25004, "REQUEST", "Invalid quantity.")],
                ));
                continue;
            }
            let offer_id = format!("{}", 5_000_000_000u64 + self.next());
            self.offers.insert(
                offer_id.clone(),
                Offer {
                    offer_id: offer_id.clone(),
                    sku: sku.clone(),
                    marketplace_id: marketplace.clone(),
                    format: format.clone(),
                    available_quantity: quantity,
                    price,
                    details: request.clone(),
                    listing_id: None,
                },
            );
            responses.push(json!({"statusCode": 200, "offerId": offer_id, "sku": sku, "marketplaceId": marketplace, "format": format}));
        }
        multi(responses)
    }

    /// getOffers: the SKU's offers; 404 with 25713 when it has none.
    pub fn get_offers(
        &self,
        sku: Option<&str>,
        marketplace: Option<&str>,
        format: Option<&str>,
    ) -> Answer {
        let Some(sku) = sku.filter(|s| !s.is_empty()) else {
            return refuse(400, 25709, "Invalid value for sku.");
        };
        let offers: Vec<Value> = self
            .offers
            .values()
            .filter(|o| o.sku == sku)
            .filter(|o| marketplace.is_none_or(|m| m == o.marketplace_id))
            .filter(|o| format.is_none_or(|f| f == o.format))
            .map(Offer::to_json)
            .collect();
        if offers.is_empty() {
            return (404, Some(json!({"errors": [offer_unavailable(sku)]})));
        }
        (
            200,
            Some(json!({"total": offers.len(), "size": 1, "limit": 25, "offers": offers})),
        )
    }

    /// updateOffer: replaces the offer's details.
    pub fn update_offer(&mut self, offer_id: &str, body: &Value) -> Answer {
        let price = match body.pointer("/pricingSummary/price") {
            Some(p) => match amount(p) {
                Ok(p) => Some(p),
                Err(e) => return (400, Some(json!({"errors": [e]}))),
            },
            None => None,
        };
        let Some(offer) = self.offers.get_mut(offer_id) else {
            return (404, Some(json!({"errors": [offer_unavailable(offer_id)]})));
        };
        let quantity = body["availableQuantity"].as_i64().unwrap_or(0);
        if quantity < 0 {
            return refuse(400, 25004, "Invalid quantity.");
        }
        offer.available_quantity = quantity;
        offer.price = price;
        offer.details = body.clone();
        (204, None)
    }

    /// What eBay requires of an offer before it can go live.
    fn publish_check(&self, offer: &Offer) -> Option<Value> {
        let missing = |field: &str| Some(error(25017, "REQUEST", format!("{field} is missing.")));
        let item = self.items.get(&offer.sku)?;
        if offer.price.is_none() {
            return missing("pricingSummary.price");
        }
        for (pointer, name) in [
            ("/categoryId", "categoryId"),
            ("/merchantLocationKey", "merchantLocationKey"),
            (
                "/listingPolicies/fulfillmentPolicyId",
                "listingPolicies.fulfillmentPolicyId",
            ),
            (
                "/listingPolicies/paymentPolicyId",
                "listingPolicies.paymentPolicyId",
            ),
            (
                "/listingPolicies/returnPolicyId",
                "listingPolicies.returnPolicyId",
            ),
        ] {
            if offer
                .details
                .pointer(pointer)
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                return missing(name);
            }
        }
        if item.product["title"].as_str().is_none_or(str::is_empty) {
            return missing("product.title");
        }
        if item.condition.is_none() {
            return missing("condition");
        }
        None
    }

    fn new_listing_id(&mut self) -> String {
        format!("{}", 110_000_000_000u64 + self.next())
    }

    /// bulkPublishOffer.
    pub fn bulk_publish(&mut self, body: &Value) -> Answer {
        let list = match requests(body) {
            Ok(list) => list.clone(),
            Err(answer) => return answer,
        };
        let mut responses = Vec::new();
        for request in &list {
            let id = request["offerId"].as_str().unwrap_or_default().to_owned();
            let Some(offer) = self.offers.get(&id).cloned() else {
                responses.push(
                    json!({"offerId": id, "statusCode": 404, "errors": [offer_unavailable(&id)]}),
                );
                continue;
            };
            let problem = if self.items.contains_key(&offer.sku) {
                self.publish_check(&offer)
            } else {
                Some(error(
                    25702,
                    "REQUEST",
                    format!("SKU {} is not available in the system", offer.sku),
                ))
            };
            if let Some(problem) = problem {
                responses.push(json!({"offerId": id, "statusCode": 400, "errors": [problem]}));
                continue;
            }
            let listing = match offer.listing_id {
                Some(listing) => listing,
                None => self.new_listing_id(),
            };
            if let Some(o) = self.offers.get_mut(&id) {
                o.listing_id = Some(listing.clone());
            }
            responses.push(json!({"offerId": id, "statusCode": 200, "listingId": listing}));
        }
        multi(responses)
    }

    fn group_offers(&self, key: &str, marketplace: &str) -> Result<Vec<String>, Answer> {
        let group = self.groups.get(key).ok_or_else(|| not_found(key))?;
        let mut ids = Vec::new();
        for sku in &group.variant_skus {
            match self
                .offers
                .values()
                .find(|o| &o.sku == sku && o.marketplace_id == marketplace)
            {
                Some(offer) => ids.push(offer.offer_id.clone()),
                None => {
                    return Err(refuse(
                        400,
                        25017,
                        format!("offer is missing for SKU {sku}."),
                    ));
                }
            }
        }
        Ok(ids)
    }

    /// publishOfferByInventoryItemGroup: every variant's offer goes live as one listing.
    pub fn publish_group(&mut self, body: &Value) -> Answer {
        let key = body["inventoryItemGroupKey"].as_str().unwrap_or_default();
        let marketplace = body["marketplaceId"].as_str().unwrap_or_default();
        let ids = match self.group_offers(key, marketplace) {
            Ok(ids) => ids,
            Err(answer) => return answer,
        };
        for id in &ids {
            if let Some(problem) = self.offers.get(id).and_then(|o| self.publish_check(o)) {
                return (400, Some(json!({"errors": [problem]})));
            }
        }
        let listing = ids
            .iter()
            .find_map(|id| self.offers.get(id).and_then(|o| o.listing_id.clone()))
            .unwrap_or_else(|| self.new_listing_id());
        for id in &ids {
            if let Some(o) = self.offers.get_mut(id) {
                o.listing_id = Some(listing.clone());
            }
        }
        (200, Some(json!({"listingId": listing, "warnings": []})))
    }

    /// withdrawOfferByInventoryItemGroup.
    pub fn withdraw_group(&mut self, body: &Value) -> Answer {
        let key = body["inventoryItemGroupKey"].as_str().unwrap_or_default();
        let marketplace = body["marketplaceId"].as_str().unwrap_or_default();
        let ids = match self.group_offers(key, marketplace) {
            Ok(ids) => ids,
            Err(answer) => return answer,
        };
        for id in ids {
            if let Some(o) = self.offers.get_mut(&id) {
                o.listing_id = None;
            }
        }
        (204, None)
    }

    /// withdrawOffer.
    pub fn withdraw(&mut self, offer_id: &str) -> Answer {
        match self.offers.get_mut(offer_id) {
            Some(offer) => {
                let listing = offer.listing_id.take();
                (200, Some(json!({"listingId": listing, "warnings": []})))
            }
            None => (404, Some(json!({"errors": [offer_unavailable(offer_id)]}))),
        }
    }

    /// bulkUpdatePriceQuantity: each request's SKU total and its offers.
    pub fn bulk_update_price_quantity(&mut self, body: &Value) -> Answer {
        let list = match requests(body) {
            Ok(list) => list.clone(),
            Err(answer) => return answer,
        };
        let mut responses = Vec::new();
        for request in &list {
            let sku = request["sku"].as_str().map(str::to_owned);
            if let Some(ship_to) = request.get("shipToLocationAvailability") {
                let sku = sku.clone().unwrap_or_default();
                let quantity = ship_to["quantity"].as_i64();
                match (self.items.get_mut(&sku), quantity) {
                    (Some(item), Some(q)) if q >= 0 => {
                        item.quantity = q;
                        responses.push(json!({"sku": sku, "statusCode": 200}));
                    }
                    (Some(_), _) => responses.push(json!({"sku": sku, "statusCode": 400, "errors": [error(25004, "REQUEST", "Invalid quantity.")]})),
                    (None, _) => responses.push(json!({"sku": sku, "statusCode": 404, "errors": [error(25702, "REQUEST", format!("SKU {sku} is not available in the system"))]})),
                }
            }
            for change in request["offers"].as_array().into_iter().flatten() {
                let id = change["offerId"].as_str().unwrap_or_default().to_owned();
                let price = match change.get("price").map(amount) {
                    Some(Err(e)) => {
                        responses.push(
                            json!({"offerId": id, "sku": sku, "statusCode": 400, "errors": [e]}),
                        );
                        continue;
                    }
                    Some(Ok(p)) => Some(p),
                    None => None,
                };
                let Some(offer) = self
                    .offers
                    .get_mut(&id)
                    .filter(|o| sku.as_deref().is_none_or(|s| s == o.sku))
                else {
                    responses.push(json!({"offerId": id, "sku": sku, "statusCode": 404, "errors": [offer_unavailable(&id)]}));
                    continue;
                };
                if let Some(q) = change["availableQuantity"].as_i64() {
                    offer.available_quantity = q.max(0);
                }
                if let Some(p) = price {
                    offer.price = Some(p);
                }
                responses.push(json!({"offerId": id, "sku": offer.sku, "statusCode": 200}));
            }
        }
        multi(responses)
    }
}
