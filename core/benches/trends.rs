//! Mann-Kendall + Sen's slope for 10,000 series of 104 weeks (target ≤ 0.5 s on 2 cores).
//! The side-by-side comparison with pymannkendall is bench/trends_vs_pymannkendall.sh.

use criterion::{criterion_group, criterion_main, Criterion};
use tuneloop::analysis::trend::mann_kendall_batch;

/// Weekly rates k/80 (ties, like real rates) with a trend in a third of the series.
fn series(count: usize, weeks: usize) -> Vec<Vec<f64>> {
    let mut next = tuneloop::testing::xorshift(0x9E37_79B9_7F4A_7C15);
    (0..count)
        .map(|i| {
            let drift = (i % 3) as f64 - 1.0;
            (0..weeks)
                .map(|w| {
                    let base = 8.0 + drift * w as f64 * 0.05 + (next() % 7) as f64;
                    base.max(0.0).round() / 80.0
                })
                .collect()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let data = series(10_000, 104);
    let mut g = c.benchmark_group("trends");
    g.sample_size(10);
    g.bench_function("mann_kendall_sen_10k_x_104", |b| {
        b.iter(|| mann_kendall_batch(&data, 0.05))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
