//! Gathering [`PolicyInputs`] from a store, a dataset manifest and a credit ledger.
//!
//! The policy itself ([`crate::policy::decide`]) is pure; reading what it decides on lives
//! here, with the jobs that read the same store.

use chrono::{DateTime, Duration};

use crate::credits::CreditLedger;
use crate::dataset::Manifest;
use crate::model::{parse_timestamp, MetricsQuery, QualityFigures, Timestamp};
use crate::policy::{estimate_cost, PolicyConfig, PolicyInputs};
use crate::store::{FeedbackStore, JobFilter, JobRecord};
use crate::{Error, Result};

/// Job statuses that mean "in flight": ours (`draft`, `pending`, `starting`) and the
/// provider's (`validating_files`, `queued`, `running`). Every other status is terminal.
pub const ACTIVE_STATUSES: [&str; 6] = [
    "draft",
    "pending",
    "starting",
    "validating_files",
    "queued",
    "running",
];

/// Whether a job with this status is still in flight.
pub fn is_active_status(status: &str) -> bool {
    ACTIVE_STATUSES.contains(&status)
}

/// When a terminal job finished: `data.finished_at` (an RFC 3339 string, or Unix seconds as
/// the MCP contract sends it), else the record's `updated_at`.
pub fn job_finished_at(job: &JobRecord) -> Timestamp {
    match job.data.get("finished_at") {
        Some(serde_json::Value::String(s)) => parse_timestamp(s).ok(),
        Some(serde_json::Value::Number(n)) => n
            .as_i64()
            .and_then(|secs| DateTime::from_timestamp(secs, 0)),
        _ => None,
    }
    .unwrap_or(job.updated_at)
}

/// Gathers the inputs of [`crate::policy::decide`] for `model_id` at `now`:
///
/// - jobs of the model (`store.list_jobs`): the newest one with an active status (see
///   [`ACTIVE_STATUSES`]) is the active job; the latest [`job_finished_at`] among the others
///   is the last job's end;
/// - `store.metrics`: feedback on responses created in `[last job end, now)` (all responses
///   before `now` without a last job); the negative rate over the last
///   `config.window_weeks` before `now`, and the baseline over the `config.baseline_weeks`
///   before that window;
/// - `dataset`: usable examples = train + validation lines; with `price_per_million`, the
///   estimated cost = [`estimate_cost`]`(billing_tokens, estimated_epochs, price)` (epochs
///   past `u32::MAX` saturate, and so does the cost);
/// - `ledger.balance(account).available` (an unknown account has 0 available).
///
/// Store and ledger errors are returned as they are; an invalid `config` is
/// [`Error::InvalidInput`].
#[allow(clippy::too_many_arguments)]
pub async fn gather_inputs(
    store: &dyn FeedbackStore,
    ledger: Option<&dyn CreditLedger>,
    account: &str,
    model_id: &str,
    dataset: Option<&Manifest>,
    price_per_million: Option<u64>,
    config: &PolicyConfig,
    now: Timestamp,
) -> Result<PolicyInputs> {
    config.validate()?;
    let jobs = store
        .list_jobs(&JobFilter {
            model_id: Some(model_id.to_string()),
            ..Default::default()
        })
        .await?;
    let active_job_id = jobs
        .iter()
        .filter(|j| is_active_status(&j.status))
        .max_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)))
        .map(|j| j.id.clone());
    let last_job_finished_at = jobs
        .iter()
        .filter(|j| !is_active_status(&j.status))
        .map(job_finished_at)
        .max();

    let since_job = figures(store, model_id, last_job_finished_at, now).await?;
    let window_start = now - Duration::weeks(i64::from(config.window_weeks));
    let baseline_start = window_start - Duration::weeks(i64::from(config.baseline_weeks));
    let window = figures(store, model_id, Some(window_start), now).await?;
    let baseline = figures(store, model_id, Some(baseline_start), window_start).await?;

    let usable_examples = dataset.map_or(0, |m| m.counts.train.saturating_add(m.counts.validation));
    let estimated_cost = match (dataset, price_per_million) {
        (Some(m), Some(price)) => {
            let epochs = u32::try_from(m.estimated_epochs).unwrap_or(u32::MAX);
            Some(estimate_cost(m.billing_tokens, epochs, price))
        }
        _ => None,
    };
    let available_credits = match ledger {
        None => None,
        Some(l) => match l.balance(account).await {
            Ok(b) => Some(b.available),
            Err(Error::NotFound { .. }) => Some(0),
            Err(e) => return Err(e),
        },
    };

    Ok(PolicyInputs {
        now,
        feedback_since_last_job: since_job.feedback,
        negative_rate: window.negative_rate,
        baseline_negative_rate: baseline.negative_rate,
        usable_examples,
        last_job_finished_at,
        active_job_id,
        available_credits,
        estimated_cost,
    })
}

/// The model's figures over responses created in `[since, until)`; zeros when it has none.
async fn figures(
    store: &dyn FeedbackStore,
    model_id: &str,
    since: Option<Timestamp>,
    until: Timestamp,
) -> Result<QualityFigures> {
    if since.is_some_and(|s| s >= until) {
        return Ok(QualityFigures::default());
    }
    let report = store
        .metrics(&MetricsQuery {
            model: Some(model_id.to_string()),
            since,
            until: Some(until),
            bucket: None,
        })
        .await?;
    Ok(report
        .model(model_id)
        .map(|m| m.figures.clone())
        .unwrap_or_default())
}
