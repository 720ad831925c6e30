//! The adjusted Rand index: agreement of two clusterings of the same items, corrected for
//! chance (1 = identical partitions, about 0 = as good as random, can be negative).

use std::collections::HashMap;
use std::hash::Hash;

/// Adjusted Rand index of two labelings of the same items (`a[i]` and `b[i]` label item i).
///
/// Same definition and edge cases as scikit-learn's `adjusted_rand_score` (pair-confusion
/// form): identical partitions, including the trivial ones, give 1.0. Empty input gives 1.0.
/// Only the first `min(a.len(), b.len())` items are compared.
///
/// ```
/// use tuneloop::analysis::ari::adjusted_rand_index;
/// assert_eq!(adjusted_rand_index(&[0, 0, 1, 1], &["x", "x", "y", "y"]), 1.0);
/// ```
pub fn adjusted_rand_index<A: Hash + Eq, B: Hash + Eq>(a: &[A], b: &[B]) -> f64 {
    let n = a.len().min(b.len());
    let mut cells: HashMap<(usize, usize), i128> = HashMap::new();
    let mut ids_a: HashMap<&A, usize> = HashMap::new();
    let mut ids_b: HashMap<&B, usize> = HashMap::new();
    let mut rows: Vec<i128> = Vec::new();
    let mut cols: Vec<i128> = Vec::new();
    for (x, y) in a.iter().zip(b.iter()).take(n) {
        let next = ids_a.len();
        let i = *ids_a.entry(x).or_insert(next);
        let next = ids_b.len();
        let j = *ids_b.entry(y).or_insert(next);
        if i == rows.len() {
            rows.push(0);
        }
        if j == cols.len() {
            cols.push(0);
        }
        rows[i] += 1;
        cols[j] += 1;
        *cells.entry((i, j)).or_insert(0) += 1;
    }
    let n = n as i128;
    let sum_squares: i128 = cells.values().map(|c| c * c).sum();
    let rows_sq: i128 = rows.iter().map(|c| c * c).sum();
    let cols_sq: i128 = cols.iter().map(|c| c * c).sum();
    // Pair confusion matrix (ordered pairs), as in scikit-learn's pair_confusion_matrix.
    let tp = sum_squares - n;
    let fp = cols_sq - sum_squares;
    let fneg = rows_sq - sum_squares;
    let tn = n * n - fp - fneg - sum_squares;
    if fneg == 0 && fp == 0 {
        return 1.0;
    }
    let num = 2.0 * ((tp as f64) * (tn as f64) - (fneg as f64) * (fp as f64));
    let den = ((tp + fneg) as f64) * ((fneg + tn) as f64) + ((tp + fp) as f64) * ((fp + tn) as f64);
    num / den
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed() {
        // a = {0,1,2},{3,4,5}; b = {0,1},{2,3},{4,5}. Pairs: n=6, C(6,2)=15.
        // Σ C(n_ij,2) = 2 (cells 2,1,1,2 → 1+0+0+1); Σ C(a_i,2) = 6; Σ C(b_j,2) = 3.
        // expected = 6·3/15 = 1.2; max = (6+3)/2 = 4.5; ARI = (2−1.2)/(4.5−1.2) = 0.8/3.3.
        let a = [0, 0, 0, 1, 1, 1];
        let b = [0, 0, 1, 1, 2, 2];
        assert!((adjusted_rand_index(&a, &b) - 0.8 / 3.3).abs() < 1e-12);
        assert!((adjusted_rand_index(&b, &a) - 0.8 / 3.3).abs() < 1e-12);
        // Label names do not matter.
        assert_eq!(adjusted_rand_index(&[1, 1, 2, 2], &[7, 7, 3, 3]), 1.0);
        assert_eq!(adjusted_rand_index::<u8, u8>(&[], &[]), 1.0);
    }
}
