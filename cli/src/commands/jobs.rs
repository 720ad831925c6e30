//! `tuneloop jobs list|show|create|start|cancel|sync`.

use super::{print_json, Ctx};
use crate::args::JobTargetArgs;
use crate::convert::{job_hint, target};
use crate::output::thousands;
use crate::progress::spinner;
use crate::render::print_job;
use crate::{CliError, CliResult};
use tuneloop::model::format_timestamp;
use tuneloop::service::FineTuneJob;
use tuneloop::service::{JobQuery, SyncOutcome, WaitOptions};
use tuneloop::Tuneloop;

pub async fn list(
    ctx: &Ctx,
    model: Option<String>,
    status: Option<String>,
    limit: Option<usize>,
) -> CliResult {
    let mut query = JobQuery {
        model,
        status,
        ..Default::default()
    };
    query.limit = limit.unwrap_or(query.limit);
    let list = ctx
        .open()
        .await?
        .list_jobs(&query)
        .await
        .map_err(job_hint)?;
    if ctx.json {
        return print_json(&list);
    }
    if list.jobs.is_empty() {
        outln!("No jobs.");
        return Ok(());
    }
    let mut table = crate::output::new_table(
        &[
            "Job",
            "Model",
            "Base model",
            "Status",
            "Provider job",
            "Estimated",
            "Charged",
            "Created",
        ],
        &[5, 6],
    );
    for j in &list.jobs {
        let d = &j.details;
        table.add_row(vec![
            j.id.clone(),
            j.model_id.clone(),
            d.base_model.clone(),
            j.status.to_string(),
            d.provider_job_id.clone().unwrap_or_else(|| "-".into()),
            thousands(d.estimated_cost),
            d.actual_cost.map_or("-".into(), thousands),
            format_timestamp(&j.created_at),
        ]);
    }
    outln!("{table}");
    Ok(())
}

pub async fn show(ctx: &Ctx, id: &str) -> CliResult {
    let shown = ctx.open().await?.job(id).await.map_err(job_hint)?;
    if ctx.json {
        return print_json(&shown);
    }
    print_job(&shown.job);
    outln!();
    outln!("History:");
    for e in &shown.events {
        outln!(
            "  {}  {:<8} {:<7} {}",
            format_timestamp(&e.created_at),
            e.source,
            e.level,
            e.message
        );
    }
    Ok(())
}

pub async fn create(ctx: &Ctx, t: JobTargetArgs) -> CliResult {
    let tl = ctx.open().await?;
    let bar = spinner(&format!("building the dataset of {}", t.model_id), ctx.json);
    let job = tl.create_job(&target(&t)).await;
    bar.finish_and_clear();
    emit_job(ctx, &job.map_err(job_hint)?)
}

pub async fn start(ctx: &Ctx, id: &str) -> CliResult {
    let tl = ctx.open().await?;
    let result = tl.start_job(id).await;
    finish(ctx, tl, id, result, "start").await
}

pub async fn cancel(ctx: &Ctx, id: &str) -> CliResult {
    let tl = ctx.open().await?;
    let result = tl.cancel_job(id).await;
    finish(ctx, tl, id, result, "cancel").await
}

pub async fn sync(ctx: &Ctx, id: Option<String>, wait: bool, timeout: Option<u64>) -> CliResult {
    let tl = ctx.open().await?;
    let result = if wait {
        let mut options = WaitOptions::default();
        options.timeout_secs = timeout.unwrap_or(options.timeout_secs);
        tl.wait_jobs(id.as_deref(), &options).await
    } else {
        tl.sync_jobs(id.as_deref()).await
    };
    let outcome = match (result, &id) {
        (Ok(outcome), _) => outcome,
        (Err(e), Some(id)) => return finish(ctx, tl, id, Err(e), "sync").await,
        (Err(e), None) => return Err(job_hint(e)),
    };
    if ctx.json {
        print_json(&outcome)?;
    }
    match &outcome {
        SyncOutcome::Job(job) => {
            if !ctx.json {
                print_job(job);
            }
            Ok(())
        }
        SyncOutcome::All(all) => {
            if !ctx.json {
                if all.synced.is_empty() {
                    outln!("No jobs in flight.");
                }
                for r in &all.synced {
                    match &r.error {
                        None => outln!("✓ {}  {}  {} → {}", r.id, r.model_id, r.before, r.after),
                        Some(e) => outln!("✗ {}  {}  {}: {e}", r.id, r.model_id, r.before),
                    }
                }
            }
            if all.has_errors() {
                return Err(CliError::failure("some jobs could not be synced"));
            }
            Ok(())
        }
    }
}

/// Prints the job after `what`; on an error prints the job as stored and fails.
async fn finish(
    ctx: &Ctx,
    tl: &Tuneloop,
    id: &str,
    result: tuneloop::Result<FineTuneJob>,
    what: &str,
) -> CliResult {
    match result {
        Ok(job) => emit_job(ctx, &job),
        Err(e) => {
            if !ctx.json {
                if let Ok(shown) = tl.job(id).await {
                    print_job(&shown.job);
                }
            }
            let mut err = job_hint(e);
            err.message = format!("{what} of job {id} failed: {}", err.full_message());
            err.causes.clear();
            Err(err)
        }
    }
}

fn emit_job(ctx: &Ctx, job: &FineTuneJob) -> CliResult {
    if ctx.json {
        print_json(job)
    } else {
        print_job(job);
        Ok(())
    }
}
