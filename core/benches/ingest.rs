//! SQLite ingest and metrics benchmarks.
//!
//! - `sqlite_ingest`: 100,000 feedback rows (~600 bytes, realistic comments) on pre-stored
//!   responses, into a fresh file-backed WAL database, 10,000 rows per transaction through
//!   `begin_write`/`write`/`commit`. Throughput is in rows.
//! - `sqlite_metrics`: `metrics()` over 1,000,000 feedback rows, without and with weekly
//!   buckets.
//!
//! `bench/ingest_sqlite.py` compares the ingest with Python's sqlite3 on the same data.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::path::Path;
use std::time::{Duration, Instant};
use tuneloop::model::{
    parse_timestamp, Bucket, Category, Feedback, FeedbackKind, MetricsQuery, ResponseRecord,
};
use tuneloop::store::{FeedbackStore, OpenOptions, RecordBatch, SqliteStore};

const SENTENCES: &[&str] = &[
    "The answer quoted a refund window of 90 days, but our policy page clearly says 30 days.",
    "It ignored the part of my question about international shipping entirely.",
    "Helpful overall, though the steps for resetting the password were in the wrong order.",
    "The code sample does not compile: the function signature is missing a lifetime.",
    "It apologised three times and still did not tell me how to cancel the subscription.",
    "Great explanation of the invoice fields, exactly what our accounting team needed.",
    "The tone was a bit condescending when I asked a follow-up about pricing tiers.",
    "It cited a product feature that does not exist in the current release.",
];
const CATEGORIES: &[&str] = &["factual_error", "hallucination", "incomplete", "tone"];
const MODELS: &[&str] = &["support-bot-v1", "support-bot-v2", "support-bot-v3"];
const BATCH: usize = 10_000;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn data(n_feedback: usize) -> (Vec<RecordBatch>, Vec<RecordBatch>) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let start = parse_timestamp("2026-06-01T00:00:00Z").unwrap();
    let n_resp = (n_feedback / 4).max(1);
    // Time order, as a product logs them (like bench/ingest_sqlite.py's default).
    let mut times: Vec<i64> = (0..n_resp)
        .map(|_| rng.below(120 * 86_400) as i64)
        .collect();
    times.sort_unstable();
    let responses: Vec<ResponseRecord> = times
        .iter()
        .enumerate()
        .map(|(i, &secs)| {
            let at = start + chrono::Duration::seconds(secs);
            ResponseRecord::new(
                format!("resp-{i:08}"),
                MODELS[rng.below(MODELS.len() as u64) as usize],
                format!("How do I {}", SENTENCES[i % SENTENCES.len()].to_lowercase()),
                SENTENCES[(i + 3) % SENTENCES.len()],
                at,
            )
        })
        .collect();
    let feedback: Vec<Feedback> = (0..n_feedback)
        .map(|i| {
            let r = rng.below(n_resp as u64) as usize;
            let at =
                responses[r].created_at + chrono::Duration::seconds(rng.below(7 * 86_400) as i64);
            let kind = match rng.below(10) {
                0..=3 => FeedbackKind::Thumbs {
                    up: rng.below(10) < 6,
                },
                4..=6 => FeedbackKind::Stars {
                    rating: (rng.below(5) + 1) as u8,
                },
                _ => FeedbackKind::Full {
                    rating: (rng.below(5) + 1) as u8,
                    categories: (rng.below(2) == 0)
                        .then(|| {
                            Category::new(CATEGORIES[rng.below(CATEGORIES.len() as u64) as usize])
                                .unwrap()
                        })
                        .into_iter()
                        .collect(),
                    correction: (rng.below(3) == 0)
                        .then(|| "The refund window is 30 days from delivery.".to_string()),
                },
            };
            let mut f = Feedback::new(
                format!("fb-{i:09}-{:016x}", rng.next()),
                responses[r].id.clone(),
                kind,
                at,
            );
            let mut comment = String::new();
            while comment.len() < 380 {
                comment.push_str(SENTENCES[rng.below(SENTENCES.len() as u64) as usize]);
                comment.push(' ');
            }
            f.comment = Some(comment.trim_end().to_string());
            f.user_id = Some(format!("user-{:06}", rng.below(50_000)));
            f
        })
        .collect();
    let rb = responses
        .chunks(BATCH)
        .map(|c| RecordBatch {
            responses: c.to_vec(),
            feedback: vec![],
        })
        .collect();
    let fb = feedback
        .chunks(BATCH)
        .map(|c| RecordBatch {
            responses: vec![],
            feedback: c.to_vec(),
        })
        .collect();
    (rb, fb)
}

async fn open_fresh(path: &Path) -> SqliteStore {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    SqliteStore::open(
        &format!("sqlite://{}", path.display()),
        &OpenOptions::default(),
    )
    .await
    .unwrap()
}

async fn store_all(store: &SqliteStore, batches: &[RecordBatch]) {
    for b in batches {
        let mut tx = store.begin_write().await.unwrap();
        tx.write(b).await.unwrap();
        tx.commit().await.unwrap();
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn ingest(c: &mut Criterion) {
    const ROWS: usize = 100_000;
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ingest.db");
    let (responses, feedback) = data(ROWS);
    let mut group = c.benchmark_group("sqlite_ingest");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(ROWS as u64));
    group.bench_function(BenchmarkId::new("feedback_10k_per_tx", ROWS), |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let (path, responses, feedback) = (&path, &responses, &feedback);
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let store = open_fresh(path).await;
                    store_all(&store, responses).await;
                    let t = Instant::now();
                    store_all(&store, feedback).await;
                    total += t.elapsed();
                    store.close().await;
                }
                total
            }
        })
    });
    group.finish();
}

fn metrics(c: &mut Criterion) {
    const ROWS: usize = 1_000_000;
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.db");
    let store = rt.block_on(async {
        let (responses, feedback) = data(ROWS);
        let store = open_fresh(&path).await;
        store_all(&store, &responses).await;
        store_all(&store, &feedback).await;
        store
    });
    let mut group = c.benchmark_group("sqlite_metrics");
    group.sample_size(10);
    for (name, bucket) in [("total", None), ("weekly", Some(Bucket::Week))] {
        let q = MetricsQuery {
            bucket,
            ..Default::default()
        };
        group.bench_function(BenchmarkId::new(name, ROWS), |b| {
            b.to_async(&rt).iter(|| async {
                let report = store.metrics(&q).await.unwrap();
                assert_eq!(
                    report
                        .models
                        .iter()
                        .map(|m| m.figures.feedback)
                        .sum::<u64>(),
                    ROWS as u64
                );
                report
            })
        });
    }
    group.finish();
    rt.block_on(store.close());
}

criterion_group!(benches, ingest, metrics);
criterion_main!(benches);
