//! Improvement suggestions derived from error patterns, trends and corrections.

use serde::{Deserialize, Serialize};

/// One concrete improvement to make, with the numbers behind it (see docs/formats.md,
/// "Suggestions").
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suggestion {
    /// Stable id: `s-` and the first 12 hex digits of SHA-256 over the rule's title, the
    /// category and the pattern id (empty without one), joined by newlines.
    pub id: String,
    /// Short title of the suggestion.
    pub title: String,
    /// What to do.
    pub action: String,
    /// The error category it addresses.
    pub category: String,
    /// The largest error pattern of the category that met the rule, if any.
    pub pattern_id: Option<String>,
    /// Higher is more urgent: base × size factor × trend factor, rounded to 3 decimals.
    pub priority: f64,
    /// Why, in words built from the evidence.
    pub rationale: String,
    /// The numbers: `pattern_id`, `size`, `share`, `negatives`, `rate`, `direction`, `slope`,
    /// `p_value`, `corrections`.
    pub evidence: serde_json::Value,
}
