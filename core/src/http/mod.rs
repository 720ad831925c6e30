//! The HTTP API (feature `http`): the original system's endpoints over the [`Tuneloop`]
//! facade, as an axum [`Router`] to serve or mount, and as [`Api::handle`], a transport-free
//! entry point (method, path, query, headers and body in; status, headers and body out) that
//! a binding calls without a socket. See `docs/http.md`.
//!
//! Each handler is a pure mapping: parameters → the facade's options → one call → its result
//! as JSON (the same JSON as the CLI's `--json`), or an error as
//! `{"error":{"code","message","field"?}}` with the status its kind implies.
//!
//! ```
//! use tuneloop::http::{Api, HttpRequest, HttpSettings};
//! use tuneloop::{Options, Tuneloop};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let tl = Tuneloop::open(Options::memory()).await.unwrap();
//! let api = Api::new(tl, HttpSettings::default());
//! let answer = api.handle(HttpRequest::get("/healthz")).await;
//! assert_eq!(answer.status, 200);
//! # });
//! ```

mod auth;
mod bodies;
mod error;
mod layers;
mod openapi;
mod params;
mod prom;
mod routes;
mod serve;

pub use auth::{Access, FeedbackSigner, Gate, TokenError};
pub use error::{status_of, ApiError, ErrorBody, ErrorDetail};
pub use openapi::document as openapi_document;
pub use routes::RecordedResponse;
pub use serve::{bind, serve, shutdown_signal, ServeOptions, Server};

use crate::model::Limits;
use crate::Tuneloop;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// The admin bearer token's environment variable.
pub const ENV_ADMIN_TOKEN: &str = "TUNELOOP_ADMIN_TOKEN";
/// The feedback-token secret's environment variable (random per process when unset).
pub const ENV_FEEDBACK_SECRET: &str = "TUNELOOP_FEEDBACK_SECRET";
/// Browser origins allowed by CORS, comma-separated.
pub const ENV_CORS_ORIGINS: &str = "TUNELOOP_CORS_ORIGINS";

/// The API's prefix for the original system's endpoints.
pub const PREFIX: &str = "/api/analytics";

/// How the API guards and limits requests.
#[derive(Clone)]
pub struct HttpSettings {
    /// The admin bearer token; `None`: admin endpoints answer 403 unless `open_admin`.
    pub admin_token: Option<String>,
    /// Admin endpoints need no token (only for a server on a loopback address).
    pub open_admin: bool,
    /// The secret feedback tokens are signed with; `None`: 32 random bytes per process, so
    /// tokens die with the process and differ between instances (set one secret for all
    /// instances behind a load balancer).
    pub feedback_secret: Option<Vec<u8>>,
    /// How long a feedback token is valid.
    pub feedback_token_ttl: Duration,
    /// The largest request body accepted (413 beyond).
    pub body_limit: usize,
    /// Browser origins allowed by CORS (`https://app.example.com`); empty: no CORS headers,
    /// so browsers on other origins are refused.
    pub cors_origins: Vec<String>,
    /// A request taking longer is answered 503 `timeout`.
    pub request_timeout: Duration,
    /// Size limits of records posted (the import's).
    pub limits: Limits,
}

impl std::fmt::Debug for HttpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSettings")
            .field("admin_token", &self.admin_token.as_ref().map(|_| "***"))
            .field("open_admin", &self.open_admin)
            .field(
                "feedback_secret",
                &self.feedback_secret.as_ref().map(|_| "***"),
            )
            .field("feedback_token_ttl", &self.feedback_token_ttl)
            .field("body_limit", &self.body_limit)
            .field("cors_origins", &self.cors_origins)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

/// The default body limit: 256 KiB.
pub const DEFAULT_BODY_LIMIT: usize = 256 << 10;

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            admin_token: None,
            open_admin: false,
            feedback_secret: None,
            feedback_token_ttl: Duration::from_secs(24 * 3600),
            body_limit: DEFAULT_BODY_LIMIT,
            cors_origins: Vec::new(),
            request_timeout: Duration::from_secs(30),
            limits: Limits::default(),
        }
    }
}

impl HttpSettings {
    /// Fills what is not set yet from the environment (`env` is a lookup such as
    /// `|k| std::env::var(k).ok()`): `TUNELOOP_ADMIN_TOKEN`, `TUNELOOP_FEEDBACK_SECRET`,
    /// `TUNELOOP_CORS_ORIGINS` (comma-separated). Empty variables are ignored.
    pub fn apply_env(mut self, env: impl Fn(&str) -> Option<String>) -> Self {
        let get = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        if self.admin_token.is_none() {
            self.admin_token = get(ENV_ADMIN_TOKEN).map(|t| t.trim().to_string());
        }
        if self.feedback_secret.is_none() {
            self.feedback_secret = get(ENV_FEEDBACK_SECRET).map(|s| s.into_bytes());
        }
        if self.cors_origins.is_empty() {
            if let Some(list) = get(ENV_CORS_ORIGINS) {
                self.cors_origins = list
                    .split(',')
                    .map(|o| o.trim().to_string())
                    .filter(|o| !o.is_empty())
                    .collect();
            }
        }
        self
    }

    /// [`HttpSettings::apply_env`] with the process environment.
    pub fn with_process_env(self) -> Self {
        self.apply_env(|k| std::env::var(k).ok())
    }

    /// The credentials. Without a configured secret the key comes from the operating
    /// system's random source; should that fail, the gate takes only the admin token and
    /// says why when a token is asked for, rather than failing the whole API.
    fn gate(&self) -> Gate {
        let key = match &self.feedback_secret {
            Some(k) => Ok(k.clone()),
            None => random_secret(),
        };
        match key {
            Ok(key) => Gate::new(
                self.admin_token.clone(),
                self.open_admin,
                FeedbackSigner::new(key, self.feedback_token_ttl),
            ),
            Err(e) => Gate::without_signer(
                self.admin_token.clone(),
                self.open_admin,
                format!("{e}; set {ENV_FEEDBACK_SECRET}"),
            ),
        }
    }
}

fn random_secret() -> crate::Result<Vec<u8>> {
    use rand::TryRngCore;
    let mut key = vec![0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut key)
        .map_err(|e| crate::Error::Io {
            path: "the operating system's random source".into(),
            source: std::io::Error::other(e.to_string()),
        })?;
    Ok(key)
}

/// What every handler shares.
pub(crate) struct AppState {
    tl: Tuneloop,
    /// Feedback POSTs share transactions through it (group commit).
    writer: crate::service::FeedbackBatcher,
    gate: Gate,
    limits: Limits,
    /// What `/metrics` reports.
    figures: Arc<prom::Figures>,
}

/// The router: every endpoint, with the body limit, CORS, the request timeout, request logs
/// and a guard that turns a panic into a plain 500.
pub fn router(tl: Tuneloop, settings: HttpSettings) -> Router {
    let state = Arc::new(AppState {
        writer: tl.feedback_batcher(crate::service::DEFAULT_GROUP_SIZE),
        tl,
        gate: settings.gate(),
        limits: settings.limits,
        figures: Arc::new(prom::Figures::new()),
    });
    let figures = state.figures.clone();
    let quality = format!("{PREFIX}/response-quality");
    let improve = format!("{PREFIX}/model-improvement");
    let jobs = format!("{improve}/fine-tuning/jobs");
    let routes = Router::new()
        .route("/healthz", get(routes::healthz))
        .route("/readyz", get(routes::readyz))
        .route("/openapi.json", get(routes::openapi))
        .route("/metrics", get(routes::prometheus))
        .route(&format!("{quality}/metrics"), get(routes::metrics))
        .route(&format!("{quality}/problematic"), get(routes::problematic))
        .route(&format!("{quality}/feedback"), post(routes::feedback))
        .route(&format!("{quality}/response"), post(routes::response))
        .route(&jobs, get(routes::list_jobs).post(routes::create_job))
        .route(&format!("{jobs}/{{jobId}}"), get(routes::get_job))
        .route(&format!("{jobs}/{{jobId}}/start"), post(routes::start_job))
        .route(
            &format!("{jobs}/{{jobId}}/cancel"),
            post(routes::cancel_job),
        )
        .route(&format!("{improve}/fine-tuning/check"), post(routes::check))
        .route(
            &format!("{improve}/error-patterns"),
            get(routes::error_patterns),
        )
        .route(
            &format!("{improve}/error-trends"),
            get(routes::error_trends),
        )
        .route(
            &format!("{improve}/model-ranking"),
            get(routes::model_ranking),
        )
        .route(
            &format!("{improve}/improvement-suggestions"),
            post(routes::suggestions),
        )
        .fallback(routes::no_route)
        .method_not_allowed_fallback(routes::wrong_method)
        .layer(DefaultBodyLimit::max(settings.body_limit))
        .layer(axum::middleware::from_fn_with_state(figures, prom::observe))
        .with_state(state);
    layers::wrap(routes, &settings)
}

/// A request for [`Api::handle`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, e.g. `/api/analytics/response-quality/metrics` (a `?query` here is used
    /// when `query` is `None`).
    pub path: String,
    /// The query string without `?`.
    pub query: Option<String>,
    /// Header names and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// A GET of `path` without headers.
    pub fn get(path: impl Into<String>) -> Self {
        HttpRequest {
            method: "GET".into(),
            path: path.into(),
            ..Default::default()
        }
    }

    /// A POST of a JSON body to `path`.
    pub fn post_json(path: impl Into<String>, body: impl Into<Vec<u8>>) -> Self {
        HttpRequest {
            method: "POST".into(),
            path: path.into(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.into(),
            ..Default::default()
        }
    }

    /// The same request with one more header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// An answer of [`Api::handle`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpResponse {
    /// The HTTP status.
    pub status: u16,
    /// Header names and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first value of a header (names compare case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The API as a value: the router, and [`Api::handle`] for hosts that bring their own
/// transport. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Api {
    router: Router,
}

impl Api {
    /// The API over `tl` (see [`router`]).
    pub fn new(tl: Tuneloop, settings: HttpSettings) -> Self {
        Api {
            router: router(tl, settings),
        }
    }

    /// The router, to serve or to nest in a host's own.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// Answers one request without a socket: the same router, run once.
    pub async fn handle(&self, request: HttpRequest) -> HttpResponse {
        use tower::ServiceExt;
        let http_request = match build_request(request) {
            Ok(r) => r,
            Err(e) => return answer_of(axum::response::IntoResponse::into_response(e)).await,
        };
        let response = match self.router.clone().oneshot(http_request).await {
            Ok(r) => r,
            Err(never) => match never {},
        };
        answer_of(response).await
    }
}

fn build_request(request: HttpRequest) -> Result<axum::http::Request<Body>, ApiError> {
    let uri = match &request.query {
        Some(q) if !q.is_empty() => format!("{}?{q}", request.path),
        _ => request.path.clone(),
    };
    let mut builder = axum::http::Request::builder()
        .method(request.method.as_str())
        .uri(uri);
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder
        .body(Body::from(request.body))
        .map_err(|e| ApiError::invalid("request", format!("not a valid HTTP request: {e}")))
}

async fn answer_of(response: axum::response::Response) -> HttpResponse {
    let (parts, body) = response.into_parts();
    let headers = parts
        .headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    // Our bodies are in memory already; a body that fails to read is answered empty.
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    HttpResponse {
        status: parts.status.as_u16(),
        headers,
        body,
    }
}
