//! # tuneloop
//!
//! Turn end-user feedback on LLM responses into a better model. Record responses and
//! feedback in an embedded SQLite file (or in memory), measure quality per model, and list
//! the responses users were unhappy with.
//!
//! ```
//! use tuneloop::model::{Feedback, FeedbackKind, MetricsQuery, ResponseRecord, parse_timestamp};
//! use tuneloop::store::{FeedbackStore, FeedbackStoreExt, MemoryStore, RecordBatch};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = MemoryStore::new();
//! let t = parse_timestamp("2026-09-01T10:00:00Z").unwrap();
//! store.record(&RecordBatch {
//!     responses: vec![ResponseRecord::new("r1", "support-bot-v2", "Refund window?", "90 days", t)],
//!     feedback: vec![Feedback::new("f1", "r1", FeedbackKind::Thumbs { up: false }, t)],
//! }).await.unwrap();
//!
//! let report = store.metrics(&MetricsQuery::default()).await.unwrap();
//! let m = report.model("support-bot-v2").unwrap();
//! assert_eq!((m.figures.responses, m.figures.negative), (1, 1));
//! # });
//! ```
//!
//! The pieces:
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
//! - `jobs` (feature `mcp`): fine-tuning jobs (draft → start → sync → settle) and the
//!   `fine_tune` decision flow.

#![warn(missing_docs)]

pub mod analysis;
pub mod config;
pub mod credits;
pub mod dataset;
pub mod demo;
mod error;
pub mod io;
pub mod jobs;
pub mod mcp;
pub mod model;
pub mod policy;
pub mod schedule;
pub mod secrets;
pub mod service;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;

pub use error::{Error, LineError, Result};
pub use service::{Builder, McpSettings, Options, Tuneloop};
