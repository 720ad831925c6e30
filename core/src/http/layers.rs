//! What wraps every route: request logs, a panic guard, CORS and the request timeout.

use super::error::{json_response, ApiError, ErrorBody, ErrorDetail};
use super::HttpSettings;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::time::{Duration, Instant};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// `routes` with the layers, outermost first: logs, panic guard, CORS, timeout.
pub fn wrap(routes: Router, settings: &HttpSettings) -> Router {
    let mut router = routes.layer(middleware::from_fn_with_state(
        settings.request_timeout,
        timeout,
    ));
    if let Some(cors) = cors(&settings.cors_origins) {
        router = router.layer(cors);
    }
    router
        .layer(CatchPanicLayer::custom(panicked))
        .layer(middleware::from_fn(log))
}

/// CORS for the configured origins only; none configured: no layer, so browsers on other
/// origins get no permission. Origins that are not valid header values are left out.
fn cors(origins: &[String]) -> Option<CorsLayer> {
    let allowed: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok())
        .collect();
    if allowed.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(allowed))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .max_age(Duration::from_secs(3600)),
    )
}

/// A panic in a handler is a bug; the caller gets a plain 500 and the message stays in the
/// server (never in the answer).
fn panicked(_payload: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!(target: "tuneloop::http", "a request handler panicked");
    json_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        &ErrorBody {
            error: ErrorDetail {
                code: "internal".into(),
                message: "internal error".into(),
                field: None,
            },
        },
    )
}

/// Answers 503 `timeout` when the request takes longer than the limit. A write cut short
/// may or may not have committed; posting the same item again is safe (records are
/// idempotent).
async fn timeout(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            format!("the request took longer than {} s", limit.as_secs_f64()),
        )
        .into_response(),
    }
}

/// One log line per request: method, path (no query: it may carry personal data), status,
/// latency. Never bodies or headers, so never tokens.
async fn log(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    tracing::info!(
        target: "tuneloop::http",
        method = %method,
        path = %path,
        status = response.status().as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    response
}
