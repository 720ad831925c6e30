//! `tuneloop problematic`.

use super::{print_json, Ctx};
use crate::args::ProblematicArgs;
use crate::output::problematic_list;
use crate::CliResult;
use tuneloop::model::ProblematicQuery;

pub async fn run(ctx: &Ctx, a: ProblematicArgs) -> CliResult {
    let query = ProblematicQuery {
        model: a.range.model,
        since: a.range.since,
        until: a.range.until,
        limit: usize::try_from(a.limit).unwrap_or(usize::MAX),
        redact_pii: !a.show_pii,
        rank_by: a.rank_by.into(),
    };
    let report = ctx
        .open()
        .await?
        .problematic(&query)
        .await
        .map_err(super::flag_hint)?;
    if ctx.json {
        return print_json(&report);
    }
    if report.responses.is_empty() {
        outln!("No responses with negative feedback in range.");
        return Ok(());
    }
    out!("{}", problematic_list(&report.responses));
    Ok(())
}
