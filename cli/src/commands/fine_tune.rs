//! `tuneloop fine-tune`: the trigger decision, and the job it starts.

use super::jobs::print_job;
use super::loop_ctx::{draft_request, manager};
use super::{print_json, Ctx};
use crate::args::FineTuneArgs;
use crate::progress::spinner;
use crate::{CliError, CliResult};
use tuneloop::jobs::FineTuneRequest;
use tuneloop::policy::Decision;

pub async fn run(ctx: &Ctx, a: FineTuneArgs) -> CliResult {
    if ctx.mcp_url.is_none() && !a.dry_run {
        return Err(CliError::usage(
            "fine-tune needs the fine-tuning server: pass --mcp-url URL, set TUNELOOP_MCP_URL \
             or [mcp] url in tuneloop.toml (or use --dry-run to see the decision only)",
        ));
    }
    let draft = draft_request(ctx, &a.target)?;
    let jobs = manager(ctx).await?;
    let mut request = FineTuneRequest::new(draft);
    request.policy = ctx.config.policy.clone();
    request.force = a.force;
    request.dry_run = a.dry_run;
    let bar = spinner(
        &format!("deciding whether to fine-tune {}", a.target.model_id),
        ctx.json,
    );
    let outcome = jobs.fine_tune(&request).await;
    bar.finish_and_clear();
    let outcome = outcome.map_err(super::unknown_model_hint)?;
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

/// One line per check: `✓ name  observed (required ...)  detail`.
pub fn print_decision(d: &Decision) {
    let verdict = if d.fine_tune {
        if d.forced {
            "fine-tune: YES (forced)"
        } else {
            "fine-tune: YES"
        }
    } else {
        "fine-tune: no"
    };
    outln!("{verdict}");
    for c in &d.checks {
        let mark = if c.passed {
            "✓"
        } else if d.forced && c.name.overridable() {
            "!"
        } else {
            "✗"
        };
        outln!("{mark} {:<24} {}", c.name.as_str(), c.detail);
    }
}
