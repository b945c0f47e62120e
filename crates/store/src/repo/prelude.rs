// Names every repository file uses. Included at the top of each backend module.
#[allow(unused_imports)]
use std::collections::HashMap;

#[allow(unused_imports)]
use chrono::{DateTime, Utc};
#[allow(unused_imports)]
use rust_decimal::Decimal;
#[allow(unused_imports)]
use shelfsync_core::catalog::{
    InventoryChange, InventoryLevel, NewProduct, Product, ProductPatch, ProductStatus,
    StockOperation, Variant, VariantInput, VariantPatch, normalise_tags, variant_title,
};
#[allow(unused_imports)]
use shelfsync_core::rules::{Rule, RuleInput, RuleScope};
#[allow(unused_imports)]
use shelfsync_core::slug::handleize;
#[allow(unused_imports)]
use shelfsync_core::{
    ApiKeyId, ConnectionId, JobId, ListingId, LocationId, Platform, Price, ProductId, RuleId,
    TenantId, UserId, VariantId,
};
#[allow(unused_imports)]
use sqlx::types::Json;
#[allow(unused_imports)]
use sqlx::{AssertSqlSafe, QueryBuilder, Row};
#[allow(unused_imports)]
use uuid::Uuid;

#[allow(unused_imports)]
use crate::error::{StoreError, StoreResult};
#[allow(unused_imports)]
use crate::records::*;

pub(crate) type Pool = sqlx::Pool<DB>;
pub(crate) type Conn = <DB as sqlx::Database>::Connection;
