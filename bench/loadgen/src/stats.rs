//! Latency percentiles over all recorded samples (nearest rank; runs are short enough to keep them).

use std::time::Duration;

#[derive(Default)]
pub struct Samples(Vec<Duration>);

impl Samples {
    pub fn push(&mut self, d: Duration) {
        self.0.push(d);
    }

    /// The q-quantile in milliseconds (nearest rank), 0 without samples.
    pub fn quantile_ms(&mut self, q: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        self.0.sort_unstable();
        let rank = ((q * self.0.len() as f64).ceil() as usize).clamp(1, self.0.len());
        self.0[rank - 1].as_secs_f64() * 1000.0
    }

    /// "p50=… p90=… p99=… max=…" in milliseconds.
    pub fn summary(&mut self) -> String {
        if self.0.is_empty() {
            return "no samples".into();
        }
        format!(
            "p50={:.2}ms p90={:.2}ms p99={:.2}ms max={:.2}ms",
            self.quantile_ms(0.50),
            self.quantile_ms(0.90),
            self.quantile_ms(0.99),
            self.quantile_ms(1.0)
        )
    }
}
