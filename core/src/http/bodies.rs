//! The request bodies of the two write endpoints, described for the OpenAPI document.
//!
//! These types are documentation only: the bodies are parsed by the import format's parser
//! (`io`), so they accept exactly what an import line accepts. A test posts a body with every
//! field described here and checks the parser takes it, so the two cannot drift apart silently.

#![allow(dead_code)] // read by the OpenAPI derive, never built

use crate::model::{Message, Variant};
use serde::Serialize;
use utoipa::ToSchema;

/// One feedback item in the import format (docs/formats.md).
#[derive(Serialize, ToSchema)]
pub struct FeedbackBody {
    /// `"feedback"`; may be left out.
    #[serde(rename = "type")]
    #[schema(pattern = "^feedback$")]
    kind: Option<String>,
    /// Unique id; derived from the content when left out.
    id: Option<String>,
    /// The response this is about (must be recorded already).
    response_id: String,
    /// `thumbs`, `stars` or `full`.
    variant: Variant,
    /// For `thumbs`.
    thumbs_up: Option<bool>,
    /// For `stars` and `full`: 1 to 5.
    #[schema(minimum = 1, maximum = 5)]
    rating: Option<i64>,
    /// For `full`: error categories (built-in or custom names).
    categories: Option<Vec<String>>,
    /// Free-text comment.
    comment: Option<String>,
    /// For `full`: the answer that would have been right.
    correction: Option<String>,
    /// Who gave it (opaque).
    user_id: Option<String>,
    /// When it was given (RFC 3339, UTC); default: now.
    #[schema(format = DateTime)]
    created_at: Option<String>,
}

/// Feedback embedded in a response: the feedback fields, `response_id` optional.
#[derive(Serialize, ToSchema)]
pub struct EmbeddedFeedbackBody {
    /// `"feedback"`; may be left out.
    #[serde(rename = "type")]
    #[schema(pattern = "^feedback$")]
    kind: Option<String>,
    /// Unique id; derived from the content when left out.
    id: Option<String>,
    /// The enclosing response's id, if given.
    response_id: Option<String>,
    /// `thumbs`, `stars` or `full`.
    variant: Variant,
    /// For `thumbs`.
    thumbs_up: Option<bool>,
    /// For `stars` and `full`: 1 to 5.
    #[schema(minimum = 1, maximum = 5)]
    rating: Option<i64>,
    /// For `full`: error categories.
    categories: Option<Vec<String>>,
    /// Free-text comment.
    comment: Option<String>,
    /// For `full`: the answer that would have been right.
    correction: Option<String>,
    /// Who gave it (opaque).
    user_id: Option<String>,
    /// When it was given (RFC 3339, UTC).
    #[schema(format = DateTime)]
    created_at: String,
}

/// Feedback on the response: one item or several.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum EmbeddedFeedback {
    /// One item.
    One(EmbeddedFeedbackBody),
    /// Several items.
    Many(Vec<EmbeddedFeedbackBody>),
}

/// One response in the import format, optionally with its feedback.
#[derive(Serialize, ToSchema)]
pub struct ResponseBody {
    /// `"response"`; may be left out.
    #[serde(rename = "type")]
    #[schema(pattern = "^response$")]
    kind: Option<String>,
    /// Unique id.
    id: String,
    /// The model that produced it.
    model_id: String,
    /// The user's query.
    query: String,
    /// The model's answer.
    response: String,
    /// Earlier turns, oldest first.
    conversation: Option<Vec<Message>>,
    /// Any JSON object the host wants to keep with the response.
    metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// When it was produced (RFC 3339, UTC).
    #[schema(format = DateTime)]
    created_at: String,
    /// Feedback on it, recorded with it.
    feedback: Option<EmbeddedFeedback>,
}

/// What `/readyz` answers with 503: the health report when the database answers but its
/// schema is not current, the error shape when it does not answer at all.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum NotReady {
    /// The database answers; its schema is not what this build needs.
    Report(crate::service::HealthReport),
    /// The database does not answer (`unavailable`).
    Error(super::ErrorBody),
}
