//! Exact and near-duplicate detection (normalised hash; MinHash + LSH over shingles).
//!
//! Skeleton of the public contract; near-duplicate detection is filled in by the dedup work.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// Near-duplicate settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DedupConfig {
    /// Estimated Jaccard similarity at or above which two texts are near duplicates.
    pub threshold: f64,
    /// MinHash permutations.
    pub num_perm: usize,
    /// Shingle size in words.
    pub shingle_words: usize,
    /// Seed of the hash permutations.
    pub seed: u64,
    /// Whether to look for near duplicates at all (exact ones are always removed).
    pub near: bool,
}

impl Default for DedupConfig {
    fn default() -> Self {
        Self {
            threshold: 0.8,
            num_perm: 128,
            shingle_words: 3,
            seed: 1,
            near: true,
        }
    }
}

/// How an item duplicates another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DuplicateKind {
    /// Same text after normalisation.
    Exact,
    /// Estimated Jaccard similarity ≥ the threshold.
    Near,
}

/// The kept item an item duplicates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DuplicateOf {
    /// Index of the kept item (the lowest index of its group).
    pub index: usize,
    /// Exact or near.
    pub kind: DuplicateKind,
}

/// Lower-cases, folds whitespace runs to one space and trims, so trivially different copies
/// hash alike.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    out
}

/// Finds duplicates among `texts`, given best first: for each item, `None` when it is kept,
/// or the kept item of its group. Groups are transitive (connected components), and the kept
/// item is the lowest index of its group, so callers order items by preference first.
pub fn find_duplicates(texts: &[&str], config: &DedupConfig) -> Vec<Option<DuplicateOf>> {
    let _ = config;
    let mut first: HashMap<String, usize> = HashMap::new();
    texts
        .iter()
        .enumerate()
        .map(|(i, t)| match first.entry(normalize(t)) {
            std::collections::hash_map::Entry::Occupied(e) => Some(DuplicateOf {
                index: *e.get(),
                kind: DuplicateKind::Exact,
            }),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(i);
                None
            }
        })
        .collect()
}
