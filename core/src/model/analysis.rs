//! Results of the error-pattern analysis: categorisations and patterns of similar failures.

use super::time::{serde_ts, Timestamp};
use super::trend::PatternTrend;
use serde::{Deserialize, Serialize};

/// Where the category of a feedback item comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CategorySource {
    /// The user picked it (full feedback).
    Explicit,
    /// A lexicon rule matched the comment (or the response).
    Inferred,
    /// Neither: no explicit category and no rule matched.
    Uncategorized,
}

impl CategorySource {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            CategorySource::Explicit => "explicit",
            CategorySource::Inferred => "inferred",
            CategorySource::Uncategorized => "uncategorized",
        }
    }
}

/// The category of one feedback item and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Categorization {
    /// The primary category; `uncategorized` when there is none.
    pub category: String,
    /// Explicit, inferred or uncategorized.
    pub source: CategorySource,
    /// For explicit: the user's categories; for inferred: the matched terms, each prefixed
    /// with where it matched (`comment: made up`, `response: ...`); empty otherwise.
    pub evidence: Vec<String>,
}

/// One response quoted as an example of a pattern.
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatternExample {
    /// The response.
    pub response_id: String,
    /// Its query.
    pub query: String,
    /// The first non-blank comment of its negative feedback, if any.
    pub comment: Option<String>,
}

/// A group of negative responses that fail in a similar way.
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorPattern {
    /// Stable id: `p-` and the first 12 hex digits of SHA-256 over the sorted member response
    /// ids joined by newlines, so the same members give the same id on every run.
    pub id: String,
    /// Readable label: dominant category and the top terms.
    pub label: String,
    /// The majority category of the members' primary categories (explicit, else inferred):
    /// the most frequent one when it covers at least half of the members, `mixed` when no
    /// category does, `uncategorized` when no member has one (see docs/formats.md,
    /// "Patterns").
    pub category: String,
    /// Share of all members (uncategorized ones count in the denominator) whose primary
    /// category is the most frequent category; 0 when no member has one. Runs saved before
    /// it existed deserialise with 0.
    #[serde(default)]
    pub category_share: f64,
    /// Number of member responses.
    pub size: usize,
    /// size / number of negative responses analysed.
    pub share: f64,
    /// Corrections (non-blank) in the negative feedback on the members, the material for
    /// fine-tuning on this failure. Runs saved before it existed deserialise with 0.
    #[serde(default)]
    pub corrections: usize,
    /// Member response ids, sorted.
    pub response_ids: Vec<String>,
    /// Models of the members, sorted.
    pub models: Vec<String>,
    /// Words most distinctive of the pattern against all negatives, best first.
    pub top_terms: Vec<String>,
    /// Up to three members closest to the pattern's centre, with distinct query and comment.
    pub examples: Vec<PatternExample>,
    /// Earliest member `created_at`.
    #[cfg_attr(feature = "http", schema(value_type = String, format = DateTime))]
    #[serde(with = "serde_ts")]
    pub first_seen: Timestamp,
    /// Latest member `created_at`.
    #[cfg_attr(feature = "http", schema(value_type = String, format = DateTime))]
    #[serde(with = "serde_ts")]
    pub last_seen: Timestamp,
    /// Trend of the pattern's weekly negative rate; `null` until computed (runs saved before
    /// it existed deserialise with `null`, hence the default).
    #[serde(default)]
    pub trend: Option<PatternTrend>,
}
