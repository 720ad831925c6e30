//! User-supplied rule tables: the categorisation lexicon and the suggestion rules, as data
//! ([`LexiconFile`], [`RulesFile`]) checked before use, so a typo names its place instead of
//! silently matching nothing.
//!
//! Both are objects with a `rules` array and `extends_default` (default `true`): when
//! true, the table's rules come first and the built-in ones follow (the table wins ties); when
//! false, only the table's rules apply. [`default_rule_tables`] is the built-in pair in the
//! same form, for a front to show or edit.
//!
//! ```
//! use tuneloop::analysis::rule_files::{lexicon_from_json, rules_from_json};
//!
//! let lexicon = lexicon_from_json(
//!     r#"{"rules": [{"category": "billing", "any_of": ["charged twice"]}]}"#,
//! ).unwrap();
//! assert_eq!(lexicon.rules[0].category, "billing");
//! assert!(lexicon.rules.len() > 1); // the defaults follow
//!
//! let err = rules_from_json(r#"{"rules": [{"category": "billing", "title": "t",
//!     "action": "a", "base_priority": -1}]}"#).unwrap_err();
//! assert!(err.to_string().contains("rules[0].base_priority"));
//! ```

use super::categorize::{Lexicon, Rule};
use super::suggest::{default_rules, SuggestionRule, ANY_CATEGORY};
use crate::model::Category;
use crate::{Error, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A categorisation lexicon as data (a `--lexicon` file's content). [`LexiconFile::lexicon`]
/// checks it and builds the [`Lexicon`] it describes.
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LexiconFile {
    /// Whether the built-in rules follow these (default `true`).
    #[serde(default = "yes")]
    pub extends_default: bool,
    /// The rules, in tie-breaking order.
    pub rules: Vec<Rule>,
    /// Factor on terms matched in the response rather than the comment; `None`: the
    /// built-in value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_weight: Option<f64>,
    /// Minimum score for an inferred category; `None`: the built-in value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_score: Option<f64>,
}

/// Suggestion rules as data (a `--rules` file's content). [`RulesFile::rules`] checks them
/// and builds the table they describe.
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesFile {
    /// Whether the built-in rules follow these (default `true`).
    #[serde(default = "yes")]
    pub extends_default: bool,
    /// The rules; each fires at most once per category.
    pub rules: Vec<SuggestionRule>,
}

/// Both rule tables, as data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleTables {
    /// Infers categories from comments.
    pub lexicon: LexiconFile,
    /// Maps patterns and trends to suggestions.
    pub rules: RulesFile,
}

/// The built-in tables as data (`extends_default: false`, every rule and knob spelled out):
/// passing them back gives the same analysis as passing none.
pub fn default_rule_tables() -> RuleTables {
    let lexicon = Lexicon::default();
    RuleTables {
        lexicon: LexiconFile {
            extends_default: false,
            rules: lexicon.rules,
            response_weight: Some(lexicon.response_weight),
            min_score: Some(lexicon.min_score),
        },
        rules: RulesFile {
            extends_default: false,
            rules: default_rules(),
        },
    }
}

fn yes() -> bool {
    true
}

/// Parses JSON, naming the path of the first offending field.
fn parse<T: DeserializeOwned>(text: &str) -> Result<T> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." || path == "?" {
            "(file)".to_string()
        } else {
            path
        };
        Error::invalid(field, e.into_inner().to_string())
    })
}

fn check_category(field: String, name: &str, allow_any: bool) -> Result<()> {
    if allow_any && name == ANY_CATEGORY {
        return Ok(());
    }
    match Category::new(name) {
        Ok(c) if c.as_str() == name => Ok(()),
        Ok(c) => Err(Error::invalid(
            field,
            format!(
                "category `{name}` must be written in lower case (`{}`)",
                c.as_str()
            ),
        )),
        Err(reason) => Err(Error::invalid(field, reason)),
    }
}

fn check_number(field: String, x: f64, min: f64) -> Result<()> {
    if x.is_finite() && x >= min {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!("must be a number ≥ {min}, got {x}"),
        ))
    }
}

impl LexiconFile {
    /// Parses a lexicon file's text; a syntax or shape error names the path of the first
    /// offending field (`rules[0].wieght`), the text as a whole as `(file)`.
    pub fn from_json(text: &str) -> Result<LexiconFile> {
        parse(text)
    }

    /// Checks the table and builds the lexicon it describes; an error names the offending
    /// field (`rules[2].any_of[0]`).
    pub fn lexicon(&self) -> Result<Lexicon> {
        for (i, rule) in self.rules.iter().enumerate() {
            check_category(format!("rules[{i}].category"), &rule.category, false)?;
            check_number(format!("rules[{i}].weight"), rule.weight, 0.0)?;
            if rule.any_of.is_empty() {
                return Err(Error::invalid(
                    format!("rules[{i}].any_of"),
                    "needs at least one word or phrase",
                ));
            }
            for (j, term) in rule.any_of.iter().enumerate() {
                if !term.chars().any(|c| c.is_alphanumeric()) {
                    return Err(Error::invalid(
                        format!("rules[{i}].any_of[{j}]"),
                        format!("`{term}` has no letter or digit, so it can never match"),
                    ));
                }
            }
        }
        let base = Lexicon::default();
        let response_weight = self.response_weight.unwrap_or(base.response_weight);
        check_number("response_weight".into(), response_weight, 0.0)?;
        let min_score = self.min_score.unwrap_or(base.min_score);
        check_number("min_score".into(), min_score, 0.0)?;
        let mut rules = self.rules.clone();
        if self.extends_default {
            rules.extend(base.rules);
        }
        Ok(Lexicon {
            rules,
            response_weight,
            min_score,
        })
    }
}

impl RulesFile {
    /// Parses a rules file's text; a syntax or shape error names the path of the first
    /// offending field, the text as a whole as `(file)`.
    pub fn from_json(text: &str) -> Result<RulesFile> {
        parse(text)
    }

    /// Checks the rules and builds the table they describe; an error names the offending
    /// field (`rules[0].when.min_share`).
    pub fn rules(&self) -> Result<Vec<SuggestionRule>> {
        for (i, rule) in self.rules.iter().enumerate() {
            check_category(format!("rules[{i}].category"), &rule.category, true)?;
            check_number(format!("rules[{i}].base_priority"), rule.base_priority, 0.0)?;
            check_number(
                format!("rules[{i}].when.min_share"),
                rule.when.min_share,
                0.0,
            )?;
            if rule.when.min_share > 1.0 {
                return Err(Error::invalid(
                    format!("rules[{i}].when.min_share"),
                    "is a share of the negatives, between 0 and 1",
                ));
            }
            for (field, value) in [("title", &rule.title), ("action", &rule.action)] {
                if value.trim().is_empty() {
                    return Err(Error::invalid(
                        format!("rules[{i}].{field}"),
                        "must not be empty",
                    ));
                }
            }
        }
        let mut rules = self.rules.clone();
        if self.extends_default {
            rules.extend(default_rules());
        }
        Ok(rules)
    }
}

/// A [`Lexicon`] from a lexicon file's text (see the module documentation).
pub fn lexicon_from_json(text: &str) -> Result<Lexicon> {
    LexiconFile::from_json(text)?.lexicon()
}

/// Suggestion rules from a rules file's text (see the module documentation).
pub fn rules_from_json(text: &str) -> Result<Vec<SuggestionRule>> {
    RulesFile::from_json(text)?.rules()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexicon_file_extends_or_replaces_the_default() {
        let extended =
            lexicon_from_json(r#"{"rules":[{"category":"billing","any_of":["charged twice"]}]}"#)
                .unwrap();
        assert_eq!(extended.rules.len(), Lexicon::default().rules.len() + 1);
        let (category, evidence) = extended.infer("I was charged twice!", "").unwrap();
        assert_eq!(
            (category.as_str(), evidence[0].as_str()),
            ("billing", "comment: charged twice")
        );
        assert_eq!(
            extended.infer("it made up a policy", "").unwrap().0,
            "hallucination"
        );

        let only = lexicon_from_json(
            r#"{"extends_default":false,"min_score":2,"rules":[{"category":"billing","any_of":["charged twice"],"weight":2}]}"#,
        )
        .unwrap();
        assert_eq!(only.rules.len(), 1);
        assert_eq!(only.min_score, 2.0);
        assert!(only.infer("it made up a policy", "").is_none());
    }

    #[test]
    fn lexicon_errors_name_the_field() {
        let cases = [
            (
                r#"{"rules":[{"category":"Bad Name","any_of":["x"]}]}"#,
                "rules[0].category",
            ),
            (
                r#"{"rules":[{"category":"Billing","any_of":["x"]}]}"#,
                "rules[0].category",
            ),
            (
                r#"{"rules":[{"category":"b","any_of":[]}]}"#,
                "rules[0].any_of",
            ),
            (
                r#"{"rules":[{"category":"b","any_of":["ok","--"]}]}"#,
                "rules[0].any_of[1]",
            ),
            (
                r#"{"rules":[{"category":"b","any_of":["x"],"weight":-1}]}"#,
                "rules[0].weight",
            ),
            (
                r#"{"rules":[{"category":"b","any_of":["x"],"wieght":1}]}"#,
                "rules[0]",
            ),
            (r#"{"rules":[],"min_score":-2}"#, "min_score"),
            (r#"{"rulez":[]}"#, "rulez"),
            ("{not json", "(file)"),
        ];
        for (text, field) in cases {
            match lexicon_from_json(text) {
                Err(Error::InvalidInput { field: f, reason }) => {
                    assert!(f.starts_with(field), "{text}: field {f} ({reason})")
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn rules_file_extends_or_replaces_the_default() {
        let text = r#"{"rules":[{"category":"billing","when":{"min_size":3},
            "title":"Fix billing answers","action":"Add the billing FAQ to retrieval.",
            "base_priority":8}]}"#;
        let rules = rules_from_json(text).unwrap();
        assert_eq!(rules.len(), default_rules().len() + 1);
        assert_eq!(rules[0].title, "Fix billing answers");
        let only = rules_from_json(&text.replacen('{', r#"{"extends_default":false,"#, 1)).unwrap();
        assert_eq!(only.len(), 1);
        assert_eq!(only[0].when.min_size, 3);
    }

    #[test]
    fn rules_errors_name_the_field() {
        let rule = |extra: &str| {
            format!(
                r#"{{"rules":[{{"category":"billing","title":"t","action":"a","base_priority":1{extra}}}]}}"#
            )
        };
        let cases = [
            (
                rule(r#","when":{"min_share":1.5}"#),
                "rules[0].when.min_share",
            ),
            (
                rule(r#","when":{"direction":"up"}"#),
                "rules[0].when.direction",
            ),
            (rule(r#","when":{"min_sise":2}"#), "rules[0].when"),
            (
                rule(r#","title":"  ""#).replacen(r#""title":"t","#, "", 1),
                "rules[0].title",
            ),
            (rule("").replace("billing", "Bill ing"), "rules[0].category"),
            (
                rule("").replace(r#""base_priority":1"#, r#""base_priority":"high""#),
                "rules[0].base_priority",
            ),
        ];
        for (text, field) in cases {
            match rules_from_json(&text) {
                Err(Error::InvalidInput { field: f, reason }) => {
                    assert!(f.starts_with(field), "{text}: field {f} ({reason})")
                }
                other => panic!("{text}: {other:?}"),
            }
        }
        assert!(rules_from_json(&rule(r#","category":"*""#).replacen(
            r#""category":"billing","#,
            "",
            1
        ))
        .is_ok());
    }

    #[test]
    fn default_tables_as_data_build_the_defaults() {
        let tables = default_rule_tables();
        assert_eq!(tables.lexicon.lexicon().unwrap(), Lexicon::default());
        assert_eq!(tables.rules.rules().unwrap(), default_rules());
        assert!(!tables.rules.rules.is_empty());
        // The JSON form reads back as itself, so a front can show, edit and send it.
        let text = serde_json::to_string(&tables).unwrap();
        let back: RuleTables = serde_json::from_str(&text).unwrap();
        assert_eq!(back, tables);
        let lexicon = serde_json::to_string(&tables.lexicon).unwrap();
        assert_eq!(LexiconFile::from_json(&lexicon).unwrap(), tables.lexicon);
    }
}
