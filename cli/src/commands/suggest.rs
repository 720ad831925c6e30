//! `tuneloop suggest`: improvement suggestions from error patterns, trends and corrections.

use super::{check_range, open_store, print_json};
use crate::args::{RangeArgs, RuleFileArgs, SuggestArgs};
use crate::{CliError, CliResult};
use serde::Serialize;
use tuneloop::analysis::categorize::Lexicon;
use tuneloop::analysis::patterns::{find_patterns, PatternOptions};
use tuneloop::analysis::rule_files::{lexicon_from_json, rules_from_json};
use tuneloop::analysis::suggest::{
    corrections_by_category, default_rules, suggest, SuggestionRule,
};
use tuneloop::analysis::weekly::{category_trends, pattern_trends};
use tuneloop::model::{CategoryTrend, ErrorPattern, Suggestion, TrendQuery};
use tuneloop::store::{FeedbackFilter, FeedbackStore, FeedbackStoreExt, ResponseFilter};

/// Everything one analysis computes.
#[derive(Debug, Serialize)]
pub struct Analysis {
    pub patterns: Vec<ErrorPattern>,
    pub trends: Vec<CategoryTrend>,
    pub suggestions: Vec<Suggestion>,
}

/// Patterns, trends and suggestions over the responses in `range`.
/// The lexicon and suggestion rules to use: the built-in ones, or those of `--lexicon` /
/// `--rules` files (read and checked before any database work).
#[derive(Debug, Clone)]
pub struct RuleTables {
    pub lexicon: Lexicon,
    pub rules: Vec<SuggestionRule>,
}

impl RuleTables {
    pub fn load(args: &RuleFileArgs) -> CliResult<Self> {
        let read = |path: &std::path::Path| {
            std::fs::read_to_string(path)
                .map_err(|e| CliError::usage(format!("cannot read {}: {e}", path.display())))
        };
        let in_file = |path: &std::path::Path, e: tuneloop::Error| {
            CliError::usage(format!("{}: {e}", path.display()))
        };
        let lexicon = match &args.lexicon {
            Some(p) => lexicon_from_json(&read(p)?).map_err(|e| in_file(p, e))?,
            None => Lexicon::default(),
        };
        let rules = match &args.rules {
            Some(p) => rules_from_json(&read(p)?).map_err(|e| in_file(p, e))?,
            None => default_rules(),
        };
        Ok(RuleTables { lexicon, rules })
    }
}

impl Default for RuleTables {
    fn default() -> Self {
        RuleTables {
            lexicon: Lexicon::default(),
            rules: default_rules(),
        }
    }
}

pub async fn compute(
    store: &dyn FeedbackStore,
    range: &RangeArgs,
    tables: RuleTables,
) -> CliResult<Analysis> {
    let responses = store
        .all_responses(&ResponseFilter {
            model: range.model.clone(),
            since: range.since,
            until: range.until,
        })
        .await?;
    // Feedback on any response of the model: the analyses keep only what belongs to the
    // responses in range, whatever the feedback's own time.
    let feedback = store
        .all_feedback(&FeedbackFilter {
            model: range.model.clone(),
            ..Default::default()
        })
        .await?;
    let query = TrendQuery {
        model: range.model.clone(),
        since: range.since,
        until: range.until,
        ..Default::default()
    };
    // Pure CPU work: keep it off the async runtime's worker.
    tokio::task::spawn_blocking(move || {
        let options = PatternOptions {
            lexicon: tables.lexicon,
            ..PatternOptions::default()
        };
        let mut patterns = find_patterns(&responses, &feedback, &options);
        pattern_trends(&mut patterns, &responses, &feedback, &query);
        let trends = category_trends(&responses, &feedback, &query).trends;
        let corrections = corrections_by_category(&responses, &feedback);
        let suggestions = suggest(&patterns, &trends, &corrections, &tables.rules);
        Analysis {
            patterns,
            trends,
            suggestions,
        }
    })
    .await
    .map_err(|e| CliError::failure(format!("analysis failed: {e}")))
}

pub async fn run(db: &str, json: bool, a: SuggestArgs) -> CliResult {
    check_range(&a.range)?;
    let tables = RuleTables::load(&a.rules)?;
    let store = open_store(db).await?;
    let analysis = compute(store.as_ref(), &a.range, tables).await?;
    if json {
        return print_json(&serde_json::json!({ "suggestions": analysis.suggestions }));
    }
    print_suggestions(&analysis.suggestions, usize::MAX);
    Ok(())
}

/// Prints up to `limit` suggestions, readable.
pub fn print_suggestions(suggestions: &[Suggestion], limit: usize) {
    if suggestions.is_empty() {
        outln!("No suggestions: no rule matched the feedback in range.");
        return;
    }
    for (i, s) in suggestions.iter().take(limit).enumerate() {
        if i > 0 {
            outln!();
        }
        outln!(
            "{}. [{:.1}] {} ({}{})",
            i + 1,
            s.priority,
            s.title,
            s.category,
            s.pattern_id
                .as_deref()
                .map(|p| format!(", {p}"))
                .unwrap_or_default()
        );
        outln!("   {}", s.action);
        outln!("   Why: {}", s.rationale);
        outln!("   id {}", s.id);
    }
}
