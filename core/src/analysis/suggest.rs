//! Improvement suggestions: a rule table (data) applied to error patterns, category trends
//! and correction counts.
//!
//! Each [`SuggestionRule`] names a category (or `*` for any), a condition and the action to
//! take. [`suggest`] evaluates every rule against every category it names and emits at most
//! one [`Suggestion`] per (rule, category), attached to the category's largest pattern that
//! meets the rule.
//!
//! # Priority
//!
//! `priority = base_priority × size_factor × trend_factor`, rounded to 3 decimals, where
//! - `size_factor = 1 + 4 × share`, `share` being the chosen pattern's share of all analysed
//!   negatives (0 without a pattern), so a pattern holding a quarter of the negatives doubles
//!   the priority;
//! - `trend_factor` is 1.5 for a rising category trend, 0.7 for a falling one and 1.0 for a
//!   stable one or none.

use crate::model::{
    CategoryTrend, ErrorPattern, Feedback, ResponseRecord, Suggestion, TrendDirection,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// The category value of a rule that applies to every category.
pub const ANY_CATEGORY: &str = "*";

/// When a rule fires. Every field is optional; absent fields do not constrain.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleCondition {
    /// The category's trend must have this direction (a category without a trend is stable).
    #[serde(default)]
    pub direction: Option<TrendDirection>,
    /// A pattern of the category must have at least this many responses.
    #[serde(default)]
    pub min_size: usize,
    /// A pattern of the category must hold at least this share of the negatives.
    #[serde(default)]
    pub min_share: f64,
    /// The category must have at least this many corrected answers.
    #[serde(default)]
    pub min_corrections: usize,
}

/// One row of the rule table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuggestionRule {
    /// The category it applies to, or `*` for every category.
    pub category: String,
    /// When it fires.
    #[serde(default)]
    pub when: RuleCondition,
    /// The suggestion's title.
    pub title: String,
    /// What to do.
    pub action: String,
    /// Priority before the size and trend factors.
    pub base_priority: f64,
}

/// The default rule table, as JSON (documented in docs/formats.md, "Suggestions").
pub const DEFAULT_RULES_JSON: &str = r#"[
  {"category": "hallucination", "when": {"direction": "rising"},
   "title": "Ground answers in retrieved sources",
   "action": "Add retrieval grounding: retrieve from the knowledge base for every answer, require the answer to cite the retrieved sources, and decline when no source supports it.",
   "base_priority": 10},
  {"category": "factual_error", "when": {"direction": "rising"},
   "title": "Ground answers in retrieved sources",
   "action": "Add retrieval grounding: retrieve from the knowledge base for every answer, require the answer to cite the retrieved sources, and decline when no source supports it.",
   "base_priority": 9},
  {"category": "outdated", "when": {},
   "title": "Refresh the model's knowledge",
   "action": "Refresh the retrieval corpus and the facts in the system prompt (prices, policies, versions, dates); date-stamp documents and drop superseded ones.",
   "base_priority": 7},
  {"category": "code_error", "when": {},
   "title": "Check generated code before answering",
   "action": "Run generated code in a sandbox and unit-test it before answering; return the corrected code or state what fails.",
   "base_priority": 7},
  {"category": "refusal", "when": {},
   "title": "Reduce over-refusal",
   "action": "Review the safety policy for over-broad refusals, and fine-tune with DPO pairs that prefer a helpful answer over a refusal on benign requests.",
   "base_priority": 6},
  {"category": "too_verbose", "when": {},
   "title": "Limit answer length",
   "action": "Add length limits to the system prompt (answer first, at most a few sentences unless the user asks for detail).",
   "base_priority": 5},
  {"category": "incomplete", "when": {},
   "title": "Add an answer checklist to the prompt",
   "action": "Add a checklist to the system prompt: address every part of the request and every stated constraint before answering.",
   "base_priority": 5},
  {"category": "instruction_following", "when": {},
   "title": "Add an answer checklist to the prompt",
   "action": "Add a checklist to the system prompt: restate the user's instructions (format, length, language, constraints) and check the answer against each.",
   "base_priority": 5},
  {"category": "*", "when": {"min_corrections": 20},
   "title": "Fine-tune on user corrections",
   "action": "Build a fine-tuning set from the users' corrected answers (SFT on the corrections, DPO pairs preferring the correction over the original answer) and fine-tune.",
   "base_priority": 6}
]"#;

/// The default rule table ([`DEFAULT_RULES_JSON`]).
pub fn default_rules() -> Vec<SuggestionRule> {
    // The table is a constant checked by a unit test; an empty table is the only fallback.
    serde_json::from_str(DEFAULT_RULES_JSON).unwrap_or_default()
}

/// Counts corrected answers per category: each feedback item on one of `responses` with a
/// non-blank correction counts once for each of its categories (`uncategorized` without one).
pub fn corrections_by_category(
    responses: &[ResponseRecord],
    feedback: &[Feedback],
) -> BTreeMap<String, usize> {
    let ids: HashSet<&str> = responses.iter().map(|r| r.id.as_str()).collect();
    let mut out = BTreeMap::new();
    for f in feedback {
        if !ids.contains(f.response_id.as_str()) {
            continue;
        }
        if f.correction().is_none_or(|c| c.trim().is_empty()) {
            continue;
        }
        if f.categories().is_empty() {
            *out.entry("uncategorized".to_string()).or_insert(0) += 1;
        }
        for c in f.categories() {
            *out.entry(c.as_str().to_string()).or_insert(0) += 1;
        }
    }
    out
}

/// Applies `rules` to the patterns, trends and correction counts; highest priority first,
/// then by id. Deterministic for the same input.
pub fn suggest(
    patterns: &[ErrorPattern],
    trends: &[CategoryTrend],
    corrections: &BTreeMap<String, usize>,
    rules: &[SuggestionRule],
) -> Vec<Suggestion> {
    let mut present: BTreeSet<&str> = BTreeSet::new();
    present.extend(patterns.iter().map(|p| p.category.as_str()));
    present.extend(
        trends
            .iter()
            .filter(|t| t.weekly.iter().any(|w| w.negatives > 0))
            .map(|t| t.category.as_str()),
    );
    present.extend(
        corrections
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(c, _)| c.as_str()),
    );
    let mut out = Vec::new();
    for rule in rules {
        for &category in &present {
            if rule.category != ANY_CATEGORY && rule.category != category {
                continue;
            }
            if let Some(s) = apply(rule, category, patterns, trends, corrections) {
                out.push(s);
            }
        }
    }
    out.sort_by(|a, b| {
        b.priority
            .total_cmp(&a.priority)
            .then_with(|| a.id.cmp(&b.id))
    });
    out.dedup_by(|a, b| a.id == b.id);
    out
}

fn apply(
    rule: &SuggestionRule,
    category: &str,
    patterns: &[ErrorPattern],
    trends: &[CategoryTrend],
    corrections: &BTreeMap<String, usize>,
) -> Option<Suggestion> {
    let when = &rule.when;
    let trend = trends.iter().find(|t| t.category == category);
    let direction = trend.map_or(TrendDirection::Stable, |t| t.direction);
    if when.direction.is_some_and(|d| d != direction) {
        return None;
    }
    let n_corrections = corrections.get(category).copied().unwrap_or(0);
    if n_corrections < when.min_corrections {
        return None;
    }
    let mut qualifying: Vec<&ErrorPattern> = patterns
        .iter()
        .filter(|p| p.category == category && p.size >= when.min_size && p.share >= when.min_share)
        .collect();
    qualifying.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.id.cmp(&b.id)));
    let pattern = qualifying.first().copied();
    if pattern.is_none() && (when.min_size > 0 || when.min_share > 0.0) {
        return None;
    }
    let share = pattern.map_or(0.0, |p| p.share);
    let size_factor = 1.0 + 4.0 * share;
    let trend_factor = match direction {
        TrendDirection::Rising => 1.5,
        TrendDirection::Falling => 0.7,
        TrendDirection::Stable => 1.0,
    };
    let priority = (rule.base_priority * size_factor * trend_factor * 1000.0).round() / 1000.0;

    let pattern_id = pattern.map(|p| p.id.clone());
    let id = {
        let key = format!(
            "{}\n{}\n{}",
            rule.title,
            category,
            pattern_id.as_deref().unwrap_or("")
        );
        let digest = crate::model::json_sha256(&key);
        format!("s-{}", &hex::encode(digest)[..12])
    };

    let (negatives, responses) = trend.map_or((0, 0), |t| {
        t.weekly
            .iter()
            .fold((0, 0), |(n, r), w| (n + w.negatives, r + w.responses))
    });
    let rate = if responses > 0 {
        negatives as f64 / responses as f64
    } else {
        0.0
    };

    let mut parts = Vec::new();
    match pattern {
        Some(p) => parts.push(format!(
            "pattern {} holds {} responses ({:.1}% of negatives)",
            p.id,
            p.size,
            p.share * 100.0
        )),
        None => parts.push(format!("no error pattern is dominated by {category}")),
    }
    if let Some(t) = trend {
        parts.push(format!(
            "{negatives} negatives in {responses} responses ({:.1}%), weekly rate {} \
             (Sen's slope {:+.2} pp/week, {})",
            rate * 100.0,
            t.direction.as_str(),
            t.slope * 100.0,
            if t.p_value < 0.001 {
                "p < 0.001".to_string()
            } else {
                format!("p = {:.3}", t.p_value)
            }
        ));
    }
    if n_corrections > 0 {
        parts.push(format!("{n_corrections} corrected answers"));
    }
    let rationale = format!("{category}: {}.", parts.join("; "));

    let evidence = serde_json::json!({
        "pattern_id": pattern_id,
        "size": pattern.map_or(0, |p| p.size),
        "share": share,
        "negatives": negatives,
        "rate": rate,
        "direction": direction.as_str(),
        "slope": trend.map(|t| t.slope),
        "p_value": trend.map(|t| t.p_value),
        "corrections": n_corrections,
    });

    Some(Suggestion {
        id,
        title: rule.title.clone(),
        action: rule.action.clone(),
        category: category.to_string(),
        pattern_id,
        priority,
        rationale,
        evidence,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{parse_timestamp, WeeklyPoint};

    fn pattern(id: &str, category: &str, size: usize, share: f64) -> ErrorPattern {
        let t = parse_timestamp("2026-09-01T00:00:00Z").unwrap();
        ErrorPattern {
            id: id.into(),
            label: category.into(),
            category: category.into(),
            size,
            share,
            response_ids: (0..size).map(|i| format!("{id}-{i}")).collect(),
            models: vec!["m".into()],
            top_terms: vec![],
            examples: vec![],
            first_seen: t,
            last_seen: t,
            trend: None,
        }
    }

    fn trend(category: &str, direction: TrendDirection, slope: f64) -> CategoryTrend {
        CategoryTrend {
            category: category.into(),
            direction,
            slope,
            p_value: 0.01,
            weekly: vec![WeeklyPoint {
                week: "2026-W36".into(),
                negatives: 5,
                responses: 50,
                rate: 0.1,
            }],
            emerging: false,
            change_point: None,
        }
    }

    #[test]
    fn default_table_parses() {
        let rules = default_rules();
        assert!(rules.len() >= 9);
        assert!(rules.iter().all(|r| r.base_priority > 0.0));
    }

    #[test]
    fn rising_hallucination_gets_grounding_first() {
        let patterns = vec![
            pattern("p-a", "hallucination", 10, 0.25),
            pattern("p-b", "too_verbose", 10, 0.25),
        ];
        let trends = vec![
            trend("hallucination", TrendDirection::Rising, 0.01),
            trend("too_verbose", TrendDirection::Stable, 0.0),
        ];
        let s = suggest(&patterns, &trends, &BTreeMap::new(), &default_rules());
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].category, "hallucination");
        assert!(s[0].action.contains("retrieval grounding"));
        assert_eq!(s[0].pattern_id.as_deref(), Some("p-a"));
        // 10 × (1 + 4 × 0.25) × 1.5
        assert_eq!(s[0].priority, 30.0);
        // 5 × 2 × 1
        assert_eq!(s[1].priority, 10.0);
        assert!(s[0].id.starts_with("s-") && s[0].id.len() == 14);
        assert_eq!(s[0].evidence["size"], 10);
        assert_eq!(s[0].evidence["corrections"], 0);
        assert!(s[0].rationale.contains("rising"), "{}", s[0].rationale);
    }

    #[test]
    fn direction_condition_filters() {
        let patterns = vec![pattern("p-a", "hallucination", 10, 0.25)];
        let trends = vec![trend("hallucination", TrendDirection::Falling, -0.01)];
        let s = suggest(&patterns, &trends, &BTreeMap::new(), &default_rules());
        assert!(s.is_empty(), "{s:?}");
    }

    #[test]
    fn corrections_rule_and_thresholds() {
        let rules: Vec<SuggestionRule> = serde_json::from_str(
            r#"[{"category":"*","when":{"min_corrections":3},"title":"FT","action":"tune","base_priority":2},
                {"category":"tone","when":{"min_size":20},"title":"Big","action":"x","base_priority":9}]"#,
        )
        .unwrap();
        let patterns = vec![pattern("p-t", "tone", 5, 0.5)];
        let mut corr = BTreeMap::new();
        corr.insert("tone".to_string(), 3);
        corr.insert("other".to_string(), 2);
        let s = suggest(&patterns, &[], &corr, &rules);
        assert_eq!(s.len(), 1, "{s:?}");
        assert_eq!(s[0].title, "FT");
        assert_eq!(s[0].category, "tone");
        assert_eq!(s[0].priority, 6.0);
        assert_eq!(s[0].evidence["corrections"], 3);
        // Deterministic.
        assert_eq!(s, suggest(&patterns, &[], &corr, &rules));
    }

    #[test]
    fn unknown_condition_field_is_rejected() {
        let r: Result<Vec<SuggestionRule>, _> = serde_json::from_str(
            r#"[{"category":"x","when":{"min_sizes":1},"title":"t","action":"a","base_priority":1}]"#,
        );
        assert!(r.is_err());
    }
}
