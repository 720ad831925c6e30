//! Text clustering: hashed TF-IDF vectors (words and character n-grams within words) and a
//! deterministic spherical k-means whose number of clusters is chosen from the data.
//!
//! * **Features.** Text is lower-cased and split into words (runs of letters and digits);
//!   words of one character and English stop words are dropped. Each word contributes
//!   itself and the character 3- to 5-grams of ` word ` (padded with a space, like
//!   scikit-learn's `char_wb`). Features are hashed (FNV-1a) into `2^dim_bits` slots; a
//!   feature's weight is its count × idf, idf = ln((1 + n) / (1 + df)) + 1 (scikit-learn's
//!   smoothed idf), and each vector is L2-normalised.
//! * **Choosing k.** On a seeded random sample (at most `sample_size` texts) k-means runs for
//!   a coarse grid of k in `k_min..=k_max` (every k up to 10, then steps of a quarter), then
//!   for every k between the best grid point's neighbours; the k with the best mean
//!   silhouette (cosine distance, exact, over the sample) wins, ties to the smaller k. Each k
//!   has its own generator, seeded from `seed` and k.
//! * **Clustering.** The sample's centroids for that k seed Lloyd iterations of spherical
//!   k-means (cosine similarity, centroids re-normalised) over all texts, until at most one label in
//!   a thousand changes in a round or `max_iter` rounds. Seeding is k-means++ from a ChaCha8 generator seeded with
//!   `seed`; assignment runs in parallel but every sum is taken in input order, so the result
//!   depends only on the input and the options.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::collections::BTreeMap;

/// Knobs of [`cluster_texts`].
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterOptions {
    /// Features are hashed into 2^dim_bits slots.
    pub dim_bits: u32,
    /// Seed of the sampling and k-means++ generator.
    pub seed: u64,
    /// Smallest k tried.
    pub k_min: usize,
    /// Largest k tried (capped by the sample size / 2).
    pub k_max: usize,
    /// At most this many texts are used to choose k.
    pub sample_size: usize,
    /// Lloyd rounds at most (on the sample and on all texts).
    pub max_iter: usize,
    /// After k-means, clusters whose centroids have a cosine similarity of at least this are
    /// merged (centroid linkage, most similar pair first); above 1 disables merging.
    pub merge_threshold: f32,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            dim_bits: 16,
            seed: 0x7475_6e65,
            k_min: 2,
            k_max: 16,
            sample_size: 1000,
            max_iter: 20,
            merge_threshold: 0.5,
        }
    }
}

/// A sparse, L2-normalised vector: sorted distinct indices and their values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SparseVec {
    /// Feature slots, ascending.
    pub idx: Vec<u32>,
    /// Weights, one per slot.
    pub val: Vec<f32>,
}

/// The outcome of [`cluster_texts`].
#[derive(Debug, Clone, PartialEq)]
pub struct Clustering {
    /// Number of clusters.
    pub k: usize,
    /// Cluster of each text, `0..k`, numbered by first appearance in the input.
    pub labels: Vec<usize>,
    /// Cosine similarity of each text to its cluster's centroid.
    pub similarity: Vec<f32>,
    /// Mean silhouette of the chosen k on the sample (0 when k = 1).
    pub silhouette: f64,
}

const STOP_WORDS: &[&str] = &[
    "a", "about", "after", "again", "all", "am", "an", "and", "any", "are", "as", "at", "be",
    "been", "before", "being", "but", "by", "can", "could", "did", "do", "does", "doing", "for",
    "from", "had", "has", "have", "having", "he", "her", "here", "him", "his", "how", "i", "if",
    "in", "into", "is", "it", "it's", "its", "just", "me", "my", "of", "on", "once", "only", "or",
    "other", "our", "out", "own", "same", "she", "should", "so", "some", "such", "than", "that",
    "the", "their", "them", "then", "there", "these", "they", "this", "those", "to", "too", "up",
    "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "why", "will",
    "with", "would", "you", "your",
];

/// Whether `word` (lower-case) is an English stop word.
pub fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.binary_search(&word).is_ok()
}

/// The words of `text`: lower-cased runs of letters, digits and apostrophes, without stop
/// words and one-character words.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let flush = |cur: &mut String, out: &mut Vec<String>| {
        let w = cur.trim_matches('\'');
        if w.chars().count() > 1 && !is_stop_word(w) {
            out.push(w.to_string());
        }
        cur.clear();
    };
    for c in text.chars() {
        if c.is_alphanumeric() || c == '\'' {
            cur.extend(c.to_lowercase());
        } else if !cur.is_empty() {
            flush(&mut cur, &mut out);
        }
    }
    if !cur.is_empty() {
        flush(&mut cur, &mut out);
    }
    out
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0100_0000_01b3;

fn fnv1a(tag: u8, bytes: &[u8]) -> u64 {
    let mut h: u64 = FNV_OFFSET ^ u64::from(tag);
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    fold(h)
}

/// Folds the high bits in so the low-bit mask sees all of the hash.
fn fold(h: u64) -> u64 {
    h ^ (h >> 29)
}

/// The hashed slot of a category feature (distinct from word and n-gram features).
pub fn category_slot(category: &str, dim_bits: u32) -> u32 {
    let mask = ((1usize << dim_bits.clamp(8, 24)) - 1) as u64;
    (fnv1a(b'k', category.as_bytes()) & mask) as u32
}

/// Calls `f` with each word of `text` as [`words`] defines them, without allocating per word
/// (`buf` is reused).
fn for_each_word(text: &str, buf: &mut String, mut f: impl FnMut(&str)) {
    let mut flush = |buf: &mut String| {
        let w = buf.trim_matches('\'');
        if (w.len() > 1 && (w.is_ascii() || w.chars().nth(1).is_some())) && !is_stop_word(w) {
            f(w);
        }
        buf.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            buf.push(c.to_ascii_lowercase());
        } else if c.is_alphanumeric() || c == '\'' {
            buf.extend(c.to_lowercase());
        } else if !buf.is_empty() {
            flush(buf);
        }
    }
    if !buf.is_empty() {
        flush(buf);
    }
}

/// Pushes the hashed slots of `word` and of the character 3- to 5-grams of ` word `: one pass
/// per start position, extending the FNV hash one character at a time.
fn push_word_features(word: &str, mask: u64, slots: &mut Vec<u32>, bounds: &mut Vec<usize>) {
    slots.push((fnv1a(b'w', word.as_bytes()) & mask) as u32);
    let bytes = word.as_bytes();
    // Byte offsets of the characters of ` word ` (the pads are one byte each).
    bounds.clear();
    bounds.push(0);
    if word.is_ascii() {
        bounds.extend(1..=bytes.len() + 1);
    } else {
        bounds.extend(word.char_indices().map(|(i, _)| i + 1));
        bounds.push(bytes.len() + 1);
    }
    let total = bytes.len() + 2;
    bounds.push(total);
    let byte_at = |i: usize| {
        if i == 0 || i == total - 1 {
            b' '
        } else {
            bytes[i - 1]
        }
    };
    let chars = bounds.len() - 1;
    for start in 0..chars.saturating_sub(2) {
        let mut h: u64 = FNV_OFFSET ^ u64::from(b'c');
        let mut at = bounds[start];
        for n in 1..=5usize.min(chars - start) {
            let end = bounds[start + n];
            while at < end {
                h ^= u64::from(byte_at(at));
                h = h.wrapping_mul(FNV_PRIME);
                at += 1;
            }
            if n >= 3 {
                slots.push((fold(h) & mask) as u32);
            }
        }
    }
}

/// Raw term counts of one text: (slot, count), slots sorted and distinct.
fn features(text: &str, mask: u64, scratch: &mut (String, Vec<usize>, Vec<u32>)) -> SparseVec {
    let (word, bounds, slots) = scratch;
    slots.clear();
    for_each_word(text, word, |w| push_word_features(w, mask, slots, bounds));
    slots.sort_unstable();
    let mut v = SparseVec {
        idx: Vec::with_capacity(slots.len()),
        val: Vec::with_capacity(slots.len()),
    };
    for &s in slots.iter() {
        match v.idx.last() {
            Some(last) if *last == s => {
                if let Some(x) = v.val.last_mut() {
                    *x += 1.0;
                }
            }
            _ => {
                v.idx.push(s);
                v.val.push(1.0);
            }
        }
    }
    v
}

/// TF-IDF vectors of `texts`, L2-normalised (an empty text gives an empty vector).
pub fn tfidf(texts: &[&str], dim_bits: u32) -> Vec<SparseVec> {
    let dim = 1usize << dim_bits.clamp(8, 24);
    let mask = (dim - 1) as u64;
    let mut vecs: Vec<SparseVec> = texts
        .par_iter()
        .map_init(
            || (String::new(), Vec::new(), Vec::new()),
            |scratch, t| features(t, mask, scratch),
        )
        .collect();
    let df = vecs
        .par_chunks(4096)
        .fold(
            || vec![0u32; dim],
            |mut df, chunk| {
                for v in chunk {
                    for &i in &v.idx {
                        df[i as usize] += 1;
                    }
                }
                df
            },
        )
        .reduce(
            || vec![0u32; dim],
            |mut a, b| {
                a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                a
            },
        );
    let n = texts.len() as f32;
    let idf: Vec<f32> = df
        .iter()
        .map(|&d| ((1.0 + n) / (1.0 + d as f32)).ln() + 1.0)
        .collect();
    vecs.par_iter_mut().for_each(|v| {
        for (i, x) in v.idx.iter().zip(v.val.iter_mut()) {
            *x *= idf[*i as usize];
        }
        let norm = v.val.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            v.val.iter_mut().for_each(|x| *x /= norm);
        }
    });
    vecs
}

/// Width of a block of centroid values: rows are stored as whole blocks so the scoring loop
/// works on fixed-size arrays, which the compiler turns into vector instructions.
const LANES: usize = 8;

/// A block of [`LANES`] centroid values (or scores).
type Block = [f32; LANES];

/// k centroids, stored feature-major (row f = the k values of feature f, padded to whole
/// [`Block`]s) so one sparse vector is scored against all of them with contiguous reads.
/// Columns hold member sums; `inv[j]` is the inverse norm of column j, applied to the
/// scores, so an update needs one pass over the matrix, not two.
struct Centroids {
    k: usize,
    /// Blocks per row (k / LANES rounded up).
    blocks: usize,
    c: Vec<Block>,
    inv: Vec<f32>,
}

impl Centroids {
    /// Cosine similarity of `x` to every centroid, in `out` (`blocks` blocks; the padding
    /// entries come out 0).
    fn scores(&self, x: &SparseVec, map: &[u32], out: &mut [Block]) {
        out.iter_mut().for_each(|s| *s = [0.0; LANES]);
        for (&i, &v) in x.idx.iter().zip(x.val.iter()) {
            let f = map[i as usize] as usize;
            let row = &self.c[f * self.blocks..(f + 1) * self.blocks];
            for (s, c) in out.iter_mut().zip(row) {
                for t in 0..LANES {
                    s[t] += v * c[t];
                }
            }
        }
        for (j, inv) in self.inv.iter().enumerate() {
            out[j / LANES][j % LANES] *= inv;
        }
    }

    /// A zeroed score buffer for [`Centroids::scores`].
    fn buffer(&self) -> Vec<Block> {
        vec![[0.0; LANES]; self.blocks]
    }

    /// Best centroid and its similarity (ties: the lower index).
    fn assign(&self, x: &SparseVec, map: &[u32], buf: &mut [Block]) -> (usize, f32) {
        self.scores(x, map, buf);
        let mut best = (0, f32::NEG_INFINITY);
        for (j, &s) in buf.iter().flatten().take(self.k).enumerate() {
            if s > best.1 {
                best = (j, s);
            }
        }
        best
    }

    /// Similarity of `x` to centroid `j`.
    fn score(&self, x: &SparseVec, map: &[u32], j: usize) -> f32 {
        let (b, t) = (j / LANES, j % LANES);
        let dot: f32 = x
            .idx
            .iter()
            .zip(x.val.iter())
            .map(|(&i, &v)| v * self.c[map[i as usize] as usize * self.blocks + b][t])
            .sum();
        dot * self.inv[j]
    }

    /// Centroids from the given member vectors (one column per vector), e.g. seeds.
    fn from_members(members: &[&SparseVec], map: &FeatureMap) -> Centroids {
        let labels: Vec<usize> = (0..members.len()).collect();
        Centroids::update(members, map, &labels, members.len(), None)
    }

    /// Mean direction of the members of each cluster; an empty cluster keeps `previous`.
    fn update(
        vecs: &[&SparseVec],
        map: &FeatureMap,
        labels: &[usize],
        k: usize,
        previous: Option<&Centroids>,
    ) -> Centroids {
        let blocks = k.div_ceil(LANES);
        let mut c = vec![[0.0f32; LANES]; map.dim * blocks];
        let mut count = vec![0usize; k];
        for (v, &l) in vecs.iter().zip(labels) {
            count[l] += 1;
            let (b, t) = (l / LANES, l % LANES);
            for (&i, &x) in v.idx.iter().zip(v.val.iter()) {
                c[map.id[i as usize] as usize * blocks + b][t] += x;
            }
        }
        let mut norm = vec![[0.0f32; LANES]; blocks];
        for row in c.chunks_exact(blocks) {
            for (n, x) in norm.iter_mut().zip(row) {
                for t in 0..LANES {
                    n[t] += x[t] * x[t];
                }
            }
        }
        let norm: Vec<f32> = norm.iter().flatten().take(k).copied().collect();
        let mut inv: Vec<f32> = norm
            .iter()
            .map(|&n| if n > 0.0 { 1.0 / n.sqrt() } else { 0.0 })
            .collect();
        if let Some(p) = previous {
            for j in (0..k).filter(|&j| count[j] == 0 || norm[j] == 0.0) {
                let (b, t) = (j / LANES, j % LANES);
                for (row, prow) in c.chunks_exact_mut(blocks).zip(p.c.chunks_exact(blocks)) {
                    row[b][t] = prow[b][t];
                }
                inv[j] = p.inv[j];
            }
        }
        Centroids { k, blocks, c, inv }
    }
}

/// The feature slots that occur in a set of vectors, renumbered `0..dim` in slot order, so
/// centroid matrices hold only features that occur (far fewer than the hash space).
struct FeatureMap {
    id: Vec<u32>,
    dim: usize,
}

impl FeatureMap {
    fn of(vecs: &[&SparseVec], slots: usize) -> FeatureMap {
        let mut id = vec![u32::MAX; slots];
        for v in vecs {
            for &i in &v.idx {
                id[i as usize] = 0;
            }
        }
        let mut dim = 0u32;
        for x in id.iter_mut().filter(|x| **x == 0) {
            *x = dim;
            dim += 1;
        }
        FeatureMap {
            id,
            dim: dim as usize,
        }
    }
}

fn sparse_dot(a: &SparseVec, dense: &[f32]) -> f32 {
    a.idx
        .iter()
        .zip(a.val.iter())
        .map(|(&i, &v)| v * dense[i as usize])
        .sum()
}

/// Cosine similarity matrix of `vecs` (row-major, n × n).
fn gram(vecs: &[&SparseVec], map: &FeatureMap) -> Vec<f32> {
    let n = vecs.len();
    // Compact copies, so the dense row below is small enough to stay in cache.
    let compact: Vec<SparseVec> = vecs
        .iter()
        .map(|v| SparseVec {
            idx: v.idx.iter().map(|&i| map.id[i as usize]).collect(),
            val: v.val.clone(),
        })
        .collect();
    let rows: Vec<Vec<f32>> = compact
        .par_iter()
        .map_init(
            || vec![0.0f32; map.dim],
            |dense, a| {
                for (&i, &v) in a.idx.iter().zip(a.val.iter()) {
                    dense[i as usize] = v;
                }
                let row = compact.iter().map(|b| sparse_dot(b, dense)).collect();
                for &i in &a.idx {
                    dense[i as usize] = 0.0;
                }
                row
            },
        )
        .collect();
    let mut g = Vec::with_capacity(n * n);
    for r in rows {
        g.extend(r);
    }
    g
}

/// Greedy k-means++ seeds (indices into the sample) using the Gram matrix for distances: at
/// each step `2 + ln k` candidates are drawn with probability ∝ squared distance and the one
/// that lowers the total potential most is kept (as scikit-learn does), which avoids most
/// of plain k-means++'s two-seeds-in-one-cluster starts.
fn kmeans_pp(g: &[f32], n: usize, k: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let mut seeds = vec![rng.random_range(0..n)];
    let dist = |i: usize, j: usize| (1.0 - g[i * n + j]).max(0.0) as f64;
    let mut d: Vec<f64> = (0..n).map(|i| dist(i, seeds[0])).collect();
    let trials = 2 + (k as f64).ln().floor() as usize;
    while seeds.len() < k {
        let total: f64 = d.iter().map(|x| x * x).sum();
        if total <= 0.0 {
            // Every point coincides with a seed: take the first one that is not a seed.
            match (0..n).find(|i| !seeds.contains(i)) {
                Some(i) => {
                    seeds.push(i);
                    continue;
                }
                None => break,
            }
        }
        let mut best: Option<(f64, usize)> = None;
        for _ in 0..trials {
            let mut r = rng.random::<f64>() * total;
            let mut pick = n - 1;
            for (i, x) in d.iter().enumerate() {
                r -= x * x;
                if r <= 0.0 {
                    pick = i;
                    break;
                }
            }
            let potential: f64 = d
                .iter()
                .enumerate()
                .map(|(i, di)| di.min(dist(i, pick)).powi(2))
                .sum();
            if best.is_none_or(|(p, _)| potential < p) {
                best = Some((potential, pick));
            }
        }
        let Some((_, next)) = best else { break };
        seeds.push(next);
        for (i, di) in d.iter_mut().enumerate() {
            *di = di.min(dist(i, next));
        }
    }
    seeds
}

/// Lloyd iterations from `init` until at most `n / 1000` labels change in a round (or
/// `max_iter` rounds); returns labels, similarities and centroids.
fn lloyd(
    vecs: &[&SparseVec],
    map: &FeatureMap,
    mut centroids: Centroids,
    max_iter: usize,
) -> (Vec<usize>, Vec<f32>, Centroids) {
    let k = centroids.k;
    let mut labels: Vec<usize> = vec![usize::MAX; vecs.len()];
    let mut sims = vec![0.0f32; vecs.len()];
    let settled = vecs.len() / 1000;
    for round in 0..max_iter.max(1) {
        let assigned: Vec<(usize, f32)> = vecs
            .par_iter()
            .map_init(
                || centroids.buffer(),
                |buf, v| centroids.assign(v, &map.id, buf),
            )
            .collect();
        let mut changed = 0usize;
        for (i, (l, s)) in assigned.into_iter().enumerate() {
            if labels[i] != l {
                changed += 1;
            }
            labels[i] = l;
            sims[i] = s;
        }
        if changed <= settled || round + 1 == max_iter.max(1) {
            break;
        }
        centroids = Centroids::update(vecs, map, &labels, k, Some(&centroids));
    }
    (labels, sims, centroids)
}

/// Merges clusters whose (normalised mean) centroids are at least `threshold` similar,
/// most similar pair first, recomputing the merged centroid from the members' sum.
fn merge(
    vecs: &[&SparseVec],
    map: &FeatureMap,
    mut labels: Vec<usize>,
    k: usize,
    threshold: f32,
) -> Vec<usize> {
    let dim = map.dim;
    if threshold > 1.0 || k < 2 {
        return labels;
    }
    // Member sums per cluster (dense), and which clusters are still alive.
    let mut sums: Vec<Vec<f32>> = vec![vec![0.0; dim]; k];
    let mut alive = vec![false; k];
    for (v, &l) in vecs.iter().zip(&labels) {
        alive[l] = true;
        for (&i, &x) in v.idx.iter().zip(v.val.iter()) {
            sums[l][map.id[i as usize] as usize] += x;
        }
    }
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let cos = |a: &[f32], b: &[f32]| {
        let d: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        let n = norm(a) * norm(b);
        if n > 0.0 {
            d / n
        } else {
            0.0
        }
    };
    let mut target: Vec<usize> = (0..k).collect();
    loop {
        let mut best: Option<(f32, usize, usize)> = None;
        for a in (0..k).filter(|&a| alive[a]) {
            for b in (a + 1..k).filter(|&b| alive[b]) {
                let s = cos(&sums[a], &sums[b]);
                if s >= threshold && best.is_none_or(|(t, _, _)| s > t) {
                    best = Some((s, a, b));
                }
            }
        }
        let Some((_, a, b)) = best else { break };
        let moved = std::mem::take(&mut sums[b]);
        for (x, y) in sums[a].iter_mut().zip(moved) {
            *x += y;
        }
        alive[b] = false;
        for t in target.iter_mut().filter(|t| **t == b) {
            *t = a;
        }
    }
    for l in labels.iter_mut() {
        *l = target[*l];
    }
    labels
}

/// Mean silhouette with cosine distance from the Gram matrix.
fn silhouette(g: &[f32], n: usize, labels: &[usize], k: usize) -> f64 {
    let mut size = vec![0usize; k];
    for &l in labels {
        size[l] += 1;
    }
    let per: Vec<f64> = (0..n)
        .into_par_iter()
        .map(|i| {
            let mut sum = vec![0.0f64; k];
            for j in 0..n {
                if j != i {
                    sum[labels[j]] += (1.0 - g[i * n + j]).max(0.0) as f64;
                }
            }
            let own = labels[i];
            if size[own] <= 1 {
                return 0.0;
            }
            let a = sum[own] / (size[own] - 1) as f64;
            let b = (0..k)
                .filter(|&c| c != own && size[c] > 0)
                .map(|c| sum[c] / size[c] as f64)
                .fold(f64::INFINITY, f64::min);
            if !b.is_finite() {
                return 0.0;
            }
            let m = a.max(b);
            if m > 0.0 {
                (b - a) / m
            } else {
                0.0
            }
        })
        .collect();
    per.iter().sum::<f64>() / n.max(1) as f64
}

/// Clusters TF-IDF vectors (see the module documentation).
pub fn cluster_vectors(vecs: &[SparseVec], dim_bits: u32, options: &ClusterOptions) -> Clustering {
    let n = vecs.len();
    let dim = 1usize << dim_bits.clamp(8, 24);
    if n < 4 {
        return Clustering {
            k: usize::from(n > 0),
            labels: vec![0; n],
            similarity: vec![1.0; n],
            silhouette: 0.0,
        };
    }
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let mut order: Vec<usize> = (0..n).collect();
    let m = options.sample_size.clamp(4, n);
    // Partial Fisher-Yates: the first m entries are a uniform sample.
    for i in 0..m {
        let j = rng.random_range(i..n);
        order.swap(i, j);
    }
    let mut sample_idx: Vec<usize> = order[..m].to_vec();
    sample_idx.sort_unstable();
    let sample: Vec<&SparseVec> = sample_idx.iter().map(|&i| &vecs[i]).collect();
    let sample_map = FeatureMap::of(&sample, dim);
    let g = gram(&sample, &sample_map);
    let k_max = options.k_max.min(m / 2).max(1);
    let k_min = options.k_min.clamp(1, k_max);
    // Silhouette of each k tried, with the sample's labels. Every k has its own generator,
    // so the result does not depend on which other k were tried or in which order.
    let mut tried: BTreeMap<usize, (f64, Vec<usize>)> = BTreeMap::new();
    let evaluate = |k: usize, tried: &mut BTreeMap<usize, (f64, Vec<usize>)>| {
        if tried.contains_key(&k) {
            return;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(
            options.seed ^ (k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        let seeds = kmeans_pp(&g, m, k, &mut rng);
        if seeds.len() < k {
            return;
        }
        let members: Vec<&SparseVec> = seeds.iter().map(|&s| sample[s]).collect();
        let init = Centroids::from_members(&members, &sample_map);
        let (labels, _, _) = lloyd(&sample, &sample_map, init, options.max_iter);
        let score = if k == 1 {
            0.0
        } else {
            silhouette(&g, m, &labels, k)
        };
        tried.insert(k, (score, labels));
    };
    // A coarse grid (every k up to 10, then steps of about a quarter), then every k between
    // the best grid point's neighbours.
    let mut grid = Vec::new();
    let mut k = k_min;
    while k <= k_max {
        grid.push(k);
        k = if k < 10 { k + 1 } else { k + k.div_ceil(4) };
    }
    for &k in &grid {
        evaluate(k, &mut tried);
    }
    let best_k = |tried: &BTreeMap<usize, (f64, Vec<usize>)>| {
        let mut best: Option<(usize, f64)> = None;
        for (&k, (score, _)) in tried {
            if best.is_none_or(|(_, b)| *score > b + 1e-9) {
                best = Some((k, *score));
            }
        }
        best.map(|(k, _)| k)
    };
    if let Some(kb) = best_k(&tried) {
        let pos = grid.iter().position(|&k| k == kb).unwrap_or(0);
        let lo = grid[pos.saturating_sub(1)];
        let hi = grid.get(pos + 1).copied().unwrap_or(kb);
        for k in lo..=hi {
            evaluate(k, &mut tried);
        }
    }
    let Some((score, sample_labels)) = best_k(&tried).and_then(|k| tried.remove(&k)) else {
        return Clustering {
            k: 1,
            labels: vec![0; n],
            similarity: vec![0.0; n],
            silhouette: 0.0,
        };
    };
    let k = sample_labels.iter().max().map_or(1, |&l| l + 1);
    let all: Vec<&SparseVec> = vecs.iter().collect();
    let map = FeatureMap::of(&all, dim);
    let init = Centroids::update(&sample, &map, &sample_labels, k, None);
    let (labels, _, centroids) = lloyd(&all, &map, init, options.max_iter);
    let labels = merge(&all, &map, labels, centroids.k, options.merge_threshold);
    // Renumber by first appearance (merged and empty clusters leave gaps).
    let mut renumber: Vec<usize> = vec![usize::MAX; centroids.k];
    let mut next = 0;
    let labels: Vec<usize> = labels
        .into_iter()
        .map(|l| {
            if renumber[l] == usize::MAX {
                renumber[l] = next;
                next += 1;
            }
            renumber[l]
        })
        .collect();
    let final_centroids = Centroids::update(&all, &map, &labels, next.max(1), None);
    let similarity: Vec<f32> = all
        .par_iter()
        .zip(labels.par_iter())
        .map(|(v, &l)| final_centroids.score(v, &map.id, l))
        .collect();
    Clustering {
        k: next,
        labels,
        similarity,
        silhouette: score,
    }
}

/// Vectorises and clusters `texts` (see the module documentation).
pub fn cluster_texts(texts: &[&str], options: &ClusterOptions) -> Clustering {
    let vecs = tfidf(texts, options.dim_bits);
    cluster_vectors(&vecs, options.dim_bits, options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_words_sorted_and_words() {
        assert!(STOP_WORDS.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(
            words("The bot MADE up a 90-day policy, it's wrong!"),
            vec!["bot", "made", "90", "day", "policy", "wrong"]
        );
    }

    #[test]
    fn tfidf_is_normalised() {
        let v = tfidf(&["refund policy invented", "", "python code crash"], 12);
        assert!(v[1].idx.is_empty());
        for x in [&v[0], &v[2]] {
            let n: f32 = x.val.iter().map(|a| a * a).sum();
            assert!((n - 1.0).abs() < 1e-4);
            assert!(x.idx.windows(2).all(|w| w[0] < w[1]));
        }
    }

    #[test]
    fn separates_obvious_groups_deterministically() {
        let mut texts = Vec::new();
        for i in 0..30 {
            texts.push(format!(
                "refund policy invented {} days made up",
                30 + i % 5
            ));
            texts.push(format!("python code crashes with TypeError line {}", i % 7));
            texts.push(format!("answer way too long wall of text {}", i % 3));
        }
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let c = cluster_texts(&refs, &ClusterOptions::default());
        assert_eq!(c.k, 3);
        let truth: Vec<usize> = (0..refs.len()).map(|i| i % 3).collect();
        assert_eq!(
            crate::analysis::ari::adjusted_rand_index(&c.labels, &truth),
            1.0
        );
        assert_eq!(c, cluster_texts(&refs, &ClusterOptions::default()));
        assert_eq!(cluster_texts(&[], &ClusterOptions::default()).k, 0);
        assert_eq!(
            cluster_texts(&["a b"], &ClusterOptions::default()).labels,
            vec![0]
        );
    }
}
