//! [`FineTuneJob`]: one of our fine-tuning jobs, as persisted in the store.

use super::status::JobStatus;
use crate::dataset::DatasetFormat;
use crate::model::time::serde_ts;
use crate::model::{FineTuneMethod, Hyperparameters, ProviderJobStatus, Timestamp};
use crate::policy::Decision;
use crate::store::JobRecord;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// How a job's credit hold ended.
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Settlement {
    /// The actual cost was posted (the job succeeded).
    Committed,
    /// The hold was voided (failed, cancelled), or there was none.
    Released,
}

/// Why a job failed.
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobError {
    /// A short machine-readable code (the provider's, or `start_refused`).
    pub code: String,
    /// A message for people.
    pub message: String,
}

/// The dataset a job trains on: what its cost was estimated from.
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobDataset {
    /// File format (`openai-chat` for supervised, `openai-dpo` for DPO).
    pub format: DatasetFormat,
    /// Training examples.
    pub train_examples: u64,
    /// Validation examples (0: no validation file).
    pub validation_examples: u64,
    /// Tokens billed per epoch (the cookbook's estimate).
    pub billing_tokens: u64,
    /// Epochs the cost assumes (the request's `n_epochs`, else the cookbook's estimate).
    pub epochs: u32,
    /// SHA-256 of `train.jsonl` as stored with the job.
    pub train_sha256: String,
    /// SHA-256 of `validation.jsonl` (`None` without validation examples).
    pub validation_sha256: Option<String>,
}

/// One of our fine-tuning jobs. Serialises flat: `{"id","model_id","status",
/// "provider_job_id","estimated_cost","actual_cost","created_at",...}`.
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FineTuneJob {
    /// Our id (`ftj_...`).
    pub id: String,
    /// The model being improved (the one the feedback is about).
    pub model_id: String,
    /// Where the job is.
    pub status: JobStatus,
    /// Optimistic-concurrency version in the store.
    pub version: u64,
    /// When it was created.
    #[serde(with = "serde_ts")]
    #[cfg_attr(feature = "http", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    /// When it last changed.
    #[serde(with = "serde_ts")]
    #[cfg_attr(feature = "http", schema(value_type = String, format = DateTime))]
    pub updated_at: Timestamp,
    /// Everything else.
    #[serde(flatten)]
    pub details: JobDetails,
}

/// The fields of a [`FineTuneJob`] kept in the record's `data`.
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobDetails {
    /// The provider's model to fine-tune.
    pub base_model: String,
    /// Supervised or DPO.
    pub method: FineTuneMethod,
    /// The credit account that pays.
    pub account: String,
    /// Training knobs sent with the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hyperparameters: Option<Hyperparameters>,
    /// Added to the fine-tuned model's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
    /// The dataset it trains on.
    pub dataset: JobDataset,
    /// Credits per 1M trained tokens for `base_model` when the job was created.
    pub price_per_million: u64,
    /// Estimated cost in credits (billing tokens × epochs × price, rounded up).
    pub estimated_cost: u64,
    /// Credits posted when it succeeded (0 when released; `None` until settled).
    pub actual_cost: Option<u64>,
    /// The trigger decision that created it (`None` for `jobs create`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    /// Start attempts so far (each has its own credit hold key).
    pub attempt: u32,
    /// Uploaded training file (the provider's id).
    pub training_file_id: Option<String>,
    /// Uploaded validation file.
    pub validation_file_id: Option<String>,
    /// The credit hold of the current attempt.
    pub hold_id: Option<String>,
    /// Whether the remote job was asked for (from then on a start is never undone, only
    /// resumed with the same idempotency key).
    pub create_sent: bool,
    /// The provider's name (`mcp http://...`, `simulated`).
    pub provider: Option<String>,
    /// The provider's job id.
    pub provider_job_id: Option<String>,
    /// The provider's status as last seen.
    pub provider_status: Option<ProviderJobStatus>,
    /// The resulting model, once succeeded.
    pub fine_tuned_model: Option<String>,
    /// Tokens the provider trained on, once known.
    pub trained_tokens: Option<u64>,
    /// How the credit hold ended (`None`: not yet).
    pub settlement: Option<Settlement>,
    /// A cancel was asked for while the remote job was being created or was running.
    pub cancel_requested: bool,
    /// Why it failed.
    pub error: Option<JobError>,
    /// The latest error that did not change the status (a timeout, no credits for the
    /// final cost, ...): the next `start`/`sync` retries.
    #[cfg_attr(feature = "http", schema(value_type = Option<String>, format = DateTime))]
    pub last_error: Option<String>,
    /// When it finished.
    #[serde(with = "serde_ts::option", default)]
    #[cfg_attr(feature = "http", schema(value_type = Option<String>, format = DateTime))]
    pub finished_at: Option<Timestamp>,
    /// The id of the newest provider event stored (the `after` cursor).
    pub last_event_id: Option<String>,
}

impl FineTuneJob {
    /// The record the store keeps.
    pub fn to_record(&self) -> Result<JobRecord> {
        let data = serde_json::to_value(&self.details)
            .map_err(|e| Error::invalid("job", format!("cannot be serialised: {e}")))?;
        Ok(JobRecord {
            id: self.id.clone(),
            model_id: self.model_id.clone(),
            status: self.status.as_str().to_string(),
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
            data,
        })
    }

    /// Reads a stored record; a record that is not one of ours (an unknown status, missing
    /// fields) is a storage error naming the job.
    pub fn from_record(record: &JobRecord) -> Result<FineTuneJob> {
        let status = JobStatus::parse(&record.status).ok_or_else(|| Error::Storage {
            message: format!(
                "job {} has an unknown status `{}`",
                record.id, record.status
            ),
            retryable: false,
            source: None,
        })?;
        let details: JobDetails =
            serde_path_to_error::deserialize(record.data.clone()).map_err(|e| Error::Storage {
                message: format!(
                    "job {} has unreadable data at `{}`: {}",
                    record.id,
                    e.path(),
                    e.inner()
                ),
                retryable: false,
                source: None,
            })?;
        Ok(FineTuneJob {
            id: record.id.clone(),
            model_id: record.model_id.clone(),
            status,
            version: record.version,
            created_at: record.created_at,
            updated_at: record.updated_at,
            details,
        })
    }

    /// The idempotency key of the remote create: the same for every attempt, so no retry,
    /// resume or race ever makes a second remote job.
    pub fn create_key(&self) -> String {
        format!("tuneloop-{}", self.id)
    }

    /// The ledger key of attempt `attempt`'s operation `op` (`reserve`, `commit`, `release`).
    pub fn credit_key(&self, op: &str, attempt: u32) -> String {
        format!("job/{}/{op}/{attempt}", self.id)
    }

    /// Whether the hold still has to be committed or released.
    pub fn needs_settlement(&self) -> bool {
        self.status.is_terminal() && self.details.settlement.is_none()
    }
}
