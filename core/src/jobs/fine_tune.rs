//! [`JobManager::fine_tune`]: decide whether a model should be fine-tuned, and if so create
//! and start the job — once, however many callers ask at the same time.

use super::gather::gather_inputs;
use super::job::FineTuneJob;
use super::manager::{DraftRequest, JobManager};
use crate::dataset::Dataset;
use crate::model::time::now;
use crate::model::Timestamp;
use crate::policy::{decide, Decision, PolicyConfig};
use crate::sources::build_from_store;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How long one caller may hold a model's decision lease. The decision and the draft take
/// seconds; the lease only has to outlive a caller that died holding it.
pub const DECISION_LEASE: Duration = Duration::from_secs(600);

/// What to decide and, if the answer is yes, what to run.
#[derive(Debug, Clone)]
pub struct FineTuneRequest {
    /// The job to create (model, base model, account, method, dataset settings).
    pub draft: DraftRequest,
    /// The trigger thresholds.
    pub policy: PolicyConfig,
    /// Override the quality checks (never `no_active_job` or `credits`).
    pub force: bool,
    /// Decide only: create nothing, reserve nothing.
    pub dry_run: bool,
    /// The time the decision is made at (default: now).
    pub now: Option<Timestamp>,
    /// Who is asking (an instance id), for the decision lease; default: this process.
    pub holder: Option<String>,
}

impl FineTuneRequest {
    /// A request with the default policy, not forced, not a dry run.
    pub fn new(draft: DraftRequest) -> Self {
        FineTuneRequest {
            draft,
            policy: PolicyConfig::default(),
            force: false,
            dry_run: false,
            now: None,
            holder: None,
        }
    }
}

/// The decision and the job it started, if any. Serialises as
/// `{"decision":{...},"job":Job|null}` (+ `"start_error"` when the start failed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FineTuneOutcome {
    /// Whether to fine-tune, with every check.
    pub decision: Decision,
    /// The job created and started (`None` when declined or a dry run).
    pub job: Option<FineTuneJob>,
    /// Why the start failed, if it did; the job is kept (`draft` or `starting`) and
    /// `jobs start` / `jobs sync` retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_error: Option<String>,
}

impl JobManager {
    /// Decides whether `request.draft.model_id` should be fine-tuned now (the trigger
    /// policy, on a dataset built from the store), and if so creates the job with that
    /// dataset and starts it.
    ///
    /// Concurrent calls for one model, in any number of processes sharing the store, create
    /// at most one job: the decision runs under a lease in the store (`fine-tune/<model>`),
    /// and a job in flight fails the `no_active_job` check of every later decision. A call
    /// that finds the lease taken is [`Error::Conflict`].
    ///
    /// A forced request (`force`) that could not start a job whatever the checks say is an
    /// error naming what is missing, dry run or not: a base model without a price
    /// ([`Error::InvalidInput`] on `prices.<base model>`) or a model without a single usable
    /// example (`InvalidInput` on `dataset`). Unforced, those only fail checks of the decision.
    /// A forced decision declined by `no_active_job` or `credits` (which force never
    /// overrides) is an answer, not an error.
    pub async fn fine_tune(&self, request: &FineTuneRequest) -> Result<FineTuneOutcome> {
        request.policy.validate()?;
        if request.force {
            // Checked before the dataset is built: the cheap answer first.
            self.price(&request.draft.base_model)?;
        }
        let model = request.draft.model_id.clone();
        if request.dry_run {
            let (decision, _) = self.decision(request).await?;
            return Ok(FineTuneOutcome {
                decision,
                job: None,
                start_error: None,
            });
        }
        let lease = format!("fine-tune/{model}");
        let holder = request
            .holder
            .clone()
            .unwrap_or_else(|| format!("pid-{}-{}", std::process::id(), now().timestamp_micros()));
        let Some(_held) = self
            .store
            .try_lease(&lease, &holder, DECISION_LEASE)
            .await?
        else {
            return Err(Error::Conflict {
                kind: "fine-tune",
                id: model,
                reason: "another fine-tune decision for this model is in progress".into(),
            });
        };
        let decided = self.decide_and_draft(request).await;
        // The draft (an active job) now guards the model; the lease can go.
        let released = self.store.release_lease(&lease, &holder).await;
        let (decision, job) = decided?;
        released?;
        let Some(job) = job else {
            return Ok(FineTuneOutcome {
                decision,
                job: None,
                start_error: None,
            });
        };
        match self.start(&job.id).await {
            Ok(job) => Ok(FineTuneOutcome {
                decision,
                job: Some(job),
                start_error: None,
            }),
            Err(e) => Ok(FineTuneOutcome {
                decision,
                job: Some(self.get(&job.id).await?),
                start_error: Some(crate::secrets::scrub(&e.with_causes()).into_owned()),
            }),
        }
    }

    async fn decide_and_draft(
        &self,
        request: &FineTuneRequest,
    ) -> Result<(Decision, Option<FineTuneJob>)> {
        let (decision, dataset) = self.decision(request).await?;
        if !decision.fine_tune {
            return Ok((decision, None));
        }
        let Some(dataset) = dataset else {
            return Ok((decision, None));
        };
        let job = self
            .create_draft_with(&request.draft, &dataset, Some(decision.clone()))
            .await?;
        Ok((decision, Some(job)))
    }

    /// The decision, and the dataset it was made on (`None` when no example could be made).
    async fn decision(&self, request: &FineTuneRequest) -> Result<(Decision, Option<Dataset>)> {
        let d = &request.draft;
        let at = request.now.unwrap_or_else(now);
        // Built with a floor of one example: the policy's own threshold decides, and the
        // decision shows the real count.
        let mut config = d.dataset_config();
        config.min_examples = 1;
        let dataset = match build_from_store(self.store.as_ref(), &d.model_id, &config).await {
            Ok(ds) => Some(ds),
            Err(Error::InvalidInput { field, .. }) if field == "min_examples" => None,
            Err(e) => return Err(e),
        };
        if request.force && dataset.is_none() {
            return Err(Error::invalid(
                "dataset",
                format!(
                    "model {} has no usable training example in format {}; a forced \
                     fine-tune needs at least one",
                    d.model_id,
                    config.format.as_str()
                ),
            ));
        }
        let mut manifest = dataset.as_ref().map(|ds| ds.manifest().clone());
        if let (Some(m), Some(n)) = (
            manifest.as_mut(),
            d.hyperparameters.and_then(|h| h.n_epochs),
        ) {
            m.estimated_epochs = u64::from(n);
        }
        let inputs = gather_inputs(
            self.store.as_ref(),
            Some(self.ledger.as_ref()),
            &d.account,
            &d.model_id,
            manifest.as_ref(),
            self.prices.get(&d.base_model),
            &request.policy,
            at,
        )
        .await?;
        let mut decision = decide(&inputs, &request.policy);
        if request.force {
            decision = decision.forced();
        }
        Ok((decision, dataset))
    }
}
