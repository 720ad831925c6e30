//! Improvement suggestions: a rule table (data) applied to error patterns, category trends
//! and correction counts.
//!
//! Each [`SuggestionRule`] has a scope, names a category (or `*` for any), a condition and
//! the action to take.
//!
//! * **Pattern rules** (`"scope": "pattern"`) work without categories: every pattern is
//!   checked against them in table order, and the first rule whose category (the pattern's
//!   [`ErrorPattern::category`], which may be `mixed` or `uncategorized`) and condition match
//!   (the pattern's own trend direction, size, share and corrections) gives the pattern its
//!   [`Suggestion`]. `{terms}`, `{size}`, `{share}`, `{corrections}` and `{direction}` in the
//!   title and action are replaced with the pattern's evidence.
//! * **Category rules** (the default scope) add specific actions where categories exist:
//!   [`suggest`] evaluates each against every category it names and emits at most one
//!   suggestion per (rule, category), attached to the category's largest pattern that meets
//!   the rule; the direction is the category trend's.
//!
//! # Priority
//!
//! `priority = base_priority × size_factor × trend_factor`, rounded to 3 decimals, where
//! - `size_factor = 1 + 4 × share`, `share` being the pattern's share of all analysed
//!   negatives (0 without a pattern), so a pattern holding a quarter of the negatives doubles
//!   the priority;
//! - `trend_factor` is 1.5 for a rising trend, 0.7 for a falling one and 1.0 for a stable one
//!   or none (the pattern's trend for pattern rules, the category's for category rules).

use crate::model::{
    CategoryTrend, ErrorPattern, Feedback, ResponseRecord, Suggestion, TrendDirection,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// The category value of a rule that applies to every category.
pub const ANY_CATEGORY: &str = "*";

/// When a rule fires. Every field is optional; absent fields do not constrain.
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
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

/// What a rule is checked against.
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleScope {
    /// Each category (its trend, its largest pattern, its corrections).
    #[default]
    Category,
    /// Each pattern (its own trend, size, share and corrections).
    Pattern,
}

fn is_category_scope(s: &RuleScope) -> bool {
    *s == RuleScope::Category
}

/// One row of the rule table.
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuggestionRule {
    /// What the rule is checked against (default: categories; absent from JSON then).
    #[serde(default, skip_serializing_if = "is_category_scope")]
    pub scope: RuleScope,
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
  {"scope": "pattern", "category": "*", "when": {"direction": "rising", "min_size": 3},
   "title": "Investigate the rising pattern '{terms}' ({share} of negatives, {corrections} corrections available)",
   "action": "Read its examples and reproduce them as test cases, then fix the common cause (system prompt, knowledge base or retrieval) before it grows further; where users corrected answers, take the corrections as the expected output.",
   "base_priority": 8},
  {"scope": "pattern", "category": "*", "when": {"min_size": 3, "min_corrections": 10},
   "title": "Fine-tune on the corrections of pattern '{terms}' ({corrections} corrections)",
   "action": "Turn its {corrections} corrected answers into training data (SFT on the corrections, DPO pairs preferring them over the original answers), fine-tune, and check the pattern's weekly rate afterwards.",
   "base_priority": 6},
  {"scope": "pattern", "category": "*", "when": {"min_size": 3},
   "title": "Review the {direction} pattern '{terms}' ({share} of negatives)",
   "action": "Read its examples, turn them into test cases and fix the common cause (system prompt, knowledge base or retrieval); then watch its weekly rate.",
   "base_priority": 4},
  {"category": "unsafe", "when": {},
   "title": "Stop unsafe answers",
   "action": "Add a safety layer for these requests: a policy section in the system prompt and a moderation check on answers (medical, legal, self-harm, dangerous activities) that replaces unsafe advice with safe guidance and a referral; add the pattern's examples to a red-team test set run before every release.",
   "base_priority": 10},
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
    let (pattern_rules, category_rules): (Vec<&SuggestionRule>, Vec<&SuggestionRule>) =
        rules.iter().partition(|r| r.scope == RuleScope::Pattern);
    for p in patterns {
        if let Some(s) = pattern_rules.iter().find_map(|r| apply_to_pattern(r, p)) {
            out.push(s);
        }
    }
    for rule in category_rules {
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

/// `priority` of a rule given a share and a direction (see the module documentation).
fn priority(base: f64, share: f64, direction: TrendDirection) -> f64 {
    let size_factor = 1.0 + 4.0 * share;
    let trend_factor = match direction {
        TrendDirection::Rising => 1.5,
        TrendDirection::Falling => 0.7,
        TrendDirection::Stable => 1.0,
    };
    (base * size_factor * trend_factor * 1000.0).round() / 1000.0
}

fn suggestion_id(title: &str, category: &str, pattern_id: Option<&str>) -> String {
    let key = format!("{title}\n{category}\n{}", pattern_id.unwrap_or(""));
    let digest = crate::model::json_sha256(&key);
    format!("s-{}", &hex::encode(digest)[..12])
}

/// The words naming a pattern: its first three top terms, else its label.
fn pattern_terms(p: &ErrorPattern) -> String {
    if p.top_terms.is_empty() {
        p.label.clone()
    } else {
        p.top_terms
            .iter()
            .take(3)
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A pattern rule applied to one pattern, if it matches.
fn apply_to_pattern(rule: &SuggestionRule, p: &ErrorPattern) -> Option<Suggestion> {
    let when = &rule.when;
    if rule.category != ANY_CATEGORY && rule.category != p.category {
        return None;
    }
    let direction = p
        .trend
        .as_ref()
        .map_or(TrendDirection::Stable, |t| t.direction);
    if when.direction.is_some_and(|d| d != direction)
        || p.size < when.min_size
        || p.share < when.min_share
        || p.corrections < when.min_corrections
    {
        return None;
    }
    let terms = pattern_terms(p);
    let share = format!("{:.1}%", p.share * 100.0);
    let fill = |t: &str| {
        t.replace("{terms}", &terms)
            .replace("{size}", &p.size.to_string())
            .replace("{share}", &share)
            .replace("{corrections}", &p.corrections.to_string())
            .replace("{direction}", direction.as_str())
    };
    let mut parts = vec![format!(
        "pattern {} '{terms}' holds {} negative responses ({share} of negatives)",
        p.id, p.size
    )];
    match &p.trend {
        Some(t) => parts.push(format!(
            "its weekly rate is {} (Sen's slope {:+.2} pp/week, {})",
            t.direction.as_str(),
            t.slope * 100.0,
            if t.p_value < 0.001 {
                "p < 0.001".to_string()
            } else {
                format!("p = {:.3}", t.p_value)
            }
        )),
        None => parts.push("no trend computed".to_string()),
    }
    parts.push(format!("{} corrections available", p.corrections));
    parts.push(match p.category.as_str() {
        "mixed" => format!(
            "no category covers half of it (the most frequent one {:.0}%)",
            p.category_share * 100.0
        ),
        "uncategorized" => "its feedback carries no category".to_string(),
        c => format!("category {c} ({:.0}% of members)", p.category_share * 100.0),
    });
    let evidence = serde_json::json!({
        "pattern_id": p.id,
        "size": p.size,
        "share": p.share,
        "negatives": p.size,
        "direction": direction.as_str(),
        "slope": p.trend.as_ref().map(|t| t.slope),
        "p_value": p.trend.as_ref().map(|t| t.p_value),
        "corrections": p.corrections,
        "category_share": p.category_share,
        "top_terms": p.top_terms,
    });
    Some(Suggestion {
        id: suggestion_id(&rule.title, &p.category, Some(&p.id)),
        title: fill(&rule.title),
        action: fill(&rule.action),
        category: p.category.clone(),
        pattern_id: Some(p.id.clone()),
        priority: priority(rule.base_priority, p.share, direction),
        rationale: format!("{}.", parts.join("; ")),
        evidence,
    })
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
    let priority = priority(rule.base_priority, share, direction);
    let pattern_id = pattern.map(|p| p.id.clone());
    let id = suggestion_id(&rule.title, category, pattern_id.as_deref());

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
            category_share: 1.0,
            corrections: 0,
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

    /// The default table's category rules only.
    fn category_rules() -> Vec<SuggestionRule> {
        default_rules()
            .into_iter()
            .filter(|r| r.scope == RuleScope::Category)
            .collect()
    }

    #[test]
    fn default_table_parses() {
        let rules = default_rules();
        assert!(rules.len() >= 13);
        assert!(rules.iter().all(|r| r.base_priority > 0.0));
        assert!(rules.iter().any(|r| r.category == "unsafe"));
        assert!(
            rules
                .iter()
                .filter(|r| r.scope == RuleScope::Pattern)
                .count()
                >= 3
        );
    }

    #[test]
    fn every_pattern_gets_one_suggestion_without_categories() {
        use crate::model::PatternTrend;
        let mut rising = pattern("p-r", "uncategorized", 30, 0.3);
        rising.top_terms = vec!["refund".into(), "policy".into(), "60".into(), "days".into()];
        rising.corrections = 12;
        rising.trend = Some(PatternTrend {
            direction: TrendDirection::Rising,
            slope: 0.02,
            p_value: 0.001,
            emerging: false,
        });
        let mut mixed = pattern("p-m", "mixed", 20, 0.2);
        mixed.corrections = 15;
        let small = pattern("p-s", "uncategorized", 2, 0.02);
        let patterns = vec![rising, mixed, small];
        let s = suggest(&patterns, &[], &BTreeMap::new(), &default_rules());
        assert_eq!(s.len(), 2, "{s:?}");
        assert_eq!(s[0].pattern_id.as_deref(), Some("p-r"));
        assert_eq!(
            s[0].title,
            "Investigate the rising pattern 'refund policy 60' (30.0% of negatives, 12 corrections available)"
        );
        // 8 × (1 + 4 × 0.3) × 1.5
        assert_eq!(s[0].priority, 26.4);
        assert!(s[0].rationale.contains("rising"), "{}", s[0].rationale);
        // The mixed pattern has enough corrections for the fine-tuning rule.
        assert_eq!(s[1].pattern_id.as_deref(), Some("p-m"));
        assert!(
            s[1].action.contains("15 corrected answers"),
            "{}",
            s[1].action
        );
        assert_eq!(s[1].evidence["corrections"], 15);
        assert_eq!(
            s,
            suggest(&patterns, &[], &BTreeMap::new(), &default_rules())
        );
    }

    #[test]
    fn unsafe_has_a_rule() {
        let patterns = vec![pattern("p-u", "unsafe", 10, 0.1)];
        let s = suggest(&patterns, &[], &BTreeMap::new(), &category_rules());
        assert_eq!(s.len(), 1, "{s:?}");
        assert!(s[0].action.contains("moderation"));
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
        let s = suggest(&patterns, &trends, &BTreeMap::new(), &category_rules());
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
        let s = suggest(&patterns, &trends, &BTreeMap::new(), &category_rules());
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
