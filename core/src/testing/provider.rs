//! The provider conformance suite: the behaviour every [`FineTuningProvider`] must show
//! (the simulated provider, the MCP provider over the reference server, and a host's own).
//! Each rule is written in the trait's "Behaviour" section.
//!
//! ```text
//! async fn fresh() -> tuneloop::testing::ProviderUnderTest { /* a provider and its hooks */ }
//! tuneloop::provider_conformance_tests!(fresh);
//! ```
//! expands to one `#[tokio::test]` per case; `provider_conformance_tests!(optional factory)`
//! takes a factory returning `Option<(ProviderUnderTest, guard)>` like
//! [`crate::store_conformance_tests!`] (`None` skips the case; the guard, e.g. a server
//! process, is dropped when the case ends).
//!
//! What differs between providers goes through [`ProviderControl`]: how time passes for
//! jobs, whether events are offered, and whether the transport carries a checksum. The cases
//! tolerate jobs that were already there (a shared sandbox) and use fresh idempotency keys
//! on every run.

use crate::error::{Error, Result};
use crate::mcp::{FineTuningProvider, SimulatedProvider};
use crate::model::{
    CreateJobRequest, FineTuneMethod, Hyperparameters, JobEvent, ProviderJob, ProviderJobStatus,
    UploadedFile,
};
use async_trait::async_trait;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Generates one `#[tokio::test]` per provider conformance case for a factory: an
/// `async fn()` (path) returning a fresh [`ProviderUnderTest`], or with `optional`,
/// `Option<(ProviderUnderTest, guard)>` (`None` skips the case; the factory says why).
#[macro_export]
macro_rules! provider_conformance_tests {
    (optional $factory:path) => {
        $crate::__provider_conformance_list!(optional $factory);
    };
    ($factory:path) => {
        $crate::__provider_conformance_list!(plain $factory);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __provider_conformance_list {
    ($mode:ident $factory:path) => {
        $crate::__store_conformance_cases!(
            $mode $factory;
            provider_upload_reports_size,
            provider_create_is_idempotent,
            provider_create_unknown_file_is_refused,
            provider_unknown_job,
            provider_status_moves_forward,
            provider_invalid_training_file_fails,
            provider_cancel,
            provider_list_jobs_pages,
            provider_events_in_order
        );
    };
}

/// The hooks the suite needs for what differs between providers.
#[async_trait]
pub trait ProviderControl: Send + Sync + std::fmt::Debug {
    /// Lets `steps` steps of the provider's time pass. In one step an unfinished job moves
    /// at most one status forward (the suite must be able to see it `running` to cancel
    /// it); a provider on wall time sleeps here.
    async fn advance(&self, steps: u64);

    /// Whether the provider offers job events (they are optional in the contract). When
    /// not, the suite checks that `list_events` refuses instead.
    fn supports_events(&self) -> bool {
        true
    }

    /// Uploads with the given SHA-256 instead of the content's, on transports that send
    /// one; `None` when the provider has no checksum to send (the default).
    async fn upload_with_sha256(
        &self,
        _filename: &str,
        _content: &str,
        _sha256: &str,
    ) -> Option<Result<UploadedFile>> {
        None
    }
}

/// The simulated provider is its own control: [`SimulatedProvider::advance`] (a manual
/// clock; a timed one ignores it, so check a timed provider with a control that sleeps).
#[async_trait]
impl ProviderControl for SimulatedProvider {
    async fn advance(&self, steps: u64) {
        SimulatedProvider::advance(self, steps);
    }
}

/// A provider to check, with its [`ProviderControl`].
#[derive(Debug, Clone)]
pub struct ProviderUnderTest {
    /// The provider the cases call.
    pub provider: Arc<dyn FineTuningProvider>,
    /// Its hooks.
    pub control: Arc<dyn ProviderControl>,
}

impl ProviderUnderTest {
    /// `provider` with `control`.
    pub fn new(provider: Arc<dyn FineTuningProvider>, control: Arc<dyn ProviderControl>) -> Self {
        ProviderUnderTest { provider, control }
    }

    /// A fresh [`SimulatedProvider`] on a manual clock.
    pub fn simulated() -> Self {
        let provider = Arc::new(SimulatedProvider::manual());
        ProviderUnderTest::new(provider.clone(), provider)
    }
}

/// Steps after which a job that has not finished counts as stuck.
const MAX_STEPS: u32 = 20;

/// A valid supervised training file. One message holds U+2028 and U+0085 raw (JSON allows
/// them unescaped and `serde_json` writes them so): they are not line ends in JSONL, and a
/// provider that splits there would count a line too many and fail the file.
fn training() -> String {
    [
        "{\"messages\":[{\"role\":\"user\",\"content\":\"How long is the refund window?\"},\
         {\"role\":\"assistant\",\"content\":\"30 days from delivery.\"}]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"Où est ma commande\u{2028}n° 42?\"},\
         {\"role\":\"assistant\",\"content\":\"En route\u{85} arrive demain.\"}]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"thanks\"},\
         {\"role\":\"assistant\",\"content\":\"You're welcome!\"}]}",
    ]
    .join("\n")
        + "\n"
}

/// A run-unique idempotency key, so a case can run twice against a provider that keeps its
/// keys (a real sandbox).
fn key(label: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
    format!("conformance-{label}-{nanos}-{n}")
}

fn request(training_file: &str, key: String) -> CreateJobRequest {
    CreateJobRequest {
        base_model: "gpt-4o-mini".into(),
        training_file: training_file.into(),
        validation_file: None,
        method: FineTuneMethod::Supervised,
        hyperparameters: Some(Hyperparameters {
            n_epochs: Some(2),
            ..Default::default()
        }),
        suffix: None,
        idempotency_key: key,
        metadata: None,
    }
}

async fn upload(t: &ProviderUnderTest, content: &str) -> UploadedFile {
    t.provider
        .upload_file("train.jsonl", content)
        .await
        .expect("upload a valid training file")
}

async fn create(t: &ProviderUnderTest, label: &str) -> ProviderJob {
    let file = upload(t, &training()).await;
    t.provider
        .create_job(&request(&file.file_id, key(label)))
        .await
        .expect("create a job")
}

async fn get(t: &ProviderUnderTest, id: &str) -> ProviderJob {
    t.provider.get_job(id).await.expect("get a known job")
}

fn rank(status: ProviderJobStatus) -> u8 {
    match status {
        ProviderJobStatus::ValidatingFiles => 0,
        ProviderJobStatus::Queued => 1,
        ProviderJobStatus::Running => 2,
        ProviderJobStatus::Succeeded | ProviderJobStatus::Failed | ProviderJobStatus::Cancelled => {
            3
        }
    }
}

/// Advances one step at a time until `stop` holds for the job, checking on the way that the
/// status never goes back; returns the job and the statuses seen (without repeats).
async fn advance_until(
    t: &ProviderUnderTest,
    id: &str,
    stop: impl Fn(&ProviderJob) -> bool,
) -> (ProviderJob, Vec<ProviderJobStatus>) {
    let mut job = get(t, id).await;
    let mut seen = vec![job.status];
    for _ in 0..MAX_STEPS {
        if stop(&job) {
            return (job, seen);
        }
        t.control.advance(1).await;
        let next = get(t, id).await;
        assert!(
            rank(next.status) >= rank(job.status),
            "job {id} went back from {} to {} (seen {seen:?})",
            job.status,
            next.status
        );
        if job.status.is_terminal() {
            assert_eq!(next, job, "a finished job changed");
        }
        if seen.last() != Some(&next.status) {
            seen.push(next.status);
        }
        job = next;
    }
    if stop(&job) {
        return (job, seen);
    }
    panic!("job {id} did not get there in {MAX_STEPS} steps: {seen:?}");
}

/// Every job the provider lists (all pages).
async fn all_jobs(t: &ProviderUnderTest) -> Vec<ProviderJob> {
    let mut jobs: Vec<ProviderJob> = Vec::new();
    loop {
        let after = jobs.last().map(|j| j.id.clone());
        let page = t
            .provider
            .list_jobs(after.as_deref(), Some(100))
            .await
            .expect("list jobs");
        let empty = page.jobs.is_empty();
        jobs.extend(page.jobs);
        if !page.has_more || empty {
            return jobs;
        }
    }
}

fn assert_unknown<T: std::fmt::Debug>(r: Result<T>, what: &str) {
    match r {
        Err(Error::NotFound { .. }) => {}
        Err(e) if e.is_tool_refusal() => {}
        other => panic!("{what}: expected not found or a tool refusal, got {other:?}"),
    }
}

fn assert_tool_refusal<T: std::fmt::Debug>(r: Result<T>, what: &str) {
    match r {
        Err(e) if e.is_tool_refusal() => {}
        other => panic!("{what}: expected a tool refusal (Error::is_tool_refusal), got {other:?}"),
    }
}

/// Non-blank lines of JSONL: split at `\n` only (a `\r` before it is part of the line end).
fn jsonl_lines(content: &str) -> u64 {
    content.lines().filter(|l| !l.trim().is_empty()).count() as u64
}

/// Upload: a new file id each time, `bytes` (UTF-8) and `lines` (non-blank, split at `\n`)
/// of the content; a wrong SHA-256 is refused where the transport sends one.
pub async fn provider_upload_reports_size(t: ProviderUnderTest) {
    // A blank line and a CRLF line end on top of the Unicode line breaks inside strings.
    let content = format!("{}\r\n\n", training().trim_end());
    let expected_lines = 3;
    assert_eq!(jsonl_lines(&content), expected_lines);
    let file = upload(&t, &content).await;
    assert!(!file.file_id.trim().is_empty(), "an empty file id");
    assert_eq!(file.bytes, content.len() as u64, "bytes are UTF-8 bytes");
    assert_eq!(file.lines, expected_lines, "lines are split at \\n only");
    let again = upload(&t, &content).await;
    assert_ne!(
        again.file_id, file.file_id,
        "an upload carries no key: the same content again is another file"
    );
    assert_eq!((again.bytes, again.lines), (file.bytes, file.lines));

    let sha = hex::encode(Sha256::digest(content.as_bytes()));
    if let Some(r) = t
        .control
        .upload_with_sha256("train.jsonl", &content, &sha)
        .await
    {
        let ok = r.expect("the right SHA-256 is accepted");
        assert_eq!((ok.bytes, ok.lines), (file.bytes, file.lines));
        let wrong = hex::encode(Sha256::digest(b"something else"));
        let refused = t
            .control
            .upload_with_sha256("train.jsonl", &content, &wrong)
            .await
            .expect("the control sent the first checksum, so it sends this one");
        assert_tool_refusal(refused, "an upload whose SHA-256 does not match");
    }
}

/// Create: an initial status and the request's model and files; the same key returns the
/// same job (as it is now) and makes no second one; another key makes a new job.
pub async fn provider_create_is_idempotent(t: ProviderUnderTest) {
    let train = upload(&t, &training()).await;
    let valid = upload(&t, &training()).await;
    let before = all_jobs(&t).await.len();
    let mut req = request(&train.file_id, key("idem"));
    req.validation_file = Some(valid.file_id.clone());
    let job = t.provider.create_job(&req).await.expect("create");
    assert!(!job.id.trim().is_empty(), "an empty job id");
    assert!(
        matches!(
            job.status,
            ProviderJobStatus::ValidatingFiles | ProviderJobStatus::Queued
        ),
        "a new job starts validating_files or queued, not {}",
        job.status
    );
    assert_eq!(job.base_model, req.base_model);
    assert_eq!(job.training_file, train.file_id);
    assert_eq!(job.validation_file.as_deref(), Some(valid.file_id.as_str()));
    assert!(job.created_at > 0, "created_at is Unix seconds");
    assert_eq!(
        (
            &job.fine_tuned_model,
            job.trained_tokens,
            job.finished_at,
            &job.error
        ),
        (&None, None, None, &None),
        "a new job has no result yet"
    );

    let repeat = t
        .provider
        .create_job(&req)
        .await
        .expect("repeat the create");
    assert_eq!(repeat.id, job.id, "the same key returns the same job");
    assert_eq!(all_jobs(&t).await.len(), before + 1, "no second job");

    // The key wins over the rest of the request, and the answer is the job as it is now.
    t.control.advance(1).await;
    let mut changed = req.clone();
    changed.base_model = "another-model".into();
    let later = t.provider.create_job(&changed).await.expect("repeat later");
    assert_eq!(later.id, job.id);
    assert_eq!(later.base_model, job.base_model);
    assert_eq!(later, get(&t, &job.id).await);

    let other = t
        .provider
        .create_job(&request(&train.file_id, key("idem-other")))
        .await
        .expect("create with another key");
    assert_ne!(other.id, job.id, "another key makes another job");
    let jobs = all_jobs(&t).await;
    assert_eq!(jobs.len(), before + 2);
    for id in [&job.id, &other.id] {
        assert!(jobs.iter().any(|j| &j.id == id), "{id} is listed");
    }
}

/// Create with an unknown training or validation file: a tool refusal, no job, and the key
/// stays free.
pub async fn provider_create_unknown_file_is_refused(t: ProviderUnderTest) {
    let before = all_jobs(&t).await.len();
    let k = key("unknown-file");
    assert_tool_refusal(
        t.provider
            .create_job(&request("file-conformance-missing", k.clone()))
            .await,
        "create with an unknown training file",
    );
    let train = upload(&t, &training()).await;
    let mut req = request(&train.file_id, k.clone());
    req.validation_file = Some("file-conformance-missing".into());
    assert_tool_refusal(
        t.provider.create_job(&req).await,
        "create with an unknown validation file",
    );
    assert_eq!(
        all_jobs(&t).await.len(),
        before,
        "a refused create makes no job"
    );
    // A refused create records nothing: its key makes a job once the request is right.
    let job = t
        .provider
        .create_job(&request(&train.file_id, k))
        .await
        .expect("the key of a refused create is still free");
    assert_eq!(job.training_file, train.file_id);
}

/// An unknown job id: `NotFound` or a tool refusal, for get, cancel and events.
pub async fn provider_unknown_job(t: ProviderUnderTest) {
    let id = "ftjob-conformance-missing";
    assert_unknown(t.provider.get_job(id).await, "get_job of an unknown id");
    assert_unknown(
        t.provider.cancel_job(id).await,
        "cancel_job of an unknown id",
    );
    let events = t.provider.list_events(id, None, None).await;
    if t.control.supports_events() {
        assert_unknown(events, "list_events of an unknown id");
    } else {
        assert!(events.as_ref().is_err_and(Error::is_refusal), "{events:?}");
    }
}

/// A job moves forward only, to `succeeded` with its tokens, model and end time, and does
/// not change after.
pub async fn provider_status_moves_forward(t: ProviderUnderTest) {
    let job = create(&t, "life").await;
    let (done, seen) = advance_until(&t, &job.id, |j| {
        if !j.status.is_terminal() {
            assert_eq!(
                (&j.fine_tuned_model, j.trained_tokens, j.finished_at),
                (&None, None, None),
                "an unfinished job has no result yet"
            );
        }
        j.status.is_terminal()
    })
    .await;
    assert_eq!(
        done.status,
        ProviderJobStatus::Succeeded,
        "a valid file trains: {seen:?}, error {:?}",
        done.error
    );
    assert!(
        done.trained_tokens.is_some_and(|n| n > 0),
        "trained_tokens on success: {done:?}"
    );
    assert!(
        done.fine_tuned_model
            .as_deref()
            .is_some_and(|m| !m.trim().is_empty()),
        "fine_tuned_model on success: {done:?}"
    );
    assert!(
        done.finished_at.is_some_and(|f| f >= done.created_at),
        "finished_at on success: {done:?}"
    );
    assert_eq!(done.error, None);
    assert_eq!(
        (done.created_at, &done.base_model, &done.training_file),
        (job.created_at, &job.base_model, &job.training_file)
    );
    // Finished is final.
    t.control.advance(3).await;
    assert_eq!(get(&t, &job.id).await, done);
}

/// A training file that is not JSONL chat examples is refused at upload or create, or the
/// job ends `failed` with an error.
pub async fn provider_invalid_training_file_fails(t: ProviderUnderTest) {
    let file = match t.provider.upload_file("bad.jsonl", "not json\n").await {
        Ok(f) => f,
        Err(e) if e.is_refusal() => return,
        Err(e) => panic!("upload of a bad file: expected success or a refusal, got {e:?}"),
    };
    let job = match t
        .provider
        .create_job(&request(&file.file_id, key("bad")))
        .await
    {
        Ok(j) => j,
        Err(e) if e.is_tool_refusal() => return,
        Err(e) => panic!("create on a bad file: expected a job or a tool refusal, got {e:?}"),
    };
    let (done, seen) = advance_until(&t, &job.id, |j| j.status.is_terminal()).await;
    assert_eq!(done.status, ProviderJobStatus::Failed, "{seen:?}");
    let error = done.error.as_ref().expect("a failed job says why");
    assert!(
        !error.code.trim().is_empty() && !error.message.trim().is_empty(),
        "{error:?}"
    );
    assert_eq!((&done.fine_tuned_model, done.trained_tokens), (&None, None));
    assert!(done.finished_at.is_some(), "finished_at on failure");
}

/// Cancel: an unfinished job ends `cancelled` and stays so; a finished job comes back
/// unchanged; cancelling twice is harmless.
pub async fn provider_cancel(t: ProviderUnderTest) {
    // A finished job first (advancing moves every job, so the running one comes after).
    let finished = create(&t, "cancel-finished").await;
    let (done, _) = advance_until(&t, &finished.id, |j| j.status.is_terminal()).await;
    assert_eq!(done.status, ProviderJobStatus::Succeeded);
    let after = t
        .provider
        .cancel_job(&done.id)
        .await
        .expect("cancel a finished job");
    assert_eq!(after, done, "cancel leaves a finished job as it was");
    assert_eq!(get(&t, &done.id).await, done);

    let job = create(&t, "cancel-running").await;
    let (running, seen) = advance_until(&t, &job.id, |j| {
        assert!(
            !j.status.is_terminal(),
            "the job finished before it was seen running ({}); make a step shorter",
            j.status
        );
        j.status == ProviderJobStatus::Running
    })
    .await;
    let cancelled = t
        .provider
        .cancel_job(&running.id)
        .await
        .expect("cancel a running job");
    assert_eq!(cancelled.status, ProviderJobStatus::Cancelled, "{seen:?}");
    assert!(cancelled.finished_at.is_some(), "finished_at on cancel");
    assert_eq!(cancelled.fine_tuned_model, None);
    t.control.advance(5).await;
    assert_eq!(
        get(&t, &job.id).await,
        cancelled,
        "a cancelled job stays so"
    );
    let twice = t
        .provider
        .cancel_job(&job.id)
        .await
        .expect("cancel a second time");
    assert_eq!(twice, cancelled);

    // A job still validating its files can be cancelled too.
    let fresh = create(&t, "cancel-new").await;
    let cancelled = t
        .provider
        .cancel_job(&fresh.id)
        .await
        .expect("cancel a new job");
    assert_eq!(cancelled.status, ProviderJobStatus::Cancelled);
}

/// `list_jobs`: newest first, `after` the last id of the previous page, at most `limit`
/// per page, `has_more` while more follow; a bad `after` or `limit` is refused.
pub async fn provider_list_jobs_pages(t: ProviderUnderTest) {
    let file = upload(&t, &training()).await;
    let mut created = Vec::new();
    for i in 0..5 {
        let job = t
            .provider
            .create_job(&request(&file.file_id, key(&format!("page-{i}"))))
            .await
            .expect("create");
        created.push(job.id);
    }
    let first = t.provider.list_jobs(None, Some(2)).await.expect("list");
    assert_eq!(first.jobs.len(), 2);
    assert!(first.has_more);
    assert_eq!(first.jobs[0].id, created[4], "newest first");

    let mut listed: Vec<String> = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..10_000 {
        let page = t
            .provider
            .list_jobs(after.as_deref(), Some(2))
            .await
            .expect("list a page");
        assert!(page.jobs.len() <= 2, "a page holds at most `limit` jobs");
        listed.extend(page.jobs.iter().map(|j| j.id.clone()));
        if !page.has_more {
            break;
        }
        assert!(!page.jobs.is_empty(), "has_more on an empty page");
        after = listed.last().cloned();
    }
    let unique: HashSet<&String> = listed.iter().collect();
    assert_eq!(unique.len(), listed.len(), "a job listed twice: {listed:?}");
    let positions: Vec<usize> = created
        .iter()
        .map(|id| {
            listed
                .iter()
                .position(|l| l == id)
                .unwrap_or_else(|| panic!("created job {id} is not listed: {listed:?}"))
        })
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] > w[1]),
        "newest first across pages: {listed:?}"
    );
    let whole = t
        .provider
        .list_jobs(None, Some(100))
        .await
        .expect("a larger page");
    let ids: Vec<&str> = whole.jobs.iter().take(5).map(|j| j.id.as_str()).collect();
    let newest: Vec<&str> = created.iter().rev().map(String::as_str).collect();
    assert_eq!(ids, newest);
    let listed_job = whole.jobs.first().expect("a job");
    assert_eq!(
        listed_job,
        &get(&t, &listed_job.id).await,
        "as get_job says"
    );

    assert_unknown(
        t.provider
            .list_jobs(Some("ftjob-conformance-missing"), Some(2))
            .await,
        "list_jobs after an unknown id",
    );
    let zero = t.provider.list_jobs(None, Some(0)).await;
    assert!(
        zero.as_ref().is_err_and(Error::is_refusal),
        "limit 0: {zero:?}"
    );
}

/// Events: oldest first, earlier ones keep their place as new ones come, `after` and
/// `limit` page them. A provider without events refuses `list_events`.
pub async fn provider_events_in_order(t: ProviderUnderTest) {
    let job = create(&t, "events").await;
    if !t.control.supports_events() {
        let r = t.provider.list_events(&job.id, None, None).await;
        assert!(
            r.as_ref().is_err_and(Error::is_refusal),
            "a provider without events refuses list_events: {r:?}"
        );
        return;
    }
    let list = |after: Option<String>, limit: Option<u32>| {
        let t = t.clone();
        let id = job.id.clone();
        async move {
            t.provider
                .list_events(&id, after.as_deref(), limit)
                .await
                .expect("list events")
        }
    };
    let mut previous: Vec<JobEvent> = list(None, Some(100)).await;
    for _ in 0..MAX_STEPS {
        if get(&t, &job.id).await.status.is_terminal() {
            break;
        }
        t.control.advance(1).await;
        let now = list(None, Some(100)).await;
        assert!(
            now.len() >= previous.len() && now[..previous.len()] == previous[..],
            "earlier events keep their place: {previous:?} then {now:?}"
        );
        previous = now;
    }
    let events = previous;
    assert!(!events.is_empty(), "a finished job has events");
    let ids: HashSet<&str> = events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), events.len(), "event ids are unique: {events:?}");
    assert!(
        events
            .windows(2)
            .all(|w| w[0].created_at <= w[1].created_at),
        "oldest first: {events:?}"
    );
    for e in &events {
        assert!(
            matches!(e.level.as_str(), "info" | "warning" | "error"),
            "level {e:?}"
        );
        assert!(!e.message.trim().is_empty(), "an empty message: {e:?}");
    }
    let first = list(None, Some(1)).await;
    assert_eq!(first, events[..1]);
    let rest = list(Some(events[0].id.clone()), None).await;
    assert_eq!(rest, events[1..]);
    if events.len() >= 3 {
        let one = list(Some(events[0].id.clone()), Some(1)).await;
        assert_eq!(one, events[1..2]);
    }
    let last = events.last().map(|e| e.id.clone());
    assert_eq!(list(last, None).await, Vec::<JobEvent>::new());
}
