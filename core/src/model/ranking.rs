//! The Bradley–Terry ranking of models from pairwise feedback (`tuneloop rank`).

use serde::{Deserialize, Serialize};

/// Models ranked by their Bradley–Terry strength, estimated from comparisons (see
/// docs/formats.md, "Ranking models").
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRanking {
    /// Best first.
    pub models: Vec<RankedModel>,
    /// Comparisons between two different models that entered the fit.
    pub comparisons_used: u64,
    /// Comparisons between two responses of the same model: they say nothing about the
    /// models' order and are left out.
    pub skipped_same_model: u64,
    /// Comparisons judged a tie (among those used); each counts half a win for each side.
    pub ties: u64,
    /// The fit: `bradley-terry-map` (penalised maximum likelihood, Newton's method).
    pub method: String,
    /// The L2 penalty `alpha` on the log-strengths (objective: negative log-likelihood +
    /// alpha × Σ score², as `choix.opt_pairwise`).
    pub regularization: f64,
    /// Confidence level of the intervals (0.95).
    pub confidence: f64,
    /// Whether every model is linked to every other through comparisons. When not, scores
    /// of different groups are compared only through the penalty and their intervals are
    /// wide.
    pub connected: bool,
    /// Newton iterations the fit took.
    pub iterations: u32,
}

/// One model's place in a [`ModelRanking`].
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankedModel {
    /// The model id.
    pub model: String,
    /// Log-strength (natural log), the models' scores summing to zero: the probability
    /// that this model's answer beats model j's is 1 / (1 + exp(score_j − score)).
    pub score: f64,
    /// Lower end of the 95 % interval of the score (normal approximation from the
    /// inverse Hessian of the penalised log-likelihood).
    pub ci_low: f64,
    /// Upper end of the 95 % interval.
    pub ci_high: f64,
    /// Comparisons this model won.
    pub wins: u64,
    /// Comparisons this model lost.
    pub losses: u64,
    /// Comparisons judged a tie.
    pub ties: u64,
    /// All comparisons it took part in (wins + losses + ties).
    pub comparisons: u64,
    /// 1 for the best score; equal scores share a rank.
    pub rank: u32,
}
