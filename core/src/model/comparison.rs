//! Pairwise feedback: a judgment between two responses to the same conversation context,
//! usually of different models (the import format's `comparison` line).

use super::response::{check_id, check_text, check_time};
use super::time::{format_timestamp, parse_timestamp, Timestamp};
use super::Limits;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Which response of a comparison won, on the wire `"a"`, `"b"` or `"tie"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Winner {
    /// `response_a` is better.
    A,
    /// `response_b` is better.
    B,
    /// Neither is better.
    Tie,
}

impl Winner {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Winner::A => "a",
            Winner::B => "b",
            Winner::Tie => "tie",
        }
    }

    /// Parses the wire name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "a" => Some(Winner::A),
            "b" => Some(Winner::B),
            "tie" => Some(Winner::Tie),
            _ => None,
        }
    }
}

/// One pairwise judgment: of two responses to the same conversation context (same prior
/// turns and query, [`super::ResponseRecord::context_key`]), which one is better, or a tie.
///
/// ```
/// use tuneloop::model::{parse_timestamp, Comparison, Winner};
/// let c = Comparison::new("", "r1", "r2", Winner::A, parse_timestamp("2026-09-01T10:06:00Z").unwrap());
/// assert!(c.id.starts_with("cmp_"));
/// c.validate(&Default::default()).unwrap();
/// assert_eq!(c.winner_and_loser(), Some(("r1", "r2")));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ComparisonWire")]
pub struct Comparison {
    /// Unique id; derived from the content when the input has none.
    pub id: String,
    /// The first response shown.
    pub response_a: String,
    /// The second response shown.
    pub response_b: String,
    /// Which one won.
    pub winner: Winner,
    /// Who judged (a user or an annotator; opaque).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Why, in their words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// When the judgment was made.
    #[serde(with = "super::time::serde_ts")]
    pub created_at: Timestamp,
}

impl Comparison {
    /// A comparison without user or comment; `id` empty means "derive it".
    pub fn new(
        id: impl Into<String>,
        response_a: impl Into<String>,
        response_b: impl Into<String>,
        winner: Winner,
        created_at: Timestamp,
    ) -> Self {
        let mut c = Comparison {
            id: id.into(),
            response_a: response_a.into(),
            response_b: response_b.into(),
            winner,
            user_id: None,
            comment: None,
            created_at,
        };
        if c.id.is_empty() {
            c.id = c.derived_id();
        }
        c
    }

    /// The winning and the losing response ids; `None` for a tie.
    pub fn winner_and_loser(&self) -> Option<(&str, &str)> {
        match self.winner {
            Winner::A => Some((&self.response_a, &self.response_b)),
            Winner::B => Some((&self.response_b, &self.response_a)),
            Winner::Tie => None,
        }
    }

    /// Checks ids, sizes, that the two responses differ and that `created_at` is in the
    /// supported range; the error names the field. Whether both responses exist and answer
    /// the same context is the store's and the importer's check.
    pub fn validate(&self, limits: &Limits) -> Result<()> {
        check_id("id", &self.id, limits)?;
        check_id("response_a", &self.response_a, limits)?;
        check_id("response_b", &self.response_b, limits)?;
        if self.response_a == self.response_b {
            return Err(Error::invalid(
                "response_b",
                "is the same response as response_a; a comparison needs two responses",
            ));
        }
        check_time("created_at", &self.created_at)?;
        if let Some(u) = &self.user_id {
            check_id("user_id", u, limits)?;
        }
        if let Some(c) = &self.comment {
            check_text("comment", c, limits.max_comment_bytes, true)?;
        }
        Ok(())
    }

    /// The id derived from the content (everything but the id), `cmp_` and 24 hex digits:
    /// the same comparison imported twice without ids is recognised as one.
    pub fn derived_id(&self) -> String {
        let mut c = self.clone();
        c.id = String::new();
        let digest = super::json_sha256(&c);
        format!("cmp_{}", hex::encode(&digest[..12]))
    }

    /// SHA-256 of the canonical JSON form, used to tell a re-import from a conflict.
    pub fn content_hash(&self) -> [u8; 32] {
        super::json_sha256(self)
    }

    /// Names the fields in which `other` differs, for conflict messages.
    pub fn conflict_with(&self, other: &Comparison) -> String {
        let mut fields = Vec::new();
        if self.response_a != other.response_a {
            fields.push("response_a");
        }
        if self.response_b != other.response_b {
            fields.push("response_b");
        }
        if self.winner != other.winner {
            fields.push("winner");
        }
        if self.user_id != other.user_id {
            fields.push("user_id");
        }
        if self.comment != other.comment {
            fields.push("comment");
        }
        if self.created_at != other.created_at {
            fields.push("created_at");
        }
        super::conflict_message("a comparison", &fields)
    }
}

/// The wire shape: `id` optional, timestamps as text.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ComparisonWire {
    #[serde(default)]
    id: Option<String>,
    response_a: String,
    response_b: String,
    winner: Winner,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    comment: Option<String>,
    created_at: String,
}

impl TryFrom<ComparisonWire> for Comparison {
    type Error = Error;
    fn try_from(w: ComparisonWire) -> Result<Self> {
        let created_at =
            parse_timestamp(&w.created_at).map_err(|r| Error::invalid("created_at", r))?;
        let mut c = Comparison {
            id: w.id.unwrap_or_default(),
            response_a: w.response_a,
            response_b: w.response_b,
            winner: w.winner,
            user_id: w.user_id,
            comment: w.comment,
            created_at,
        };
        if c.id.is_empty() {
            c.id = c.derived_id();
        }
        Ok(c)
    }
}

impl std::fmt::Display for Comparison {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({} vs {}: {}, {})",
            self.id,
            self.response_a,
            self.response_b,
            self.winner.as_str(),
            format_timestamp(&self.created_at)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts() -> Timestamp {
        parse_timestamp("2026-09-01T10:06:00Z").expect("valid")
    }

    #[test]
    fn wire_matches_the_design_line() {
        let line = r#"{"id":"c1","response_a":"r1","response_b":"r2","winner":"a","user_id":"u9","comment":"b rambles","created_at":"2026-09-01T10:06:00Z"}"#;
        let c: Comparison = serde_json::from_str(line).expect("parses");
        assert_eq!(c.winner, Winner::A);
        assert_eq!(c.user_id.as_deref(), Some("u9"));
        assert_eq!(serde_json::to_string(&c).expect("serialises"), line);
    }

    #[test]
    fn derived_ids_follow_the_content() {
        let a = Comparison::new("", "r1", "r2", Winner::A, ts());
        let same = Comparison::new("", "r1", "r2", Winner::A, ts());
        let other = Comparison::new("", "r1", "r2", Winner::Tie, ts());
        assert_eq!(a.id, same.id);
        assert_ne!(a.id, other.id);
        let parsed: Comparison = serde_json::from_str(
            r#"{"response_a":"r1","response_b":"r2","winner":"a","created_at":"2026-09-01T10:06:00Z"}"#,
        )
        .expect("parses");
        assert_eq!(parsed.id, a.id);
    }

    #[test]
    fn validation_names_the_field() {
        let same = Comparison::new("c", "r1", "r1", Winner::B, ts());
        let e = same.validate(&Limits::default()).expect_err("invalid");
        assert!(matches!(e, Error::InvalidInput { ref field, .. } if field == "response_b"));
        let mut long = Comparison::new("c", "r1", "r2", Winner::B, ts());
        long.comment = Some("x".repeat(Limits::default().max_comment_bytes + 1));
        let e = long.validate(&Limits::default()).expect_err("invalid");
        assert!(matches!(e, Error::InvalidInput { ref field, .. } if field == "comment"));
        let old = Comparison::new(
            "c",
            "r1",
            "r2",
            Winner::B,
            parse_timestamp("1990-01-01").expect("valid"),
        );
        assert!(old.validate(&Limits::default()).is_err());
        assert_eq!(
            Comparison::new("c", "r1", "r2", Winner::B, ts()).winner_and_loser(),
            Some(("r2", "r1"))
        );
    }
}
