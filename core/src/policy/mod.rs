//! The fine-tuning trigger policy: "should this model be fine-tuned now?".
//!
//! [`decide`] is a pure function of [`PolicyInputs`] (figures gathered from a store, a
//! dataset manifest and a credit ledger by [`crate::jobs::gather_inputs`]) and a [`PolicyConfig`]
//! (the `[policy]` section of `tuneloop.toml`). It returns a [`Decision`] that lists every
//! check with what was observed and what was required, so a "no" explains itself.
//!
//! ```
//! use tuneloop::model::parse_timestamp;
//! use tuneloop::policy::{decide, estimate_cost, PolicyConfig, PolicyInputs};
//!
//! let inputs = PolicyInputs {
//!     now: parse_timestamp("2026-11-23T00:00:00Z").unwrap(),
//!     feedback_since_last_job: 420,
//!     negative_rate: Some(0.18),
//!     baseline_negative_rate: Some(0.11),
//!     usable_examples: 120,
//!     last_job_finished_at: None,
//!     active_job_id: None,
//!     available_credits: Some(500),
//!     estimated_cost: Some(estimate_cost(90_000, 3, 25)),
//! };
//! let decision = decide(&inputs, &PolicyConfig::default());
//! assert!(decision.fine_tune);
//! assert_eq!(decision.checks.len(), 6);
//! ```

mod check;
mod config;
mod cost;
mod decide;

pub use check::{Check, CheckName, Decision};
pub use config::PolicyConfig;
pub use cost::{estimate_cost, Prices};
pub use decide::{decide, PolicyInputs};
