//! `tuneloop trends`.

use super::{print_json, Ctx};
use crate::args::TrendsArgs;
use crate::output::{omitted_note, trends_table};
use crate::CliResult;
use tuneloop::model::TrendQuery;

pub async fn run(ctx: &Ctx, a: TrendsArgs) -> CliResult {
    let query = TrendQuery {
        model: a.range.model,
        since: a.range.since,
        until: a.range.until,
        alpha: a.alpha,
        window: a.window,
    };
    let report = ctx
        .open()
        .await?
        .trends(&query)
        .await
        .map_err(super::flag_hint)?;
    if ctx.json {
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
