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
//!   k-means (cosine similarity, centroids re-normalised) over all texts, until at most one
//!   label in a thousand changes in a round or `max_iter` rounds. Seeding is k-means++ from
//!   a ChaCha8 generator seeded with `seed`; assignment runs in parallel but every sum is
//!   taken in a fixed order, so the result depends only on the input and the options (not
//!   on the number of threads).
//!
//! How it is made fast (none of this changes which labels come out, only the rounding of
//! the sums along the way):
//!
//! * ASCII text is split and hashed byte by byte, and the slots of a text are ordered by a
//!   counting sort on their top bits (then an insertion sort within the small buckets).
//! * Scores against all centroids are summed in fixed-size blocks held in registers, so the
//!   loop over a vector's entries compiles to vector instructions.
//! * Lloyd rounds skip the texts whose label provably cannot change (Elkan's bounds, see
//!   `lloyd`), and centroid sums are updated with the texts that moved rather than
//!   recomputed; on well-separated data the rounds after the first rescore few texts.
//!   Column sums and the silhouette's per-cluster sums run over member lists, so they can
//!   be taken in parallel yet add the same terms in the same order as one pass would.
//! * The sample's cosine matrix comes from an inverted index (work ∝ co-occurring pairs),
//!   and the k of the search are tried in parallel.

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

/// Stop words packed big-endian into a u64 (first byte most significant, zero padded), so
/// the packed list keeps the sort order of [`STOP_WORDS`] and a word is looked up with
/// integer comparisons.
const STOP_PACKED: [u64; STOP_WORDS.len()] = {
    let mut out = [0u64; STOP_WORDS.len()];
    let mut i = 0;
    while i < STOP_WORDS.len() {
        let w = STOP_WORDS[i].as_bytes();
        assert!(w.len() <= 8);
        let mut j = 0;
        while j < w.len() {
            out[i] |= (w[j] as u64) << (56 - 8 * j);
            j += 1;
        }
        i += 1;
    }
    out
};

/// Length of the longest stop word.
const STOP_MAX: usize = {
    let mut max = 0;
    let mut i = 0;
    while i < STOP_WORDS.len() {
        if STOP_WORDS[i].len() > max {
            max = STOP_WORDS[i].len();
        }
        i += 1;
    }
    max
};

/// [`is_stop_word`] for an ASCII word.
fn is_stop_word_ascii(word: &[u8]) -> bool {
    if word.len() > 8 {
        return false;
    }
    let mut packed = 0u64;
    for (j, &b) in word.iter().enumerate() {
        packed |= u64::from(b) << (56 - 8 * j);
    }
    STOP_PACKED.binary_search(&packed).is_ok()
}

/// What the ASCII tokenizer makes of each byte: the lower-case byte for letters and
/// digits, `'` for an apostrophe, 0 for a separator.
const ASCII_CLASS: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        t[b] = if c.is_ascii_alphanumeric() {
            c.to_ascii_lowercase()
        } else if c == b'\'' {
            c
        } else {
            0
        };
        b += 1;
    }
    t
};

/// Texts with more slots than this are sorted with a comparison sort; shorter ones with a
/// counting sort on the top 8 bits of the slot followed by an insertion sort, which only
/// has to order the few slots that share a bucket.
const BUCKET_SORT_MAX: usize = 4096;

/// Per-thread scratch for turning a text into its raw term counts.
struct Counter {
    /// The slots of the current text, as they are produced.
    slots: Vec<u32>,
    /// The same slots, sorted, and their counts.
    sorted: Vec<u32>,
    counts: Vec<u32>,
    /// The current word padded with spaces (ASCII path).
    pad: Vec<u8>,
    /// The current word and its character offsets (general path).
    word: String,
    bounds: Vec<usize>,
}

impl Counter {
    fn new() -> Counter {
        Counter {
            slots: Vec::new(),
            sorted: Vec::new(),
            counts: Vec::new(),
            pad: Vec::new(),
            word: String::new(),
            bounds: Vec::new(),
        }
    }

    /// Raw term counts of one text (slots ascending); `dim_bits` is the hash width (8..=24).
    fn features(&mut self, text: &str, dim_bits: u32) -> SparseVec {
        let mask = (1u64 << dim_bits) - 1;
        // Moved out of `self` so the loops below keep the buffers' lengths in registers.
        let mut slots = std::mem::take(&mut self.slots);
        slots.clear();
        if text.is_ascii() {
            // At most 3 slots per byte of a word plus one per word.
            slots.reserve(4 * text.len());
            ascii_slots(text.as_bytes(), mask, &mut self.pad, &mut slots);
        } else {
            let (word, bounds) = (&mut self.word, &mut self.bounds);
            for_each_word(text, word, |w| {
                push_word_features(w, mask, &mut slots, bounds)
            });
        }
        let v = sorted_counts(&mut slots, dim_bits, &mut self.sorted, &mut self.counts);
        self.slots = slots;
        v
    }
}

/// The distinct values of `slots` in ascending order with how often each occurs (`sorted`
/// and `counts` are scratch; `slots` may be reordered).
fn sorted_counts(
    slots: &mut [u32],
    dim_bits: u32,
    sorted: &mut Vec<u32>,
    counts: &mut Vec<u32>,
) -> SparseVec {
    let n = slots.len();
    let sorted: &mut [u32] = if n > BUCKET_SORT_MAX {
        slots.sort_unstable();
        slots
    } else {
        // Counting sort on the top 8 bits (256 buckets: the usual text of a hundred or
        // two slots puts at most one or two in a bucket), then insertion sort, which moves
        // each slot at most past the others of its bucket. (128 buckets take fewer
        // instructions but leave twice the out-of-order pairs, each a likely mispredicted
        // branch; 256 came out ahead.)
        let shift = dim_bits - 8;
        let bucket = |s: u32| ((s >> shift) & 0xff) as usize;
        let mut start = [0u32; 256];
        for &s in slots.iter() {
            start[bucket(s)] += 1;
        }
        let mut sum = 0;
        for x in start.iter_mut() {
            (*x, sum) = (sum, sum + *x);
        }
        sorted.clear();
        sorted.resize(n, 0);
        let out = &mut sorted[..n];
        for &s in slots.iter() {
            let b = bucket(s);
            if let Some(x) = out.get_mut(start[b] as usize) {
                *x = s;
            }
            start[b] += 1;
        }
        for i in 1..n {
            let x = out[i];
            if out[i - 1] <= x {
                continue;
            }
            let mut j = i;
            while j > 0 && out[j - 1] > x {
                out[j] = out[j - 1];
                j -= 1;
            }
            out[j] = x;
        }
        out
    };
    // Run-length count, compacting the distinct slots to the front of `sorted`; branch-free
    // (whether a slot repeats the previous one is a coin toss the predictor loses).
    let Some(&first) = sorted.first() else {
        return SparseVec::default();
    };
    counts.clear();
    counts.resize(n, 0);
    let (mut w, mut last) = (0usize, first);
    counts[0] = 1;
    for i in 1..n {
        let s = sorted[i];
        let new = usize::from(s != last);
        let prev = counts[w];
        w += new;
        sorted[w] = s;
        // 1 for a new slot, one more for a repeat.
        counts[w] = (prev & (new as u32).wrapping_sub(1)) + 1;
        last = s;
    }
    SparseVec {
        idx: sorted[..=w].to_vec(),
        val: counts[..=w].iter().map(|&c| c as f32).collect(),
    }
}

/// The slots of the words and n-grams of ASCII text, found byte by byte: the same features
/// as [`for_each_word`] and [`push_word_features`] give, without their per-character
/// decoding and offset bookkeeping.
fn ascii_slots(text: &[u8], mask: u64, pad: &mut Vec<u8>, slots: &mut Vec<u32>) {
    let class = |b: u8| ASCII_CLASS[usize::from(b & 0x7f)];
    let mut i = 0;
    while i < text.len() {
        if class(text[i]) == 0 {
            i += 1;
            continue;
        }
        let mut start = i;
        while i < text.len() && class(text[i]) != 0 {
            i += 1;
        }
        let mut end = i;
        while start < end && text[start] == b'\'' {
            start += 1;
        }
        while end > start && text[end - 1] == b'\'' {
            end -= 1;
        }
        let len = end - start;
        if len < 2 {
            continue;
        }
        // ` word `, lower-cased.
        pad.clear();
        pad.push(b' ');
        pad.extend(text[start..end].iter().map(|&b| class(b)));
        pad.push(b' ');
        let word = &pad[1..=len];
        if len <= STOP_MAX && is_stop_word_ascii(word) {
            continue;
        }
        slots.push((fnv1a(b'w', word) & mask) as u32);
        let step = |h: u64, c: u8| (h ^ u64::from(c)).wrapping_mul(FNV_PRIME);
        // The 3-, 4- and 5-grams starting at each position, extending one hash.
        for s in 0..len {
            if let [a, b, c, rest @ ..] = &pad[s..] {
                let h = step(step(step(FNV_OFFSET ^ u64::from(b'c'), *a), *b), *c);
                slots.push((fold(h) & mask) as u32);
                if let [d, rest @ ..] = rest {
                    let h = step(h, *d);
                    slots.push((fold(h) & mask) as u32);
                    if let [e, ..] = rest {
                        slots.push((fold(step(h, *e)) & mask) as u32);
                    }
                }
            }
        }
    }
}

thread_local! {
    /// Each thread's [`Counter`], kept between calls so its buffers are reused.
    static COUNTER: std::cell::RefCell<Counter> = std::cell::RefCell::new(Counter::new());
}

/// TF-IDF vectors of `texts`, L2-normalised (an empty text gives an empty vector).
pub fn tfidf(texts: &[&str], dim_bits: u32) -> Vec<SparseVec> {
    tfidf_df(texts, dim_bits).0
}

/// [`tfidf`] and the document frequency of every slot.
fn tfidf_df(texts: &[&str], dim_bits: u32) -> (Vec<SparseVec>, Vec<u32>) {
    let bits = dim_bits.clamp(8, 24);
    let dim = 1usize << bits;
    // Raw counts and, while each text's slots are at hand, document frequencies (integer
    // sums, so the split into parts does not change them).
    let parts: Vec<(Vec<SparseVec>, Vec<u32>)> = texts
        .par_iter()
        .with_min_len(1024)
        .fold(
            || (Vec::new(), vec![0u32; dim]),
            |(mut vecs, mut df), t| {
                let v = COUNTER.with(|c| c.borrow_mut().features(t, bits));
                for &i in &v.idx {
                    df[i as usize] += 1;
                }
                vecs.push(v);
                (vecs, df)
            },
        )
        .collect();
    let mut vecs = Vec::with_capacity(texts.len());
    let mut df = vec![0u32; dim];
    for (v, d) in parts {
        vecs.extend(v);
        df.iter_mut().zip(d).for_each(|(x, y)| *x += y);
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
    (vecs, df)
}

/// Width of a block of centroid values: rows are stored as whole blocks so the scoring loop
/// works on fixed-size arrays, which the compiler turns into vector instructions.
const LANES: usize = 8;

/// A block of [`LANES`] centroid values (or scores).
type Block = [f32; LANES];

/// Most blocks scored in one pass over a vector's entries. Their sums are a local array of
/// fixed size, which the compiler keeps in (12 SSE) registers instead of re-reading and
/// re-writing a score buffer in memory for every entry, as a loop over a slice does.
const GROUP: usize = 6;

/// A feature-major matrix with one column per cluster: row f holds the k values of feature f,
/// padded to whole [`Block`]s, so one sparse vector meets all columns with contiguous reads.
#[derive(Clone)]
struct Columns {
    k: usize,
    /// Blocks per row (k / LANES rounded up).
    blocks: usize,
    c: Vec<Block>,
}

impl Columns {
    fn zeros(dim: usize, k: usize) -> Columns {
        let blocks = k.div_ceil(LANES);
        Columns {
            k,
            blocks,
            c: vec![[0.0; LANES]; dim * blocks],
        }
    }

    /// Column sums of `vecs` by label, each column summed over its members in input order
    /// (so the sums are those of one pass in input order). The clusters are shared out
    /// among the threads by size; each thread streams through the texts once, taking its
    /// clusters' members, which reads memory nearly in order (one task per cluster would
    /// jump through memory from member to member).
    fn sums(vecs: &[&SparseVec], map: &FeatureMap, labels: &[usize], k: usize) -> Columns {
        let mut size = vec![0usize; k];
        for &l in labels {
            size[l] += 1;
        }
        // Largest cluster first to the least loaded thread. Which thread sums a column
        // does not change its value.
        let workers = rayon::current_num_threads().clamp(1, k.max(1));
        let mut order: Vec<usize> = (0..k).collect();
        order.sort_by_key(|&j| (std::cmp::Reverse(size[j]), j));
        let mut load = vec![0usize; workers];
        let mut owner = vec![0usize; k];
        for j in order {
            let w = (0..workers).min_by_key(|&w| (load[w], w)).unwrap_or(0);
            owner[j] = w;
            load[w] += size[j];
        }
        let parts: Vec<Vec<(usize, Vec<f32>)>> = (0..workers)
            .into_par_iter()
            .map(|w| {
                let mine: Vec<usize> = (0..k).filter(|&j| owner[j] == w).collect();
                let mut slot = vec![usize::MAX; k];
                for (s, &j) in mine.iter().enumerate() {
                    slot[j] = s;
                }
                let mut cols = vec![vec![0.0f32; map.dim]; mine.len()];
                for (v, &l) in vecs.iter().zip(labels) {
                    let Some(col) = cols.get_mut(slot[l]) else {
                        continue;
                    };
                    for (&f, &x) in v.idx.iter().zip(v.val.iter()) {
                        col[map.id[f as usize] as usize] += x;
                    }
                }
                mine.into_iter().zip(cols).collect()
            })
            .collect();
        let mut s = Columns::zeros(map.dim, k);
        for (j, col) in parts.iter().flatten() {
            let (b, t) = (j / LANES, j % LANES);
            for (row, &x) in s.c.chunks_exact_mut(s.blocks).zip(col) {
                row[b][t] = x;
            }
        }
        s
    }

    /// Adds `sign × x` to column `j`.
    fn add(&mut self, x: &SparseVec, map: &[u32], j: usize, sign: f32) {
        let (b, t) = (j / LANES, j % LANES);
        for (&i, &v) in x.idx.iter().zip(x.val.iter()) {
            self.c[map[i as usize] as usize * self.blocks + b][t] += sign * v;
        }
    }

    /// Sets column `j` to zero.
    fn clear(&mut self, j: usize) {
        let (b, t) = (j / LANES, j % LANES);
        for row in self.c.chunks_exact_mut(self.blocks) {
            row[b][t] = 0.0;
        }
    }

    /// Euclidean norm of each column.
    fn norms(&self) -> Vec<f32> {
        let mut sq = vec![[0.0f32; LANES]; self.blocks];
        for row in self.c.chunks_exact(self.blocks) {
            for (n, x) in sq.iter_mut().zip(row) {
                for t in 0..LANES {
                    n[t] += x[t] * x[t];
                }
            }
        }
        sq.iter().flatten().take(self.k).map(|s| s.sqrt()).collect()
    }

    /// Column `j` as a dense vector over the features.
    fn column(&self, j: usize) -> Vec<f32> {
        let (b, t) = (j / LANES, j % LANES);
        self.c
            .chunks_exact(self.blocks)
            .map(|row| row[b][t])
            .collect()
    }

    /// Dot products of `x` with every column, in `out` (`blocks` blocks; padding comes out 0).
    fn dots(&self, x: &SparseVec, map: &[u32], out: &mut [Block]) {
        let mut first = 0;
        while first < self.blocks {
            let g = (self.blocks - first).min(GROUP);
            match g {
                1 => self.dots_group::<1>(x, map, first, out),
                2 => self.dots_group::<2>(x, map, first, out),
                3 => self.dots_group::<3>(x, map, first, out),
                4 => self.dots_group::<4>(x, map, first, out),
                5 => self.dots_group::<5>(x, map, first, out),
                _ => self.dots_group::<GROUP>(x, map, first, out),
            }
            first += g;
        }
    }

    /// [`Columns::dots`] for blocks `first..first + G`. Every sum is taken in entry order, so
    /// the grouping does not change the result.
    #[inline(always)]
    fn dots_group<const G: usize>(
        &self,
        x: &SparseVec,
        map: &[u32],
        first: usize,
        out: &mut [Block],
    ) {
        let mut acc = [[0.0f32; LANES]; G];
        for (&i, &v) in x.idx.iter().zip(x.val.iter()) {
            let at = map[i as usize] as usize * self.blocks + first;
            let row: &[Block; G] = match self.c[at..at + G].try_into() {
                Ok(row) => row,
                Err(_) => continue,
            };
            for (a, c) in acc.iter_mut().zip(row) {
                for t in 0..LANES {
                    a[t] += v * c[t];
                }
            }
        }
        out[first..first + G].copy_from_slice(&acc);
    }
}

/// k centroids: columns proportional to the centroid directions (member sums) and `inv[j]`,
/// the inverse norm of column j, applied to the scores, so an update needs one pass over
/// the matrix, not two.
#[derive(Clone)]
struct Centroids {
    m: Columns,
    inv: Vec<f32>,
}

impl Centroids {
    fn k(&self) -> usize {
        self.m.k
    }

    /// Centroids in the directions of the columns of `sums`; a column with no members (or
    /// a zero sum) keeps `previous`'s centroid.
    fn from_sums(mut sums: Columns, count: &[usize], previous: Option<&Centroids>) -> Centroids {
        let norm = sums.norms();
        let mut inv: Vec<f32> = norm
            .iter()
            .map(|&n| if n > 0.0 { 1.0 / n } else { 0.0 })
            .collect();
        if let Some(p) = previous {
            let blocks = sums.blocks;
            for j in (0..sums.k).filter(|&j| count[j] == 0 || norm[j] == 0.0) {
                let (b, t) = (j / LANES, j % LANES);
                for (row, prow) in sums
                    .c
                    .chunks_exact_mut(blocks)
                    .zip(p.m.c.chunks_exact(blocks))
                {
                    row[b][t] = prow[b][t];
                }
                inv[j] = p.inv[j];
            }
        }
        Centroids { m: sums, inv }
    }

    /// Centroids from the given member vectors (one column per vector), e.g. seeds.
    fn from_members(members: &[&SparseVec], map: &FeatureMap) -> Centroids {
        let labels: Vec<usize> = (0..members.len()).collect();
        let sums = Columns::sums(members, map, &labels, members.len());
        Centroids::from_sums(sums, &vec![1; members.len()], None)
    }

    /// How far each centroid (as a unit vector) moved from `old`'s.
    fn shifts(&self, old: &Centroids) -> Vec<f32> {
        let mut sq = vec![[0.0f32; LANES]; self.m.blocks];
        let inv_new: Vec<Block> = blocked(&self.inv, self.m.blocks);
        let inv_old: Vec<Block> = blocked(&old.inv, self.m.blocks);
        for (row, orow) in self
            .m
            .c
            .chunks_exact(self.m.blocks)
            .zip(old.m.c.chunks_exact(self.m.blocks))
        {
            for b in 0..self.m.blocks {
                for t in 0..LANES {
                    let d = row[b][t] * inv_new[b][t] - orow[b][t] * inv_old[b][t];
                    sq[b][t] += d * d;
                }
            }
        }
        sq.iter()
            .flatten()
            .take(self.k())
            .map(|s| s.sqrt())
            .collect()
    }

    /// A zeroed score buffer for [`Centroids::assign`].
    fn buffer(&self) -> Vec<Block> {
        vec![[0.0; LANES]; self.m.blocks]
    }

    /// Best centroid (ties: the lower index) and its similarity; `buf` is left holding the
    /// similarity to every centroid (padding: 0).
    fn assign(&self, x: &SparseVec, map: &[u32], buf: &mut [Block]) -> (usize, f32) {
        self.m.dots(x, map, buf);
        let mut best = (0, f32::NEG_INFINITY);
        for (j, (s, &inv)) in buf.iter_mut().flatten().zip(&self.inv).enumerate() {
            *s *= inv;
            if *s > best.1 {
                best = (j, *s);
            }
        }
        best
    }

    /// Similarity of `x` to centroid `j`: the same sum as [`Centroids::assign`] takes for
    /// that centroid, so the same value.
    fn score(&self, x: &SparseVec, map: &[u32], j: usize) -> f32 {
        let (b, t) = (j / LANES, j % LANES);
        let mut dot = 0.0f32;
        for (&i, &v) in x.idx.iter().zip(x.val.iter()) {
            dot += v * self.m.c[map[i as usize] as usize * self.m.blocks + b][t];
        }
        dot * self.inv[j]
    }
}

/// `v` padded with zeros to `blocks` whole blocks.
fn blocked(v: &[f32], blocks: usize) -> Vec<Block> {
    let mut out = vec![[0.0; LANES]; blocks];
    for (j, &x) in v.iter().enumerate() {
        out[j / LANES][j % LANES] = x;
    }
    out
}

/// The feature slots that occur in a set of vectors, renumbered `0..dim` in slot order, so
/// centroid matrices hold only features that occur (far fewer than the hash space).
struct FeatureMap {
    id: Vec<u32>,
    dim: usize,
}

impl FeatureMap {
    /// The slots with a non-zero document frequency.
    fn of_df(df: &[u32]) -> FeatureMap {
        let mut id = vec![u32::MAX; df.len()];
        let mut dim = 0u32;
        for (x, &d) in id.iter_mut().zip(df) {
            if d > 0 {
                *x = dim;
                dim += 1;
            }
        }
        FeatureMap {
            id,
            dim: dim as usize,
        }
    }

    fn of(vecs: &[&SparseVec], slots: usize) -> FeatureMap {
        // Which slots occur: one bitmap per chunk of vectors, OR-ed together.
        let words = slots.div_ceil(64);
        let seen = vecs
            .par_chunks(4096)
            .map(|chunk| {
                let mut seen = vec![0u64; words];
                for v in chunk {
                    for &i in &v.idx {
                        seen[i as usize / 64] |= 1 << (i % 64);
                    }
                }
                seen
            })
            .reduce(
                || vec![0u64; words],
                |mut a, b| {
                    a.iter_mut().zip(b).for_each(|(x, y)| *x |= y);
                    a
                },
            );
        let mut id = vec![u32::MAX; slots];
        let mut dim = 0u32;
        for (s, x) in id.iter_mut().enumerate() {
            if seen[s / 64] >> (s % 64) & 1 == 1 {
                *x = dim;
                dim += 1;
            }
        }
        FeatureMap {
            id,
            dim: dim as usize,
        }
    }
}

/// Cosine similarity matrix of `vecs` (row-major, n × n), from an inverted index: row a
/// gathers, for each feature of a, the products with the later vectors that have it, so
/// the work is the number of co-occurring pairs, not n² × entries. Each entry is summed over
/// the shared features in ascending order, exactly as a sparse dot product would.
fn gram(vecs: &[&SparseVec], map: &FeatureMap) -> Vec<f32> {
    let n = vecs.len();
    // Postings: for each feature, the vectors that have it (ascending) and their values.
    let mut start = vec![0usize; map.dim + 1];
    for v in vecs {
        for &i in &v.idx {
            start[map.id[i as usize] as usize + 1] += 1;
        }
    }
    for f in 0..map.dim {
        start[f + 1] += start[f];
    }
    let mut fill = start.clone();
    let mut doc = vec![0u32; start[map.dim]];
    let mut val = vec![0.0f32; start[map.dim]];
    for (d, v) in vecs.iter().enumerate() {
        for (&i, &x) in v.idx.iter().zip(v.val.iter()) {
            let f = map.id[i as usize] as usize;
            doc[fill[f]] = d as u32;
            val[fill[f]] = x;
            fill[f] += 1;
        }
    }
    let mut g = vec![0.0f32; n * n];
    g.par_chunks_mut(n).enumerate().for_each(|(a, row)| {
        let v = vecs[a];
        for (&i, &x) in v.idx.iter().zip(v.val.iter()) {
            let f = map.id[i as usize] as usize;
            let (ds, vs) = (&doc[start[f]..start[f + 1]], &val[start[f]..start[f + 1]]);
            let from = ds.partition_point(|&d| (d as usize) < a);
            for (&d, &y) in ds[from..].iter().zip(&vs[from..]) {
                row[d as usize] += x * y;
            }
        }
    });
    // Mirror the upper triangle, in tiles so both sides stay in cache.
    const TILE: usize = 64;
    for a0 in (0..n).step_by(TILE) {
        for b0 in (0..=a0).step_by(TILE) {
            for a in a0..(a0 + TILE).min(n) {
                for b in b0..(b0 + TILE).min(a) {
                    g[a * n + b] = g[b * n + a];
                }
            }
        }
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

/// The Euclidean norm of `v` (four running sums, so the additions need not wait on each
/// other; it only widens bounds, so its rounding does not matter).
fn norm_of(v: &SparseVec) -> f32 {
    let mut acc = [0.0f32; 4];
    let chunks = v.val.chunks_exact(4);
    let rest = chunks.remainder();
    for c in chunks {
        for t in 0..4 {
            acc[t] += c[t] * c[t];
        }
    }
    let tail: f32 = rest.iter().map(|x| x * x).sum();
    (acc[0] + acc[1] + acc[2] + acc[3] + tail).sqrt()
}

/// A score margin below which a label is always recomputed rather than kept on the bounds
/// (far above the rounding error of the f32 scores).
const MARGIN: f32 = 1e-4;

/// Lloyd iterations from `init` until at most `n / 1000` labels change in a round (or
/// `max_iter` rounds); returns the labels and the member sums of each cluster.
///
/// Rounds after the first skip most texts with Elkan's bounds, adapted to similarities:
/// each text keeps a lower bound on its similarity to its own centroid and an upper bound
/// on its similarity to each other centroid. When a centroid (a unit vector) moves by δ,
/// no text's similarity to it changes by more than δ × the text's norm, so the bounds are
/// widened by the moves. While the own bound beats every other bound (by [`MARGIN`]) the
/// label stands and the text is not rescored; otherwise the own similarity is recomputed
/// (one column) and, if that does not settle it, all of them. The labels are those of
/// plain Lloyd. The member sums are updated with the texts that changed cluster (in input
/// order) instead of being recomputed.
fn lloyd(
    vecs: &[&SparseVec],
    map: &FeatureMap,
    init: Centroids,
    max_iter: usize,
) -> (Vec<usize>, Columns) {
    let n = vecs.len();
    let k = init.k();
    let blocks = init.m.blocks;
    // Each text's norm, taken when it is first scored.
    let mut norms = vec![0.0f32; n];
    let mut labels = vec![usize::MAX; n];
    let mut own = vec![f32::NEG_INFINITY; n];
    // Per text, `blocks` blocks of upper bounds (−∞ for its own centroid and the padding).
    let mut upper = vec![[f32::NEG_INFINITY; LANES]; n * blocks];
    let mut centroids = init;
    let mut shift = vec![[0.0f32; LANES]; blocks];
    let mut sums: Option<Columns> = None;
    let mut count = vec![0usize; k];
    let settled = n / 1000;
    for round in 0..max_iter.max(1) {
        let before = labels.clone();
        vecs.par_iter()
            .zip(norms.par_iter_mut())
            .zip(labels.par_iter_mut())
            .zip(own.par_iter_mut())
            .zip(upper.par_chunks_mut(blocks))
            .for_each_init(
                || centroids.buffer(),
                |buf, ((((v, norm), label), own), upper)| {
                    if *label == usize::MAX {
                        *norm = norm_of(v);
                    } else {
                        let l = *label;
                        let norm = *norm;
                        *own -= shift[l / LANES][l % LANES] * norm;
                        let mut top = [f32::NEG_INFINITY; LANES];
                        for (u, s) in upper.iter_mut().zip(&shift) {
                            for t in 0..LANES {
                                u[t] += s[t] * norm;
                                top[t] = top[t].max(u[t]);
                            }
                        }
                        let top = top.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
                        if *own - top > MARGIN {
                            return;
                        }
                        *own = centroids.score(v, &map.id, l);
                        if *own - top > MARGIN {
                            return;
                        }
                    }
                    let (best, score) = centroids.assign(v, &map.id, buf);
                    *label = best;
                    *own = score;
                    upper.copy_from_slice(buf);
                    upper[best / LANES][best % LANES] = f32::NEG_INFINITY;
                    for j in k..blocks * LANES {
                        upper[j / LANES][j % LANES] = f32::NEG_INFINITY;
                    }
                },
            );
        let mut changed = 0usize;
        match sums.as_mut() {
            None => {
                for &l in &labels {
                    count[l] += 1;
                }
                changed = n;
                sums = Some(Columns::sums(vecs, map, &labels, k));
            }
            Some(s) => {
                for ((v, &old), &new) in vecs.iter().zip(&before).zip(&labels) {
                    if old != new {
                        changed += 1;
                        s.add(v, &map.id, old, -1.0);
                        s.add(v, &map.id, new, 1.0);
                        count[old] -= 1;
                        count[new] += 1;
                        if count[old] == 0 {
                            // Exactly zero, not the rounding left by the subtractions.
                            s.clear(old);
                        }
                    }
                }
            }
        }
        if changed <= settled || round + 1 == max_iter.max(1) {
            break;
        }
        let Some(s) = sums.as_ref() else { break };
        let next = Centroids::from_sums(s.clone(), &count, Some(&centroids));
        // A little slack for the rounding of the shifts themselves.
        let moved: Vec<f32> = next
            .shifts(&centroids)
            .into_iter()
            .map(|d| d + 1e-6)
            .collect();
        shift = blocked(&moved, blocks);
        centroids = next;
    }
    let sums = sums.unwrap_or_else(|| Columns::zeros(map.dim, k));
    (labels, sums)
}

/// Merges clusters whose (normalised mean) centroids are at least `threshold` similar,
/// most similar pair first, combining their member sums. Returns the labels and the member
/// sums (dense, over the features) of each surviving cluster, indexed by label.
fn merge(sums: &Columns, mut labels: Vec<usize>, threshold: f32) -> (Vec<usize>, Vec<Vec<f32>>) {
    let k = sums.k;
    let mut alive = vec![false; k];
    for &l in &labels {
        alive[l] = true;
    }
    let mut cols: Vec<Vec<f32>> = (0..k)
        .map(|j| if alive[j] { sums.column(j) } else { Vec::new() })
        .collect();
    if threshold > 1.0 || k < 2 {
        return (labels, cols);
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
                let s = cos(&cols[a], &cols[b]);
                if s >= threshold && best.is_none_or(|(t, _, _)| s > t) {
                    best = Some((s, a, b));
                }
            }
        }
        let Some((_, a, b)) = best else { break };
        let moved = std::mem::take(&mut cols[b]);
        for (x, y) in cols[a].iter_mut().zip(moved) {
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
    (labels, cols)
}

/// Mean silhouette with cosine distance from the Gram matrix.
fn silhouette(g: &[f32], n: usize, labels: &[usize], k: usize) -> f64 {
    // The members of each cluster, ascending: each cluster's distance sum below adds the
    // same terms in the same order as one scan over all texts would, but in a register
    // rather than in a table indexed by label.
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); k];
    for (j, &l) in labels.iter().enumerate() {
        members[l].push(j);
    }
    let per: Vec<f64> = (0..n)
        .into_par_iter()
        .map(|i| {
            let row = &g[i * n..(i + 1) * n];
            let dist = |j: usize| (1.0 - row[j]).max(0.0) as f64;
            let own = labels[i];
            let size = members[own].len();
            if size <= 1 {
                return 0.0;
            }
            let mut a = 0.0f64;
            for &j in members[own].iter().filter(|&&j| j != i) {
                a += dist(j);
            }
            let a = a / (size - 1) as f64;
            let mut b = f64::INFINITY;
            for (c, m) in members.iter().enumerate() {
                if c == own || m.is_empty() {
                    continue;
                }
                let mut sum = 0.0f64;
                for &j in m {
                    sum += dist(j);
                }
                b = b.min(sum / m.len() as f64);
            }
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
    cluster_with(vecs, dim_bits, options, None)
}

/// [`cluster_vectors`]; `df`, when given, is the document frequency of each slot over
/// `vecs` (it says which slots occur without another pass over the vectors).
fn cluster_with(
    vecs: &[SparseVec],
    dim_bits: u32,
    options: &ClusterOptions,
    df: Option<&[u32]>,
) -> Clustering {
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
    let evaluate = |k: usize| -> Option<(usize, f64, Vec<usize>)> {
        let mut rng = ChaCha8Rng::seed_from_u64(
            options.seed ^ (k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        let seeds = kmeans_pp(&g, m, k, &mut rng);
        if seeds.len() < k {
            return None;
        }
        let members: Vec<&SparseVec> = seeds.iter().map(|&s| sample[s]).collect();
        let init = Centroids::from_members(&members, &sample_map);
        let (labels, _) = lloyd(&sample, &sample_map, init, options.max_iter);
        let score = if k == 1 {
            0.0
        } else {
            silhouette(&g, m, &labels, k)
        };
        Some((k, score, labels))
    };
    // The k are independent, so they are tried in parallel (the sample is small, so each
    // one alone would keep the cores busy only briefly).
    let evaluate_all = |ks: Vec<usize>, tried: &mut BTreeMap<usize, (f64, Vec<usize>)>| {
        let ks: Vec<usize> = ks.into_iter().filter(|k| !tried.contains_key(k)).collect();
        let results: Vec<Option<(usize, f64, Vec<usize>)>> =
            ks.into_par_iter().map(evaluate).collect();
        for (k, score, labels) in results.into_iter().flatten() {
            tried.insert(k, (score, labels));
        }
    };
    // A coarse grid (every k up to 10, then steps of about a quarter), then every k between
    // the best grid point's neighbours.
    let mut grid = Vec::new();
    let mut k = k_min;
    while k <= k_max {
        grid.push(k);
        k = if k < 10 { k + 1 } else { k + k.div_ceil(4) };
    }
    evaluate_all(grid.clone(), &mut tried);
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
        evaluate_all((lo..=hi).collect(), &mut tried);
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
    let map = match df {
        Some(df) if df.len() == dim => FeatureMap::of_df(df),
        _ => FeatureMap::of(&all, dim),
    };
    let mut count = vec![0usize; k];
    for &l in &sample_labels {
        count[l] += 1;
    }
    let init = Centroids::from_sums(
        Columns::sums(&sample, &map, &sample_labels, k),
        &count,
        None,
    );
    let (labels, sums) = lloyd(&all, &map, init, options.max_iter);
    let (labels, cols) = merge(&sums, labels, options.merge_threshold);
    // Renumber by first appearance (merged and empty clusters leave gaps).
    let mut renumber: Vec<usize> = vec![usize::MAX; k];
    let mut next = 0;
    let mut similarity = vec![0.0f32; n];
    let inv: Vec<f32> = cols
        .iter()
        .map(|c| {
            let n = c.iter().map(|x| x * x).sum::<f32>().sqrt();
            if n > 0.0 {
                1.0 / n
            } else {
                0.0
            }
        })
        .collect();
    all.par_iter()
        .zip(labels.par_iter())
        .zip(similarity.par_iter_mut())
        .for_each(|((v, &l), s)| {
            let col = &cols[l];
            let dot: f32 = v
                .idx
                .iter()
                .zip(v.val.iter())
                .map(|(&i, &x)| x * col[map.id[i as usize] as usize])
                .sum();
            *s = dot * inv[l];
        });
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
    Clustering {
        k: next,
        labels,
        similarity,
        silhouette: score,
    }
}

/// Vectorises and clusters `texts` (see the module documentation).
pub fn cluster_texts(texts: &[&str], options: &ClusterOptions) -> Clustering {
    let (vecs, df) = tfidf_df(texts, options.dim_bits);
    let c = cluster_with(&vecs, options.dim_bits, options, Some(&df));
    // Two small buffers per text: freeing them is worth sharing out too.
    vecs.into_par_iter().with_min_len(4096).for_each(drop);
    c
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

    /// Raw counts the straightforward way: the general word splitter, n-grams by character
    /// offsets, a sort and a run-length count.
    fn reference_counts(text: &str, mask: u64) -> SparseVec {
        let (mut word, mut bounds, mut slots) = (String::new(), Vec::new(), Vec::new());
        for_each_word(text, &mut word, |w| {
            push_word_features(w, mask, &mut slots, &mut bounds)
        });
        slots.sort_unstable();
        let mut v = SparseVec::default();
        for s in slots {
            if v.idx.last() == Some(&s) {
                *v.val.last_mut().unwrap() += 1.0;
            } else {
                v.idx.push(s);
                v.val.push(1.0);
            }
        }
        v
    }

    /// Deterministic test texts: fixed awkward cases, then random ones over an alphabet of
    /// letters, digits, apostrophes, separators and (in some) non-ASCII letters.
    fn awkward_texts() -> Vec<String> {
        let mut texts: Vec<String> = [
            "",
            "a",
            "The bot MADE up a 90-day policy, it's wrong!",
            "'quoted' words'' and ''x'' y'z o' ' '' '''",
            "ÜBER straße café naïve 東京 tokyo Ωmega",
            "don't stop-words: the AND of; i.e. e.g. It's ITS",
            "tab\tseparated\nnew lines\r\nand   spaces__under_score",
            "supercalifragilistic antidisestablishmentarianism x1 22 333",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let alphabet: Vec<char> = "abcdeXYZ019 ''-,.\t".chars().collect();
        let mut next = crate::testing::xorshift(42);
        for i in 0..300 {
            let len = (next() % 80) as usize;
            let mut t: String = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            if i % 10 == 0 {
                t.push_str(" émile ÀB");
            }
            texts.push(t);
        }
        texts
    }

    #[test]
    fn counting_matches_the_reference() {
        assert!(STOP_PACKED.windows(2).all(|w| w[0] < w[1]));
        let mut texts = awkward_texts();
        // Long enough for the comparison sort.
        let mut next = crate::testing::xorshift(9);
        let long: Vec<String> = (0..3000)
            .map(|_| format!("w{}x{}", next() % 500, next() % 7))
            .collect();
        texts.push(long.join(" "));
        let mut c = Counter::new();
        for bits in [8u32, 16, 20, 24] {
            let mask = (1u64 << bits) - 1;
            for t in &texts {
                assert_eq!(c.features(t, bits), reference_counts(t, mask), "{t:?}");
            }
        }
        assert!(c.slots.capacity() > BUCKET_SORT_MAX);
    }

    /// Texts of `topics` topics (8 words each) with shared filler words.
    fn topic_texts(n: usize, topics: usize, seed: u64) -> (Vec<String>, Vec<usize>) {
        let mut next = crate::testing::xorshift(seed);
        let filler = [
            "error", "wrong", "answer", "model", "again", "please", "broken",
        ];
        let (mut texts, mut truth) = (Vec::new(), Vec::new());
        for _ in 0..n {
            let t = (next() % topics as u64) as usize;
            let words: Vec<String> = (0..8)
                .map(|i| {
                    if i < 2 || next() % 2 == 0 {
                        format!("topic{t}word{}", next() % 8)
                    } else {
                        filler[(next() % filler.len() as u64) as usize].to_string()
                    }
                })
                .collect();
            texts.push(words.join(" "));
            truth.push(t);
        }
        (texts, truth)
    }

    #[test]
    fn gram_matches_sparse_dot_products() {
        let (texts, _) = topic_texts(300, 6, 7);
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let vecs = tfidf(&refs, 12);
        let sample: Vec<&SparseVec> = vecs.iter().collect();
        let map = FeatureMap::of(&sample, 1 << 12);
        let g = gram(&sample, &map);
        let n = sample.len();
        for a in 0..n {
            for b in 0..n {
                // Merge join over the shared slots, ascending.
                let (x, y) = (sample[a], sample[b]);
                let (mut i, mut j, mut dot) = (0, 0, 0.0f32);
                while i < x.idx.len() && j < y.idx.len() {
                    match x.idx[i].cmp(&y.idx[j]) {
                        std::cmp::Ordering::Less => i += 1,
                        std::cmp::Ordering::Greater => j += 1,
                        std::cmp::Ordering::Equal => {
                            dot += x.val[i] * y.val[j];
                            i += 1;
                            j += 1;
                        }
                    }
                }
                assert_eq!(g[a * n + b].to_bits(), dot.to_bits(), "{a} {b}");
            }
        }
    }

    /// Plain Lloyd: every text rescored every round, sums recomputed from scratch.
    fn plain_lloyd(
        vecs: &[&SparseVec],
        map: &FeatureMap,
        mut centroids: Centroids,
        max_iter: usize,
    ) -> Vec<usize> {
        let k = centroids.k();
        let mut labels = vec![usize::MAX; vecs.len()];
        for round in 0..max_iter {
            let mut buf = centroids.buffer();
            let next: Vec<usize> = vecs
                .iter()
                .map(|v| centroids.assign(v, &map.id, &mut buf).0)
                .collect();
            let changed = next.iter().zip(&labels).filter(|(a, b)| a != b).count();
            labels = next;
            if changed <= vecs.len() / 1000 || round + 1 == max_iter {
                break;
            }
            let mut count = vec![0; k];
            for &l in &labels {
                count[l] += 1;
            }
            let sums = Columns::sums(vecs, map, &labels, k);
            centroids = Centroids::from_sums(sums, &count, Some(&centroids));
        }
        labels
    }

    #[test]
    fn bounded_lloyd_gives_plain_lloyds_labels() {
        let (texts, _) = topic_texts(3000, 12, 11);
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let vecs = tfidf(&refs, 14);
        let all: Vec<&SparseVec> = vecs.iter().collect();
        let map = FeatureMap::of(&all, 1 << 14);
        for k in [2, 5, 12, 17, 30] {
            // Seeds 0..k: some topics get two seeds and some none, so texts move for a while.
            let seeds: Vec<&SparseVec> = all[..k].to_vec();
            let init = Centroids::from_members(&seeds, &map);
            let (labels, sums) = lloyd(&all, &map, init.clone(), 20);
            assert_eq!(labels, plain_lloyd(&all, &map, init, 20), "k {k}");
            // The kept sums are those of the final labels.
            let fresh = Columns::sums(&all, &map, &labels, k);
            for (a, b) in sums.c.iter().flatten().zip(fresh.c.iter().flatten()) {
                assert!((a - b).abs() < 1e-3, "k {k}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn same_result_on_any_number_of_threads() {
        let (texts, truth) = topic_texts(4000, 9, 5);
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let options = ClusterOptions {
            k_max: 20,
            ..ClusterOptions::default()
        };
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| cluster_texts(&refs, &options))
        };
        let one = run(1);
        assert_eq!(one.k, 9);
        assert_eq!(
            crate::analysis::ari::adjusted_rand_index(&one.labels, &truth),
            1.0
        );
        assert_eq!(run(2), one);
        assert_eq!(run(3), one);
    }
}
