//! LSH banding: the (bands, rows) choice of datasketch's `_optimal_param`, band keys, and
//! candidate pairs from shared buckets.

use rayon::prelude::*;

/// Integral of `f` over `[lo, hi]` by composite Simpson's rule.
fn integrate(f: impl Fn(f64) -> f64, lo: f64, hi: f64) -> f64 {
    const STEPS: usize = 256;
    let h = (hi - lo) / STEPS as f64;
    let mut sum = f(lo) + f(hi);
    for i in 1..STEPS {
        let w = if i % 2 == 1 { 4.0 } else { 2.0 };
        sum += w * f(lo + i as f64 * h);
    }
    sum * h / 3.0
}

/// `(bands, rows)` with `bands · rows ≤ num_perm` minimising 0.5 · P(false positive) +
/// 0.5 · P(false negative), each integrated over the similarity range below and above
/// `threshold` (datasketch's `_optimal_param` with equal weights).
pub fn optimal_param(threshold: f64, num_perm: usize) -> (usize, usize) {
    let mut best = (f64::INFINITY, (1, 1));
    for b in 1..=num_perm {
        for r in 1..=num_perm / b {
            let (bf, rf) = (b as f64, r as i32);
            let fp = integrate(|s| 1.0 - (1.0 - s.powi(rf)).powf(bf), 0.0, threshold);
            let fn_ = integrate(|s| (1.0 - s.powi(rf)).powf(bf), threshold, 1.0);
            let err = 0.5 * fp + 0.5 * fn_;
            if err < best.0 {
                best = (err, (b, r));
            }
        }
    }
    best.1
}

/// Band keys of one signature, written into `out` (one per band).
pub fn band_keys(sig: &[u32], rows: usize, out: &mut [u64]) {
    for (key, band) in out.iter_mut().zip(sig.chunks_exact(rows)) {
        let mut h: u64 = 0x9E37_79B9_7F4A_7C15;
        for &v in band {
            h = (h ^ u64::from(v)).wrapping_mul(0xFF51_AFD7_ED55_8CCD);
            h ^= h >> 33;
        }
        *key = h;
    }
}

/// Most earlier bucket members a member is paired with: a bucket of k items yields at
/// most k·CAP pairs, so one huge bucket cannot make the search quadratic.
const BUCKET_PAIR_CAP: usize = 64;

/// Candidate pairs `(i, j)`, `i < j`, of items sharing a band key, sorted and unique.
/// `keys` holds `bands` keys per item.
pub fn candidate_pairs(keys: &[u64], bands: usize) -> Vec<(u32, u32)> {
    let n = keys.len() / bands.max(1);
    let mut pairs: Vec<(u32, u32)> = (0..bands)
        .into_par_iter()
        .flat_map_iter(|band| {
            let mut col: Vec<(u64, u32)> =
                (0..n).map(|i| (keys[i * bands + band], i as u32)).collect();
            col.sort_unstable();
            let mut out = Vec::new();
            let mut start = 0;
            while start < col.len() {
                let mut end = start + 1;
                while end < col.len() && col[end].0 == col[start].0 {
                    end += 1;
                }
                for j in start + 1..end {
                    for i in j.saturating_sub(BUCKET_PAIR_CAP).max(start)..j {
                        out.push((col[i].1, col[j].1));
                    }
                }
                start = end;
            }
            out.into_iter()
        })
        .collect();
    pairs.par_sort_unstable();
    pairs.dedup();
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optimal_param_fits_num_perm_and_matches_datasketch() {
        // (threshold, num_perm) -> MinHashLSH(...).b, .r as printed by datasketch 2.0.0.
        for (t, k, expected) in [
            (0.8, 128, (9, 13)),
            (0.5, 64, (14, 4)),
            (0.9, 256, (9, 28)),
            (0.7, 16, (3, 5)),
        ] {
            assert_eq!(optimal_param(t, k), expected, "{t} {k}");
        }
    }

    #[test]
    fn buckets_pair_members() {
        // Three items, two bands: items 0 and 2 share band 1.
        let keys = [1, 10, 2, 20, 3, 10];
        assert_eq!(candidate_pairs(&keys, 2), vec![(0, 2)]);
    }
}
