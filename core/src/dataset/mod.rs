//! Fine-tuning dataset preparation: pure, deterministic functions from feedback to training
//! examples (redaction, deduplication, token counting, splitting, writing, validation).
//! Nothing here reads a store: `tuneloop::jobs::build_from_store` and the facade's
//! `Tuneloop::build_dataset` read the records and hand them to [`build()`].
//!
//! ```
//! use tuneloop::dataset::{build, DatasetConfig};
//! use tuneloop::model::{parse_timestamp, Feedback, FeedbackKind, ResponseRecord};
//!
//! let t = parse_timestamp("2026-09-01T10:00:00Z").unwrap();
//! let mut responses = Vec::new();
//! let mut feedback = Vec::new();
//! for i in 0..12 {
//!     let id = format!("r{i}");
//!     responses.push(ResponseRecord::new(&id, "bot", format!("Question {i}?"), format!("Answer {i}."), t));
//!     feedback.push(Feedback::new(format!("f{i}"), &id, FeedbackKind::Thumbs { up: true }, t));
//! }
//! let ds = build(&responses, &feedback, "bot", &DatasetConfig::default()).unwrap();
//! let m = ds.manifest();
//! assert_eq!(m.counts.train + m.counts.validation, 12);
//! assert!(m.billing_tokens > 0);
//! ```

pub mod build;
pub mod config;
pub mod dedup;
pub mod examples;
pub mod manifest;
pub mod redact;
pub mod split;
pub mod tokens;
pub mod validate;
pub mod write;

pub use build::{
    build, Builder, Dataset, LINEAGE_FILE, MANIFEST_FILE, TRAIN_FILE, VALIDATION_FILE,
};
pub use config::{DatasetConfig, DatasetFormat, ExampleKind, Sources, TokenEncoding};
pub use examples::{Example, ExampleSource};
pub use manifest::{Counts, FileInfo, LineageEntry, Manifest};
pub use validate::{validate_jsonl, ValidateFormat, ValidationOptions, ValidationReport};
