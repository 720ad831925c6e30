//! Fine-tuning dataset preparation: pure, deterministic functions from feedback to training
//! examples (redaction, deduplication, token counting, splitting, writing, validation).

pub mod dedup;
pub mod redact;
