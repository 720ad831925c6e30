//! The weekly job: an analysis run, a fine-tune decision per model, and a sync of every job
//! in flight — run by one instance at a time, once per schedule slot.

use crate::analysis::pipeline::AnalysisOptions;
use crate::config::FineTuneSection;
use crate::dataset::DatasetConfig;
use crate::jobs::{DraftRequest, FineTuneOutcome, FineTuneRequest, JobManager, SyncReport};
use crate::model::time::now;
use crate::model::{Hyperparameters, Timestamp};
use crate::policy::PolicyConfig;
use crate::sources::analyze_store;
use crate::store::{claim_lease, Lease, LeaseClaim, LeaseKeeper, RunRecord};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The lease every instance competes for.
pub const LEASE: &str = "schedule/weekly";

/// What one run does.
#[derive(Debug, Clone)]
pub struct WeeklyOptions {
    /// The slot the run is for (the cron time it was due at).
    pub slot: Timestamp,
    /// Run even if a run for this slot is already recorded (`schedule --once`).
    pub rerun: bool,
    /// Models to consider (empty: every model in the store).
    pub models: Vec<String>,
    /// What to train on what, and who pays.
    pub fine_tune: FineTuneSection,
    /// The trigger thresholds.
    pub policy: PolicyConfig,
    /// Dataset settings.
    pub dataset: DatasetConfig,
    /// Decide only; create no job (also what happens without a fine-tuning server).
    pub dry_run: bool,
    /// This instance's id, for the lease: [`crate::store::LeaseHolder::encode`] of
    /// [`crate::store::LeaseHolder::this_process`] lets another instance on this host take
    /// the lease over at once if this process dies; any other string is only waited out.
    pub holder: String,
    /// How long the lease outlives a holder that stops renewing it. The run renews it every
    /// third of this while it works ([`LeaseKeeper`]), so it can be short (the CLI's
    /// default: 2 minutes).
    pub lease_ttl: Duration,
}

/// One model's decision in a weekly run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelDecision {
    /// The model.
    pub model_id: String,
    /// The base model it would be trained from (`None`: none configured).
    pub base_model: Option<String>,
    /// The decision and the job started, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<FineTuneOutcome>,
    /// Why no decision could be made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a weekly run did (also saved as a run of kind `weekly`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WeeklyReport {
    /// The run's id (`weekly-20261130T0300Z`).
    pub run_id: String,
    /// The slot it ran for.
    #[serde(with = "crate::model::time::serde_ts")]
    pub slot: Timestamp,
    /// Why it did nothing (another instance holds the lease, the slot already ran).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// The lease another instance holds, when that is why the run was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_by: Option<Lease>,
    /// The lease of a holder found dead (its process gone from this host) that this run
    /// took over.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub took_over_from: Option<Lease>,
    /// The saved analysis run (`runs show ID`).
    pub analysis_run_id: Option<String>,
    /// Error patterns found.
    pub patterns: usize,
    /// The titles of the top suggestions.
    pub top_suggestions: Vec<String>,
    /// One decision per model.
    pub decisions: Vec<ModelDecision>,
    /// Jobs synced.
    pub synced: Vec<SyncReport>,
}

fn run_id(slot: Timestamp) -> String {
    use chrono::Timelike;
    // Minutes name the usual slots; a schedule with seconds (`*/10 * * * * *`) needs them
    // too, or two slots of one minute would share a run.
    if slot.second() == 0 {
        format!("weekly-{}", slot.format("%Y%m%dT%H%MZ"))
    } else {
        format!("weekly-{}", slot.format("%Y%m%dT%H%M%SZ"))
    }
}

/// Runs the weekly job for `options.slot` if no other instance is running it and it has
/// not run for that slot yet (unless `rerun`). `jobs` runs the decisions and syncs; give it
/// an [`crate::mcp::UnconfiguredProvider`] and `dry_run` when there is no server.
pub async fn run_weekly(jobs: &JobManager, options: &WeeklyOptions) -> Result<WeeklyReport> {
    let store = jobs.store();
    let mut report = WeeklyReport {
        run_id: run_id(options.slot),
        slot: options.slot,
        skipped: None,
        held_by: None,
        took_over_from: None,
        analysis_run_id: None,
        patterns: 0,
        top_suggestions: Vec::new(),
        decisions: Vec::new(),
        synced: Vec::new(),
    };
    if options.rerun {
        report.run_id = format!("{}-once-{}", report.run_id, now().timestamp_micros());
    }
    match claim_lease(store.as_ref(), LEASE, &options.holder, options.lease_ttl).await? {
        LeaseClaim::Held { taken_from, .. } => report.took_over_from = taken_from,
        LeaseClaim::Busy(held) => {
            let who = held
                .as_ref()
                .map(|l| format!(": {}", l.describe()))
                .unwrap_or_default();
            report.skipped = Some(format!("another instance is running the weekly job{who}"));
            report.held_by = held;
            return Ok(report);
        }
    }
    // Renewed while the run works, so a short TTL suffices and a crash frees it quickly.
    let mut keeper = LeaseKeeper::start(store.clone(), LEASE, &options.holder, options.lease_ttl);
    let result = tokio::select! {
        r = run_locked(jobs, options, &mut report) => r,
        // Another instance has the lease now: stop rather than run the job twice at once.
        why = keeper.lost() => Err(Error::Conflict {
            kind: "lease",
            id: LEASE.to_string(),
            reason: format!("the weekly run stopped: its lease was lost ({why})"),
        }),
    };
    keeper.stop();
    let released = store.release_lease(LEASE, &options.holder).await;
    result?;
    released?;
    Ok(report)
}

async fn run_locked(jobs: &JobManager, o: &WeeklyOptions, report: &mut WeeklyReport) -> Result<()> {
    let store = jobs.store();
    if !o.rerun && store.get_run(&report.run_id).await?.is_some() {
        report.skipped = Some(format!(
            "the run for this slot ({}) is already done",
            report.run_id
        ));
        return Ok(());
    }
    // 1. The analysis, saved like `analyze --save`.
    let analysis = analyze_store(store.as_ref(), &AnalysisOptions::default()).await?;
    report.patterns = analysis.patterns.len();
    report.top_suggestions = analysis
        .suggestions
        .iter()
        .take(5)
        .map(|s| s.title.clone())
        .collect();
    let at = now();
    let analysis_id = format!("r-{}-weekly", at.format("%Y%m%d-%H%M%S-%3f"));
    let result = serde_json::to_value(&analysis)
        .map_err(|e| Error::invalid("analysis", format!("cannot be serialised: {e}")))?;
    store
        .save_run(&RunRecord {
            id: analysis_id.clone(),
            kind: "analysis".into(),
            created_at: at,
            params: serde_json::json!({"by": report.run_id}),
            result,
        })
        .await?;
    report.analysis_run_id = Some(analysis_id);

    // 2. A decision per model.
    let models = if o.models.is_empty() {
        store.stats().await?.models
    } else {
        o.models.clone()
    };
    for model in models {
        let base = o.fine_tune.base_model_for(&model).map(str::to_string);
        let Some(base_model) = base.clone() else {
            report.decisions.push(ModelDecision {
                model_id: model,
                base_model: None,
                outcome: None,
                error: Some(
                    "no base model: set [fine_tune] base_model (or base_models) in tuneloop.toml"
                        .into(),
                ),
            });
            continue;
        };
        let mut draft = DraftRequest::new(&model, base_model, &o.fine_tune.account);
        draft.method = o.fine_tune.method;
        draft.dataset = o.dataset.clone();
        draft.suffix = o.fine_tune.suffix.clone();
        draft.hyperparameters = o.fine_tune.n_epochs.map(|n| Hyperparameters {
            n_epochs: Some(n),
            ..Default::default()
        });
        let mut request = FineTuneRequest::new(draft);
        request.policy = o.policy.clone();
        request.dry_run = o.dry_run;
        request.holder = Some(o.holder.clone());
        let (outcome, error) = match jobs.fine_tune(&request).await {
            Ok(out) => (Some(out), None),
            // Saved with the run: no credential an error quotes may be stored.
            Err(e) => (
                None,
                Some(crate::secrets::scrub(&e.with_causes()).into_owned()),
            ),
        };
        report.decisions.push(ModelDecision {
            model_id: model,
            base_model: base,
            outcome,
            error,
        });
    }

    // 3. Every job in flight.
    if !o.dry_run {
        report.synced = jobs.sync_all().await?;
    }

    let result = serde_json::to_value(&*report)
        .map_err(|e| Error::invalid("report", format!("cannot be serialised: {e}")))?;
    store
        .save_run(&RunRecord {
            id: report.run_id.clone(),
            kind: "weekly".into(),
            created_at: now(),
            params: serde_json::json!({
                "slot": crate::model::format_timestamp(&o.slot),
                "models": o.models,
                "dry_run": o.dry_run,
            }),
            result,
        })
        .await
}
