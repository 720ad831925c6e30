//! Recording one item sent as JSON text in the import format (the HTTP API's feedback and
//! response POSTs, and any front that receives records one at a time): parsed and checked by
//! the import's own parser, so the limits and messages are the import's.

use super::Tuneloop;
use crate::error::{Error, LineError, Result};
use crate::io::{parse_line, ParsedLine};
use crate::model::{format_timestamp, Feedback, Limits};
use crate::store::{RecordBatch, WriteSummary};
use serde::{Deserialize, Serialize};

/// What [`Tuneloop::submit_feedback`] and [`Tuneloop::submit_response`] stored.
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Submitted {
    /// The response the item belongs to (the recorded response, or the one the feedback is on).
    pub response_id: String,
    /// The ids of the feedback items recorded (given, or derived from the content).
    pub feedback_ids: Vec<String>,
    /// Inserted and unchanged counts (a repeated identical item is *unchanged*).
    pub summary: WriteSummary,
}

/// Which record type a submission must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Response,
    Feedback,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Response => "response",
            Kind::Feedback => "feedback",
        }
    }
}

/// The two fields a submission may leave out, found without interpreting the rest.
#[derive(Deserialize)]
struct Probe {
    #[serde(rename = "type", default)]
    kind: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    created_at: Option<serde::de::IgnoredAny>,
}

/// `text` with `"type"` (and, for feedback, `"created_at"`: now) added when absent. Text
/// that is not a JSON object is returned as it is, for the parser to explain.
fn complete(text: &str, kind: Kind) -> std::borrow::Cow<'_, str> {
    // A derived struct also reads from a JSON array: only an object is completed.
    if !text.trim_start().starts_with('{') {
        return text.into();
    }
    let Ok(probe) = serde_json::from_str::<Probe>(text) else {
        return text.into();
    };
    let mut head = String::new();
    if probe.kind.is_none() {
        head.push_str(&format!("\"type\":\"{}\"", kind.name()));
    }
    if probe.created_at.is_none() && kind == Kind::Feedback {
        if !head.is_empty() {
            head.push(',');
        }
        let now = format_timestamp(&crate::model::time::now());
        head.push_str(&format!("\"created_at\":\"{now}\""));
    }
    if head.is_empty() {
        return text.into();
    }
    // The probe read an object, so the text starts with `{` after whitespace.
    let body = text.trim_start();
    let rest = body.strip_prefix('{').unwrap_or(body);
    let sep = if rest.trim_start().starts_with('}') {
        ""
    } else {
        ","
    };
    format!("{{{head}{sep}{rest}").into()
}

/// One feedback item of a submission, parsed and checked.
pub(super) fn parse_feedback(json: &str, limits: &Limits) -> Result<Feedback> {
    match parse_line(&complete(json, Kind::Feedback), 1, limits).map_err(field_error)? {
        ParsedLine::Feedback(feedback) => Ok(feedback),
        _ => Err(Error::invalid("type", "must be \"feedback\" here")),
    }
}

fn field_error(e: LineError) -> Error {
    Error::invalid(e.field.unwrap_or_else(|| "body".into()), e.reason)
}

impl Tuneloop {
    /// Records one feedback item given as a JSON object in the import format
    /// (docs/formats.md); `"type"` may be left out, and `"created_at"` (then: now). The
    /// response must be stored. Errors are [`Error::InvalidInput`] naming the field, as the
    /// import reports them; [`Error::NotFound`] for an unknown response.
    pub async fn submit_feedback(&self, json: &str, limits: &Limits) -> Result<Submitted> {
        let feedback = parse_feedback(json, limits)?;
        let response_id = feedback.response_id.clone();
        let feedback_ids = vec![feedback.id.clone()];
        let summary = self.record_feedback(feedback).await?;
        Ok(Submitted {
            response_id,
            feedback_ids,
            summary,
        })
    }

    /// Records one response given as a JSON object in the import format, with any feedback
    /// embedded under `"feedback"` (one object or an array), atomically. `"type"` may be
    /// left out.
    pub async fn submit_response(&self, json: &str, limits: &Limits) -> Result<Submitted> {
        let parsed = parse_line(&complete(json, Kind::Response), 1, limits).map_err(field_error)?;
        match parsed {
            ParsedLine::Response(response, feedback) => {
                let response_id = response.id.clone();
                let feedback_ids = feedback.iter().map(|f| f.id.clone()).collect();
                let summary = self
                    .record(&RecordBatch {
                        responses: vec![response],
                        feedback,
                    })
                    .await?;
                Ok(Submitted {
                    response_id,
                    feedback_ids,
                    summary,
                })
            }
            _ => Err(Error::invalid("type", "must be \"response\" here")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completion_adds_only_what_is_missing() {
        let t = complete(r#"{"response_id":"r1"}"#, Kind::Response);
        assert_eq!(t, r#"{"type":"response","response_id":"r1"}"#);
        let t = complete(r#" { } "#, Kind::Response);
        assert_eq!(t, r#"{"type":"response" } "#);
        let t = complete(r#"{"type":"x","created_at":"y"}"#, Kind::Feedback);
        assert_eq!(t, r#"{"type":"x","created_at":"y"}"#);
        let t = complete(r#"{"type":"feedback"}"#, Kind::Feedback);
        assert!(t.starts_with(r#"{"created_at":"20"#), "{t}");
        // Not an object: left for the parser to explain.
        assert_eq!(complete("[1]", Kind::Feedback), "[1]");
        assert_eq!(complete("[1, 2]", Kind::Response), "[1, 2]");
        assert_eq!(complete("{", Kind::Feedback), "{");
    }
}
