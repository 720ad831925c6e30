//! # tuneloop
//!
//! Turn end-user feedback on LLM responses into a better model. Record responses and
//! feedback, measure quality per model, find error patterns and their trends, build clean
//! fine-tuning datasets, decide when to fine-tune, and run the job on a fine-tuning provider,
//! paid from a credit ledger that never charges twice.
//!
//! Everything goes through one handle, [`Tuneloop`]: open it on a database (an embedded
//! SQLite file by default, PostgreSQL, or memory), then call one method per operation. The
//! CLI, the HTTP API and the language bindings are thin mappings onto it. The whole loop, on
//! a simulated fine-tuning provider:
//!
//! ```
//! use std::sync::Arc;
//! use tuneloop::config::Config;
//! use tuneloop::demo::{generate, DemoOptions};
//! use tuneloop::mcp::SimulatedProvider;
//! use tuneloop::model::{FeedbackKind, Feedback, MetricsQuery, ResponseRecord, parse_timestamp};
//! use tuneloop::service::{AnalyzeOptions, DatasetRequest, FineTuneOptions, FineTuneTarget, GrantOptions};
//! use tuneloop::store::RecordBatch;
//! use tuneloop::{Options, Tuneloop};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! // Settings: which base model a model is trained from, who pays, and the price.
//! let config = Config::parse(
//!     "[fine_tune]\nbase_model = \"gpt-4.1-mini-2025-04-14\"\naccount = \"acme\"\n\
//!      [prices]\n\"gpt-4.1-mini-2025-04-14\" = 5\n",
//!     "example",
//! ).unwrap();
//! let provider = Arc::new(SimulatedProvider::manual());
//! let tl = Tuneloop::open(Options {
//!     database_url: Some("memory://".into()), // or "sqlite://feedback.db", "postgres://..."
//!     config,
//!     provider: Some(provider.clone()),
//!     ..Default::default()
//! }).await.unwrap();
//!
//! // Record a response and the feedback a user gave it (atomic, idempotent)...
//! let at = parse_timestamp("2026-11-20T10:00:00Z").unwrap();
//! tl.record(&RecordBatch {
//!     responses: vec![ResponseRecord::new("r1", "support-bot-v2", "Refund window?", "90 days", at)],
//!     feedback: vec![Feedback::new("f1", "r1", FeedbackKind::Thumbs { up: false }, at)],
//! }).await.unwrap();
//! // ...and a few weeks of synthetic history, so there is something to learn from.
//! tl.record(&generate(&DemoOptions::default()).batch).await.unwrap();
//!
//! // Quality per model, error patterns, a fine-tuning dataset.
//! let metrics = tl.metrics(&MetricsQuery::default()).await.unwrap();
//! assert_eq!(metrics.models.len(), 3);
//! let analysis = tl.analyze(&AnalyzeOptions::default()).await.unwrap();
//! assert!(!analysis.patterns.is_empty());
//! let dataset = tl.build_dataset(&DatasetRequest::new("support-bot-v2")).await.unwrap();
//! assert!(dataset.manifest.counts.train > 0);
//!
//! // Credits, the decision (every check explained), the job, and its settlement.
//! tl.grant(&GrantOptions::new("acme", 1_000)).await.unwrap();
//! let outcome = tl.fine_tune(&FineTuneOptions {
//!     target: FineTuneTarget::new("support-bot-v2"),
//!     as_of: Some(DemoOptions::default().end), // decide as of the history's end (default: now)
//!     ..Default::default()
//! }).await.unwrap();
//! assert!(outcome.decision.fine_tune, "{:?}", outcome.decision.checks);
//! let job = outcome.job.unwrap();
//! provider.advance(3); // the simulated provider trains in steps
//! tl.sync_jobs(Some(&job.id)).await.unwrap();
//! let job = tl.job(&job.id).await.unwrap().job;
//! assert_eq!(job.status.to_string(), "succeeded");
//! let balance = tl.balance("acme").await.unwrap();
//! assert_eq!(balance.posted, job.details.actual_cost.unwrap()); // charged once
//! tl.close().await.unwrap();
//! # });
//! ```
//!
//! The pieces underneath, for when you need them directly:
//! - [`model`]: plain serde types (responses, feedback, categories, metrics reports).
//! - [`analysis`]: pure functions (metrics, problematic responses, statistics).
//! - [`store`]: the [`store::FeedbackStore`] trait with memory and SQLite backends.
//! - [`credits`]: the [`credits::CreditLedger`] trait (two-phase credit holds) and its backends.
//! - [`policy`]: the fine-tuning trigger policy (explainable checks, cost estimate).
//! - [`io`]: the JSONL import/export format.
//! - [`config`]: the settings file, `tuneloop.toml`.
//! - [`schedule`]: the weekly job's cron schedule (and, with `mcp`, the job itself).
//! - [`secrets`]: hiding credentials in URLs and messages before they are shown or stored.
//! - [`demo`]: a seeded synthetic feedback history.
//! - `mcp` (feature `mcp`): the MCP client and the fine-tuning provider over it.
//! - `http` (feature `http`): the HTTP API — an axum router over the facade, `Api::handle`
//!   without a socket, and `serve` (see docs/http.md).
//! - `jobs` (feature `mcp`): fine-tuning jobs (draft → start → sync → settle) and the
//!   `fine_tune` decision flow.

#![warn(missing_docs)]

pub mod analysis;
pub mod config;
pub mod credits;
pub mod dataset;
pub mod demo;
mod error;
#[cfg(feature = "http")]
pub mod http;
pub mod io;
pub mod jobs;
pub mod mcp;
pub mod model;
pub mod policy;
mod runtime;
pub mod schedule;
pub mod secrets;
pub mod service;
pub mod sources;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;

pub use error::{Error, LineError, Result};

/// The README's Rust snippets, compiled with the doc tests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
pub use service::{Builder, McpSettings, Options, Tuneloop};
