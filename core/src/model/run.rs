//! Saved analysis runs as the facade lists and compares them.

use super::time::{serde_ts, Timestamp};
use serde::{Deserialize, Serialize};

/// One saved run in a list: what it was, with which parameters, and how much it found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// The run's id (`r-20261123-101500-123`, `weekly-20261130T0300Z`, ...).
    pub id: String,
    /// What kind of run (`analysis`, `weekly`, ...).
    pub kind: String,
    /// When it ran.
    #[serde(with = "serde_ts")]
    pub created_at: Timestamp,
    /// Its parameters, as saved (`{model, since, until}` for an analysis).
    pub params: serde_json::Value,
    /// How many error patterns it found; absent when its result holds no pattern list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patterns: Option<u64>,
    /// How many suggestions it made; absent when its result holds no suggestion list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggestions: Option<u64>,
}

/// Saved runs, newest first (`runs list`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunList {
    /// Newest first.
    pub runs: Vec<RunSummary>,
}

/// One error pattern in a comparison of two runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatternChange {
    /// The pattern's id in the later run (in the earlier run for a resolved pattern).
    pub id: String,
    /// Its id in the earlier run, for a pattern found in both; `null` otherwise.
    pub previous_id: Option<String>,
    /// Its label.
    pub label: String,
    /// Its dominant category.
    pub category: String,
    /// Responses in the earlier run (0 for a new pattern).
    pub size_before: usize,
    /// Responses in the later run (0 for a resolved pattern).
    pub size_after: usize,
}

/// How the error patterns changed from one set to another.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PatternDiff {
    /// Only in the later set.
    pub new: Vec<PatternChange>,
    /// In both, with more responses now.
    pub grown: Vec<PatternChange>,
    /// In both, with fewer responses now.
    pub shrunk: Vec<PatternChange>,
    /// In both, the same size.
    pub unchanged: Vec<PatternChange>,
    /// Only in the earlier set.
    pub resolved: Vec<PatternChange>,
}

/// How the error patterns changed from run `from` to run `to` (`runs diff A B`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunDiff {
    /// The earlier run's id.
    pub from: String,
    /// The later run's id.
    pub to: String,
    /// When the earlier run ran.
    #[serde(with = "serde_ts")]
    pub from_created_at: Timestamp,
    /// When the later run ran.
    #[serde(with = "serde_ts")]
    pub to_created_at: Timestamp,
    /// The changes, by kind.
    #[serde(flatten)]
    pub patterns: PatternDiff,
}
