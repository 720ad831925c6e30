//! The one error type of tuneloop.

use std::fmt;

/// A `Result` whose error defaults to [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, by meaning rather than by library.
///
/// Every front (CLI, Python, Node) maps these variants to its own error kinds, so match on
/// the variant, not on the message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value supplied by the caller is invalid; `field` names it (a dotted path).
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// The offending field, e.g. `feedback.rating`.
        field: String,
        /// Why it was rejected.
        reason: String,
    },
    /// An import was rejected because some lines are invalid; nothing was written.
    #[error("{}", import_message(.errors, *.total))]
    InvalidImport {
        /// The first errors (at most [`crate::io::MAX_REPORTED_ERRORS`]), in line order.
        errors: Vec<LineError>,
        /// How many lines were invalid in total.
        total: usize,
    },
    /// The requested item does not exist.
    #[error("{kind} not found: {id}")]
    NotFound {
        /// What kind of item (`response`, `feedback`, `run`, `job`, ...).
        kind: &'static str,
        /// The id that was looked up.
        id: String,
    },
    /// The item exists with other content, or a concurrent change won.
    #[error("conflict on {kind} {id}: {reason}")]
    Conflict {
        /// What kind of item.
        kind: &'static str,
        /// Its id.
        id: String,
        /// What conflicts.
        reason: String,
    },
    /// The database schema was written by a newer tuneloop than this one.
    #[error("database schema version {found} is newer than this tuneloop supports ({supported}); upgrade tuneloop")]
    SchemaTooNew {
        /// The version found in the database.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// The storage backend failed.
    #[error("storage error: {message}")]
    Storage {
        /// What was being done.
        message: String,
        /// Whether retrying the same call may succeed (busy, timeout, lost connection).
        retryable: bool,
        /// The underlying error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A network transport (HTTP, database connection) failed.
    #[error("transport error: {message}")]
    Transport {
        /// What failed.
        message: String,
        /// The HTTP status, when the server answered with one.
        status: Option<u16>,
        /// Whether retrying the same call may succeed (refused connection, timeout, 5xx).
        retryable: bool,
        /// The underlying error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// An MCP server answered with an error: a JSON-RPC error (with its `code`), a tool
    /// result flagged `isError` (no code), or a result of the wrong shape.
    #[error("MCP error: {message}")]
    Mcp {
        /// The JSON-RPC error code, when the server sent one.
        code: Option<i64>,
        /// The server's message (or what was wrong with its answer).
        message: String,
        /// The server answered that it did not carry the request out (an `isError` result,
        /// or a JSON-RPC "invalid request/method/params" error). `false` when the answer
        /// could not be read, so whether the call ran is unknown.
        refused: bool,
        /// The error is the server's answer to the request itself (a JSON-RPC error or an
        /// `isError` result to that `tools/call`), not to the `initialize` handshake that
        /// had to succeed first. Only such an answer tells what the tool did with the call.
        answered: bool,
    },
    /// An account lacks the credits for an operation.
    #[error("insufficient credits on {account}: need {required}, available {available}")]
    InsufficientCredits {
        /// The account.
        account: String,
        /// Credits needed.
        required: i64,
        /// Credits available.
        available: i64,
    },
    /// A policy check declined the operation.
    #[error("declined by policy: {reason}")]
    PolicyDeclined {
        /// Why.
        reason: String,
    },
    /// The backend does not support this operation.
    #[error("not supported by the {backend} backend: {operation}")]
    Unsupported {
        /// The backend's name.
        backend: &'static str,
        /// The operation.
        operation: &'static str,
    },
}

impl Error {
    /// Shorthand for [`Error::InvalidInput`].
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Shorthand for [`Error::Storage`] with a source.
    pub fn storage(
        message: impl Into<String>,
        retryable: bool,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Storage {
            message: message.into(),
            retryable,
            source: Some(Box::new(source)),
        }
    }

    /// Shorthand for [`Error::Transport`] without a source.
    pub fn transport(message: impl Into<String>, status: Option<u16>, retryable: bool) -> Self {
        Error::Transport {
            message: message.into(),
            status,
            retryable,
            source: None,
        }
    }

    /// Shorthand for [`Error::Mcp`] that is not an answer to the request itself: a failed
    /// handshake, or an answer that could not be read or has the wrong shape.
    ///
    /// A JSON-RPC error whose code says the request was rejected (-32600 invalid request,
    /// -32601 method not found, -32602 invalid params) counts as a refusal; any other code,
    /// or none (an unreadable answer), leaves the outcome unknown.
    pub fn mcp(code: Option<i64>, message: impl Into<String>) -> Self {
        Error::Mcp {
            code,
            message: message.into(),
            refused: refusal_code(code),
            answered: false,
        }
    }

    /// A JSON-RPC error the MCP server sent in answer to the request itself (see
    /// [`Error::mcp`] for which codes are refusals).
    pub fn mcp_answer(code: i64, message: impl Into<String>) -> Self {
        Error::Mcp {
            code: Some(code),
            message: message.into(),
            refused: refusal_code(Some(code)),
            answered: true,
        }
    }

    /// An MCP tool result flagged `isError`: the tool itself answered that it failed.
    pub fn tool_refused(message: impl Into<String>) -> Self {
        Error::Mcp {
            code: None,
            message: message.into(),
            refused: true,
            answered: true,
        }
    }

    /// Whether this request certainly had no effect: the other side refused it (an MCP
    /// refusal, see [`Error::Mcp`], at the tool or at the handshake; an HTTP 4xx other than
    /// 404 (an expired session), 408 and 429), or it was invalid input. A timeout, a lost
    /// connection or an unreadable answer is not: the call may have run.
    ///
    /// It says nothing about *earlier* requests: a call refused with HTTP 401 at connect
    /// never reached the tool, so it cannot tell whether a previous attempt of the same
    /// keyed call ran. For that, see [`Error::is_tool_refusal`].
    pub fn is_refusal(&self) -> bool {
        match self {
            Error::Mcp { refused, .. } => *refused,
            Error::Transport {
                status: Some(s), ..
            } => (400..500).contains(s) && !matches!(s, 404 | 408 | 429),
            Error::InvalidInput { .. } => true,
            _ => false,
        }
    }

    /// Whether the MCP tool itself answered the call with a refusal: an `isError` result,
    /// or a JSON-RPC invalid-request/method/params error in answer to that `tools/call`.
    ///
    /// Only this settles a keyed call whose earlier attempts may have run (a create whose
    /// answer was lost): the server looked the key up and refused. Nothing that happens
    /// before the call reaches the tool does — an HTTP 401/403/4xx, a failed connection or
    /// `initialize` handshake, an expired session, a check on our side, no server configured.
    pub fn is_tool_refusal(&self) -> bool {
        matches!(
            self,
            Error::Mcp {
                refused: true,
                answered: true,
                ..
            }
        )
    }

    /// The message followed by each cause in the `source()` chain that it does not already
    /// contain (`storage error: reading a job: database is locked`), for people and logs.
    pub fn with_causes(&self) -> String {
        let mut message = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(s) = source {
            let text = s.to_string();
            if !message.contains(&text) {
                message.push_str(": ");
                message.push_str(&text);
            }
            source = s.source();
        }
        message
    }

    /// Whether the same call may succeed if retried later (busy database, timeout, lost
    /// connection). Invalid input, conflicts and missing items are never retryable.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Storage { retryable, .. } => *retryable,
            Error::Transport { retryable, .. } => *retryable,
            _ => false,
        }
    }

    /// Whether the error was caused by the caller's input (CLI exit code 2).
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self,
            Error::InvalidInput { .. } | Error::InvalidImport { .. } | Error::Conflict { .. }
        )
    }

    /// A short stable code for the variant (`invalid_input`, `not_found`, ...), used by the
    /// bindings and the CLI's JSON errors.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidInput { .. } => "invalid_input",
            Error::InvalidImport { .. } => "invalid_import",
            Error::NotFound { .. } => "not_found",
            Error::Conflict { .. } => "conflict",
            Error::SchemaTooNew { .. } => "schema_too_new",
            Error::Storage { .. } => "storage",
            Error::Io { .. } => "io",
            Error::Transport { .. } => "transport",
            Error::Mcp { .. } => "mcp",
            Error::InsufficientCredits { .. } => "insufficient_credits",
            Error::PolicyDeclined { .. } => "policy_declined",
            Error::Unsupported { .. } => "unsupported",
        }
    }
}

/// JSON-RPC -32600 invalid request, -32601 method not found, -32602 invalid params: the
/// request was rejected as such, so it did not run.
fn refusal_code(code: Option<i64>) -> bool {
    matches!(code, Some(-32602..=-32600))
}

/// One rejected line of an import.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LineError {
    /// 1-based line number in the input.
    pub line: usize,
    /// The field at fault, when one is (`rating`, `feedback.response_id`, ...).
    pub field: Option<String>,
    /// Why the line was rejected.
    pub reason: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "line {}: {}: {}", self.line, field, self.reason),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

fn import_message(errors: &[LineError], total: usize) -> String {
    use std::fmt::Write;
    let mut out = format!(
        "import rejected: {total} invalid line{}; nothing was imported",
        if total == 1 { "" } else { "s" }
    );
    for e in errors {
        let _ = write!(out, "\n  {e}");
    }
    if total > errors.len() {
        let _ = write!(out, "\n  ... and {} more", total - errors.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_tools_own_answer_is_a_tool_refusal() {
        // The tool answered the call: an `isError` result, a JSON-RPC invalid-params error.
        for e in [
            Error::tool_refused("tool `t` failed: no such file"),
            Error::mcp_answer(-32602, "invalid params"),
        ] {
            assert!(e.is_tool_refusal() && e.is_refusal(), "{e:?}");
        }
        // Refused before the call reached the tool: this request had no effect, but that
        // says nothing about an earlier attempt of the same call.
        for e in [
            Error::transport("refused our token (HTTP 401)", Some(401), false),
            Error::transport("HTTP 403", Some(403), false),
            Error::transport("HTTP 400", Some(400), false),
            Error::mcp(Some(-32602), "refused to initialise"),
            Error::invalid("mcp.url", "no fine-tuning server is configured"),
        ] {
            assert!(e.is_refusal() && !e.is_tool_refusal(), "{e:?}");
        }
        // The outcome is unknown: neither.
        for e in [
            Error::transport("did not answer", None, true),
            Error::mcp(None, "malformed answer"),
            Error::mcp_answer(-32603, "internal error"),
        ] {
            assert!(!e.is_refusal() && !e.is_tool_refusal(), "{e:?}");
        }
    }
}
