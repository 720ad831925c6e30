//! The facade's dataset, fine-tuning, job and credit operations on every store backend
//! (memory, SQLite file, PostgreSQL when `TUNELOOP_TEST_POSTGRES_URL` is set), with the
//! simulated provider passed as `Options::provider`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::any::Any;
use std::path::Path;
use std::sync::Arc;
use tuneloop::config::Config;
use tuneloop::demo::{generate, DemoOptions};
use tuneloop::jobs::JobStatus;
use tuneloop::mcp::SimulatedProvider;
use tuneloop::model::{parse_timestamp, ResponseRecord};
use tuneloop::policy::CheckName;
use tuneloop::service::{
    DatasetRequest, FineTuneOptions, FineTuneTarget, GrantOptions, JobQuery, JobWithEvents,
    SyncOutcome, ValidateInput, ValidateRequest, WaitOptions,
};
use tuneloop::store::{FeedbackStore, RecordBatch};
use tuneloop::{Error, Options, Tuneloop};

const MODEL: &str = "support-bot-v2";
const BASE: &str = "gpt-4.1-mini";
const ACCOUNT: &str = "acme";
const PRICE: u64 = 2_000;
const GRANT: i64 = 1_000_000;

struct World {
    tl: Tuneloop,
    sim: Arc<SimulatedProvider>,
    /// The same store with no provider configured.
    bare: Tuneloop,
    /// The database file (SQLite) and its directory.
    db_dir: Option<std::path::PathBuf>,
    _guard: Box<dyn Any + Send>,
}

/// Settings under which the demo world's model passes every check on the first decision
/// (the demo's history may lie in the past or the future of the test's clock).
fn config() -> Config {
    let mut c: Config = toml_config(&format!(
        r#"
[fine_tune]
base_model = "{BASE}"
account = "{ACCOUNT}"

[prices]
"{BASE}" = {PRICE}

[policy]
min_feedback_since_last_job = 0
min_negative_rate = 0.0
min_training_examples = 1
cooldown_days = 0
"#
    ));
    c.dataset.min_examples = 1;
    c
}

fn toml_config(text: &str) -> Config {
    Config::parse(text, "test.toml").unwrap()
}

fn options(sim: Option<Arc<SimulatedProvider>>, url: Option<String>) -> Options {
    Options {
        database_url: url,
        config: config(),
        provider: sim.map(|s| s as _),
        ..Default::default()
    }
}

async fn seed(tl: &Tuneloop) {
    let demo = generate(&DemoOptions {
        weeks: 4,
        responses_per_week: 40,
        ..Default::default()
    });
    tl.record(&demo.batch).await.unwrap();
    // A model with responses and no feedback: no example can be made of it.
    let at = parse_timestamp("2026-09-01T10:00:00Z").unwrap();
    tl.record(&RecordBatch {
        responses: vec![ResponseRecord::new(
            "lonely-1",
            "lonely-bot",
            "Hi?",
            "Hello.",
            at,
        )],
        feedback: vec![],
    })
    .await
    .unwrap();
}

async fn over_store(store: Arc<dyn FeedbackStore>, guard: Box<dyn Any + Send>) -> World {
    let sim = Arc::new(SimulatedProvider::manual());
    let tl = Tuneloop::with_store(store.clone(), options(Some(sim.clone()), None)).unwrap();
    let bare = Tuneloop::with_store(store, options(None, None)).unwrap();
    seed(&tl).await;
    World {
        tl,
        sim,
        bare,
        db_dir: None,
        _guard: guard,
    }
}

async fn memory_world() -> Option<World> {
    Some(over_store(Arc::new(tuneloop::store::MemoryStore::new()), Box::new(())).await)
}

async fn sqlite_world() -> Option<World> {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let sim = Arc::new(SimulatedProvider::manual());
    let tl = Tuneloop::open(options(Some(sim.clone()), Some(url)))
        .await
        .unwrap();
    let bare = Tuneloop::with_store(tl.store().clone(), options(None, None)).unwrap();
    seed(&tl).await;
    Some(World {
        tl,
        sim,
        bare,
        db_dir: Some(dir.path().to_path_buf()),
        _guard: Box::new(dir),
    })
}

async fn postgres_world() -> Option<World> {
    let (store, guard) = tuneloop::testing::postgres::fresh_store().await?;
    Some(over_store(store, Box::new(guard)).await)
}

fn field_of(e: &Error) -> &str {
    match e {
        Error::InvalidInput { field, .. } => field,
        other => panic!("not an invalid input: {other:?}"),
    }
}

async fn grant(
    tl: &Tuneloop,
    amount: i64,
    key: Option<&str>,
) -> tuneloop::Result<tuneloop::service::GrantResult> {
    tl.grant(&GrantOptions {
        account: ACCOUNT.into(),
        amount,
        key: key.map(str::to_string),
    })
    .await
}

async fn credits(w: World) {
    let tl = &w.tl;
    assert!(matches!(
        tl.balance(ACCOUNT).await,
        Err(Error::NotFound { .. })
    ));
    let first = grant(tl, 100, Some("k1")).await.unwrap();
    assert!(first.applied);
    assert_eq!((first.key.as_str(), first.balance.granted), ("k1", 100));
    // Repeated with its key: a no-op that says so.
    let again = grant(tl, 100, Some("k1")).await.unwrap();
    assert!(!again.applied, "{again:?}");
    assert_eq!(again.balance, first.balance);
    // The same key with another amount is refused.
    assert!(matches!(
        grant(tl, 7, Some("k1")).await,
        Err(Error::Conflict { .. })
    ));
    // 0 and negatives never reach the ledger.
    for amount in [0, -5, i64::MIN] {
        let e = grant(tl, amount, None).await.unwrap_err();
        assert_eq!(field_of(&e), "amount");
        assert!(
            e.to_string().contains(&amount.to_string()) && e.to_string().contains("positive"),
            "{e}"
        );
    }
    // Without a key one is made, and repeating with it is a no-op.
    let made = grant(tl, 5, None).await.unwrap();
    assert!(made.applied && made.key.starts_with("grant-"), "{made:?}");
    let other = grant(tl, 5, None).await.unwrap();
    assert_ne!(other.key, made.key);
    assert!(!grant(tl, 5, Some(&made.key)).await.unwrap().applied);
    let b = tl.balance(ACCOUNT).await.unwrap();
    assert_eq!((b.granted, b.available), (110, 110));
    // The JSON is flat: the key, the balance's figures, and whether it applied.
    let json: serde_json::Value = serde_json::to_value(&made).unwrap();
    assert_eq!(json["key"], made.key.as_str());
    assert_eq!(json["account"], ACCOUNT);
    assert_eq!(json["applied"], true);
    let back: tuneloop::service::GrantResult = serde_json::from_value(json).unwrap();
    assert_eq!(back, made);
}

async fn datasets(w: World) {
    let tl = &w.tl;
    let request = DatasetRequest {
        model: MODEL.into(),
        seed: Some(3),
        ..Default::default()
    };
    let built = tl.build_dataset(&request).await.unwrap();
    let m = &built.manifest;
    assert_eq!((m.model.as_str(), m.seed), (MODEL, 3));
    assert!(m.counts.train > 0);
    assert_eq!(built.train_jsonl.lines().count() as u64, m.counts.train);
    assert_eq!(
        built.validation_jsonl.lines().count() as u64,
        m.counts.validation
    );
    // `[dataset]` of the settings applies where the request says nothing.
    assert_eq!(m.config.min_examples, 1);
    // Settings are checked, naming the field.
    let bad = DatasetRequest {
        validation_fraction: Some(0.9),
        ..request.clone()
    };
    assert_eq!(
        field_of(&tl.build_dataset(&bad).await.unwrap_err()),
        "validation_fraction"
    );
    let unknown = DatasetRequest {
        model: "nope".into(),
        ..Default::default()
    };
    assert!(matches!(
        tl.build_dataset(&unknown).await,
        Err(Error::NotFound { kind: "model", .. })
    ));
    let too_many = DatasetRequest {
        min_examples: Some(100_000),
        ..request.clone()
    };
    let e = tl.build_dataset(&too_many).await.unwrap_err();
    assert_eq!(field_of(&e), "min_examples");
    assert!(e.to_string().contains("found"), "{e}");

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ds");
    let written = tl.write_dataset(&request, &dir, false).await.unwrap();
    assert_eq!(&written, m, "written and built are the same dataset");
    assert_eq!(
        std::fs::read_to_string(dir.join("train.jsonl")).unwrap(),
        built.train_jsonl
    );
    // A non-empty directory: refused before anything is built, unless replaced.
    let e = tl.write_dataset(&request, &dir, false).await.unwrap_err();
    assert_eq!(field_of(&e), "out");
    assert!(
        e.to_string().contains("not empty") && !e.to_string().contains("--"),
        "{e}"
    );
    let kto = DatasetRequest {
        format: Some(tuneloop::dataset::DatasetFormat::TrlKto),
        ..request.clone()
    };
    let replaced = tl.write_dataset(&kto, &dir, true).await.unwrap();
    assert_eq!(replaced.format, tuneloop::dataset::DatasetFormat::TrlKto);
    // A path under a file cannot be created.
    let file = tmp.path().join("plain");
    std::fs::write(&file, "x").unwrap();
    let e = tl
        .write_dataset(&request, &file.join("ds"), true)
        .await
        .unwrap_err();
    assert_eq!(field_of(&e), "out");
    assert!(e.to_string().contains("plain"), "{e}");
    // The directory that holds the database is never replaced.
    if let Some(db_dir) = &w.db_dir {
        let e = tl.write_dataset(&request, db_dir, true).await.unwrap_err();
        assert!(e.to_string().contains("database"), "{e}");
        assert!(db_dir.join("t.db").exists());
    }

    // Our own output validates; a broken line does not; a missing file names itself.
    let ours = ValidateRequest::new(
        ValidateInput::Path(tmp.path().join("ds/train.jsonl")),
        tuneloop::dataset::ValidateFormat::OpenaiChat,
    );
    // The directory now holds the KTO build: validate the chat build's text instead.
    let text = ValidateRequest {
        input: ValidateInput::Text(built.train_jsonl.clone()),
        ..ours.clone()
    };
    let report = Tuneloop::validate_dataset(&text).await.unwrap();
    assert!(report.valid, "{report:?}");
    assert_eq!(report.lines, m.counts.train);
    let broken = ValidateRequest {
        input: ValidateInput::Text("{\"messages\": [\n".into()),
        ..ours.clone()
    };
    let report = Tuneloop::validate_dataset(&broken).await.unwrap();
    assert!(!report.valid);
    assert_eq!(report.errors.get("json_parse"), Some(&1));
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["valid"], false);
    let missing = ValidateRequest {
        input: ValidateInput::Path(tmp.path().join("missing.jsonl")),
        ..ours
    };
    let e = Tuneloop::validate_dataset(&missing).await.unwrap_err();
    assert_eq!(field_of(&e), "path");
    assert!(e.to_string().contains("missing.jsonl"), "{e}");
}

async fn fine_tuning(w: World) {
    let tl = &w.tl;
    grant(tl, GRANT, Some("initial")).await.unwrap();
    let target = FineTuneTarget::new(MODEL);

    // The decision lists every check with what was observed and required; nothing is made.
    let decision = tl.should_fine_tune(&decide(&target)).await.unwrap();
    let names: Vec<CheckName> = decision.checks.iter().map(|c| c.name).collect();
    assert_eq!(names, CheckName::ALL);
    assert!(decision.fine_tune, "{decision:#?}");
    let credits = decision.check(CheckName::Credits).unwrap();
    assert_eq!(credits.observed, serde_json::json!(GRANT));
    assert!(credits.required.as_u64().unwrap() > 0);
    let none = JobQuery::default();
    assert!(tl.list_jobs(&none).await.unwrap().jobs.is_empty());

    // A dry run decides the same and creates nothing, without a provider too.
    let dry = FineTuneOptions {
        target: target.clone(),
        dry_run: true,
        ..Default::default()
    };
    let outcome = w.bare.fine_tune(&dry).await.unwrap();
    assert_eq!(outcome.decision, decision);
    assert!(outcome.job.is_none());
    // Without a provider, a real run is refused before anything is read.
    let real = FineTuneOptions {
        dry_run: false,
        ..dry.clone()
    };
    let e = w.bare.fine_tune(&real).await.unwrap_err();
    assert_eq!(field_of(&e), "mcp.url");
    assert!(!e.to_string().contains("--"), "{e}");

    // Forced without a price for the base model: an error naming it, dry run or not.
    for dry_run in [true, false] {
        let forced = FineTuneOptions {
            target: FineTuneTarget {
                base_model: Some("mystery-7b".into()),
                ..target.clone()
            },
            force: true,
            dry_run,
            ..Default::default()
        };
        let e = tl.fine_tune(&forced).await.unwrap_err();
        assert_eq!(field_of(&e), "prices.mystery-7b", "dry run {dry_run}");
    }
    // Unforced, the missing price only fails the credits check.
    let unpriced = FineTuneTarget {
        base_model: Some("mystery-7b".into()),
        ..target.clone()
    };
    let d = tl.should_fine_tune(&decide(&unpriced)).await.unwrap();
    assert!(!d.fine_tune && !d.check(CheckName::Credits).unwrap().passed);
    // Forced on a model of which no example can be made: an error naming the dataset.
    let lonely = FineTuneOptions {
        target: FineTuneTarget::new("lonely-bot"),
        force: true,
        dry_run: true,
        ..Default::default()
    };
    let e = tl.fine_tune(&lonely).await.unwrap_err();
    assert_eq!(field_of(&e), "dataset");
    // No base model anywhere: an error on `base_model` that names no flag.
    let nobase = Tuneloop::with_store(tl.store().clone(), Options::default()).unwrap();
    let e = nobase.should_fine_tune(&decide(&target)).await.unwrap_err();
    assert_eq!(field_of(&e), "base_model");
    assert!(!e.to_string().contains("--"), "{e}");
    assert!(tl.list_jobs(&none).await.unwrap().jobs.is_empty());

    // Fine-tune: created and started, its estimated cost on hold.
    let run = FineTuneOptions {
        target: target.clone(),
        ..Default::default()
    };
    let outcome = tl.fine_tune(&run).await.unwrap();
    let job = outcome.job.clone().expect("a job");
    assert!(outcome.start_error.is_none());
    assert_eq!(job.status, JobStatus::ValidatingFiles);
    assert!(job.details.decision.is_some());
    let b = tl.balance(ACCOUNT).await.unwrap();
    assert_eq!(b.pending, job.details.estimated_cost);
    // A second decision finds it in flight: declined, an answer even when forced.
    let forced = FineTuneOptions {
        force: true,
        ..run.clone()
    };
    let again = tl.fine_tune(&forced).await.unwrap();
    assert!(again.job.is_none());
    assert!(!again.decision.check(CheckName::NoActiveJob).unwrap().passed);

    // Listed, shown with its history.
    let listed = tl.list_jobs(&none).await.unwrap();
    assert_eq!(listed.jobs.len(), 1);
    assert_eq!(listed.jobs[0].id, job.id);
    let running = JobQuery {
        status: Some("running".into()),
        ..Default::default()
    };
    assert!(tl.list_jobs(&running).await.unwrap().jobs.is_empty());
    let bad = JobQuery {
        status: Some("done".into()),
        ..Default::default()
    };
    let e = tl.list_jobs(&bad).await.unwrap_err();
    assert_eq!(field_of(&e), "status");
    assert!(
        e.to_string().contains("draft") && e.to_string().contains("cancelled"),
        "{e}"
    );
    let shown = tl.job(&job.id).await.unwrap();
    assert_eq!(shown.job.id, job.id);
    assert!(shown
        .events
        .iter()
        .any(|e| e.message.contains("draft created")));
    let json = serde_json::to_value(&shown).unwrap();
    assert_eq!(json["id"], job.id.as_str(), "the job's fields at the top");
    assert!(json["events"].as_array().unwrap().len() >= 2);
    let back: JobWithEvents = serde_json::from_value(json).unwrap();
    assert_eq!(back, shown);
    assert!(matches!(
        tl.job("ftj_nope").await,
        Err(Error::NotFound { kind: "job", .. })
    ));

    // Sync all: one job in flight, moved by the provider.
    w.sim.advance(1);
    let SyncOutcome::All(all) = tl.sync_jobs(None).await.unwrap() else {
        panic!("a report per job");
    };
    assert_eq!(all.synced.len(), 1);
    assert_eq!(all.synced[0].after, JobStatus::Queued);
    assert!(!all.has_errors());
    // Waiting gives up at the timeout with the job as it is ...
    let quick = WaitOptions {
        timeout_secs: 0,
        poll_interval_ms: 5,
    };
    let waited = tl.wait_jobs(Some(&job.id), &quick).await.unwrap();
    assert!(!waited.settled());
    // ... and ends once the job finished, settled.
    w.sim.advance(3);
    let patient = WaitOptions {
        timeout_secs: 30,
        poll_interval_ms: 5,
    };
    let SyncOutcome::Job(done) = tl.wait_jobs(Some(&job.id), &patient).await.unwrap() else {
        panic!("the job");
    };
    assert_eq!(done.status, JobStatus::Succeeded);
    let b = tl.balance(ACCOUNT).await.unwrap();
    assert_eq!((b.pending, Some(b.posted)), (0, done.details.actual_cost));
    let SyncOutcome::All(all) = tl.wait_jobs(None, &patient).await.unwrap() else {
        panic!("a report per job");
    };
    assert!(all.synced.is_empty(), "nothing left in flight: {all:?}");
    let zero = WaitOptions {
        poll_interval_ms: 0,
        ..patient
    };
    assert_eq!(
        field_of(&tl.wait_jobs(None, &zero).await.unwrap_err()),
        "poll_interval_ms"
    );
    // The JSON of a sync is the job itself, or the reports.
    let one = tl.sync_jobs(Some(&job.id)).await.unwrap();
    let json = serde_json::to_value(&one).unwrap();
    assert_eq!(json["status"], "succeeded");
    assert_eq!(serde_json::from_value::<SyncOutcome>(json).unwrap(), one);

    // A draft: created without the policy, refused a start without a provider, cancelled.
    let draft = tl
        .create_job(&FineTuneTarget::new("support-bot-v1"))
        .await
        .unwrap();
    assert_eq!(draft.status, JobStatus::Draft);
    let e = w.bare.start_job(&draft.id).await.unwrap_err();
    assert_eq!(field_of(&e), "mcp.url");
    let cancelled = w.bare.cancel_job(&draft.id).await.unwrap();
    assert_eq!(cancelled.status, JobStatus::Cancelled);
    assert!(matches!(
        tl.start_job(&draft.id).await,
        Err(Error::Conflict { .. })
    ));
    assert!(matches!(
        tl.start_job("ftj_nope").await,
        Err(Error::NotFound { .. })
    ));
    let unpriced = tl.create_job(&unpriced).await.unwrap_err();
    assert_eq!(field_of(&unpriced), "prices.mystery-7b");
    let b = tl.balance(ACCOUNT).await.unwrap();
    assert_eq!(b.pending, 0, "the draft reserved nothing");
}

macro_rules! on_every_backend {
    ($($scenario:ident),*) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(super::memory_world().await.unwrap()).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(super::sqlite_world().await.unwrap()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    match super::postgres_world().await {
                        Some(w) => super::$scenario(w).await,
                        None => eprintln!("skipped: TUNELOOP_TEST_POSTGRES_URL is not set"),
                    }
                }
            )*
        }
    };
}

on_every_backend!(credits, datasets, fine_tuning);

#[test]
fn requests_reject_unknown_fields_and_fill_defaults() {
    let t: FineTuneOptions =
        serde_json::from_str(r#"{"target":{"model_id":"m"},"dry_run":true}"#).unwrap();
    assert_eq!(t.target.model_id, "m");
    assert!(t.dry_run && !t.force);
    assert!(serde_json::from_str::<FineTuneOptions>(r#"{"forse":true}"#).is_err());
    let q: JobQuery = serde_json::from_str("{}").unwrap();
    assert_eq!(q.limit, 50);
    let v: ValidateRequest =
        serde_json::from_str(r#"{"input":{"path":"x.jsonl"},"format":"openai-dpo"}"#).unwrap();
    assert_eq!(v.input, ValidateInput::Path(Path::new("x.jsonl").into()));
    assert_eq!(v.max_tokens, 16_385);
    let g: GrantOptions = serde_json::from_str(r#"{"account":"a","amount":-5}"#).unwrap();
    assert_eq!(g.amount, -5);
    let d: DatasetRequest =
        serde_json::from_str(r#"{"model":"m","since":"2026-01-01T00:00:00Z"}"#).unwrap();
    assert!(d.since.is_some());
}

/// The decision for `target`, as of now.
fn decide(target: &FineTuneTarget) -> FineTuneOptions {
    FineTuneOptions {
        target: target.clone(),
        ..Default::default()
    }
}
