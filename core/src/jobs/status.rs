//! [`JobStatus`]: where one of our fine-tuning jobs is, and which moves are legal.

use crate::model::ProviderJobStatus;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a job is in its life. `draft` and `starting` are ours; the rest mirror the
/// provider's statuses once the remote job exists.
///
/// ```text
/// draft ──start──▶ starting ──remote job created──▶ validating_files ▶ queued ▶ running
///   │                 │  ▲                                  │             │        │
///   │                 │  └─ start failed before the remote  ▼             ▼        ▼
///   │                 │     job was asked for: back to draft   succeeded | failed | cancelled
///   └──────cancel─────┴──────────────────────────────────────────────────────────────▶ cancelled
/// ```
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Created with its dataset and cost estimate; nothing sent, nothing reserved.
    Draft,
    /// Being started: files uploaded, credits reserved, remote job requested (resumable).
    Starting,
    /// The provider is checking the files.
    ValidatingFiles,
    /// Waiting for a trainer.
    Queued,
    /// Training.
    Running,
    /// Finished; the fine-tuned model exists.
    Succeeded,
    /// Finished with an error.
    Failed,
    /// Cancelled.
    Cancelled,
}

impl JobStatus {
    /// Every status, in life order.
    pub const ALL: [JobStatus; 8] = [
        JobStatus::Draft,
        JobStatus::Starting,
        JobStatus::ValidatingFiles,
        JobStatus::Queued,
        JobStatus::Running,
        JobStatus::Succeeded,
        JobStatus::Failed,
        JobStatus::Cancelled,
    ];

    /// The wire name (`draft`, `validating_files`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Draft => "draft",
            JobStatus::Starting => "starting",
            JobStatus::ValidatingFiles => "validating_files",
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }

    /// Parses a wire name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Finished: succeeded, failed or cancelled.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Succeeded | JobStatus::Failed | JobStatus::Cancelled
        )
    }

    /// A remote job exists and has not finished.
    pub fn is_remote_active(self) -> bool {
        matches!(
            self,
            JobStatus::ValidatingFiles | JobStatus::Queued | JobStatus::Running
        )
    }

    /// Order along the happy path, for "no going back" checks.
    fn rank(self) -> u8 {
        match self {
            JobStatus::Draft => 0,
            JobStatus::Starting => 1,
            JobStatus::ValidatingFiles => 2,
            JobStatus::Queued => 3,
            JobStatus::Running => 4,
            JobStatus::Succeeded | JobStatus::Failed | JobStatus::Cancelled => 5,
        }
    }
}

impl From<ProviderJobStatus> for JobStatus {
    fn from(s: ProviderJobStatus) -> Self {
        match s {
            ProviderJobStatus::ValidatingFiles => JobStatus::ValidatingFiles,
            ProviderJobStatus::Queued => JobStatus::Queued,
            ProviderJobStatus::Running => JobStatus::Running,
            ProviderJobStatus::Succeeded => JobStatus::Succeeded,
            ProviderJobStatus::Failed => JobStatus::Failed,
            ProviderJobStatus::Cancelled => JobStatus::Cancelled,
        }
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a job may move from `from` to `to`. Staying put is always allowed; a finished
/// job never moves; otherwise a job only moves forward, except `starting → draft` (a start
/// that failed before the remote job was requested) and `draft → starting`.
pub fn can_transition(from: JobStatus, to: JobStatus) -> bool {
    use JobStatus::*;
    if from == to {
        return true;
    }
    if from.is_terminal() {
        return false;
    }
    match (from, to) {
        (Draft, Starting) | (Draft, Cancelled) | (Starting, Draft) => true,
        (Draft, _) => false,
        // Only the start itself leaves `starting` backwards; provider statuses go forward.
        _ => to.rank() > from.rank() && to != Draft && to != Starting,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use JobStatus::*;

    #[test]
    fn wire_names_round_trip() {
        for s in JobStatus::ALL {
            assert_eq!(JobStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(JobStatus::parse("done"), None);
        for p in ProviderJobStatus::ALL {
            assert_eq!(JobStatus::from(p).as_str(), p.as_str());
        }
    }

    #[test]
    fn legal_and_illegal_moves() {
        let legal = [
            (Draft, Starting),
            (Draft, Cancelled),
            (Starting, Draft),
            (Starting, ValidatingFiles),
            (Starting, Running),
            (Starting, Failed),
            (Starting, Cancelled),
            (ValidatingFiles, Queued),
            (Queued, Running),
            (Queued, Succeeded),
            (Running, Succeeded),
            (Running, Failed),
            (Running, Cancelled),
            (Running, Running),
            (Succeeded, Succeeded),
        ];
        for (a, b) in legal {
            assert!(can_transition(a, b), "{a} -> {b} should be legal");
        }
        let illegal = [
            (Draft, Queued),
            (Draft, Succeeded),
            (Queued, ValidatingFiles),
            (Running, Queued),
            (Running, Starting),
            (Running, Draft),
            (Succeeded, Cancelled),
            (Failed, Succeeded),
            (Cancelled, Running),
            (Cancelled, Draft),
        ];
        for (a, b) in illegal {
            assert!(!can_transition(a, b), "{a} -> {b} should be illegal");
        }
    }
}
