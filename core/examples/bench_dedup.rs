//! Side-by-side dedup benchmark driver (see bench/dedup_vs_datasketch.sh).
//!
//! Reads a texts file (one text per line), times [`find_duplicates`] with the default config
//! (threshold 0.8, 128 permutations, word 3-grams; median of RUNS runs, file reading not
//! timed), writes the kept indices to KEPT_OUT one a line, and prints
//! `{"docs", "median_ms", "runs", "kept", "exact", "near", "threads"}`.
//!
//! Usage: `cargo run --release --example bench_dedup -- TEXTS KEPT_OUT [RUNS]` (default 3).

use std::io::Write;
use std::time::Instant;
use tuneloop::dataset::dedup::{find_duplicates, DedupConfig, DuplicateKind};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (path, kept_out) = match (args.get(1), args.get(2)) {
        (Some(p), Some(k)) => (p, k),
        _ => return Err("usage: bench_dedup TEXTS KEPT_OUT [RUNS]".into()),
    };
    let runs: usize = args.get(3).map_or(Ok(3), |s| s.parse())?;
    let data = std::fs::read_to_string(path)?;
    let texts: Vec<&str> = data.lines().collect();
    let config = DedupConfig::default();
    let mut times = Vec::new();
    let mut result = Vec::new();
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        result = find_duplicates(&texts, &config);
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    let mut out = std::io::BufWriter::new(std::fs::File::create(kept_out)?);
    let mut kept = 0;
    for (i, d) in result.iter().enumerate() {
        if d.is_none() {
            writeln!(out, "{i}")?;
            kept += 1;
        }
    }
    out.flush()?;
    let count = |k| result.iter().flatten().filter(|d| d.kind == k).count();
    println!(
        "{{\"docs\": {}, \"median_ms\": {:.1}, \"runs\": {}, \"kept\": {}, \"exact\": {}, \"near\": {}, \"threads\": {}}}",
        texts.len(),
        times[times.len() / 2],
        times.len(),
        kept,
        count(DuplicateKind::Exact),
        count(DuplicateKind::Near),
        rayon::current_num_threads()
    );
    Ok(())
}
