//! `tuneloop validate`: the OpenAI cookbook's checks on a fine-tuning JSONL file.

use super::print_json;
use crate::args::{ValidateArgs, ValidateFormatArg};
use crate::output::thousands;
use crate::{CliError, CliResult};
use std::io::BufReader;
use tuneloop::dataset::validate::{ValidateFormat, ValidationReport};
use tuneloop::dataset::{validate_jsonl, ValidationOptions};

pub fn run(json: bool, a: ValidateArgs) -> CliResult {
    let options = ValidationOptions {
        format: match a.format {
            ValidateFormatArg::OpenaiChat => ValidateFormat::OpenaiChat,
            ValidateFormatArg::OpenaiDpo => ValidateFormat::OpenaiDpo,
        },
        encoding: a.encoding.into(),
        max_tokens: a.max_tokens,
    };
    let name = a.file.display().to_string();
    let report = if name == "-" {
        validate_jsonl(std::io::stdin().lock(), &options)
    } else {
        let file = std::fs::File::open(&a.file)
            .map_err(|e| CliError::usage(format!("cannot open {name}: {e}")))?;
        validate_jsonl(BufReader::new(file), &options)
    }
    .map_err(|e| CliError::failure(format!("cannot read {name}: {e}")))?;
    if json {
        let mut v = serde_json::to_value(&report)
            .map_err(|e| CliError::failure(format!("cannot serialise the report: {e}")))?;
        v["valid"] = serde_json::Value::Bool(report.is_valid());
        print_json(&v)?;
    } else {
        outln!("{}", text(&name, &report));
    }
    if report.is_valid() {
        Ok(())
    } else if report.lines == 0 {
        Err(CliError::usage(format!("{name}: the file has no lines")))
    } else {
        let bad = report.lines - report.valid_examples;
        Err(CliError::usage(format!(
            "{name}: {bad} of {} lines have errors",
            report.lines
        )))
    }
}

fn text(name: &str, r: &ValidationReport) -> String {
    let mut out = vec![format!(
        "{name}: {} lines, {} valid",
        thousands(r.lines),
        thousands(r.valid_examples)
    )];
    if r.errors.is_empty() {
        out.push("  errors: none".to_string());
    } else {
        out.push("  errors:".to_string());
        for (k, n) in &r.errors {
            out.push(format!("    {k}: {n}"));
        }
        for f in r.first_errors.iter().take(10) {
            out.push(format!("    line {}: {} ({})", f.line, f.key, f.message));
        }
    }
    if !r.warnings.is_empty() {
        out.push("  warnings:".to_string());
        for (k, n) in &r.warnings {
            out.push(format!("    {k}: {n}"));
        }
    }
    let t = &r.tokens;
    out.push(format!(
        "  tokens per example: min {}, median {}, max {}, total {}",
        t.min,
        t.median,
        t.max,
        thousands(t.total)
    ));
    out.push(format!(
        "  estimate: {} epochs x {} billing tokens = {} trained tokens",
        r.estimated_epochs,
        thousands(r.billing_tokens),
        thousands(r.estimated_trained_tokens)
    ));
    out.join("\n")
}
