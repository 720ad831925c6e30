//! The `[policy]` section of `tuneloop.toml`: the thresholds of the trigger checks.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Longest window, baseline or cooldown accepted (about ten years), so date arithmetic on
/// them can never overflow.
const MAX_DAYS: u32 = 3_660;

/// Thresholds of the fine-tuning trigger. Every field has a default, so a `[policy]` section
/// only names what it changes; unknown keys are rejected. A threshold of 0 turns its check
/// into one that always passes (the check is still listed in the decision).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    /// Feedback items needed on responses created since the last job finished (all
    /// feedback when there was no job). Default 200.
    pub min_feedback_since_last_job: u64,
    /// The negative-rate check passes when the rate over the last `window_weeks` is at least
    /// this (a fraction in `[0, 1]`). Default 0.10.
    pub min_negative_rate: f64,
    /// ... or when it rose by at least this much (absolute, in `[0, 1]`) over the rate of the
    /// `baseline_weeks` before the window. Default 0.05.
    pub min_negative_rate_rise: f64,
    /// Weeks (ending now) over which the current negative rate is measured. Default 2.
    pub window_weeks: u32,
    /// Weeks before the window over which the baseline negative rate is measured. Default 6.
    pub baseline_weeks: u32,
    /// Usable training examples (train + validation lines of the dataset) needed. Default 50.
    pub min_training_examples: u64,
    /// Days that must have passed since the last job finished. Default 7.
    pub cooldown_days: u32,
    /// Decline while a job of the model is in flight. Default true.
    pub require_no_active_job: bool,
    /// Decline unless the account's available credits cover the estimated cost. Default true.
    pub require_credits: bool,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            min_feedback_since_last_job: 200,
            min_negative_rate: 0.10,
            min_negative_rate_rise: 0.05,
            window_weeks: 2,
            baseline_weeks: 6,
            min_training_examples: 50,
            cooldown_days: 7,
            require_no_active_job: true,
            require_credits: true,
        }
    }
}

impl PolicyConfig {
    /// Checks the settings; the error names the field.
    pub fn validate(&self) -> Result<()> {
        for (field, v) in [
            ("min_negative_rate", self.min_negative_rate),
            ("min_negative_rate_rise", self.min_negative_rate_rise),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(Error::invalid(
                    field,
                    format!("{v} is not a fraction between 0 and 1"),
                ));
            }
        }
        for (field, weeks) in [
            ("window_weeks", self.window_weeks),
            ("baseline_weeks", self.baseline_weeks),
        ] {
            if weeks == 0 {
                return Err(Error::invalid(field, "must be at least 1"));
            }
            if weeks.saturating_mul(7) > MAX_DAYS {
                return Err(Error::invalid(
                    field,
                    format!("{weeks} weeks is more than {} weeks", MAX_DAYS / 7),
                ));
            }
        }
        if self.cooldown_days > MAX_DAYS {
            return Err(Error::invalid(
                "cooldown_days",
                format!("{} is more than {MAX_DAYS} days", self.cooldown_days),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_documented_values() {
        let c = PolicyConfig::default();
        c.validate().unwrap();
        assert_eq!(c.min_feedback_since_last_job, 200);
        assert_eq!(c.min_training_examples, 50);
        assert_eq!(c.cooldown_days, 7);
        assert!(c.require_no_active_job && c.require_credits);
    }

    #[test]
    fn a_partial_section_keeps_the_other_defaults() {
        let c: PolicyConfig = serde_json::from_str(r#"{"cooldown_days": 14}"#).unwrap();
        assert_eq!(c.cooldown_days, 14);
        assert_eq!(c.min_training_examples, 50);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let e = serde_json::from_str::<PolicyConfig>(r#"{"cooldown": 14}"#).unwrap_err();
        assert!(e.to_string().contains("cooldown"), "{e}");
    }

    #[test]
    fn out_of_range_values_name_their_field() {
        let cases: [(PolicyConfig, &str); 6] = [
            (
                PolicyConfig {
                    min_negative_rate: 1.5,
                    ..Default::default()
                },
                "min_negative_rate",
            ),
            (
                PolicyConfig {
                    min_negative_rate_rise: -0.1,
                    ..Default::default()
                },
                "min_negative_rate_rise",
            ),
            (
                PolicyConfig {
                    min_negative_rate: f64::NAN,
                    ..Default::default()
                },
                "min_negative_rate",
            ),
            (
                PolicyConfig {
                    window_weeks: 0,
                    ..Default::default()
                },
                "window_weeks",
            ),
            (
                PolicyConfig {
                    baseline_weeks: 10_000,
                    ..Default::default()
                },
                "baseline_weeks",
            ),
            (
                PolicyConfig {
                    cooldown_days: 100_000,
                    ..Default::default()
                },
                "cooldown_days",
            ),
        ];
        for (c, field) in cases {
            match c.validate() {
                Err(Error::InvalidInput { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }
}
