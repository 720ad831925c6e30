//! The HTTP API on a real listening server (127.0.0.1, a free port) over a temporary SQLite
//! store seeded with the demo world: every endpoint's answer equals the facade's result
//! serialised (the CLI's `--json`), every error status, bad bodies, tokens, CORS, and the
//! transport-free `Api::handle`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tuneloop::config::Config;
use tuneloop::demo::{generate, DemoOptions};
use tuneloop::http::{bind, Api, FeedbackSigner, HttpRequest, HttpSettings, ServeOptions};
use tuneloop::mcp::SimulatedProvider;
use tuneloop::model::{
    parse_timestamp, Bucket, Comparison, MetricsQuery, ProblematicQuery, ResponseRecord,
    TrendQuery, Winner,
};
use tuneloop::service::{
    AnalyzeOptions, FineTuneOptions, FineTuneTarget, GrantOptions, JobQuery, RankOptions,
};
use tuneloop::{Options, Tuneloop};

const ADMIN: &str = "test-admin-token-0123456789";
const SECRET: &[u8] = b"test-feedback-secret-0123456789abcdef";
const MODEL: &str = "support-bot-v2";
const Q: &str = "/api/analytics/response-quality";
const M: &str = "/api/analytics/model-improvement";

fn config() -> Config {
    let mut c = Config::parse(
        r#"
[fine_tune]
base_model = "gpt-4.1-mini"
account = "acme"

[prices]
"gpt-4.1-mini" = 2000

[policy]
min_feedback_since_last_job = 0
min_negative_rate = 0.0
min_training_examples = 1
cooldown_days = 0
"#,
        "test.toml",
    )
    .unwrap();
    c.dataset.min_examples = 1;
    c
}

fn settings() -> HttpSettings {
    HttpSettings {
        admin_token: Some(ADMIN.into()),
        feedback_secret: Some(SECRET.to_vec()),
        cors_origins: vec!["https://app.example.com".into()],
        ..Default::default()
    }
}

struct Server {
    base: String,
    tl: Tuneloop,
    http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<tuneloop::Result<()>>>,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start(settings: HttpSettings) -> Server {
        tuneloop::service::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let tl = Tuneloop::open(Options {
            database_url: Some(url),
            config: config(),
            provider: Some(Arc::new(SimulatedProvider::manual())),
            ..Default::default()
        })
        .await
        .unwrap();
        let demo = generate(&DemoOptions {
            weeks: 6,
            responses_per_week: 40,
            ..Default::default()
        });
        tl.record(&demo.batch).await.unwrap();
        let server = bind(
            tl.clone(),
            settings,
            ServeOptions {
                listen: "127.0.0.1:0".parse().unwrap(),
                schedule: None,
            },
        )
        .await
        .unwrap();
        let addr = server.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        Server {
            base: format!("http://{addr}"),
            tl,
            http: reqwest::Client::new(),
            stop: Some(stop),
            task: Some(task),
            _dir: dir,
        }
    }

    fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    fn admin(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.req(method, path).bearer_auth(ADMIN)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        send(self.admin(Method::GET, path)).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        send(self.admin(Method::POST, path).json(&body)).await
    }

    /// Stops the server the way SIGTERM does: it must finish and close the store.
    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap().unwrap();
    }
}

async fn send(req: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let (client, req) = req.build_split();
    let req = req.unwrap();
    let (method, path) = (req.method().clone(), req.url().path().to_string());
    let res = client.execute(req).await.unwrap();
    let status = res.status();
    assert_documented(&method, &path, status);
    let bytes = res.bytes().await.unwrap();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("not JSON ({status}): {}", String::from_utf8_lossy(&bytes)));
    (status, value)
}

/// Every answer a test sees on a documented route has its status in `/openapi.json`: the
/// schema fuzz run found a 200 the document did not list, so every test now checks.
fn assert_documented(method: &Method, path: &str, status: StatusCode) {
    let doc = tuneloop::http::openapi_document();
    let Some(paths) = doc["paths"].as_object() else {
        panic!("the document has no paths")
    };
    let segments: Vec<&str> = path.split('/').collect();
    let template = paths.iter().find(|(t, _)| {
        let ts: Vec<&str> = t.split('/').collect();
        ts.len() == segments.len()
            && ts
                .iter()
                .zip(&segments)
                .all(|(t, s)| t == s || (t.starts_with('{') && !s.is_empty()))
    });
    let Some((template, item)) = template else {
        return; // an unknown route: the 404 is the router's, not an operation's
    };
    let Some(op) = item.get(method.as_str().to_ascii_lowercase()) else {
        return; // a method the route does not have (405) or a CORS preflight
    };
    assert!(
        op["responses"].get(status.as_str()).is_some(),
        "{method} {template} answered {status}, which /openapi.json does not list"
    );
}

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap()
}

/// An error answer: its status, code and field.
fn assert_error(got: &(StatusCode, Value), status: u16, code: &str, field: Option<&str>) {
    assert_eq!(got.0.as_u16(), status, "{}", got.1);
    assert_eq!(got.1["error"]["code"], code, "{}", got.1);
    assert!(got.1["error"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
    match field {
        Some(f) => assert_eq!(got.1["error"]["field"], f, "{}", got.1),
        None => assert!(got.1["error"].get("field").is_none(), "{}", got.1),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_answer_the_facades_json() {
    let s = Server::start(settings()).await;
    let tl = s.tl.clone();

    let (st, body) = s.get("/healthz").await;
    assert_eq!((st.as_u16(), body), (200, json!({"status": "ok"})));
    let (st, body) = s.get("/readyz").await;
    assert_eq!(st, 200);
    assert_eq!(body, to_json(&tl.ready().await.unwrap()));
    // A probe skips the scans of the rows; `check db` (the full report) runs them.
    let full = to_json(&tl.store().health().await.unwrap());
    assert_eq!(
        (&body["orphaned_feedback"], &full["orphaned_feedback"]),
        (&Value::Null, &json!(0))
    );
    assert_eq!(
        (&body["aggregate_mismatches"], &full["aggregate_mismatches"]),
        (&Value::Null, &json!(0))
    );
    assert_eq!(body["schema_version"], full["schema_version"]);
    assert_eq!(body["missing_tables"], full["missing_tables"]);

    let (st, body) = s
        .get(&format!(
            "{Q}/metrics?model_id={MODEL}&since=2026-10-01&bucket=week"
        ))
        .await;
    assert_eq!(st, 200);
    let want = tl
        .metrics(&MetricsQuery {
            model: Some(MODEL.into()),
            since: Some(parse_timestamp("2026-10-01").unwrap()),
            until: None,
            bucket: Some(Bucket::Week),
        })
        .await
        .unwrap();
    assert_eq!(body, to_json(&want));
    assert_eq!(body["models"].as_array().unwrap().len(), 1);

    let (st, body) = s.get(&format!("{Q}/problematic?limit=5")).await;
    assert_eq!(st, 200);
    let want = tl
        .problematic(&ProblematicQuery {
            limit: 5,
            redact_pii: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(body, to_json(&want));
    assert_eq!(body["responses"].as_array().unwrap().len(), 5);

    let (st, body) = s.get(&format!("{M}/error-patterns?model_id={MODEL}")).await;
    assert_eq!(st, 200);
    let want = tl
        .analyze(&AnalyzeOptions {
            model: Some(MODEL.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(body, to_json(&want));
    assert!(!body["patterns"].as_array().unwrap().is_empty());

    // Two models answering one conversation, one comparison: the ranking over HTTP is the
    // facade's.
    let at = parse_timestamp("2026-10-05T10:00:00Z").unwrap();
    for (id, model) in [("rank-a", "rank-model-a"), ("rank-b", "rank-model-b")] {
        tl.record_response(ResponseRecord::new(
            id,
            model,
            "Which plan fits me?",
            id,
            at,
        ))
        .await
        .unwrap();
    }
    tl.record_comparisons(&[Comparison::new("cmp-1", "rank-a", "rank-b", Winner::A, at)])
        .await
        .unwrap();
    let (st, body) = s
        .get(&format!(
            "{M}/model-ranking?models=rank-model-a,rank-model-b"
        ))
        .await;
    assert_eq!(st, 200, "{body}");
    let want = tl
        .rank(&RankOptions {
            models: vec!["rank-model-a".into(), "rank-model-b".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(body, to_json(&want));
    assert_eq!(body["models"][0]["model"], "rank-model-a", "{body}");

    let (st, body) = s.get(&format!("{M}/error-trends?window=2&alpha=0.1")).await;
    assert_eq!(st, 200);
    let want = tl
        .trends(&TrendQuery {
            alpha: 0.1,
            window: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(body, to_json(&want));

    let (st, body) = s
        .post(
            &format!("{M}/improvement-suggestions"),
            json!({"model": MODEL}),
        )
        .await;
    assert_eq!(st, 200);
    let want = tl
        .suggest(&AnalyzeOptions {
            model: Some(MODEL.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(body, to_json(&want));
    assert!(!body["suggestions"].as_array().unwrap().is_empty());
    // An empty body is the default options.
    let (st, _) = send(s.admin(Method::POST, &format!("{M}/improvement-suggestions"))).await;
    assert_eq!(st, 200);

    let (st, body) = s.get("/openapi.json").await;
    assert_eq!(st, 200);
    assert_eq!(body, tuneloop::http::openapi_document());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fine_tuning_jobs_over_http() {
    let s = Server::start(settings()).await;
    let tl = s.tl.clone();
    let (st, body) = s
        .post(
            &format!("{M}/fine-tuning/check"),
            json!({"target": {"model_id": MODEL}}),
        )
        .await;
    assert_eq!(st, 200);
    let want = tl
        .should_fine_tune(&FineTuneOptions {
            target: FineTuneTarget::new(MODEL),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(body, to_json(&want));
    assert!(!body["checks"].as_array().unwrap().is_empty());

    let (st, job) = s
        .post(&format!("{M}/fine-tuning/jobs"), json!({"model_id": MODEL}))
        .await;
    assert_eq!(st, 201, "{job}");
    let id = job["id"].as_str().unwrap().to_string();
    assert_eq!(job["status"], "draft");

    let (st, list) = s
        .get(&format!("{M}/fine-tuning/jobs?model_id={MODEL}"))
        .await;
    assert_eq!(st, 200);
    let want = tl
        .list_jobs(&JobQuery {
            model: Some(MODEL.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(list, to_json(&want));
    assert_eq!(list["jobs"][0]["id"], id.as_str());

    let (st, shown) = s.get(&format!("{M}/fine-tuning/jobs/{id}")).await;
    assert_eq!(st, 200);
    assert_eq!(shown, to_json(&tl.job(&id).await.unwrap()));

    // Too few credits: starting is refused with 402 and nothing is sent.
    tl.grant(&GrantOptions::new("acme", 1)).await.unwrap();
    let got = s
        .post(&format!("{M}/fine-tuning/jobs/{id}/start"), json!(null))
        .await;
    assert_error(&got, 402, "insufficient_credits", None);

    tl.grant(&GrantOptions::new("acme", 1_000_000))
        .await
        .unwrap();
    let (st, started) =
        send(s.admin(Method::POST, &format!("{M}/fine-tuning/jobs/{id}/start"))).await;
    assert_eq!(st, 200, "{started}");
    assert_ne!(started["status"], "draft");
    assert_eq!(started["id"], id.as_str());

    let (st, cancelled) =
        send(s.admin(Method::POST, &format!("{M}/fine-tuning/jobs/{id}/cancel"))).await;
    assert_eq!(st, 200, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled, to_json(&tl.job(&id).await.unwrap().job));

    for path in [
        format!("{M}/fine-tuning/jobs/ftj_nope"),
        format!("{M}/fine-tuning/jobs/ftj_nope/start"),
        format!("{M}/fine-tuning/jobs/ftj_nope/cancel"),
    ] {
        let method = if path.ends_with("nope") {
            Method::GET
        } else {
            Method::POST
        };
        let got = send(s.admin(method, &path)).await;
        assert_error(&got, 404, "not_found", None);
    }
    // A bad status names the parameter; an unknown model is 404.
    let got = s.get(&format!("{M}/fine-tuning/jobs?status=flying")).await;
    assert_error(&got, 400, "invalid_input", Some("status"));
    let got = s
        .post(
            &format!("{M}/fine-tuning/jobs"),
            json!({"model_id": "no-such-model"}),
        )
        .await;
    assert_eq!(got.0, 404, "{}", got.1);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recording_responses_and_feedback_with_tokens() {
    let s = Server::start(settings()).await;
    let tl = s.tl.clone();
    let response = json!({
        "id": "http-r1", "model_id": MODEL, "query": "Refund window?", "response": "90 days",
        "created_at": "2026-11-20T10:00:00Z",
        "feedback": {"variant": "thumbs", "thumbs_up": false, "created_at": "2026-11-20T10:01:00Z"}
    });
    let (st, body) = s.post(&format!("{Q}/response"), response.clone()).await;
    assert_eq!(st, 201, "{body}");
    assert_eq!(body["response_id"], "http-r1");
    assert_eq!(body["summary"]["responses_inserted"], 1);
    assert_eq!(body["summary"]["feedback_inserted"], 1);
    let token = body["feedback_token"].as_str().unwrap().to_string();
    assert!(body["feedback_token_expires_at"].as_str().is_some());
    assert!(tl.store().get_response("http-r1").await.unwrap().is_some());
    // Again: unchanged, 200.
    let (st, body) = s.post(&format!("{Q}/response"), response).await;
    assert_eq!(st, 200);
    assert_eq!(body["summary"]["responses_unchanged"], 1);

    // Feedback with the response's token, as a browser would send it.
    let fb =
        json!({"response_id": "http-r1", "variant": "stars", "rating": 2, "comment": "too old"});
    let (st, body) = send(
        s.req(Method::POST, &format!("{Q}/feedback"))
            .bearer_auth(&token)
            .json(&fb),
    )
    .await;
    assert_eq!(st, 201, "{body}");
    let id = body["feedback_ids"][0].as_str().unwrap();
    let stored = tl.store().get_feedback(id).await.unwrap().unwrap();
    assert_eq!(stored.response_id, "http-r1");
    assert_eq!(stored.comment.as_deref(), Some("too old"));

    // The same token for another response: 403, nothing written.
    let other = json!({"response_id": "other", "variant": "thumbs", "thumbs_up": true});
    let got = send(
        s.req(Method::POST, &format!("{Q}/feedback"))
            .bearer_auth(&token)
            .json(&other),
    )
    .await;
    assert_error(&got, 403, "forbidden", None);
    // No token, a wrong one, a forged one, an expired one: 401.
    let got = send(s.req(Method::POST, &format!("{Q}/feedback")).json(&fb)).await;
    assert_error(&got, 401, "unauthorized", None);
    let got = send(
        s.req(Method::POST, &format!("{Q}/feedback"))
            .bearer_auth("nope")
            .json(&fb),
    )
    .await;
    assert_error(&got, 401, "unauthorized", None);
    let foreign = FeedbackSigner::new(b"another secret".to_vec(), Duration::from_secs(60));
    let (forged, _) = foreign.issue("http-r1", chrono::Utc::now());
    let got = send(
        s.req(Method::POST, &format!("{Q}/feedback"))
            .bearer_auth(forged)
            .json(&fb),
    )
    .await;
    assert_error(&got, 401, "unauthorized", None);
    let ours = FeedbackSigner::new(SECRET.to_vec(), Duration::from_secs(60));
    let (expired, _) = ours.issue("http-r1", parse_timestamp("2026-01-01T00:00:00Z").unwrap());
    let got = send(
        s.req(Method::POST, &format!("{Q}/feedback"))
            .bearer_auth(expired)
            .json(&fb),
    )
    .await;
    assert_error(&got, 401, "token_expired", None);
    // A feedback token is not an admin token.
    let got = send(
        s.req(Method::GET, &format!("{Q}/metrics"))
            .bearer_auth(&token),
    )
    .await;
    assert_error(&got, 401, "unauthorized", None);
    let got = send(s.req(Method::GET, &format!("{Q}/metrics"))).await;
    assert_error(&got, 401, "unauthorized", None);
    // The admin token may post feedback on any stored response; an unknown one is 404.
    let (st, _) = s.post(&format!("{Q}/feedback"), other.clone()).await;
    assert_eq!(st, 404);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_name_what_is_wrong() {
    let s = Server::start(HttpSettings {
        body_limit: 4096,
        ..settings()
    })
    .await;
    let fb = format!("{Q}/feedback");
    // Wrong types and missing fields, named as the import names them.
    let got = s
        .post(
            &fb,
            json!({"response_id": "r1", "variant": "stars", "rating": "x"}),
        )
        .await;
    assert_error(&got, 400, "invalid_input", Some("rating"));
    let got = s
        .post(&fb, json!({"variant": "thumbs", "thumbs_up": true}))
        .await;
    assert_error(&got, 400, "invalid_input", Some("response_id"));
    let got = s
        .post(
            &fb,
            json!({"response_id": "r1", "variant": "thumbs", "thumbs_up": true, "extra": 1}),
        )
        .await;
    assert_eq!(got.0, 400, "{}", got.1);
    let got = s.post(&fb, json!([1, 2])).await;
    assert_eq!(got.0, 400, "{}", got.1);
    let got = s
        .post(
            &format!("{Q}/response"),
            json!({"id": "r", "model_id": "m", "query": "q", "created_at": "2026-11-20T10:00:00Z"}),
        )
        .await;
    assert_error(&got, 400, "invalid_input", Some("response"));
    let got = s
        .post(
            &format!("{M}/fine-tuning/check"),
            json!({"target": {"model_id": 5}}),
        )
        .await;
    assert_error(&got, 400, "invalid_input", Some("target.model_id"));
    let got = s
        .post(&format!("{M}/improvement-suggestions"), json!({"bogus": 1}))
        .await;
    assert_eq!(got.0, 400, "{}", got.1);
    // Invalid JSON, invalid UTF-8, the wrong content type, too large.
    let got = send(
        s.admin(Method::POST, &fb)
            .header("content-type", "application/json")
            .body("{\"response_id\": "),
    )
    .await;
    assert_eq!(got.0, 400, "{}", got.1);
    let got = send(
        s.admin(Method::POST, &fb)
            .header("content-type", "application/json")
            .body(vec![b'{', b'"', 0xff, 0xfe, b'"', b'}']),
    )
    .await;
    assert_error(&got, 400, "invalid_input", Some("body"));
    let got = send(
        s.admin(Method::POST, &fb)
            .header("content-type", "text/plain")
            .body("{}"),
    )
    .await;
    assert_error(&got, 415, "unsupported_media_type", None);
    let big = json!({"response_id": "r1", "variant": "thumbs", "thumbs_up": true, "comment": "x".repeat(5000)});
    let got = s.post(&fb, big).await;
    assert_error(&got, 413, "payload_too_large", None);
    // Bad query parameters name the parameter.
    for (path, field) in [
        (format!("{Q}/problematic?limit=abc"), "limit"),
        (format!("{Q}/problematic?limit=0"), "limit"),
        (format!("{Q}/metrics?bucket=year"), "bucket"),
        (format!("{Q}/metrics?since=2026-13-45"), "since"),
        (format!("{Q}/metrics?colour=red"), "colour"),
        (format!("{M}/error-trends?alpha=2"), "alpha"),
        (
            format!("{M}/model-ranking?regularization=lots"),
            "regularization",
        ),
        (
            format!("{Q}/metrics?since=2026-11-01&until=2026-10-01"),
            "since",
        ),
    ] {
        let got = s.get(&path).await;
        assert_eq!(got.0, 400, "{path}: {}", got.1);
        assert_eq!(got.1["error"]["field"], field, "{path}: {}", got.1);
    }
    // Unknown paths and methods, in the same error shape.
    let got = s.get("/api/analytics/nope").await;
    assert_error(&got, 404, "no_route", None);
    let got = send(s.admin(Method::DELETE, &fb)).await;
    assert_error(&got, 405, "method_not_allowed", None);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_preflight_allows_only_configured_origins() {
    let s = Server::start(settings()).await;
    let preflight = |origin: &str| {
        s.req(Method::OPTIONS, &format!("{Q}/feedback"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
    };
    let res = preflight("https://app.example.com").send().await.unwrap();
    assert!(res.status().is_success());
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let res = preflight("https://evil.example.net").send().await.unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_store_is_503_and_serve_refuses_open_addresses() {
    let s = Server::start(settings()).await;
    s.tl.close().await.unwrap();
    let got = s.get(&format!("{Q}/metrics")).await;
    assert_error(&got, 503, "storage", None);
    let (st, _) = s.get("/readyz").await;
    assert_eq!(st, 503);
    let _ = s.stop.map(|tx| tx.send(()));

    let tl = Tuneloop::open(Options::memory()).await.unwrap();
    let e = bind(
        tl,
        HttpSettings::default(),
        ServeOptions {
            listen: "0.0.0.0:0".parse().unwrap(),
            schedule: None,
        },
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("admin token"), "{e}");
}

#[tokio::test]
async fn handle_answers_without_a_socket() {
    let tl = Tuneloop::open(Options::memory()).await.unwrap();
    tl.record(
        &generate(&DemoOptions {
            weeks: 2,
            responses_per_week: 10,
            ..Default::default()
        })
        .batch,
    )
    .await
    .unwrap();
    let api = Api::new(tl.clone(), settings());
    let answer = api
        .handle(HttpRequest {
            method: "GET".into(),
            path: format!("{Q}/metrics"),
            query: Some("bucket=day".into()),
            headers: vec![("authorization".into(), format!("Bearer {ADMIN}"))],
            body: Vec::new(),
        })
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    let body: Value = serde_json::from_slice(&answer.body).unwrap();
    let want = tl
        .metrics(&MetricsQuery {
            bucket: Some(Bucket::Day),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(body, to_json(&want));
    // Errors keep their shape; without a configured token admin endpoints are disabled.
    let closed = Api::new(tl.clone(), HttpSettings::default());
    let answer = closed
        .handle(HttpRequest::get(format!("{Q}/metrics")))
        .await;
    assert_eq!(answer.status, 403);
    let body: Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(body["error"]["code"], "forbidden");
    let answer = api
        .handle(
            HttpRequest::post_json(format!("{Q}/feedback"), b"{}".to_vec())
                .header("authorization", format!("Bearer {ADMIN}")),
        )
        .await;
    assert_eq!(answer.status, 400);
    let answer = api
        .handle(HttpRequest {
            method: "NOT A METHOD".into(),
            path: "/healthz".into(),
            ..Default::default()
        })
        .await;
    assert_eq!(answer.status, 400);
}

/// `docs/openapi.json` is the document the code generates. After changing the API,
/// regenerate it with `TUNELOOP_UPDATE_OPENAPI=1 cargo test -p tuneloop --test http_api`.
#[test]
fn the_openapi_document_in_docs_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json");
    let generated = tuneloop::http::openapi_document();
    let text = serde_json::to_string_pretty(&generated).unwrap() + "\n";
    if std::env::var_os("TUNELOOP_UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let stored = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        stored == text,
        "docs/openapi.json differs from the generated document; regenerate it with \
         TUNELOOP_UPDATE_OPENAPI=1 cargo test -p tuneloop --test http_api"
    );
    // Every route of the original system's API is described, each error in the error shape.
    assert_eq!(generated["openapi"], "3.1.0");
    let paths = generated["paths"].as_object().unwrap();
    for p in [
        "/api/analytics/response-quality/metrics",
        "/api/analytics/response-quality/problematic",
        "/api/analytics/response-quality/feedback",
        "/api/analytics/response-quality/response",
        "/api/analytics/model-improvement/fine-tuning/jobs",
        "/api/analytics/model-improvement/fine-tuning/jobs/{jobId}",
        "/api/analytics/model-improvement/fine-tuning/jobs/{jobId}/start",
        "/api/analytics/model-improvement/fine-tuning/jobs/{jobId}/cancel",
        "/api/analytics/model-improvement/fine-tuning/check",
        "/api/analytics/model-improvement/error-patterns",
        "/api/analytics/model-improvement/error-trends",
        "/api/analytics/model-improvement/model-ranking",
        "/api/analytics/model-improvement/improvement-suggestions",
        "/healthz",
        "/readyz",
        "/openapi.json",
    ] {
        assert!(paths.contains_key(p), "{p} is not in the document");
    }
    assert!(generated["components"]["schemas"]["ErrorBody"].is_object());
}

/// The property names of a schema in the document.
fn schema_properties(doc: &Value, name: &str) -> std::collections::BTreeSet<String> {
    doc["components"]["schemas"][name]["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("{name} has no properties in the document"))
        .keys()
        .cloned()
        .collect()
}

fn keys(v: &Value) -> std::collections::BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

/// The write bodies the document describes are exactly what the import parser takes: a body
/// with every documented field is accepted, and the document names no field the body lacks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_write_bodies_are_what_the_parser_takes() {
    let doc = tuneloop::http::openapi_document();
    let s = Server::start(settings()).await;
    let embedded = json!({
        "type": "feedback", "id": "doc-f1", "response_id": "doc-r1", "variant": "full",
        "rating": 2, "categories": ["outdated"], "comment": "old", "correction": "30 days",
        "user_id": "u1", "created_at": "2026-11-20T10:01:00Z", "thumbs_up": null
    });
    let response = json!({
        "type": "response", "id": "doc-r1", "model_id": MODEL, "query": "Refund window?",
        "response": "90 days", "conversation": [{"role": "user", "content": "Hi"}],
        "metadata": {"channel": "web"}, "created_at": "2026-11-20T10:00:00Z",
        "feedback": [embedded.clone()]
    });
    assert_eq!(keys(&response), schema_properties(&doc, "ResponseBody"));
    assert_eq!(
        keys(&embedded),
        schema_properties(&doc, "EmbeddedFeedbackBody")
    );
    let (st, body) = s.post(&format!("{Q}/response"), response).await;
    assert_eq!(st, 201, "{body}");
    let feedback = json!({
        "type": "feedback", "id": "doc-f2", "response_id": "doc-r1", "variant": "thumbs",
        "thumbs_up": false, "rating": null, "categories": [], "comment": "wrong",
        "correction": null, "user_id": "u2", "created_at": "2026-11-20T10:02:00Z"
    });
    assert_eq!(keys(&feedback), schema_properties(&doc, "FeedbackBody"));
    let (st, body) = s.post(&format!("{Q}/feedback"), feedback).await;
    assert_eq!(st, 201, "{body}");
    s.stop().await;
}

/// Every successful answer is described by a named schema, not a bare object, so the schema
/// fuzz run checks the bodies field by field.
#[test]
fn every_answer_has_a_named_schema() {
    let doc = tuneloop::http::openapi_document();
    for (path, item) in doc["paths"].as_object().unwrap() {
        // Fixed shapes, or not JSON (`/metrics` is Prometheus text).
        if ["/healthz", "/openapi.json", "/metrics"].contains(&path.as_str()) {
            continue;
        }
        for (method, op) in item.as_object().unwrap() {
            for (status, answer) in op["responses"].as_object().unwrap() {
                let schema = &answer["content"]["application/json"]["schema"];
                assert!(
                    schema.get("$ref").is_some(),
                    "{method} {path} {status} answers a bare schema: {schema}"
                );
            }
            if let Some(body) = op.get("requestBody") {
                let schema = &body["content"]["application/json"]["schema"];
                assert!(
                    schema.get("$ref").is_some(),
                    "{method} {path} takes a bare body: {schema}"
                );
            }
        }
    }
}

/// `/metrics` needs the admin token and counts requests by route template (not raw path),
/// their latencies, and the feedback items newly recorded (repeats not counted).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_figures_count_requests_and_feedback() {
    let s = Server::start(settings()).await;
    let unauthorised = s.req(Method::GET, "/metrics").send().await.unwrap();
    assert_eq!(unauthorised.status(), 401);
    let response = json!({
        "id": "prom-r1", "model_id": MODEL, "query": "Hours?", "response": "9 to 5",
        "created_at": "2026-11-20T10:00:00Z"
    });
    assert_eq!(s.post(&format!("{Q}/response"), response).await.0, 201);
    let fb = json!({"response_id": "prom-r1", "variant": "thumbs", "thumbs_up": true,
                    "created_at": "2026-11-20T10:01:00Z"});
    assert_eq!(s.post(&format!("{Q}/feedback"), fb.clone()).await.0, 201);
    assert_eq!(s.post(&format!("{Q}/feedback"), fb).await.0, 200); // unchanged
    assert_eq!(s.get(&format!("{M}/fine-tuning/jobs/nope")).await.0, 404);

    let answer = s.admin(Method::GET, "/metrics").send().await.unwrap();
    assert_eq!(answer.status(), 200);
    assert!(answer.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let text = answer.text().await.unwrap();
    let line = |prefix: &str| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line {prefix} in\n{text}"))
            .to_string()
    };
    assert!(
        line("tuneloop_feedback_recorded_total ").ends_with(" 1"),
        "{text}"
    );
    assert!(
        line("tuneloop_responses_recorded_total ").ends_with(" 1"),
        "{text}"
    );
    let posts = line(
        "tuneloop_http_requests_total{method=\"POST\",route=\"/api/analytics/response-quality/feedback\",status=\"201\"}",
    );
    assert!(posts.ends_with(" 1"), "{posts}");
    // The job id is not a label: the route template is.
    line("tuneloop_http_requests_total{method=\"GET\",route=\"/api/analytics/model-improvement/fine-tuning/jobs/{jobId}\",status=\"404\"}");
    assert!(!text.contains("nope"), "{text}");
    line("tuneloop_http_request_duration_seconds_bucket{");
    s.stop().await;
}
