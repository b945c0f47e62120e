//! `/v1/overview`: one call for the dashboard's front page, so it can
//! refresh every few seconds without walking every listing page: each
//! connection with how far its listings have got, and the latest stock
//! movements with what caused them.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::Serialize;
use shelfsync_store::StockMove;

use crate::AppState;
use crate::auth::Principal;
use crate::error::ApiResult;
use crate::extract::ApiJson;
use crate::routes::connections::ConnectionView;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/overview", get(overview))
}

/// How many stock movements the overview shows.
const RECENT_STOCK_MOVES: u32 = 15;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Overview {
    pub connections: Vec<ConnectionOverview>,
    /// Newest first.
    pub recent_stock_moves: Vec<StockMove>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConnectionOverview {
    #[serde(flatten)]
    pub connection: ConnectionView,
    /// Listings per status (pending, synced, failed, conflict, excluded);
    /// statuses with none are left out.
    pub listings: BTreeMap<String, i64>,
}

#[utoipa::path(get, path = "/v1/overview", tag = "overview",
    responses((status = 200, body = Overview)), security(("bearer" = [])))]
pub async fn overview(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<ApiJson<Overview>> {
    let (connections, counts, recent_stock_moves) = tokio::try_join!(
        state.store.list_connections(principal.tenant),
        state.store.listing_counts(principal.tenant),
        state
            .store
            .recent_stock_moves(principal.tenant, RECENT_STOCK_MOVES),
    )?;
    let connections = connections
        .into_iter()
        .map(|record| {
            let listings = counts
                .iter()
                .filter(|c| c.connection == record.id)
                .map(|c| (c.status.clone(), c.count))
                .collect();
            ConnectionOverview {
                connection: record.into(),
                listings,
            }
        })
        .collect();
    Ok(ApiJson(Overview {
        connections,
        recent_stock_moves,
    }))
}
