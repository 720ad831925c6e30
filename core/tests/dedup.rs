//! Deduplication: exact variants, one-word edits, unrelated texts, transitive groups,
//! determinism across runs and thread counts, edge cases, config validation.

#![allow(clippy::unwrap_used)]

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tuneloop::dataset::dedup::{
    find_duplicates, try_find_duplicates, DedupConfig, DuplicateKind, DuplicateOf,
};
use tuneloop::Error;

fn words(rng: &mut ChaCha8Rng, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| format!("w{}", rng.random_range(0..5000u32)))
        .collect()
}

fn kept(d: &[Option<DuplicateOf>]) -> Vec<usize> {
    (0..d.len()).filter(|&i| d[i].is_none()).collect()
}

#[test]
fn case_and_whitespace_variants_are_exact() {
    let texts = [
        "Where is my order?",
        "  where IS my\torder?  ",
        "WHERE is\n\nmy order?",
        "Where is my invoice?",
    ];
    let d = find_duplicates(&texts, &DedupConfig::default());
    assert_eq!(d[0], None);
    for i in [1, 2] {
        assert_eq!(
            d[i],
            Some(DuplicateOf {
                index: 0,
                kind: DuplicateKind::Exact
            })
        );
    }
    assert_eq!(d[3], None);
}

#[test]
fn one_word_edits_of_30_word_texts_are_near() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut texts = Vec::new();
    for _ in 0..50 {
        let base = words(&mut rng, 30);
        let mut edited = base.clone();
        edited[29] = "changed".into();
        texts.push(base.join(" "));
        texts.push(edited.join(" "));
    }
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let d = find_duplicates(&refs, &DedupConfig::default());
    let mut linked = 0;
    for pair in 0..50 {
        assert_eq!(d[2 * pair], None, "{pair}");
        if d[2 * pair + 1].is_some() {
            assert_eq!(
                d[2 * pair + 1],
                Some(DuplicateOf {
                    index: 2 * pair,
                    kind: DuplicateKind::Near
                }),
                "{pair}"
            );
            linked += 1;
        }
    }
    // Jaccard 27/29 ≈ 0.93: LSH with (9 bands, 13 rows) misses such a pair with probability
    // (1 − 0.93^13)^9 ≈ 1%, so allow one or two misses out of 50.
    assert!(linked >= 48, "{linked} of 50 linked");
}

#[test]
fn mid_text_edits_are_near_at_a_lower_threshold() {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let base = words(&mut rng, 30);
    let mut edited = base.clone();
    edited[15] = "changed".into();
    let (a, b) = (base.join(" "), edited.join(" "));
    let config = DedupConfig {
        threshold: 0.6,
        ..DedupConfig::default()
    };
    let d = find_duplicates(&[&a, &b], &config);
    assert_eq!(
        d[1],
        Some(DuplicateOf {
            index: 0,
            kind: DuplicateKind::Near
        })
    );
    let exact_only = DedupConfig {
        near: false,
        ..config
    };
    assert_eq!(find_duplicates(&[&a, &b], &exact_only), vec![None, None]);
}

#[test]
fn unrelated_texts_stay() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let texts: Vec<String> = (0..500)
        .map(|i| words(&mut rng, 5 + i % 25).join(" "))
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let d = find_duplicates(&refs, &DedupConfig::default());
    assert_eq!(kept(&d).len(), 500);
}

#[test]
fn transitive_groups_keep_the_lowest_index() {
    let mut rng = ChaCha8Rng::seed_from_u64(10);
    let base = words(&mut rng, 40);
    // Each link changes the last word; index 3 (far end of the chain) comes first.
    let mut chain = vec![base.clone()];
    for step in 0..3 {
        let mut next = chain.last().unwrap().clone();
        next.push(format!("extra{step}"));
        chain.push(next);
    }
    let unrelated = words(&mut rng, 40).join(" ");
    let texts = [
        chain[3].join(" "),
        unrelated.clone(),
        chain[1].join(" "),
        chain[0].join(" "),
        chain[2].join(" "),
        chain[0].join(" ").to_uppercase(),
    ];
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let d = find_duplicates(&refs, &DedupConfig::default());
    assert_eq!(kept(&d), vec![0, 1]);
    for i in [2, 3, 4, 5] {
        assert_eq!(d[i].map(|x| x.index), Some(0), "{i}");
        assert_eq!(d[i].map(|x| x.kind), Some(DuplicateKind::Near), "{i}");
    }
}

#[test]
fn deterministic_across_runs_and_pool_sizes() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut texts: Vec<String> = Vec::new();
    for _ in 0..400 {
        let len = 8 + rng.random_range(0..20);
        let base = words(&mut rng, len);
        if rng.random_bool(0.3) && !texts.is_empty() {
            let j = rng.random_range(0..texts.len());
            let mut v: Vec<String> = texts[j]
                .split(' ')
                .map(String::from)
                .collect::<Vec<String>>();
            let last = v.len() - 1;
            v[last] = "x".into();
            texts.push(v.join(" "));
        }
        texts.push(base.join(" "));
    }
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let config = DedupConfig::default();
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| find_duplicates(&refs, &config))
    };
    let one = run(1);
    assert!(one.iter().any(|d| d.is_some()));
    assert_eq!(run(2), one);
    assert_eq!(run(4), one);
    assert_eq!(find_duplicates(&refs, &config), one);
}

#[test]
fn empty_input_and_empty_strings() {
    assert!(find_duplicates(&[], &DedupConfig::default()).is_empty());
    let d = find_duplicates(&["", "   ", "a", ""], &DedupConfig::default());
    assert_eq!(d[0], None);
    assert_eq!(
        d[1],
        Some(DuplicateOf {
            index: 0,
            kind: DuplicateKind::Exact
        })
    );
    assert_eq!(d[2], None);
    assert_eq!(
        d[3],
        Some(DuplicateOf {
            index: 0,
            kind: DuplicateKind::Exact
        })
    );
}

#[test]
fn invalid_configs_are_rejected() {
    for (config, field) in [
        (
            DedupConfig {
                threshold: 0.0,
                ..DedupConfig::default()
            },
            "dedup.threshold",
        ),
        (
            DedupConfig {
                threshold: 1.5,
                ..DedupConfig::default()
            },
            "dedup.threshold",
        ),
        (
            DedupConfig {
                threshold: f64::NAN,
                ..DedupConfig::default()
            },
            "dedup.threshold",
        ),
        (
            DedupConfig {
                num_perm: 0,
                ..DedupConfig::default()
            },
            "dedup.num_perm",
        ),
        (
            DedupConfig {
                shingle_words: 0,
                ..DedupConfig::default()
            },
            "dedup.shingle_words",
        ),
    ] {
        match try_find_duplicates(&["a", "a"], &config) {
            Err(Error::InvalidInput { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected InvalidInput, got {other:?}"),
        }
        // The infallible entry point still removes exact duplicates.
        assert_eq!(
            find_duplicates(&["a", "A"], &config)[1].map(|d| d.index),
            Some(0)
        );
    }
    assert!(DedupConfig {
        threshold: 1.0,
        ..DedupConfig::default()
    }
    .validate()
    .is_ok());
}

#[test]
fn short_texts_one_word_apart_are_near() {
    let texts = [
        "Please open Settings and choose Reset.",
        "Kindly open Settings and choose Reset.",
        "Please open Settings and then choose Reset.",
        "Open Settings.",
        "Open Help.",
        "Kindly open Settings and pick Restore.",
    ];
    let d = find_duplicates(&texts, &DedupConfig::default());
    let near = |index| {
        Some(DuplicateOf {
            index,
            kind: DuplicateKind::Near,
        })
    };
    assert_eq!(d[1], near(0), "one word substituted");
    assert_eq!(d[2], near(0), "one word inserted");
    assert_eq!(d[4], None, "two words: too short for one edit to be a copy");
    // Two edits from text 1 (one edit would have joined it to the group).
    assert_eq!(d[5], None);
    let off = DedupConfig {
        short_words: 0,
        ..DedupConfig::default()
    };
    assert_eq!(
        kept(&find_duplicates(&texts, &off)),
        vec![0, 1, 2, 3, 4, 5],
        "the rule off, shingles alone miss them"
    );
}

#[test]
fn random_short_texts_are_not_linked_by_the_short_rule() {
    // 2,000 texts of 5–12 words from a 300-word vocabulary: some share many words, but
    // none is one edit from another by construction (checked), so none may be joined.
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut texts: Vec<Vec<u32>> = Vec::new();
    while texts.len() < 2000 {
        let n = rng.random_range(5..=12usize);
        let t: Vec<u32> = (0..n).map(|_| rng.random_range(0..300u32)).collect();
        let close = texts.iter().any(|o| {
            let (l, s) = if o.len() >= t.len() { (o, &t) } else { (&t, o) };
            match l.len() - s.len() {
                0 => l.iter().zip(s.iter()).filter(|(a, b)| a != b).count() <= 1,
                1 => (0..l.len()).any(|k| {
                    let mut c = l.clone();
                    c.remove(k);
                    &c == s
                }),
                _ => false,
            }
        });
        if !close {
            texts.push(t);
        }
    }
    let strings: Vec<String> = texts
        .iter()
        .map(|t| {
            t.iter()
                .map(|w| format!("v{w}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let refs: Vec<&str> = strings.iter().map(String::as_str).collect();
    let d = find_duplicates(&refs, &DedupConfig::default());
    assert_eq!(kept(&d).len(), 2000);
    // One word changed in each of the first 100 is found for every one of them.
    let mut edited = strings.clone();
    for t in texts.iter().take(100) {
        let mut e = t.clone();
        e[0] = 1000;
        edited.push(
            e.iter()
                .map(|w| format!("v{w}"))
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
    let refs: Vec<&str> = edited.iter().map(String::as_str).collect();
    let d = find_duplicates(&refs, &DedupConfig::default());
    for i in 0..100 {
        assert_eq!(d[2000 + i].map(|x| x.index), Some(i), "{i}");
    }
}

#[test]
fn one_word_edits_inside_texts_under_30_words_are_near() {
    // Shingles alone miss a mid-text edit below 29 words (Jaccard (n − 5) / (n + 1)).
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let mut texts = Vec::new();
    for n in 5..=30usize {
        let base = words(&mut rng, n);
        let mut edited = base.clone();
        edited[n / 2] = "changed".into();
        texts.push(base.join(" "));
        texts.push(edited.join(" "));
    }
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let d = find_duplicates(&refs, &DedupConfig::default());
    for pair in 0..texts.len() / 2 {
        assert_eq!(d[2 * pair + 1].map(|x| x.index), Some(2 * pair), "{pair}");
    }
}
