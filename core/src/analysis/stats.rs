//! Small statistics helpers.

/// z for a two-sided 95 % interval.
pub const Z95: f64 = 1.959963984540054;

/// Wilson score interval for `successes` out of `n` at the given `z`; `None` when `n` is 0.
///
/// ```
/// let [lo, hi] = tuneloop::analysis::stats::wilson_interval(8, 10, tuneloop::analysis::stats::Z95).unwrap();
/// assert!((lo - 0.4901624).abs() < 1e-6 && (hi - 0.9433178).abs() < 1e-6);
/// ```
pub fn wilson_interval(successes: u64, n: u64, z: f64) -> Option<[f64; 2]> {
    if n == 0 {
        return None;
    }
    let n = n as f64;
    let p = successes as f64 / n;
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = z / denom * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Some([(centre - half).max(0.0), (centre + half).min(1.0)])
}
