//! Pairwise feedback in the facade: recording comparisons and ranking models (`rank`).

use super::records::check_range;
use super::Tuneloop;
use crate::analysis::bradley_terry::{rank_models, FitOptions, ModelPair};
use crate::error::Result;
use crate::model::{Comparison, ModelRanking, Timestamp};
use crate::store::{ComparisonFilter, FeedbackStoreExt, WriteSummary};
use serde::{Deserialize, Serialize};

/// Which comparisons a ranking uses, and how it is fit (`rank`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RankOptions {
    /// Only comparisons between two of these models; empty: every model.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,
    /// Comparisons made at or after this time.
    #[serde(
        with = "crate::model::time::serde_ts::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub since: Option<Timestamp>,
    /// Comparisons made before this time.
    #[serde(
        with = "crate::model::time::serde_ts::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub until: Option<Timestamp>,
    /// α, the L2 penalty on the log-strengths; `None`: 0.01
    /// ([`crate::analysis::bradley_terry::DEFAULT_REGULARIZATION`]). 0 asks for the plain
    /// maximum likelihood estimate, refused when it does not exist.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regularization: Option<f64>,
}

impl Tuneloop {
    /// Records comparisons (pairwise feedback) atomically: both responses of each must be
    /// stored and answer the same conversation context; on any rejection nothing is
    /// written and the first one is the error.
    pub async fn record_comparisons(&self, comparisons: &[Comparison]) -> Result<WriteSummary> {
        self.store().record_comparisons(comparisons).await
    }

    /// Ranks models by their Bradley–Terry strength over the comparisons made in
    /// `[since, until)` (see docs/formats.md, "Ranking models").
    pub async fn rank(&self, options: &RankOptions) -> Result<ModelRanking> {
        check_range(options.since, options.until)?;
        let stored = self
            .store()
            .all_comparisons(&ComparisonFilter {
                model: match options.models.as_slice() {
                    [one] => Some(one.clone()),
                    _ => None,
                },
                since: options.since,
                until: options.until,
            })
            .await?;
        let fit = FitOptions {
            regularization: options
                .regularization
                .unwrap_or(crate::analysis::bradley_terry::DEFAULT_REGULARIZATION),
            ..FitOptions::default()
        };
        let models = options.models.clone();
        super::blocking("the ranking", move || {
            let keep = |m: &str| models.is_empty() || models.iter().any(|x| x == m);
            let pairs = stored
                .iter()
                .filter(|c| keep(&c.model_a) && keep(&c.model_b))
                .map(|c| ModelPair {
                    model_a: &c.model_a,
                    model_b: &c.model_b,
                    winner: c.comparison.winner,
                });
            rank_models(pairs, &fit)
        })
        .await?
    }
}
