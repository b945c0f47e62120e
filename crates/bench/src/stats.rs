//! Percentiles of measured durations, in milliseconds.

use std::time::Duration;

/// Sorts `samples` and reads percentiles off them (nearest rank).
pub struct Percentiles(Vec<Duration>);

impl Percentiles {
    pub fn new(mut samples: Vec<Duration>) -> Self {
        samples.sort();
        Self(samples)
    }

    pub fn ms(&self, p: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        let idx = ((p / 100.0) * (self.0.len() - 1) as f64).round() as usize;
        self.0[idx].as_secs_f64() * 1000.0
    }

    pub fn max_ms(&self) -> f64 {
        self.0.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    }

    /// `n=… p50=… ms p90=… ms p99=… ms max=… ms`, as the latency
    /// benchmarks print it.
    pub fn summary(&self) -> String {
        format!(
            "n={} p50={:.1} ms p90={:.1} ms p99={:.1} ms max={:.1} ms",
            self.0.len(),
            self.ms(50.0),
            self.ms(90.0),
            self.ms(99.0),
            self.max_ms()
        )
    }
}
