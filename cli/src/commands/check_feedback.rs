//! `tuneloop check feedback`: is feedback still arriving, model by model?

use super::credits::{report_checks, CheckLine};
use super::open_with;
use crate::CliResult;
use tuneloop::model::MetricsQuery;
use tuneloop::store::{FeedbackFilter, FeedbackStore, FeedbackStoreExt, OpenOptions};

/// One line per model (or for `model` only): feedback items created in the last `hours`
/// hours, passing with at least `min`. A store without any model fails: nothing is recorded.
pub async fn feedback_checks(
    store: &dyn FeedbackStore,
    model: Option<&str>,
    hours: u32,
    min: u64,
) -> Vec<CheckLine> {
    let models: Vec<String> = match model {
        Some(m) => vec![m.to_string()],
        None => match store.metrics(&MetricsQuery::default()).await {
            Ok(report) => report.models.into_iter().map(|m| m.model_id).collect(),
            Err(e) => return vec![CheckLine::new("feedback", false, e.to_string())],
        },
    };
    if models.is_empty() {
        return vec![CheckLine::new(
            "feedback",
            false,
            "no responses recorded yet: is the application sending them?",
        )];
    }
    let since = chrono::Utc::now() - chrono::Duration::hours(i64::from(hours));
    let mut out = Vec::with_capacity(models.len());
    for m in models {
        let filter = FeedbackFilter {
            model: Some(m.clone()),
            since: Some(since),
            ..Default::default()
        };
        match store.all_feedback(&filter).await {
            Ok(items) => {
                let n = items.len() as u64;
                let newest = items.iter().map(|f| f.created_at).max();
                let detail = match newest {
                    Some(t) => format!(
                        "{m}: {n} items in the last {hours} h (newest {})",
                        tuneloop::model::format_timestamp(&t)
                    ),
                    None => format!("{m}: no feedback in the last {hours} h"),
                };
                let detail = if n < min {
                    format!("{detail}; need at least {min}")
                } else {
                    detail
                };
                out.push(CheckLine::new("feedback", n >= min, detail));
            }
            Err(e) => out.push(CheckLine::new("feedback", false, format!("{m}: {e}"))),
        }
    }
    out
}

pub async fn run(db: &str, json: bool, model: Option<&str>, hours: u32, min: u64) -> CliResult {
    // Like `check db`: never create or migrate the database.
    let options = OpenOptions {
        create_if_missing: false,
        migrate: false,
        ..Default::default()
    };
    let lines = match open_with(db, &options).await {
        Ok(store) => feedback_checks(store.as_ref(), model, hours, min).await,
        Err(e) => vec![CheckLine::new("database", false, e.full_message())],
    };
    report_checks("feedback", &lines, json)
}
