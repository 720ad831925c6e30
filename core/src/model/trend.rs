//! Queries and reports for error-category trends over ISO weeks.

use super::time::{serde_ts, Timestamp};
use serde::{Deserialize, Serialize};

/// Which way a weekly rate moves (two-sided Mann-Kendall at the query's α).
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrendDirection {
    /// Significant upward trend.
    Rising,
    /// Significant downward trend.
    Falling,
    /// No significant trend.
    Stable,
}

impl TrendDirection {
    /// The lower-case wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            TrendDirection::Rising => "rising",
            TrendDirection::Falling => "falling",
            TrendDirection::Stable => "stable",
        }
    }
}

/// What trends are computed over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrendQuery {
    /// Only responses of this model (and the rate's denominator is that model's responses).
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
    /// Significance level of the Mann-Kendall and Pettitt tests.
    pub alpha: f64,
    /// Weeks in the window that decides whether a category is emerging.
    pub window: u32,
}

impl Default for TrendQuery {
    fn default() -> Self {
        TrendQuery {
            model: None,
            since: None,
            until: None,
            alpha: 0.05,
            window: 4,
        }
    }
}

/// One ISO week of a series.
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeeklyPoint {
    /// ISO week label, e.g. `2026-W36` (UTC).
    pub week: String,
    /// Negative feedback items in the group on responses created that week.
    pub negatives: u64,
    /// Responses created that week.
    pub responses: u64,
    /// negatives / responses; 0 without responses.
    pub rate: f64,
}

/// A significant change in level found by Pettitt's test.
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangePoint {
    /// The first week of the new level.
    pub week: String,
    /// Pettitt's approximate p-value.
    pub p_value: f64,
}

/// The trend of one category's weekly negative rate.
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryTrend {
    /// The error category.
    pub category: String,
    /// Direction at the query's α.
    pub direction: TrendDirection,
    /// Sen's slope of the rate, per week (a fraction: 0.01 is one percentage point).
    pub slope: f64,
    /// Two-sided Mann-Kendall p-value.
    pub p_value: f64,
    /// Contiguous weeks, oldest first; at most the newest 520.
    pub weekly: Vec<WeeklyPoint>,
    /// Negatives in the last `window` weeks and none in the `window` weeks before.
    pub emerging: bool,
    /// Pettitt's change point when significant at α, else `null`.
    pub change_point: Option<ChangePoint>,
}

/// The trend of one error pattern's weekly negative rate (negatives on its member responses /
/// all responses in range), computed as for categories.
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatternTrend {
    /// Direction at the query's α.
    pub direction: TrendDirection,
    /// Sen's slope of the rate, per week.
    pub slope: f64,
    /// Two-sided Mann-Kendall p-value.
    pub p_value: f64,
    /// Negatives in the last `window` weeks and none in the `window` weeks before.
    pub emerging: bool,
}

/// Trends of every category with negatives in range; significant first (see docs/formats.md).
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrendReport {
    /// One entry per category.
    pub trends: Vec<CategoryTrend>,
    /// Responses in range left out of the weekly series because they are older than its
    /// first week: a series keeps the newest 520 weeks
    /// ([`crate::analysis::MAX_SERIES_WEEKS`]). Absent from JSON when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted_responses: u64,
}

pub(crate) fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Daily counts that the weekly trend series are built from (see
/// [`crate::store::FeedbackStore::daily_trend_counts`]). Days are days since the epoch (UTC) of the
/// response's creation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DailyTrendCounts {
    /// Responses created on each day.
    pub responses: std::collections::BTreeMap<i64, u64>,
    /// Per category: negative feedback items naming it (once per item) on responses created
    /// on each day.
    pub negatives: std::collections::BTreeMap<String, std::collections::BTreeMap<i64, u64>>,
}
