//! How to reach an MCP server.

use crate::config::McpSection;
use crate::secrets::redact_url;
use std::fmt;
use std::time::Duration;

/// Where the MCP server is and how patient to be with it.
///
/// `Debug` prints the token as `***`: it is a service key and never appears in logs,
/// errors or debug output. A password in the URL is shown as `***` too.
#[derive(Clone, PartialEq)]
pub struct McpConfig {
    /// The Streamable HTTP endpoint, e.g. `http://127.0.0.1:8765/mcp`.
    pub url: String,
    /// Bearer token (the MODEL_TRAINING service key), sent as `Authorization: Bearer ...`.
    pub token: Option<String>,
    /// Longest wait for one request's answer (default 30 s).
    pub request_timeout: Duration,
    /// Longest wait for a TCP/TLS connection (default 10 s).
    pub connect_timeout: Duration,
    /// Retries after the first attempt, for retry-safe calls only (default 3).
    pub max_retries: u32,
    /// Wait before the first retry; doubled for each further one (default 200 ms).
    pub backoff: Duration,
}

impl McpConfig {
    /// Defaults for `url`, no token.
    pub fn new(url: impl Into<String>) -> Self {
        McpConfig {
            url: url.into(),
            token: None,
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_retries: 3,
            backoff: Duration::from_millis(200),
        }
    }

    /// The settings `[mcp]` of tuneloop.toml give for the server at `url`: its
    /// `request_timeout_secs` and `max_retries` over the defaults. Every front builds its
    /// client through this, so no command talks to the server with other settings.
    pub fn from_section(url: impl Into<String>, section: &McpSection) -> Self {
        let mut config = McpConfig::new(url);
        if let Some(s) = section.request_timeout_secs {
            config.request_timeout = Duration::from_secs(s);
        }
        if let Some(n) = section.max_retries {
            config.max_retries = n;
        }
        config
    }

    /// The same, with a bearer token (an empty one counts as none).
    pub fn with_token(mut self, token: Option<String>) -> Self {
        self.token = token.filter(|t| !t.is_empty());
        self
    }

    /// The wait before retry number `retry` (0-based): `backoff × 2^retry`, at most 10 s.
    pub fn backoff_for(&self, retry: u32) -> Duration {
        let factor = 1u32 << retry.min(16);
        self.backoff
            .saturating_mul(factor)
            .min(Duration::from_secs(10))
    }
}

impl fmt::Debug for McpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("McpConfig")
            .field("url", &redact_url(&self.url))
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("request_timeout", &self.request_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_retries", &self.max_retries)
            .field("backoff", &self.backoff)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_token() {
        let c = McpConfig::new("http://127.0.0.1:1/mcp").with_token(Some("sk-secret-42".into()));
        let text = format!("{c:?}");
        assert!(!text.contains("sk-secret-42"), "{text}");
        assert!(text.contains("***"), "{text}");
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let c = McpConfig::new("u");
        assert_eq!(c.backoff_for(0), Duration::from_millis(200));
        assert_eq!(c.backoff_for(2), Duration::from_millis(800));
        assert_eq!(c.backoff_for(40), Duration::from_secs(10));
    }

    #[test]
    fn debug_hides_the_password_of_the_url() {
        let text = format!("{:?}", McpConfig::new("http://ops:s3cret@host:1/mcp"));
        assert!(
            !text.contains("s3cret") && text.contains("ops:***@host"),
            "{text}"
        );
    }

    #[test]
    fn the_section_sets_timeout_and_retries() {
        let section = McpSection {
            url: None,
            request_timeout_secs: Some(1),
            max_retries: Some(0),
        };
        let c = McpConfig::from_section("http://h/mcp", &section);
        assert_eq!(
            (c.request_timeout, c.max_retries),
            (Duration::from_secs(1), 0)
        );
        let d = McpConfig::from_section("http://h/mcp", &McpSection::default());
        assert_eq!(d, McpConfig::new("http://h/mcp"));
    }

    #[test]
    fn empty_token_counts_as_none() {
        assert_eq!(
            McpConfig::new("u").with_token(Some(String::new())).token,
            None
        );
    }
}
