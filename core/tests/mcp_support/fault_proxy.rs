//! `FaultProxy`: a fault-injection **test double**. It forwards MCP traffic to a real server
//! and, when told to, answers `tools/call` requests itself with a fault (HTTP 500, malformed
//! JSON, an expired session) instead. It counts the `tools/call` requests it receives per
//! tool, so tests can assert how often a call was sent.

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, Method, StatusCode};
use axum::response::Response;
use axum::Router;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What the proxy does with the next `tools/call` requests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    /// Forward.
    None,
    /// Answer HTTP 500 to the next `n`.
    Status500(u32),
    /// Answer this HTTP status to the next `n` without forwarding them (a gateway in front
    /// of the server refusing the request, e.g. 403).
    Status(u16, u32),
    /// Answer 200 with a body that is not JSON to the next `n`.
    Malformed(u32),
    /// Answer 404 (session expired) to the next one that carries a session id.
    ExpireSessionOnce,
    /// Forward the next `n` (the server runs them) but lose the answers: reply HTTP 502.
    LoseAnswer(u32),
    /// Forward the next `n` (the server runs them), then close the connection without any
    /// answer, as a network cut or a crashed gateway does after the request left.
    DropConnection(u32),
    /// Forward the next `n` at once (the server runs them) but hold their answers for this
    /// many milliseconds, past a client's timeout.
    Delay(u64, u32),
}

#[derive(Default)]
struct Inner {
    fault: Option<Fault>,
    /// Only `tools/call` requests for this tool are faulted (all when `None`).
    fault_tool: Option<String>,
    tool_calls: HashMap<String, u32>,
    initializes: u32,
}

#[derive(Clone)]
struct Shared {
    upstream: Arc<Mutex<String>>,
    http: reqwest::Client,
    inner: Arc<Mutex<Inner>>,
}

pub struct FaultProxy {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
    upstream: Arc<Mutex<String>>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Starts the proxy on 127.0.0.1 (a free port) in front of `upstream` (an `/mcp` URL).
    pub async fn start(upstream: String) -> FaultProxy {
        tuneloop::mcp::install_crypto_provider();
        let inner = Arc::new(Mutex::new(Inner::default()));
        let shared = Shared {
            upstream: Arc::new(Mutex::new(upstream)),
            http: reqwest::Client::new(),
            inner: inner.clone(),
        };
        let upstream = shared.upstream.clone();
        let app = Router::new().fallback(handle).with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/mcp", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FaultProxy {
            url,
            inner,
            upstream,
            task,
        }
    }

    pub fn set_fault(&self, fault: Fault) {
        let mut inner = self.inner.lock().unwrap();
        inner.fault = Some(fault);
        inner.fault_tool = None;
    }

    /// Like [`FaultProxy::set_fault`], for calls of `tool` only.
    pub fn set_fault_on(&self, tool: &str, fault: Fault) {
        let mut inner = self.inner.lock().unwrap();
        inner.fault = Some(fault);
        inner.fault_tool = Some(tool.to_string());
    }

    /// `tools/call` requests received for `tool` (faulted ones included).
    pub fn calls(&self, tool: &str) -> u32 {
        *self
            .inner
            .lock()
            .unwrap()
            .tool_calls
            .get(tool)
            .unwrap_or(&0)
    }

    /// Sends everything to another server from now on (as if the provider were replaced).
    pub fn set_upstream(&self, upstream: String) {
        *self.upstream.lock().unwrap() = upstream;
    }

    /// `initialize` requests received.
    pub fn initializes(&self) -> u32 {
        self.inner.lock().unwrap().initializes
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

const FORWARDED: [&str; 6] = [
    "authorization",
    "accept",
    "content-type",
    "mcp-session-id",
    "mcp-protocol-version",
    "last-event-id",
];

fn plain(status: StatusCode, content_type: &str, body: &'static str) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Body::from(body))
        .unwrap()
}

async fn handle(State(s): State<Shared>, request: Request) -> Response {
    // No standalone SSE stream: the client then works with POST answers only.
    if request.method() == Method::GET {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "text/plain", "");
    }
    let method = request.method().clone();
    let headers = request.headers().clone();
    let body = to_bytes(request.into_body(), 16 << 20).await.unwrap();
    let message: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let rpc = message.get("method").and_then(|m| m.as_str()).unwrap_or("");
    let has_session = headers.contains_key("mcp-session-id");
    let fault = {
        let mut inner = s.inner.lock().unwrap();
        match rpc {
            "initialize" => {
                inner.initializes += 1;
                None
            }
            "tools/call" => {
                let tool = message["params"]["name"].as_str().unwrap_or("").to_string();
                let targeted = inner.fault_tool.as_ref().is_none_or(|t| *t == tool);
                *inner.tool_calls.entry(tool).or_default() += 1;
                let fault = if targeted {
                    inner.fault.unwrap_or(Fault::None)
                } else {
                    Fault::None
                };
                let (now, next) = match fault {
                    Fault::Status500(n) if n > 0 => (Some(fault), Fault::Status500(n - 1)),
                    Fault::Malformed(n) if n > 0 => (Some(fault), Fault::Malformed(n - 1)),
                    Fault::ExpireSessionOnce if has_session => (Some(fault), Fault::None),
                    Fault::LoseAnswer(n) if n > 0 => (Some(fault), Fault::LoseAnswer(n - 1)),
                    Fault::Status(code, n) if n > 0 => (Some(fault), Fault::Status(code, n - 1)),
                    Fault::DropConnection(n) if n > 0 => {
                        (Some(fault), Fault::DropConnection(n - 1))
                    }
                    Fault::Delay(ms, n) if n > 0 => (Some(fault), Fault::Delay(ms, n - 1)),
                    other => (None, other),
                };
                if targeted {
                    inner.fault = Some(next);
                }
                now
            }
            _ => None,
        }
    };
    match fault {
        Some(Fault::Status500(_)) => {
            return plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain",
                "injected 500",
            )
        }
        Some(Fault::Status(code, _)) => {
            return Response::builder()
                .status(StatusCode::from_u16(code).unwrap())
                .header("content-type", "text/plain")
                .body(Body::from(format!("injected {code}")))
                .unwrap()
        }
        Some(Fault::DropConnection(_)) => {
            let _ = forward(&s, method, &headers, body.to_vec()).await;
            // Unwinding out of the handler ends the task serving this connection, so the
            // socket closes with no answer at all; `resume_unwind` skips the panic hook, so
            // the test output stays clean.
            std::panic::resume_unwind(Box::new("injected: connection dropped"));
        }
        Some(Fault::Malformed(_)) => {
            return plain(
                StatusCode::OK,
                "application/json",
                "{\"jsonrpc\":\"2.0\",\"id\":",
            )
        }
        Some(Fault::ExpireSessionOnce) => {
            return plain(
                StatusCode::NOT_FOUND,
                "application/json",
                "{\"error\":\"session not found\"}",
            )
        }
        Some(Fault::LoseAnswer(_)) => {
            let _ = forward(&s, method, &headers, body.to_vec()).await;
            return plain(
                StatusCode::BAD_GATEWAY,
                "text/plain",
                "injected: answer lost",
            );
        }
        Some(Fault::Delay(ms, _)) => {
            // The server runs the request at once (in a task of its own, so it goes through
            // even when the client gives up and drops this handler); the answer comes late.
            let body = body.to_vec();
            let task = tokio::spawn(async move { forward(&s, method, &headers, body).await });
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            return task.await.unwrap();
        }
        _ => {}
    }
    forward(&s, method, &headers, body.to_vec()).await
}

async fn forward(s: &Shared, method: Method, headers: &HeaderMap, body: Vec<u8>) -> Response {
    let mut request = s
        .http
        .request(
            reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap(),
            s.upstream.lock().unwrap().clone(),
        )
        .body(body);
    for name in FORWARDED {
        if let Some(v) = headers.get(name) {
            request = request.header(name, v.as_bytes());
        }
    }
    let upstream = match request.send().await {
        Ok(r) => r,
        Err(_) => return plain(StatusCode::BAD_GATEWAY, "text/plain", "upstream down"),
    };
    let status = upstream.status().as_u16();
    let mut response = Response::builder().status(status);
    for name in ["content-type", "mcp-session-id", "www-authenticate"] {
        if let Some(v) = upstream.headers().get(name) {
            response = response.header(HeaderName::from_static(name), v.as_bytes());
        }
    }
    // POST answers end once the response is sent, so reading them whole is fine.
    let bytes = upstream.bytes().await.unwrap_or_default();
    response.body(Body::from(bytes)).unwrap()
}
