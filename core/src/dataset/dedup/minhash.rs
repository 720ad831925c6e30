//! Text normalisation into a reusable buffer, exact hashes, and MinHash signatures over
//! word shingles with datasketch-style universal hashing.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The Mersenne prime 2^61 − 1 of the permutations `(a·h + b) mod p`.
const MERSENNE: u64 = (1 << 61) - 1;

/// Seeded permutation parameters, one `(a, b)` pair per MinHash permutation.
#[derive(Debug, Clone)]
pub struct Permutations {
    a: Vec<u64>,
    b: Vec<u64>,
}

impl Permutations {
    /// `num_perm` pairs with `a` in `[1, p)` and `b` in `[0, p)`, drawn from `seed`.
    pub fn new(num_perm: usize, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut a = Vec::with_capacity(num_perm);
        let mut b = Vec::with_capacity(num_perm);
        for _ in 0..num_perm {
            a.push(rng.random_range(1..MERSENNE));
            b.push(rng.random_range(0..MERSENNE));
        }
        Self { a, b }
    }

    /// Lowers `sig` to the minimum over the permutations of the 32-bit shingle hash `h`.
    /// As in datasketch (numpy `uint64`), `a·h + b` wraps at 2^64 before the reduction.
    #[inline]
    fn update(&self, sig: &mut [u32], h: u64) {
        for ((s, &a), &b) in sig.iter_mut().zip(&self.a).zip(&self.b) {
            let x = a.wrapping_mul(h).wrapping_add(b);
            let mut r = (x & MERSENNE) + (x >> 61);
            if r >= MERSENNE {
                r -= MERSENNE;
            }
            *s = (*s).min(r as u32);
        }
    }
}

/// Per-thread scratch space so that hashing a text allocates nothing once warm.
#[derive(Debug, Default)]
pub struct Scratch {
    norm: Vec<u8>,
    words: Vec<(u32, u32)>,
    hashes: Vec<u64>,
}

impl Scratch {
    /// Fills `norm` with the [`super::normalize`]d text and `words` with its word spans.
    fn load(&mut self, text: &str) {
        self.norm.clear();
        self.words.clear();
        for word in text.split_whitespace() {
            if !self.norm.is_empty() {
                self.norm.push(b' ');
            }
            let start = self.norm.len();
            if word.is_ascii() {
                self.norm
                    .extend(word.bytes().map(|c| c.to_ascii_lowercase()));
            } else {
                let mut tmp = [0u8; 4];
                for c in word.chars().flat_map(char::to_lowercase) {
                    self.norm
                        .extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
                }
            }
            self.words.push((start as u32, self.norm.len() as u32));
        }
    }

    /// 128-bit hash of the normalised text.
    pub fn exact_hash(&mut self, text: &str) -> u128 {
        self.load(text);
        xxhash_rust::xxh3::xxh3_128(&self.norm)
    }

    /// The 64-bit hashes of the words of the normalised `text`, in order.
    pub fn word_hashes(&mut self, text: &str) -> &[u64] {
        self.load(text);
        let norm = &self.norm;
        self.hashes.clear();
        self.hashes.extend(
            self.words
                .iter()
                .map(|&(s, e)| xxhash_rust::xxh3::xxh3_64(&norm[s as usize..e as usize])),
        );
        &self.hashes
    }

    /// Writes the MinHash signature of `text` (word `shingle_words`-grams of the normalised
    /// text; a shorter text is one shingle of all its words) into `sig`.
    pub fn signature(
        &mut self,
        text: &str,
        shingle_words: usize,
        perms: &Permutations,
        sig: &mut [u32],
    ) {
        sig.fill(u32::MAX);
        self.word_hashes(text);
        let k = shingle_words.max(1);
        if self.hashes.len() <= k {
            perms.update(sig, shingle_hash(self.hashes.iter().copied()));
            return;
        }
        for window in self.hashes.windows(k) {
            perms.update(sig, shingle_hash(window.iter().copied()));
        }
    }
}

/// Combines word hashes (order-sensitive) into a 32-bit shingle hash, like datasketch's
/// 32-bit SHA-1 prefix but without hashing the bytes again.
fn shingle_hash(words: impl Iterator<Item = u64>) -> u64 {
    let mut acc: u64 = 0x243F_6A88_85A3_08D3;
    for w in words {
        acc = (acc ^ w)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(29);
    }
    acc ^= acc >> 32;
    acc = acc.wrapping_mul(0xD6E8_FEB8_6659_FD93);
    (acc >> 32) & 0xFFFF_FFFF
}

/// Share of equal positions: the signature estimate of the Jaccard similarity.
pub fn estimated_jaccard(a: &[u32], b: &[u32]) -> f64 {
    if a.is_empty() {
        return 0.0;
    }
    let same = a.iter().zip(b).filter(|(x, y)| x == y).count();
    same as f64 / a.len() as f64
}
