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
//! length and its length − 1, one key per block: the hash of the words outside it. Two texts
//! one edit apart share a key; candidates are confirmed on the word sequences. That is
//! `2 × BLOCKS` keys per short text whatever its length, a fraction of the MinHash pass.

use rayon::prelude::*;

use super::minhash::Scratch;

/// Members of one key bucket paired with at most this many earlier members, as in LSH: a
/// key shared by thousands of texts (a common short reply) must not cost n² pairs, and
/// the transitive grouping joins such a bucket anyway.
const BUCKET_PAIR_CAP: usize = 64;

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

/// The keys of a text of `words`: for base length `m` (its length, and its length − 1 when
/// it is the longer side of an insertion) and each block `j` of `m` words, the words before
/// the block and the last `m − end(j)` words.
fn keys_of(words: &[u64], out: &mut Vec<u64>) {
    let n = words.len();
    for m in [n, n.saturating_sub(1)] {
        if m == 0 || (m != n && m + 1 != n) {
            continue;
        }
        let bound = |j: usize| j * m / BLOCKS;
        for j in 0..BLOCKS {
            let (start, end) = (bound(j), bound(j + 1));
            let tag = ((m as u64) << 8) | j as u64;
            out.push(key_hash(tag, &words[..start], &words[n - (m - end)..]));
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
    // A text takes part when it can be the shorter or the longer side of an eligible pair.
    let eligible = |n: usize| n >= 1 && n + 1 >= min_len && n <= short_words;
    let mut keys: Vec<(u64, u32)> = items
        .par_iter()
        .map_init(
            || (Scratch::default(), Vec::new()),
            |(s, out), &i| {
                out.clear();
                let words = s.word_hashes(texts[i as usize]);
                if eligible(words.len()) {
                    keys_of(words, out);
                    out.sort_unstable();
                    out.dedup();
                }
                out.iter().map(|&k| (k, i)).collect::<Vec<_>>()
            },
        )
        .flatten_iter()
        .collect();
    if keys.len() < 2 {
        return Vec::new();
    }
    keys.par_sort_unstable();
    let mut cands: Vec<(u32, u32)> = Vec::new();
    let mut start = 0;
    while start < keys.len() {
        let mut end = start + 1;
        while end < keys.len() && keys[end].0 == keys[start].0 {
            end += 1;
        }
        for j in start + 1..end {
            for i in j.saturating_sub(BUCKET_PAIR_CAP).max(start)..j {
                let (a, b) = (keys[i].1, keys[j].1);
                if a != b {
                    cands.push((a.min(b), a.max(b)));
                }
            }
        }
        start = end;
    }
    drop(keys);
    cands.par_sort_unstable();
    cands.dedup();
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
            let mut keys = Vec::new();
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
                    let mut other = Vec::new();
                    keys_of(&e, &mut other);
                    assert!(other.iter().any(|k| keys.contains(k)), "n {n} p {p} {e:?}");
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
