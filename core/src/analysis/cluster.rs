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
//!   every k in `k_min..=k_max`; the k with the best mean silhouette (cosine distance, exact,
//!   over the sample) wins, ties to the smaller k.
//! * **Clustering.** The sample's centroids for that k seed Lloyd iterations of spherical
//!   k-means (cosine similarity, centroids re-normalised) over all texts, until no label
//!   changes or `max_iter` rounds. Seeding is k-means++ from a ChaCha8 generator seeded with
//!   `seed`; assignment runs in parallel but every sum is taken in input order, so the result
//!   depends only on the input and the options.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

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

fn fnv1a(tag: u8, bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ u64::from(tag);
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // Fold the high bits in so the low-bit mask sees all of the hash.
    h ^ (h >> 29)
}

/// The hashed slot of a category feature (distinct from word and n-gram features).
pub fn category_slot(category: &str, dim_bits: u32) -> u32 {
    let mask = ((1usize << dim_bits.clamp(8, 24)) - 1) as u64;
    (fnv1a(b'k', category.as_bytes()) & mask) as u32
}

/// Raw term counts of one text: (slot, count), slots sorted and distinct.
fn features(text: &str, mask: u64) -> SparseVec {
    let mut slots: Vec<u32> = Vec::with_capacity(text.len() * 3);
    let mut padded: Vec<u8> = Vec::with_capacity(32);
    let mut bounds: Vec<usize> = Vec::with_capacity(32);
    for w in words(text) {
        slots.push((fnv1a(b'w', w.as_bytes()) & mask) as u32);
        padded.clear();
        padded.push(b' ');
        padded.extend_from_slice(w.as_bytes());
        padded.push(b' ');
        // n-grams are over characters, so collect char boundaries (bytes for ASCII).
        bounds.clear();
        let s = std::str::from_utf8(&padded).unwrap_or(" ");
        bounds.extend(s.char_indices().map(|(i, _)| i));
        bounds.push(padded.len());
        let chars = bounds.len() - 1;
        for n in 3..=5usize {
            if chars < n {
                break;
            }
            for start in 0..=chars - n {
                let g = &padded[bounds[start]..bounds[start + n]];
                slots.push((fnv1a(b'c', g) & mask) as u32);
            }
        }
    }
    slots.sort_unstable();
    let mut v = SparseVec::default();
    for s in slots {
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
    let mut vecs: Vec<SparseVec> = texts.par_iter().map(|t| features(t, mask)).collect();
    let mut df = vec![0u32; dim];
    for v in &vecs {
        for &i in &v.idx {
            df[i as usize] += 1;
        }
    }
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

/// k centroids, stored feature-major (`c[f * k + j]`) so one sparse vector is scored against
/// all of them with contiguous reads.
struct Centroids {
    k: usize,
    c: Vec<f32>,
}

impl Centroids {
    fn scores(&self, x: &SparseVec, out: &mut [f32]) {
        out.iter_mut().for_each(|s| *s = 0.0);
        for (&i, &v) in x.idx.iter().zip(x.val.iter()) {
            let row = &self.c[i as usize * self.k..(i as usize + 1) * self.k];
            for (s, c) in out.iter_mut().zip(row) {
                *s += v * c;
            }
        }
    }

    /// Best centroid and its similarity (ties: the lower index).
    fn assign(&self, x: &SparseVec, buf: &mut [f32]) -> (usize, f32) {
        self.scores(x, buf);
        let mut best = (0, f32::NEG_INFINITY);
        for (j, &s) in buf.iter().enumerate() {
            if s > best.1 {
                best = (j, s);
            }
        }
        best
    }

    /// Mean of the members of each cluster, normalised; an empty cluster keeps `previous`.
    fn update(
        vecs: &[&SparseVec],
        labels: &[usize],
        k: usize,
        dim: usize,
        previous: Option<&Centroids>,
    ) -> Centroids {
        let mut c = vec![0.0f32; dim * k];
        let mut count = vec![0usize; k];
        for (v, &l) in vecs.iter().zip(labels) {
            count[l] += 1;
            for (&i, &x) in v.idx.iter().zip(v.val.iter()) {
                c[i as usize * k + l] += x;
            }
        }
        let mut norm = vec![0.0f32; k];
        for f in 0..dim {
            for j in 0..k {
                norm[j] += c[f * k + j] * c[f * k + j];
            }
        }
        for j in 0..k {
            if count[j] == 0 || norm[j] == 0.0 {
                if let Some(p) = previous {
                    for f in 0..dim {
                        c[f * k + j] = p.c[f * k + j];
                    }
                }
                continue;
            }
            let inv = 1.0 / norm[j].sqrt();
            for f in 0..dim {
                c[f * k + j] *= inv;
            }
        }
        Centroids { k, c }
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
fn gram(vecs: &[&SparseVec], dim: usize) -> Vec<f32> {
    let n = vecs.len();
    let rows: Vec<Vec<f32>> = vecs
        .par_iter()
        .map_init(
            || vec![0.0f32; dim],
            |dense, a| {
                for (&i, &v) in a.idx.iter().zip(a.val.iter()) {
                    dense[i as usize] = v;
                }
                let row = vecs.iter().map(|b| sparse_dot(b, dense)).collect();
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

/// k-means++ seeds (indices into the sample) using the Gram matrix for distances.
fn kmeans_pp(g: &[f32], n: usize, k: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let mut seeds = vec![rng.random_range(0..n)];
    let dist = |i: usize, j: usize| (1.0 - g[i * n + j]).max(0.0) as f64;
    let mut d: Vec<f64> = (0..n).map(|i| dist(i, seeds[0])).collect();
    while seeds.len() < k {
        let total: f64 = d.iter().map(|x| x * x).sum();
        let next = if total <= 0.0 {
            // Every point coincides with a seed: take the first one that is not a seed.
            match (0..n).find(|i| !seeds.contains(i)) {
                Some(i) => i,
                None => break,
            }
        } else {
            let mut r = rng.random::<f64>() * total;
            let mut pick = n - 1;
            for (i, x) in d.iter().enumerate() {
                r -= x * x;
                if r <= 0.0 {
                    pick = i;
                    break;
                }
            }
            pick
        };
        seeds.push(next);
        for (i, di) in d.iter_mut().enumerate() {
            *di = di.min(dist(i, next));
        }
    }
    seeds
}

/// Lloyd iterations from `init`; returns labels, similarities and centroids.
fn lloyd(
    vecs: &[&SparseVec],
    mut centroids: Centroids,
    dim: usize,
    max_iter: usize,
) -> (Vec<usize>, Vec<f32>, Centroids) {
    let k = centroids.k;
    let mut labels: Vec<usize> = vec![usize::MAX; vecs.len()];
    let mut sims = vec![0.0f32; vecs.len()];
    for round in 0..max_iter.max(1) {
        let assigned: Vec<(usize, f32)> = vecs
            .par_iter()
            .map_init(|| vec![0.0f32; k], |buf, v| centroids.assign(v, buf))
            .collect();
        let mut changed = 0usize;
        for (i, (l, s)) in assigned.into_iter().enumerate() {
            if labels[i] != l {
                changed += 1;
            }
            labels[i] = l;
            sims[i] = s;
        }
        if changed == 0 || round + 1 == max_iter.max(1) {
            break;
        }
        centroids = Centroids::update(vecs, &labels, k, dim, Some(&centroids));
    }
    (labels, sims, centroids)
}

/// Merges clusters whose (normalised mean) centroids are at least `threshold` similar,
/// most similar pair first, recomputing the merged centroid from the members' sum.
fn merge(
    vecs: &[&SparseVec],
    mut labels: Vec<usize>,
    k: usize,
    dim: usize,
    threshold: f32,
) -> Vec<usize> {
    if threshold > 1.0 || k < 2 {
        return labels;
    }
    // Member sums per cluster (dense), and which clusters are still alive.
    let mut sums: Vec<Vec<f32>> = vec![vec![0.0; dim]; k];
    let mut alive = vec![false; k];
    for (v, &l) in vecs.iter().zip(&labels) {
        alive[l] = true;
        for (&i, &x) in v.idx.iter().zip(v.val.iter()) {
            sums[l][i as usize] += x;
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
    let g = gram(&sample, dim);
    let k_max = options.k_max.min(m / 2).max(1);
    let k_min = options.k_min.clamp(1, k_max);
    let mut best: Option<(f64, Centroids)> = None;
    for k in k_min..=k_max {
        let seeds = kmeans_pp(&g, m, k, &mut rng);
        if seeds.len() < k {
            break;
        }
        let mut init = Centroids {
            k,
            c: vec![0.0; dim * k],
        };
        for (j, &s) in seeds.iter().enumerate() {
            for (&i, &v) in sample[s].idx.iter().zip(sample[s].val.iter()) {
                init.c[i as usize * k + j] = v;
            }
        }
        let (labels, _, centroids) = lloyd(&sample, init, dim, options.max_iter);
        let score = if k == 1 {
            0.0
        } else {
            silhouette(&g, m, &labels, k)
        };
        if best.as_ref().is_none_or(|(b, _)| score > *b + 1e-9) {
            best = Some((score, centroids));
        }
    }
    let all: Vec<&SparseVec> = vecs.iter().collect();
    let (score, centroids) = match best {
        Some(b) => b,
        None => {
            return Clustering {
                k: 1,
                labels: vec![0; n],
                similarity: vec![0.0; n],
                silhouette: 0.0,
            }
        }
    };
    let (labels, _, centroids) = lloyd(&all, centroids, dim, options.max_iter);
    let labels = merge(&all, labels, centroids.k, dim, options.merge_threshold);
    // Renumber by first appearance (merged and empty clusters leave gaps).
    let mut map: Vec<usize> = vec![usize::MAX; centroids.k];
    let mut next = 0;
    let labels: Vec<usize> = labels
        .into_iter()
        .map(|l| {
            if map[l] == usize::MAX {
                map[l] = next;
                next += 1;
            }
            map[l]
        })
        .collect();
    let final_centroids = Centroids::update(&all, &labels, next.max(1), dim, None);
    let similarity: Vec<f32> = all
        .par_iter()
        .zip(labels.par_iter())
        .map_init(
            || vec![0.0f32; next.max(1)],
            |buf, (v, &l)| {
                final_centroids.scores(v, buf);
                buf[l]
            },
        )
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
