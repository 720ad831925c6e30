//! Ingest benchmark driver for `bench/ingest_postgres.py`: loads responses and feedback from
//! JSONL files, stores the responses (untimed), then times storing the feedback into
//! PostgreSQL through `begin_write`/`write`/`commit`, one transaction per batch. The schema
//! (`--schema`, default `tl_bench_rust`) is dropped first, so each run starts empty, and
//! afterwards unless `--keep`. Prints one JSON object: `{rows, seconds, rows_per_s, metrics_ms?}`.
//!
//! ```text
//! cargo run --release -p tuneloop --example bench_ingest_pg -- \
//!     --responses r.jsonl --feedback f.jsonl --url postgres://postgres@127.0.0.1/test \
//!     [--schema tl_bench_rust] [--batch 10000] [--metrics] [--keep]
//! ```

use sqlx::Connection;
use std::time::Instant;
use tuneloop::model::{Bucket, Feedback, MetricsQuery, ResponseRecord};
use tuneloop::store::{FeedbackStore, OpenOptions, PgStore, RecordBatch};

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

async fn store_all(store: &PgStore, batches: &[RecordBatch]) -> Result<u64, BoxError> {
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
    let mut url = None;
    let mut batch = 10_000usize;
    let mut metrics = false;
    let mut keep = false;
    let mut schema = "tl_bench_rust".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--responses" => responses = args.next(),
            "--feedback" => feedback = args.next(),
            "--url" => url = args.next(),
            "--batch" => batch = args.next().ok_or("--batch needs a value")?.parse()?,
            "--metrics" => metrics = true,
            "--keep" => keep = true,
            "--schema" => schema = args.next().ok_or("--schema needs a value")?,
            other => return Err(format!("unknown argument `{other}`").into()),
        }
    }
    let (Some(responses), Some(feedback), Some(url)) = (responses, feedback, url) else {
        return Err(
            "usage: --responses FILE --feedback FILE --url postgres://... [--schema S] [--batch N] [--metrics] [--keep]"
                .into(),
        );
    };
    // The name is spliced into DROP SCHEMA: only a plain identifier.
    if !schema
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        || schema.is_empty()
    {
        return Err(format!("`{schema}` is not a plain lower-case schema name").into());
    }
    let plain_url = url;
    let sep = if plain_url.contains('?') { '&' } else { '?' };
    let url = format!("{plain_url}{sep}schema={schema}");
    let responses: Vec<ResponseRecord> = read_jsonl(&responses)?;
    let feedback: Vec<Feedback> = read_jsonl(&feedback)?;
    {
        let mut conn = sqlx::PgConnection::connect(&plain_url).await?;
        sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .execute(&mut conn)
            .await?;
    }
    let store = PgStore::open(&url, &OpenOptions::default()).await?;

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
        // Statistics and the visibility map, as autovacuum would have them on a live table.
        sqlx::query("VACUUM ANALYZE feedback")
            .execute(store.pool())
            .await?;
        sqlx::query("VACUUM ANALYZE responses")
            .execute(store.pool())
            .await?;
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
    if !keep {
        let mut conn = sqlx::PgConnection::connect(&plain_url).await?;
        sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .execute(&mut conn)
            .await?;
    }
    println!("{out}");
    Ok(())
}
