//! The handlers: each reads its parameters or body into the facade's options, makes one
//! facade call and writes the result (or the error) as JSON. Nothing else happens here.

use super::auth::{response_id_of, Access};
use super::error::{json_response, ApiError, ErrorBody};
use super::params::{json_body, json_text, Params};
use super::AppState;
use crate::model::time::now;
use crate::model::{
    Bucket, MetricsQuery, MetricsReport, ModelRanking, ProblematicQuery, RankBy, Timestamp,
    TrendQuery, TrendReport,
};
use crate::service::{
    AnalyzeOptions, AnalyzeResult, Decision, FineTuneJob, FineTuneOptions, FineTuneTarget,
    HealthReport, JobList, JobQuery, JobWithEvents, ProblematicReport, RankOptions, Submitted,
    SuggestReport,
};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

type S = State<Arc<AppState>>;
type Answer = Result<Response, ApiError>;
type Body = Result<Bytes, BytesRejection>;

/// A result of the facade as a 200 answer.
fn ok<T: Serialize>(value: &T) -> Answer {
    Ok(json_response(StatusCode::OK, value))
}

/// The body, or why it could not be read (too large: 413).
fn body(body: Body) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the body is larger than the server accepts",
            )
        } else {
            ApiError::invalid("body", "the body could not be read")
        }
    })
}

fn job_id(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    path.map(|Path(id)| id)
        .map_err(|_| ApiError::invalid("jobId", "not a valid job id"))
}

/// A model and a time range.
type Range = (Option<String>, Option<Timestamp>, Option<Timestamp>);

/// `model_id`, `since`, `until`: the filters most reads share.
fn range(p: &mut Params) -> Result<Range, ApiError> {
    Ok((p.text("model_id")?, p.time("since")?, p.time("until")?))
}

/// `GET /healthz`: the process answers.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    responses(
        (status = 200, description = "The process answers: `{\"status\":\"ok\"}`", body = Object)
    ),
    security(())
)]
pub async fn healthz() -> Response {
    json_response(StatusCode::OK, &serde_json::json!({"status": "ok"}))
}

/// `GET /readyz`: the database answers and its schema is current (503 otherwise).
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    responses(
        (status = 200, description = "The database answers and its schema is current (the store's health report without the scans of the rows: `orphaned_feedback` and `aggregate_mismatches` are null; `tuneloop check db` runs them)", body = HealthReport),
        (status = 503, description = "The schema is not current (the health report), or the database does not answer (the error shape, code `unavailable`)", body = super::bodies::NotReady)
    ),
    security(())
)]
pub async fn readyz(State(s): S) -> Answer {
    let health = s.tl.ready().await?;
    let status = if health.ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    Ok(json_response(status, &health))
}

/// `GET /openapi.json`.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "health",
    responses(
        (status = 200, description = "This document", body = Object)
    ),
    security(())
)]
pub async fn openapi() -> Response {
    json_response(StatusCode::OK, &super::openapi::document())
}

/// `GET /metrics`: the Prometheus text format (requests, latencies, records written).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "health",
    responses(
        (status = 200, description = "Prometheus text exposition: `tuneloop_http_requests_total`, `tuneloop_http_request_duration_seconds`, `tuneloop_feedback_recorded_total`, `tuneloop_responses_recorded_total`", body = String, content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8"),
        (status = 401, description = "No token, a wrong one, or an expired feedback token", body = ErrorBody),
        (status = 403, description = "The token does not allow this (admin endpoints disabled, or a feedback token for another response)", body = ErrorBody)
    ),
    security(("admin" = []))
)]
pub async fn prometheus(State(s): S, headers: HeaderMap) -> Answer {
    s.gate.admin(&headers)?;
    let mut answer = Response::new(axum::body::Body::from(s.figures.render()));
    answer.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static(
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        ),
    );
    Ok(answer)
}

/// `GET .../response-quality/metrics?model_id&since&until&bucket`.
#[utoipa::path(
    get,
    path = "/api/analytics/response-quality/metrics",
    tag = "response-quality",
    params(
        ("model_id" = Option<String>, Query, description = "Only this model"),
        ("since" = Option<String>, Query, description = "Responses created at or after this time (RFC 3339 or YYYY-MM-DD, UTC)"),
        ("until" = Option<String>, Query, description = "Responses created before this time (RFC 3339 or YYYY-MM-DD, UTC)"),
        ("bucket" = Option<String>, Query, description = "`day` or `week`: adds a series to each model")
    ),
    responses(
        (status = 200, description = "Quality per model (docs/formats.md, Metrics; the CLI's `metrics --json`)", body = MetricsReport),
        (status = 400, description = "Invalid input: `field` names the parameter or body field", body = ErrorBody),
        (status = 401, description = "No token, a wrong one, or an expired feedback token", body = ErrorBody),
        (status = 403, description = "The token does not allow this (admin endpoints disabled, or a feedback token for another response)", body = ErrorBody),
        (status = 503, description = "The database or the fine-tuning server is unavailable, or the request timed out", body = ErrorBody)
    ),
    security(("admin" = []))
)]
pub async fn metrics(State(s): S, headers: HeaderMap, RawQuery(q): RawQuery) -> Answer {
    s.gate.admin(&headers)?;
    let mut p = Params::parse(q.as_deref())?;
    let (model, since, until) = range(&mut p)?;
    let bucket: Option<Bucket> = p.choice("bucket", "day, week")?;
    p.finish()?;
    let query = MetricsQuery {
        model,
        since,
        until,
        bucket,
    };
    ok(&s.tl.metrics(&query).await?)
}

/// `GET .../response-quality/problematic?model_id&since&until&limit&show_pii`.
#[utoipa::path(
    get,
    path = "/api/analytics/response-quality/problematic",
    tag = "response-quality",
    params(
        ("model_id" = Option<String>, Query, description = "Only this model"),
        ("since" = Option<String>, Query, description = "Responses created at or after this time (RFC 3339 or YYYY-MM-DD, UTC)"),
        ("until" = Option<String>, Query, description = "Responses created before this time (RFC 3339 or YYYY-MM-DD, UTC)"),
        ("limit" = Option<usize>, Query, description = "At most this many, 1 to 100000 (default 20)"),
        ("show_pii" = Option<bool>, Query, description = "Show texts as written (personal data is hidden by default)"),
        ("rank_by" = Option<String>, Query, description = "`rate` (default: lower bound of the 95 % Wilson interval of the negative share) or `count` (number of negative items)")
    ),
    responses(
        (status = 200, description = "The responses users were most unhappy with, worst first (the CLI's `problematic --json`)", body = ProblematicReport),
        (status = 400, description = "Invalid input: `field` names the parameter or body field", body = ErrorBody),
        (status = 401, description = "No token, a wrong one, or an expired feedback token", body = ErrorBody),
        (status = 403, description = "The token does not allow this (admin endpoints disabled, or a feedback token for another response)", body = ErrorBody),
        (status = 503, description = "The database or the fine-tuning server is unavailable, or the request timed out", body = ErrorBody)
    ),
    security(("admin" = []))
)]
pub async fn problematic(State(s): S, headers: HeaderMap, RawQuery(q): RawQuery) -> Answer {
    s.gate.admin(&headers)?;
    let mut p = Params::parse(q.as_deref())?;
    let (model, since, until) = range(&mut p)?;
    let defaults = ProblematicQuery::default();
    let limit = p
        .parsed::<usize>("limit", "a whole number from 1 to 100000")?
        .unwrap_or(defaults.limit);
    if !(1..=100_000).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be from 1 to 100000"));
    }
    let show_pii = p.parsed::<bool>("show_pii", "true or false")?;
    let rank_by = p
        .parsed::<RankBy>("rank_by", "rate or count")?
        .unwrap_or(defaults.rank_by);
    p.finish()?;
    let query = ProblematicQuery {
        model,
        since,
        until,
        limit,
        redact_pii: show_pii.map_or(defaults.redact_pii, |show| !show),
        rank_by,
    };
    ok(&s.tl.problematic(&query).await?)
}

/// 201 when something new was stored, 200 when it all was already there.
fn stored_status(submitted: &Submitted) -> StatusCode {
    let s = &submitted.summary;
    if s.responses_inserted + s.feedback_inserted > 0 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

/// `POST .../response-quality/feedback`: one feedback item in the import format. The admin
/// token, or a feedback token of the response it is about.
#[utoipa::path(
    post,
    path = "/api/analytics/response-quality/feedback",
    tag = "response-quality",
    request_body(content = super::bodies::FeedbackBody, content_type = "application/json", description = "One feedback item in the import format (docs/formats.md); `type` and `created_at` (then: now) may be left out"),
    responses(
        (status = 201, description = "Stored: `{response_id, feedback_ids, summary}`", body = Submitted),
        (status = 200, description = "Already stored identically, nothing new (an idempotent re-send): the same body as 201", body = Submitted),
        (status = 400, description = "Invalid input: `field` names the parameter or body field", body = ErrorBody),
        (status = 401, description = "No token, a wrong one, or an expired feedback token", body = ErrorBody),
        (status = 403, description = "The token does not allow this (admin endpoints disabled, or a feedback token for another response)", body = ErrorBody),
        (status = 404, description = "Unknown job, model or response", body = ErrorBody),
        (status = 409, description = "A feedback item with this id exists with other content", body = ErrorBody),
        (status = 413, description = "The body is larger than the server accepts", body = ErrorBody),
        (status = 415, description = "The body is not sent as application/json", body = ErrorBody),
        (status = 503, description = "The database or the fine-tuning server is unavailable, or the request timed out", body = ErrorBody)
    ),
    security(("admin" = []), ("feedback_token" = []))
)]
pub async fn feedback(State(s): S, headers: HeaderMap, raw: Body) -> Answer {
    let access = s.gate.feedback(&headers, now())?;
    let raw = body(raw)?;
    let text = json_text(&headers, &raw)?;
    if let Access::Response(allowed) = &access {
        if let Some(named) = response_id_of(text) {
            if named != *allowed {
                return Err(ApiError::forbidden(
                    "the feedback token was issued for another response",
                ));
            }
        }
    }
    let submitted = s.writer.submit_feedback(text, &s.limits).await?;
    s.figures
        .feedback_recorded
        .inc_by(submitted.summary.feedback_inserted);
    Ok(json_response(stored_status(&submitted), &submitted))
}

/// What `POST .../response-quality/response` answers: what was stored, and a token for
/// posting feedback on that response from a browser.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecordedResponse {
    /// What was stored.
    #[serde(flatten)]
    pub submitted: Submitted,
    /// Lets its holder post feedback on this response only, until it expires.
    pub feedback_token: String,
    /// When the token expires (RFC 3339, UTC).
    #[serde(with = "crate::model::time::serde_ts")]
    #[schema(value_type = String, format = DateTime)]
    pub feedback_token_expires_at: Timestamp,
}

/// `POST .../response-quality/response`: a response, optionally with its feedback.
#[utoipa::path(
    post,
    path = "/api/analytics/response-quality/response",
    tag = "response-quality",
    request_body(content = super::bodies::ResponseBody, content_type = "application/json", description = "One response in the import format, optionally with its feedback under `feedback`; `type` may be left out"),
    responses(
        (status = 201, description = "Stored: `{response_id, feedback_ids, summary, feedback_token, feedback_token_expires_at}`", body = RecordedResponse),
        (status = 200, description = "Already stored identically, nothing new (an idempotent re-send): the same body as 201, with a fresh token", body = RecordedResponse),
        (status = 400, description = "Invalid input: `field` names the parameter or body field", body = ErrorBody),
        (status = 401, description = "No token, a wrong one, or an expired feedback token", body = ErrorBody),
        (status = 403, description = "The token does not allow this (admin endpoints disabled, or a feedback token for another response)", body = ErrorBody),
        (status = 409, description = "A record with this id exists with other content", body = ErrorBody),
        (status = 413, description = "The body is larger than the server accepts", body = ErrorBody),
        (status = 415, description = "The body is not sent as application/json", body = ErrorBody),
        (status = 503, description = "The database or the fine-tuning server is unavailable, or the request timed out", body = ErrorBody)
    ),
    security(("admin" = []))
)]
pub async fn response(State(s): S, headers: HeaderMap, raw: Body) -> Answer {
    s.gate.admin(&headers)?;
    // Before the write: an answer without its token must not follow a committed write.
    let signer = s.gate.signer()?;
    let raw = body(raw)?;
    let text = json_text(&headers, &raw)?;
    let submitted = s.tl.submit_response(text, &s.limits).await?;
    s.figures
        .responses_recorded
        .inc_by(submitted.summary.responses_inserted);
    s.figures
        .feedback_recorded
        .inc_by(submitted.summary.feedback_inserted);
    let (feedback_token, feedback_token_expires_at) = signer.issue(&submitted.response_id, now());
    let status = stored_status(&submitted);
    let answer = RecordedResponse {
        submitted,
        feedback_token,
        feedback_token_expires_at,
    };
    Ok(json_response(status, &answer))
}

/// `GET .../fine-tuning/jobs?model_id&status&limit`.
#[utoipa::path(
    get,
    path = "/api/analytics/model-improvement/fine-tuning/jobs",
    tag = "fine-tuning",
    params(
        ("model_id" = Option<String>, Query, description = "Only this model"),
        ("status" = Option<String>, Query, description = "Only this status (draft, starting, validating_files, queued, running, succeeded, failed, cancelled)"),
        ("limit" = Option<usize>, Query, description = "At most this many (default 50; 0: all)")
    ),
    responses(
        (status = 200, description = "Jobs, newest first (the CLI's `jobs list --json`)", body = JobList),
        (status = 400, description = "Invalid input: `field` names the parameter or body field", body = ErrorBody),
        (status = 401, description = "No token, a wrong one, or an expired feedback token", body = ErrorBody),
        (status = 403, description = "The token does not allow this (admin endpoints disabled, or a feedback token for another response)", body = ErrorBody),
        (status = 503, description = "The database or the fine-tuning server is unavailable, or the request timed out", body = ErrorBody)
    ),
    security(("admin" = []))
)]
pub async fn list_jobs(State(s): S, headers: HeaderMap, RawQuery(q): RawQuery) -> Answer {
    s.gate.admin(&headers)?;
    let mut p = Params::parse(q.as_deref())?;
    let model = p.text("model_id")?;
    let status = p.text("status")?;
    let limit = p
        .parsed::<usize>("limit", "a whole number (0: all)")?
        .unwrap_or(JobQuery::default().limit);
    p.finish()?;
    ok(&s
        .tl
        .list_jobs(&JobQuery {
            model,
            status,
            limit,
        })
        .await?)
}

/// `GET .../fine-tuning/jobs/{jobId}`: the job with its history.
#[utoipa::path(
    get,
    path = "/api/analytics/model-improvement/fine-tuning/jobs/{jobId}",
    tag = "fine-tuning",
    params(
        ("jobId" = String, Path, description = "Our job id (`ftj_...`)")
    ),
    responses(
        (status = 200, description = "The job with its history (the CLI's `jobs show --json`)", body = JobWithEvents),
        (status = 400, description = "Invalid input: `field` names the parameter or body field", body = ErrorBody),
        (status = 401, description = "No token, a wrong one, or an expired feedback token", body = ErrorBody),
        (status = 403, description = "The token does not allow this (admin endpoints disabled, or a feedback token for another response)", body = ErrorBody),
        (status = 404, description = "Unknown job, model or response", body = ErrorBody),
        (status = 503, description = "The database or the fine-tuning server is unavailable, or the request timed out", body = ErrorBody)
    ),
    security(("admin" = []))
)]
pub async fn get_job(
    State(s): S,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Answer {
    s.gate.admin(&headers)?;
    ok(&s.tl.job(&job_id(path)?).await?)
}

/// `POST .../fine-tuning/check`: the decision with every check (a dry run: nothing is
/// created). Body: the facade's `FineTuneOptions`.
#[utoipa::path(
    post,
    path = "/api/analytics/model-improvement/fine-tuning/check",
    tag = "fine-tuning",
    request_body(content = FineTuneOptions, content_type = "application/json", description = "The facade's FineTuneOptions: `{target:{model_id, base_model?, account?, method?, n_epochs?}, force?, as_of?}`"),
    responses(
        (status = 200, description = "The decision with every check: `{fine_tune, checks:[{name, passed, observed, required}]}`; nothing is created", body = Decision),
        (status = 400, description = "Invalid input: `field` names the parameter or body field", body = ErrorBody),
        (status = 401, description = "No token, a wrong one, or an expired feedback token", body = ErrorBody),
        (status = 403, description = "The token does not allow this (admin endpoints disabled, or a feedback token for another response)", body = ErrorBody),
        (status = 404, description = "Unknown job, model or response", body = ErrorBody),
        (status = 413, description = "The body is larger than the server accepts", body = ErrorBody),
        (status = 415, description = "The body is not sent as application/json", body = ErrorBody),
        (status = 503, description = "The database or the fine-tuning server is unavailable, or the request timed out", body = ErrorBody)
    ),
    security(("admin" = []))
)]
pub async fn check(State(s): S, headers: HeaderMap, raw: Body) -> Answer {
    s.gate.admin(&headers)?;
    let raw = body(raw)?;
    let options: FineTuneOptions = json_body(&headers, &raw)?;
    ok(&s.tl.should_fine_tune(&options).await?)
}

/// `POST .../fine-tuning/jobs`: a draft job (dataset built, cost estimated). Body: the
/// facade's `FineTuneTarget`.
#[utoipa::path(
    post,
    path = "/api/analytics/model-improvement/fine-tuning/jobs",
    tag = "fine-tuning",
    request_body(content = FineTuneTarget, content_type = "application/json", description = "The facade's FineTuneTarget: `{model_id, base_model?, account?, method?, n_epochs?}`"),
    responses(
        (status = 201, description = "A draft job (dataset built, cost estimated; nothing reserved or sent)", body = FineTuneJob),
        (status = 400, description = "Invalid input: `field` names the parameter or body field", body = ErrorBody),
        (status = 401, description = "No token, a wrong one, or an expired feedback token", body = ErrorBody),
        (status = 403, description = "The token does not allow this (admin endpoints disabled, or a feedback token for another response)", body = ErrorBody),
        (status = 404, description = "Unknown job, model or response", body = ErrorBody),
        (status = 409, description = "Conflict with a job in flight", body = ErrorBody),
        (status = 413, description = "The body is larger than the server accepts", body = ErrorBody),
        (status = 415, description = "The body is not sent as application/json", body = ErrorBody),
        (status = 503, description = "The database or the fine-tuning server is unavailable, or the request timed out", body = ErrorBody)
    ),
    security(("admin" = []))
)]
pub async fn create_job(State(s): S, headers: HeaderMap, raw: Body) -> Answer {
    s.gate.admin(&headers)?;
    let raw = body(raw)?;
    let target: FineTuneTarget = json_body(&headers, &raw)?;
    let job = s.tl.create_job(&target).await?;
    Ok(json_response(StatusCode::CREATED, &job))
}

/// `POST .../fine-tuning/jobs/{jobId}/start`.
#[utoipa::path(
    post,
    path = "/api/analytics/model-improvement/fine-tuning/jobs/{jobId}/start",
    tag = "fine-tuning",
    params(
        ("jobId" = String, Path, description = "Our job id (`ftj_...`)")
    ),
    responses(
        (status = 200, description = "The job, started (credits reserved, remote job created)", body = FineTuneJob),
        (status = 400, description = "Invalid input: `field` names the parameter or body field", body = ErrorBody),
        (status = 401, description = "No token, a wrong one, or an expired feedback token", body = ErrorBody),
        (status = 403, description = "The token does not allow this (admin endpoints disabled, or a feedback token for another response)", body = ErrorBody),
        (status = 404, description = "Unknown job, model or response", body = ErrorBody),
        (status = 402, description = "The account lacks the credits", body = ErrorBody),
        (status = 409, description = "The job changed concurrently", body = ErrorBody),
        (status = 502, description = "The fine-tuning server answered with an error", body = ErrorBody),
        (status = 503, description = "The database or the fine-tuning server is unavailable, or the request timed out", body = ErrorBody)
    ),
    security(("admin" = []))
)]
pub async fn start_job(
    State(s): S,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Answer {
    s.gate.admin(&headers)?;
    ok(&s.tl.start_job(&job_id(path)?).await?)
}

/// `POST .../fine-tuning/jobs/{jobId}/cancel`.
#[utoipa::path(
    post,
    path = "/api/analytics/model-improvement/fine-tuning/jobs/{jobId}/cancel",
    tag = "fine-tuning",
    params(
        ("jobId" = String, Path, description = "Our job id (`ftj_...`)")
    ),
    responses(
        (status = 200, description = "The job, cancelled (its credit hold released unless it succeeded)", body = FineTuneJob),
        (status = 400, description = "Invalid input: `field` names the parameter or body field", body = ErrorBody),
        (status = 401, description = "No token, a wrong one, or an expired feedback token", body = ErrorBody),
        (status = 403, description = "The token does not allow this (admin endpoints disabled, or a feedback token for another response)", body = ErrorBody),
        (status = 404, description = "Unknown job, model or response", body = ErrorBody),
        (status = 409, description = "The job changed concurrently", body = ErrorBody),
        (status = 502, description = "The fine-tuning server answered with an error", body = ErrorBody),
        (status = 503, description = "The database or the fine-tuning server is unavailable, or the request timed out", body = ErrorBody)
    ),
    security(("admin" = []))
)]
pub async fn cancel_job(
    State(s): S,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Answer {
    s.gate.admin(&headers)?;
    ok(&s.tl.cancel_job(&job_id(path)?).await?)
}

/// `GET .../model-improvement/error-patterns?model_id&since&until`: the analysis (not saved).
#[utoipa::path(
    get,
    path = "/api/analytics/model-improvement/error-patterns",
    tag = "model-improvement",
    params(
        ("model_id" = Option<String>, Query, description = "Only this model"),
        ("since" = Option<String>, Query, description = "Responses created at or after this time (RFC 3339 or YYYY-MM-DD, UTC)"),
        ("until" = Option<String>, Query, description = "Responses created before this time (RFC 3339 or YYYY-MM-DD, UTC)")
    ),
    responses(
        (status = 200, description = "Error patterns and category trends (the CLI's `analyze --json`; not saved)", body = AnalyzeResult),
        (status = 400, description = "Invalid input: `field` names the parameter or body field", body = ErrorBody),
        (status = 401, description = "No token, a wrong one, or an expired feedback token", body = ErrorBody),
        (status = 403, description = "The token does not allow this (admin endpoints disabled, or a feedback token for another response)", body = ErrorBody),
        (status = 503, description = "The database or the fine-tuning server is unavailable, or the request timed out", body = ErrorBody)
    ),
    security(("admin" = []))
)]
pub async fn error_patterns(State(s): S, headers: HeaderMap, RawQuery(q): RawQuery) -> Answer {
    s.gate.admin(&headers)?;
    let mut p = Params::parse(q.as_deref())?;
    let (model, since, until) = range(&mut p)?;
    p.finish()?;
    let options = AnalyzeOptions {
        model,
        since,
        until,
        ..Default::default()
    };
    ok(&s.tl.analyze(&options).await?)
}

/// `GET .../model-improvement/model-ranking?models&since&until&regularization`: the
/// Bradley–Terry ranking of models from pairwise comparisons.
#[utoipa::path(
    get,
    path = "/api/analytics/model-improvement/model-ranking",
    tag = "model-improvement",
    params(
        ("models" = Option<String>, Query, description = "Comma-separated models: only comparisons between two of them (default: every model)"),
        ("since" = Option<String>, Query, description = "Comparisons made at or after this time (RFC 3339 or YYYY-MM-DD, UTC)"),
        ("until" = Option<String>, Query, description = "Comparisons made before this time (RFC 3339 or YYYY-MM-DD, UTC)"),
        ("regularization" = Option<f64>, Query, description = "α, the L2 penalty on the log-strengths (default 0.01; 0: plain maximum likelihood)")
    ),
    responses(
        (status = 200, description = "Models ranked by Bradley–Terry score with 95 % intervals (the CLI's `rank --json`)", body = ModelRanking),
        (status = 400, description = "Invalid input: `field` names the parameter or body field", body = ErrorBody),
        (status = 401, description = "No token, a wrong one, or an expired feedback token", body = ErrorBody),
        (status = 403, description = "The token does not allow this (admin endpoints disabled, or a feedback token for another response)", body = ErrorBody),
        (status = 503, description = "The database or the fine-tuning server is unavailable, or the request timed out", body = ErrorBody)
    ),
    security(("admin" = []))
)]
pub async fn model_ranking(State(s): S, headers: HeaderMap, RawQuery(q): RawQuery) -> Answer {
    s.gate.admin(&headers)?;
    let mut p = Params::parse(q.as_deref())?;
    let models = p
        .text("models")?
        .map(|m| {
            m.split(',')
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let options = RankOptions {
        models,
        since: p.time("since")?,
        until: p.time("until")?,
        regularization: p.parsed::<f64>("regularization", "a number")?,
    };
    p.finish()?;
    ok(&s.tl.rank(&options).await?)
}

/// `GET .../model-improvement/error-trends?model_id&since&until&alpha&window`.
#[utoipa::path(
    get,
    path = "/api/analytics/model-improvement/error-trends",
    tag = "model-improvement",
    params(
        ("model_id" = Option<String>, Query, description = "Only this model"),
        ("since" = Option<String>, Query, description = "Responses created at or after this time (RFC 3339 or YYYY-MM-DD, UTC)"),
        ("until" = Option<String>, Query, description = "Responses created before this time (RFC 3339 or YYYY-MM-DD, UTC)"),
        ("alpha" = Option<f64>, Query, description = "Significance level, between 0 and 1 (default 0.05)"),
        ("window" = Option<u32>, Query, description = "Weeks of the emerging-category window, 1 to 260 (default 4)")
    ),
    responses(
        (status = 200, description = "Weekly trends per category (the CLI's `trends --json`)", body = TrendReport),
        (status = 400, description = "Invalid input: `field` names the parameter or body field", body = ErrorBody),
        (status = 401, description = "No token, a wrong one, or an expired feedback token", body = ErrorBody),
        (status = 403, description = "The token does not allow this (admin endpoints disabled, or a feedback token for another response)", body = ErrorBody),
        (status = 503, description = "The database or the fine-tuning server is unavailable, or the request timed out", body = ErrorBody)
    ),
    security(("admin" = []))
)]
pub async fn error_trends(State(s): S, headers: HeaderMap, RawQuery(q): RawQuery) -> Answer {
    s.gate.admin(&headers)?;
    let mut p = Params::parse(q.as_deref())?;
    let (model, since, until) = range(&mut p)?;
    let defaults = TrendQuery::default();
    let alpha = p
        .parsed::<f64>("alpha", "a number between 0 and 1")?
        .unwrap_or(defaults.alpha);
    if !(alpha > 0.0 && alpha < 1.0) {
        return Err(ApiError::invalid(
            "alpha",
            "must be between 0 and 1 (exclusive)",
        ));
    }
    let window = p
        .parsed::<u32>("window", "a whole number of weeks from 1 to 260")?
        .unwrap_or(defaults.window);
    if !(1..=260).contains(&window) {
        return Err(ApiError::invalid("window", "must be from 1 to 260 weeks"));
    }
    p.finish()?;
    let query = TrendQuery {
        model,
        since,
        until,
        alpha,
        window,
    };
    ok(&s.tl.trends(&query).await?)
}

/// `POST .../model-improvement/improvement-suggestions`. Body: the facade's
/// `AnalyzeOptions` (empty: everything, the built-in tables).
#[utoipa::path(
    post,
    path = "/api/analytics/model-improvement/improvement-suggestions",
    tag = "model-improvement",
    request_body(content = AnalyzeOptions, content_type = "application/json", description = "The facade's AnalyzeOptions: `{model?, since?, until?, lexicon?, rules?}`; empty: everything, built-in tables"),
    responses(
        (status = 200, description = "Suggestions, most urgent first (the CLI's `suggest --json`)", body = SuggestReport),
        (status = 400, description = "Invalid input: `field` names the parameter or body field", body = ErrorBody),
        (status = 401, description = "No token, a wrong one, or an expired feedback token", body = ErrorBody),
        (status = 403, description = "The token does not allow this (admin endpoints disabled, or a feedback token for another response)", body = ErrorBody),
        (status = 413, description = "The body is larger than the server accepts", body = ErrorBody),
        (status = 415, description = "The body is not sent as application/json", body = ErrorBody),
        (status = 503, description = "The database or the fine-tuning server is unavailable, or the request timed out", body = ErrorBody)
    ),
    security(("admin" = []))
)]
pub async fn suggestions(State(s): S, headers: HeaderMap, raw: Body) -> Answer {
    s.gate.admin(&headers)?;
    let raw = body(raw)?;
    let options: AnalyzeOptions = json_body(&headers, &raw)?;
    ok(&s.tl.suggest(&options).await?)
}

/// Any other path: 404 in the API's error shape.
pub async fn no_route() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no_route", "no such endpoint")
}

/// A known path with another method: 405 in the API's error shape.
pub async fn wrong_method() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take this method",
    )
}
