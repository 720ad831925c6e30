//! The job manager on every store backend (memory, SQLite file, PostgreSQL when
//! `TUNELOOP_TEST_POSTGRES_URL` is set), on the simulated provider behind the
//! `FaultyProvider` test double and the ledger behind the `FaultyLedger` test double.
//! After every fault: at most one remote job, credits exact, nothing lost.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::any::Any;
use std::sync::Arc;
use tuneloop::credits::CreditLedger;
use tuneloop::demo::{generate, DemoOptions};
use tuneloop::jobs::{
    DraftRequest, FineTuneJob, FineTuneRequest, JobManager, JobStatus, Settlement,
};
use tuneloop::mcp::{FineTuningProvider, SimulatedProvider};
use tuneloop::model::ProviderJobStatus;
use tuneloop::policy::{estimate_cost, Prices};
use tuneloop::store::{FeedbackStore, FeedbackStoreExt, MemoryStore, OpenOptions};
use tuneloop::testing::{
    FaultPoint, FaultyLedger, FaultyProvider, LedgerOp, ProviderFault, ProviderOp,
};
use tuneloop::Error;

const MODEL: &str = "support-bot-v2";
const BASE: &str = "gpt-4.1-mini";
const ACCOUNT: &str = "acme";
const PRICE: u64 = 2_000;
const GRANT: u64 = 1_000_000;

struct World {
    ledger: Arc<dyn CreditLedger>,
    faulty_ledger: Arc<FaultyLedger>,
    sim: Arc<SimulatedProvider>,
    provider: Arc<FaultyProvider>,
    jobs: JobManager,
    _guard: Box<dyn Any + Send>,
}

async fn world_on(store: Arc<dyn FeedbackStore>, guard: Box<dyn Any + Send>) -> World {
    let demo = generate(&DemoOptions {
        weeks: 4,
        responses_per_week: 40,
        ..Default::default()
    });
    store.record(&demo.batch).await.unwrap();
    let ledger = store.ledger().unwrap();
    ledger.grant(ACCOUNT, GRANT, "initial").await.unwrap();
    let faulty_ledger = Arc::new(FaultyLedger::new(ledger.clone()));
    let sim = Arc::new(SimulatedProvider::manual());
    let provider = Arc::new(FaultyProvider::new(sim.clone()));
    let prices: Prices = serde_json::from_value(serde_json::json!({ BASE: PRICE })).unwrap();
    let jobs = JobManager::new(
        store.clone(),
        faulty_ledger.clone(),
        provider.clone(),
        prices,
    );
    World {
        ledger,
        faulty_ledger,
        sim,
        provider,
        jobs,
        _guard: guard,
    }
}

async fn memory_world() -> Option<World> {
    Some(world_on(Arc::new(MemoryStore::new()), Box::new(())).await)
}

async fn sqlite_world() -> Option<World> {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = tuneloop::store::open(&url, &OpenOptions::default())
        .await
        .unwrap();
    Some(world_on(store, Box::new(dir)).await)
}

async fn postgres_world() -> Option<World> {
    let (store, guard) = tuneloop::testing::postgres::fresh_store().await?;
    Some(world_on(store, Box::new(guard)).await)
}

fn request() -> DraftRequest {
    DraftRequest::new(MODEL, BASE, ACCOUNT)
}

async fn remote_jobs(w: &World) -> usize {
    w.sim.list_jobs(None, Some(100)).await.unwrap().jobs.len()
}

/// (granted, pending, posted, available)
async fn figures(w: &World) -> (u64, u64, u64, u64) {
    let b = w.ledger.balance(ACCOUNT).await.unwrap();
    (b.granted, b.pending, b.posted, b.available)
}

/// A finished job's credits are settled exactly: its cost posted once (or nothing), no
/// hold left pending.
async fn assert_settled(w: &World, job: &FineTuneJob) {
    assert!(job.status.is_terminal(), "{job:?}");
    let (granted, pending, posted, available) = figures(w).await;
    assert_eq!(pending, 0, "a hold is left pending: {job:?}");
    let charged = match job.details.settlement {
        Some(Settlement::Committed) => {
            let expected = estimate_cost(job.details.trained_tokens.unwrap(), 1, PRICE);
            assert_eq!(job.details.actual_cost, Some(expected));
            expected
        }
        Some(Settlement::Released) => {
            assert_eq!(job.details.actual_cost, Some(0));
            0
        }
        None => panic!("not settled: {job:?}"),
    };
    assert_eq!(
        (granted, posted, available),
        (GRANT, charged, GRANT - charged)
    );
}

async fn run_to_success(w: &World, id: &str) -> FineTuneJob {
    w.sim.advance(3);
    let job = w.jobs.sync(id).await.unwrap();
    assert_eq!(job.status, JobStatus::Succeeded, "{job:?}");
    job
}

async fn happy_path(w: World) {
    let draft = w.jobs.create_draft(&request()).await.unwrap();
    assert_eq!(draft.status, JobStatus::Draft);
    let d = &draft.details;
    assert!(d.dataset.train_examples > 0);
    assert_eq!(
        d.estimated_cost,
        estimate_cost(d.dataset.billing_tokens, d.dataset.epochs, PRICE)
    );
    assert!(d.estimated_cost > 0);
    assert_eq!(
        figures(&w).await,
        (GRANT, 0, 0, GRANT),
        "a draft reserves nothing"
    );
    assert_eq!(remote_jobs(&w).await, 0);

    let started = w.jobs.start(&draft.id).await.unwrap();
    assert_eq!(started.status, JobStatus::ValidatingFiles);
    assert!(started.details.provider_job_id.is_some());
    assert_eq!(
        figures(&w).await,
        (GRANT, d.estimated_cost, 0, GRANT - d.estimated_cost)
    );
    // Starting again and syncing before anything moved change nothing.
    assert_eq!(
        w.jobs.start(&draft.id).await.unwrap().status,
        JobStatus::ValidatingFiles
    );
    w.sim.advance(1);
    assert_eq!(
        w.jobs.sync(&draft.id).await.unwrap().status,
        JobStatus::Queued
    );
    let job = run_to_success(&w, &draft.id).await;
    assert!(job.details.fine_tuned_model.is_some());
    assert!(job.details.finished_at.is_some());
    assert_settled(&w, &job).await;
    // Syncing a finished job changes nothing, charges nothing more.
    let again = w.jobs.sync(&draft.id).await.unwrap();
    assert_eq!(again.details.actual_cost, job.details.actual_cost);
    assert_settled(&w, &again).await;
    assert_eq!(remote_jobs(&w).await, 1);
    assert_eq!(w.provider.calls(ProviderOp::Create), 1);
    assert!(matches!(
        w.jobs.start(&draft.id).await,
        Err(Error::Conflict { .. })
    ));

    // The history has our steps and the provider's events, in order.
    let events = w.jobs.events(&draft.id).await.unwrap();
    let text: Vec<&str> = events.iter().map(|e| e.message.as_str()).collect();
    for needle in [
        "draft created",
        "uploaded train.jsonl",
        "reserved",
        "remote job",
        "charged",
    ] {
        assert!(
            text.iter().any(|m| m.contains(needle)),
            "{needle}: {text:#?}"
        );
    }
    assert!(events.iter().any(|e| e.source == "provider"), "{text:#?}");
    assert!(events.windows(2).all(|p| p[0].seq < p[1].seq));
    // Persisted: a fresh read gives the same job.
    assert_eq!(w.jobs.get(&draft.id).await.unwrap(), again);
    let listed = w.jobs.list(&Default::default()).await.unwrap();
    assert_eq!(listed.len(), 1);
}

async fn crash_after_reserve_is_resumed(w: World) {
    let draft = w.jobs.create_draft(&request()).await.unwrap();
    // The ledger applies the reserve, then the caller "crashes" (sees an error).
    w.faulty_ledger
        .fail_next(LedgerOp::Reserve, FaultPoint::After);
    assert!(w.jobs.start(&draft.id).await.is_err());
    let stuck = w.jobs.get(&draft.id).await.unwrap();
    assert_eq!(stuck.status, JobStatus::Starting);
    assert_eq!(stuck.details.hold_id, None);
    assert_eq!(figures(&w).await.1, draft.details.estimated_cost);
    assert_eq!(remote_jobs(&w).await, 0);
    // The re-run finds the same hold by its key and goes on.
    let job = w.jobs.start(&draft.id).await.unwrap();
    assert_eq!(job.status, JobStatus::ValidatingFiles);
    assert_eq!(
        figures(&w).await.1,
        draft.details.estimated_cost,
        "held once"
    );
    let job = run_to_success(&w, &job.id).await;
    assert_settled(&w, &job).await;
    assert_eq!(remote_jobs(&w).await, 1);
}

async fn crash_between_reserve_and_create(w: World) {
    let draft = w.jobs.create_draft(&request()).await.unwrap();
    w.provider
        .fail_next(ProviderOp::Create, ProviderFault::DownBefore);
    assert!(w.jobs.start(&draft.id).await.unwrap_err().is_retryable());
    let stuck = w.jobs.get(&draft.id).await.unwrap();
    assert_eq!(stuck.status, JobStatus::Starting);
    assert!(stuck.details.create_sent && stuck.details.hold_id.is_some());
    assert!(stuck.details.last_error.is_some());
    assert_eq!(remote_jobs(&w).await, 0);
    // `sync` resumes it just as `start` would.
    let job = w.jobs.sync(&draft.id).await.unwrap();
    assert_eq!(job.status, JobStatus::ValidatingFiles);
    assert_eq!(job.details.last_error, None);
    let job = run_to_success(&w, &job.id).await;
    assert_settled(&w, &job).await;
    assert_eq!(remote_jobs(&w).await, 1);
    assert_eq!(
        w.provider.calls(ProviderOp::Upload),
        2,
        "train + validation, once each"
    );
}

async fn lost_or_malformed_create_answers(w: World) {
    for fault in [ProviderFault::LostAfter, ProviderFault::MalformedAfter] {
        let draft = w.jobs.create_draft(&request()).await.unwrap();
        w.provider.fail_next(ProviderOp::Create, fault);
        assert!(w.jobs.start(&draft.id).await.is_err(), "{fault:?}");
        // The remote job exists, but we could not read that: the job stays starting.
        assert_eq!(
            w.jobs.get(&draft.id).await.unwrap().status,
            JobStatus::Starting
        );
        let job = w.jobs.start(&draft.id).await.unwrap();
        assert_eq!(job.status, JobStatus::ValidatingFiles);
        let job = run_to_success(&w, &job.id).await;
        assert_eq!(job.details.settlement, Some(Settlement::Committed));
    }
    // Two jobs, two remote jobs: the repeated creates returned the first ones.
    assert_eq!(remote_jobs(&w).await, 2);
    assert_eq!(figures(&w).await.1, 0);
}

async fn refused_create_fails_and_releases(w: World) {
    let draft = w.jobs.create_draft(&request()).await.unwrap();
    w.provider
        .fail_next(ProviderOp::Create, ProviderFault::Refused);
    let err = w.jobs.start(&draft.id).await.unwrap_err();
    assert!(err.is_refusal(), "{err}");
    let job = w.jobs.get(&draft.id).await.unwrap();
    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(job.details.error.as_ref().unwrap().code, "create_refused");
    assert_settled(&w, &job).await;
    assert_eq!(remote_jobs(&w).await, 0);
}

/// Issue 11: a create in doubt (its answer lost after the server ran it) is settled only by
/// the provider's answer to the create. A sync or a cancel refused at the transport layer
/// (HTTP 401 before the call reaches the provider) leaves the job starting with its hold.
async fn transport_refusals_never_settle_a_create_in_doubt(w: World) {
    // A sync refused at connect, then one that gets through: succeeded, charged once.
    let a = w.jobs.create_draft(&request()).await.unwrap();
    w.provider
        .fail_next(ProviderOp::Create, ProviderFault::LostAfter);
    assert!(w.jobs.start(&a.id).await.is_err());
    assert_eq!(remote_jobs(&w).await, 1);
    w.provider
        .fail_next(ProviderOp::Create, ProviderFault::Unauthorized);
    let err = w.jobs.sync(&a.id).await.unwrap_err();
    assert!(err.is_refusal(), "{err}");
    let stuck = w.jobs.get(&a.id).await.unwrap();
    assert_eq!(stuck.status, JobStatus::Starting, "{stuck:?}");
    assert_eq!(stuck.details.error, None);
    assert_eq!(figures(&w).await.1, a.details.estimated_cost);
    w.jobs.sync(&a.id).await.unwrap();
    let a = run_to_success(&w, &a.id).await;
    assert_settled(&w, &a).await;
    assert_eq!(remote_jobs(&w).await, 1);

    // A cancel whose create lookup is refused at connect: nothing is decided locally; the
    // next cancel resolves the create by its key and cancels the remote job.
    let b = w.jobs.create_draft(&request()).await.unwrap();
    w.provider
        .fail_next(ProviderOp::Create, ProviderFault::LostAfter);
    assert!(w.jobs.start(&b.id).await.is_err());
    w.provider
        .fail_next(ProviderOp::Create, ProviderFault::Unauthorized);
    assert!(w.jobs.cancel(&b.id).await.is_err());
    let stuck = w.jobs.get(&b.id).await.unwrap();
    assert_eq!(stuck.status, JobStatus::Starting, "{stuck:?}");
    assert!(stuck.details.cancel_requested);
    assert_eq!(figures(&w).await.1, b.details.estimated_cost);
    let b = w.jobs.cancel(&b.id).await.unwrap();
    assert_eq!(b.status, JobStatus::Cancelled);
    let remote = w.sim.list_jobs(None, Some(100)).await.unwrap().jobs;
    assert_eq!(remote.len(), 2);
    assert!(remote
        .iter()
        .any(|r| r.status == ProviderJobStatus::Cancelled
            && Some(&r.id) == b.details.provider_job_id.as_ref()));
    let (_, pending, posted, _) = figures(&w).await;
    assert_eq!((pending, posted), (0, a.details.actual_cost.unwrap()));
}

async fn upload_failures(w: World) {
    let draft = w.jobs.create_draft(&request()).await.unwrap();
    // Server down: the start stays resumable, nothing is held yet.
    w.provider
        .fail_next(ProviderOp::Upload, ProviderFault::DownBefore);
    assert!(w.jobs.start(&draft.id).await.unwrap_err().is_retryable());
    assert_eq!(
        w.jobs.get(&draft.id).await.unwrap().status,
        JobStatus::Starting
    );
    assert_eq!(figures(&w).await.1, 0);
    // A refused upload (on the resume): back to draft.
    w.provider
        .fail_next(ProviderOp::Upload, ProviderFault::Refused);
    assert!(w.jobs.start(&draft.id).await.unwrap_err().is_refusal());
    let back = w.jobs.get(&draft.id).await.unwrap();
    assert_eq!(back.status, JobStatus::Draft);
    assert!(back
        .details
        .last_error
        .as_deref()
        .unwrap()
        .contains("refused"));
    assert_eq!(figures(&w).await.1, 0);
    // Fixed: the next start is attempt 2 and completes.
    let job = w.jobs.start(&draft.id).await.unwrap();
    assert_eq!(job.details.attempt, 2);
    let job = run_to_success(&w, &job.id).await;
    assert_settled(&w, &job).await;
    assert_eq!(remote_jobs(&w).await, 1);
}

async fn insufficient_credits_keep_the_draft(w: World) {
    let draft = w.jobs.create_draft(&request()).await.unwrap();
    // Spend all but one credit less than the estimate.
    let cost = draft.details.estimated_cost;
    let hog = w
        .ledger
        .reserve(ACCOUNT, GRANT - cost + 1, "hog")
        .await
        .unwrap();
    let err = w.jobs.start(&draft.id).await.unwrap_err();
    assert!(matches!(err, Error::InsufficientCredits { .. }), "{err}");
    let back = w.jobs.get(&draft.id).await.unwrap();
    assert_eq!(back.status, JobStatus::Draft);
    assert_eq!(
        figures(&w).await.1,
        GRANT - cost + 1,
        "only the hog holds credits"
    );
    w.ledger.release(&hog.id, "hog-release").await.unwrap();
    let job = w.jobs.start(&draft.id).await.unwrap();
    let job = run_to_success(&w, &job.id).await;
    assert_settled(&w, &job).await;
}

async fn cancels(w: World) {
    // A draft: nothing to release.
    let a = w.jobs.create_draft(&request()).await.unwrap();
    let a = w.jobs.cancel(&a.id).await.unwrap();
    assert_eq!(a.status, JobStatus::Cancelled);
    assert_eq!(a.details.settlement, Some(Settlement::Released));
    // A start stuck before the remote create was asked for.
    let b = w.jobs.create_draft(&request()).await.unwrap();
    w.faulty_ledger
        .fail_next(LedgerOp::Reserve, FaultPoint::After);
    assert!(w.jobs.start(&b.id).await.is_err());
    assert!(figures(&w).await.1 > 0);
    let b = w.jobs.cancel(&b.id).await.unwrap();
    assert_eq!(b.status, JobStatus::Cancelled);
    assert_settled(&w, &b).await;
    // A start whose create is in doubt: resolved with its key, then cancelled remotely.
    let c = w.jobs.create_draft(&request()).await.unwrap();
    w.provider
        .fail_next(ProviderOp::Create, ProviderFault::LostAfter);
    assert!(w.jobs.start(&c.id).await.is_err());
    let c = w.jobs.cancel(&c.id).await.unwrap();
    assert_eq!(c.status, JobStatus::Cancelled);
    assert_settled(&w, &c).await;
    let remote = w.sim.list_jobs(None, Some(100)).await.unwrap().jobs;
    assert_eq!(remote.len(), 1);
    assert_eq!(remote[0].status, ProviderJobStatus::Cancelled);
    // A running job.
    let d = w.jobs.create_draft(&request()).await.unwrap();
    w.jobs.start(&d.id).await.unwrap();
    w.sim.advance(2);
    assert_eq!(w.jobs.sync(&d.id).await.unwrap().status, JobStatus::Running);
    let d = w.jobs.cancel(&d.id).await.unwrap();
    assert_eq!(d.status, JobStatus::Cancelled);
    assert_settled(&w, &d).await;
    // Cancelling again changes nothing.
    assert_eq!(w.jobs.cancel(&d.id).await.unwrap(), d);
    assert_eq!(remote_jobs(&w).await, 2);
}

async fn cancel_racing_success(w: World) {
    let draft = w.jobs.create_draft(&request()).await.unwrap();
    w.jobs.start(&draft.id).await.unwrap();
    w.sim.advance(2);
    assert_eq!(
        w.jobs.sync(&draft.id).await.unwrap().status,
        JobStatus::Running
    );
    // The trainer finishes; our copy still says running when the cancel goes out, and a
    // sync runs at the same time.
    w.sim.advance(1);
    let (cancel, sync) = tokio::join!(w.jobs.cancel(&draft.id), w.jobs.sync(&draft.id));
    let (cancel, sync) = (cancel.unwrap(), sync.unwrap());
    assert_eq!(
        cancel.status,
        JobStatus::Succeeded,
        "the provider has the last word"
    );
    assert_eq!(sync.status, JobStatus::Succeeded);
    let job = w.jobs.get(&draft.id).await.unwrap();
    assert_settled(&w, &job).await;
    assert_eq!(remote_jobs(&w).await, 1);
}

async fn concurrent_starts_make_one_remote_job(w: World) {
    let draft = w.jobs.create_draft(&request()).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let jobs = w.jobs.clone();
        let id = draft.id.clone();
        tasks.push(tokio::spawn(async move { jobs.start(&id).await }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(remote_jobs(&w).await, 1);
    assert_eq!(figures(&w).await.1, draft.details.estimated_cost);
    let job = run_to_success(&w, &draft.id).await;
    assert_settled(&w, &job).await;
}

async fn concurrent_fine_tune_calls(w: World) {
    let mut tasks = Vec::new();
    for i in 0..8 {
        let jobs = w.jobs.clone();
        tasks.push(tokio::spawn(async move {
            let mut r = FineTuneRequest::new(request());
            r.force = true;
            r.holder = Some(format!("instance-{i}"));
            jobs.fine_tune(&r).await
        }));
    }
    let mut started = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(outcome) => {
                if let Some(job) = outcome.job {
                    assert!(outcome.decision.fine_tune);
                    assert_eq!(job.status, JobStatus::ValidatingFiles);
                    started += 1;
                } else {
                    // Decided after the first job existed: declined, saying why.
                    let c = outcome
                        .decision
                        .check(tuneloop::policy::CheckName::NoActiveJob)
                        .unwrap();
                    assert!(!c.passed, "{c:?}");
                }
            }
            Err(Error::Conflict { kind, .. }) => assert_eq!(kind, "fine-tune"),
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(started, 1);
    assert_eq!(w.jobs.list(&Default::default()).await.unwrap().len(), 1);
    assert_eq!(remote_jobs(&w).await, 1);
    let only = w.jobs.list(&Default::default()).await.unwrap().remove(0);
    assert!(only.details.decision.as_ref().unwrap().forced);
    assert_eq!(figures(&w).await.1, only.details.estimated_cost);
}

async fn dry_run_and_declines_create_nothing(w: World) {
    let mut r = FineTuneRequest::new(request());
    r.dry_run = true;
    r.force = true;
    let outcome = w.jobs.fine_tune(&r).await.unwrap();
    assert!(outcome.decision.fine_tune && outcome.job.is_none());
    // Without force, the default thresholds (200 feedback items, ...) on this small
    // world decline, listing each check.
    let mut r = FineTuneRequest::new(request());
    r.policy.min_feedback_since_last_job = 1_000_000;
    let outcome = w.jobs.fine_tune(&r).await.unwrap();
    assert!(!outcome.decision.fine_tune);
    assert_eq!(outcome.decision.checks.len(), 6);
    assert!(outcome.job.is_none());
    assert!(w.jobs.list(&Default::default()).await.unwrap().is_empty());
    assert_eq!(figures(&w).await, (GRANT, 0, 0, GRANT));
    // An unknown base model has no price: a clear error naming it.
    let mut bad = request();
    bad.base_model = "mystery-7b".into();
    match w.jobs.create_draft(&bad).await {
        Err(Error::InvalidInput { field, .. }) => assert_eq!(field, "prices.mystery-7b"),
        other => panic!("{other:?}"),
    }
    let mut unknown = request();
    unknown.model_id = "nobody".into();
    assert!(matches!(
        w.jobs.create_draft(&unknown).await,
        Err(Error::NotFound { .. })
    ));
}

async fn illegal_transitions_are_ignored(w: World) {
    let draft = w.jobs.create_draft(&request()).await.unwrap();
    w.jobs.start(&draft.id).await.unwrap();
    w.sim.advance(2);
    assert_eq!(
        w.jobs.sync(&draft.id).await.unwrap().status,
        JobStatus::Running
    );
    w.provider.misreport(Some(ProviderJobStatus::Queued));
    assert_eq!(
        w.jobs.sync(&draft.id).await.unwrap().status,
        JobStatus::Running
    );
    let events = w.jobs.events(&draft.id).await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.level == "warning" && e.message.contains("ignored")),
        "{events:#?}"
    );
    w.provider.misreport(None);
    let job = run_to_success(&w, &draft.id).await;
    assert_settled(&w, &job).await;
}

async fn sync_all_moves_every_job(w: World) {
    let a = w.jobs.create_draft(&request()).await.unwrap();
    let b = w.jobs.create_draft(&request()).await.unwrap();
    let draft_only = w.jobs.create_draft(&request()).await.unwrap();
    w.jobs.start(&a.id).await.unwrap();
    w.provider
        .fail_next(ProviderOp::Create, ProviderFault::DownBefore);
    assert!(w.jobs.start(&b.id).await.is_err());
    w.sim.advance(3);
    let reports = w.jobs.sync_all().await.unwrap();
    assert_eq!(reports.len(), 2, "{reports:?}");
    let status = |id: &str| reports.iter().find(|r| r.id == id).unwrap().after;
    assert_eq!(status(&a.id), JobStatus::Succeeded);
    assert_eq!(status(&b.id), JobStatus::ValidatingFiles);
    assert_eq!(
        w.jobs.get(&draft_only.id).await.unwrap().status,
        JobStatus::Draft
    );
    w.sim.advance(3);
    w.jobs.sync_all().await.unwrap();
    let (_, pending, posted, _) = figures(&w).await;
    let mut charged = 0;
    for id in [&a.id, &b.id] {
        let job = w.jobs.get(id).await.unwrap();
        assert_eq!(job.details.settlement, Some(Settlement::Committed));
        charged += job.details.actual_cost.unwrap();
    }
    assert_eq!((pending, posted), (0, charged));
}

macro_rules! on_every_backend {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::memory_world().await.unwrap()).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::sqlite_world().await.unwrap()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(w) = super::postgres_world().await else { return };
                    super::$case(w).await;
                }
            )*
        }
    };
}

on_every_backend!(
    happy_path,
    crash_after_reserve_is_resumed,
    crash_between_reserve_and_create,
    lost_or_malformed_create_answers,
    refused_create_fails_and_releases,
    transport_refusals_never_settle_a_create_in_doubt,
    upload_failures,
    insufficient_credits_keep_the_draft,
    cancels,
    cancel_racing_success,
    concurrent_starts_make_one_remote_job,
    concurrent_fine_tune_calls,
    dry_run_and_declines_create_nothing,
    illegal_transitions_are_ignored,
    sync_all_moves_every_job,
);
