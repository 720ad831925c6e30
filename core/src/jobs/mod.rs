//! Fine-tuning jobs: created as drafts with their dataset and cost, started on a provider
//! with credits on hold, synced through the provider's state machine, settled exactly once.
//!
//! [`JobManager`] wires a [`crate::store::FeedbackStore`] (jobs, their files and events), a
//! [`crate::credits::CreditLedger`] and a [`crate::mcp::FineTuningProvider`] together.
//! [`JobManager::fine_tune`] adds the trigger policy in front ("should this model be
//! fine-tuned now?"). The reading that the pure dataset builder and policy need is here too:
//! [`build_from_store`] and [`gather_inputs`]. The life of a job is in [`JobStatus`]; the guarantees under crashes,
//! retries and races are on [`JobManager`].
//!
//! ```
//! use std::sync::Arc;
//! use tuneloop::credits::CreditLedger;
//! use tuneloop::demo::{generate, DemoOptions};
//! use tuneloop::jobs::{DraftRequest, JobManager, JobStatus};
//! use tuneloop::mcp::SimulatedProvider;
//! use tuneloop::policy::Prices;
//! use tuneloop::store::{FeedbackStore, FeedbackStoreExt, MemoryStore};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let store = Arc::new(MemoryStore::new());
//! store.record(&generate(&DemoOptions::default()).batch).await.unwrap();
//! let ledger = store.ledger().unwrap();
//! ledger.grant("acme", 1_000_000, "topup-1").await.unwrap();
//! let provider = Arc::new(SimulatedProvider::manual());
//! let prices: Prices = serde_json::from_str(r#"{"gpt-4.1-mini": 5}"#).unwrap();
//! let jobs = JobManager::new(store.clone(), ledger.clone(), provider.clone(), prices);
//!
//! let job = jobs
//!     .create_draft(&DraftRequest::new("support-bot-v2", "gpt-4.1-mini", "acme"))
//!     .await
//!     .unwrap();
//! let job = jobs.start(&job.id).await.unwrap();
//! assert_eq!(job.status, JobStatus::ValidatingFiles);
//! provider.advance(3); // the simulated trainer finishes
//! let job = jobs.sync(&job.id).await.unwrap();
//! assert_eq!(job.status, JobStatus::Succeeded);
//! let charged = job.details.actual_cost.unwrap();
//! assert_eq!(ledger.balance("acme").await.unwrap().posted, charged);
//! # });
//! ```

mod fine_tune;
mod gather;
mod job;
mod lifecycle;
mod manager;
mod status;

pub use crate::sources::build_from_store;
pub use fine_tune::{FineTuneOutcome, FineTuneRequest, DECISION_LEASE};
pub use gather::{gather_inputs, is_active_status, job_finished_at, ACTIVE_STATUSES};
pub use job::{FineTuneJob, JobDataset, JobDetails, JobError, Settlement};
pub use lifecycle::SyncReport;
pub use manager::{format_for, DraftRequest, JobManager};
pub use status::{can_transition, JobStatus};
