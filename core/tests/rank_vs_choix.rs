//! The Bradley–Terry ranking checked against the `choix` Python package on the same
//! generated comparisons: 8 models, 5,000 comparisons (10 % ties), three seeds.
//!
//! - Penalised fit (α = tuneloop's default) against `choix.opt_pairwise` with the same
//!   objective: choix takes whole wins only, so it gets every decisive comparison twice and
//!   a tie as one win each way, with α doubled (the objective doubles, the optimum is the
//!   same).
//! - Plain maximum likelihood (α = 0) against `choix.ilsr_pairwise` (α = 0).
//!
//! Asserts Kendall's τ and Spearman's ρ ≥ 0.99 and every mean-zero score within 1e-6.
//! Skips (saying why) when TUNELOOP_TEST_CHOIX_PYTHON (a python with choix) is not set;
//! scripts/test.sh sets it.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use tuneloop::analysis::bradley_terry::{
    rank_models, FitOptions, ModelPair, DEFAULT_REGULARIZATION,
};
use tuneloop::model::Winner;

const MODELS: usize = 8;
const COMPARISONS: usize = 5_000;
const TIE_SHARE: f64 = 0.1;

const SCRIPT: &str = r#"
import json, sys
import choix
d = json.load(open(sys.argv[1]))
n, data = d["n"], [tuple(p) for p in d["data"]]
opt = choix.opt_pairwise(n, data, alpha=d["alpha"], method="Newton-CG", tol=1e-12)
ilsr = choix.ilsr_pairwise(n, data, alpha=0.0, max_iter=10000, tol=1e-13)
print(json.dumps({"opt": list(opt - opt.mean()), "ilsr": list(ilsr - ilsr.mean())}))
"#;

struct Generated {
    names: Vec<String>,
    pairs: Vec<(usize, usize, Winner)>,
}

fn generate(seed: u64) -> Generated {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let truth: Vec<f64> = (0..MODELS).map(|_| rng.random_range(-1.5..1.5)).collect();
    let names = (0..MODELS).map(|i| format!("model-{i}")).collect();
    let mut pairs = Vec::with_capacity(COMPARISONS);
    while pairs.len() < COMPARISONS {
        let a = rng.random_range(0..MODELS);
        let b = rng.random_range(0..MODELS);
        if a == b {
            continue;
        }
        let winner = if rng.random_bool(TIE_SHARE) {
            Winner::Tie
        } else {
            let p = 1.0 / (1.0 + (truth[b] - truth[a]).exp());
            if rng.random_bool(p) {
                Winner::A
            } else {
                Winner::B
            }
        };
        pairs.push((a, b, winner));
    }
    Generated { names, pairs }
}

/// Scores by model index, from tuneloop.
fn tuneloop_scores(g: &Generated, alpha: f64) -> Vec<f64> {
    let pairs = g.pairs.iter().map(|&(a, b, w)| ModelPair {
        model_a: &g.names[a],
        model_b: &g.names[b],
        winner: w,
    });
    let opts = FitOptions {
        regularization: alpha,
        ..FitOptions::default()
    };
    let ranking = rank_models(pairs, &opts).expect("fits");
    let by_name: BTreeMap<&str, f64> = ranking
        .models
        .iter()
        .map(|m| (m.model.as_str(), m.score))
        .collect();
    g.names.iter().map(|n| by_name[n.as_str()]).collect()
}

/// (opt_pairwise, ilsr_pairwise) scores by model index, from choix.
fn choix_scores(python: &str, g: &Generated, alpha: f64) -> (Vec<f64>, Vec<f64>) {
    let mut data: Vec<[usize; 2]> = Vec::with_capacity(2 * g.pairs.len());
    for &(a, b, w) in &g.pairs {
        match w {
            Winner::A => data.extend([[a, b], [a, b]]),
            Winner::B => data.extend([[b, a], [b, a]]),
            Winner::Tie => data.extend([[a, b], [b, a]]),
        }
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("pairs.json");
    let body = serde_json::json!({"n": MODELS, "data": data, "alpha": 2.0 * alpha});
    std::fs::write(&input, body.to_string()).expect("writes");
    let out = std::process::Command::new(python)
        .arg("-c")
        .arg(SCRIPT)
        .arg(&input)
        .output()
        .expect("runs python");
    assert!(
        out.status.success(),
        "choix failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON from choix");
    let list = |k: &str| -> Vec<f64> {
        v[k].as_array()
            .expect("array")
            .iter()
            .map(|x| x.as_f64().expect("number"))
            .collect()
    };
    (list("opt"), list("ilsr"))
}

fn ranks(x: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&i, &j| x[i].total_cmp(&x[j]));
    let mut r = vec![0.0; x.len()];
    for (pos, &i) in idx.iter().enumerate() {
        r[i] = pos as f64;
    }
    r
}

fn spearman(x: &[f64], y: &[f64]) -> f64 {
    let (rx, ry) = (ranks(x), ranks(y));
    let n = x.len() as f64;
    let d2: f64 = rx.iter().zip(&ry).map(|(a, b)| (a - b).powi(2)).sum();
    1.0 - 6.0 * d2 / (n * (n * n - 1.0))
}

fn kendall(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len();
    let (mut concordant, mut discordant) = (0.0, 0.0);
    for i in 0..n {
        for j in (i + 1)..n {
            let s = (x[i] - x[j]).signum() * (y[i] - y[j]).signum();
            if s > 0.0 {
                concordant += 1.0;
            } else if s < 0.0 {
                discordant += 1.0;
            }
        }
    }
    (concordant - discordant) / (n * (n - 1) / 2) as f64
}

fn max_diff(x: &[f64], y: &[f64]) -> f64 {
    x.iter()
        .zip(y)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
}

#[test]
fn ranking_matches_choix() {
    let Ok(python) = std::env::var("TUNELOOP_TEST_CHOIX_PYTHON") else {
        eprintln!("skipped: TUNELOOP_TEST_CHOIX_PYTHON (a python with choix) is not set");
        return;
    };
    for seed in [1u64, 2, 3] {
        let g = generate(seed);
        let alpha = DEFAULT_REGULARIZATION;
        let ours = tuneloop_scores(&g, alpha);
        let ours_mle = tuneloop_scores(&g, 0.0);
        let (opt, ilsr) = choix_scores(&python, &g, alpha);
        for (what, a, b) in [
            ("opt_pairwise", &ours, &opt),
            ("ilsr_pairwise", &ours_mle, &ilsr),
        ] {
            let (tau, rho, diff) = (kendall(a, b), spearman(a, b), max_diff(a, b));
            eprintln!(
                "seed {seed} vs choix.{what}: kendall {tau:.4}, spearman {rho:.4}, max score difference {diff:.3e}"
            );
            assert!(
                tau >= 0.99 && rho >= 0.99,
                "seed {seed} {what}: {a:?} vs {b:?}"
            );
            assert!(diff <= 1e-6, "seed {seed} {what}: {diff:e}: {a:?} vs {b:?}");
        }
    }
}
