//! Fine-tuning: the trigger decision, the job it starts, and the jobs themselves (create,
//! start, cancel, show, list, sync, wait).

use super::Tuneloop;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::jobs::{
    DraftRequest, FineTuneJob, FineTuneOutcome, FineTuneRequest, JobStatus, SyncReport,
};
use crate::mcp::NOT_CONFIGURED;
use crate::model::{FineTuneMethod, Hyperparameters};
use crate::policy::Decision;
use crate::store::{JobEventRecord, JobFilter};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Which model to fine-tune, on what, paid by whom. Every field left `None` comes from
/// `[fine_tune]` of the handle's settings.
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FineTuneTarget {
    /// The model whose feedback makes the dataset.
    pub model_id: String,
    /// The provider's model to fine-tune; default `[fine_tune] base_models` entry of the
    /// model, else `[fine_tune] base_model`. Without either it is an error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_model: Option<String>,
    /// The credit account that pays; default `[fine_tune] account`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Supervised or DPO; default `[fine_tune] method`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<FineTuneMethod>,
    /// Epochs to ask for (and to estimate the cost with); default `[fine_tune] n_epochs`,
    /// else the cookbook's estimate for the dataset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_epochs: Option<u32>,
}

impl FineTuneTarget {
    /// A target for `model_id` with everything else from the settings.
    pub fn new(model_id: impl Into<String>) -> Self {
        FineTuneTarget {
            model_id: model_id.into(),
            ..Default::default()
        }
    }
}

/// What [`Tuneloop::fine_tune`] decides on, and how.
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FineTuneOptions {
    /// The model and what its job would train.
    pub target: FineTuneTarget,
    /// Override failed quality checks (feedback, negative rate, examples, cooldown); never
    /// `no_active_job` or `credits`.
    pub force: bool,
    /// Decide only: create, reserve and send nothing (needs no provider).
    pub dry_run: bool,
    /// The time the decision is made at (its windows and cooldown end there); default now.
    #[serde(
        with = "crate::model::time::serde_ts::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "http", schema(value_type = Option<String>, format = DateTime))]
    pub as_of: Option<crate::model::Timestamp>,
}

/// A job with its history. Serialises as the job's fields plus `"events":[...]`.
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobWithEvents {
    /// The job.
    #[serde(flatten)]
    pub job: FineTuneJob,
    /// Its history (our steps and the provider's events), oldest first.
    pub events: Vec<JobEventRecord>,
}

/// Which jobs [`Tuneloop::list_jobs`] lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobQuery {
    /// Only this model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Only this status (one of [`JobStatus::ALL`], e.g. `running`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// At most this many (default 50; 0 = no limit).
    pub limit: usize,
}

impl Default for JobQuery {
    fn default() -> Self {
        JobQuery {
            model: None,
            status: None,
            limit: 50,
        }
    }
}

/// Jobs, newest first.
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobList {
    /// The jobs.
    pub jobs: Vec<FineTuneJob>,
}

/// What a sync of every job in flight did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobSync {
    /// One report per job synced (the ones in flight, and finished ones not settled yet).
    pub synced: Vec<SyncReport>,
}

impl JobSync {
    /// Whether some job could not be synced (its report has an `error`).
    pub fn has_errors(&self) -> bool {
        self.synced.iter().any(|r| r.error.is_some())
    }
}

/// What [`Tuneloop::sync_jobs`] and [`Tuneloop::wait_jobs`] return: the job when one was
/// named (serialised as the job), else a report per job (`{"synced":[...]}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SyncOutcome {
    /// The one job asked for, as it is after the sync.
    Job(Box<FineTuneJob>),
    /// Every job in flight.
    All(JobSync),
}

impl SyncOutcome {
    /// Whether there is nothing left to wait for: the job finished (or is a draft, which
    /// only a start moves), or every job synced without error finished.
    pub fn settled(&self) -> bool {
        match self {
            SyncOutcome::Job(j) => j.status.is_terminal() || j.status == JobStatus::Draft,
            SyncOutcome::All(s) => !s
                .synced
                .iter()
                .any(|r| r.error.is_none() && !r.after.is_terminal()),
        }
    }
}

/// How long [`Tuneloop::wait_jobs`] waits, and how often it syncs meanwhile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WaitOptions {
    /// Give up after this many seconds and answer with the state then (default 600).
    pub timeout_secs: u64,
    /// Sync every this many milliseconds (default 2,000; at least 1).
    pub poll_interval_ms: u64,
}

impl Default for WaitOptions {
    fn default() -> Self {
        WaitOptions {
            timeout_secs: 600,
            poll_interval_ms: 2_000,
        }
    }
}

/// The draft a target asks for: the target's values, then `[fine_tune]`, with the
/// `[dataset]` settings. A model without a base model is [`Error::InvalidInput`] on
/// `base_model`.
pub(crate) fn draft_request(config: &Config, target: &FineTuneTarget) -> Result<DraftRequest> {
    if target.model_id.trim().is_empty() {
        return Err(Error::invalid("model_id", "must not be empty"));
    }
    let section = &config.fine_tune;
    let base_model = match &target.base_model {
        Some(b) => b.clone(),
        None => section
            .base_model_for(&target.model_id)
            .map(str::to_string)
            .ok_or_else(|| {
                Error::invalid(
                    "base_model",
                    format!(
                        "no base model for {}: name one, or set [fine_tune] base_model (or \
                         base_models) in tuneloop.toml",
                        target.model_id
                    ),
                )
            })?,
    };
    let account = target
        .account
        .clone()
        .unwrap_or_else(|| section.account.clone());
    let mut request = DraftRequest::new(&target.model_id, base_model, account);
    request.method = target.method.unwrap_or(section.method);
    request.dataset = config.dataset.clone();
    request.suffix = section.suffix.clone();
    request.hyperparameters = target
        .n_epochs
        .or(section.n_epochs)
        .map(|n| Hyperparameters {
            n_epochs: Some(n),
            ..Default::default()
        });
    Ok(request)
}

/// The error of an operation that needs a fine-tuning provider when none is configured.
fn no_provider(what: &str) -> Error {
    Error::invalid("mcp.url", format!("{what}: {NOT_CONFIGURED}"))
}

impl Tuneloop {
    /// The draft request `target` makes with this handle's settings (see [`FineTuneTarget`]).
    pub fn draft_request(&self, target: &FineTuneTarget) -> Result<DraftRequest> {
        draft_request(self.config(), target)
    }

    /// Whether `target.model_id` should be fine-tuned now: every check of the trigger policy
    /// (`[policy]`) with what was observed and what was required, on the dataset its job
    /// would train on. Creates, reserves and sends nothing; needs no provider.
    pub async fn should_fine_tune(&self, options: &FineTuneOptions) -> Result<Decision> {
        let outcome = self
            .fine_tune(&FineTuneOptions {
                dry_run: true,
                ..options.clone()
            })
            .await?;
        Ok(outcome.decision)
    }

    /// Decides whether to fine-tune `options.target.model_id` now and, on a yes, creates the
    /// job and starts it (see [`crate::jobs::JobManager::fine_tune`]: at most one job per
    /// model, however many callers ask at once). A declined decision is an answer
    /// (`job: None`); a start that failed after the job was created is `start_error`, the
    /// job kept for a retry.
    ///
    /// Errors: without a provider and not a dry run, [`Error::InvalidInput`] on `mcp.url`
    /// (before anything is read); without a base model, on `base_model`. Forced, what no
    /// job can start without is an error too, dry run or not: no price for the base model
    /// (`prices.<base model>`) or not one usable example (`dataset`).
    pub async fn fine_tune(&self, options: &FineTuneOptions) -> Result<FineTuneOutcome> {
        if !options.dry_run && !self.has_provider() {
            return Err(no_provider(
                "fine-tuning needs a fine-tuning server (a dry run decides without one)",
            ));
        }
        let draft = self.draft_request(&options.target)?;
        let mut request = FineTuneRequest::new(draft);
        request.policy = self.config().policy.clone();
        request.force = options.force;
        request.dry_run = options.dry_run;
        request.now = options.as_of;
        self.jobs()?.fine_tune(&request).await
    }

    /// Creates a draft job for `target` without the policy: its dataset built and stored,
    /// its cost estimated; nothing reserved or sent (needs no provider). A base model
    /// without a price is [`Error::InvalidInput`] on `prices.<base model>`; an unknown model
    /// is [`Error::NotFound`] of kind `model`.
    pub async fn create_job(&self, target: &FineTuneTarget) -> Result<FineTuneJob> {
        let draft = self.draft_request(target)?;
        self.jobs()?.create_draft(&draft).await
    }

    /// Starts a draft (upload, credits reserved, remote job created), or resumes a start
    /// that was interrupted; a job already running is returned as it is. Starting needs a
    /// provider: without one it is [`Error::InvalidInput`] on `mcp.url`.
    pub async fn start_job(&self, id: &str) -> Result<FineTuneJob> {
        let jobs = self.jobs()?;
        let job = jobs.get(id).await?;
        if matches!(job.status, JobStatus::Draft | JobStatus::Starting) && !self.has_provider() {
            return Err(no_provider("starting a job needs a fine-tuning server"));
        }
        jobs.start(id).await
    }

    /// Cancels a job: locally while nothing was sent, else on the provider; its credit hold
    /// is released unless it already succeeded.
    pub async fn cancel_job(&self, id: &str) -> Result<FineTuneJob> {
        self.jobs()?.cancel(id).await
    }

    /// A job with its history; [`Error::NotFound`] for an unknown id.
    pub async fn job(&self, id: &str) -> Result<JobWithEvents> {
        let jobs = self.jobs()?;
        let job = jobs.get(id).await?;
        let events = jobs.events(id).await?;
        Ok(JobWithEvents { job, events })
    }

    /// Jobs, newest first. A status that is not one of [`JobStatus::ALL`] is
    /// [`Error::InvalidInput`] on `status`, naming the allowed ones.
    pub async fn list_jobs(&self, query: &JobQuery) -> Result<JobList> {
        if let Some(s) = &query.status {
            if JobStatus::parse(s).is_none() {
                let all: Vec<&str> = JobStatus::ALL.iter().map(|s| s.as_str()).collect();
                return Err(Error::invalid(
                    "status",
                    format!("`{s}` is not one of {}", all.join(", ")),
                ));
            }
        }
        let jobs = self
            .jobs()?
            .list(&JobFilter {
                model_id: query.model.clone(),
                status: query.status.clone(),
                limit: query.limit,
            })
            .await?;
        Ok(JobList { jobs })
    }

    /// Brings the job `id` up to date with the provider (resuming an interrupted start,
    /// storing its events, settling its credits once it finished); without an id, every job
    /// in flight, each with its own report (a job that could not be synced has an `error`
    /// and the others go on).
    pub async fn sync_jobs(&self, id: Option<&str>) -> Result<SyncOutcome> {
        let jobs = self.jobs()?;
        match id {
            Some(id) => Ok(SyncOutcome::Job(Box::new(jobs.sync(id).await?))),
            None => Ok(SyncOutcome::All(JobSync {
                synced: jobs.sync_all().await?,
            })),
        }
    }

    /// [`Tuneloop::sync_jobs`] again and again, every `poll_interval_ms`, until there is
    /// nothing left to wait for ([`SyncOutcome::settled`]), a sync of the one job fails, or
    /// `timeout_secs` pass; answers with the last sync. A poll interval of 0 is
    /// [`Error::InvalidInput`] on `poll_interval_ms`.
    pub async fn wait_jobs(&self, id: Option<&str>, options: &WaitOptions) -> Result<SyncOutcome> {
        if options.poll_interval_ms == 0 {
            return Err(Error::invalid("poll_interval_ms", "must be at least 1"));
        }
        let poll = Duration::from_millis(options.poll_interval_ms);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(options.timeout_secs);
        loop {
            let outcome = self.sync_jobs(id).await?;
            let now = tokio::time::Instant::now();
            if outcome.settled() || now >= deadline {
                return Ok(outcome);
            }
            tokio::time::sleep(poll.min(deadline - now)).await;
        }
    }
}
