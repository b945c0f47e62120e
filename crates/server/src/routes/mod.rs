//! The `/v1` resources, one module each, each exposing its own `router()`.

pub mod alerts;
pub mod api_keys;
pub mod audit;
pub mod conflicts;
pub mod connections;
pub mod health;
pub mod listings;
pub mod overview;
pub mod products;
pub mod rules;
pub mod settings;
pub mod sync;
pub mod variants;
pub mod webhook_logs;
pub mod webhooks;
