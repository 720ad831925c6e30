//! `tuneloop jobs list|show|create|start|cancel|sync`.

use super::loop_ctx::{draft_request, manager};
use super::{print_json, Ctx};
use crate::args::JobTargetArgs;
use crate::output::thousands;
use crate::progress::spinner;
use crate::{CliError, CliResult};
use std::time::{Duration, Instant};
use tuneloop::jobs::{FineTuneJob, JobStatus};
use tuneloop::model::format_timestamp;
use tuneloop::store::JobFilter;

pub async fn list(
    ctx: &Ctx,
    model: Option<String>,
    status: Option<String>,
    limit: usize,
) -> CliResult {
    if let Some(s) = &status {
        if JobStatus::parse(s).is_none() {
            let all: Vec<&str> = JobStatus::ALL.iter().map(|s| s.as_str()).collect();
            return Err(CliError::usage(format!(
                "--status: `{s}` is not one of {}",
                all.join(", ")
            )));
        }
    }
    let jobs = manager(ctx).await?;
    let list = jobs
        .list(&JobFilter {
            model_id: model,
            status,
            limit,
        })
        .await?;
    if ctx.json {
        return print_json(&serde_json::json!({ "jobs": list }));
    }
    if list.is_empty() {
        outln!("No jobs.");
        return Ok(());
    }
    let mut table = comfy_table::Table::new();
    table
        .load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
        .set_header(vec![
            "Job",
            "Model",
            "Base model",
            "Status",
            "Provider job",
            "Estimated",
            "Charged",
            "Created",
        ]);
    for j in &list {
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
    let jobs = manager(ctx).await?;
    let job = jobs.get(id).await?;
    let events = jobs.events(id).await?;
    if ctx.json {
        let mut value = serde_json::to_value(&job)
            .map_err(|e| CliError::failure(format!("cannot serialise the job: {e}")))?;
        value["events"] = serde_json::to_value(&events)
            .map_err(|e| CliError::failure(format!("cannot serialise the events: {e}")))?;
        return print_json(&value);
    }
    print_job(&job);
    outln!();
    outln!("History:");
    for e in &events {
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
    let request = draft_request(ctx, &t)?;
    let jobs = manager(ctx).await?;
    let bar = spinner(&format!("building the dataset of {}", t.model_id), ctx.json);
    let job = jobs.create_draft(&request).await;
    bar.finish_and_clear();
    let job = job.map_err(super::unknown_model_hint)?;
    emit_job(ctx, &job)
}

pub async fn start(ctx: &Ctx, id: &str) -> CliResult {
    let jobs = manager(ctx).await?;
    let result = jobs.start(id).await;
    finish(ctx, &jobs, id, result, "start").await
}

pub async fn cancel(ctx: &Ctx, id: &str) -> CliResult {
    let jobs = manager(ctx).await?;
    let result = jobs.cancel(id).await;
    finish(ctx, &jobs, id, result, "cancel").await
}

pub async fn sync(ctx: &Ctx, id: Option<String>, wait: bool, timeout: u64) -> CliResult {
    let jobs = manager(ctx).await?;
    let deadline = Instant::now() + Duration::from_secs(timeout);
    let Some(id) = id else {
        loop {
            let reports = jobs.sync_all().await?;
            let busy = reports
                .iter()
                .any(|r| r.error.is_none() && !r.after.is_terminal());
            if !wait || !busy || Instant::now() >= deadline {
                if ctx.json {
                    print_json(&serde_json::json!({ "synced": reports }))?;
                } else if reports.is_empty() {
                    outln!("No jobs in flight.");
                } else {
                    for r in &reports {
                        match &r.error {
                            None => {
                                outln!("✓ {}  {}  {} → {}", r.id, r.model_id, r.before, r.after)
                            }
                            Some(e) => outln!("✗ {}  {}  {}: {e}", r.id, r.model_id, r.before),
                        }
                    }
                }
                if reports.iter().any(|r| r.error.is_some()) {
                    return Err(CliError::failure("some jobs could not be synced"));
                }
                return Ok(());
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    };
    loop {
        let result = jobs.sync(&id).await;
        let done = match &result {
            Ok(j) => !wait || j.status.is_terminal() || j.status == JobStatus::Draft,
            Err(_) => true,
        };
        if done || Instant::now() >= deadline {
            return finish(ctx, &jobs, &id, result, "sync").await;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Prints the job after `what`; on an error prints the job as stored and fails.
async fn finish(
    ctx: &Ctx,
    jobs: &tuneloop::jobs::JobManager,
    id: &str,
    result: tuneloop::Result<FineTuneJob>,
    what: &str,
) -> CliResult {
    match result {
        Ok(job) => emit_job(ctx, &job),
        Err(e) => {
            if let Ok(job) = jobs.get(id).await {
                if !ctx.json {
                    print_job(&job);
                }
            }
            let mut err = CliError::from(e);
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

/// A job in a few lines.
pub fn print_job(j: &FineTuneJob) {
    let d = &j.details;
    outln!(
        "job {}  {}  ({} → {})",
        j.id,
        j.status,
        j.model_id,
        d.base_model
    );
    outln!(
        "  dataset      {} train + {} validation examples ({}), {} billing tokens × {} epochs",
        d.dataset.train_examples,
        d.dataset.validation_examples,
        d.dataset.format.as_str(),
        thousands(d.dataset.billing_tokens),
        d.dataset.epochs
    );
    let charged = match d.actual_cost {
        Some(c) => format!("charged {}", thousands(c)),
        None if d.hold_id.is_some() => "on hold".to_string(),
        None => "nothing reserved".to_string(),
    };
    outln!(
        "  credits      estimated {} at {}/1M tokens on {}; {charged}",
        thousands(d.estimated_cost),
        d.price_per_million,
        d.account
    );
    if let Some(p) = &d.provider_job_id {
        outln!(
            "  provider     {} job {p}{}",
            d.provider.as_deref().unwrap_or("?"),
            d.trained_tokens
                .map(|t| format!(", {} trained tokens", thousands(t)))
                .unwrap_or_default()
        );
    }
    if let Some(m) = &d.fine_tuned_model {
        outln!("  model        {m}");
    }
    if let Some(e) = &d.error {
        outln!("  error        {}: {}", e.code, e.message);
    }
    if let Some(e) = &d.last_error {
        outln!("  last error   {e}");
    }
}
