//! `tuneloop jobs list|show|create|start|cancel|sync`.

use super::{print_json, Ctx};
use crate::args::JobTargetArgs;
use crate::output::thousands;
use crate::progress::spinner;
use crate::{CliError, CliResult};
use tuneloop::jobs::FineTuneJob;
use tuneloop::model::format_timestamp;
use tuneloop::service::{FineTuneTarget, JobQuery, SyncOutcome, WaitOptions};
use tuneloop::Tuneloop;

/// The facade's target from `--model-id`, `--base-model`, `--account`, `--method`,
/// `--n-epochs` (what is not given comes from `[fine_tune]`, in the facade).
pub fn target(t: &JobTargetArgs) -> FineTuneTarget {
    FineTuneTarget {
        model_id: t.model_id.clone(),
        base_model: t.base_model.clone(),
        account: t.account.clone(),
        method: t.method.map(Into::into),
        n_epochs: t.n_epochs,
    }
}

/// A fine-tuning error in the command line's words: the flag that sets the field, how to
/// configure the server, what an unknown model means.
pub fn job_hint(e: tuneloop::Error) -> CliError {
    match e {
        tuneloop::Error::InvalidInput { field, reason } if field == "mcp.url" => {
            CliError::usage(format!(
                "{reason}\nhint: pass --mcp-url URL, set TUNELOOP_MCP_URL or [mcp] url in tuneloop.toml"
            ))
        }
        tuneloop::Error::InvalidInput { field, reason }
            if matches!(
                field.as_str(),
                "model_id" | "base_model" | "account" | "method" | "n_epochs" | "status"
            ) =>
        {
            CliError::usage(format!("--{}: {reason}", field.replace('_', "-")))
        }
        other => super::unknown_model_hint(other),
    }
}

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
