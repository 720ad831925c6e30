//! The API's error body, `{"error":{"code","message","field"?}}`, and the one mapping from
//! [`Error`] to an HTTP status.

use crate::Error;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// The body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// An error's code, message and, for invalid input, the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// A stable code: the library's [`Error::code`] (`invalid_input`, `not_found`, ...) or
    /// one of the API's own (`unauthorized`, `forbidden`, `payload_too_large`,
    /// `unsupported_media_type`, `method_not_allowed`, `timeout`, `internal`).
    pub code: String,
    /// For people; never a stack trace or a credential.
    pub message: String,
    /// The field at fault (a dotted path such as `feedback.rating`), when one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// An error answer: a status and its body.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The body.
    pub body: ErrorBody,
}

impl ApiError {
    /// An error of the API itself (not of the library).
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: ErrorBody {
                error: ErrorDetail {
                    code: code.to_string(),
                    message: message.into(),
                    field: None,
                },
            },
        }
    }

    /// Invalid input in `field`: 400.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut e = ApiError::new(StatusCode::BAD_REQUEST, "invalid_input", message);
        e.body.error.field = Some(field.into());
        e
    }

    /// No credentials, or wrong ones: 401.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// Credentials that do not allow this request: 403.
    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
}

/// The status each library error implies. The one place this mapping is written.
pub fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::InvalidInput { .. } | Error::InvalidImport { .. } => StatusCode::BAD_REQUEST,
        Error::NotFound { .. } => StatusCode::NOT_FOUND,
        Error::Conflict { .. } => StatusCode::CONFLICT,
        Error::InsufficientCredits { .. } => StatusCode::PAYMENT_REQUIRED,
        Error::PolicyDeclined { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        Error::Storage { .. } | Error::Transport { .. } | Error::SchemaTooNew { .. } => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        // The fine-tuning server answered with an error of its own.
        Error::Mcp { .. } => StatusCode::BAD_GATEWAY,
        Error::Unsupported { .. } => StatusCode::NOT_IMPLEMENTED,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let status = status_of(&e);
        let (field, message) = match &e {
            // The field travels on its own; the message is the reason alone.
            Error::InvalidInput { field, reason } => (Some(field.clone()), reason.clone()),
            // A file path of the server is nobody's business over HTTP.
            Error::Io { .. } => (None, "the server could not read or write a file".into()),
            other => (None, crate::secrets::scrub(&other.to_string()).into_owned()),
        };
        ApiError {
            status,
            body: ErrorBody {
                error: ErrorDetail {
                    code: e.code().to_string(),
                    message,
                    field,
                },
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(self.status, &self.body)
    }
}

/// A JSON answer. Serialising our own types cannot fail; should it ever, the answer is a
/// plain 500 rather than a panic.
pub fn json_response<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => {
            let mut response = (status, body).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_status() {
        let cases = [
            (Error::invalid("rating", "bad"), 400),
            (
                Error::NotFound {
                    kind: "job",
                    id: "x".into(),
                },
                404,
            ),
            (
                Error::Conflict {
                    kind: "job",
                    id: "x".into(),
                    reason: "r".into(),
                },
                409,
            ),
            (
                Error::InsufficientCredits {
                    account: "a".into(),
                    required: 2,
                    available: 1,
                },
                402,
            ),
            (Error::PolicyDeclined { reason: "r".into() }, 422),
            (
                Error::Storage {
                    message: "m".into(),
                    retryable: true,
                    source: None,
                },
                503,
            ),
            (Error::transport("down", None, true), 503),
        ];
        for (e, status) in cases {
            let code = e.code();
            let api = ApiError::from(e);
            assert_eq!(api.status.as_u16(), status, "{code}");
            assert_eq!(api.body.error.code, code);
        }
        let api = ApiError::from(Error::invalid("feedback.rating", "must be 1 to 5"));
        assert_eq!(api.body.error.field.as_deref(), Some("feedback.rating"));
        assert_eq!(api.body.error.message, "must be 1 to 5");
    }
}
