//! `manifest.json` and `lineage.jsonl`: what a dataset holds and where each line came from.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::config::{DatasetConfig, DatasetFormat, TokenEncoding};
use super::redact::RedactionCounts;
use super::tokens::TokenStats;

/// Examples written and considered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Responses of the model in range that were read.
    pub responses: u64,
    /// Examples built before filtering and deduplication.
    pub candidates: u64,
    /// Lines in `train.jsonl`.
    pub train: u64,
    /// Lines in `validation.jsonl`.
    pub validation: u64,
}

/// Token statistics per output file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FileTokens {
    /// Of `train.jsonl`.
    pub train: TokenStats,
    /// Of `validation.jsonl`.
    pub validation: TokenStats,
}

/// Size and digest of one output file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    /// Lower-case hex SHA-256 of the bytes.
    pub sha256: String,
    /// Length in bytes.
    pub bytes: u64,
    /// Lines (newline-terminated).
    pub lines: u64,
}

impl FileInfo {
    /// Digest and size of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        FileInfo {
            sha256: hex::encode(Sha256::digest(bytes)),
            bytes: bytes.len() as u64,
            lines: bytes.iter().filter(|&&b| b == b'\n').count() as u64,
        }
    }
}

/// The contents of `manifest.json`. Derived from the data and the config only (no clock), so
/// the same input and seed give the same bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Output format.
    pub format: DatasetFormat,
    /// The model whose feedback was used.
    pub model: String,
    /// Token encoding of the counts.
    pub encoding: TokenEncoding,
    /// Split seed.
    pub seed: u64,
    /// Counts.
    pub counts: Counts,
    /// Examples written per source (`correction`, `positive`, ...).
    pub sources: BTreeMap<String, u64>,
    /// Responses or examples left out, by reason (`conflicting_feedback`, `duplicate_near`, ...).
    pub dropped: BTreeMap<String, u64>,
    /// Redactions in the written examples' source texts, by kind.
    pub redactions: RedactionCounts,
    /// Token statistics per file (the cookbook's per-example count).
    pub tokens: FileTokens,
    /// Epochs the cookbook's defaults would run on the training file.
    pub estimated_epochs: u64,
    /// Tokens billed per epoch on the training file: Σ min(max_tokens, tokens).
    pub billing_tokens: u64,
    /// `billing_tokens × estimated_epochs`.
    pub estimated_trained_tokens: u64,
    /// `train.jsonl`, `validation.jsonl`, `lineage.jsonl` → size and digest.
    pub files: BTreeMap<String, FileInfo>,
    /// The settings used.
    pub config: DatasetConfig,
}

/// One line of `lineage.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineageEntry {
    /// `train.jsonl` or `validation.jsonl`.
    pub file: String,
    /// 1-based line number in that file.
    pub line: u64,
    /// Source of the example.
    pub source: String,
    /// Responses the example comes from.
    pub response_ids: Vec<String>,
    /// Feedback on those responses.
    pub feedback_ids: Vec<String>,
}
