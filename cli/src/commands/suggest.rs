//! `tuneloop suggest`: improvement suggestions from error patterns, trends and corrections.

use super::{print_json, Ctx};
use crate::args::SuggestArgs;
use crate::convert::{analyze_options, table_hint};
use crate::output::omitted_note;
use crate::render::print_suggestions;
use crate::CliResult;

pub async fn run(ctx: &Ctx, a: SuggestArgs) -> CliResult {
    let options = analyze_options(a.range, &a.rules, false)?;
    let report = ctx
        .open()
        .await?
        .suggest(&options)
        .await
        .map_err(|e| table_hint(&a.rules, e))?;
    if ctx.json {
        return print_json(&report);
    }
    print_suggestions(&report.suggestions, usize::MAX);
    let note = omitted_note(
        report.omitted_responses,
        "trends' weekly series",
        "520 weeks",
    );
    if let Some(note) = note {
        outln!("\n{note}");
    }
    Ok(())
}
