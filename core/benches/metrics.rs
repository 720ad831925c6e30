//! Metrics over 1,000,000 in-memory feedback records (target ≤ 20 ms on 2 cores).
//! The side-by-side comparison with pandas is bench/metrics_vs_pandas.sh.

use criterion::{criterion_group, criterion_main, Criterion};
use tuneloop::model::{
    parse_timestamp, Bucket, Feedback, FeedbackKind, MetricsQuery, ResponseRecord,
};
use tuneloop::store::{FeedbackStore, FeedbackStoreExt, MemoryStore, RecordBatch};

fn world(n: usize) -> RecordBatch {
    let mut next = tuneloop::testing::xorshift(0x2545_F491_4F6C_DD1D);
    let start = parse_timestamp("2026-06-01T00:00:00Z").unwrap_or_default();
    let models = ["alpha", "beta", "gamma", "delta", "epsilon"];
    let n_resp = n / 2;
    let mut b = RecordBatch::default();
    for i in 0..n_resp {
        let at = start + chrono::Duration::seconds((next() % (90 * 86_400)) as i64);
        b.responses.push(ResponseRecord::new(
            format!("r{i}"),
            models[(next() % 5) as usize],
            "q",
            "a",
            at,
        ));
    }
    for j in 0..n {
        let ri = j % n_resp;
        let kind = if next() % 2 == 0 {
            FeedbackKind::Thumbs {
                up: next() % 3 != 0,
            }
        } else {
            FeedbackKind::Stars {
                rating: (next() % 5 + 1) as u8,
            }
        };
        b.feedback.push(Feedback::new(
            format!("f{j}"),
            format!("r{ri}"),
            kind,
            b.responses[ri].created_at,
        ));
    }
    b
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let store = MemoryStore::new();
    rt.block_on(store.record(&world(1_000_000))).expect("loads");
    let mut g = c.benchmark_group("metrics_memory_1m");
    g.sample_size(20);
    g.bench_function("all_models", |b| {
        b.iter(|| rt.block_on(store.metrics(&MetricsQuery::default())))
    });
    let weekly = MetricsQuery {
        bucket: Some(Bucket::Week),
        ..Default::default()
    };
    g.bench_function("weekly_buckets", |b| {
        b.iter(|| rt.block_on(store.metrics(&weekly)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
