//! Exact + near-duplicate detection on 100,000 short texts with planted clusters (128
//! permutations). The 1M-document comparison with datasketch is bench/dedup_vs_datasketch.sh.

use criterion::{criterion_group, criterion_main, Criterion};
use tuneloop::dataset::dedup::{find_duplicates, DedupConfig};

/// 70% new texts of 8–30 words, 10% upper-cased copies, 20% copies with the last word changed.
fn corpus(n: usize) -> Vec<String> {
    let mut next = tuneloop::testing::xorshift(0xD0D0);
    let mut texts: Vec<String> = Vec::with_capacity(n);
    for _ in 0..n {
        let r = next() % 10;
        let t = if r == 0 && !texts.is_empty() {
            texts[(next() % texts.len() as u64) as usize].to_uppercase()
        } else if r < 3 && !texts.is_empty() {
            let src = &texts[(next() % texts.len() as u64) as usize];
            let cut = src.rfind(' ').unwrap_or(0);
            format!("{} w{}", &src[..cut], next() % 5000)
        } else {
            let len = 8 + next() % 23;
            (0..len)
                .map(|_| format!("w{}", next() % 5000))
                .collect::<Vec<_>>()
                .join(" ")
        };
        texts.push(t);
    }
    texts
}

fn bench(c: &mut Criterion) {
    let texts = corpus(100_000);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let config = DedupConfig::default();
    let mut g = c.benchmark_group("dedup");
    g.sample_size(10);
    g.bench_function("minhash_lsh_100k_128perm", |b| {
        b.iter(|| find_duplicates(&refs, &config))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
