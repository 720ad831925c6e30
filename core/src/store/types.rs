//! Values passed to and returned by [`super::FeedbackStore`].

use crate::error::Error;
use crate::model::time::serde_ts;
use crate::model::{Category, Comparison, Feedback, Polarity, ResponseRecord, Timestamp, Variant};
use serde::{Deserialize, Serialize};

/// Responses and feedback to write together.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordBatch {
    /// Responses, written first.
    pub responses: Vec<ResponseRecord>,
    /// Feedback, written after the responses.
    pub feedback: Vec<Feedback>,
}

impl RecordBatch {
    /// Whether the batch holds nothing.
    pub fn is_empty(&self) -> bool {
        self.responses.is_empty() && self.feedback.is_empty()
    }
}

/// What happened to one written item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemOutcome {
    /// Newly stored.
    Inserted,
    /// Already stored with identical content.
    Unchanged,
    /// Not stored.
    Rejected(Rejection),
}

/// Why an item was not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// The id exists with other content.
    Conflict {
        /// What differs.
        reason: String,
    },
    /// Feedback references a response that does not exist.
    UnknownResponse {
        /// The missing response id.
        response_id: String,
    },
    /// The item fails validation.
    Invalid {
        /// The field at fault.
        field: String,
        /// Why.
        reason: String,
    },
}

impl Rejection {
    /// The field the rejection is about, if one.
    pub fn field(&self) -> Option<&str> {
        match self {
            Rejection::Conflict { .. } => Some("id"),
            Rejection::UnknownResponse { .. } => Some("response_id"),
            Rejection::Invalid { field, .. } if !field.is_empty() => Some(field),
            Rejection::Invalid { .. } => None,
        }
    }

    /// A readable reason.
    pub fn reason(&self) -> String {
        match self {
            Rejection::Conflict { reason } => reason.clone(),
            Rejection::UnknownResponse { response_id } => {
                format!("no response with id `{response_id}` is stored or in this import")
            }
            Rejection::Invalid { reason, .. } => reason.clone(),
        }
    }
}

/// Outcomes of one [`super::WriteTx::write`] call, in input order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// One per response.
    pub responses: Vec<ItemOutcome>,
    /// One per feedback item.
    pub feedback: Vec<ItemOutcome>,
}

impl BatchOutcome {
    /// The first rejection as an error, responses before feedback.
    pub fn first_rejection(&self, batch: &RecordBatch) -> Option<Error> {
        let resp = self
            .responses
            .iter()
            .zip(&batch.responses)
            .find_map(|(o, r)| match o {
                ItemOutcome::Rejected(rej) => Some(rejection_error("response", &r.id, rej)),
                _ => None,
            });
        resp.or_else(|| {
            self.feedback
                .iter()
                .zip(&batch.feedback)
                .find_map(|(o, f)| match o {
                    ItemOutcome::Rejected(rej) => Some(rejection_error("feedback", &f.id, rej)),
                    _ => None,
                })
        })
    }
}

fn rejection_error(kind: &'static str, id: &str, rej: &Rejection) -> Error {
    match rej {
        Rejection::Conflict { reason } => Error::Conflict {
            kind,
            id: id.to_string(),
            reason: reason.clone(),
        },
        Rejection::UnknownResponse { response_id } => Error::NotFound {
            kind: "response",
            id: response_id.clone(),
        },
        Rejection::Invalid { field, reason } => Error::InvalidInput {
            field: format!("{kind}.{field}"),
            reason: reason.clone(),
        },
    }
}

/// What a committed write transaction stored.
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteSummary {
    /// Responses newly stored.
    pub responses_inserted: u64,
    /// Responses already stored identically.
    pub responses_unchanged: u64,
    /// Feedback newly stored.
    pub feedback_inserted: u64,
    /// Feedback already stored identically.
    pub feedback_unchanged: u64,
    /// Comparisons newly stored.
    #[serde(default)]
    pub comparisons_inserted: u64,
    /// Comparisons already stored identically.
    #[serde(default)]
    pub comparisons_unchanged: u64,
}

impl WriteSummary {
    /// Adds the counts of another summary (of a later transaction).
    pub fn merge(&mut self, other: &WriteSummary) {
        self.responses_inserted += other.responses_inserted;
        self.responses_unchanged += other.responses_unchanged;
        self.feedback_inserted += other.feedback_inserted;
        self.feedback_unchanged += other.feedback_unchanged;
        self.comparisons_inserted += other.comparisons_inserted;
        self.comparisons_unchanged += other.comparisons_unchanged;
    }

    /// Adds the counts of comparison outcomes ([`super::WriteTx::write_comparisons`]).
    pub fn add_comparisons(&mut self, outcomes: &[ItemOutcome]) {
        for o in outcomes {
            match o {
                ItemOutcome::Inserted => self.comparisons_inserted += 1,
                ItemOutcome::Unchanged => self.comparisons_unchanged += 1,
                ItemOutcome::Rejected(_) => {}
            }
        }
    }

    /// Adds the counts of `outcome`.
    pub fn add(&mut self, outcome: &BatchOutcome) {
        for o in &outcome.responses {
            match o {
                ItemOutcome::Inserted => self.responses_inserted += 1,
                ItemOutcome::Unchanged => self.responses_unchanged += 1,
                ItemOutcome::Rejected(_) => {}
            }
        }
        for o in &outcome.feedback {
            match o {
                ItemOutcome::Inserted => self.feedback_inserted += 1,
                ItemOutcome::Unchanged => self.feedback_unchanged += 1,
                ItemOutcome::Rejected(_) => {}
            }
        }
    }
}

/// Filter for listing responses. All conditions must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseFilter {
    /// Only this model.
    pub model: Option<String>,
    /// Created at or after.
    pub since: Option<Timestamp>,
    /// Created before.
    pub until: Option<Timestamp>,
}

/// Filter for listing feedback. All conditions must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedbackFilter {
    /// Only feedback on responses of this model.
    pub model: Option<String>,
    /// Only feedback on this response.
    pub response_id: Option<String>,
    /// Feedback created at or after.
    pub since: Option<Timestamp>,
    /// Feedback created before.
    pub until: Option<Timestamp>,
    /// Only this polarity.
    pub polarity: Option<Polarity>,
    /// Only feedback carrying this explicit category.
    pub category: Option<Category>,
    /// Only this variant.
    pub variant: Option<Variant>,
}

/// Filter for listing comparisons. All conditions must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComparisonFilter {
    /// Only comparisons with a response of this model (on either side).
    pub model: Option<String>,
    /// Comparisons made at or after.
    pub since: Option<Timestamp>,
    /// Comparisons made before.
    pub until: Option<Timestamp>,
}

impl ComparisonFilter {
    /// Whether a stored comparison passes the filter.
    pub fn matches(&self, c: &StoredComparison) -> bool {
        self.model
            .as_deref()
            .is_none_or(|m| m == c.model_a || m == c.model_b)
            && self.since.is_none_or(|s| c.comparison.created_at >= s)
            && self.until.is_none_or(|u| c.comparison.created_at < u)
    }
}

/// A stored comparison with the models of its two responses (copied from them when it
/// was written; responses never change).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredComparison {
    /// The comparison as written.
    pub comparison: Comparison,
    /// The model of `response_a`.
    pub model_a: String,
    /// The model of `response_b`.
    pub model_b: String,
}

/// Where a listing starts and how much it returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// At most this many items (at least 1).
    pub limit: usize,
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
}

impl PageRequest {
    /// The first page of `limit` items.
    pub fn first(limit: usize) -> Self {
        PageRequest { limit, after: None }
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest::first(1_000)
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Cursor for the next page; `None` on the last page.
    pub next: Option<String>,
}

/// Counts of stored items.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreStats {
    /// Responses.
    pub responses: u64,
    /// Feedback items.
    pub feedback: u64,
    /// Model ids, sorted.
    pub models: Vec<String>,
}

/// The state of a store's schema.
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthReport {
    /// The backend.
    pub backend: String,
    /// Applied schema version (`None` for a store without one, or a database not migrated).
    pub schema_version: Option<i64>,
    /// The newest schema version this build knows.
    pub supported_version: Option<i64>,
    /// Tables the schema needs that are absent.
    pub missing_tables: Vec<String>,
    /// Tables present that the schema does not define (not an error).
    pub extra_tables: Vec<String>,
    /// Feedback items whose response is missing (always 0 unless the database was edited
    /// by hand; `None` where the backend does not check).
    #[serde(default)]
    pub orphaned_feedback: Option<u64>,
    /// Daily aggregate rows that disagree with a recount from the raw rows (0 unless the
    /// database was edited by hand; `None` where the backend keeps none to check). Fixed by
    /// [`super::FeedbackStore::rebuild_aggregates`].
    #[serde(default)]
    pub aggregate_mismatches: Option<u64>,
}

/// What [`super::FeedbackStore::rebuild_aggregates`] did.
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AggregateRebuild {
    /// Aggregate rows that disagreed with the raw rows before the rebuild.
    pub mismatched: u64,
    /// Aggregate rows written.
    pub rows: u64,
}

impl HealthReport {
    /// Whether the store is usable as is.
    pub fn ok(&self) -> bool {
        self.missing_tables.is_empty()
            && self.orphaned_feedback.unwrap_or(0) == 0
            && self.aggregate_mismatches.unwrap_or(0) == 0
            && match (self.schema_version, self.supported_version) {
                (Some(found), Some(supported)) => found == supported,
                (None, None) => true,
                _ => false,
            }
    }
}

/// A persisted analysis run (filled in by the analysis issue).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Unique id.
    pub id: String,
    /// What kind of run (`analysis`, ...).
    pub kind: String,
    /// When it ran.
    #[serde(with = "serde_ts")]
    pub created_at: Timestamp,
    /// Its parameters.
    pub params: serde_json::Value,
    /// Its result.
    pub result: serde_json::Value,
}

/// A persisted fine-tuning job (filled in by the fine-tuning issue).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    /// Our id.
    pub id: String,
    /// The model being improved.
    pub model_id: String,
    /// State-machine status.
    pub status: String,
    /// Optimistic-concurrency version, maintained by the store.
    pub version: u64,
    /// When created.
    #[serde(with = "serde_ts")]
    pub created_at: Timestamp,
    /// When last changed.
    #[serde(with = "serde_ts")]
    pub updated_at: Timestamp,
    /// Everything else about the job.
    pub data: serde_json::Value,
}

/// Filter for listing jobs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFilter {
    /// Only this model.
    pub model_id: Option<String>,
    /// Only this status.
    pub status: Option<String>,
    /// At most this many (0 = no limit).
    pub limit: usize,
}

/// A file kept with a job: the training or validation data it uploads. Stored once, so
/// the bytes a job uploads (and is charged for) are the bytes its cost was estimated on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobFile {
    /// The file's name (`train.jsonl`, `validation.jsonl`).
    pub name: String,
    /// Hex SHA-256 of `content`.
    pub sha256: String,
    /// Size of `content` in bytes.
    pub bytes: u64,
    /// The JSONL text.
    pub content: String,
}

impl JobFile {
    /// A file named `name` holding `content`, with its digest and size.
    pub fn new(name: impl Into<String>, content: impl Into<String>) -> Self {
        use sha2::{Digest, Sha256};
        let content = content.into();
        JobFile {
            name: name.into(),
            sha256: hex::encode(Sha256::digest(content.as_bytes())),
            bytes: content.len() as u64,
            content,
        }
    }
}

/// One line of a job's history: something tuneloop did, or an event the provider reported.
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobEventRecord {
    /// Position in the job's history, assigned by the store (0 on input).
    pub seq: u64,
    /// Unique per job: the provider's event id, or one tuneloop made (`tuneloop-...`).
    pub id: String,
    /// `tuneloop` or `provider`.
    pub source: String,
    /// `info`, `warning` or `error`.
    pub level: String,
    /// What happened.
    pub message: String,
    /// When.
    #[serde(with = "serde_ts")]
    #[cfg_attr(feature = "http", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
}

/// A named, expiring lock held in the store, so that one instance among many does a piece
/// of work (the weekly job, one model's fine-tune decision).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// What the lease guards (`schedule`, `fine-tune/support-bot-v2`).
    pub name: String,
    /// Who holds it (an instance id).
    pub holder: String,
    /// When the holder took it (kept across renewals).
    #[serde(with = "serde_ts")]
    pub acquired_at: Timestamp,
    /// When it lapses unless renewed.
    #[serde(with = "serde_ts")]
    pub expires_at: Timestamp,
}
