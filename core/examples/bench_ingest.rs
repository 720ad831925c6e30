//! Ingest benchmark driver for `bench/ingest_sqlite.py`: loads responses and feedback from
//! JSONL files, stores the responses (untimed), then times storing the feedback into a
//! file-backed WAL SQLite database through `begin_write`/`write`/`commit`, one transaction
//! per batch. Prints one JSON object: `{rows, seconds, rows_per_s, metrics_ms?}`.
//!
//! ```text
//! cargo run --release -p tuneloop --example bench_ingest -- \
//!     --responses r.jsonl --feedback f.jsonl --db /tmp/bench.db [--batch 10000] [--metrics]
//! ```

use std::time::Instant;
use tuneloop::model::{Bucket, Feedback, MetricsQuery, ResponseRecord};
use tuneloop::store::{FeedbackStore, OpenOptions, RecordBatch, SqliteStore};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn read_jsonl<T: serde::de::DeserializeOwned>(path: &str) -> Result<Vec<T>, BoxError> {
    let text = std::fs::read_to_string(path)?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        out.push(serde_json::from_str(line).map_err(|e| format!("{path}:{}: {e}", i + 1))?);
    }
    Ok(out)
}

async fn store_all(store: &SqliteStore, batches: &[RecordBatch]) -> Result<u64, BoxError> {
    let mut inserted = 0;
    for b in batches {
        let mut tx = store.begin_write().await?;
        tx.write(b).await?;
        let s = tx.commit().await?;
        inserted += s.responses_inserted + s.feedback_inserted;
    }
    Ok(inserted)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), BoxError> {
    let mut responses = None;
    let mut feedback = None;
    let mut db = None;
    let mut batch = 10_000usize;
    let mut metrics = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--responses" => responses = args.next(),
            "--feedback" => feedback = args.next(),
            "--db" => db = args.next(),
            "--batch" => batch = args.next().ok_or("--batch needs a value")?.parse()?,
            "--metrics" => metrics = true,
            other => return Err(format!("unknown argument `{other}`").into()),
        }
    }
    let (Some(responses), Some(feedback), Some(db)) = (responses, feedback, db) else {
        return Err(
            "usage: --responses FILE --feedback FILE --db PATH [--batch N] [--metrics]".into(),
        );
    };
    let responses: Vec<ResponseRecord> = read_jsonl(&responses)?;
    let feedback: Vec<Feedback> = read_jsonl(&feedback)?;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{db}{suffix}"));
    }
    let store = SqliteStore::open(&format!("sqlite://{db}"), &OpenOptions::default()).await?;

    let response_batches: Vec<RecordBatch> = responses
        .chunks(batch)
        .map(|c| RecordBatch {
            responses: c.to_vec(),
            feedback: Vec::new(),
        })
        .collect();
    store_all(&store, &response_batches).await?;

    // Batches are built before the clock starts so only the store's work is timed.
    let feedback_batches: Vec<RecordBatch> = feedback
        .chunks(batch)
        .map(|c| RecordBatch {
            responses: Vec::new(),
            feedback: c.to_vec(),
        })
        .collect();
    let start = Instant::now();
    let rows = store_all(&store, &feedback_batches).await?;
    let seconds = start.elapsed().as_secs_f64();
    if rows as usize != feedback.len() {
        return Err(format!("stored {rows} of {} feedback rows", feedback.len()).into());
    }

    let mut out = serde_json::json!({
        "rows": rows,
        "seconds": seconds,
        "rows_per_s": rows as f64 / seconds,
    });
    if metrics {
        let mut times = Vec::new();
        for i in 0..5 {
            let q = MetricsQuery {
                bucket: (i % 2 == 1).then_some(Bucket::Week),
                ..Default::default()
            };
            let t = Instant::now();
            let report = store.metrics(&q).await?;
            times.push(t.elapsed().as_secs_f64() * 1e3);
            let total: u64 = report.models.iter().map(|m| m.figures.feedback).sum();
            if total != rows {
                return Err(format!("metrics counted {total} feedback, stored {rows}").into());
            }
        }
        times.sort_by(f64::total_cmp);
        out["metrics_ms"] = serde_json::json!(times[times.len() / 2]);
    }
    store.close().await;
    println!("{out}");
    Ok(())
}
