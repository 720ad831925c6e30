//! `tuneloop validate`: the OpenAI cookbook's checks on a fine-tuning JSONL file.

use super::print_json;
use crate::args::{ValidateArgs, ValidateFormatArg};
use crate::output::thousands;
use crate::{CliError, CliResult};
use tuneloop::service::{ValidateFormat, ValidationReport};
use tuneloop::service::{ValidateInput, ValidateRequest};
use tuneloop::Tuneloop;

/// Validates without opening the database: a file check must not create one.
pub async fn run(json: bool, a: ValidateArgs) -> CliResult {
    let input = ValidateInput::from_arg(&a.file);
    let name = a.file.display().to_string();
    let format = match a.format {
        ValidateFormatArg::OpenaiChat => ValidateFormat::OpenaiChat,
        ValidateFormatArg::OpenaiDpo => ValidateFormat::OpenaiDpo,
    };
    let mut request = ValidateRequest::new(input, format);
    if let Some(e) = a.encoding {
        request.encoding = e.into();
    }
    request.max_tokens = a.max_tokens.unwrap_or(request.max_tokens);
    let report = Tuneloop::validate_dataset(&request)
        .await
        .map_err(|e| match e {
            tuneloop::Error::InvalidInput { reason, .. } => CliError::usage(reason),
            other => {
                let mut err = CliError::from(other);
                err.message = format!("cannot read {name}: {}", err.full_message());
                err.causes.clear();
                err
            }
        })?;
    if json {
        print_json(&report)?;
    } else {
        outln!("{}", text(&name, &report));
    }
    if report.valid {
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
