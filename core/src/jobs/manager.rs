//! [`JobManager`]: creates, starts, syncs and cancels fine-tuning jobs, persisting every step.

use super::job::{FineTuneJob, JobDataset, JobDetails};
use super::status::JobStatus;
use crate::credits::CreditLedger;
use crate::dataset::{Dataset, DatasetConfig, DatasetFormat, TRAIN_FILE, VALIDATION_FILE};
use crate::mcp::FineTuningProvider;
use crate::model::time::now;
use crate::model::{FineTuneMethod, Hyperparameters};
use crate::policy::{estimate_cost, Decision, Prices};
use crate::secrets::scrub;
use crate::sources::build_from_store;
use crate::store::{FeedbackStore, JobEventRecord, JobFile, JobFilter};
use crate::{Error, Result};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// What a new job trains, on what, paid by whom.
#[derive(Debug, Clone)]
pub struct DraftRequest {
    /// The model whose feedback makes the dataset.
    pub model_id: String,
    /// The provider's model to fine-tune (must have a price in [`Prices`]).
    pub base_model: String,
    /// The credit account that pays.
    pub account: String,
    /// Supervised (an `openai-chat` dataset) or DPO (`openai-dpo`).
    pub method: FineTuneMethod,
    /// How to build the dataset; its `format` is set from `method`.
    pub dataset: DatasetConfig,
    /// Training knobs; `n_epochs` also sets the epochs the cost assumes.
    pub hyperparameters: Option<Hyperparameters>,
    /// Added to the fine-tuned model's name.
    pub suffix: Option<String>,
}

impl DraftRequest {
    /// A request with the default dataset settings and no knobs.
    pub fn new(
        model_id: impl Into<String>,
        base_model: impl Into<String>,
        account: impl Into<String>,
    ) -> Self {
        DraftRequest {
            model_id: model_id.into(),
            base_model: base_model.into(),
            account: account.into(),
            method: FineTuneMethod::Supervised,
            dataset: DatasetConfig::default(),
            hyperparameters: None,
            suffix: None,
        }
    }

    /// The dataset settings with the format the method trains on.
    pub fn dataset_config(&self) -> DatasetConfig {
        let mut c = self.dataset.clone();
        c.format = format_for(self.method);
        c
    }

    fn validate(&self) -> Result<()> {
        for (field, value) in [
            ("model_id", &self.model_id),
            ("base_model", &self.base_model),
            ("account", &self.account),
        ] {
            if value.trim().is_empty() {
                return Err(Error::invalid(field, "must not be empty"));
            }
        }
        if let Some(h) = &self.hyperparameters {
            if h.n_epochs == Some(0) {
                return Err(Error::invalid(
                    "hyperparameters.n_epochs",
                    "must be at least 1",
                ));
            }
            if h.batch_size == Some(0) {
                return Err(Error::invalid(
                    "hyperparameters.batch_size",
                    "must be at least 1",
                ));
            }
            if let Some(lr) = h.learning_rate_multiplier {
                if !(lr.is_finite() && lr > 0.0) {
                    return Err(Error::invalid(
                        "hyperparameters.learning_rate_multiplier",
                        format!("{lr} is not a positive number"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The dataset format a method trains on.
pub fn format_for(method: FineTuneMethod) -> DatasetFormat {
    match method {
        FineTuneMethod::Supervised => DatasetFormat::OpenaiChat,
        FineTuneMethod::Dpo => DatasetFormat::OpenaiDpo,
    }
}

/// Runs fine-tuning jobs: a store (jobs, their files and events), a credit ledger and a
/// provider, wired together. Cheap to clone; share one per process or make one per call.
///
/// # Behaviour
/// - Every step is persisted with optimistic concurrency before the next one, so a crash
///   at any point is resumed by running the same call again (or `sync`), in this or another
///   process, and concurrent callers on one job never both act: the loser re-reads and
///   continues from what the winner did.
/// - The remote job is created with an idempotency key fixed per job
///   ([`FineTuneJob::create_key`]): retries, resumes and races never make a second one.
/// - Credits: a start reserves the estimated cost (a hold keyed per job and attempt);
///   success commits the actual cost (trained tokens × price), failure or cancel releases
///   the hold. Each of these happens once (ledger idempotency keys); none is skipped.
#[derive(Debug, Clone)]
pub struct JobManager {
    pub(super) store: Arc<dyn FeedbackStore>,
    pub(super) ledger: Arc<dyn CreditLedger>,
    pub(super) provider: Arc<dyn FineTuningProvider>,
    pub(super) prices: Prices,
}

impl JobManager {
    /// A manager over these parts. `prices` maps base models to credits per 1M tokens.
    pub fn new(
        store: Arc<dyn FeedbackStore>,
        ledger: Arc<dyn CreditLedger>,
        provider: Arc<dyn FineTuningProvider>,
        prices: Prices,
    ) -> Self {
        JobManager {
            store,
            ledger,
            provider,
            prices,
        }
    }

    /// The store underneath.
    pub fn store(&self) -> &Arc<dyn FeedbackStore> {
        &self.store
    }

    /// The ledger underneath.
    pub fn ledger(&self) -> &Arc<dyn CreditLedger> {
        &self.ledger
    }

    /// The provider underneath.
    pub fn provider(&self) -> &Arc<dyn FineTuningProvider> {
        &self.provider
    }

    /// Builds the dataset from the store and creates a draft job with it (see
    /// [`JobManager::create_draft_with`]). Too few examples is [`Error::InvalidInput`] on
    /// `min_examples`; an unknown model is [`Error::NotFound`].
    pub async fn create_draft(&self, request: &DraftRequest) -> Result<FineTuneJob> {
        request.validate()?;
        self.price(&request.base_model)?;
        let dataset = build_from_store(
            self.store.as_ref(),
            &request.model_id,
            &request.dataset_config(),
        )
        .await?;
        self.create_draft_with(request, &dataset, None).await
    }

    /// Creates a draft job training on `dataset` (which must be in the method's format):
    /// stores its files, estimates its cost, and records `decision` if it came from the
    /// trigger policy. Nothing is uploaded or reserved yet. A base model without a price
    /// is [`Error::InvalidInput`] on `prices.<base model>`.
    pub async fn create_draft_with(
        &self,
        request: &DraftRequest,
        dataset: &Dataset,
        decision: Option<Decision>,
    ) -> Result<FineTuneJob> {
        request.validate()?;
        let price = self.price(&request.base_model)?;
        let m = dataset.manifest();
        let expected = format_for(request.method);
        if m.format != expected {
            return Err(Error::invalid(
                "dataset.format",
                format!(
                    "a {} job trains on {}, not {}",
                    method_name(request.method),
                    expected.as_str(),
                    m.format.as_str()
                ),
            ));
        }
        if m.model != request.model_id {
            return Err(Error::invalid(
                "dataset.model",
                format!("the dataset is of {}, not {}", m.model, request.model_id),
            ));
        }
        if m.counts.train == 0 {
            return Err(Error::invalid("dataset", "has no training examples"));
        }
        let epochs = match request.hyperparameters.and_then(|h| h.n_epochs) {
            Some(n) => n,
            None => u32::try_from(m.estimated_epochs).unwrap_or(u32::MAX),
        };
        let train = text_of(TRAIN_FILE, dataset.train_jsonl())?;
        let validation = text_of(VALIDATION_FILE, dataset.validation_jsonl())?;
        let train = JobFile::new(TRAIN_FILE, train);
        let validation =
            (m.counts.validation > 0).then(|| JobFile::new(VALIDATION_FILE, validation));

        let at = now();
        let id = new_job_id(&request.model_id, at.timestamp_micros());
        let job = FineTuneJob {
            id: id.clone(),
            model_id: request.model_id.clone(),
            status: JobStatus::Draft,
            version: 0,
            created_at: at,
            updated_at: at,
            details: JobDetails {
                base_model: request.base_model.clone(),
                method: request.method,
                account: request.account.clone(),
                hyperparameters: request.hyperparameters,
                suffix: request.suffix.clone(),
                dataset: JobDataset {
                    format: m.format,
                    train_examples: m.counts.train,
                    validation_examples: m.counts.validation,
                    billing_tokens: m.billing_tokens,
                    epochs,
                    train_sha256: train.sha256.clone(),
                    validation_sha256: validation.as_ref().map(|v| v.sha256.clone()),
                },
                price_per_million: price,
                estimated_cost: estimate_cost(m.billing_tokens, epochs, price),
                actual_cost: None,
                decision,
                attempt: 0,
                training_file_id: None,
                validation_file_id: None,
                hold_id: None,
                create_sent: false,
                provider: None,
                provider_job_id: None,
                provider_status: None,
                fine_tuned_model: None,
                trained_tokens: None,
                settlement: None,
                cancel_requested: false,
                error: None,
                last_error: None,
                finished_at: None,
                last_event_id: None,
            },
        };
        // Files first: a crash before the job record leaves only unreferenced files.
        self.store.put_job_file(&id, &train).await?;
        if let Some(v) = &validation {
            self.store.put_job_file(&id, v).await?;
        }
        let version = self.store.put_job(&job.to_record()?, None).await?;
        let job = FineTuneJob { version, ..job };
        self.note(
            &job,
            "info",
            format!(
                "draft created: {} training + {} validation examples, {} billing tokens × {} epochs, estimated {} credits on {}",
                m.counts.train,
                m.counts.validation,
                m.billing_tokens,
                epochs,
                job.details.estimated_cost,
                job.details.account
            ),
        )
        .await?;
        Ok(job)
    }

    /// A job by id; [`Error::NotFound`] when there is none.
    pub async fn get(&self, id: &str) -> Result<FineTuneJob> {
        match self.store.get_job(id).await? {
            Some(r) => FineTuneJob::from_record(&r),
            None => Err(Error::NotFound {
                kind: "job",
                id: id.to_string(),
            }),
        }
    }

    /// Jobs, newest first.
    pub async fn list(&self, filter: &JobFilter) -> Result<Vec<FineTuneJob>> {
        self.store
            .list_jobs(filter)
            .await?
            .iter()
            .map(FineTuneJob::from_record)
            .collect()
    }

    /// A job's history (ours and the provider's), oldest first.
    pub async fn events(&self, id: &str) -> Result<Vec<JobEventRecord>> {
        self.get(id).await?;
        self.store.list_job_events(id).await
    }

    pub(super) fn price(&self, base_model: &str) -> Result<u64> {
        self.prices.get(base_model).ok_or_else(|| {
            Error::invalid(
                format!("prices.{base_model}"),
                format!(
                    "no price for base model `{base_model}`; add it under [prices] in tuneloop.toml \
                     (credits per 1M training tokens)"
                ),
            )
        })
    }

    /// Writes `job` if nobody changed it since it was read; returns it with its new version.
    /// A concurrent change is [`Error::Conflict`]: the caller re-reads and decides again.
    pub(super) async fn save(&self, mut job: FineTuneJob) -> Result<FineTuneJob> {
        job.updated_at = now();
        scrub_details(&mut job.details);
        let version = self
            .store
            .put_job(&job.to_record()?, Some(job.version))
            .await?;
        job.version = version;
        Ok(job)
    }

    /// Records one of our events in the job's history.
    pub(super) async fn note(&self, job: &FineTuneJob, level: &str, message: String) -> Result<()> {
        let event = JobEventRecord {
            seq: 0,
            id: new_event_id(),
            source: "tuneloop".into(),
            level: level.into(),
            message: scrub_owned(message),
            created_at: now(),
        };
        self.store.append_job_events(&job.id, &[event]).await?;
        Ok(())
    }
}

/// `text` without the credentials it quotes (see [`crate::secrets::scrub`]).
fn scrub_owned(text: String) -> String {
    match scrub(&text) {
        Cow::Owned(clean) => clean,
        Cow::Borrowed(_) => text,
    }
}

/// Hides credentials in every text of a job that may quote a URL or an error: the provider's
/// name (`mcp http://user:pw@host/mcp` from a caller), the errors. Done on every write, so
/// nothing a caller or a library underneath put there reaches the store.
fn scrub_details(d: &mut JobDetails) {
    let texts = [
        d.provider.as_mut(),
        d.last_error.as_mut(),
        d.error.as_mut().map(|e| &mut e.message),
    ];
    for text in texts.into_iter().flatten() {
        *text = scrub_owned(std::mem::take(text));
    }
}

pub(super) fn method_name(m: FineTuneMethod) -> &'static str {
    match m {
        FineTuneMethod::Supervised => "supervised",
        FineTuneMethod::Dpo => "dpo",
    }
}

fn text_of(name: &str, bytes: &[u8]) -> Result<String> {
    String::from_utf8(bytes.to_vec())
        .map_err(|_| Error::invalid(format!("dataset.{name}"), "is not UTF-8"))
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// `ftj_` + 20 hex digits from the model, the time, the process and a counter: unique
/// without coordination, and sortable by nothing (ordering comes from `created_at`).
fn new_job_id(model_id: &str, micros: i64) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let digest = Sha256::digest(format!("{model_id}\0{micros}\0{}\0{n}", std::process::id()));
    format!("ftj_{}", &hex::encode(digest)[..20])
}

fn new_event_id() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "tuneloop-{}-{}-{n}",
        now().timestamp_micros(),
        std::process::id()
    )
}
