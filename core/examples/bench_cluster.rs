//! Side-by-side clustering benchmark driver (see bench/cluster_vs_sklearn.sh).
//!
//! Generates (seeded, deterministic) N short failure texts with K planted clusters: each
//! cluster has its own vocabulary of 8 topic words, mixed with 40 filler words shared by all
//! clusters; a text has 6-12 words, at least 2 of them topic words (each further word is a
//! topic word with probability 1/2). Writes them to `DIR/texts.tsv` (`label\ttext`), then
//! times [`cluster_texts`] with `ClusterOptions { k_max: KMAX, ..default }` (median of 3
//! runs; tuneloop chooses k itself in `k_min..=k_max`) and prints `{"texts", "k_true",
//! "k_found", "k_max", "median_ms", "runs", "ari"}`, the ARI against the planted labels.
//!
//! Usage: `cargo run --release --example bench_cluster -- DIR [N] [K] [KMAX]`
//! (defaults 100,000, 20 and 2K).

use std::io::Write;
use std::time::Instant;
use tuneloop::analysis::ari::adjusted_rand_index;
use tuneloop::analysis::cluster::{cluster_texts, ClusterOptions};

const FILLER: &[&str] = &[
    "error",
    "failed",
    "request",
    "response",
    "service",
    "user",
    "model",
    "output",
    "answer",
    "wrong",
    "bad",
    "again",
    "please",
    "issue",
    "problem",
    "broken",
    "result",
    "value",
    "missing",
    "unexpected",
    "returned",
    "reported",
    "seems",
    "still",
    "today",
    "agent",
    "system",
    "tool",
    "query",
    "reply",
    "message",
    "data",
    "check",
    "help",
    "case",
    "time",
    "step",
    "thing",
    "field",
    "page",
];

const ONSETS: &[&str] = &[
    "b", "c", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "cr", "dr",
    "gr", "pl", "st", "tr", "sh", "ch",
];
const VOWELS: &[&str] = &["a", "e", "i", "o", "u", "ai", "ou", "ea"];

/// K vocabularies of 8 distinct pseudo-words (2-3 syllables), none a filler word.
fn vocabularies(k: usize, next: &mut impl FnMut() -> u64) -> Vec<Vec<String>> {
    let mut seen: std::collections::HashSet<String> =
        FILLER.iter().map(|s| s.to_string()).collect();
    (0..k)
        .map(|_| {
            let mut words = Vec::with_capacity(8);
            while words.len() < 8 {
                let syllables = 2 + (next() % 2) as usize;
                let mut w = String::new();
                for _ in 0..syllables {
                    w.push_str(ONSETS[(next() % ONSETS.len() as u64) as usize]);
                    w.push_str(VOWELS[(next() % VOWELS.len() as u64) as usize]);
                }
                w.push_str(["", "n", "r", "x", "t"][(next() % 5) as usize]);
                if seen.insert(w.clone()) {
                    words.push(w);
                }
            }
            words
        })
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(
        args.next()
            .ok_or("usage: bench_cluster DIR [N] [K] [KMAX]")?,
    );
    let n: usize = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(100_000);
    let k: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(20);
    let k_max: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(2 * k);
    std::fs::create_dir_all(&dir)?;
    let mut next = tuneloop::testing::xorshift(0x5EED_C1A5_7E12_0004);
    let vocab = vocabularies(k, &mut next);
    let mut labels = Vec::with_capacity(n);
    let mut texts = Vec::with_capacity(n);
    for _ in 0..n {
        let label = (next() % k as u64) as usize;
        let len = 6 + (next() % 7) as usize;
        let words: Vec<&str> = (0..len)
            .map(|i| {
                if i < 2 || next() % 2 == 0 {
                    vocab[label][(next() % 8) as usize].as_str()
                } else {
                    FILLER[(next() % FILLER.len() as u64) as usize]
                }
            })
            .collect();
        // Shuffle so topic words are not always first.
        let mut words = words;
        for i in (1..words.len()).rev() {
            let j = (next() % (i as u64 + 1)) as usize;
            words.swap(i, j);
        }
        labels.push(label);
        texts.push(words.join(" "));
    }
    let mut out = std::io::BufWriter::new(std::fs::File::create(dir.join("texts.tsv"))?);
    for (l, t) in labels.iter().zip(&texts) {
        writeln!(out, "{l}\t{t}")?;
    }
    out.flush()?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let options = ClusterOptions {
        k_max,
        ..ClusterOptions::default()
    };
    let runs = 3;
    let mut times = Vec::with_capacity(runs);
    let mut result = None;
    for _ in 0..runs {
        let t = Instant::now();
        let c = cluster_texts(&refs, &options);
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        result = Some(c);
    }
    let c = result.ok_or("no run")?;
    times.sort_by(f64::total_cmp);
    println!(
        "{}",
        serde_json::json!({
            "texts": n,
            "k_true": k,
            "k_found": c.k,
            "k_max": k_max,
            "median_ms": times[runs / 2],
            "runs": runs,
            "ari": adjusted_rand_index(&labels, &c.labels),
        })
    );
    Ok(())
}
