//! `tuneloop trends`.

use super::{check_range, open_store, print_json};
use crate::args::TrendsArgs;
use crate::output::{omitted_note, trends_table};
use crate::CliResult;
use tuneloop::analysis::weekly::category_trends;
use tuneloop::model::{Polarity, TrendQuery};
use tuneloop::store::{FeedbackFilter, FeedbackStoreExt, ResponseFilter};

pub async fn run(db: &str, json: bool, a: TrendsArgs) -> CliResult {
    check_range(&a.range)?;
    let query = TrendQuery {
        model: a.range.model,
        since: a.range.since,
        until: a.range.until,
        alpha: a.alpha,
        window: a.window,
    };
    let store = open_store(db).await?;
    let responses = store
        .all_responses(&ResponseFilter {
            model: query.model.clone(),
            since: query.since,
            until: query.until,
        })
        .await?;
    // Only negatives count; the time range applies to the responses (the analysis keeps the
    // feedback on the listed responses), not to when the feedback was given.
    let feedback = store
        .all_feedback(&FeedbackFilter {
            model: query.model.clone(),
            polarity: Some(Polarity::Negative),
            ..Default::default()
        })
        .await?;
    let report = category_trends(&responses, &feedback, &query);
    if json {
        return print_json(&report);
    }
    if report.trends.is_empty() {
        outln!("No categorised negative feedback in range.");
        return Ok(());
    }
    outln!("{}", trends_table(&report));
    outln!(
        "Weekly rate = negatives in the category / responses that ISO week (UTC); two-sided \
         Mann-Kendall at α = {}, slope = Sen's slope.",
        query.alpha
    );
    if let Some(note) = omitted_note(report.omitted_responses, "weekly series", "520 weeks") {
        outln!("{note}");
    }
    Ok(())
}
