//! Side-by-side metrics benchmark driver (see bench/metrics_vs_pandas.sh).
//!
//! Generates N feedback items over N/2 responses (5 models, every variant), writes the rows
//! pandas needs to `DIR/feedback.csv` and `DIR/responses.csv`, loads the same data into a
//! `MemoryStore`, times `metrics()` and prints `{"rows", "median_ms", "runs", "positive"}`.
//!
//! Usage: `cargo run --release --example bench_metrics -- DIR [N]`

use std::io::Write;
use std::time::Instant;
use tuneloop::model::{Category, Feedback, FeedbackKind, MetricsQuery, ResponseRecord, Timestamp};
use tuneloop::store::{FeedbackStore, FeedbackStoreExt, MemoryStore, RecordBatch};

const MODELS: [&str; 5] = ["alpha", "beta", "gamma", "delta", "epsilon"];
const CATS: [&str; 4] = ["hallucination", "incomplete", "tone", "code_error"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().ok_or("usage: bench_metrics DIR [N]")?);
    let n: usize = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    std::fs::create_dir_all(&dir)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(&dir, n))
}

async fn run(dir: &std::path::Path, n: usize) -> Result<(), Box<dyn std::error::Error>> {
    let mut next = tuneloop::testing::xorshift(0x2545_F491_4F6C_DD1D);
    let start: Timestamp = tuneloop::model::parse_timestamp("2026-06-01T00:00:00Z")?;
    let n_resp = (n / 2).max(1);
    let store = MemoryStore::new();
    let mut resp_csv = std::io::BufWriter::new(std::fs::File::create(dir.join("responses.csv"))?);
    let mut fb_csv = std::io::BufWriter::new(std::fs::File::create(dir.join("feedback.csv"))?);
    writeln!(resp_csv, "model_id")?;
    writeln!(fb_csv, "model_id,polarity,rating,category")?;
    let mut batch = RecordBatch::default();
    let mut models = Vec::with_capacity(n_resp);
    for i in 0..n_resp {
        let model = MODELS[(next() % 5) as usize];
        models.push(model);
        let at = start + chrono::Duration::seconds((next() % (90 * 86_400)) as i64);
        batch
            .responses
            .push(ResponseRecord::new(format!("r{i}"), model, "q", "a", at));
        writeln!(resp_csv, "{model}")?;
    }
    for j in 0..n {
        let ri = j % n_resp;
        let at = batch.responses[ri].created_at;
        let kind = match next() % 3 {
            0 => FeedbackKind::Thumbs {
                up: next() % 3 != 0,
            },
            1 => FeedbackKind::Stars {
                rating: (next() % 5 + 1) as u8,
            },
            _ => FeedbackKind::Full {
                rating: (next() % 5 + 1) as u8,
                categories: if next() % 2 == 0 {
                    vec![Category::new(CATS[(next() % 4) as usize])?]
                } else {
                    vec![]
                },
                correction: None,
            },
        };
        let f = Feedback::new(format!("f{j}"), format!("r{ri}"), kind, at);
        let rating = f.rating().map(|r| r.to_string()).unwrap_or_default();
        let cat = f.categories().first().map(|c| c.as_str()).unwrap_or("");
        writeln!(
            fb_csv,
            "{},{},{},{}",
            models[ri],
            f.polarity().code(),
            rating,
            cat
        )?;
        batch.feedback.push(f);
    }
    resp_csv.flush()?;
    fb_csv.flush()?;
    store.record(&batch).await?;
    drop(batch);

    let q = MetricsQuery::default();
    let mut times = Vec::new();
    let mut positive = 0;
    for _ in 0..21 {
        let t = Instant::now();
        let report = store.metrics(&q).await?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
        positive = report
            .models
            .iter()
            .map(|m| m.figures.positive)
            .sum::<u64>();
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{}",
        serde_json::json!({"rows": n, "median_ms": times[times.len() / 2], "runs": times.len(), "positive": positive})
    );
    Ok(())
}
