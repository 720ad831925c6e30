//! `tuneloop problematic`.

use super::{check_range, open_store, print_json};
use crate::args::ProblematicArgs;
use crate::output::problematic_list;
use crate::CliResult;
use tuneloop::model::ProblematicQuery;

pub async fn run(db: &str, json: bool, a: ProblematicArgs) -> CliResult {
    check_range(&a.range)?;
    let query = ProblematicQuery {
        model: a.range.model,
        since: a.range.since,
        until: a.range.until,
        limit: usize::try_from(a.limit).unwrap_or(usize::MAX),
    };
    let store = open_store(db).await?;
    let responses = store.problematic(&query).await?;
    if json {
        return print_json(&serde_json::json!({ "responses": responses }));
    }
    if responses.is_empty() {
        outln!("No responses with negative feedback in range.");
        return Ok(());
    }
    out!("{}", problematic_list(&responses));
    Ok(())
}
