//! End-user feedback on a response: thumbs, stars, or full (rating, categories, comment,
//! corrected answer).

use super::response::{check_id, check_text, check_time};
use super::time::{format_timestamp, parse_timestamp, Timestamp};
use super::{Category, Limits};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// The shape of a feedback item, on the wire the `variant` field.
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    /// Thumbs up / down.
    #[default]
    Thumbs,
    /// A 1–5 star rating.
    Stars,
    /// Rating plus optional categories, comment and corrected answer.
    Full,
}

impl Variant {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Variant::Thumbs => "thumbs",
            Variant::Stars => "stars",
            Variant::Full => "full",
        }
    }

    /// Parses the wire name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "thumbs" => Some(Variant::Thumbs),
            "stars" => Some(Variant::Stars),
            "full" => Some(Variant::Full),
            _ => None,
        }
    }
}

/// Whether feedback approves of a response: thumbs up or rating ≥ 4 is positive, thumbs
/// down or rating ≤ 2 negative, 3 neutral.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Polarity {
    /// Thumbs down or rating ≤ 2.
    Negative,
    /// Rating 3.
    Neutral,
    /// Thumbs up or rating ≥ 4.
    Positive,
}

impl Polarity {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Polarity::Negative => "negative",
            Polarity::Neutral => "neutral",
            Polarity::Positive => "positive",
        }
    }

    /// Parses the wire name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "negative" => Some(Polarity::Negative),
            "neutral" => Some(Polarity::Neutral),
            "positive" => Some(Polarity::Positive),
            _ => None,
        }
    }

    /// -1, 0, 1: the storage code.
    pub fn code(self) -> i8 {
        match self {
            Polarity::Negative => -1,
            Polarity::Neutral => 0,
            Polarity::Positive => 1,
        }
    }

    /// The polarity of a 1–5 rating.
    pub fn of_rating(rating: u8) -> Self {
        match rating {
            0..=2 => Polarity::Negative,
            3 => Polarity::Neutral,
            _ => Polarity::Positive,
        }
    }
}

/// What the user said, by variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedbackKind {
    /// Thumbs up (`true`) or down.
    Thumbs {
        /// `true` for thumbs up.
        up: bool,
    },
    /// A star rating.
    Stars {
        /// 1..=5.
        rating: u8,
    },
    /// A full review.
    Full {
        /// 1..=5.
        rating: u8,
        /// Explicit error categories (may be empty).
        categories: Vec<Category>,
        /// The answer the user says would have been right.
        correction: Option<String>,
    },
}

/// One feedback item on one response.
///
/// Serialises to the import format's flat shape (`variant`, `thumbs_up`, `rating`, ...),
/// without the `type` field.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "FeedbackWire")]
pub struct Feedback {
    /// Unique id; derived from the content when the input has none.
    pub id: String,
    /// The response this is about.
    pub response_id: String,
    /// The variant and its values.
    pub kind: FeedbackKind,
    /// Free-text comment.
    pub comment: Option<String>,
    /// Who gave it (opaque).
    pub user_id: Option<String>,
    /// When it was given.
    pub created_at: Timestamp,
}

impl Feedback {
    /// Feedback with a given kind and no comment or user; `id` empty means "derive it".
    pub fn new(
        id: impl Into<String>,
        response_id: impl Into<String>,
        kind: FeedbackKind,
        created_at: Timestamp,
    ) -> Self {
        let mut f = Feedback {
            id: id.into(),
            response_id: response_id.into(),
            kind,
            comment: None,
            user_id: None,
            created_at,
        };
        if f.id.is_empty() {
            f.id = f.derived_id();
        }
        f
    }

    /// The variant.
    pub fn variant(&self) -> Variant {
        match self.kind {
            FeedbackKind::Thumbs { .. } => Variant::Thumbs,
            FeedbackKind::Stars { .. } => Variant::Stars,
            FeedbackKind::Full { .. } => Variant::Full,
        }
    }

    /// The rating, for stars and full feedback.
    pub fn rating(&self) -> Option<u8> {
        match self.kind {
            FeedbackKind::Thumbs { .. } => None,
            FeedbackKind::Stars { rating } | FeedbackKind::Full { rating, .. } => Some(rating),
        }
    }

    /// Thumbs up/down, for thumbs feedback.
    pub fn thumbs_up(&self) -> Option<bool> {
        match self.kind {
            FeedbackKind::Thumbs { up } => Some(up),
            _ => None,
        }
    }

    /// Explicit categories (empty unless full).
    pub fn categories(&self) -> &[Category] {
        match &self.kind {
            FeedbackKind::Full { categories, .. } => categories,
            _ => &[],
        }
    }

    /// The corrected answer, if any.
    pub fn correction(&self) -> Option<&str> {
        match &self.kind {
            FeedbackKind::Full { correction, .. } => correction.as_deref(),
            _ => None,
        }
    }

    /// Positive, negative or neutral.
    pub fn polarity(&self) -> Polarity {
        match self.kind {
            FeedbackKind::Thumbs { up: true } => Polarity::Positive,
            FeedbackKind::Thumbs { up: false } => Polarity::Negative,
            FeedbackKind::Stars { rating } | FeedbackKind::Full { rating, .. } => {
                Polarity::of_rating(rating)
            }
        }
    }

    /// Score in [0, 1]: thumbs up 1, down 0, a rating r maps to (r − 1) / 4.
    pub fn score(&self) -> f64 {
        match self.kind {
            FeedbackKind::Thumbs { up } => f64::from(u8::from(up)),
            FeedbackKind::Stars { rating } | FeedbackKind::Full { rating, .. } => {
                (f64::from(rating) - 1.0) / 4.0
            }
        }
    }

    /// Checks ids, ratings, sizes and that `created_at` is in the supported range
    /// ([`super::SUPPORTED_RANGE`]); the error names the field.
    pub fn validate(&self, limits: &Limits) -> Result<()> {
        check_id("id", &self.id, limits)?;
        check_id("response_id", &self.response_id, limits)?;
        check_time("created_at", &self.created_at)?;
        if let Some(u) = &self.user_id {
            check_id("user_id", u, limits)?;
        }
        if let Some(c) = &self.comment {
            check_text("comment", c, limits.max_comment_bytes, true)?;
        }
        match &self.kind {
            FeedbackKind::Thumbs { .. } => {}
            FeedbackKind::Stars { rating } => {
                check_rating(i64::from(*rating))?;
            }
            FeedbackKind::Full {
                rating,
                categories,
                correction,
            } => {
                check_rating(i64::from(*rating))?;
                if categories.len() > limits.max_categories {
                    return Err(Error::invalid(
                        "categories",
                        format!(
                            "{} categories; the limit is {}",
                            categories.len(),
                            limits.max_categories
                        ),
                    ));
                }
                if let Some(c) = correction {
                    check_text("correction", c, limits.max_text_bytes, false)?;
                }
            }
        }
        Ok(())
    }

    /// The id derived from the content (everything but the id): the same feedback imported
    /// twice without ids is recognised as one item.
    pub fn derived_id(&self) -> String {
        let mut wire = WireRef::from(self);
        wire.id = None;
        let digest = super::json_sha256(&wire);
        format!("fb_{}", hex::encode(&digest[..12]))
    }

    /// SHA-256 of the canonical JSON form, used to tell a re-import from a conflict.
    pub fn content_hash(&self) -> [u8; 32] {
        super::json_sha256(self)
    }
}

pub(crate) fn check_rating(rating: i64) -> Result<u8> {
    if (1..=5).contains(&rating) {
        Ok(rating as u8)
    } else {
        Err(Error::invalid(
            "rating",
            format!("{rating} is out of range; ratings are 1 to 5"),
        ))
    }
}

impl Serialize for Feedback {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        WireRef::from(self).serialize(serializer)
    }
}

/// [`FeedbackWire`] borrowing from a [`Feedback`]: serialising (and hashing) needs no copies.
/// Fields in the same order as `FeedbackWire`, so both give the same JSON.
#[derive(Serialize)]
struct WireRef<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    response_id: &'a str,
    variant: Variant,
    #[serde(skip_serializing_if = "Option::is_none")]
    thumbs_up: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rating: Option<i64>,
    #[serde(skip_serializing_if = "<[Category]>::is_empty")]
    categories: &'a [Category],
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    correction: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<&'a str>,
    created_at: String,
}

impl<'a> From<&'a Feedback> for WireRef<'a> {
    fn from(f: &'a Feedback) -> Self {
        WireRef {
            id: Some(&f.id),
            response_id: &f.response_id,
            variant: f.variant(),
            thumbs_up: f.thumbs_up(),
            rating: f.rating().map(i64::from),
            categories: f.categories(),
            comment: f.comment.as_deref(),
            correction: f.correction(),
            user_id: f.user_id.as_deref(),
            created_at: format_timestamp(&f.created_at),
        }
    }
}

/// The flat wire shape shared by the import format, export and the bindings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FeedbackWire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub response_id: String,
    pub variant: Variant,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbs_up: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<Category>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correction: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    pub created_at: String,
}

impl TryFrom<FeedbackWire> for Feedback {
    type Error = Error;
    fn try_from(w: FeedbackWire) -> Result<Self> {
        let created_at =
            parse_timestamp(&w.created_at).map_err(|r| Error::invalid("created_at", r))?;
        let kind = build_kind(w.variant, w.thumbs_up, w.rating, w.categories, w.correction)?;
        let mut f = Feedback {
            id: w.id.unwrap_or_default(),
            response_id: w.response_id,
            kind,
            comment: w.comment,
            user_id: w.user_id,
            created_at,
        };
        if f.id.is_empty() {
            f.id = f.derived_id();
        }
        Ok(f)
    }
}

/// Builds the kind from flat fields, naming the field that does not fit the variant.
pub(crate) fn build_kind(
    variant: Variant,
    thumbs_up: Option<bool>,
    rating: Option<i64>,
    categories: Vec<Category>,
    correction: Option<String>,
) -> Result<FeedbackKind> {
    let only_full = |field: &str| {
        Error::invalid(
            field,
            format!(
                "not allowed with variant `{}`; use variant `full`",
                variant.as_str()
            ),
        )
    };
    match variant {
        Variant::Thumbs => {
            if rating.is_some() {
                return Err(Error::invalid(
                    "rating",
                    "not allowed with variant `thumbs`; use `thumbs_up`, or variant `stars`",
                ));
            }
            if !categories.is_empty() {
                return Err(only_full("categories"));
            }
            if correction.is_some() {
                return Err(only_full("correction"));
            }
            let up = thumbs_up.ok_or_else(|| {
                Error::invalid(
                    "thumbs_up",
                    "required with variant `thumbs` (true or false)",
                )
            })?;
            Ok(FeedbackKind::Thumbs { up })
        }
        Variant::Stars | Variant::Full => {
            if thumbs_up.is_some() {
                return Err(Error::invalid(
                    "thumbs_up",
                    format!(
                        "not allowed with variant `{}`; use `rating`",
                        variant.as_str()
                    ),
                ));
            }
            let rating = rating.ok_or_else(|| {
                Error::invalid(
                    "rating",
                    format!("required with variant `{}` (1 to 5)", variant.as_str()),
                )
            })?;
            let rating = check_rating(rating)?;
            if variant == Variant::Stars {
                if !categories.is_empty() {
                    return Err(only_full("categories"));
                }
                if correction.is_some() {
                    return Err(only_full("correction"));
                }
                return Ok(FeedbackKind::Stars { rating });
            }
            let mut categories = categories;
            categories.sort();
            categories.dedup();
            Ok(FeedbackKind::Full {
                rating,
                categories,
                correction,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts() -> Timestamp {
        parse_timestamp("2026-09-01T10:05:00Z").expect("valid")
    }

    #[test]
    fn polarity_and_score() {
        let up = Feedback::new("", "r1", FeedbackKind::Thumbs { up: true }, ts());
        assert_eq!(up.polarity(), Polarity::Positive);
        assert_eq!(up.score(), 1.0);
        for (r, p, s) in [
            (1, Polarity::Negative, 0.0),
            (2, Polarity::Negative, 0.25),
            (3, Polarity::Neutral, 0.5),
            (4, Polarity::Positive, 0.75),
            (5, Polarity::Positive, 1.0),
        ] {
            let f = Feedback::new("x", "r1", FeedbackKind::Stars { rating: r }, ts());
            assert_eq!(f.polarity(), p);
            assert_eq!(f.score(), s);
        }
    }

    #[test]
    fn wire_round_trip_and_derived_ids() {
        let f = Feedback::new(
            "",
            "r1",
            FeedbackKind::Full {
                rating: 1,
                categories: vec![Category::new("hallucination").expect("valid")],
                correction: Some("30 days".into()),
            },
            ts(),
        );
        assert!(f.id.starts_with("fb_"));
        let json = serde_json::to_string(&f).expect("serialises");
        assert!(json.contains(r#""variant":"full""#), "{json}");
        let back: Feedback = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, f);
        let mut other = f.clone();
        other.comment = Some("different".into());
        assert_ne!(other.derived_id(), f.derived_id());
    }

    #[test]
    fn variant_field_mismatches_name_the_field() {
        let e = build_kind(Variant::Thumbs, None, None, vec![], None).expect_err("invalid");
        assert!(matches!(e, Error::InvalidInput { ref field, .. } if field == "thumbs_up"));
        let e = build_kind(Variant::Stars, None, Some(7), vec![], None).expect_err("invalid");
        assert!(e.to_string().contains("7 is out of range"), "{e}");
        let e = build_kind(Variant::Thumbs, Some(true), Some(3), vec![], None).expect_err("x");
        assert!(matches!(e, Error::InvalidInput { ref field, .. } if field == "rating"));
    }
}
