//! The job manager against the reference MCP server (Python `mcp` SDK) over real HTTP, with
//! the `FaultProxy` test double in front of it injecting the faults the fine-tuning loop
//! must survive: server down, slow beyond the timeout, HTTP 500, malformed answers, `isError`
//! results, session expiry, lost answers, a crash while the create is in flight, a cancel
//! racing a success. After each: at most one remote job, credits exact, nothing lost.
//! Runs on SQLite (always) and PostgreSQL (when TUNELOOP_TEST_POSTGRES_URL is set); skipped,
//! saying why, without TUNELOOP_TEST_MCP_PYTHON.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod mcp_support;

use mcp_support::fault_proxy::{Fault, FaultProxy};
use mcp_support::{free_port, python, RefServer, TOKEN};
use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tuneloop::credits::CreditLedger;
use tuneloop::demo::{generate, DemoOptions};
use tuneloop::jobs::{
    DraftRequest, FineTuneJob, FineTuneRequest, JobManager, JobStatus, Settlement,
};
use tuneloop::mcp::{FineTuningProvider, HttpMcpClient, McpConfig, McpFineTuningProvider};
use tuneloop::model::ProviderJobStatus;
use tuneloop::policy::{estimate_cost, Prices};
use tuneloop::store::{FeedbackStore, FeedbackStoreExt, OpenOptions};

const MODEL: &str = "support-bot-v2";
const BASE: &str = "gpt-4.1-mini";
const ACCOUNT: &str = "acme";
const PRICE: u64 = 2_000;
const GRANT: u64 = 1_000_000;
const CREATE: &str = "fine_tuning_create_job";

struct World {
    store: Arc<dyn FeedbackStore>,
    ledger: Arc<dyn CreditLedger>,
    server: RefServer,
    proxy: FaultProxy,
    _guard: Box<dyn Any + Send>,
}

fn provider_at(url: &str, timeout: Duration) -> Arc<dyn FineTuningProvider> {
    provider_with_token(url, TOKEN, timeout)
}

fn provider_with_token(url: &str, token: &str, timeout: Duration) -> Arc<dyn FineTuningProvider> {
    let mut config = McpConfig::new(url).with_token(Some(token.into()));
    config.request_timeout = timeout;
    config.connect_timeout = Duration::from_secs(2);
    config.backoff = Duration::from_millis(50);
    Arc::new(McpFineTuningProvider::new(Arc::new(
        HttpMcpClient::new(config).unwrap(),
    )))
}

impl World {
    fn jobs(&self) -> JobManager {
        self.jobs_with(provider_at(&self.proxy.url, Duration::from_secs(5)))
    }

    fn jobs_with(&self, provider: Arc<dyn FineTuningProvider>) -> JobManager {
        let prices: Prices = serde_json::from_value(serde_json::json!({ BASE: PRICE })).unwrap();
        JobManager::new(self.store.clone(), self.ledger.clone(), provider, prices)
    }

    /// Jobs the server has, asked directly (not through the proxy).
    async fn remote_jobs(&self) -> Vec<tuneloop::model::ProviderJob> {
        provider_at(&self.server.url(), Duration::from_secs(5))
            .list_jobs(None, Some(100))
            .await
            .unwrap()
            .jobs
    }
}

async fn world(backend: &str) -> Option<World> {
    world_stepping(backend, 0.3).await
}

/// A world whose server moves a job one status every `step` seconds.
async fn world_stepping(backend: &str, step: f64) -> Option<World> {
    let python = python()?;
    let (store, guard): (Arc<dyn FeedbackStore>, Box<dyn Any + Send>) = match backend {
        "sqlite" => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("t.db").display());
            let store = tuneloop::store::open(&url, &OpenOptions::default())
                .await
                .unwrap();
            (store, Box::new(dir))
        }
        _ => {
            let (s, g) = tuneloop::testing::postgres::fresh_store().await?;
            (s, Box::new(g))
        }
    };
    let demo = generate(&DemoOptions {
        weeks: 4,
        responses_per_week: 40,
        ..Default::default()
    });
    store.record(&demo.batch).await.unwrap();
    let ledger = store.ledger().unwrap();
    ledger.grant(ACCOUNT, GRANT, "initial").await.unwrap();
    let server = RefServer::start(&python, step, 0.0);
    let proxy = FaultProxy::start(server.url()).await;
    Some(World {
        store,
        ledger,
        server,
        proxy,
        _guard: guard,
    })
}

async fn draft(jobs: &JobManager) -> FineTuneJob {
    jobs.create_draft(&DraftRequest::new(MODEL, BASE, ACCOUNT))
        .await
        .unwrap()
}

/// Syncs until the job finishes (the server moves a step every 0.3 s).
async fn finish(jobs: &JobManager, id: &str) -> FineTuneJob {
    let start = Instant::now();
    loop {
        let job = jobs.sync(id).await.unwrap();
        if job.status.is_terminal() {
            return job;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{job:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The job's credits are settled exactly and nothing else is held.
async fn assert_exact(w: &World, jobs: &[&FineTuneJob]) {
    let b = w.ledger.balance(ACCOUNT).await.unwrap();
    let mut charged = 0;
    for job in jobs {
        match job.details.settlement {
            Some(Settlement::Committed) => {
                let expected = estimate_cost(job.details.trained_tokens.unwrap(), 1, PRICE);
                assert_eq!(job.details.actual_cost, Some(expected), "{job:?}");
                charged += expected;
            }
            Some(Settlement::Released) => assert_eq!(job.details.actual_cost, Some(0)),
            None => panic!("not settled: {job:?}"),
        }
    }
    assert_eq!((b.granted, b.pending, b.posted), (GRANT, 0, charged));
}

async fn happy_path_with_events(w: World) {
    let jobs = w.jobs();
    let d = draft(&jobs).await;
    let started = jobs.start(&d.id).await.unwrap();
    assert_eq!(started.status, JobStatus::ValidatingFiles);
    let job = finish(&jobs, &d.id).await;
    assert_eq!(job.status, JobStatus::Succeeded);
    assert!(job.details.fine_tuned_model.is_some());
    assert!(job.details.trained_tokens.unwrap() > 0);
    assert_exact(&w, &[&job]).await;
    assert_eq!(w.remote_jobs().await.len(), 1);
    let events = jobs.events(&d.id).await.unwrap();
    assert!(events.iter().any(|e| e.source == "provider"), "{events:#?}");
}

async fn server_down_then_back(w: World) {
    let down = w.jobs_with(provider_at(
        &format!("http://127.0.0.1:{}/mcp", free_port()),
        Duration::from_secs(2),
    ));
    let d = draft(&down).await;
    let err = down.start(&d.id).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    let stuck = down.get(&d.id).await.unwrap();
    assert_eq!(stuck.status, JobStatus::Starting);
    assert!(
        stuck
            .details
            .last_error
            .as_deref()
            .unwrap()
            .contains("connect"),
        "{stuck:?}"
    );
    assert_eq!(
        w.ledger.balance(ACCOUNT).await.unwrap().pending,
        0,
        "nothing held yet"
    );
    // The server is reachable again: the same start resumes.
    let jobs = w.jobs();
    jobs.start(&d.id).await.unwrap();
    let job = finish(&jobs, &d.id).await;
    assert_exact(&w, &[&job]).await;
    assert_eq!(w.remote_jobs().await.len(), 1);
}

async fn slow_create_beyond_the_timeout(w: World) {
    // The server creates the job but answers 2.5 s late, after the client gave up at 1 s;
    // the client's retry (same idempotency key) gets the same job.
    let jobs = w.jobs_with(provider_at(&w.proxy.url, Duration::from_secs(1)));
    let d = draft(&jobs).await;
    w.proxy.set_fault_on(CREATE, Fault::Delay(2_500, 1));
    // Whether the start's own retry got the job or the start gave up, the job ends up
    // created once (a loaded machine may even see it finished by the time it answers).
    let _ = jobs.start(&d.id).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let job = finish(&jobs, &d.id).await;
    assert_eq!(job.status, JobStatus::Succeeded);
    assert_exact(&w, &[&job]).await;
    assert_eq!(w.remote_jobs().await.len(), 1);
    assert!(w.proxy.calls(CREATE) >= 2);
}

async fn http_500_and_malformed_answers(w: World) {
    let jobs = w.jobs();
    // A short burst of 500s: retried inside the call.
    let a = draft(&jobs).await;
    w.proxy.set_fault_on(CREATE, Fault::Status500(1));
    jobs.start(&a.id).await.unwrap();
    // More 500s than retries: the start fails, resumable; healed, it completes.
    let b = draft(&jobs).await;
    w.proxy.set_fault_on(CREATE, Fault::Status500(50));
    assert!(jobs.start(&b.id).await.unwrap_err().is_retryable());
    assert_eq!(jobs.get(&b.id).await.unwrap().status, JobStatus::Starting);
    w.proxy.set_fault(Fault::None);
    jobs.start(&b.id).await.unwrap();
    // A malformed answer: the outcome is unknown, so the job stays starting until resumed.
    let c = draft(&jobs).await;
    w.proxy.set_fault_on(CREATE, Fault::Malformed(1));
    let err = jobs.start(&c.id).await.unwrap_err();
    assert!(!err.is_refusal(), "{err}");
    assert_eq!(jobs.get(&c.id).await.unwrap().status, JobStatus::Starting);
    jobs.sync(&c.id).await.unwrap();
    let (a, b, c) = (
        finish(&jobs, &a.id).await,
        finish(&jobs, &b.id).await,
        finish(&jobs, &c.id).await,
    );
    assert_exact(&w, &[&a, &b, &c]).await;
    assert_eq!(w.remote_jobs().await.len(), 3);
}

async fn session_expiry_and_lost_answers(w: World) {
    let jobs = w.jobs();
    let a = draft(&jobs).await;
    // Open the session, then expire it under the create.
    jobs.provider().list_jobs(None, Some(1)).await.unwrap();
    w.proxy.set_fault_on(CREATE, Fault::ExpireSessionOnce);
    jobs.start(&a.id).await.unwrap();
    // The server creates the job but the answer is lost: resent with the same key.
    let b = draft(&jobs).await;
    w.proxy.set_fault_on(CREATE, Fault::LoseAnswer(1));
    jobs.start(&b.id).await.unwrap();
    let (a, b) = (finish(&jobs, &a.id).await, finish(&jobs, &b.id).await);
    assert_exact(&w, &[&a, &b]).await;
    assert_eq!(w.remote_jobs().await.len(), 2);
}

async fn is_error_results_fail_the_job_and_release(w: World) {
    // The uploads land on one server; the provider is then replaced by a fresh server that
    // does not know the files, and refuses the create with an `isError` result.
    let python = python().unwrap();
    let fresh = RefServer::start(&python, 0.3, 0.0);
    let jobs = w.jobs();
    let d = draft(&jobs).await;
    w.proxy.set_fault_on(CREATE, Fault::Status500(50));
    assert!(jobs.start(&d.id).await.is_err());
    w.proxy.set_upstream(fresh.url());
    w.proxy.set_fault(Fault::None);
    let err = jobs.start(&d.id).await.unwrap_err();
    assert!(err.is_refusal(), "{err}");
    assert!(err.to_string().contains("training_file not found"), "{err}");
    let job = jobs.get(&d.id).await.unwrap();
    assert_eq!(job.status, JobStatus::Failed);
    assert_exact(&w, &[&job]).await;
    assert!(w.remote_jobs().await.is_empty());
}

async fn crash_while_the_create_is_in_flight(w: World) {
    // The process dies (the start future is dropped) while waiting for the create's answer;
    // the server has created the job. A re-run, in a new manager, finds it by its key.
    let d = draft(&w.jobs()).await;
    w.proxy.set_fault_on(CREATE, Fault::Delay(1_000, 1));
    let crashed = w.jobs();
    let id = d.id.clone();
    let task = tokio::spawn(async move { crashed.start(&id).await });
    let start = Instant::now();
    while w.proxy.calls(CREATE) == 0 {
        assert!(start.elapsed() < Duration::from_secs(20));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    task.abort();
    let _ = task.await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(w.remote_jobs().await.len(), 1, "the server ran the create");
    let rerun = w.jobs();
    let stuck = rerun.get(&d.id).await.unwrap();
    assert_eq!(stuck.status, JobStatus::Starting);
    assert_eq!(
        w.ledger.balance(ACCOUNT).await.unwrap().pending,
        d.details.estimated_cost
    );
    rerun.start(&d.id).await.unwrap();
    let job = finish(&rerun, &d.id).await;
    assert_exact(&w, &[&job]).await;
    assert_eq!(w.remote_jobs().await.len(), 1);
}

/// Issue 11: a create whose answer was lost stays `starting` with its hold. A sync refused
/// before the call reaches the tool (HTTP 401 at connect for a wrong token; a gateway's HTTP
/// 403 to the call) says nothing about the create and must not settle it: only the server's
/// answer to the create (same idempotency key) does. Before the fix the 401 failed the job
/// and released its hold, and the next decision created a second remote job, never billed.
async fn lost_create_then_a_refused_sync(w: World) {
    let jobs = w.jobs();
    let d = draft(&jobs).await;
    let held = d.details.estimated_cost;
    // The create reaches the server (it creates the job); no answer ever comes back.
    w.proxy.set_fault_on(CREATE, Fault::DropConnection(100));
    let err = jobs.start(&d.id).await.unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("did not answer")
            && message.contains("fine_tuning_create_job")
            && message.contains("connection closed")
            && !message.contains("()"),
        "{message}"
    );
    w.proxy.set_fault(Fault::None);
    assert_eq!(w.remote_jobs().await.len(), 1, "the server ran the create");
    let stuck = jobs.get(&d.id).await.unwrap();
    assert_eq!(stuck.status, JobStatus::Starting);
    assert!(stuck.details.create_sent);
    assert_eq!(w.ledger.balance(ACCOUNT).await.unwrap().pending, held);

    // A sync with a wrong token: HTTP 401 at connect, before anything is sent.
    let wrong = w.jobs_with(provider_with_token(
        &w.proxy.url,
        "not-the-token-3e9d",
        Duration::from_secs(5),
    ));
    let err = wrong.sync(&d.id).await.unwrap_err();
    assert!(
        matches!(
            err,
            tuneloop::Error::Transport {
                status: Some(401),
                ..
            }
        ),
        "{err:?}"
    );
    let reports = wrong.sync_all().await.unwrap();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(reports[0].error.is_some(), "{reports:?}");
    // A gateway refusing the create call itself at the HTTP level says nothing either.
    w.proxy.set_fault_on(CREATE, Fault::Status(403, 100));
    assert!(jobs.sync(&d.id).await.is_err());
    w.proxy.set_fault(Fault::None);
    let stuck = jobs.get(&d.id).await.unwrap();
    assert_eq!(stuck.status, JobStatus::Starting, "{stuck:?}");
    assert_eq!(stuck.details.settlement, None);
    assert_eq!(w.ledger.balance(ACCOUNT).await.unwrap().pending, held);

    // The next decision finds the job in flight and creates nothing.
    let mut again = FineTuneRequest::new(DraftRequest::new(MODEL, BASE, ACCOUNT));
    again.force = true;
    let outcome = jobs.fine_tune(&again).await.unwrap();
    assert!(outcome.job.is_none(), "{outcome:?}");
    assert_eq!(w.remote_jobs().await.len(), 1);

    // The right token: the create is answered (same key) with the job the server made.
    let reports = jobs.sync_all().await.unwrap();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].error, None, "{reports:?}");
    let job = finish(&jobs, &d.id).await;
    assert_eq!(job.status, JobStatus::Succeeded);
    assert_exact(&w, &[&job]).await;
    let remote = w.remote_jobs().await;
    assert_eq!(remote.len(), 1);
    assert_eq!(
        job.details.provider_job_id.as_deref(),
        Some(remote[0].id.as_str())
    );
}

/// Issue 11: the password of an MCP URL (`http://user:pw@host/mcp`) and the bearer token
/// never reach a job record, its events or its errors, whatever fails on the way.
async fn credentials_never_reach_a_job(w: World) {
    let url = w.proxy.url.replace("http://", "http://ops:s3cret@");
    let mut config = McpConfig::new(&url).with_token(Some(TOKEN.into()));
    config.request_timeout = Duration::from_secs(5);
    config.backoff = Duration::from_millis(50);
    let client = Arc::new(HttpMcpClient::new(config).unwrap());
    assert!(!format!("{client:?}").contains("s3cret"));
    // A caller naming its provider after the URL, as the CLI once did.
    let provider = McpFineTuningProvider::new(client).with_name(format!("mcp {url}"));
    let jobs = w.jobs_with(Arc::new(provider));
    let d = draft(&jobs).await;
    let mut seen = String::new();
    // Every kind of failure on the way: no answer, HTTP 500s, a malformed answer.
    for fault in [
        Fault::DropConnection(100),
        Fault::Status500(100),
        Fault::Malformed(100),
    ] {
        w.proxy.set_fault_on(CREATE, fault);
        let err = jobs.start(&d.id).await.unwrap_err();
        seen.push_str(&format!("{err}\n{err:?}\n{}\n", err.with_causes()));
        let stuck = jobs.get(&d.id).await.unwrap();
        assert_eq!(stuck.status, JobStatus::Starting);
        seen.push_str(&serde_json::to_string(&stuck).unwrap());
    }
    w.proxy.set_fault(Fault::None);
    let job = finish(&jobs, &d.id).await;
    assert_eq!(job.status, JobStatus::Succeeded);
    assert_exact(&w, &[&job]).await;
    seen.push_str(&serde_json::to_string(&job).unwrap());
    seen.push_str(&serde_json::to_string(&jobs.events(&d.id).await.unwrap()).unwrap());
    assert!(seen.contains("ops:***@"), "{seen}");
    assert!(!seen.contains("s3cret"), "{seen}");
    assert!(!seen.contains(TOKEN), "{seen}");
}

async fn cancel_racing_a_success(w: World) {
    let jobs = w.jobs();
    let d = draft(&jobs).await;
    jobs.start(&d.id).await.unwrap();
    // Wait (asking the server directly) until it has finished; our copy is still behind.
    let start = Instant::now();
    loop {
        let remote = w.remote_jobs().await;
        if remote[0].status == ProviderJobStatus::Succeeded {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!jobs.get(&d.id).await.unwrap().status.is_terminal());
    let job = jobs.cancel(&d.id).await.unwrap();
    assert_eq!(
        job.status,
        JobStatus::Succeeded,
        "the provider has the last word"
    );
    assert_exact(&w, &[&job]).await;
    assert_eq!(w.remote_jobs().await.len(), 1);
}

async fn cancel_in_flight_releases(w: World) {
    // The server takes 20 s per status here, so the cancel surely arrives first.
    let jobs = w.jobs();
    let e = draft(&jobs).await;
    jobs.start(&e.id).await.unwrap();
    let e = jobs.cancel(&e.id).await.unwrap();
    assert_eq!(e.status, JobStatus::Cancelled);
    assert_exact(&w, &[&e]).await;
    let remote = w.remote_jobs().await;
    assert_eq!(remote.len(), 1);
    assert_eq!(remote[0].status, ProviderJobStatus::Cancelled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_cancel_in_flight_releases() {
    let Some(w) = world_stepping("sqlite", 20.0).await else {
        return;
    };
    cancel_in_flight_releases(w).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cancel_in_flight_releases() {
    let Some(w) = world_stepping("postgres", 20.0).await else {
        return;
    };
    cancel_in_flight_releases(w).await;
}

macro_rules! on_sql_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(w) = super::world("sqlite").await else { return };
                    super::$case(w).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(w) = super::world("postgres").await else { return };
                    super::$case(w).await;
                }
            )*
        }
    };
}

on_sql_backends!(
    happy_path_with_events,
    server_down_then_back,
    slow_create_beyond_the_timeout,
    http_500_and_malformed_answers,
    session_expiry_and_lost_answers,
    is_error_results_fail_the_job_and_release,
    crash_while_the_create_is_in_flight,
    cancel_racing_a_success,
    lost_create_then_a_refused_sync,
    credentials_never_reach_a_job,
);
