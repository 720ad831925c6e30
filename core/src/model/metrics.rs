//! Queries and reports for quality metrics and problematic responses.

use super::time::{serde_ts, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Time bucket for a metrics series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Bucket {
    /// Calendar day (UTC).
    Day,
    /// ISO week (Monday to Sunday, UTC).
    Week,
}

/// Which responses metrics are computed over.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsQuery {
    /// Only this model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Responses created at or after this time.
    #[serde(
        default,
        with = "serde_ts::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub since: Option<Timestamp>,
    /// Responses created before this time.
    #[serde(
        default,
        with = "serde_ts::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub until: Option<Timestamp>,
    /// Adds a per-bucket series to each model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket: Option<Bucket>,
}

/// Counts and rates over a set of responses and their feedback.
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QualityFigures {
    /// Responses in range.
    pub responses: u64,
    /// Feedback items on those responses.
    pub feedback: u64,
    /// Positive items.
    pub positive: u64,
    /// Negative items.
    pub negative: u64,
    /// Neutral items.
    pub neutral: u64,
    /// positive / feedback; `null` without feedback.
    pub positive_rate: Option<f64>,
    /// 95 % Wilson score interval of `positive_rate`.
    pub positive_rate_ci: Option<[f64; 2]>,
    /// negative / feedback; `null` without feedback.
    pub negative_rate: Option<f64>,
    /// Mean rating over feedback that has one.
    pub average_rating: Option<f64>,
    /// Explicit category counts.
    pub categories: BTreeMap<String, u64>,
}

/// Metrics for one model.
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMetrics {
    /// The model.
    pub model_id: String,
    /// Its figures over the whole range.
    #[serde(flatten)]
    pub figures: QualityFigures,
    /// Per-bucket figures when a bucket was asked for (contiguous, oldest first), ending at
    /// the newest bucket with data and at most 3,660 days or 520 weeks long
    /// ([`crate::analysis::MAX_SERIES_DAYS`], [`crate::analysis::MAX_SERIES_WEEKS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buckets: Option<Vec<BucketMetrics>>,
    /// Responses counted in the totals but older than the first bucket, so in no bucket
    /// (only when the series was cut to its cap). Absent from JSON when 0.
    #[serde(default, skip_serializing_if = "super::trend::is_zero")]
    pub omitted_from_buckets: u64,
}

/// Figures for one time bucket.
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BucketMetrics {
    /// Start of the bucket (midnight UTC; Monday for weeks).
    #[serde(with = "serde_ts")]
    #[cfg_attr(feature = "http", schema(value_type = String, format = DateTime))]
    pub start: Timestamp,
    /// The bucket's figures.
    #[serde(flatten)]
    pub figures: QualityFigures,
}

/// Metrics for every model in range, sorted by model id.
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricsReport {
    /// One entry per model that has responses in range.
    pub models: Vec<ModelMetrics>,
}

impl MetricsReport {
    /// The entry for `model_id`.
    pub fn model(&self, model_id: &str) -> Option<&ModelMetrics> {
        self.models.iter().find(|m| m.model_id == model_id)
    }
}

/// Which problematic responses to list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProblematicQuery {
    /// Only this model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Responses created at or after this time.
    #[serde(
        default,
        with = "serde_ts::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub since: Option<Timestamp>,
    /// Responses created before this time.
    #[serde(
        default,
        with = "serde_ts::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub until: Option<Timestamp>,
    /// At most this many.
    pub limit: usize,
    /// Hide personal data (emails, phone numbers, cards, keys...) in the queries, answers and
    /// comments shown, with the dataset redactor (default: hidden, in every front; `false`
    /// shows texts as users wrote them). Applied by the facade; stores ignore it.
    pub redact_pii: bool,
    /// The order: by the negative share's lower confidence bound (`rate`, the default) or by
    /// the number of negative items (`count`). `limit` applies after ranking.
    pub rank_by: RankBy,
}

impl Default for ProblematicQuery {
    fn default() -> Self {
        ProblematicQuery {
            model: None,
            since: None,
            until: None,
            limit: 20,
            redact_pii: true,
            rank_by: RankBy::default(),
        }
    }
}

/// How problematic responses are ordered, worst first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RankBy {
    /// By the lower bound of the 95 % Wilson interval of the negative share (negative items
    /// over all items), so 12 negatives out of 12 outrank 20 out of 60; then as `count`.
    #[default]
    Rate,
    /// By the number of negative items, then the lower bound of the negative share.
    Count,
}

impl RankBy {
    /// The name used in options and on the command line (`rate`, `count`).
    pub fn as_str(self) -> &'static str {
        match self {
            RankBy::Rate => "rate",
            RankBy::Count => "count",
        }
    }
}

impl std::str::FromStr for RankBy {
    type Err = crate::Error;

    fn from_str(s: &str) -> crate::Result<Self> {
        match s {
            "rate" => Ok(RankBy::Rate),
            "count" => Ok(RankBy::Count),
            other => Err(crate::Error::invalid(
                "rank_by",
                format!("{other:?} is not one of rate, count"),
            )),
        }
    }
}

/// A response with negative feedback, with what users said about it.
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProblematicResponse {
    /// The response.
    pub response_id: String,
    /// Its model.
    pub model_id: String,
    /// The query.
    pub query: String,
    /// The answer.
    pub response: String,
    #[cfg_attr(feature = "http", schema(value_type = String, format = DateTime))]
    /// When it was produced.
    #[serde(with = "serde_ts")]
    pub created_at: Timestamp,
    /// Feedback items on it.
    pub feedback: u64,
    /// Positive items.
    pub positive: u64,
    /// Negative items (≥ 1).
    pub negative: u64,
    /// Share of the items that are negative: `negative / feedback`.
    pub negative_rate: f64,
    /// Lower bound of the 95 % Wilson score interval of `negative_rate` (z = 1.96): the
    /// default ranking key, which weighs a share by how many items it rests on.
    pub wilson_lower: f64,
    /// Mean score (thumbs up 1, down 0, rating r → (r − 1) / 4).
    pub score: f64,
    /// Explicit category counts.
    pub categories: BTreeMap<String, u64>,
    /// Comments, oldest first.
    pub comments: Vec<String>,
}
