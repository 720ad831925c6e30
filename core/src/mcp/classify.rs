//! Turns the MCP SDK's errors into [`crate::Error`], by meaning.
//!
//! The SDK nests the HTTP client's error inside its transport error inside its service
//! error; we walk that chain once and keep only what a caller can act on: the HTTP status,
//! whether the session expired, whether a retry may help. No header (so no token) is kept.

use crate::secrets::scrub;
use crate::Error;
use rmcp::service::{ClientInitializeError, ServiceError};
use rmcp::transport::streamable_http_client::{AuthRequiredError, StreamableHttpError};
use std::error::Error as StdError;

/// What a failed exchange means for the client.
#[derive(Debug)]
pub(crate) struct Failure {
    /// The error to report (or to retry on).
    pub error: Error,
    /// The session is unusable (expired, or its worker stopped): open a new one.
    pub drop_session: bool,
    /// The server said the session expired (HTTP 404 on it), so the request was not run.
    pub session_expired: bool,
}

/// The meaning of a transport error chain.
#[derive(Debug, PartialEq)]
enum Kind {
    SessionExpired,
    Unauthorized(u16),
    Status(u16),
    Connect(String),
    Timeout,
    Malformed(String),
    /// The connection broke while a request was out: it may have run.
    Lost(String),
    Closed,
    Other(String),
}

fn kind_of(err: &(dyn StdError + 'static)) -> Kind {
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(h) = e.downcast_ref::<StreamableHttpError<reqwest::Error>>() {
            match h {
                StreamableHttpError::SessionExpired => return Kind::SessionExpired,
                StreamableHttpError::AuthRequired(_) => return Kind::Unauthorized(401),
                StreamableHttpError::InsufficientScope(_) => return Kind::Unauthorized(403),
                StreamableHttpError::HttpStatus(s) => return Kind::Status(s.status),
                StreamableHttpError::Deserialize(d) => return Kind::Malformed(d.to_string()),
                StreamableHttpError::UnexpectedServerResponse(text) => {
                    return unexpected_response(text)
                }
                StreamableHttpError::UnexpectedContentType(t) => {
                    return Kind::Malformed(format!(
                        "unexpected content type {}",
                        t.as_deref().unwrap_or("(none)")
                    ))
                }
                StreamableHttpError::UnexpectedEndOfStream => {
                    return Kind::Malformed("the answer ended early".into())
                }
                StreamableHttpError::TransportChannelClosed => return Kind::Closed,
                StreamableHttpError::Client(r) => return reqwest_kind(r),
                _ => {}
            }
        }
        if e.downcast_ref::<AuthRequiredError>().is_some() {
            return Kind::Unauthorized(401);
        }
        if let Some(r) = e.downcast_ref::<reqwest::Error>() {
            return reqwest_kind(r);
        }
        current = e.source();
    }
    Kind::Other(err.to_string())
}

/// The SDK reports some HTTP statuses only as text ("... 401 Unauthorized ...").
fn unexpected_response(text: &str) -> Kind {
    for (code, kind) in [
        ("401", Kind::Unauthorized(401)),
        ("403", Kind::Unauthorized(403)),
    ] {
        if text.contains(code) {
            return kind;
        }
    }
    Kind::Malformed(text.to_string())
}

fn reqwest_kind(r: &reqwest::Error) -> Kind {
    if r.is_timeout() {
        Kind::Timeout
    } else if r.is_connect() {
        Kind::Connect(root_cause(r).unwrap_or_else(|| "connection failed".into()))
    } else if let Some(s) = r.status() {
        Kind::Status(s.as_u16())
    } else if r.is_decode() || r.is_body() {
        Kind::Malformed(words(r))
    } else if r.is_request() {
        // The connection broke after it was open: the request may have been sent whole.
        Kind::Lost(root_cause(r).unwrap_or_else(|| "connection lost".into()))
    } else {
        Kind::Other(words(r))
    }
}

/// The innermost cause ("Connection refused", "connection closed before message
/// completed"): what actually happened, where reqwest's own text only says what it was doing.
fn root_cause(r: &reqwest::Error) -> Option<String> {
    let mut cause = r.source();
    let mut last = None;
    while let Some(c) = cause {
        last = Some(c.to_string());
        cause = c.source();
    }
    last
}

/// reqwest's text without its ` for url (...)` suffix (the caller names the server once,
/// with its password hidden), followed by the innermost cause.
fn words(r: &reqwest::Error) -> String {
    let mut text = r.to_string();
    if let Some(url) = r.url() {
        text = text.replace(&format!(" for url ({url})"), "");
    }
    match root_cause(r) {
        Some(cause) if !text.contains(&cause) => format!("{text}: {cause}"),
        _ => text,
    }
}

/// The failure `kind` means for a request (`what`) to the server at `url` (as shown: no
/// password). Texts quoted from underneath are scrubbed of credentials.
fn failure_for(kind: Kind, url: &str, what: &str) -> Failure {
    let kind = match kind {
        Kind::Connect(t) => Kind::Connect(scrub(&t).into_owned()),
        Kind::Malformed(t) => Kind::Malformed(scrub(&t).into_owned()),
        Kind::Lost(t) => Kind::Lost(scrub(&t).into_owned()),
        Kind::Other(t) => Kind::Other(scrub(&t).into_owned()),
        other => other,
    };
    let (error, drop_session, session_expired) = match kind {
        Kind::SessionExpired => (
            Error::transport(
                format!("{what}: the MCP session at {url} expired (HTTP 404)"),
                Some(404),
                true,
            ),
            true,
            true,
        ),
        Kind::Unauthorized(status) => (
            Error::transport(
                format!(
                    "{what}: the MCP server at {url} refused our token (HTTP {status}); \
                     check TUNELOOP_MCP_TOKEN"
                ),
                Some(status),
                false,
            ),
            true,
            false,
        ),
        Kind::Status(status) => (
            Error::transport(
                format!("{what}: the MCP server at {url} answered HTTP {status}"),
                Some(status),
                status == 429 || status >= 500,
            ),
            false,
            false,
        ),
        Kind::Connect(cause) => (
            Error::transport(
                format!("{what}: cannot connect to the MCP server at {url}: {cause}"),
                None,
                true,
            ),
            true,
            false,
        ),
        Kind::Timeout => (
            Error::transport(
                format!("{what}: the MCP server at {url} did not answer in time"),
                None,
                true,
            ),
            false,
            false,
        ),
        Kind::Malformed(detail) => (
            Error::mcp(
                None,
                format!("{what}: malformed answer from the MCP server at {url}: {detail}"),
            ),
            false,
            false,
        ),
        Kind::Lost(cause) => (
            Error::transport(
                format!(
                    "{what}: the MCP server at {url} did not answer: the connection closed \
                     before an answer came ({cause}); the request may have reached it, so \
                     whether the call ran is unknown"
                ),
                None,
                true,
            ),
            true,
            false,
        ),
        Kind::Closed => (
            Error::transport(
                format!(
                    "{what}: the connection to the MCP server at {url} closed before it \
                     answered"
                ),
                None,
                true,
            ),
            true,
            false,
        ),
        Kind::Other(detail) => (
            Error::transport(
                format!("{what}: MCP transport failure talking to {url}: {detail}"),
                None,
                true,
            ),
            true,
            false,
        ),
    };
    Failure {
        error,
        drop_session,
        session_expired,
    }
}

/// A failed request on an open session. `url` is the server's URL as shown (no password).
pub(crate) fn service_failure(e: ServiceError, url: &str, what: &str) -> Failure {
    match e {
        // The server's own answer to this request.
        ServiceError::McpError(data) => Failure {
            error: Error::mcp_answer(
                i64::from(data.code.0),
                format!(
                    "{what}: JSON-RPC error {}: {}",
                    data.code.0,
                    scrub(&data.message)
                ),
            ),
            drop_session: false,
            session_expired: false,
        },
        ServiceError::TransportSend(t) => {
            let kind = kind_of(&t);
            failure_for(kind, url, what)
        }
        ServiceError::TransportClosed | ServiceError::Cancelled { .. } => {
            failure_for(Kind::Closed, url, what)
        }
        ServiceError::Timeout { .. } => failure_for(Kind::Timeout, url, what),
        ServiceError::UnexpectedResponse => failure_for(
            Kind::Malformed("a result of the wrong type".into()),
            url,
            what,
        ),
        other => failure_for(Kind::Other(other.to_string()), url, what),
    }
}

/// A failed `initialize` handshake. `url` is the server's URL as shown (no password).
pub(crate) fn init_failure(e: ClientInitializeError, url: &str) -> Failure {
    let what = "connect";
    let mut f = match e {
        // An answer to the handshake, not to any tool call: never a tool's refusal.
        ClientInitializeError::JsonRpcError(data) => Failure {
            error: Error::mcp(
                Some(i64::from(data.code.0)),
                format!(
                    "{what}: the MCP server at {url} refused to initialise: JSON-RPC error {}: {}",
                    data.code.0,
                    scrub(&data.message)
                ),
            ),
            drop_session: true,
            session_expired: false,
        },
        ClientInitializeError::TransportError { error, .. } => {
            failure_for(kind_of(&error), url, what)
        }
        ClientInitializeError::ConnectionClosed(_) => failure_for(Kind::Closed, url, what),
        other => failure_for(Kind::Malformed(other.to_string()), url, what),
    };
    f.drop_session = true;
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_transport_errors_with_retryability() {
        let f = failure_for(Kind::Status(500), "http://x/mcp", "call t");
        match &f.error {
            Error::Transport {
                status, retryable, ..
            } => assert_eq!((*status, *retryable), (Some(500), true)),
            e => panic!("{e:?}"),
        }
        let f = failure_for(Kind::Status(400), "http://x/mcp", "call t");
        assert!(!f.error.is_retryable());
        let f = failure_for(Kind::Unauthorized(401), "http://x/mcp", "call t");
        assert!(!f.error.is_retryable());
        assert!(f.error.to_string().contains("401"), "{}", f.error);
    }

    #[test]
    fn a_lost_answer_says_what_happened_in_words() {
        let f = failure_for(
            Kind::Lost("connection closed before message completed".into()),
            "http://ops:***@x/mcp",
            "tool `fine_tuning_create_job`",
        );
        let text = f.error.to_string();
        assert!(
            text.contains("fine_tuning_create_job")
                && text.contains("did not answer")
                && text.contains("connection closed before message completed")
                && text.contains("whether the call ran is unknown")
                && !text.contains("()"),
            "{text}"
        );
        assert!(f.error.is_retryable() && !f.error.is_refusal());
    }

    #[test]
    fn quoted_causes_lose_their_credentials() {
        let f = failure_for(
            Kind::Other("error sending request for url (http://ops:s3cret@x/mcp)".into()),
            "http://ops:***@x/mcp",
            "tools/list",
        );
        let text = f.error.to_string();
        assert!(
            !text.contains("s3cret") && text.contains("ops:***@x"),
            "{text}"
        );
    }

    #[test]
    fn a_refused_token_is_no_tool_refusal() {
        let f = failure_for(Kind::Unauthorized(401), "http://x/mcp", "connect");
        assert!(f.error.is_refusal() && !f.error.is_tool_refusal());
        let text = f.error.to_string();
        assert!(
            text.contains("TUNELOOP_MCP_TOKEN") && !text.contains("***"),
            "{text}"
        );
    }

    #[test]
    fn unexpected_response_text_with_401_is_unauthorized() {
        assert_eq!(
            unexpected_response("HTTP 401 Unauthorized"),
            Kind::Unauthorized(401)
        );
        assert!(matches!(unexpected_response("<html>"), Kind::Malformed(_)));
    }
}
