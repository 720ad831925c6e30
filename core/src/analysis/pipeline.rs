//! The whole analysis in one call: error patterns (with their trends), category trends and
//! suggestions, over in-memory records. The facade (`Tuneloop::analyze`/`suggest`) and the
//! weekly job read the store and run it.

use super::categorize::Lexicon;
use super::patterns::{find_patterns, PatternOptions};
use super::suggest::{corrections_by_category, default_rules, suggest, SuggestionRule};
use super::weekly::{category_trends, pattern_trends};
use crate::model::{
    CategoryTrend, ErrorPattern, Feedback, ResponseRecord, Suggestion, Timestamp, TrendQuery,
};
use serde::{Deserialize, Serialize};

/// Patterns, trends and suggestions of one analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// Error patterns, largest first.
    pub patterns: Vec<ErrorPattern>,
    /// Weekly trends per category.
    pub trends: Vec<CategoryTrend>,
    /// Suggestions, highest priority first.
    pub suggestions: Vec<Suggestion>,
    /// Responses in range left out of the weekly series (trends of categories and patterns)
    /// because they are older than its newest 520 weeks. Absent from JSON when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted_responses: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What to analyse and with which rule tables.
#[derive(Debug, Clone)]
pub struct AnalysisOptions {
    /// Only this model.
    pub model: Option<String>,
    /// Responses created at or after this time.
    pub since: Option<Timestamp>,
    /// Responses created before this time.
    pub until: Option<Timestamp>,
    /// Infers categories from comments.
    pub lexicon: Lexicon,
    /// Maps patterns and trends to suggestions.
    pub rules: Vec<SuggestionRule>,
}

impl Default for AnalysisOptions {
    fn default() -> Self {
        AnalysisOptions {
            model: None,
            since: None,
            until: None,
            lexicon: Lexicon::default(),
            rules: default_rules(),
        }
    }
}

/// The analysis of in-memory records (pure).
pub fn analyze(
    responses: &[ResponseRecord],
    feedback: &[Feedback],
    options: &AnalysisOptions,
) -> Analysis {
    let query = TrendQuery {
        model: options.model.clone(),
        since: options.since,
        until: options.until,
        ..Default::default()
    };
    let pattern_options = PatternOptions {
        lexicon: options.lexicon.clone(),
        ..PatternOptions::default()
    };
    let mut patterns = find_patterns(responses, feedback, &pattern_options);
    pattern_trends(&mut patterns, responses, feedback, &query);
    let report = category_trends(responses, feedback, &query);
    let trends = report.trends;
    let corrections = corrections_by_category(responses, feedback);
    let suggestions = suggest(&patterns, &trends, &corrections, &options.rules);
    Analysis {
        patterns,
        trends,
        suggestions,
        omitted_responses: report.omitted_responses,
    }
}
