//! Calls made per connection per minute, gathered in memory and written to
//! `rate_limit_tracking` by the runtime in batches (one row per connection
//! and minute), so metering costs no database round trip per call.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, TimeZone, Utc};
use shelfsync_core::{ConnectionId, TenantId};

/// Use of one connection's quota in one minute.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageRow {
    pub tenant: TenantId,
    pub connection: ConnectionId,
    pub window_start: DateTime<Utc>,
    pub calls: i64,
    /// Units drawn: points for cost-based limits, requests otherwise.
    pub cost_used: f64,
    pub throttled: i64,
    /// Units the tightest limit allows per minute, when there is a limit.
    pub quota_limit: Option<f64>,
}

/// Collects usage until the runtime drains it.
#[derive(Default)]
pub struct UsageMeter {
    rows: Mutex<HashMap<(ConnectionId, i64), UsageRow>>,
    /// Calls per connection since the process started, never drained: the
    /// difference across a sync call is what that call cost in requests.
    totals: Mutex<HashMap<ConnectionId, u64>>,
}

impl UsageMeter {
    pub fn record(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        at: DateTime<Utc>,
        cost: f64,
        throttled: bool,
        quota_limit: Option<f64>,
    ) {
        let minute = at.timestamp().div_euclid(60);
        let mut rows = self.rows.lock().expect("usage lock");
        let row = rows
            .entry((connection, minute))
            .or_insert_with(|| UsageRow {
                tenant,
                connection,
                window_start: Utc.timestamp_opt(minute * 60, 0).single().unwrap_or(at),
                calls: 0,
                cost_used: 0.0,
                throttled: 0,
                quota_limit,
            });
        row.calls += 1;
        *self
            .totals
            .lock()
            .expect("usage lock")
            .entry(connection)
            .or_default() += 1;
        row.cost_used += cost;
        row.throttled += i64::from(throttled);
        if quota_limit.is_some() {
            row.quota_limit = quota_limit;
        }
    }

    /// Calls made for `connection` by this process so far.
    pub fn calls_so_far(&self, connection: ConnectionId) -> u64 {
        self.totals
            .lock()
            .expect("usage lock")
            .get(&connection)
            .copied()
            .unwrap_or(0)
    }

    /// Everything recorded since the last drain; the caller adds it to the
    /// stored rows (an upsert that sums), so draining often is safe.
    pub fn drain(&self) -> Vec<UsageRow> {
        let mut rows = self.rows.lock().expect("usage lock");
        rows.drain().map(|(_, row)| row).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_in_one_minute_add_up_and_drain_once() {
        let meter = UsageMeter::default();
        let (t, c) = (TenantId::new(), ConnectionId::new());
        let at = Utc.timestamp_opt(120, 0).unwrap();
        meter.record(t, c, at, 10.0, false, Some(6000.0));
        meter.record(t, c, at + chrono::Duration::seconds(59), 5.0, true, None);
        meter.record(t, c, at + chrono::Duration::seconds(60), 1.0, false, None);
        let mut rows = meter.drain();
        rows.sort_by_key(|r| r.window_start);
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[0].calls, rows[0].cost_used, rows[0].throttled),
            (2, 15.0, 1)
        );
        assert_eq!(rows[0].quota_limit, Some(6000.0));
        assert!(meter.drain().is_empty());
    }
}
