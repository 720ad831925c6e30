//! `tuneloop fine-tune`: the trigger decision, and the job it starts.

use super::{print_json, Ctx};
use crate::args::FineTuneArgs;
use crate::convert::{job_hint, target};
use crate::progress::spinner;
use crate::render::print_decision;
use crate::render::print_job;
use crate::{CliError, CliResult};
use tuneloop::service::FineTuneOptions;

pub async fn run(ctx: &Ctx, a: FineTuneArgs) -> CliResult {
    let options = FineTuneOptions {
        target: target(&a.target),
        force: a.force,
        dry_run: a.dry_run,
        as_of: a.as_of,
    };
    let tl = ctx.open().await?;
    let bar = spinner(
        &format!("deciding whether to fine-tune {}", a.target.model_id),
        ctx.json,
    );
    let outcome = tl.fine_tune(&options).await;
    bar.finish_and_clear();
    let outcome = outcome.map_err(|e| match e {
        tuneloop::Error::InvalidInput { field, .. } if field == "mcp.url" => CliError::usage(
            "fine-tune needs the fine-tuning server: pass --mcp-url URL, set TUNELOOP_MCP_URL \
             or [mcp] url in tuneloop.toml (or use --dry-run to see the decision only)",
        ),
        other => job_hint(other),
    })?;
    if ctx.json {
        print_json(&outcome)?;
    } else {
        print_decision(&outcome.decision);
        match &outcome.job {
            Some(job) => {
                outln!();
                print_job(job);
            }
            None if a.dry_run => outln!("Dry run: nothing created."),
            None => outln!("No job started."),
        }
    }
    if let Some(e) = &outcome.start_error {
        return Err(CliError::failure(format!(
            "the job was created but its start failed: {e}; run `tuneloop jobs start {}` to retry",
            outcome.job.as_ref().map_or("ID", |j| j.id.as_str())
        )));
    }
    Ok(())
}
