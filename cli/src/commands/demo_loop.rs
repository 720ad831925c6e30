//! The demo's fine-tuning loop: decision → job → succeeded → credits charged, on a
//! **simulated** provider (nothing is trained) unless --mcp-url names a real server.

use super::loop_ctx::{manager_on, provider};
use super::Ctx;
use crate::output::{balance_table, thousands};
use crate::CliResult;
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tuneloop::credits::Balance;
use tuneloop::demo::DemoOptions;
use tuneloop::jobs::{DraftRequest, FineTuneJob, FineTuneRequest, JobStatus};
use tuneloop::mcp::{FineTuningProvider, SimulatedProvider};
use tuneloop::policy::Decision;
use tuneloop::store::{FeedbackStore, JobFilter};

/// The demo's credit account.
pub const ACCOUNT: &str = "demo";
/// The model the demo fine-tunes, and the base model it trains from.
const MODEL: &str = "support-bot-v2";
const BASE_MODEL: &str = "gpt-4.1-mini-2025-04-14";
/// Credits per 1M training tokens the demo charges for its base model (unless
/// tuneloop.toml prices it), and the credits it grants the demo account once.
const DEMO_PRICE: u64 = 1_000;
const DEMO_GRANT: u64 = 1_000;
/// Longest wait for a real server's job to finish.
const REAL_TIMEOUT: Duration = Duration::from_secs(180);

/// What the loop did (the demo's `fine_tune` JSON).
#[derive(Debug, Serialize)]
pub struct LoopReport {
    /// `simulated` or the server's URL.
    pub provider: String,
    /// Whether nothing was trained.
    pub simulated: bool,
    /// The decision (`None` when an earlier demo run's job was found).
    pub decision: Option<Decision>,
    /// The job.
    pub job: Option<FineTuneJob>,
    /// Statuses the job went through in this run.
    pub statuses: Vec<JobStatus>,
    /// A job from an earlier run of the demo was found and shown instead.
    pub earlier_job: bool,
    /// The account before and after.
    pub balance_before: Balance,
    pub balance_after: Balance,
}

pub async fn run(
    ctx: &Ctx,
    store: Arc<dyn FeedbackStore>,
    options: &DemoOptions,
    json: bool,
) -> CliResult<LoopReport> {
    let (provider, sim): (Arc<dyn FineTuningProvider>, Option<Arc<SimulatedProvider>>) =
        match &ctx.mcp_url {
            Some(_) => (provider(ctx)?, None),
            None => {
                let sim = Arc::new(SimulatedProvider::manual());
                (sim.clone(), Some(sim))
            }
        };
    let mut ctx = ctx.clone();
    if ctx.config.prices.get(BASE_MODEL).is_none() {
        ctx.config
            .prices
            .per_million
            .insert(BASE_MODEL.to_string(), DEMO_PRICE);
    }
    let jobs = manager_on(&ctx, store, provider.clone())?;
    let ledger = jobs.ledger().clone();
    // Keyed by the seed: running the demo again grants nothing more.
    ledger
        .grant(ACCOUNT, DEMO_GRANT, &format!("demo-grant-{}", options.seed))
        .await?;
    let balance_before = ledger.balance(ACCOUNT).await?;
    let mut report = LoopReport {
        provider: ctx
            .mcp_url
            .as_deref()
            .map_or_else(|| "simulated".into(), tuneloop::secrets::redact_url),
        simulated: sim.is_some(),
        decision: None,
        job: None,
        statuses: Vec::new(),
        earlier_job: false,
        balance_before: balance_before.clone(),
        balance_after: balance_before,
    };
    let earlier = jobs
        .list(&JobFilter {
            model_id: Some(MODEL.into()),
            limit: 1,
            ..Default::default()
        })
        .await?;
    if let Some(job) = earlier.into_iter().next() {
        report.earlier_job = true;
        report.decision = job.details.decision.clone();
        report.job = Some(job);
        return Ok(report);
    }

    let mut draft = DraftRequest::new(MODEL, BASE_MODEL, ACCOUNT);
    draft.dataset = ctx.config.dataset.clone();
    draft.dataset.until = Some(options.end);
    let mut request = FineTuneRequest::new(draft);
    request.policy = ctx.config.policy.clone();
    // The demo's history ends on a fixed date; decide as of then.
    request.now = Some(options.end);
    let bar = crate::progress::spinner("running the fine-tuning loop", json);
    let outcome = jobs.fine_tune(&request).await?;
    report.decision = Some(outcome.decision.clone());
    if let Some(mut job) = outcome.job {
        report.statuses.push(job.status);
        let started = Instant::now();
        while !job.status.is_terminal() && job.status != JobStatus::Draft {
            match &sim {
                Some(sim) => sim.advance(1),
                None => {
                    if started.elapsed() > REAL_TIMEOUT {
                        break;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
            job = jobs.sync(&job.id).await?;
            if report.statuses.last() != Some(&job.status) {
                report.statuses.push(job.status);
            }
        }
        report.job = Some(job);
    }
    bar.finish_and_clear();
    report.balance_after = ledger.balance(ACCOUNT).await?;
    Ok(report)
}

pub fn print(r: &LoopReport) {
    if r.simulated {
        outln!("Fine-tuning loop on a SIMULATED provider (in-process; nothing is trained — pass --mcp-url for a real server)");
    } else {
        outln!("Fine-tuning loop on {}", r.provider);
    }
    if r.earlier_job {
        outln!("An earlier demo run already made this job (run the demo on a fresh --db to see the loop again):");
    }
    if let Some(d) = &r.decision {
        super::fine_tune::print_decision(d);
    }
    let Some(job) = &r.job else {
        outln!("No job started.");
        return;
    };
    if !r.statuses.is_empty() {
        let path: Vec<&str> = r.statuses.iter().map(|s| s.as_str()).collect();
        outln!("job {}: {}", job.id, path.join(" → "));
    }
    super::jobs::print_job(job);
    if !r.earlier_job {
        let charged = r
            .balance_after
            .posted
            .saturating_sub(r.balance_before.posted);
        outln!(
            "Credits charged: {} (estimated {}); account {} now:",
            thousands(charged),
            thousands(job.details.estimated_cost),
            ACCOUNT
        );
        outln!("{}", balance_table(&r.balance_after));
    }
}
