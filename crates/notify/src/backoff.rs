//! Retry schedule: 1 s after the first failure, doubling up to 5 minutes, with ±20 % jitter so
//! messages that failed together (a mail-server outage) do not all retry in the same instant.

/// The first retry's delay.
pub const FIRST_RETRY_MS: i64 = 1_000;
/// The longest delay; a message keeps being retried at this interval, never dropped.
pub const MAX_RETRY_MS: i64 = 300_000;

/// The delay before the next attempt after `failures` failed attempts (1 or more). `jitter` in
/// [-1, 1] scales the ±20 % spread.
pub fn retry_delay_ms(failures: i64, jitter: f64) -> i64 {
    let exponent = (failures.max(1) - 1).min(20) as u32;
    let base = FIRST_RETRY_MS
        .saturating_mul(1_i64 << exponent)
        .min(MAX_RETRY_MS);
    let jitter = jitter.clamp(-1.0, 1.0);
    let spread = (base as f64 * 0.2 * jitter) as i64;
    (base + spread).clamp(FIRST_RETRY_MS / 2, MAX_RETRY_MS + MAX_RETRY_MS / 5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_one_second_to_five_minutes() {
        let plain: Vec<i64> = (1..=12).map(|n| retry_delay_ms(n, 0.0)).collect();
        assert_eq!(
            plain,
            vec![
                1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000, 256_000, 300_000,
                300_000, 300_000
            ]
        );
        // Far past the cap it stays at the cap (no overflow).
        assert_eq!(retry_delay_ms(10_000, 0.0), MAX_RETRY_MS);
    }

    #[test]
    fn jitter_spreads_by_a_fifth() {
        assert_eq!(retry_delay_ms(3, 1.0), 4_800);
        assert_eq!(retry_delay_ms(3, -1.0), 3_200);
        assert_eq!(retry_delay_ms(50, 1.0), 360_000);
        assert_eq!(retry_delay_ms(1, -1.0), 800);
        // Out-of-range jitter is clamped.
        assert_eq!(retry_delay_ms(3, 7.0), 4_800);
    }
}
