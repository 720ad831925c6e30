//! [`decide`]: the checks, each a pure function of the inputs and the config.

use chrono::Duration;
use serde_json::{json, Value};

use super::check::{Check, CheckName, Decision};
use super::config::PolicyConfig;
use crate::model::{format_timestamp, Timestamp};

/// Rates are compared with this tolerance, so a rise of 0.15 − 0.10 (0.04999… in binary)
/// meets a threshold of 0.05 as it does in decimal.
const RATE_TOLERANCE: f64 = 1e-9;

/// Everything the checks look at, gathered beforehand (see [`crate::jobs::gather_inputs`]).
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyInputs {
    /// The time the decision is made at.
    pub now: Timestamp,
    /// Feedback items on responses created since the last job finished (all, without one).
    pub feedback_since_last_job: u64,
    /// Negative rate over the window (`None` without feedback in it).
    pub negative_rate: Option<f64>,
    /// Negative rate over the baseline period (`None` without feedback in it).
    pub baseline_negative_rate: Option<f64>,
    /// Usable training examples (train + validation lines of the dataset).
    pub usable_examples: u64,
    /// When the newest finished job of the model finished (`None`: there was none).
    pub last_job_finished_at: Option<Timestamp>,
    /// A job of the model still in flight.
    pub active_job_id: Option<String>,
    /// The account's available credits (`None`: no ledger was consulted).
    pub available_credits: Option<u64>,
    /// Estimated cost of the job (`None`: no dataset or no price for the base model).
    pub estimated_cost: Option<u64>,
}

/// Runs every check of `config` on `inputs`. `fine_tune` is true when all of them pass; use
/// [`Decision::forced`] for `--force`.
pub fn decide(inputs: &PolicyInputs, config: &PolicyConfig) -> Decision {
    Decision::from_checks(vec![
        feedback(inputs, config),
        negative_rate(inputs, config),
        training_examples(inputs, config),
        cooldown(inputs, config),
        no_active_job(inputs, config),
        credits(inputs, config),
    ])
}

fn check(name: CheckName, passed: bool, observed: Value, required: Value, detail: String) -> Check {
    Check {
        name,
        passed,
        observed,
        required,
        detail,
    }
}

fn feedback(i: &PolicyInputs, c: &PolicyConfig) -> Check {
    let (n, min) = (i.feedback_since_last_job, c.min_feedback_since_last_job);
    let passed = n >= min;
    let since = match i.last_job_finished_at {
        Some(t) => format!("since the last job finished ({})", format_timestamp(&t)),
        None => "in total (no earlier job)".to_string(),
    };
    let detail = format!(
        "{n} feedback items {since}; {} {min}",
        if passed { "at least" } else { "fewer than" }
    );
    check(
        CheckName::FeedbackSinceLastJob,
        passed,
        json!(n),
        json!(min),
        detail,
    )
}

fn negative_rate(i: &PolicyInputs, c: &PolicyConfig) -> Check {
    let rise = match (i.negative_rate, i.baseline_negative_rate) {
        (Some(r), Some(b)) => Some(r - b),
        _ => None,
    };
    let observed =
        json!({"rate": i.negative_rate, "baseline": i.baseline_negative_rate, "rise": rise});
    let required = json!({"min_rate": c.min_negative_rate, "min_rise": c.min_negative_rate_rise});
    let high = i
        .negative_rate
        .is_some_and(|r| r + RATE_TOLERANCE >= c.min_negative_rate);
    let rose = rise.is_some_and(|d| d + RATE_TOLERANCE >= c.min_negative_rate_rise);
    // A threshold of 0 means the check is off, even without any feedback to measure.
    let off = c.min_negative_rate == 0.0;
    let passed = off || high || rose;
    let pct = |v: Option<f64>| v.map_or("unknown".to_string(), |v| format!("{:.1} %", v * 100.0));
    let detail = if off {
        "off (min_negative_rate = 0)".to_string()
    } else if high {
        format!(
            "negative rate {} is at least {}",
            pct(i.negative_rate),
            pct(Some(c.min_negative_rate))
        )
    } else if rose {
        format!(
            "negative rate rose from {} to {}, at least {} points",
            pct(i.baseline_negative_rate),
            pct(i.negative_rate),
            pct(Some(c.min_negative_rate_rise))
        )
    } else if i.negative_rate.is_none() {
        "no feedback in the window to measure a negative rate".to_string()
    } else {
        format!(
            "negative rate {} is below {} and rose {} over the baseline {} (needs {})",
            pct(i.negative_rate),
            pct(Some(c.min_negative_rate)),
            pct(rise),
            pct(i.baseline_negative_rate),
            pct(Some(c.min_negative_rate_rise))
        )
    };
    check(CheckName::NegativeRate, passed, observed, required, detail)
}

fn training_examples(i: &PolicyInputs, c: &PolicyConfig) -> Check {
    let (n, min) = (i.usable_examples, c.min_training_examples);
    let passed = n >= min;
    let detail = format!(
        "{n} usable training examples; {} {min}",
        if passed { "at least" } else { "fewer than" }
    );
    check(
        CheckName::TrainingExamples,
        passed,
        json!(n),
        json!(min),
        detail,
    )
}

fn cooldown(i: &PolicyInputs, c: &PolicyConfig) -> Check {
    let required = json!(c.cooldown_days);
    let Some(last) = i.last_job_finished_at else {
        return check(
            CheckName::Cooldown,
            true,
            Value::Null,
            required,
            "no earlier job of the model".to_string(),
        );
    };
    let elapsed = i.now.signed_duration_since(last);
    let passed = elapsed >= Duration::days(i64::from(c.cooldown_days));
    // Reported as fractional days; the pass/fail comparison above is exact on durations.
    let days = elapsed.num_seconds() as f64 / 86_400.0;
    let detail = format!(
        "last job finished {} ({days:.2} days ago); {} {} days",
        format_timestamp(&last),
        if passed { "at least" } else { "less than" },
        c.cooldown_days
    );
    check(CheckName::Cooldown, passed, json!(days), required, detail)
}

fn no_active_job(i: &PolicyInputs, c: &PolicyConfig) -> Check {
    let observed = json!(i.active_job_id);
    match (&i.active_job_id, c.require_no_active_job) {
        (_, false) => check(
            CheckName::NoActiveJob,
            true,
            observed,
            Value::Null,
            "off (require_no_active_job = false)".to_string(),
        ),
        (None, true) => check(
            CheckName::NoActiveJob,
            true,
            observed,
            json!(null),
            "no job of the model is in flight".to_string(),
        ),
        (Some(id), true) => check(
            CheckName::NoActiveJob,
            false,
            observed,
            json!(null),
            format!("job {id} of the model is still in flight"),
        ),
    }
}

fn credits(i: &PolicyInputs, c: &PolicyConfig) -> Check {
    let observed = json!(i.available_credits);
    let required = json!(i.estimated_cost);
    if !c.require_credits {
        return check(
            CheckName::Credits,
            true,
            observed,
            Value::Null,
            "off (require_credits = false)".to_string(),
        );
    }
    let (passed, detail) = match (i.available_credits, i.estimated_cost) {
        (None, _) => (false, "no credit ledger to check the balance".to_string()),
        (_, None) => (
            false,
            "no cost estimate (no dataset, or no price for the base model)".to_string(),
        ),
        (Some(a), Some(cost)) if a >= cost => (
            true,
            format!("{a} credits available cover the estimated {cost}"),
        ),
        (Some(a), Some(cost)) => (
            false,
            format!("{a} credits available, the estimated cost is {cost}"),
        ),
    };
    check(CheckName::Credits, passed, observed, required, detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse_timestamp;

    fn now() -> Timestamp {
        parse_timestamp("2026-11-23T00:00:00Z").unwrap()
    }

    /// Inputs that meet the default config exactly at every threshold.
    fn at_thresholds() -> PolicyInputs {
        PolicyInputs {
            now: now(),
            feedback_since_last_job: 200,
            negative_rate: Some(0.10),
            baseline_negative_rate: Some(0.10),
            usable_examples: 50,
            last_job_finished_at: Some(now() - Duration::days(7)),
            active_job_id: None,
            available_credits: Some(120),
            estimated_cost: Some(120),
        }
    }

    fn get(d: &Decision, name: CheckName) -> &Check {
        d.check(name).unwrap()
    }

    fn passed(i: &PolicyInputs, c: &PolicyConfig, name: CheckName) -> bool {
        get(&decide(i, c), name).passed
    }

    #[test]
    fn all_six_checks_in_order_and_all_pass_at_the_thresholds() {
        let d = decide(&at_thresholds(), &PolicyConfig::default());
        let names: Vec<_> = d.checks.iter().map(|c| c.name).collect();
        assert_eq!(names, CheckName::ALL);
        assert!(d.fine_tune, "{d:#?}");
        assert!(d.declined().is_none());
    }

    #[test]
    fn feedback_boundary() {
        let c = PolicyConfig::default();
        let mut i = at_thresholds();
        i.feedback_since_last_job = 199;
        let d = decide(&i, &c);
        assert!(!d.fine_tune);
        let ch = get(&d, CheckName::FeedbackSinceLastJob);
        assert!(!ch.passed);
        assert_eq!(
            (ch.observed.clone(), ch.required.clone()),
            (json!(199), json!(200))
        );
        assert!(ch.detail.contains("fewer than 200"), "{}", ch.detail);
    }

    #[test]
    fn negative_rate_passes_on_level_or_rise() {
        let c = PolicyConfig::default();
        let mut i = at_thresholds();
        // Level just below, no rise: fails.
        i.negative_rate = Some(0.0999);
        i.baseline_negative_rate = Some(0.0999);
        assert!(!passed(&i, &c, CheckName::NegativeRate));
        // Low level but a rise of exactly 0.05 in decimal (not exactly in binary): passes on
        // the rise alone.
        i.negative_rate = Some(0.07);
        i.baseline_negative_rate = Some(0.02);
        assert!(passed(&i, &c, CheckName::NegativeRate));
        i.negative_rate = Some(0.15);
        i.baseline_negative_rate = Some(0.10);
        assert!(passed(&i, &c, CheckName::NegativeRate));
        // A rise just short of 0.05 with a low level: fails.
        i.negative_rate = Some(0.069);
        i.baseline_negative_rate = Some(0.02);
        let d = decide(&i, &c);
        let ch = get(&d, CheckName::NegativeRate);
        assert!(!ch.passed);
        assert_eq!(ch.observed["rate"], json!(0.069));
        assert_eq!(ch.required["min_rise"], json!(0.05));
        // High level with a falling rate: passes on the level.
        i.negative_rate = Some(0.10);
        i.baseline_negative_rate = Some(0.30);
        assert!(passed(&i, &c, CheckName::NegativeRate));
        // Low level and no baseline: no rise to measure, fails.
        i.negative_rate = Some(0.05);
        i.baseline_negative_rate = None;
        assert!(!passed(&i, &c, CheckName::NegativeRate));
        // No feedback in the window: fails, unless the check is off.
        i.negative_rate = None;
        i.baseline_negative_rate = Some(0.01);
        assert!(!passed(&i, &c, CheckName::NegativeRate));
        let off = PolicyConfig {
            min_negative_rate: 0.0,
            ..c
        };
        assert!(passed(&i, &off, CheckName::NegativeRate));
    }

    #[test]
    fn training_examples_boundary() {
        let c = PolicyConfig::default();
        let mut i = at_thresholds();
        i.usable_examples = 49;
        let d = decide(&i, &c);
        assert!(!get(&d, CheckName::TrainingExamples).passed);
        assert!(!d.fine_tune);
    }

    #[test]
    fn cooldown_boundary_and_without_a_last_job() {
        let c = PolicyConfig::default();
        let mut i = at_thresholds();
        assert!(passed(&i, &c, CheckName::Cooldown));
        i.last_job_finished_at = Some(now() - Duration::days(7) + Duration::seconds(1));
        let d = decide(&i, &c);
        let ch = get(&d, CheckName::Cooldown);
        assert!(!ch.passed);
        assert_eq!(ch.required, json!(7));
        let days = ch.observed.as_f64().unwrap();
        assert!(days < 7.0 && days > 6.99, "{days}");
        // A job that "finished" in the future (clock skew) is still cooling down.
        i.last_job_finished_at = Some(now() + Duration::hours(1));
        assert!(!passed(&i, &c, CheckName::Cooldown));
        i.last_job_finished_at = None;
        let d = decide(&i, &c);
        let ch = get(&d, CheckName::Cooldown);
        assert!(ch.passed);
        assert_eq!(ch.observed, Value::Null);
        let zero = PolicyConfig {
            cooldown_days: 0,
            ..c
        };
        i.last_job_finished_at = Some(now());
        assert!(passed(&i, &zero, CheckName::Cooldown));
    }

    #[test]
    fn active_job_blocks_unless_not_required() {
        let mut i = at_thresholds();
        i.active_job_id = Some("job-7".into());
        let d = decide(&i, &PolicyConfig::default());
        let ch = get(&d, CheckName::NoActiveJob);
        assert!(!ch.passed);
        assert_eq!(ch.observed, json!("job-7"));
        assert!(!d.fine_tune);
        let lax = PolicyConfig {
            require_no_active_job: false,
            ..Default::default()
        };
        assert!(decide(&i, &lax).fine_tune);
    }

    #[test]
    fn credits_boundary_and_unknowns() {
        let c = PolicyConfig::default();
        let mut i = at_thresholds();
        i.available_credits = Some(119);
        let d = decide(&i, &c);
        let ch = get(&d, CheckName::Credits);
        assert!(!ch.passed);
        assert_eq!(
            (ch.observed.clone(), ch.required.clone()),
            (json!(119), json!(120))
        );
        i.available_credits = None;
        assert!(!passed(&i, &c, CheckName::Credits));
        i.available_credits = Some(1_000);
        i.estimated_cost = None;
        assert!(!passed(&i, &c, CheckName::Credits));
        let lax = PolicyConfig {
            require_credits: false,
            ..c
        };
        assert!(passed(&i, &lax, CheckName::Credits));
    }

    #[test]
    fn force_overrides_quality_checks_only() {
        let c = PolicyConfig::default();
        let mut i = at_thresholds();
        i.feedback_since_last_job = 0;
        i.negative_rate = None;
        i.usable_examples = 0;
        i.last_job_finished_at = Some(now());
        let d = decide(&i, &c);
        assert!(!d.fine_tune);
        assert_eq!(d.failed().count(), 4);
        let f = d.clone().forced();
        assert!(f.fine_tune && f.forced);
        assert_eq!(
            f.failed().count(),
            4,
            "overridden checks stay listed as failed"
        );
        assert!(f.declined().is_none());

        i.active_job_id = Some("job-1".into());
        let f = decide(&i, &c).forced();
        assert!(!f.fine_tune);
        match f.declined() {
            Some(crate::Error::PolicyDeclined { reason }) => {
                assert!(reason.starts_with("no_active_job"), "{reason}");
                assert!(!reason.contains("cooldown"), "{reason}");
            }
            other => panic!("{other:?}"),
        }

        i.active_job_id = None;
        i.available_credits = Some(0);
        assert!(!decide(&i, &c).forced().fine_tune);
    }

    #[test]
    fn serialises_in_the_documented_shape() {
        let d = decide(&at_thresholds(), &PolicyConfig::default());
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["fine_tune"], json!(true));
        assert!(v.get("forced").is_none());
        let first = &v["checks"][0];
        assert_eq!(first["name"], json!("feedback_since_last_job"));
        for key in ["passed", "observed", "required", "detail"] {
            assert!(first.get(key).is_some(), "{key}");
        }
        let back: Decision = serde_json::from_value(v).unwrap();
        assert_eq!(back, d);
        let forced = serde_json::to_value(d.forced()).unwrap();
        assert_eq!(forced["forced"], json!(true));
    }
}
