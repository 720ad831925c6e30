//! Side-by-side redaction benchmark driver (see bench/redact_vs_python_re.sh).
//!
//! Reads a corpus (one chat message per line), redacts every line with the default
//! [`Redactor`] on one thread (median of RUNS passes; file reading not timed) and prints
//! `{"bytes", "out_bytes", "out_xxh3", "median_s", "mb_per_s", "counts"}`. `out_xxh3` is a
//! hash of the redacted text, so that two builds can be shown to redact identically; with
//! OUT the redacted text is also written there (for a diff).
//!
//! Usage: `cargo run --release --example bench_redact -- CORPUS [RUNS] [OUT]` (default 3).

use std::time::Instant;
use tuneloop::dataset::redact::{RedactionConfig, RedactionCounts, Redactor};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .get(1)
        .ok_or("usage: bench_redact CORPUS [RUNS] [OUT]")?;
    let runs: usize = args.get(2).map_or(Ok(3), |s| s.parse())?;
    let data = std::fs::read_to_string(path)?;
    let redactor = Redactor::new(&RedactionConfig::default())?;
    let mut times = Vec::new();
    let mut counts = RedactionCounts::default();
    let mut out_bytes = 0usize;
    for _ in 0..runs.max(1) {
        counts = RedactionCounts::default();
        out_bytes = 0;
        let t = Instant::now();
        for line in data.split('\n') {
            out_bytes += redactor.redact(line, &mut counts).len();
        }
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    // Outside the timed passes: the redacted text itself, hashed and optionally written.
    let mut redacted = String::with_capacity(data.len());
    let mut scratch = RedactionCounts::default();
    for (i, line) in data.split('\n').enumerate() {
        if i > 0 {
            redacted.push('\n');
        }
        redacted.push_str(&redactor.redact(line, &mut scratch));
    }
    if let Some(out) = args.get(3) {
        std::fs::write(out, &redacted)?;
    }
    println!(
        "{{\"bytes\": {}, \"out_bytes\": {}, \"out_xxh3\": \"{:016x}\", \"median_s\": {:.4}, \"mb_per_s\": {:.1}, \"counts\": {}}}",
        data.len(),
        out_bytes,
        xxhash_rust::xxh3::xxh3_64(redacted.as_bytes()),
        median,
        data.len() as f64 / 1e6 / median,
        serde_json::to_string(&counts)?
    );
    Ok(())
}
