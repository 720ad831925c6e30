//! `tuneloop repair aggregates`: one facade call, then what it did.

use super::{print_json, Ctx};
use crate::CliResult;

pub async fn aggregates(ctx: &Ctx) -> CliResult {
    let done = ctx.open().await?.rebuild_aggregates().await?;
    if ctx.json {
        return print_json(&done);
    }
    outln!(
        "{}: daily aggregates rebuilt ({} rows; {} were wrong)",
        ctx.database_shown(),
        done.rows,
        done.mismatched
    );
    Ok(())
}
