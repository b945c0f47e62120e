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
    /// Shared by every process: claimed (a batch per round trip) before the
    /// deliveries are stored.
    Redis {
        redis: ConnectionManager,
        /// Shared, not copied: the state is cloned for every request.
        prefix: std::sync::Arc<str>,
    },
    /// One database: claimed in the deliveries' own transaction.
    Table(shelfsync_store::Store),
}

impl Nonces {
    /// The key a delivery id is remembered under: per source, so two
    /// platforms' ids never collide.
    pub fn key(source: &str, connection: Option<&str>, id: &str) -> String {
        format!("{source}:{}:{id}", connection.unwrap_or("-"))
    }

    /// Claims `keys` in Redis in one round trip: whether each was new.
    pub async fn claim_in_redis(
        redis: &ConnectionManager,
        prefix: &str,
        keys: &[&str],
    ) -> Result<Vec<bool>, redis::RedisError> {
        let mut pipe = redis::pipe();
        for key in keys {
            pipe.cmd("SET")
                .arg(format!("{prefix}webhook-nonce:{key}"))
                .arg(1)
                .arg("NX")
                .arg("EX")
                .arg(REPLAY_WINDOW.num_seconds());
        }
        let answers: Vec<Option<String>> = pipe.query_async(&mut redis.clone()).await?;
        Ok(answers.into_iter().map(|a| a.is_some()).collect())
    }

    /// Forgets claimed ids before their window ends: when their deliveries
    /// could not be stored, so the platform's retry is not refused as a replay.
    pub async fn release(&self, keys: &[&str]) {
        if keys.is_empty() {
            return;
        }
        let result = match self {
            Nonces::Redis { redis, prefix } => {
                let mut pipe = redis::pipe();
                for key in keys {
                    pipe.cmd("DEL").arg(format!("{prefix}webhook-nonce:{key}"));
                }
                pipe.query_async::<()>(&mut redis.clone())
                    .await
                    .map_err(|e| e.to_string())
            }
            Nonces::Table(store) => {
                let mut result = Ok(());
                for key in keys {
                    if let Err(e) = store.forget_webhook_nonce(key).await {
                        result = Err(e.to_string());
                    }
                }
                result
            }
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not release webhook nonces");
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
