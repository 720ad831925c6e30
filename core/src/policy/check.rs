//! The explainable decision: one entry per check, with what was observed and required.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::Error;

/// The checks of the trigger policy, in the order a [`Decision`] lists them.
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckName {
    /// Enough feedback since the last job.
    FeedbackSinceLastJob,
    /// The negative rate is high, or rose against its baseline.
    NegativeRate,
    /// Enough usable training examples.
    TrainingExamples,
    /// Long enough since the last job finished.
    Cooldown,
    /// No job of the model is in flight (never overridden by force).
    NoActiveJob,
    /// The account can pay the estimated cost (never overridden by force).
    Credits,
}

impl CheckName {
    /// Every check, in decision order.
    pub const ALL: [CheckName; 6] = [
        CheckName::FeedbackSinceLastJob,
        CheckName::NegativeRate,
        CheckName::TrainingExamples,
        CheckName::Cooldown,
        CheckName::NoActiveJob,
        CheckName::Credits,
    ];

    /// The wire name (`feedback_since_last_job`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            CheckName::FeedbackSinceLastJob => "feedback_since_last_job",
            CheckName::NegativeRate => "negative_rate",
            CheckName::TrainingExamples => "training_examples",
            CheckName::Cooldown => "cooldown",
            CheckName::NoActiveJob => "no_active_job",
            CheckName::Credits => "credits",
        }
    }

    /// Whether `--force` may override a failure of this check. Quality checks (feedback,
    /// negative rate, training examples, cooldown) may be overridden; `no_active_job` and
    /// `credits` never: two concurrent jobs or an unpaid job are never what force means.
    pub fn overridable(self) -> bool {
        !matches!(self, CheckName::NoActiveJob | CheckName::Credits)
    }
}

impl fmt::Display for CheckName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One check's outcome.
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// Which check.
    pub name: CheckName,
    /// Whether it passed.
    pub passed: bool,
    /// What was measured (`null` when it could not be).
    pub observed: serde_json::Value,
    /// The threshold it was held to (`null` when the check is off).
    pub required: serde_json::Value,
    /// A sentence for people saying why it passed or failed.
    pub detail: String,
}

/// Whether to fine-tune, and why.
///
/// Serialises as `{"fine_tune":bool,"checks":[{"name","passed","observed","required","detail"}]}`
/// plus `"forced":true` when [`Decision::forced`] made it.
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// Whether to start a job: every check passed (or, when forced, every check that force
    /// cannot override).
    pub fine_tune: bool,
    /// Every check, in [`CheckName::ALL`] order.
    pub checks: Vec<Check>,
    /// Whether failed quality checks were overridden by `--force`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forced: bool,
}

impl Decision {
    /// A decision from checks: fine-tune when all passed.
    pub fn from_checks(checks: Vec<Check>) -> Self {
        let fine_tune = checks.iter().all(|c| c.passed);
        Decision {
            fine_tune,
            checks,
            forced: false,
        }
    }

    /// The decision under `--force`: failed quality checks are overridden (they stay listed
    /// as failed), but `no_active_job` and `credits` still decide.
    pub fn forced(self) -> Self {
        let fine_tune = self.checks.iter().all(|c| c.passed || c.name.overridable());
        Decision {
            fine_tune,
            checks: self.checks,
            forced: true,
        }
    }

    /// The check named `name`.
    pub fn check(&self, name: CheckName) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// The checks that failed.
    pub fn failed(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.passed)
    }

    /// [`Error::PolicyDeclined`] naming the blocking checks when the decision is "no",
    /// `None` when it is "yes".
    pub fn declined(&self) -> Option<Error> {
        if self.fine_tune {
            return None;
        }
        let reason = self
            .failed()
            .filter(|c| !self.forced || !c.name.overridable())
            .map(|c| format!("{}: {}", c.name, c.detail))
            .collect::<Vec<_>>()
            .join("; ");
        Some(Error::PolicyDeclined { reason })
    }
}
