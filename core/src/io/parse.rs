//! Parsing and validating one import line into model values.

use crate::error::{Error, LineError};
use crate::model::{parse_timestamp, Category, Feedback, Limits, Message, ResponseRecord, Variant};
use serde::Deserialize;

/// The records one valid line holds.
#[derive(Debug, Clone, PartialEq)]
pub enum ParsedLine {
    /// A response, with any feedback embedded under `"feedback"`.
    Response(ResponseRecord, Vec<Feedback>),
    /// A feedback item.
    Feedback(Feedback),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLine {
    #[serde(rename = "type")]
    kind: Option<String>,
    id: Option<String>,
    model_id: Option<String>,
    query: Option<String>,
    response: Option<String>,
    created_at: Option<String>,
    conversation: Option<Vec<Message>>,
    metadata: Option<serde_json::Map<String, serde_json::Value>>,
    feedback: Option<OneOrMany>,
    response_id: Option<String>,
    variant: Option<String>,
    thumbs_up: Option<bool>,
    rating: Option<i64>,
    categories: Option<Vec<String>>,
    comment: Option<String>,
    correction: Option<String>,
    user_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(Box<RawFeedback>),
    Many(Vec<RawFeedback>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFeedback {
    #[serde(rename = "type")]
    kind: Option<String>,
    id: Option<String>,
    response_id: Option<String>,
    variant: Option<String>,
    thumbs_up: Option<bool>,
    rating: Option<i64>,
    categories: Option<Vec<String>>,
    comment: Option<String>,
    correction: Option<String>,
    user_id: Option<String>,
    created_at: Option<String>,
}

fn line_err(line: usize, field: impl Into<String>, reason: impl Into<String>) -> LineError {
    let field: String = field.into();
    LineError {
        line,
        field: (!field.is_empty()).then_some(field),
        reason: reason.into(),
    }
}

fn from_error(line: usize, prefix: &str, e: Error) -> LineError {
    match e {
        Error::InvalidInput { field, reason } => line_err(line, join(prefix, &field), reason),
        other => line_err(line, prefix, other.to_string()),
    }
}

fn join(prefix: &str, field: &str) -> String {
    match (prefix.is_empty(), field.is_empty()) {
        (true, _) => field.to_string(),
        (false, true) => prefix.to_string(),
        (false, false) => format!("{prefix}.{field}"),
    }
}

/// Parses and validates one line (1-based `line` for messages). Blank lines are the
/// caller's business.
pub fn parse_line(text: &str, line: usize, limits: &Limits) -> Result<ParsedLine, LineError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let raw: RawLine = match serde_path_to_error::deserialize(&mut de) {
        Ok(raw) => raw,
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let reason = if inner.is_syntax() || inner.is_eof() {
                format!("not valid JSON: {inner}")
            } else {
                strip_position(&inner.to_string())
            };
            let field = if path == "." { String::new() } else { path };
            return Err(line_err(line, field, reason));
        }
    };
    if let Err(e) = de.end() {
        return Err(line_err(line, "", format!("not valid JSON: {e}")));
    }
    match raw.kind.as_deref() {
        Some("response") => parse_response(raw, line, limits),
        Some("feedback") => parse_feedback_line(raw, line, limits),
        Some(other) => Err(line_err(
            line,
            "type",
            format!("`{other}` is not a record type; expected \"response\" or \"feedback\""),
        )),
        None => Err(line_err(
            line,
            "type",
            "missing; every line needs \"type\": \"response\" or \"feedback\"",
        )),
    }
}

/// serde_json appends " at line 1 column 40"; the import reports its own line numbers.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

fn required<T>(value: Option<T>, line: usize, field: &str, kind: &str) -> Result<T, LineError> {
    value.ok_or_else(|| line_err(line, field, format!("required on a {kind} line")))
}

/// The first field present that does not belong on this kind of line.
fn reject_misplaced(line: usize, fields: &[(&str, bool)], reason: &str) -> Result<(), LineError> {
    match fields.iter().find(|(_, present)| *present) {
        Some((field, _)) => Err(line_err(line, *field, reason)),
        None => Ok(()),
    }
}

fn required_time(
    value: Option<String>,
    line: usize,
    kind: &str,
) -> Result<crate::model::Timestamp, LineError> {
    let text = required(value, line, "created_at", kind)?;
    parse_timestamp(&text).map_err(|r| line_err(line, "created_at", r))
}

fn parse_response(raw: RawLine, line: usize, limits: &Limits) -> Result<ParsedLine, LineError> {
    let misplaced = [
        ("response_id", raw.response_id.is_some()),
        ("variant", raw.variant.is_some()),
        ("thumbs_up", raw.thumbs_up.is_some()),
        ("rating", raw.rating.is_some()),
        ("categories", raw.categories.is_some()),
        ("comment", raw.comment.is_some()),
        ("correction", raw.correction.is_some()),
        ("user_id", raw.user_id.is_some()),
    ];
    reject_misplaced(
        line,
        &misplaced,
        "belongs to feedback, not to a response; put feedback under \"feedback\" or on its own line",
    )?;
    let created_at = required_time(raw.created_at, line, "response")?;
    let record = ResponseRecord {
        id: required(raw.id, line, "id", "response")?,
        model_id: required(raw.model_id, line, "model_id", "response")?,
        query: required(raw.query, line, "query", "response")?,
        response: required(raw.response, line, "response", "response")?,
        conversation: raw.conversation.unwrap_or_default(),
        metadata: raw.metadata.unwrap_or_default(),
        created_at,
    };
    record
        .validate(limits)
        .map_err(|e| from_error(line, "", e))?;
    let raw_feedback = match raw.feedback {
        None => Vec::new(),
        Some(OneOrMany::One(f)) => vec![*f],
        Some(OneOrMany::Many(v)) => v,
    };
    let many = raw_feedback.len() > 1;
    let mut feedback = Vec::with_capacity(raw_feedback.len());
    for (i, f) in raw_feedback.into_iter().enumerate() {
        let prefix = if many {
            format!("feedback[{i}]")
        } else {
            "feedback".to_string()
        };
        if let Some(k) = f.kind.as_deref() {
            if k != "feedback" {
                return Err(line_err(
                    line,
                    join(&prefix, "type"),
                    format!("`{k}` inside \"feedback\"; only \"feedback\" is allowed"),
                ));
            }
        }
        if let Some(rid) = &f.response_id {
            if rid != &record.id {
                return Err(line_err(
                    line,
                    join(&prefix, "response_id"),
                    format!(
                        "`{rid}` differs from the enclosing response id `{}`",
                        record.id
                    ),
                ));
            }
        }
        let created = match f.created_at {
            Some(t) => {
                parse_timestamp(&t).map_err(|r| line_err(line, join(&prefix, "created_at"), r))?
            }
            None => record.created_at,
        };
        let fb = build_feedback(
            &prefix,
            line,
            limits,
            FeedbackFields {
                id: f.id,
                response_id: record.id.clone(),
                variant: f.variant,
                thumbs_up: f.thumbs_up,
                rating: f.rating,
                categories: f.categories,
                comment: f.comment,
                correction: f.correction,
                user_id: f.user_id,
                created_at: created,
            },
        )?;
        feedback.push(fb);
    }
    Ok(ParsedLine::Response(record, feedback))
}

fn parse_feedback_line(
    raw: RawLine,
    line: usize,
    limits: &Limits,
) -> Result<ParsedLine, LineError> {
    let misplaced = [
        ("model_id", raw.model_id.is_some()),
        ("query", raw.query.is_some()),
        ("response", raw.response.is_some()),
        ("conversation", raw.conversation.is_some()),
        ("metadata", raw.metadata.is_some()),
        ("feedback", raw.feedback.is_some()),
    ];
    reject_misplaced(line, &misplaced, "belongs to a response, not to feedback")?;
    let created_at = required_time(raw.created_at, line, "feedback")?;
    let fb = build_feedback(
        "",
        line,
        limits,
        FeedbackFields {
            id: raw.id,
            response_id: required(raw.response_id, line, "response_id", "feedback")?,
            variant: raw.variant,
            thumbs_up: raw.thumbs_up,
            rating: raw.rating,
            categories: raw.categories,
            comment: raw.comment,
            correction: raw.correction,
            user_id: raw.user_id,
            created_at,
        },
    )?;
    Ok(ParsedLine::Feedback(fb))
}

struct FeedbackFields {
    id: Option<String>,
    response_id: String,
    variant: Option<String>,
    thumbs_up: Option<bool>,
    rating: Option<i64>,
    categories: Option<Vec<String>>,
    comment: Option<String>,
    correction: Option<String>,
    user_id: Option<String>,
    created_at: crate::model::Timestamp,
}

fn build_feedback(
    prefix: &str,
    line: usize,
    limits: &Limits,
    f: FeedbackFields,
) -> Result<Feedback, LineError> {
    let variant_text = f.variant.ok_or_else(|| {
        line_err(
            line,
            join(prefix, "variant"),
            "required: \"thumbs\", \"stars\" or \"full\"",
        )
    })?;
    let variant = Variant::parse(&variant_text).ok_or_else(|| {
        line_err(
            line,
            join(prefix, "variant"),
            format!("`{variant_text}` is not one of \"thumbs\", \"stars\", \"full\""),
        )
    })?;
    let raw_categories = f.categories.unwrap_or_default();
    if raw_categories.len() > limits.max_categories {
        return Err(line_err(
            line,
            join(prefix, "categories"),
            format!(
                "{} categories; the limit is {}",
                raw_categories.len(),
                limits.max_categories
            ),
        ));
    }
    let mut categories = Vec::with_capacity(raw_categories.len());
    for (i, c) in raw_categories.iter().enumerate() {
        let cat = Category::new(c)
            .map_err(|r| line_err(line, join(prefix, &format!("categories[{i}]")), r))?;
        categories.push(cat);
    }
    let kind =
        crate::model::feedback_kind(variant, f.thumbs_up, f.rating, categories, f.correction)
            .map_err(|e| from_error(line, prefix, e))?;
    let mut fb = Feedback {
        id: f.id.unwrap_or_default(),
        response_id: f.response_id,
        kind,
        comment: f.comment,
        user_id: f.user_id,
        created_at: f.created_at,
    };
    if fb.id.is_empty() {
        fb.id = fb.derived_id();
    }
    fb.validate(limits)
        .map_err(|e| from_error(line, prefix, e))?;
    Ok(fb)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> LineError {
        parse_line(text, 7, &Limits::default()).expect_err("should be rejected")
    }

    #[test]
    fn good_lines() {
        let r = parse_line(
            r#"{"type":"response","id":"r1","model_id":"m","query":"q","response":"a","created_at":"2026-09-01T10:00:00Z","feedback":{"variant":"thumbs","thumbs_up":false}}"#,
            1,
            &Limits::default(),
        )
        .expect("valid");
        let ParsedLine::Response(resp, fb) = r else {
            panic!("expected a response")
        };
        assert_eq!(resp.id, "r1");
        assert_eq!(fb.len(), 1);
        assert_eq!(fb[0].response_id, "r1");
        assert_eq!(fb[0].created_at, resp.created_at);
    }

    #[test]
    fn bad_lines_name_field_and_reason() {
        let e = err("{not json");
        assert!(e.reason.starts_with("not valid JSON"), "{e}");
        assert_eq!(e.line, 7);
        let e = err(r#"{"type":"vote"}"#);
        assert_eq!(e.field.as_deref(), Some("type"));
        let e = err(
            r#"{"type":"feedback","response_id":"r1","variant":"stars","rating":7,"created_at":"2026-09-01"}"#,
        );
        assert_eq!(e.field.as_deref(), Some("rating"));
        assert!(e.reason.contains("out of range"), "{e}");
        let e = err(
            r#"{"type":"feedback","response_id":"r1","variant":"thumbs","created_at":"2026-09-01"}"#,
        );
        assert_eq!(e.field.as_deref(), Some("thumbs_up"));
        let e = err(
            r#"{"type":"feedback","response_id":"r1","variant":"stars","rating":"5","created_at":"2026-09-01"}"#,
        );
        assert_eq!(e.field.as_deref(), Some("rating"), "{e}");
        let e = err(
            r#"{"type":"feedback","response_id":"r1","variant":"stars","rating":5,"created_at":"2026-09-01","thumbsup":true}"#,
        );
        assert!(e.reason.contains("unknown field `thumbsup`"), "{e}");
        let e = err(
            r#"{"type":"response","id":"r1","model_id":"m","query":"q","response":"a","created_at":"2026-09-01","feedback":[{"variant":"thumbs","thumbs_up":true},{"variant":"full","rating":1,"categories":["Bad Cat"]}]}"#,
        );
        assert_eq!(e.field.as_deref(), Some("feedback[1].categories[0]"), "{e}");
    }

    #[test]
    fn oversized_fields_are_rejected() {
        let big = "x".repeat((1 << 20) + 1);
        let line = format!(
            r#"{{"type":"response","id":"r1","model_id":"m","query":"q","response":"{big}","created_at":"2026-09-01"}}"#
        );
        let e = err(&line);
        assert_eq!(e.field.as_deref(), Some("response"));
        assert!(e.reason.contains("limit"), "{e}");
    }
}
