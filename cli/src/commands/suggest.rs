//! `tuneloop suggest`: improvement suggestions from error patterns, trends and corrections.

use super::{check_range, open_store, print_json};
use crate::args::{RangeArgs, RuleFileArgs, SuggestArgs};
use crate::output::omitted_note;
use crate::{CliError, CliResult};
use tuneloop::analysis::categorize::Lexicon;
use tuneloop::analysis::pipeline::{analyze_store, AnalysisOptions};
use tuneloop::analysis::rule_files::{lexicon_from_json, rules_from_json};
use tuneloop::analysis::suggest::{default_rules, SuggestionRule};
use tuneloop::model::Suggestion;
use tuneloop::store::FeedbackStore;

/// Everything one analysis computes.
pub use tuneloop::analysis::pipeline::Analysis;

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
    let options = AnalysisOptions {
        model: range.model.clone(),
        since: range.since,
        until: range.until,
        lexicon: tables.lexicon,
        rules: tables.rules,
    };
    Ok(analyze_store(store, &options).await?)
}

pub async fn run(db: &str, json: bool, a: SuggestArgs) -> CliResult {
    check_range(&a.range)?;
    let tables = RuleTables::load(&a.rules)?;
    let store = open_store(db).await?;
    let analysis = compute(store.as_ref(), &a.range, tables).await?;
    if json {
        let mut out = serde_json::json!({ "suggestions": analysis.suggestions });
        if analysis.omitted_responses > 0 {
            out["omitted_responses"] = analysis.omitted_responses.into();
        }
        return print_json(&out);
    }
    print_suggestions(&analysis.suggestions, usize::MAX);
    let note = omitted_note(
        analysis.omitted_responses,
        "trends' weekly series",
        "520 weeks",
    );
    if let Some(note) = note {
        outln!("\n{note}");
    }
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
