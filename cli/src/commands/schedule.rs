//! `tuneloop schedule [--once]`: the weekly job, on its cron schedule or now.

use super::{print_json, Ctx};
use crate::args::ScheduleArgs;
use crate::{CliError, CliResult};
use tuneloop::model::format_timestamp;
use tuneloop::service::WeeklyReport;
use tuneloop::service::{CancellationToken, ScheduleEvent, ScheduleOptions, WeeklyRunOptions};

pub async fn run(ctx: &Ctx, a: ScheduleArgs) -> CliResult {
    let tl = ctx.open().await?;
    if a.once {
        let report = tl
            .run_weekly_once(&WeeklyRunOptions {
                slot: None,
                rerun: true,
                dry_run: a.dry_run,
                models: None,
            })
            .await?;
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
    let options = ScheduleOptions {
        cron: a.cron,
        dry_run: a.dry_run,
        models: None,
    };
    // Runs until the process is stopped; the lease names this process, so an instance on
    // this host takes a dead one's lease over at once.
    tl.run_schedule(&options, CancellationToken::new(), |event| {
        print_event(ctx, event)
    })
    .await
    .map_err(|e| match e {
        tuneloop::Error::InvalidInput { field, reason } if field == "cron" => {
            CliError::usage(format!("--cron: {reason}"))
        }
        other => other.into(),
    })
}

fn print_event(ctx: &Ctx, event: ScheduleEvent) {
    match event {
        ScheduleEvent::Started {
            cron,
            description,
            dry_run,
        } if !ctx.json => outln!(
            "Weekly job: {cron} ({description}, UTC){}",
            if dry_run {
                "; decisions only (no fine-tuning server)"
            } else {
                ""
            }
        ),
        ScheduleEvent::Waiting { next } if !ctx.json => {
            outln!("next run at {}", format_timestamp(&next))
        }
        ScheduleEvent::Ran { report } => {
            if let Err(e) = print_report(ctx, &report) {
                eprintln!("error: {}", e.full_message());
            }
        }
        // A failed run is reported and the schedule goes on.
        ScheduleEvent::Failed { slot, error } => eprintln!(
            "error: the weekly run of {} failed: {error}",
            format_timestamp(&slot)
        ),
        _ => {}
    }
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
