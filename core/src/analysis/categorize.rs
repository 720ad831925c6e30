//! Categorisation of feedback: the user's explicit categories, else a category inferred from
//! the comment (and response) by a transparent lexicon of rules, else `uncategorized`.
//!
//! The lexicon is plain data ([`Lexicon`]), serialisable so users can supply their own. A
//! rule matches when one of its words or phrases occurs as whole words in the lower-cased
//! text; a category's score is the sum of the weights of its matching terms (each term
//! counted once), with matches in the response counting [`Lexicon::response_weight`] times.
//! The best score at or above [`Lexicon::min_score`] wins; ties go to the earlier rule.
//!
//! ```
//! use tuneloop::analysis::categorize::{categorize, Lexicon};
//! use tuneloop::model::{parse_timestamp, CategorySource, Feedback, FeedbackKind, ResponseRecord};
//! let t = parse_timestamp("2026-09-01T10:00:00Z").unwrap();
//! let r = ResponseRecord::new("r1", "m", "Refund policy?", "Refunds within 90 days.", t);
//! let mut f = Feedback::new("f1", "r1", FeedbackKind::Thumbs { up: false }, t);
//! f.comment = Some("The bot made up a 90-day policy".into());
//! let c = categorize(&f, Some(&r), &Lexicon::default());
//! assert_eq!(c.category, "hallucination");
//! assert_eq!(c.source, CategorySource::Inferred);
//! assert_eq!(c.evidence, vec!["comment: made up"]);
//! ```

use crate::model::{Categorization, CategorySource, Feedback, ResponseRecord};
use serde::{Deserialize, Serialize};

/// The category name used when no explicit or inferred category applies.
pub const UNCATEGORIZED: &str = "uncategorized";

/// One rule: any of these terms is evidence for `category`.
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// The category the rule argues for (a category name, canonical or custom).
    pub category: String,
    /// Lower-case words or phrases, matched as whole words.
    pub any_of: Vec<String>,
    /// Weight of each matching term.
    #[serde(default = "one")]
    pub weight: f64,
}

fn one() -> f64 {
    1.0
}

/// A rule table with its scoring knobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lexicon {
    /// The rules, in tie-breaking order.
    pub rules: Vec<Rule>,
    /// Factor applied to terms matched in the response text rather than the comment
    /// (0 ignores the response).
    #[serde(default = "half")]
    pub response_weight: f64,
    /// Minimum score for an inferred category.
    #[serde(default = "one")]
    pub min_score: f64,
}

fn half() -> f64 {
    0.5
}

/// The default lexicon: common ways users describe each canonical category.
const DEFAULT_RULES: &[(&str, f64, &[&str])] = &[
    (
        "hallucination",
        1.0,
        &[
            "made up",
            "makes up",
            "making up",
            "invented",
            "invents",
            "fabricated",
            "fabricates",
            "hallucinated",
            "hallucination",
            "hallucinates",
            "doesn't exist",
            "does not exist",
            "not real",
            "fake",
            "imaginary",
            "no such",
        ],
    ),
    (
        "factual_error",
        1.0,
        &[
            "wrong",
            "incorrect",
            "inaccurate",
            "not true",
            "false",
            "factually",
            "mistake",
            "error in the facts",
            "misinformation",
            "untrue",
        ],
    ),
    (
        "outdated",
        1.0,
        &[
            "outdated",
            "out of date",
            "old price",
            "old prices",
            "old price list",
            "last year",
            "no longer",
            "obsolete",
            "deprecated",
            "stale",
            "used to be",
            "went up",
            "not anymore",
        ],
    ),
    (
        "code_error",
        1.0,
        &[
            "code",
            "doesn't run",
            "does not run",
            "doesn't compile",
            "does not compile",
            "crashes",
            "crash",
            "exception",
            "syntax",
            "syntaxerror",
            "typeerror",
            "valueerror",
            "nameerror",
            "keyerror",
            "indexerror",
            "attributeerror",
            "traceback",
            "bug",
            "compile error",
            "throws",
        ],
    ),
    (
        "too_verbose",
        1.0,
        &[
            "too long",
            "way too long",
            "verbose",
            "wall of text",
            "rambling",
            "rambles",
            "filler",
            "get to the point",
            "wordy",
            "long winded",
            "long-winded",
            "buried",
            "tl dr",
            "tldr",
        ],
    ),
    (
        "incomplete",
        1.0,
        &[
            "incomplete",
            "half of my question",
            "only answered",
            "missing",
            "left out",
            "cut off",
            "unfinished",
            "partial",
            "didn't finish",
        ],
    ),
    (
        "irrelevant",
        1.0,
        &[
            "irrelevant",
            "not what i asked",
            "didn't answer",
            "did not answer",
            "off topic",
            "off-topic",
            "something else",
            "unrelated",
            "not relevant",
        ],
    ),
    (
        "instruction_following",
        1.0,
        &[
            "ignored my instructions",
            "ignored the instructions",
            "didn't follow",
            "did not follow",
            "i asked for",
            "i said",
            "ignored",
        ],
    ),
    (
        "unsafe",
        1.0,
        &[
            "unsafe",
            "dangerous",
            "harmful",
            "offensive",
            "inappropriate",
            "illegal",
        ],
    ),
    (
        "refusal",
        1.0,
        &[
            "refused",
            "refuses",
            "won't answer",
            "would not answer",
            "can't help",
            "cannot help",
            "declined",
            "refusal",
        ],
    ),
    (
        "formatting",
        1.0,
        &[
            "formatting",
            "hard to follow",
            "one paragraph",
            "markdown",
            "bullet points",
            "unreadable",
            "layout",
            "broken table",
        ],
    ),
    (
        "tone",
        1.0,
        &[
            "rude",
            "condescending",
            "patronizing",
            "patronising",
            "tone",
            "sarcastic",
            "impolite",
            "arrogant",
            "robotic",
        ],
    ),
];

impl Default for Lexicon {
    fn default() -> Self {
        Lexicon {
            rules: DEFAULT_RULES
                .iter()
                .map(|(category, weight, terms)| Rule {
                    category: (*category).to_string(),
                    any_of: terms.iter().map(|t| (*t).to_string()).collect(),
                    weight: *weight,
                })
                .collect(),
            response_weight: half(),
            min_score: one(),
        }
    }
}

/// Lower-cases `text` and turns every run of non-word characters into one space, with a
/// space at each end, so whole-word phrase matching is a substring search for ` phrase `.
pub(crate) fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push(' ');
    let mut last_space = true;
    for c in text.chars() {
        if c.is_alphanumeric() || c == '\'' {
            for l in c.to_lowercase() {
                out.push(l);
            }
            last_space = false;
        } else if !last_space {
            out.push(' ');
            last_space = true;
        }
    }
    if !last_space {
        out.push(' ');
    }
    out
}

impl Lexicon {
    /// The inferred category of `comment` and `response` text, with the matched terms, or
    /// `None` when no category reaches [`Lexicon::min_score`].
    pub fn infer(&self, comment: &str, response: &str) -> Option<(String, Vec<String>)> {
        let comment = normalize(comment);
        let response = normalize(response);
        let mut best: Option<(f64, String, Vec<String>)> = None;
        let mut totals: Vec<(String, f64, Vec<String>)> = Vec::new();
        for rule in &self.rules {
            let mut score = 0.0;
            let mut evidence = Vec::new();
            for term in &rule.any_of {
                let needle = normalize(term);
                if needle.trim().is_empty() {
                    continue;
                }
                if comment.contains(&needle) {
                    score += rule.weight;
                    evidence.push(format!("comment: {}", needle.trim()));
                } else if self.response_weight > 0.0 && response.contains(&needle) {
                    score += rule.weight * self.response_weight;
                    evidence.push(format!("response: {}", needle.trim()));
                }
            }
            // Several rules may name the same category: their scores add up.
            match totals.iter_mut().find(|(c, _, _)| *c == rule.category) {
                Some((_, s, e)) => {
                    *s += score;
                    e.extend(evidence);
                }
                None => totals.push((rule.category.clone(), score, evidence)),
            }
        }
        for (category, score, evidence) in totals {
            if score >= self.min_score && best.as_ref().is_none_or(|(b, _, _)| score > *b) {
                best = Some((score, category, evidence));
            }
        }
        best.map(|(_, c, e)| (c, e))
    }

    /// Score of `category` on `text` (comment weight), used to pick among explicit ones.
    fn support(&self, category: &str, text: &str) -> f64 {
        let text = normalize(text);
        self.rules
            .iter()
            .filter(|r| r.category == category)
            .flat_map(|r| r.any_of.iter().map(move |t| (r.weight, t)))
            .filter(|(_, t)| text.contains(&normalize(t)))
            .map(|(w, _)| w)
            .sum()
    }
}

/// The category of one feedback item.
///
/// Explicit categories win; with several, the primary one is the one the comment supports
/// best by the lexicon (ties: the user's order). Without explicit categories, a category is
/// inferred from the comment and the response text (`response` may be `None`).
pub fn categorize(
    feedback: &Feedback,
    response: Option<&ResponseRecord>,
    lexicon: &Lexicon,
) -> Categorization {
    let comment = feedback.comment.as_deref().unwrap_or("");
    let explicit = feedback.categories();
    if !explicit.is_empty() {
        let mut primary = &explicit[0];
        let mut best = lexicon.support(primary.as_str(), comment);
        for c in &explicit[1..] {
            let s = lexicon.support(c.as_str(), comment);
            if s > best {
                best = s;
                primary = c;
            }
        }
        return Categorization {
            category: primary.as_str().to_string(),
            source: CategorySource::Explicit,
            evidence: explicit.iter().map(|c| c.as_str().to_string()).collect(),
        };
    }
    let response_text = response.map(|r| r.response.as_str()).unwrap_or("");
    match lexicon.infer(comment, response_text) {
        Some((category, evidence)) => Categorization {
            category,
            source: CategorySource::Inferred,
            evidence,
        },
        None => Categorization {
            category: UNCATEGORIZED.to_string(),
            source: CategorySource::Uncategorized,
            evidence: Vec::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{parse_timestamp, Category, FeedbackKind, CANONICAL_CATEGORIES};

    fn fb(kind: FeedbackKind, comment: Option<&str>) -> Feedback {
        let t = parse_timestamp("2026-09-01T10:00:00Z").unwrap();
        let mut f = Feedback::new("f1", "r1", kind, t);
        f.comment = comment.map(str::to_string);
        f
    }

    fn resp(text: &str) -> ResponseRecord {
        let t = parse_timestamp("2026-09-01T10:00:00Z").unwrap();
        ResponseRecord::new("r1", "m", "q", text, t)
    }

    #[test]
    fn explicit_wins_and_primary_is_best_supported() {
        let cats = vec![
            Category::new("factual_error").unwrap(),
            Category::new("hallucination").unwrap(),
        ];
        let f = fb(
            FeedbackKind::Full {
                rating: 1,
                categories: cats,
                correction: None,
            },
            Some("It invented a policy"),
        );
        let c = categorize(&f, None, &Lexicon::default());
        assert_eq!(c.category, "hallucination");
        assert_eq!(c.source, CategorySource::Explicit);
        assert_eq!(c.evidence, vec!["factual_error", "hallucination"]);
    }

    #[test]
    fn inferred_from_comment_with_evidence() {
        let lex = Lexicon::default();
        let f = fb(
            FeedbackKind::Thumbs { up: false },
            Some("Way too long, a wall of text"),
        );
        let c = categorize(&f, Some(&resp("ok")), &lex);
        assert_eq!(c.category, "too_verbose");
        assert_eq!(c.source, CategorySource::Inferred);
        assert_eq!(
            c.evidence,
            vec![
                "comment: too long",
                "comment: way too long",
                "comment: wall of text"
            ]
        );
        let f = fb(
            FeedbackKind::Thumbs { up: false },
            Some("The Python code throws TypeError"),
        );
        assert_eq!(categorize(&f, None, &lex).category, "code_error");
    }

    #[test]
    fn whole_words_only_and_uncategorized() {
        let lex = Lexicon::default();
        // "codec" must not match "code"; nothing else matches.
        let f = fb(FeedbackKind::Thumbs { up: false }, Some("codec settings"));
        let c = categorize(&f, None, &lex);
        assert_eq!(c.category, UNCATEGORIZED);
        assert_eq!(c.source, CategorySource::Uncategorized);
        assert!(c.evidence.is_empty());
        let f = fb(FeedbackKind::Stars { rating: 1 }, None);
        assert_eq!(
            categorize(&f, None, &lex).source,
            CategorySource::Uncategorized
        );
    }

    #[test]
    fn response_counts_at_its_weight() {
        let f = fb(FeedbackKind::Thumbs { up: false }, Some("meh"));
        let r = resp("Traceback: TypeError in your code");
        let lex = Lexicon::default();
        let c = categorize(&f, Some(&r), &lex);
        assert_eq!(c.category, "code_error");
        assert!(c.evidence.iter().all(|e| e.starts_with("response: ")));
        let mut off = lex.clone();
        off.response_weight = 0.0;
        assert_eq!(categorize(&f, Some(&r), &off).category, UNCATEGORIZED);
    }

    #[test]
    fn default_covers_canonical_and_round_trips() {
        let lex = Lexicon::default();
        for c in CANONICAL_CATEGORIES.iter().filter(|c| **c != "other") {
            assert!(lex.rules.iter().any(|r| r.category == *c), "{c}");
        }
        let json = serde_json::to_string(&lex).unwrap();
        let back: Lexicon = serde_json::from_str(&json).unwrap();
        assert_eq!(back, lex);
        let custom: Lexicon = serde_json::from_str(
            r#"{"rules":[{"category":"billing","any_of":["charged twice"]}]}"#,
        )
        .unwrap();
        assert_eq!(
            custom.infer("I was charged twice", ""),
            Some((
                "billing".to_string(),
                vec!["comment: charged twice".to_string()]
            ))
        );
    }
}
