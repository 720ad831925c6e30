//! Error patterns and what to do about them: analyze (and save the run), suggest, and the
//! saved runs (list, get, diff).

use super::records::check_range;
use super::Tuneloop;
use crate::analysis::categorize::Lexicon;
use crate::analysis::pipeline::{Analysis, AnalysisOptions};
use crate::analysis::rule_files::{default_rule_tables, LexiconFile, RuleTables, RulesFile};
use crate::analysis::run_diff::diff_patterns;
use crate::analysis::suggest::default_rules;
use crate::error::{Error, Result};
use crate::model::time::now;
use crate::model::{
    format_timestamp, CategoryTrend, ErrorPattern, RunDiff, RunList, RunSummary, Suggestion,
    Timestamp,
};
use crate::sources::analyze_store;
use crate::store::{FeedbackStore, RunRecord};
use serde::{Deserialize, Serialize};

/// What to analyse, with which rule tables, and whether to save the run (`analyze`,
/// `suggest`).
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnalyzeOptions {
    /// Only this model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Responses created at or after this time.
    #[serde(
        with = "crate::model::time::serde_ts::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "http", schema(value_type = Option<String>, format = DateTime))]
    pub since: Option<Timestamp>,
    /// Responses created before this time.
    #[serde(
        with = "crate::model::time::serde_ts::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "http", schema(value_type = Option<String>, format = DateTime))]
    pub until: Option<Timestamp>,
    /// The lexicon that infers categories from comments; `None`: the built-in one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lexicon: Option<LexiconFile>,
    /// The suggestion rules; `None`: the built-in table.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rules: Option<RulesFile>,
    /// Save the run (patterns, trends, suggestions) in the store; see [`Tuneloop::runs`].
    /// Only `analyze` saves: `suggest` refuses it.
    #[serde(skip_serializing_if = "is_false")]
    pub save: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl AnalyzeOptions {
    /// Checks the options without reading the store: the time range and the rule tables.
    /// An error in a table names it and the field (`rules.rules[0].base_priority`), so a
    /// front can refuse bad input before it opens anything.
    pub fn validate(&self) -> Result<()> {
        self.analysis_options().map(|_| ())
    }

    /// The pure analysis's options: the tables checked and built.
    fn analysis_options(&self) -> Result<AnalysisOptions> {
        check_range(self.since, self.until)?;
        let lexicon = match &self.lexicon {
            Some(table) => table.lexicon().map_err(|e| within("lexicon", e))?,
            None => Lexicon::default(),
        };
        let rules = match &self.rules {
            Some(table) => table.rules().map_err(|e| within("rules", e))?,
            None => default_rules(),
        };
        Ok(AnalysisOptions {
            model: self.model.clone(),
            since: self.since,
            until: self.until,
            lexicon,
            rules,
        })
    }
}

/// A table's field error as a field of the options (`rules[0].title` → `rules.rules[0].title`).
fn within(table: &str, e: Error) -> Error {
    match e {
        Error::InvalidInput { field, reason } => Error::InvalidInput {
            field: format!("{table}.{field}"),
            reason,
        },
        other => other,
    }
}

/// Error patterns over the negative responses, and the category trends (`analyze`).
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AnalyzeResult {
    /// Error patterns, largest first, each with its trend (docs/formats.md, "Error patterns").
    pub patterns: Vec<ErrorPattern>,
    /// Weekly trends per category (default α and window).
    pub trends: Vec<CategoryTrend>,
    /// Responses in range left out of the weekly series because they are older than its
    /// newest 520 weeks. Absent from JSON when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted_responses: u64,
    /// The saved run's id, when the options asked to save it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
}

/// Improvement suggestions, most urgent first (`suggest`).
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SuggestReport {
    /// Highest priority first (docs/formats.md, "Suggestions").
    pub suggestions: Vec<Suggestion>,
    /// Responses in range left out of the weekly series (see
    /// [`AnalyzeResult::omitted_responses`]). Absent from JSON when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted_responses: u64,
}

/// Which saved runs to list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunsQuery {
    /// Only runs of this kind (`analysis`, `weekly`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// At most this many, newest first; 0: all. Default 20.
    pub limit: usize,
}

impl Default for RunsQuery {
    fn default() -> Self {
        RunsQuery {
            kind: None,
            limit: 20,
        }
    }
}

impl Tuneloop {
    /// Groups the negative responses created in `[since, until)` into error patterns
    /// (largest first, each with its trend) and computes the category trends. With
    /// `save`, the run (patterns, trends and suggestions) is saved as kind `analysis`, id
    /// `r-` and the UTC time to the millisecond (`r-20261123-101500-123`).
    pub async fn analyze(&self, options: &AnalyzeOptions) -> Result<AnalyzeResult> {
        let store = self.store().as_ref();
        let analysis = analyze_store(store, &options.analysis_options()?).await?;
        let run_id = if options.save {
            Some(save_analysis(store, options, &analysis).await?)
        } else {
            None
        };
        Ok(AnalyzeResult {
            patterns: analysis.patterns,
            trends: analysis.trends,
            omitted_responses: analysis.omitted_responses,
            run_id,
        })
    }

    /// Improvement suggestions from the error patterns, category trends and corrected
    /// answers over the responses in `[since, until)`, by the rule table.
    pub async fn suggest(&self, options: &AnalyzeOptions) -> Result<SuggestReport> {
        if options.save {
            return Err(Error::invalid(
                "save",
                "suggestions are not saved on their own; analyze with save keeps them with its run",
            ));
        }
        let analysis = analyze_store(self.store().as_ref(), &options.analysis_options()?).await?;
        Ok(SuggestReport {
            suggestions: analysis.suggestions,
            omitted_responses: analysis.omitted_responses,
        })
    }

    /// The built-in lexicon and suggestion rules as data, for a front to show or edit and
    /// pass back in [`AnalyzeOptions`] (unchanged, they analyse like no tables at all).
    pub fn default_rule_tables() -> RuleTables {
        default_rule_tables()
    }

    /// Saved runs, newest first, with how many patterns and suggestions each holds.
    pub async fn runs(&self, query: &RunsQuery) -> Result<RunList> {
        let runs = self
            .store()
            .list_runs(query.kind.as_deref(), query.limit)
            .await?;
        let count = |run: &RunRecord, key: &str| {
            run.result
                .get(key)
                .and_then(serde_json::Value::as_array)
                .map(|a| a.len() as u64)
        };
        let runs = runs
            .into_iter()
            .map(|r| RunSummary {
                patterns: count(&r, "patterns"),
                suggestions: count(&r, "suggestions"),
                id: r.id,
                kind: r.kind,
                created_at: r.created_at,
                params: r.params,
            })
            .collect();
        Ok(RunList { runs })
    }

    /// One saved run as stored; [`Error::NotFound`] (kind `run`) when there is none.
    pub async fn run(&self, id: &str) -> Result<RunRecord> {
        self.store()
            .get_run(id)
            .await?
            .ok_or_else(|| Error::NotFound {
                kind: "run",
                id: id.to_string(),
            })
    }

    /// How the error patterns changed from run `from` to run `to` (see
    /// [`crate::analysis::run_diff::diff_patterns`]). Both must be analysis runs.
    pub async fn diff_runs(&self, from: &str, to: &str) -> Result<RunDiff> {
        let a = self.run(from).await?;
        let b = self.run(to).await?;
        let patterns = diff_patterns(&patterns_of(&a, "from")?, &patterns_of(&b, "to")?);
        Ok(RunDiff {
            from: a.id,
            to: b.id,
            from_created_at: a.created_at,
            to_created_at: b.created_at,
            patterns,
        })
    }
}

/// The error patterns a saved run holds.
fn patterns_of(run: &RunRecord, field: &str) -> Result<Vec<ErrorPattern>> {
    let value = run.result.get("patterns").cloned().unwrap_or_default();
    serde_json::from_value(value).map_err(|e| {
        Error::invalid(
            field,
            format!(
                "run {} (kind {}) holds no error patterns to compare: {e}",
                run.id, run.kind
            ),
        )
    })
}

/// Saves an analysis as a run of kind `analysis`; returns its id.
async fn save_analysis(
    store: &dyn FeedbackStore,
    options: &AnalyzeOptions,
    analysis: &Analysis,
) -> Result<String> {
    let created_at = now();
    let params = serde_json::json!({
        "model": options.model,
        "since": options.since.as_ref().map(format_timestamp),
        "until": options.until.as_ref().map(format_timestamp),
    });
    let result = serde_json::to_value(analysis)
        .map_err(|e| Error::invalid("analysis", format!("cannot be serialised: {e}")))?;
    let id = format!("r-{}", created_at.format("%Y%m%d-%H%M%S-%3f"));
    store
        .save_run(&RunRecord {
            id: id.clone(),
            kind: "analysis".into(),
            created_at,
            params,
            result,
        })
        .await?;
    Ok(id)
}
