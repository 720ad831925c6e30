//! Metrics over 1,000,000 feedback records: in memory (target ≤ 20 ms on 2 cores), in a
//! SQLite file and, when `TUNELOOP_TEST_POSTGRES_URL` is set, in PostgreSQL (the daily
//! aggregates: target ≤ 10 ms). Set `TUNELOOP_BENCH_SQL=0` to skip the SQL stores (loading
//! them takes a while). The side-by-side comparison with pandas is
//! bench/metrics_vs_pandas.sh.

use criterion::{criterion_group, criterion_main, Criterion};
use tuneloop::model::{
    parse_timestamp, Bucket, Feedback, FeedbackKind, MetricsQuery, ResponseRecord,
};
use tuneloop::store::{
    FeedbackStore, FeedbackStoreExt, MemoryStore, OpenOptions, RecordBatch, SqliteStore,
};

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
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let world = world(1_000_000);
    let store = MemoryStore::new();
    rt.block_on(store.record(&world)).expect("loads");
    queries(c, &rt, "metrics_memory_1m", &store);
    if std::env::var("TUNELOOP_BENCH_SQL").is_ok_and(|v| v == "0") {
        return;
    }
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench_metrics");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let url = format!("sqlite://{}", dir.join("metrics.db").display());
    let sqlite = rt
        .block_on(SqliteStore::open(&url, &OpenOptions::default()))
        .expect("opens");
    rt.block_on(load(&sqlite, &world));
    queries(c, &rt, "metrics_sqlite_1m", &sqlite);
    rt.block_on(sqlite.close());
    let pg = rt.block_on(tuneloop::testing::postgres::fresh_pg());
    if let Some((pg, _guard)) = pg {
        rt.block_on(load(&pg, &world));
        // As autovacuum leaves a table after a load (visibility map set, statistics taken),
        // so index-only scans need no heap visits.
        for table in ["feedback", "responses"] {
            rt.block_on(sqlx::query(&format!("VACUUM ANALYZE {table}")).execute(pg.pool()))
                .expect("vacuum");
        }
        queries(c, &rt, "metrics_postgres_1m", &pg);
        rt.block_on(pg.close());
    }
}

/// Records the world in batches of 10,000 feedback items (with their responses first).
async fn load(store: &dyn FeedbackStore, world: &RecordBatch) {
    store
        .record(&RecordBatch {
            responses: world.responses.clone(),
            feedback: Vec::new(),
        })
        .await
        .expect("loads responses");
    for chunk in world.feedback.chunks(10_000) {
        store
            .record(&RecordBatch {
                responses: Vec::new(),
                feedback: chunk.to_vec(),
            })
            .await
            .expect("loads feedback");
    }
}

fn queries(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    group: &str,
    store: &dyn FeedbackStore,
) {
    let mut g = c.benchmark_group(group);
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
    // Bounds inside days: the partial first and last days come from the raw rows.
    let partial = MetricsQuery {
        since: parse_timestamp("2026-06-10T12:00:00Z").ok(),
        until: parse_timestamp("2026-08-20T06:00:00Z").ok(),
        ..Default::default()
    };
    g.bench_function("partial_days", |b| {
        b.iter(|| rt.block_on(store.metrics(&partial)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
