//! Trend tests on a series of equally spaced values: two-sided Mann-Kendall with tie
//! correction, Sen's slope, and Pettitt's change-point test.
//!
//! The Mann-Kendall figures follow `pymannkendall.original_test` exactly (statistic, tie
//! corrected variance, continuity corrected z, normal two-sided p-value, Kendall's tau, Sen's
//! slope and the Conover intercept), and are checked against it in `tests/vectors`.
//!
//! ```
//! use tuneloop::analysis::trend::mann_kendall;
//! use tuneloop::model::TrendDirection;
//! let mk = mann_kendall(&[0.01, 0.02, 0.02, 0.04, 0.05, 0.07, 0.08, 0.1]);
//! assert_eq!(mk.direction, TrendDirection::Rising);
//! assert!(mk.p_value < 0.01 && mk.slope > 0.0);
//! ```

use crate::model::TrendDirection;
use rayon::prelude::*;

/// Significance level used by [`mann_kendall`].
pub const DEFAULT_ALPHA: f64 = 0.05;

/// The result of a two-sided Mann-Kendall test with Sen's slope.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannKendall {
    /// Mann-Kendall statistic S: concordant minus discordant pairs.
    pub s: f64,
    /// Variance of S, corrected for ties.
    pub var_s: f64,
    /// Standardised statistic with continuity correction ((S − sign S) / √var_s; 0 when S = 0).
    pub z: f64,
    /// Two-sided p-value from the standard normal distribution.
    pub p_value: f64,
    /// Kendall's tau: S / (n(n − 1)/2).
    pub tau: f64,
    /// Sen's slope: the median of (x_j − x_i)/(j − i) over all pairs i < j.
    pub slope: f64,
    /// Intercept of the Kendall-Theil line: median(x) − median(index) · slope.
    pub intercept: f64,
    /// Rising or falling when `p_value` < α (the sign of z decides), stable otherwise.
    pub direction: TrendDirection,
}

impl MannKendall {
    /// The direction at significance level `alpha` instead of the one computed with.
    pub fn direction_at(&self, alpha: f64) -> TrendDirection {
        direction_of(self.z, self.p_value, alpha)
    }
}

fn direction_of(z: f64, p_value: f64, alpha: f64) -> TrendDirection {
    if p_value < alpha {
        if z > 0.0 {
            TrendDirection::Rising
        } else {
            TrendDirection::Falling
        }
    } else {
        TrendDirection::Stable
    }
}

/// Mann-Kendall test and Sen's slope at α = [`DEFAULT_ALPHA`].
///
/// Values must be finite. A series shorter than 3 is always stable with p = 1: with two
/// values z is 0 by the continuity correction (the other figures are still computed), and with
/// fewer every figure is 0 except the intercept, which is the single value (or 0).
pub fn mann_kendall(series: &[f64]) -> MannKendall {
    mann_kendall_at(series, DEFAULT_ALPHA)
}

/// [`mann_kendall`] at significance level `alpha`.
///
/// Sen's slope keeps all n(n − 1)/2 pairwise slopes, so memory and time grow as n²: 520
/// values take ~1 MB, 100,000 would take 40 GB. The analysis never passes more than
/// [`crate::analysis::MAX_SERIES_WEEKS`] values; a caller with longer series should cut them.
pub fn mann_kendall_at(series: &[f64], alpha: f64) -> MannKendall {
    let n = series.len();
    if n < 2 {
        return MannKendall {
            s: 0.0,
            var_s: 0.0,
            z: 0.0,
            p_value: 1.0,
            tau: 0.0,
            slope: 0.0,
            intercept: series.first().copied().unwrap_or(0.0),
            direction: TrendDirection::Stable,
        };
    }
    // One pass over the pairs gives both S and the pairwise slopes for Sen's estimator.
    let mut slopes = Vec::with_capacity(n * (n - 1) / 2);
    let mut s: i64 = 0;
    for i in 0..n - 1 {
        let xi = series[i];
        for (k, &xj) in series[i + 1..].iter().enumerate() {
            s += i64::from(xj > xi) - i64::from(xj < xi);
            slopes.push((xj - xi) / (k + 1) as f64);
        }
    }
    let nf = n as f64;
    let mut sorted = series.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    // Tie groups are runs of equal values in sorted order (exact equality, as numpy.unique).
    let mut ties = 0.0;
    let mut run = 1.0_f64;
    for w in sorted.windows(2) {
        if w[0] == w[1] {
            run += 1.0;
        } else {
            ties += run * (run - 1.0) * (2.0 * run + 5.0);
            run = 1.0;
        }
    }
    ties += run * (run - 1.0) * (2.0 * run + 5.0);
    let var_s = (nf * (nf - 1.0) * (2.0 * nf + 5.0) - ties) / 18.0;
    let sf = s as f64;
    let z = match s.signum() {
        1 => (sf - 1.0) / var_s.sqrt(),
        -1 => (sf + 1.0) / var_s.sqrt(),
        _ => 0.0,
    };
    let p_value = if n < 3 { 1.0 } else { two_sided_normal_p(z) };
    let slope = median_in_place(&mut slopes);
    let intercept = median_sorted(&sorted) - (nf - 1.0) / 2.0 * slope;
    MannKendall {
        s: sf,
        var_s,
        z,
        p_value,
        tau: sf / (0.5 * nf * (nf - 1.0)),
        slope,
        intercept,
        direction: direction_of(z, p_value, alpha),
    }
}

/// Runs [`mann_kendall_at`] on many series in parallel (rayon), results in input order.
pub fn mann_kendall_batch<S: AsRef<[f64]> + Sync>(series: &[S], alpha: f64) -> Vec<MannKendall> {
    series
        .par_iter()
        .map(|s| mann_kendall_at(s.as_ref(), alpha))
        .collect()
}

/// P(|Z| ≥ |z|) for a standard normal Z, as erfc(|z|/√2).
///
/// erfc keeps full relative precision in the tail, where 1 − Φ(|z|) (pymannkendall's form)
/// cancels; the two agree to ~1e-16 absolute.
pub fn two_sided_normal_p(z: f64) -> f64 {
    libm::erfc(z.abs() / std::f64::consts::SQRT_2).min(1.0)
}

/// Median (mean of the middle two for an even count) of unsorted values; reorders them.
fn median_in_place(values: &mut [f64]) -> f64 {
    let n = values.len();
    if n == 0 {
        return 0.0;
    }
    let mid = n / 2;
    let (lower, upper, _) = values.select_nth_unstable_by(mid, f64::total_cmp);
    let upper = *upper;
    if n % 2 == 1 {
        upper
    } else {
        // The largest value below the middle is the other middle element.
        let lower = lower.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lower + upper) / 2.0
    }
}

fn median_sorted(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// Pettitt's test for a single change in level.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pettitt {
    /// Index of the first value after the change (1 ..= n − 1).
    pub index: usize,
    /// K = max |U_t|.
    pub k: f64,
    /// Approximate p-value 2·exp(−6K²/(n³ + n²)), at most 1.
    pub p_value: f64,
}

/// Pettitt's change-point test; `None` for fewer than 3 values.
///
/// U_t = Σ_{i≤t} Σ_{j>t} sgn(x_j − x_i) for t = 1 … n − 1 (1-based); the change is after the
/// t with the largest |U_t| (the first such t on ties).
///
/// ```
/// use tuneloop::analysis::trend::pettitt;
/// let x = [1.0, 1.1, 0.9, 1.0, 1.2, 0.8, 1.0, 1.1, 3.0, 3.1, 2.9, 3.0, 3.2, 3.0, 2.8, 3.1];
/// let p = pettitt(&x).unwrap();
/// assert_eq!(p.index, 8);
/// assert!(p.p_value < 0.05);
/// ```
pub fn pettitt(series: &[f64]) -> Option<Pettitt> {
    let n = series.len();
    if n < 3 {
        return None;
    }
    // U_t = U_{t-1} + Σ_j sgn(x_j − x_t) over all j: pairs inside the first segment cancel.
    let mut u: i64 = 0;
    let mut best = (0usize, 0i64);
    for t in 0..n - 1 {
        let xt = series[t];
        u += series
            .iter()
            .map(|&xj| i64::from(xj > xt) - i64::from(xj < xt))
            .sum::<i64>();
        if u.abs() > best.1 {
            best = (t + 1, u.abs());
        }
    }
    let nf = n as f64;
    let k = best.1 as f64;
    let p_value = (2.0 * (-6.0 * k * k / (nf * nf * nf + nf * nf)).exp()).min(1.0);
    Some(Pettitt {
        index: best.0.max(1),
        k,
        p_value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_constant_series_are_stable() {
        for s in [&[][..], &[1.0], &[1.0, 2.0], &[3.0; 10]] {
            let mk = mann_kendall(s);
            assert_eq!(mk.direction, TrendDirection::Stable, "{s:?}");
            assert_eq!(mk.p_value, 1.0, "{s:?}");
        }
        assert_eq!(mann_kendall(&[3.0; 10]).var_s, 0.0);
        assert_eq!(mann_kendall(&[1.0, 2.0]).slope, 1.0);
    }

    #[test]
    fn clear_trends_and_median() {
        let up: Vec<f64> = (0..20).map(|i| i as f64 * 0.5).collect();
        let mk = mann_kendall(&up);
        assert_eq!(mk.direction, TrendDirection::Rising);
        assert_eq!(mk.slope, 0.5);
        assert_eq!(mk.tau, 1.0);
        let down: Vec<f64> = up.iter().rev().copied().collect();
        assert_eq!(mann_kendall(&down).direction, TrendDirection::Falling);
        assert_eq!(median_in_place(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median_in_place(&mut [4.0, 1.0, 3.0]), 3.0);
    }

    #[test]
    fn normal_tail() {
        assert!((two_sided_normal_p(1.959963984540054) - 0.05).abs() < 1e-15);
        assert_eq!(two_sided_normal_p(0.0), 1.0);
    }

    #[test]
    fn batch_matches_single() {
        let series: Vec<Vec<f64>> = (0..10)
            .map(|k| (0..30).map(|i| ((i * k) % 7) as f64).collect())
            .collect();
        let batch = mann_kendall_batch(&series, 0.05);
        for (s, r) in series.iter().zip(&batch) {
            assert_eq!(&mann_kendall(s), r);
        }
    }
}
