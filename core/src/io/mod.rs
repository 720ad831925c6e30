//! The JSONL import/export format (see `docs/formats.md`).
//!
//! One JSON object per line; `type` is `response` or `feedback`. Imports are atomic unless
//! the caller asks to keep going, and then every rejected line is written out with its reason.

mod export;
mod import;
mod parse;
mod reader;

pub use export::{export_jsonl, ExportReport};
pub use import::{import_jsonl, ImportOptions, ImportReport};
pub use parse::{parse_line, ParsedLine};

/// How many line errors an import error reports in full.
pub const MAX_REPORTED_ERRORS: usize = 20;
