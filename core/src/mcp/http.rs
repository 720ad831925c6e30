//! [`HttpMcpClient`]: MCP over Streamable HTTP, with timeouts, retries and session renewal.

use super::classify::{init_failure, service_failure, Failure};
use super::{install_crypto_provider, McpClient, McpConfig, ToolInfo};
use crate::secrets::redact_url;
use crate::{Error, Result};
use async_trait::async_trait;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{Peer, ServiceError, ServiceExt};
use serde_json::Value;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

/// An MCP client over Streamable HTTP (spec 2025-11-25), built on the official `rmcp` SDK.
///
/// # Behaviour
/// - Every request (the `initialize` handshake included) is bounded by
///   [`McpConfig::request_timeout`]; connecting by [`McpConfig::connect_timeout`].
/// - A call marked retry-safe is retried up to [`McpConfig::max_retries`] times after a
///   retryable failure (refused connection, timeout, HTTP 429/5xx, expired session), waiting
///   [`McpConfig::backoff_for`] between attempts. Any other call is sent at most once: after
///   a timeout or a lost answer it may or may not have run, and it is not repeated.
/// - When the server says the session expired (HTTP 404 on it), the client opens a new
///   session; the expired call is resent only if it is retry-safe. The SDK's own silent
///   resend is switched off so that this rule holds.
/// - The bearer token is sent on every request and never appears in errors or `Debug`.
///   With a token, a user and password in the URL are not sent (a request carries one
///   `Authorization` header: the token); without one they go as HTTP Basic credentials. The
///   password never appears in errors or `Debug` either (`user:***@`).
pub struct HttpMcpClient {
    config: McpConfig,
    /// The URL as messages show it: its password hidden.
    shown_url: String,
    /// The URL requests go to.
    endpoint: String,
    http: reqwest::Client,
    session: tokio::sync::Mutex<Option<Arc<Session>>>,
}

struct Session {
    service: RunningService<RoleClient, ()>,
}

impl fmt::Debug for HttpMcpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpMcpClient")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Whether a failure happened before the request left (so resending it is always safe).
enum Stage {
    Connecting,
    Sent,
}

impl HttpMcpClient {
    /// Checks the configuration and opens a session (the `initialize` handshake), retrying a
    /// refused connection like a retry-safe call.
    pub async fn connect(config: McpConfig) -> Result<Self> {
        let client = Self::new(config)?;
        client
            .run("connect", true, |_peer| async { Ok(()) })
            .await?;
        Ok(client)
    }

    /// Checks the configuration without connecting; the first call opens the session.
    pub fn new(config: McpConfig) -> Result<Self> {
        let shown_url = redact_url(&config.url);
        let mut url = reqwest::Url::parse(&config.url)
            .map_err(|e| Error::invalid("mcp.url", format!("`{shown_url}` is not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::invalid(
                "mcp.url",
                format!("`{shown_url}` is not an http(s) URL"),
            ));
        }
        // reqwest turns a URL's user and password into a Basic `Authorization` header, which
        // would go along with the bearer token's: servers and gateways read either one.
        let endpoint =
            if config.token.is_some() && (!url.username().is_empty() || url.password().is_some()) {
                // Cannot fail on an http(s) URL, which has a host.
                let _ = url.set_username("");
                let _ = url.set_password(None);
                url.to_string()
            } else {
                config.url.clone()
            };
        if config.request_timeout.is_zero() {
            return Err(Error::invalid("mcp.request_timeout", "must be above zero"));
        }
        install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .build()
            .map_err(|e| Error::Transport {
                message: "cannot build the HTTP client".into(),
                status: None,
                retryable: false,
                source: Some(Box::new(e)),
            })?;
        Ok(HttpMcpClient {
            config,
            shown_url,
            endpoint,
            http,
            session: tokio::sync::Mutex::new(None),
        })
    }

    /// The configuration (its `Debug` hides the token).
    pub fn config(&self) -> &McpConfig {
        &self.config
    }

    async fn open(&self) -> std::result::Result<Session, Failure> {
        let mut transport_config =
            StreamableHttpClientTransportConfig::with_uri(self.endpoint.as_str());
        // We renew expired sessions ourselves, so that a call that is not retry-safe is
        // never sent twice.
        transport_config.reinit_on_expired_session = false;
        if let Some(token) = &self.config.token {
            transport_config = transport_config.auth_header(token.clone());
        }
        let transport =
            StreamableHttpClientTransport::with_client(self.http.clone(), transport_config);
        match tokio::time::timeout(self.config.request_timeout, ().serve(transport)).await {
            Ok(Ok(service)) => Ok(Session { service }),
            Ok(Err(e)) => Err(init_failure(e, &self.shown_url)),
            Err(_) => Err(Failure {
                error: Error::transport(
                    format!(
                        "connect: the MCP server at {} did not finish the handshake within {:?}",
                        self.shown_url, self.config.request_timeout
                    ),
                    None,
                    true,
                ),
                drop_session: true,
                session_expired: false,
            }),
        }
    }

    async fn session(&self) -> std::result::Result<Arc<Session>, Failure> {
        let mut guard = self.session.lock().await;
        if let Some(s) = guard.as_ref() {
            if !s.service.is_transport_closed() {
                return Ok(s.clone());
            }
        }
        let s = Arc::new(self.open().await?);
        *guard = Some(s.clone());
        Ok(s)
    }

    /// Forgets `stale` unless another call already replaced it.
    async fn forget(&self, stale: &Arc<Session>) {
        let mut guard = self.session.lock().await;
        if guard.as_ref().is_some_and(|s| Arc::ptr_eq(s, stale)) {
            *guard = None;
        }
    }

    async fn attempt<T, F, Fut>(
        &self,
        what: &str,
        f: &F,
    ) -> std::result::Result<T, (Stage, Failure)>
    where
        F: Fn(Peer<RoleClient>) -> Fut,
        Fut: Future<Output = std::result::Result<T, ServiceError>>,
    {
        let session = self.session().await.map_err(|f| (Stage::Connecting, f))?;
        let call = f(session.service.peer().clone());
        let failure = match tokio::time::timeout(self.config.request_timeout, call).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(e)) => service_failure(e, &self.shown_url, what),
            Err(_) => Failure {
                error: Error::transport(
                    format!(
                        "{what}: the MCP server at {} did not answer within {:?}; whether the \
                         call ran is unknown",
                        self.shown_url, self.config.request_timeout
                    ),
                    None,
                    true,
                ),
                drop_session: false,
                session_expired: false,
            },
        };
        if failure.drop_session || session.service.is_transport_closed() {
            self.forget(&session).await;
        }
        Err((Stage::Sent, failure))
    }

    /// Runs one request with the timeout and retry rules of the type's docs.
    async fn run<T, F, Fut>(&self, what: &str, retry_safe: bool, f: F) -> Result<T>
    where
        F: Fn(Peer<RoleClient>) -> Fut,
        Fut: Future<Output = std::result::Result<T, ServiceError>>,
    {
        let mut retry = 0;
        loop {
            let (stage, failure) = match self.attempt(what, &f).await {
                Ok(value) => return Ok(value),
                Err(e) => e,
            };
            let sent = matches!(stage, Stage::Sent);
            if sent && !retry_safe {
                if failure.session_expired {
                    return Err(Error::transport(
                        format!(
                            "{what}: the MCP session at {} expired before the call ran; it was \
                             not resent because it is not retry-safe (the next call opens a new \
                             session)",
                            self.shown_url
                        ),
                        Some(404),
                        true,
                    ));
                }
                return Err(failure.error);
            }
            if !failure.error.is_retryable() || retry >= self.config.max_retries {
                return Err(failure.error);
            }
            // An expired session is renewed at once; other failures wait.
            if !failure.session_expired {
                tokio::time::sleep(self.config.backoff_for(retry)).await;
            }
            retry += 1;
        }
    }
}

/// The tool's result as JSON: `structuredContent`, else the JSON of its text content.
fn tool_value(name: &str, result: CallToolResult) -> Result<Value> {
    let text: Vec<&str> = result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.as_str()))
        .collect();
    if result.is_error == Some(true) {
        let message = if text.is_empty() {
            "(no message)".to_string()
        } else {
            text.join("\n")
        };
        return Err(Error::tool_refused(format!(
            "tool `{name}` failed: {}",
            crate::secrets::scrub(&message)
        )));
    }
    if let Some(value) = result.structured_content {
        return Ok(value);
    }
    let Some(first) = text.first() else {
        return Err(Error::mcp(
            None,
            format!("tool `{name}` returned neither structuredContent nor text"),
        ));
    };
    serde_json::from_str(first).map_err(|e| {
        Error::mcp(
            None,
            format!("tool `{name}` returned no structuredContent and its text is not JSON: {e}"),
        )
    })
}

#[async_trait]
impl McpClient for HttpMcpClient {
    async fn list_tools(&self) -> Result<Vec<ToolInfo>> {
        let tools = self
            .run("tools/list", true, |peer| async move {
                peer.list_all_tools().await
            })
            .await?;
        Ok(tools
            .into_iter()
            .map(|t| ToolInfo {
                name: t.name.to_string(),
                description: t.description.map(|d| d.to_string()),
                input_schema: Value::Object((*t.input_schema).clone()),
                output_schema: t.output_schema.map(|s| Value::Object((*s).clone())),
            })
            .collect())
    }

    async fn call_tool(&self, name: &str, arguments: Value, retry_safe: bool) -> Result<Value> {
        let arguments = match arguments {
            Value::Object(map) => Some(map),
            Value::Null => None,
            other => {
                return Err(Error::invalid(
                    "arguments",
                    format!("tool arguments must be a JSON object, not {other}"),
                ))
            }
        };
        let what = format!("tool `{name}`");
        let result = self
            .run(&what, retry_safe, |peer| {
                let mut params = CallToolRequestParams::new(name.to_string());
                if let Some(a) = &arguments {
                    params = params.with_arguments(a.clone());
                }
                async move { peer.call_tool(params).await }
            })
            .await?;
        tool_value(name, result)
    }

    async fn close(&self) -> Result<()> {
        let session = self.session.lock().await.take();
        if let Some(session) = session {
            if let Ok(session) = Arc::try_unwrap(session) {
                // Best effort: the server forgets idle sessions anyway.
                let _ = session.service.cancel().await;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_token_and_bad_urls_are_invalid_input() {
        let config =
            McpConfig::new("http://127.0.0.1:1/mcp").with_token(Some("sk-live-abc123".into()));
        let client = HttpMcpClient::new(config).unwrap();
        let text = format!("{client:?}");
        assert!(!text.contains("sk-live-abc123"), "{text}");
        let config = McpConfig::new("http://ops:s3cret@127.0.0.1:1/mcp");
        let text = format!("{:?}", HttpMcpClient::new(config).unwrap());
        assert!(!text.contains("s3cret"), "{text}");
        let err = HttpMcpClient::new(McpConfig::new("ftp://ops:s3cret@host/mcp")).unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
        for url in ["not a url", "ftp://host/mcp"] {
            match HttpMcpClient::new(McpConfig::new(url)) {
                Err(Error::InvalidInput { field, .. }) => assert_eq!(field, "mcp.url"),
                other => panic!("{url}: {other:?}"),
            }
        }
    }

    #[test]
    fn is_error_results_and_text_fallback() {
        let mut r = CallToolResult::success(vec![rmcp::model::ContentBlock::text("{\"a\":1}")]);
        assert_eq!(
            tool_value("t", r.clone()).unwrap(),
            serde_json::json!({"a": 1})
        );
        r.is_error = Some(true);
        let err = tool_value("t", r).unwrap_err().to_string();
        assert!(
            err.contains("tool `t` failed") && err.contains("{\"a\":1}"),
            "{err}"
        );
        let r = CallToolResult::success(vec![rmcp::model::ContentBlock::text("plain words")]);
        assert!(matches!(
            tool_value("t", r),
            Err(Error::Mcp { code: None, .. })
        ));
    }
}
