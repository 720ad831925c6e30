//! The Bradley–Terry model of pairwise comparisons, fit by penalised maximum likelihood.
//!
//! Each model i has a log-strength θᵢ; the probability that i's answer is preferred to
//! j's is σ(θᵢ − θⱼ) = 1 / (1 + exp(θⱼ − θᵢ)). Given wᵢⱼ, the (possibly fractional) number
//! of times i beat j, the fit minimises
//!
//! ```text
//! f(θ) = −Σᵢⱼ wᵢⱼ log σ(θᵢ − θⱼ) + α Σᵢ θᵢ²
//! ```
//!
//! the objective of `choix.opt_pairwise` (same `alpha`). A tie counts half a win for each
//! side. The penalty keeps the estimate finite for a model that never wins (or never loses)
//! and for groups of models never compared with each other; with α = 0 the plain maximum
//! likelihood estimate is returned, which exists only when the "beats" graph is strongly
//! connected (otherwise [`fit`] refuses, asking for α > 0).
//!
//! Newton's method with a backtracking line search: f is convex (strictly for α > 0),
//! so it converges in a handful of iterations. Scores are centred to mean zero (the
//! penalised optimum already is; with α = 0 the centring fixes the free offset).
//! Intervals: θᵢ ± 1.96 √Cᵢᵢ with C = P H⁻¹ P the covariance of the mean-zero scores, H the
//! Hessian of f at the optimum (the observed information plus 2α I) and P = I − J/n the
//! centring (the likelihood says nothing about a common offset, so its prior variance
//! 1/(2α) is projected out); with α = 0, H's pseudo-inverse, which is the same limit.

use crate::error::{Error, Result};
use crate::model::{ModelRanking, RankedModel, Winner};
use std::collections::BTreeMap;

/// z for a two-sided 95 % interval.
const Z95: f64 = 1.959963984540054;

/// How the fit runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitOptions {
    /// α, the L2 penalty on the log-strengths (see the module docs). Must be ≥ 0 and finite.
    pub regularization: f64,
    /// Newton iterations at most.
    pub max_iterations: u32,
    /// Stop when the largest gradient entry is below this.
    pub tolerance: f64,
}

/// The default penalty: small enough to leave well-observed scores alone (a shift far
/// below their intervals), large enough to keep a model that never wins finite.
pub const DEFAULT_REGULARIZATION: f64 = 0.01;

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            regularization: DEFAULT_REGULARIZATION,
            max_iterations: 200,
            tolerance: 1e-10,
        }
    }
}

/// A fitted model: log-strengths (mean zero), their standard errors, the iterations.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    /// θ, one per item, summing to zero.
    pub scores: Vec<f64>,
    /// Standard error of each mean-zero score (see the module docs).
    pub std_errors: Vec<f64>,
    /// Newton iterations used.
    pub iterations: u32,
}

/// Fits log-strengths for `n` items from `wins[i][j]`, the number of times i beat j (ties
/// as half a win each way). Errors: α negative or not finite, a matrix of the wrong shape,
/// or α = 0 on data whose maximum likelihood estimate does not exist.
pub fn fit(n: usize, wins: &[Vec<f64>], options: &FitOptions) -> Result<Fit> {
    let alpha = options.regularization;
    if !(alpha.is_finite() && alpha >= 0.0) {
        return Err(Error::invalid(
            "regularization",
            format!("{alpha} must be a finite number ≥ 0"),
        ));
    }
    if wins.len() != n || wins.iter().any(|row| row.len() != n) {
        return Err(Error::invalid("wins", "must be an n × n matrix"));
    }
    if n == 0 {
        return Ok(Fit {
            scores: Vec::new(),
            std_errors: Vec::new(),
            iterations: 0,
        });
    }
    if alpha == 0.0 && !strongly_connected(n, wins) {
        return Err(Error::invalid(
            "regularization",
            "with 0 the Bradley–Terry estimate needs every model to have beaten, directly \
             or through others, every other model; these comparisons do not, so use a \
             regularization above 0",
        ));
    }
    let mut theta = vec![0.0; n];
    let mut value = objective(&theta, wins, alpha);
    let mut iterations = 0;
    while iterations < options.max_iterations {
        let (grad, hess) = derivatives(&theta, wins, alpha);
        if grad.iter().all(|g| g.abs() < options.tolerance) {
            break;
        }
        iterations += 1;
        let neg: Vec<f64> = grad.iter().map(|g| -g).collect();
        let step = solve(&regularised(&hess, alpha), &neg)
            .ok_or_else(|| numerical("the Newton system is singular"))?;
        // Backtracking (Armijo) on the convex objective.
        let slope: f64 = grad.iter().zip(&step).map(|(g, s)| g * s).sum();
        let mut t = 1.0;
        loop {
            let cand: Vec<f64> = theta.iter().zip(&step).map(|(x, s)| x + t * s).collect();
            let v = objective(&cand, wins, alpha);
            if v <= value + 1e-4 * t * slope || t < 1e-12 {
                theta = cand;
                value = v;
                break;
            }
            t *= 0.5;
        }
        if step.iter().all(|s| (t * s).abs() < 1e-15) {
            break;
        }
    }
    let mean = theta.iter().sum::<f64>() / n as f64;
    for x in &mut theta {
        *x -= mean;
    }
    let (_, hess) = derivatives(&theta, wins, alpha);
    let cov = covariance(&hess, alpha).ok_or_else(|| numerical("the Hessian is singular"))?;
    // Diagonal of P M P for symmetric M: Mᵢᵢ − 2 mean(row i) + mean(M).
    let nf = n as f64;
    let total = cov.iter().flatten().sum::<f64>() / (nf * nf);
    let std_errors = (0..n)
        .map(|i| {
            let row = cov[i].iter().sum::<f64>() / nf;
            (cov[i][i] - 2.0 * row + total).max(0.0).sqrt()
        })
        .collect();
    Ok(Fit {
        scores: theta,
        std_errors,
        iterations,
    })
}

fn numerical(what: &str) -> Error {
    Error::invalid(
        "comparisons",
        format!("the Bradley–Terry fit failed: {what}"),
    )
}

/// log(1 + e^x) without overflow.
fn softplus(x: f64) -> f64 {
    if x > 30.0 {
        x + (-x).exp()
    } else {
        x.exp().ln_1p()
    }
}

/// σ(x) = 1 / (1 + e^−x), stable for large |x|.
fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

fn objective(theta: &[f64], wins: &[Vec<f64>], alpha: f64) -> f64 {
    let mut v = alpha * theta.iter().map(|x| x * x).sum::<f64>();
    for (i, row) in wins.iter().enumerate() {
        for (j, &w) in row.iter().enumerate() {
            if w > 0.0 {
                v += w * softplus(theta[j] - theta[i]);
            }
        }
    }
    v
}

/// Gradient and Hessian of the objective.
fn derivatives(theta: &[f64], wins: &[Vec<f64>], alpha: f64) -> (Vec<f64>, Vec<Vec<f64>>) {
    let n = theta.len();
    let mut grad: Vec<f64> = theta.iter().map(|x| 2.0 * alpha * x).collect();
    let mut hess = vec![vec![0.0; n]; n];
    for (i, h) in hess.iter_mut().enumerate() {
        h[i] = 2.0 * alpha;
    }
    for i in 0..n {
        for j in (i + 1)..n {
            let total = wins[i][j] + wins[j][i];
            if total <= 0.0 {
                continue;
            }
            let p = sigmoid(theta[i] - theta[j]);
            let g = total * p - wins[i][j];
            grad[i] += g;
            grad[j] -= g;
            let h = total * p * (1.0 - p);
            hess[i][i] += h;
            hess[j][j] += h;
            hess[i][j] -= h;
            hess[j][i] -= h;
        }
    }
    (grad, hess)
}

/// With α = 0 the Hessian is singular along (1, …, 1); adding J/n makes it invertible
/// without changing steps orthogonal to it (gradients sum to zero).
fn regularised(hess: &[Vec<f64>], alpha: f64) -> Vec<Vec<f64>> {
    let n = hess.len();
    let mut m = hess.to_vec();
    if alpha == 0.0 {
        for row in &mut m {
            for x in row.iter_mut() {
                *x += 1.0 / n as f64;
            }
        }
    }
    m
}

/// H⁻¹, or with α = 0 the pseudo-inverse (H + J/n)⁻¹ − J/n.
fn covariance(hess: &[Vec<f64>], alpha: f64) -> Option<Vec<Vec<f64>>> {
    let n = hess.len();
    let m = regularised(hess, alpha);
    let mut inv = vec![vec![0.0; n]; n];
    for k in 0..n {
        let mut e = vec![0.0; n];
        e[k] = 1.0;
        let col = solve(&m, &e)?;
        for i in 0..n {
            inv[i][k] = col[i] - if alpha == 0.0 { 1.0 / n as f64 } else { 0.0 };
        }
    }
    Some(inv)
}

/// Solves `a x = b` by Gaussian elimination with partial pivoting (n is the number of
/// models: small).
fn solve(a: &[Vec<f64>], b: &[f64]) -> Option<Vec<f64>> {
    let n = b.len();
    let mut m: Vec<Vec<f64>> = a
        .iter()
        .zip(b)
        .map(|(row, &bi)| {
            let mut r = row.clone();
            r.push(bi);
            r
        })
        .collect();
    for col in 0..n {
        let pivot = (col..n).max_by(|&x, &y| m[x][col].abs().total_cmp(&m[y][col].abs()))?;
        if m[pivot][col].abs() < 1e-300 {
            return None;
        }
        m.swap(col, pivot);
        let (top, rest) = m.split_at_mut(col + 1);
        let pivot_row = &top[col];
        for row in rest.iter_mut() {
            let f = row[col] / pivot_row[col];
            if f != 0.0 {
                for (x, p) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                    *x -= f * p;
                }
            }
        }
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let s: f64 = ((i + 1)..n).map(|k| m[i][k] * x[k]).sum();
        x[i] = (m[i][n] - s) / m[i][i];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

/// Whether every item reaches every other along "beat" edges (i → j when i has beaten j
/// at least half a time): the condition for the plain maximum likelihood estimate to exist.
fn strongly_connected(n: usize, wins: &[Vec<f64>]) -> bool {
    let reach = |forward: bool| {
        let mut seen = vec![false; n];
        let mut stack = vec![0];
        seen[0] = true;
        while let Some(i) = stack.pop() {
            for j in 0..n {
                let w = if forward { wins[i][j] } else { wins[j][i] };
                if w > 0.0 && !seen[j] {
                    seen[j] = true;
                    stack.push(j);
                }
            }
        }
        seen.iter().all(|&s| s)
    };
    reach(true) && reach(false)
}

/// Whether the comparison graph (ignoring direction) links every item.
fn connected(n: usize, wins: &[Vec<f64>]) -> bool {
    if n == 0 {
        return true;
    }
    let mut seen = vec![false; n];
    let mut stack = vec![0];
    seen[0] = true;
    while let Some(i) = stack.pop() {
        for j in 0..n {
            if (wins[i][j] > 0.0 || wins[j][i] > 0.0) && !seen[j] {
                seen[j] = true;
                stack.push(j);
            }
        }
    }
    seen.iter().all(|&s| s)
}

/// One judged pair, by model: `model_a`'s response against `model_b`'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelPair<'a> {
    /// The model of `response_a`.
    pub model_a: &'a str,
    /// The model of `response_b`.
    pub model_b: &'a str,
    /// Which won.
    pub winner: Winner,
}

#[derive(Default, Clone, Copy)]
struct Counts {
    wins: u64,
    losses: u64,
    ties: u64,
}

/// Ranks models from judged pairs: pairs of one model against itself are skipped (and
/// counted), ties count half a win each way, the fit is [`fit`]. Models come out best
/// first (ties in score by model id).
pub fn rank_models<'a>(
    pairs: impl IntoIterator<Item = ModelPair<'a>>,
    options: &FitOptions,
) -> Result<ModelRanking> {
    let mut index: BTreeMap<&'a str, usize> = BTreeMap::new();
    let mut used: Vec<(usize, usize, Winner)> = Vec::new();
    let mut skipped = 0u64;
    for p in pairs {
        if p.model_a == p.model_b {
            skipped += 1;
            continue;
        }
        let next = index.len();
        let a = *index.entry(p.model_a).or_insert(next);
        let next = index.len();
        let b = *index.entry(p.model_b).or_insert(next);
        used.push((a, b, p.winner));
    }
    let n = index.len();
    let mut wins = vec![vec![0.0; n]; n];
    let mut counts = vec![Counts::default(); n];
    let mut ties = 0u64;
    for &(a, b, w) in &used {
        match w {
            Winner::A => {
                wins[a][b] += 1.0;
                counts[a].wins += 1;
                counts[b].losses += 1;
            }
            Winner::B => {
                wins[b][a] += 1.0;
                counts[b].wins += 1;
                counts[a].losses += 1;
            }
            Winner::Tie => {
                wins[a][b] += 0.5;
                wins[b][a] += 0.5;
                counts[a].ties += 1;
                counts[b].ties += 1;
                ties += 1;
            }
        }
    }
    let result = fit(n, &wins, options)?;
    let mut models: Vec<RankedModel> = index
        .iter()
        .map(|(&name, &i)| {
            let c = counts[i];
            let (score, se) = (result.scores[i], result.std_errors[i]);
            RankedModel {
                model: name.to_string(),
                score,
                ci_low: score - Z95 * se,
                ci_high: score + Z95 * se,
                wins: c.wins,
                losses: c.losses,
                ties: c.ties,
                comparisons: c.wins + c.losses + c.ties,
                rank: 0,
            }
        })
        .collect();
    models.sort_by(|x, y| y.score.total_cmp(&x.score).then(x.model.cmp(&y.model)));
    let scores: Vec<f64> = models.iter().map(|m| m.score).collect();
    for m in &mut models {
        m.rank = 1 + scores.iter().filter(|&&s| s > m.score).count() as u32;
    }
    Ok(ModelRanking {
        models,
        comparisons_used: used.len() as u64,
        skipped_same_model: skipped,
        ties,
        method: "bradley-terry-map".into(),
        regularization: options.regularization,
        confidence: 0.95,
        connected: connected(n, &wins),
        iterations: result.iterations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair<'a>(a: &'a str, b: &'a str, w: Winner) -> ModelPair<'a> {
        ModelPair {
            model_a: a,
            model_b: b,
            winner: w,
        }
    }

    #[test]
    fn two_models_match_the_closed_form() {
        // With α = 0 and two models, σ(θ₁ − θ₂) equals the observed win share.
        let mut pairs = vec![pair("x", "y", Winner::A); 30];
        pairs.extend(vec![pair("y", "x", Winner::A); 10]);
        let opts = FitOptions {
            regularization: 0.0,
            ..FitOptions::default()
        };
        let r = rank_models(pairs, &opts).expect("fits");
        assert_eq!(r.models[0].model, "x");
        let diff = r.models[0].score - r.models[1].score;
        assert!((diff - 3f64.ln()).abs() < 1e-9, "{diff}");
        assert!((r.models[0].score + r.models[1].score).abs() < 1e-12);
        // Var(θ₁ − θ₂) = 1 / (n p (1 − p)); each score is half of the difference.
        let se = (1.0f64 / (40.0 * 0.75 * 0.25)).sqrt() / 2.0;
        let got = (r.models[0].ci_high - r.models[0].score) / Z95;
        assert!((got - se).abs() < 1e-9, "{got} vs {se}");
        assert_eq!((r.models[0].wins, r.models[0].losses), (30, 10));
        // A small penalty barely moves the score or the interval of well-observed models:
        // the prior's uncertainty about a common offset is not part of a mean-zero score.
        let pairs = [
            vec![pair("x", "y", Winner::A); 30],
            vec![pair("y", "x", Winner::A); 10],
        ]
        .concat();
        let p = rank_models(pairs, &FitOptions::default()).expect("fits");
        let half = |m: &RankedModel| m.ci_high - m.score;
        assert!((half(&p.models[0]) / half(&r.models[0]) - 1.0).abs() < 0.05);
        assert!((p.models[0].score - r.models[0].score).abs() < 0.05);
    }

    #[test]
    fn same_model_pairs_are_skipped_and_ties_count_half() {
        let pairs = vec![
            pair("x", "x", Winner::A),
            pair("x", "y", Winner::Tie),
            pair("x", "y", Winner::Tie),
        ];
        let r = rank_models(pairs, &FitOptions::default()).expect("fits");
        assert_eq!(r.skipped_same_model, 1);
        assert_eq!(r.comparisons_used, 2);
        assert_eq!(r.ties, 2);
        assert!(r.models[0].score.abs() < 1e-9);
        assert_eq!(r.models[0].rank, r.models[1].rank);
    }

    #[test]
    fn a_model_that_never_wins_stays_finite_and_last() {
        let mut pairs = vec![pair("good", "bad", Winner::A); 20];
        pairs.extend(vec![pair("good", "mid", Winner::A); 5]);
        pairs.extend(vec![pair("mid", "good", Winner::A); 5]);
        // A group never compared with the others.
        pairs.extend(vec![pair("p", "q", Winner::B); 3]);
        let r = rank_models(pairs.clone(), &FitOptions::default()).expect("fits");
        let bad = r.models.iter().find(|m| m.model == "bad").expect("ranked");
        assert!(bad.score.is_finite() && bad.ci_low.is_finite());
        assert_eq!(r.models.last().map(|m| m.model.as_str()), Some("bad"));
        assert!(!r.connected);
        // Without the penalty there is no estimate.
        let e = rank_models(
            pairs,
            &FitOptions {
                regularization: 0.0,
                ..FitOptions::default()
            },
        )
        .expect_err("no MLE");
        assert!(e.to_string().contains("regularization"), "{e}");
    }

    #[test]
    fn gradient_vanishes_at_the_optimum() {
        let mut state = 7u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let n = 5;
        let mut wins = vec![vec![0.0; n]; n];
        for _ in 0..500 {
            let (a, b) = ((next() % 5) as usize, (next() % 5) as usize);
            if a != b {
                wins[a][b] += 1.0;
            }
        }
        let opts = FitOptions {
            regularization: 0.3,
            ..FitOptions::default()
        };
        let f = fit(n, &wins, &opts).expect("fits");
        let (g, _) = derivatives(&f.scores, &wins, 0.3);
        assert!(g.iter().all(|x| x.abs() < 1e-8), "{g:?}");
        assert!(f.scores.iter().sum::<f64>().abs() < 1e-9);
    }
}
