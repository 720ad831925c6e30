//! Fine-tuning jobs as a provider (an MCP fine-tuning server) reports them.
//!
//! These mirror the tool contract in `docs/mcp.md`: field names and status strings are the
//! wire names, so the types serialise to exactly what the server sends.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Where a provider's job is in its life.
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderJobStatus {
    /// The training (and validation) files are being checked.
    ValidatingFiles,
    /// Waiting for a trainer.
    Queued,
    /// Training.
    Running,
    /// Finished; `fine_tuned_model` names the result.
    Succeeded,
    /// Finished with an error (see `error`).
    Failed,
    /// Cancelled before it finished.
    Cancelled,
}

impl ProviderJobStatus {
    /// Every status, in life order.
    pub const ALL: [ProviderJobStatus; 6] = [
        ProviderJobStatus::ValidatingFiles,
        ProviderJobStatus::Queued,
        ProviderJobStatus::Running,
        ProviderJobStatus::Succeeded,
        ProviderJobStatus::Failed,
        ProviderJobStatus::Cancelled,
    ];

    /// Whether the job will not change any more (succeeded, failed or cancelled).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            ProviderJobStatus::Succeeded | ProviderJobStatus::Failed | ProviderJobStatus::Cancelled
        )
    }

    /// The wire name (`validating_files`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderJobStatus::ValidatingFiles => "validating_files",
            ProviderJobStatus::Queued => "queued",
            ProviderJobStatus::Running => "running",
            ProviderJobStatus::Succeeded => "succeeded",
            ProviderJobStatus::Failed => "failed",
            ProviderJobStatus::Cancelled => "cancelled",
        }
    }

    /// Parses a wire name; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl fmt::Display for ProviderJobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a provider's job failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderJobError {
    /// A short machine-readable code (`invalid_training_file`, ...).
    pub code: String,
    /// A message for people.
    pub message: String,
}

/// A fine-tuning job as the provider reports it (the contract's `Job`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderJob {
    /// The provider's job id.
    pub id: String,
    /// Where the job is.
    pub status: ProviderJobStatus,
    /// The model being fine-tuned.
    pub base_model: String,
    /// The resulting model, once succeeded.
    pub fine_tuned_model: Option<String>,
    /// The uploaded training file's id.
    pub training_file: String,
    /// The uploaded validation file's id, if any.
    pub validation_file: Option<String>,
    /// Tokens trained on (billing tokens × epochs), once known.
    pub trained_tokens: Option<u64>,
    /// When the job was created (Unix seconds).
    pub created_at: i64,
    /// When the job reached a terminal status (Unix seconds).
    pub finished_at: Option<i64>,
    /// Why the job failed.
    pub error: Option<ProviderJobError>,
}

/// The fine-tuning method.
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FineTuneMethod {
    /// Supervised fine-tuning on chat examples.
    #[default]
    Supervised,
    /// Direct preference optimisation on preferred / non-preferred pairs.
    Dpo,
}

/// Training knobs; `None` leaves the provider's default.
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Hyperparameters {
    /// Passes over the training file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_epochs: Option<u32>,
    /// Scale of the provider's learning rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub learning_rate_multiplier: Option<f64>,
    /// Examples per batch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<u32>,
}

/// What to fine-tune on what (the arguments of `fine_tuning_create_job`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateJobRequest {
    /// The model to fine-tune.
    pub base_model: String,
    /// The uploaded training file's id.
    pub training_file: String,
    /// The uploaded validation file's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation_file: Option<String>,
    /// Supervised or DPO.
    pub method: FineTuneMethod,
    /// Training knobs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hyperparameters: Option<Hyperparameters>,
    /// Added to the fine-tuned model's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
    /// The same key returns the job first created with it, so a retried create never starts
    /// (or bills) a second job. Reuse it across attempts.
    pub idempotency_key: String,
    /// Free-form labels kept with the job.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
}

/// An uploaded file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadedFile {
    /// The provider's file id, passed as `training_file` / `validation_file`.
    pub file_id: String,
    /// Size in bytes (UTF-8).
    pub bytes: u64,
    /// Non-empty lines (examples).
    pub lines: u64,
}

/// One line of a job's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobEvent {
    /// The event id (the `after` cursor of the next page).
    pub id: String,
    /// When (Unix seconds).
    pub created_at: i64,
    /// `info`, `warning` or `error`.
    pub level: String,
    /// What happened.
    pub message: String,
}

/// One page of jobs, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobPage {
    /// The jobs of this page.
    pub jobs: Vec<ProviderJob>,
    /// Whether more jobs follow the last one (pass its id as `after`).
    pub has_more: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_terminal_ones_are_known() {
        for s in ProviderJobStatus::ALL {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(ProviderJobStatus::parse(s.as_str()), Some(s));
        }
        let terminal: Vec<_> = ProviderJobStatus::ALL
            .into_iter()
            .filter(|s| s.is_terminal())
            .collect();
        assert_eq!(
            terminal,
            [
                ProviderJobStatus::Succeeded,
                ProviderJobStatus::Failed,
                ProviderJobStatus::Cancelled
            ]
        );
        assert_eq!(ProviderJobStatus::parse("done"), None);
    }

    #[test]
    fn create_request_leaves_out_absent_options() {
        let r = CreateJobRequest {
            base_model: "m".into(),
            training_file: "file-1".into(),
            validation_file: None,
            method: FineTuneMethod::Dpo,
            hyperparameters: Some(Hyperparameters {
                n_epochs: Some(2),
                ..Default::default()
            }),
            suffix: None,
            idempotency_key: "k".into(),
            metadata: None,
        };
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"base_model":"m","training_file":"file-1","method":"dpo",
                "hyperparameters":{"n_epochs":2},"idempotency_key":"k"})
        );
    }
}
