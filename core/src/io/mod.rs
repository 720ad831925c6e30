//! The JSONL import/export format (see `docs/formats.md`).
//!
//! One JSON object per line; `type` is `response` or `feedback`. Imports are atomic unless
//! the caller asks to keep going, and then every rejected line is written out with its reason.

mod export;
mod import;
mod parse;
mod paths;
mod reader;
mod spool;

pub use export::{export_jsonl, ExportReport};
pub use import::{import_jsonl, ImportOptions, ImportReport};
pub use parse::{parse_line, ParsedLine};
pub use paths::{check_output_path, same_file, sqlite_file, Protected, DATABASE};

/// How many line errors an import error reports in full.
pub const MAX_REPORTED_ERRORS: usize = 20;
