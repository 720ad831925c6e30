//! Starting, syncing, cancelling and settling jobs: the state machine's moves.
//!
//! Each move is "read the job, act once, write the result if nobody else changed the job";
//! a lost write re-reads and decides again. Actions are safe to repeat: uploads are
//! recorded before the next step, the credit hold and the remote create carry idempotency
//! keys, and ledger commits/releases are keyed per job and attempt.

use super::job::{FineTuneJob, JobError, Settlement};
use super::manager::JobManager;
use super::status::{can_transition, JobStatus};
use crate::credits::HoldStatus;
use crate::dataset::{TRAIN_FILE, VALIDATION_FILE};
use crate::model::time::now;
use crate::model::{CreateJobRequest, ProviderJob};
use crate::policy::estimate_cost;
use crate::secrets::scrub;
use crate::store::{JobEventRecord, JobFilter};
use crate::{Error, Result};
use chrono::DateTime;
use serde::Serialize;
use std::collections::BTreeMap;

/// The start steps, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    UploadTrain,
    UploadValidation,
    Reserve,
    MarkCreateSent,
    Create,
}

/// What `sync_all` did to one job.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct SyncReport {
    /// Our job id.
    pub id: String,
    /// The model.
    pub model_id: String,
    /// Status before the sync.
    pub before: JobStatus,
    /// Status after it (unchanged on error).
    pub after: JobStatus,
    /// Why the sync failed, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl JobManager {
    /// Starts a draft: uploads its files, reserves its estimated cost and creates the remote
    /// job. Resumes a start that was interrupted (crash, timeout, server down) from where
    /// it stopped. A job already running remotely is returned as it is; a finished one is
    /// [`Error::Conflict`].
    ///
    /// Failures before the remote job is requested put the job back to `draft` (releasing
    /// its hold) unless they may pass on a retry (then it stays `starting` and the next
    /// `start` or `sync` resumes). Once the remote job is requested, only the provider's own
    /// answer refusing the create ([`Error::is_tool_refusal`]) fails the job (releasing the
    /// hold); anything else — a timeout, a lost answer, an HTTP 401 at connect — leaves it
    /// `starting`, to be resumed with the same idempotency key.
    pub async fn start(&self, id: &str) -> Result<FineTuneJob> {
        loop {
            let job = self.get(id).await?;
            match job.status {
                JobStatus::Draft => {
                    // Holds that a crash left behind by earlier attempts are voided first.
                    for attempt in 1..=job.details.attempt {
                        self.release_attempt_hold(&job, attempt).await?;
                    }
                    let mut next = job.clone();
                    next.status = JobStatus::Starting;
                    next.details.attempt += 1;
                    next.details.hold_id = None;
                    next.details.create_sent = false;
                    next.details.last_error = None;
                    next.details.provider = Some(self.provider.name().to_string());
                    match self.save(next).await {
                        Ok(job) => {
                            let msg = format!(
                                "start attempt {} on {}",
                                job.details.attempt,
                                self.provider.name()
                            );
                            self.note(&job, "info", msg).await?;
                            return self.advance_start(job).await;
                        }
                        Err(Error::Conflict { .. }) => continue,
                        Err(e) => return Err(e),
                    }
                }
                JobStatus::Starting => return self.advance_start(job).await,
                s if s.is_remote_active() => return Ok(job),
                s => {
                    return Err(Error::Conflict {
                        kind: "job",
                        id: id.to_string(),
                        reason: format!("the job is {s}; there is nothing to start"),
                    })
                }
            }
        }
    }

    async fn advance_start(&self, mut job: FineTuneJob) -> Result<FineTuneJob> {
        loop {
            if job.status != JobStatus::Starting {
                // A provider may answer the create with a finished job (a repeated key
                // returns the job as it is now): settle it right away.
                if job.needs_settlement() {
                    return self.settle(job).await;
                }
                return Ok(job);
            }
            let d = &job.details;
            let step = if d.training_file_id.is_none() {
                Step::UploadTrain
            } else if d.dataset.validation_examples > 0 && d.validation_file_id.is_none() {
                Step::UploadValidation
            } else if d.hold_id.is_none() {
                Step::Reserve
            } else if !d.create_sent {
                Step::MarkCreateSent
            } else {
                Step::Create
            };
            let (next, message) = match self.start_step(&job, step).await {
                Ok(done) => done,
                Err(e) => return self.start_failed(job, step, e).await,
            };
            match self.save(next).await {
                Ok(saved) => {
                    if let Some(m) = message {
                        self.note(&saved, "info", m).await?;
                    }
                    job = saved;
                }
                Err(Error::Conflict { .. }) => {
                    let current = self.get(&job.id).await?;
                    // The attempt was abandoned (reverted, cancelled, failed, or a newer one
                    // began) while we reserved: our hold must not outlive it. A job that
                    // moved forward in the same attempt uses this very hold (same key).
                    let abandoned = current.details.attempt != job.details.attempt
                        || matches!(
                            current.status,
                            JobStatus::Draft | JobStatus::Cancelled | JobStatus::Failed
                        );
                    if step == Step::Reserve && abandoned {
                        self.release_attempt_hold(&current, job.details.attempt)
                            .await?;
                    }
                    job = current;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Does one step and returns the job as it should be after it, with a note to record.
    async fn start_step(
        &self,
        job: &FineTuneJob,
        step: Step,
    ) -> Result<(FineTuneJob, Option<String>)> {
        let mut next = job.clone();
        let d = &job.details;
        let message = match step {
            Step::UploadTrain | Step::UploadValidation => {
                let (name, sha) = if step == Step::UploadTrain {
                    (TRAIN_FILE, Some(d.dataset.train_sha256.clone()))
                } else {
                    (VALIDATION_FILE, d.dataset.validation_sha256.clone())
                };
                let file = self
                    .store
                    .get_job_file(&job.id, name)
                    .await?
                    .filter(|f| Some(&f.sha256) == sha.as_ref())
                    .ok_or_else(|| Error::Storage {
                        message: format!(
                            "job {}: its {name} is missing or changed since the cost was estimated",
                            job.id
                        ),
                        retryable: false,
                        source: None,
                    })?;
                let uploaded = self
                    .provider
                    .upload_file(&format!("{}-{name}", job.id), &file.content)
                    .await?;
                let m = format!(
                    "uploaded {name} as {} ({} bytes, {} lines)",
                    uploaded.file_id, uploaded.bytes, uploaded.lines
                );
                if step == Step::UploadTrain {
                    next.details.training_file_id = Some(uploaded.file_id);
                } else {
                    next.details.validation_file_id = Some(uploaded.file_id);
                }
                Some(m)
            }
            Step::Reserve => {
                let key = job.credit_key("reserve", d.attempt);
                let hold = self
                    .ledger
                    .reserve(&d.account, d.estimated_cost, &key)
                    .await?;
                next.details.hold_id = Some(hold.id.clone());
                Some(format!(
                    "reserved {} credits on {} (hold {})",
                    hold.amount, d.account, hold.id
                ))
            }
            Step::MarkCreateSent => {
                next.details.create_sent = true;
                None
            }
            Step::Create => {
                let remote = self.provider.create_job(&self.create_request(job)?).await?;
                let (applied, warning) = apply_remote(&next, &remote);
                next = applied;
                next.details.last_error = None;
                Some(match warning {
                    Some(w) => w,
                    None => format!(
                        "remote job {} created on {} ({})",
                        remote.id,
                        self.provider.name(),
                        remote.status
                    ),
                })
            }
        };
        Ok((next, message))
    }

    async fn start_failed(&self, job: FineTuneJob, step: Step, e: Error) -> Result<FineTuneJob> {
        let text = scrub(&e.with_causes()).into_owned();
        if step == Step::Create {
            // An earlier attempt of this create may have made the remote job (its answer
            // lost). Only the tool's own answer to the create (it looked the key up and
            // refused) says there is none; a refusal before the call reached the tool (HTTP
            // 401 at connect, a failed handshake, no server configured) says nothing.
            if e.is_tool_refusal() {
                let mut failed = job.clone();
                failed.status = JobStatus::Failed;
                failed.details.error = Some(JobError {
                    code: "create_refused".into(),
                    message: text.clone(),
                });
                failed.details.finished_at = Some(now());
                if let Ok(saved) = self.save(failed).await {
                    let msg = format!("the provider refused to create the job: {text}");
                    self.note(&saved, "error", msg).await?;
                    self.settle(saved).await?;
                }
                return Err(e);
            }
            self.remember_error(job, &format!("{text}; {CREATE_IN_DOUBT}"))
                .await;
            return Err(with_hint(e, CREATE_IN_DOUBT));
        }
        if e.is_retryable() {
            self.remember_error(job, &text).await;
            return Err(e);
        }
        // Not worth retrying as it is: back to draft (the hold goes), so it can be started
        // again once the cause is fixed (credits granted, token corrected, ...).
        let mut draft = job.clone();
        draft.status = JobStatus::Draft;
        draft.details.hold_id = None;
        draft.details.last_error = Some(text.clone());
        if let Ok(saved) = self.save(draft).await {
            self.release_attempt_hold(&saved, job.details.attempt)
                .await?;
            self.note(
                &saved,
                "warning",
                format!("start failed, back to draft: {text}"),
            )
            .await?;
        }
        Err(e)
    }

    /// Keeps the latest transient error on the job (best effort: a concurrent change wins).
    async fn remember_error(&self, job: FineTuneJob, text: &str) {
        let mut next = job;
        next.details.last_error = Some(text.to_string());
        let _ = self.save(next).await;
    }

    fn create_request(&self, job: &FineTuneJob) -> Result<CreateJobRequest> {
        let d = &job.details;
        let training_file = d.training_file_id.clone().ok_or_else(|| Error::Storage {
            message: format!("job {} has no uploaded training file", job.id),
            retryable: false,
            source: None,
        })?;
        let mut metadata = BTreeMap::new();
        metadata.insert("tuneloop_job_id".to_string(), job.id.clone());
        metadata.insert("model_id".to_string(), job.model_id.clone());
        Ok(CreateJobRequest {
            base_model: d.base_model.clone(),
            training_file,
            validation_file: d.validation_file_id.clone(),
            method: d.method,
            hyperparameters: d.hyperparameters,
            suffix: d.suffix.clone(),
            idempotency_key: job.create_key(),
            metadata: Some(metadata),
        })
    }

    /// Brings a job up to date: resumes an interrupted start, polls the provider for a
    /// remote job (status, trained tokens, events; a pending cancel is sent again), and
    /// settles the credits of a finished job (commit on success, release otherwise). A
    /// status the provider reports that would move the job backwards is ignored (and noted).
    pub async fn sync(&self, id: &str) -> Result<FineTuneJob> {
        let mut job = self.get(id).await?;
        if job.status == JobStatus::Starting {
            job = self.advance_start(job).await?;
        }
        if job.status.is_remote_active() {
            job = self.poll(job).await?;
        }
        if job.needs_settlement() {
            job = self.settle(job).await?;
        }
        Ok(job)
    }

    /// Syncs every job still in flight (`starting`, `validating_files`, `queued`, `running`)
    /// and every finished one whose credits are not settled yet.
    pub async fn sync_all(&self) -> Result<Vec<SyncReport>> {
        let jobs = self.list(&JobFilter::default()).await?;
        let mut out = Vec::new();
        for job in jobs {
            let due = job.status == JobStatus::Starting
                || job.status.is_remote_active()
                || job.needs_settlement();
            if !due {
                continue;
            }
            let (after, error) = match self.sync(&job.id).await {
                Ok(j) => (j.status, None),
                Err(e) => (
                    self.get(&job.id).await.map_or(job.status, |j| j.status),
                    Some(scrub(&e.with_causes()).into_owned()),
                ),
            };
            out.push(SyncReport {
                id: job.id.clone(),
                model_id: job.model_id.clone(),
                before: job.status,
                after,
                error,
            });
        }
        Ok(out)
    }

    async fn poll(&self, job: FineTuneJob) -> Result<FineTuneJob> {
        let pid = remote_id(&job)?;
        let asked = if job.details.cancel_requested {
            self.provider.cancel_job(&pid).await
        } else {
            self.provider.get_job(&pid).await
        };
        let remote = match asked {
            Ok(r) => r,
            Err(e) => {
                self.remember_error(job, &scrub(&e.with_causes())).await;
                return Err(e);
            }
        };
        let job = self.fetch_events(job, &pid).await;
        self.apply_and_save(job, &remote).await
    }

    /// Stores the provider's new events (optional in the contract: a provider without them,
    /// or a failure reading them, only costs the log).
    async fn fetch_events(&self, mut job: FineTuneJob, pid: &str) -> FineTuneJob {
        const PAGE: u32 = 100;
        for _ in 0..100 {
            let after = job.details.last_event_id.clone();
            let Ok(events) = self
                .provider
                .list_events(pid, after.as_deref(), Some(PAGE))
                .await
            else {
                break;
            };
            let Some(last) = events.last() else { break };
            let last_id = last.id.clone();
            let records: Vec<JobEventRecord> = events
                .iter()
                .map(|e| JobEventRecord {
                    seq: 0,
                    id: e.id.clone(),
                    source: "provider".into(),
                    level: e.level.clone(),
                    message: scrub(&e.message).into_owned(),
                    created_at: DateTime::from_timestamp(e.created_at, 0).unwrap_or_else(now),
                })
                .collect();
            if self
                .store
                .append_job_events(&job.id, &records)
                .await
                .is_err()
            {
                break;
            }
            job.details.last_event_id = Some(last_id);
            if events.len() < PAGE as usize {
                break;
            }
        }
        job
    }

    /// Applies what the provider reports and writes it; on a lost write, re-reads the job
    /// and applies the report to the fresh copy.
    async fn apply_and_save(
        &self,
        mut job: FineTuneJob,
        remote: &ProviderJob,
    ) -> Result<FineTuneJob> {
        loop {
            let (mut next, warning) = apply_remote(&job, remote);
            next.details.last_error = None;
            let before = job.status;
            let saved = if next == job {
                job.clone()
            } else {
                match self.save(next).await {
                    Ok(s) => s,
                    Err(Error::Conflict { .. }) => {
                        // Re-apply the report to the fresh copy, keeping the events cursor
                        // we advanced (those events are stored already).
                        let mut fresh = self.get(&job.id).await?;
                        if fresh.details.last_event_id.is_none() {
                            fresh.details.last_event_id = job.details.last_event_id;
                        }
                        job = fresh;
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            };
            if let Some(w) = warning {
                self.note(&saved, "warning", w).await?;
            } else if saved.status != before {
                let mut m = format!("{} → {}", before, saved.status);
                if let Some(model) = &saved.details.fine_tuned_model {
                    m.push_str(&format!(" (fine-tuned model {model})"));
                }
                self.note(&saved, "info", m).await?;
            }
            return Ok(saved);
        }
    }

    /// Commits (succeeded) or releases (failed, cancelled) the job's hold, once.
    pub(super) async fn settle(&self, job: FineTuneJob) -> Result<FineTuneJob> {
        let mut job = job;
        loop {
            if !job.needs_settlement() {
                return Ok(job);
            }
            let attempt = job.details.attempt;
            let mut next = job.clone();
            let message = if job.status == JobStatus::Succeeded {
                let actual = match job.details.trained_tokens {
                    Some(t) => estimate_cost(t, 1, job.details.price_per_million),
                    None => job.details.estimated_cost,
                };
                let hold = self
                    .ledger
                    .find_hold_by_key(&job.details.account, &job.credit_key("reserve", attempt))
                    .await?
                    .ok_or_else(|| Error::Storage {
                        message: format!("job {} succeeded but has no credit hold", job.id),
                        retryable: false,
                        source: None,
                    })?;
                match self
                    .ledger
                    .commit(&hold.id, actual, &job.credit_key("commit", attempt))
                    .await
                {
                    Ok(_) => {}
                    Err(e @ Error::InsufficientCredits { .. }) => {
                        let text = format!(
                            "cannot charge the final cost yet: {e}; grant credits, then run `jobs sync`"
                        );
                        if next.details.last_error.as_deref() != Some(text.as_str()) {
                            next.details.last_error = Some(text.clone());
                            if let Ok(saved) = self.save(next).await {
                                self.note(&saved, "warning", text).await?;
                                return Ok(saved);
                            }
                        }
                        return Ok(job);
                    }
                    Err(e) => return Err(e),
                }
                next.details.settlement = Some(Settlement::Committed);
                next.details.actual_cost = Some(actual);
                format!(
                    "charged {actual} credits to {} (estimated {}, held {})",
                    job.details.account, job.details.estimated_cost, hold.amount
                )
            } else {
                let released = self.release_attempt_hold(&job, attempt).await?;
                next.details.settlement = Some(Settlement::Released);
                next.details.actual_cost = Some(0);
                match released {
                    Some(n) => format!("released the hold of {n} credits; nothing charged"),
                    None => "no credits were held; nothing charged".to_string(),
                }
            };
            next.details.last_error = None;
            match self.save(next).await {
                Ok(saved) => {
                    self.note(&saved, "info", message).await?;
                    return Ok(saved);
                }
                Err(Error::Conflict { .. }) => job = self.get(&job.id).await?,
                Err(e) => return Err(e),
            }
        }
    }

    /// Cancels a job. A draft, or a start that has not asked for the remote job yet, is
    /// cancelled here (its hold released). Otherwise the remote job is cancelled: when its
    /// creation is in doubt it is first resolved with the same idempotency key, so nothing
    /// keeps training unseen. The provider has the last word: a job that succeeded before
    /// the cancel arrived is kept as succeeded and charged. A finished job is returned as
    /// it is.
    pub async fn cancel(&self, id: &str) -> Result<FineTuneJob> {
        loop {
            let job = self.get(id).await?;
            if job.status.is_terminal() {
                return self.settle(job).await;
            }
            if !job.details.create_sent {
                let mut next = job.clone();
                next.status = JobStatus::Cancelled;
                next.details.finished_at = Some(now());
                match self.save(next).await {
                    Ok(saved) => {
                        self.note(&saved, "info", format!("cancelled while {}", job.status))
                            .await?;
                        return self.settle(saved).await;
                    }
                    Err(Error::Conflict { .. }) => continue,
                    Err(e) => return Err(e),
                }
            }
            let mut job = job;
            if !job.details.cancel_requested {
                let mut next = job.clone();
                next.details.cancel_requested = true;
                match self.save(next).await {
                    Ok(saved) => job = saved,
                    Err(Error::Conflict { .. }) => continue,
                    Err(e) => return Err(e),
                }
                self.note(&job, "info", "cancel requested".into()).await?;
            }
            if job.status == JobStatus::Starting {
                let request = self.create_request(&job)?;
                match self.provider.create_job(&request).await {
                    Ok(remote) => job = self.apply_and_save(job, &remote).await?,
                    // As in `start_failed`: only the tool's own refusal says no remote job
                    // exists; the cancel stays requested and the next `cancel` or `sync`
                    // resolves it.
                    Err(e) if e.is_tool_refusal() => {
                        // The provider refuses the job: there is nothing remote to cancel.
                        let mut next = job.clone();
                        next.status = JobStatus::Cancelled;
                        next.details.finished_at = Some(now());
                        match self.save(next).await {
                            Ok(saved) => return self.settle(saved).await,
                            Err(Error::Conflict { .. }) => continue,
                            Err(e) => return Err(e),
                        }
                    }
                    Err(e) => return Err(with_hint(e, CREATE_IN_DOUBT)),
                }
            }
            if job.status.is_remote_active() {
                let pid = remote_id(&job)?;
                let remote = self.provider.cancel_job(&pid).await?;
                job = self.apply_and_save(job, &remote).await?;
            }
            if job.needs_settlement() {
                job = self.settle(job).await?;
            }
            return Ok(job);
        }
    }

    /// Releases attempt `attempt`'s hold if it is pending; returns the credits released.
    async fn release_attempt_hold(&self, job: &FineTuneJob, attempt: u32) -> Result<Option<u64>> {
        if attempt == 0 {
            return Ok(None);
        }
        let key = job.credit_key("reserve", attempt);
        match self
            .ledger
            .find_hold_by_key(&job.details.account, &key)
            .await?
        {
            Some(h) if h.status == HoldStatus::Pending => {
                self.ledger
                    .release(&h.id, &job.credit_key("release", attempt))
                    .await?;
                Ok(Some(h.amount))
            }
            _ => Ok(None),
        }
    }
}

/// What a failed create, or a cancel's look-up of it, leaves behind when the provider did
/// not answer it with a refusal.
const CREATE_IN_DOUBT: &str = "the job stays `starting` with its credits on hold: `jobs sync` \
     resends the create with the same idempotency key, which returns the remote job if an \
     earlier attempt made it";

/// `e` with `hint` added to its message, for the errors whose messages people act on.
fn with_hint(e: Error, hint: &str) -> Error {
    match e {
        Error::Transport {
            message,
            status,
            retryable,
            source,
        } => Error::Transport {
            message: format!("{message}; {hint}"),
            status,
            retryable,
            source,
        },
        Error::Mcp {
            code,
            message,
            refused,
            answered,
        } => Error::Mcp {
            code,
            message: format!("{message}; {hint}"),
            refused,
            answered,
        },
        Error::InvalidInput { field, reason } => Error::InvalidInput {
            field,
            reason: format!("{reason}; {hint}"),
        },
        other => other,
    }
}

fn remote_id(job: &FineTuneJob) -> Result<String> {
    job.details
        .provider_job_id
        .clone()
        .ok_or_else(|| Error::Storage {
            message: format!(
                "job {} is {} but has no provider job id",
                job.id, job.status
            ),
            retryable: false,
            source: None,
        })
}

/// The job after the provider's report, and a warning when the report was not applied.
fn apply_remote(job: &FineTuneJob, remote: &ProviderJob) -> (FineTuneJob, Option<String>) {
    let mut next = job.clone();
    if let Some(known) = &job.details.provider_job_id {
        if known != &remote.id {
            return (
                next,
                Some(format!(
                    "the provider answered about job {} instead of {known}; ignored",
                    remote.id
                )),
            );
        }
    }
    next.details.provider_job_id = Some(remote.id.clone());
    let to = JobStatus::from(remote.status);
    if !can_transition(job.status, to) {
        return (
            next,
            Some(format!(
                "the provider reported {to} for a job that is {}; ignored",
                job.status
            )),
        );
    }
    next.status = to;
    next.details.provider_status = Some(remote.status);
    if remote.fine_tuned_model.is_some() {
        next.details.fine_tuned_model = remote.fine_tuned_model.clone();
    }
    if remote.trained_tokens.is_some() {
        next.details.trained_tokens = remote.trained_tokens;
    }
    if to.is_terminal() && next.details.finished_at.is_none() {
        next.details.finished_at = Some(
            remote
                .finished_at
                .and_then(|s| DateTime::from_timestamp(s, 0))
                .unwrap_or_else(now),
        );
    }
    if to == JobStatus::Failed && next.details.error.is_none() {
        next.details.error = Some(match &remote.error {
            Some(e) => JobError {
                code: e.code.clone(),
                message: e.message.clone(),
            },
            None => JobError {
                code: "failed".into(),
                message: "the provider reported the job failed without a reason".into(),
            },
        });
    }
    (next, None)
}
