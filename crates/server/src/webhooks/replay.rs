//! Anti-replay: a delivery must be recent, and its id new.
//!
//! A signature proves who sent a body, not when: a captured delivery stays
//! validly signed forever. So a delivery whose signed timestamp is more than
//! [`TOLERANCE`] away from now (either way) is refused, and the id of every
//! accepted delivery is remembered for the replay window
//! ([`super::intake::REPLAY_WINDOW`], longer than the tolerance so a replay
//! inside the tolerance always finds its id): in Redis (`SET NX EX`) when
//! processes share one, else in the database, in the same transaction as
//! the delivery itself.

use chrono::{DateTime, Utc};
use redis::aio::ConnectionManager;

use super::intake::REPLAY_WINDOW;

/// How far a delivery's timestamp may be from now, either way.
pub const TOLERANCE: chrono::Duration = chrono::Duration::minutes(5);

/// Why a delivery's timestamp is refused.
pub fn check_timestamp(at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), String> {
    if at < now - TOLERANCE {
        return Err(format!(
            "the delivery's timestamp is more than {} minutes old",
            TOLERANCE.num_minutes()
        ));
    }
    if at > now + TOLERANCE {
        return Err(format!(
            "the delivery's timestamp is more than {} minutes in the future",
            TOLERANCE.num_minutes()
        ));
    }
    Ok(())
}

/// Where delivery ids are remembered.
#[derive(Clone)]
pub enum Nonces {
    /// Shared by every process: claimed here before the delivery is stored.
    Redis {
        redis: ConnectionManager,
        prefix: String,
    },
    /// One database: claimed in the delivery's own transaction.
    Table(shelfsync_store::Store),
}

/// The outcome of a Redis claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// New: the caller owns it (and must release it if storing fails).
    Claimed,
    /// Seen inside the window.
    Replayed,
    /// Remembered by the database instead (no Redis).
    Deferred,
}

impl Nonces {
    /// The key a delivery id is remembered under: per source, so two
    /// platforms' ids never collide.
    pub fn key(source: &str, connection: Option<&str>, id: &str) -> String {
        format!("{source}:{}:{id}", connection.unwrap_or("-"))
    }

    pub async fn claim(&self, key: &str) -> Result<Claim, redis::RedisError> {
        match self {
            Nonces::Table(_) => Ok(Claim::Deferred),
            Nonces::Redis { redis, prefix } => {
                let mut redis = redis.clone();
                let set: Option<String> = redis::cmd("SET")
                    .arg(format!("{prefix}webhook-nonce:{key}"))
                    .arg(1)
                    .arg("NX")
                    .arg("EX")
                    .arg(REPLAY_WINDOW.num_seconds())
                    .query_async(&mut redis)
                    .await?;
                Ok(if set.is_some() {
                    Claim::Claimed
                } else {
                    Claim::Replayed
                })
            }
        }
    }

    /// Forgets a claimed id: when its delivery could not be stored, so the
    /// platform's retry is not refused as a replay.
    pub async fn release(&self, key: &str) {
        let result = match self {
            Nonces::Redis { redis, prefix } => {
                let mut redis = redis.clone();
                redis::cmd("DEL")
                    .arg(format!("{prefix}webhook-nonce:{key}"))
                    .query_async::<()>(&mut redis)
                    .await
                    .map_err(|e| e.to_string())
            }
            Nonces::Table(store) => store
                .forget_webhook_nonce(key)
                .await
                .map_err(|e| e.to_string()),
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not release a webhook nonce");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_minutes_either_way() {
        let now = Utc::now();
        assert!(check_timestamp(now, now).is_ok());
        assert!(check_timestamp(now - chrono::Duration::seconds(299), now).is_ok());
        assert!(check_timestamp(now + chrono::Duration::seconds(299), now).is_ok());
        assert!(
            check_timestamp(now - chrono::Duration::seconds(301), now)
                .unwrap_err()
                .contains("old")
        );
        assert!(
            check_timestamp(now + chrono::Duration::seconds(301), now)
                .unwrap_err()
                .contains("future")
        );
    }
}
