//! `tuneloop schedule [--once]`: the weekly job, on its cron schedule or now.

use super::loop_ctx::manager;
use super::{print_json, Ctx};
use crate::args::ScheduleArgs;
use crate::{CliError, CliResult};
use std::time::Duration;
use tuneloop::jobs::JobManager;
use tuneloop::model::{format_timestamp, Timestamp};
use tuneloop::schedule::weekly::{run_weekly, WeeklyOptions, WeeklyReport};
use tuneloop::schedule::Schedule;
use tuneloop::store::LeaseHolder;

pub async fn run(ctx: &Ctx, a: ScheduleArgs) -> CliResult {
    let expr = a
        .cron
        .clone()
        .unwrap_or_else(|| ctx.config.schedule.cron.clone());
    let schedule = Schedule::parse(&expr).map_err(|e| match e {
        tuneloop::Error::InvalidInput { reason, .. } => {
            CliError::usage(format!("--cron: {reason}"))
        }
        other => other.into(),
    })?;
    // Without a server there is nothing to start: decide only.
    let dry_run = a.dry_run || ctx.mcp_url.is_none();
    let jobs = manager(ctx).await?;
    // Host, pid and start: another instance can say who holds the lease, and one on this
    // host can take it over at once if this process dies.
    let holder = LeaseHolder::this_process().encode();
    if a.once {
        let report = run_once(ctx, &jobs, chrono::Utc::now(), true, dry_run, &holder).await?;
        print_report(ctx, &report)?;
        // A cron wrapper must see that nothing ran: exit 3, distinct from a failure (1).
        if let Some(held) = &report.held_by {
            return Err(CliError {
                exit: 3,
                code: "lease_held",
                message: format!(
                    "the weekly job did not run: another instance holds its lease ({})",
                    held.describe()
                ),
                causes: Vec::new(),
            });
        }
        return Ok(());
    }
    if !ctx.json {
        outln!(
            "Weekly job: {} ({}, UTC){}",
            schedule.as_str(),
            schedule.describe(),
            if dry_run {
                "; decisions only (no --mcp-url)"
            } else {
                ""
            }
        );
    }
    loop {
        let next = schedule.next_after(chrono::Utc::now())?;
        if !ctx.json {
            outln!("next run at {}", format_timestamp(&next));
        }
        let wait = (next - chrono::Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO);
        tokio::time::sleep(wait).await;
        match run_once(ctx, &jobs, next, false, dry_run, &holder).await {
            Ok(report) => print_report(ctx, &report)?,
            // A failed run is reported and the schedule goes on.
            Err(e) => eprintln!(
                "error: the weekly run of {} failed: {}",
                format_timestamp(&next),
                e.full_message()
            ),
        }
    }
}

async fn run_once(
    ctx: &Ctx,
    jobs: &JobManager,
    slot: Timestamp,
    rerun: bool,
    dry_run: bool,
    holder: &str,
) -> CliResult<WeeklyReport> {
    let c = &ctx.config;
    let options = WeeklyOptions {
        slot,
        rerun,
        models: c.schedule.models.clone(),
        fine_tune: c.fine_tune.clone(),
        policy: c.policy.clone(),
        dataset: c.dataset.clone(),
        dry_run,
        holder: holder.to_string(),
        lease_ttl: Duration::from_secs(u64::from(c.schedule.lease_minutes) * 60),
    };
    Ok(run_weekly(jobs, &options).await?)
}

fn print_report(ctx: &Ctx, r: &WeeklyReport) -> CliResult {
    if ctx.json {
        return print_json(r);
    }
    if let Some(why) = &r.skipped {
        outln!("{}: skipped ({why})", r.run_id);
        return Ok(());
    }
    outln!("{} (slot {})", r.run_id, format_timestamp(&r.slot));
    if let Some(old) = &r.took_over_from {
        outln!(
            "  lease        taken over from {} (its process is gone)",
            old.describe()
        );
    }
    outln!(
        "  analysis     {} error patterns; saved as {}",
        r.patterns,
        r.analysis_run_id.as_deref().unwrap_or("-")
    );
    for s in &r.top_suggestions {
        outln!("  suggestion   {s}");
    }
    for d in &r.decisions {
        match (&d.outcome, &d.error) {
            (Some(o), _) => {
                let failed: Vec<&str> = o
                    .decision
                    .checks
                    .iter()
                    .filter(|c| !c.passed)
                    .map(|c| c.name.as_str())
                    .collect();
                let verdict = match &o.job {
                    Some(j) => format!("fine-tune: started job {} ({})", j.id, j.status),
                    None if o.decision.fine_tune => "fine-tune: yes (dry run)".to_string(),
                    None => format!("fine-tune: no ({})", failed.join(", ")),
                };
                outln!("  {:<20} {verdict}", d.model_id);
            }
            (None, Some(e)) => outln!("  {:<20} no decision: {e}", d.model_id),
            (None, None) => {}
        }
    }
    for s in &r.synced {
        match &s.error {
            None => outln!("  synced       {} {} → {}", s.id, s.before, s.after),
            Some(e) => outln!("  synced       {} failed: {e}", s.id),
        }
    }
    Ok(())
}
