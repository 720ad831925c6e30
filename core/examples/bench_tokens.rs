//! Side-by-side token-counting benchmark driver (see bench/tokens_vs_tiktoken.sh).
//!
//! Writes every text of a WEEKS-week demo world (queries, responses, corrections, comments)
//! to `DIR/corpus.jsonl` (one JSON string a line), counts their o200k_base tokens on one
//! thread, and times a whole `openai-chat` dataset build for one model of that world.
//! Writes each text's count to `DIR/counts-tuneloop.txt` (one a line, from the untimed
//! warm-up pass) so the script can compare them with Python tiktoken's text by text.
//! Also times tiktoken-rs (tiktoken's Rust core, ported) on the same texts.
//! Prints `{"texts", "bytes", "tokens", "median_ms", "tiktoken_rs_median_ms", "runs",
//! "build_median_ms", "build_examples"}`; the Python peer reads the same file.
//!
//! Usage: `cargo run --release --example bench_tokens -- DIR [WEEKS]`

use std::io::Write;
use std::time::Instant;
use tuneloop::dataset::tokens::count_text;
use tuneloop::dataset::{build, DatasetConfig, TokenEncoding};
use tuneloop::demo::{generate, DemoOptions};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().ok_or("usage: bench_tokens DIR [WEEKS]")?);
    let weeks: u32 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(52);
    std::fs::create_dir_all(&dir)?;
    let world = generate(&DemoOptions {
        weeks,
        ..Default::default()
    });
    let b = &world.batch;
    let mut texts: Vec<&str> = Vec::new();
    for r in &b.responses {
        texts.push(&r.query);
        texts.push(&r.response);
        texts.extend(r.conversation.iter().map(|m| m.content.as_str()));
    }
    for f in &b.feedback {
        texts.extend(f.comment.as_deref());
        texts.extend(f.correction());
    }
    let mut out = std::io::BufWriter::new(std::fs::File::create(dir.join("corpus.jsonl"))?);
    for t in &texts {
        writeln!(out, "{}", serde_json::to_string(t)?)?;
    }
    out.flush()?;
    let bytes: usize = texts.iter().map(|t| t.len()).sum();
    // Warm-up builds the BPE once, as the peer does before timing.
    let counts: Vec<u64> = texts
        .iter()
        .map(|t| count_text(TokenEncoding::O200kBase, t))
        .collect();
    let mut out = std::io::BufWriter::new(std::fs::File::create(dir.join("counts-tuneloop.txt"))?);
    for c in &counts {
        writeln!(out, "{c}")?;
    }
    out.flush()?;
    let mut tokens = counts.iter().sum::<u64>();
    let runs = 5;
    let mut times = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        tokens = texts
            .iter()
            .map(|t| count_text(TokenEncoding::O200kBase, t))
            .sum::<u64>();
        times.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    // tiktoken's own Rust core (the tiktoken-rs port, what tuneloop used before), same texts.
    let reference = tiktoken_rs::o200k_base_singleton();
    let mut reference_tokens = 0;
    let mut reference_times = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        reference_tokens = texts
            .iter()
            .map(|t| reference.encode_ordinary(t).len() as u64)
            .sum::<u64>();
        reference_times.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    if reference_tokens != tokens {
        return Err(
            format!("tiktoken-rs counts {reference_tokens} tokens, tuneloop {tokens}").into(),
        );
    }
    let config = DatasetConfig::default();
    let mut build_times = Vec::new();
    let mut examples = 0;
    for _ in 0..3 {
        let start = Instant::now();
        let ds = build(&b.responses, &b.feedback, "support-bot-v2", &config)?;
        build_times.push(start.elapsed().as_secs_f64() * 1000.0);
        examples = ds.manifest().counts.train + ds.manifest().counts.validation;
    }
    println!(
        "{}",
        serde_json::json!({
            "texts": texts.len(),
            "bytes": bytes,
            "tokens": tokens,
            "median_ms": median(times),
            "tiktoken_rs_median_ms": median(reference_times),
            "runs": runs,
            "build_median_ms": median(build_times),
            "build_responses": b.responses.iter().filter(|r| r.model_id == "support-bot-v2").count(),
            "build_examples": examples,
        })
    );
    Ok(())
}
