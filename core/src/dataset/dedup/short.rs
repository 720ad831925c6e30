//! The short-text rule: two texts of at most `short_words` words that differ by one word
//! (substituted, inserted or deleted) are near duplicates when their word-level edit
//! similarity `1 − 1 / (longer length)` reaches the threshold (at 0.8: from 5 words up).
//!
//! Word shingles cannot see these: "Please open Settings and choose Reset." and "Kindly open
//! Settings and choose Reset." share 3 of 5 three-word shingles (Jaccard 0.6) and 5 of 7
//! words (0.71); a one-word edit in the middle of a text keeps the 3-shingle Jaccard
//! similarity at `(n − 5) / (n + 1)`, under 0.8 below 29 words.
//!
//! Candidates by pigeonhole: cut the shorter text's `m` words into [`BLOCKS`] blocks; one
//! edit falls within (or at the edge of) one block `j`, so both texts agree on the words
//! before block `j` and on the last `m − end(j)` words. Each text emits, for `m` its own
//! length and its length − 1, one key per block: the hash of the words outside it, in a
//! slot set by `m`'s parity and `j`. Two texts one edit apart share a key in the same slot;
//! slots are bucketed like LSH bands, and candidates confirmed on the word sequences. That
//! is `2 × BLOCKS` keys per text whatever its length, a fraction of the MinHash pass.

use rayon::prelude::*;

use super::minhash::Scratch;

/// The shortest longer length at which one word edit still reaches `threshold`, or `None`
/// when no length up to `short_words` does (a threshold of 1 wants identical texts).
fn min_longer(threshold: f64, short_words: usize) -> Option<usize> {
    (2..=short_words).find(|&n| 1.0 - 1.0 / n as f64 >= threshold)
}

/// Blocks a text is cut into for the candidate keys: more blocks make each key cover more
/// words (smaller buckets) at the cost of more keys.
const BLOCKS: usize = 4;

/// Order-sensitive hash of `tag` and the words of `head` then `tail`.
fn key_hash(tag: u64, head: &[u64], tail: &[u64]) -> u64 {
    let mut acc: u64 = 0x243F_6A88_85A3_08D3 ^ tag;
    for &w in head {
        acc = (acc ^ w)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(31);
    }
    acc = (acc ^ 0xA5A5).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for &w in tail {
        acc = (acc ^ w)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(31);
    }
    acc ^= acc >> 29;
    acc.wrapping_mul(0xBF58_476D_1CE4_E5B9) ^ (acc >> 32)
}

/// Key slots per text: [`BLOCKS`] for each parity of the base length.
pub(super) const SLOTS: usize = 2 * BLOCKS;

/// The keys of a text of `words` into `out` ([`SLOTS`] long): for base length `m` (its
/// length, and its length − 1 when it is the longer side of an insertion) and each block `j`
/// of `m` words, the words before the block and the last `m − end(j)` words, in slot
/// `(m mod 2) · BLOCKS + j`. Two texts one edit apart use the same `m`, hence the same slot,
/// so the keys can be bucketed per slot like LSH bands.
fn keys_of(words: &[u64], out: &mut [u64]) {
    let n = words.len();
    for m in [n, n.saturating_sub(1)] {
        let slot0 = (m % 2) * BLOCKS;
        if m == 0 {
            // No base: a key no other text has.
            for j in 0..BLOCKS {
                out[slot0 + j] = key_hash(u64::MAX - j as u64, words, &[]) ^ 0x5A5A;
            }
            continue;
        }
        let bound = |j: usize| j * m / BLOCKS;
        for j in 0..BLOCKS {
            let (start, end) = (bound(j), bound(j + 1));
            let tag = ((m as u64) << 8) | j as u64;
            out[slot0 + j] = key_hash(tag, &words[..start], &words[n - (m - end)..]);
        }
    }
}

/// Whether `a` and `b` are at most one word substitution, insertion or deletion apart.
fn one_edit(a: &[u64], b: &[u64]) -> bool {
    let (long, short) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    match long.len() - short.len() {
        0 => long.iter().zip(short).filter(|(x, y)| x != y).count() <= 1,
        1 => {
            let p = long.iter().zip(short).take_while(|(x, y)| x == y).count();
            long[p + 1..] == short[p..]
        }
        _ => false,
    }
}

/// Pairs of items (indices into `texts`, from `items`) that the short-text rule makes near
/// duplicates, sorted and without repeats.
pub(super) fn short_pairs(
    texts: &[&str],
    items: &[u32],
    short_words: usize,
    threshold: f64,
) -> Vec<(u32, u32)> {
    let Some(min_len) = min_longer(threshold, short_words) else {
        return Vec::new();
    };
    // A text takes part when it can be the shorter or the longer side of an eligible pair;
    // the others get keys of their own index (no bucket).
    let eligible = |n: usize| n >= 1 && n + 1 >= min_len && n <= short_words;
    let mut keys = vec![0u64; items.len() * SLOTS];
    keys.par_chunks_mut(SLOTS)
        .zip(items.par_iter())
        .for_each_init(Scratch::default, |s, (out, &i)| {
            let words = s.word_hashes(texts[i as usize]);
            if eligible(words.len()) {
                keys_of(words, out);
            } else {
                for (k, o) in out.iter_mut().enumerate() {
                    *o = key_hash(u64::from(i) << 4 | k as u64, &[0x1D], &[]);
                }
            }
        });
    // Bucketed per slot with LSH's pairing (each member with the 64 before it).
    let cands: Vec<(u32, u32)> = super::lsh::candidate_pairs(&keys, SLOTS)
        .into_iter()
        .map(|(a, b)| (items[a as usize], items[b as usize]))
        .collect();
    drop(keys);
    let ok: Vec<bool> = cands
        .par_iter()
        .map_init(
            || (Scratch::default(), Scratch::default()),
            |(sa, sb), &(a, b)| {
                let wa = sa.word_hashes(texts[a as usize]);
                let wb = sb.word_hashes(texts[b as usize]);
                let longer = wa.len().max(wb.len());
                longer >= min_len && longer <= short_words && one_edit(wa, wb)
            },
        )
        .collect();
    cands
        .into_iter()
        .zip(ok)
        .filter_map(|(p, ok)| ok.then_some(p))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_edit_covers_substitution_insertion_deletion_only() {
        let a = [1, 2, 3, 4];
        assert!(one_edit(&a, &[1, 9, 3, 4]));
        assert!(one_edit(&a, &[1, 2, 3]));
        assert!(one_edit(&a, &[0, 1, 2, 3, 4]));
        assert!(one_edit(&a, &[1, 2, 3, 4, 5]));
        assert!(!one_edit(&a, &[2, 1, 3, 4]), "a swap is two edits");
        assert!(!one_edit(&a, &[1, 2]));
        assert!(!one_edit(&a, &[9, 2, 3, 8]));
    }

    #[test]
    fn texts_one_edit_apart_share_a_key_wherever_the_edit_is() {
        for n in 1..=20u64 {
            let base: Vec<u64> = (0..n).collect();
            let mut keys = [0u64; SLOTS];
            keys_of(&base, &mut keys);
            for p in 0..=n as usize {
                let mut edits = vec![];
                if p < n as usize {
                    let mut sub = base.clone();
                    sub[p] = 99;
                    edits.push(sub);
                    let mut del = base.clone();
                    del.remove(p);
                    edits.push(del);
                }
                let mut ins = base.clone();
                ins.insert(p, 99);
                edits.push(ins);
                for e in edits.into_iter().filter(|e| !e.is_empty()) {
                    let mut other = [0u64; SLOTS];
                    keys_of(&e, &mut other);
                    assert!((0..SLOTS).any(|k| other[k] == keys[k]), "n {n} p {p} {e:?}");
                }
            }
        }
    }

    #[test]
    fn the_shortest_eligible_length_follows_the_threshold() {
        assert_eq!(min_longer(0.8, 12), Some(5));
        assert_eq!(min_longer(0.5, 12), Some(2));
        assert_eq!(min_longer(0.9, 12), Some(10));
        assert_eq!(min_longer(0.95, 12), None);
        assert_eq!(min_longer(1.0, 100), None);
    }

    #[test]
    fn short_one_word_edits_pair_and_others_do_not() {
        let texts = [
            "Please open Settings and choose Reset.",
            "Kindly open Settings and choose Reset.",
            "Please open Settings and then choose Reset.",
            "Open the app and choose Reset.",
            "Reset my password",
            "Reset my email",
        ];
        let items: Vec<u32> = (0..texts.len() as u32).collect();
        let pairs = short_pairs(&texts, &items, 12, 0.8);
        assert_eq!(pairs, vec![(0, 1), (0, 2)]);
        assert!(short_pairs(&texts, &items, 4, 0.8).is_empty());
        assert!(short_pairs(&texts, &items, 12, 1.0).is_empty());
    }
}
