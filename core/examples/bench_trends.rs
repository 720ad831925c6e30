//! Side-by-side trend benchmark driver (see bench/trends_vs_pymannkendall.sh).
//!
//! Generates COUNT weekly-rate series of WEEKS values (rates k/80, so with ties; a third
//! rising, a third falling), writes them to `DIR/series.txt` (one series a line,
//! space-separated, full precision), times Mann-Kendall + Sen's slope over all of them
//! (rayon, every core) and prints `{"series", "weeks", "median_ms", "runs", "rising",
//! "falling", "checksum"}`; pymannkendall reads the same file.
//!
//! Usage: `cargo run --release --example bench_trends -- DIR [COUNT] [WEEKS]`

use std::io::Write;
use std::time::Instant;
use tuneloop::analysis::trend::mann_kendall_batch;
use tuneloop::model::TrendDirection;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(
        args.next()
            .ok_or("usage: bench_trends DIR [COUNT] [WEEKS]")?,
    );
    let count: usize = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(10_000);
    let weeks: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(104);
    std::fs::create_dir_all(&dir)?;
    let mut next = tuneloop::testing::xorshift(0x9E37_79B9_7F4A_7C15);
    let data: Vec<Vec<f64>> = (0..count)
        .map(|i| {
            let drift = (i % 3) as f64 - 1.0;
            (0..weeks)
                .map(|w| {
                    let base = 8.0 + drift * w as f64 * 0.05 + (next() % 7) as f64;
                    base.max(0.0).round() / 80.0
                })
                .collect()
        })
        .collect();
    let mut out = std::io::BufWriter::new(std::fs::File::create(dir.join("series.txt"))?);
    for s in &data {
        let line: Vec<String> = s.iter().map(|x| format!("{x:?}")).collect();
        writeln!(out, "{}", line.join(" "))?;
    }
    out.flush()?;
    let runs = 7;
    let mut times = Vec::with_capacity(runs);
    let mut results = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        results = mann_kendall_batch(&data, 0.05);
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let rising = results
        .iter()
        .filter(|r| r.direction == TrendDirection::Rising)
        .count();
    let falling = results
        .iter()
        .filter(|r| r.direction == TrendDirection::Falling)
        .count();
    // Sum of p-values and slopes: the peer's must agree on its subset's share.
    let checksum: f64 = results.iter().map(|r| r.p_value + r.slope).sum();
    println!(
        "{}",
        serde_json::json!({
            "series": count,
            "weeks": weeks,
            "median_ms": times[runs / 2],
            "runs": runs,
            "rising": rising,
            "falling": falling,
            "checksum": checksum,
        })
    );
    Ok(())
}
