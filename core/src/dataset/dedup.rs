//! Exact and near-duplicate detection (normalised hash; MinHash + LSH over shingles).
//!
//! Exact duplicates share the 128-bit hash of their [`normalize`]d text. Near duplicates:
//! MinHash signatures over word shingles, LSH banding with datasketch's parameter choice,
//! candidate pairs confirmed by the signature-estimated Jaccard similarity; short texts (at
//! most [`DedupConfig::short_words`] words) one word edit apart, which shingles miss; and
//! connected components whose kept item is the lowest index.
//!
//! ```
//! use tuneloop::dataset::dedup::{find_duplicates, DedupConfig, DuplicateKind};
//!
//! let texts = ["How do I reset my password?", "how do I  RESET my password?", "Refund policy"];
//! let dups = find_duplicates(&texts, &DedupConfig::default());
//! assert_eq!(dups[0], None);
//! assert_eq!(dups[1].map(|d| (d.index, d.kind)), Some((0, DuplicateKind::Exact)));
//! assert_eq!(dups[2], None);
//! ```

mod lsh;
mod minhash;
mod short;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};
use minhash::{estimated_jaccard, Permutations, Scratch};

pub use lsh::optimal_param;

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
    /// Texts of at most this many words that differ by one word (substituted, inserted or
    /// deleted) are near duplicates when `1 − 1 / (longer length) ≥ threshold`; shingles
    /// miss such short edits. 0 turns the rule off.
    #[serde(default = "default_short_words")]
    pub short_words: usize,
}

/// The default of [`DedupConfig::short_words`].
pub const DEFAULT_SHORT_WORDS: usize = 30;

fn default_short_words() -> usize {
    DEFAULT_SHORT_WORDS
}

impl Default for DedupConfig {
    fn default() -> Self {
        Self {
            threshold: 0.8,
            num_perm: 128,
            shingle_words: 3,
            seed: 1,
            near: true,
            short_words: DEFAULT_SHORT_WORDS,
        }
    }
}

impl DedupConfig {
    /// Checks the settings: `0 < threshold ≤ 1`, `num_perm ≥ 1`, `shingle_words ≥ 1`.
    pub fn validate(&self) -> Result<()> {
        if !(self.threshold > 0.0 && self.threshold <= 1.0) {
            return Err(Error::invalid(
                "dedup.threshold",
                format!("{} is not in (0, 1]", self.threshold),
            ));
        }
        if self.num_perm == 0 {
            return Err(Error::invalid("dedup.num_perm", "must be at least 1"));
        }
        if self.shingle_words == 0 {
            return Err(Error::invalid("dedup.shingle_words", "must be at least 1"));
        }
        Ok(())
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
///
/// An item is `Exact` when its normalised text equals the kept item's, else `Near`. The
/// result does not depend on the number of threads. With a config that fails
/// [`DedupConfig::validate`] only exact duplicates are found; [`try_find_duplicates`]
/// reports it instead.
pub fn find_duplicates(texts: &[&str], config: &DedupConfig) -> Vec<Option<DuplicateOf>> {
    let near = config.near && config.validate().is_ok();
    run(texts, config, near, None)
}

/// Whether two items (indices into the texts) may be joined as near duplicates.
pub type Linkable<'a> = &'a (dyn Fn(usize, usize) -> bool + Sync);

/// [`find_duplicates`] where a near-duplicate link between items `a` and `b` is made only
/// when `linkable(a, b)` holds as well, so groups never join items the caller tells apart
/// (a KTO example and one with the opposite label, a preference pair and its reverse).
/// Exact duplicates are always joined: a caller that tells items apart puts what differs
/// into their texts.
pub fn find_duplicates_where(
    texts: &[&str],
    config: &DedupConfig,
    linkable: Linkable<'_>,
) -> Vec<Option<DuplicateOf>> {
    let near = config.near && config.validate().is_ok();
    run(texts, config, near, Some(linkable))
}

/// [`find_duplicates`] after [`DedupConfig::validate`].
pub fn try_find_duplicates(
    texts: &[&str],
    config: &DedupConfig,
) -> Result<Vec<Option<DuplicateOf>>> {
    config.validate()?;
    Ok(run(texts, config, config.near, None))
}

/// The keys are already hashes: pass them through.
#[derive(Debug, Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = v as u64;
    }
}

fn run(
    texts: &[&str],
    config: &DedupConfig,
    near: bool,
    linkable: Option<Linkable<'_>>,
) -> Vec<Option<DuplicateOf>> {
    let n = texts.len();
    let hashes: Vec<u128> = texts
        .par_iter()
        .map_init(Scratch::default, |s, t| s.exact_hash(t))
        .collect();
    // parent[i]: the union-find parent; starts at the first item with the same hash.
    let mut parent: Vec<u32> = Vec::with_capacity(n);
    let mut first: HashMap<u128, u32, BuildHasherDefault<PassThrough>> =
        HashMap::with_capacity_and_hasher(n, BuildHasherDefault::default());
    for (i, h) in hashes.iter().enumerate() {
        parent.push(*first.entry(*h).or_insert(i as u32));
    }
    drop(first);
    if near && n > 1 {
        link_near(texts, config, &mut parent, linkable);
    }
    (0..n)
        .map(|i| {
            let root = find(&mut parent, i as u32) as usize;
            (root != i).then(|| DuplicateOf {
                index: root,
                kind: if hashes[root] == hashes[i] {
                    DuplicateKind::Exact
                } else {
                    DuplicateKind::Near
                },
            })
        })
        .collect()
}

fn find(parent: &mut [u32], mut i: u32) -> u32 {
    while parent[i as usize] != i {
        let p = parent[i as usize];
        parent[i as usize] = parent[p as usize];
        i = p;
    }
    i
}

/// Joins two components under the lower root, so a root is always its component's minimum.
fn union(parent: &mut [u32], a: u32, b: u32) {
    let (ra, rb) = (find(parent, a), find(parent, b));
    if ra < rb {
        parent[rb as usize] = ra;
    } else if rb < ra {
        parent[ra as usize] = rb;
    }
}

/// Signatures of the first copy of each exact group, LSH candidates, confirmation by the
/// estimated Jaccard similarity, and union of the confirmed pairs; then the short-text rule
/// ([`short`]) over the same copies.
fn link_near(
    texts: &[&str],
    config: &DedupConfig,
    parent: &mut [u32],
    linkable: Option<Linkable<'_>>,
) {
    let reps: Vec<u32> = (0..parent.len() as u32)
        .filter(|&i| parent[i as usize] == i)
        .collect();
    let k = config.num_perm;
    let perms = Permutations::new(k, config.seed);
    let (bands, rows) = optimal_param(config.threshold, k);
    let mut sigs = vec![0u32; reps.len() * k];
    sigs.par_chunks_mut(k)
        .zip(reps.par_iter())
        .for_each_init(Scratch::default, |s, (sig, &i)| {
            s.signature(texts[i as usize], config.shingle_words, &perms, sig);
        });
    let mut keys = vec![0u64; reps.len() * bands];
    keys.par_chunks_mut(bands)
        .zip(sigs.par_chunks(k))
        .for_each(|(out, sig)| lsh::band_keys(&sig[..bands * rows], rows, out));
    let pairs = lsh::candidate_pairs(&keys, bands);
    let confirmed: Vec<bool> = pairs
        .par_iter()
        .map(|&(a, b)| {
            let (a, b) = (a as usize, b as usize);
            estimated_jaccard(&sigs[a * k..(a + 1) * k], &sigs[b * k..(b + 1) * k])
                >= config.threshold
                && linkable.is_none_or(|f| f(reps[a] as usize, reps[b] as usize))
        })
        .collect();
    for (&(a, b), ok) in pairs.iter().zip(confirmed) {
        if ok {
            union(parent, reps[a as usize], reps[b as usize]);
        }
    }
    drop((pairs, sigs, keys));
    // Short texts one word apart, which the shingles miss (pairs of text indices).
    for (a, b) in short::short_pairs(texts, &reps, config.short_words, config.threshold) {
        if linkable.is_none_or(|f| f(a as usize, b as usize)) {
            union(parent, a, b);
        }
    }
}
