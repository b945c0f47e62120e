//! When to try a failed job again: exponential back-off with full jitter.
//!
//! Pure arithmetic: the random draw is passed in, so tests pin it. Used by the
//! job queue for failed jobs and by the channel clients for throttled calls.

use std::time::Duration;

/// Back-off settings for a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The delay ceiling after the first failure.
    pub base: Duration,
    /// No delay ever exceeds this.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(2),
            max: Duration::from_secs(3600),
        }
    }
}

impl Backoff {
    /// The delay before the try after failed attempt number `attempt`
    /// (1-based): the ceiling doubles per attempt up to `max`, and the delay
    /// is drawn between half the ceiling and the ceiling (`unit` in `[0, 1)`),
    /// so retries of many jobs that failed together spread out instead of
    /// stampeding, while each still waits at least half its ceiling.
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let exponent = attempt.saturating_sub(1).min(30);
        let ceiling = self.base.saturating_mul(1u32 << exponent).min(self.max);
        let unit = unit.clamp(0.0, 1.0);
        ceiling.mul_f64(0.5 + 0.5 * unit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: Backoff = Backoff {
        base: Duration::from_secs(1),
        max: Duration::from_secs(60),
    };

    #[test]
    fn the_ceiling_doubles_per_attempt() {
        assert_eq!(B.delay(1, 1.0), Duration::from_secs(1));
        assert_eq!(B.delay(2, 1.0), Duration::from_secs(2));
        assert_eq!(B.delay(3, 1.0), Duration::from_secs(4));
        assert_eq!(B.delay(6, 1.0), Duration::from_secs(32));
    }

    #[test]
    fn jitter_stays_between_half_and_whole_ceiling() {
        assert_eq!(B.delay(3, 0.0), Duration::from_secs(2));
        assert_eq!(B.delay(3, 0.5), Duration::from_secs(3));
    }

    #[test]
    fn the_delay_never_passes_the_maximum() {
        assert_eq!(B.delay(7, 1.0), Duration::from_secs(60));
        assert_eq!(B.delay(1_000, 1.0), Duration::from_secs(60));
        assert_eq!(B.delay(0, 1.0), Duration::from_secs(1));
    }
}
