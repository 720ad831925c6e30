//! The seeded train/validation split, stratified by category.
//!
//! Items sharing a group key (the normalised query) always land on the same side; a
//! conversation context includes its query, so items sharing a context do too. A group's
//! category is that of its first item (items come best first). Each category contributes
//! `groups × fraction` validation groups; the fractional parts left over are handed out by
//! largest remainder (ties: category name), so the total is `round(groups × fraction)` while
//! small categories still count. Within a category, groups are ordered by SHA-256 of the seed
//! and the group key, so the split depends on nothing but the data and the seed.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

/// A seeded order key for `key`.
pub fn seeded_hash(seed: u64, key: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(seed.to_le_bytes());
    h.update(key.as_bytes());
    h.finalize().into()
}

/// For each item (`(group key, category)`), whether it goes to validation.
pub fn split(items: &[(&str, &str)], fraction: f64, seed: u64) -> Vec<bool> {
    // Group key → category of its first item.
    let mut group_category: BTreeMap<&str, &str> = BTreeMap::new();
    for (g, c) in items {
        group_category.entry(g).or_insert(c);
    }
    let mut by_category: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (g, c) in &group_category {
        by_category.entry(c).or_default().push(g);
    }
    let total_groups = group_category.len();
    let target = (total_groups as f64 * fraction).round() as usize;
    // Whole shares first, then the remainders, largest first.
    let mut quota: BTreeMap<&str, usize> = BTreeMap::new();
    let mut remainders: Vec<(f64, &str)> = Vec::new();
    for (c, groups) in &by_category {
        let share = groups.len() as f64 * fraction;
        quota.insert(c, share.floor() as usize);
        remainders.push((share - share.floor(), c));
    }
    let assigned: usize = quota.values().sum();
    remainders.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    for (_, c) in remainders.into_iter().take(target.saturating_sub(assigned)) {
        if let Some(q) = quota.get_mut(c) {
            *q += 1;
        }
    }
    let mut validation: BTreeMap<&str, bool> = BTreeMap::new();
    for (c, groups) in by_category.iter_mut() {
        groups.sort_by_key(|g| seeded_hash(seed, g));
        let q = quota.get(c).copied().unwrap_or(0);
        for (i, g) in groups.iter().enumerate() {
            validation.insert(g, i < q);
        }
    }
    items
        .iter()
        .map(|(g, _)| validation.get(g).copied().unwrap_or(false))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(n: usize) -> Vec<(String, String)> {
        (0..n)
            .map(|i| (format!("q{}", i / 2), format!("c{}", i % 3)))
            .collect()
    }

    #[test]
    fn groups_stay_together_and_the_share_holds() {
        let owned = items(400);
        let it: Vec<(&str, &str)> = owned
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let v = split(&it, 0.1, 7);
        for i in (0..400).step_by(2) {
            assert_eq!(v[i], v[i + 1], "pair {i} split apart");
        }
        assert_eq!(v.iter().filter(|&&x| x).count(), 40);
        assert_eq!(v, split(&it, 0.1, 7));
        assert_ne!(v, split(&it, 0.1, 8));
        assert!(split(&it, 0.0, 7).iter().all(|&x| !x));
    }

    #[test]
    fn every_category_is_represented() {
        let owned: Vec<(String, String)> = (0..100)
            .map(|i| (format!("q{i}"), format!("c{}", i % 4)))
            .collect();
        let it: Vec<(&str, &str)> = owned
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let v = split(&it, 0.2, 1);
        for c in 0..4 {
            let n = it
                .iter()
                .zip(&v)
                .filter(|((_, cat), &val)| *cat == format!("c{c}") && val)
                .count();
            assert_eq!(n, 5, "category c{c}");
        }
    }
}
