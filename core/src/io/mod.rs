//! The JSONL import/export format (see `docs/formats.md`).

/// How many line errors an import error reports in full.
pub const MAX_REPORTED_ERRORS: usize = 20;
