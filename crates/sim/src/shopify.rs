//! Simulated Shopify (being written).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use shelfsync_core::quota::QuotaModel;

use crate::{SimCore, SimEdit, SimListing, SimOrderLine, SimPlatform};

#[derive(Default)]
pub struct Shopify {
    _state: std::sync::Mutex<()>,
}

impl SimPlatform for Shopify {
    fn name(&self) -> &'static str {
        "shopify"
    }

    fn default_quota(&self) -> QuotaModel {
        QuotaModel::unlimited()
    }

    fn token_lifetime(&self) -> Option<Duration> {
        None
    }

    fn router(self: Arc<Self>, core: Arc<SimCore>) -> Router {
        let _ = core;
        Router::new()
    }

    fn listings(&self, account: &str) -> Vec<SimListing> {
        let _ = account;
        Vec::new()
    }

    fn place_order(
        &self,
        core: &Arc<SimCore>,
        account: &str,
        lines: &[SimOrderLine],
    ) -> Result<String, String> {
        let _ = (core, account, lines);
        Err("not simulated yet".into())
    }

    fn edit_product(
        &self,
        core: &Arc<SimCore>,
        account: &str,
        external_id: &str,
        edit: &SimEdit,
    ) -> Result<(), String> {
        let _ = (core, account, external_id, edit);
        Err("not simulated yet".into())
    }
}
