//! Side-by-side ranking benchmark driver (see bench/rank_vs_choix.sh).
//!
//! Reads a pairs file (one comparison a line: `A B W`, model indices and `a`, `b` or `tie`),
//! times the Bradley–Terry fit of [`rank_models`] (α = `ALPHA`, median of RUNS runs, file
//! reading not timed) and prints `{"pairs", "models", "median_ms", "runs", "iterations",
//! "scores"}` with the scores by model index.
//!
//! Usage: `cargo run --release --example bench_rank -- PAIRS ALPHA [RUNS]` (default 5).

use std::time::Instant;
use tuneloop::analysis::bradley_terry::{rank_models, FitOptions, ModelPair};
use tuneloop::model::Winner;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (path, alpha) = match (args.get(1), args.get(2)) {
        (Some(p), Some(a)) => (p, a.parse::<f64>()?),
        _ => return Err("usage: bench_rank PAIRS ALPHA [RUNS]".into()),
    };
    let runs: usize = args.get(3).map_or(Ok(5), |s| s.parse())?;
    let text = std::fs::read_to_string(path)?;
    let mut pairs: Vec<(String, String, Winner)> = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [a, b, w] = f.as_slice() else {
            return Err(format!("bad line: {line}").into());
        };
        let w = Winner::parse(w).ok_or_else(|| format!("bad winner: {line}"))?;
        pairs.push((format!("{a:>06}"), format!("{b:>06}"), w));
    }
    let opts = FitOptions {
        regularization: alpha,
        ..FitOptions::default()
    };
    let mut times = Vec::new();
    let mut ranking = None;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let r = rank_models(
            pairs.iter().map(|(a, b, w)| ModelPair {
                model_a: a,
                model_b: b,
                winner: *w,
            }),
            &opts,
        )?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
        ranking = Some(r);
    }
    times.sort_by(f64::total_cmp);
    let ranking = ranking.ok_or("no run")?;
    // Model names are zero-padded indices, so sorting by name gives index order.
    let mut by_name: Vec<(&str, f64)> = ranking
        .models
        .iter()
        .map(|m| (m.model.as_str(), m.score))
        .collect();
    by_name.sort_by(|x, y| x.0.cmp(y.0));
    let scores: Vec<f64> = by_name.iter().map(|(_, s)| *s).collect();
    println!(
        "{}",
        serde_json::json!({
            "pairs": pairs.len(),
            "models": scores.len(),
            "median_ms": times[times.len() / 2],
            "runs": times.len(),
            "iterations": ranking.iterations,
            "scores": scores,
        })
    );
    Ok(())
}
