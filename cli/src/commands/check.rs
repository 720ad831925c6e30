//! `tuneloop migrate` and `tuneloop check db|mcp|credits|feedback|all`: one facade call
//! each, then the report, one line per check.

use super::{print_json, Ctx};
use crate::{CliError, CliResult};
use tuneloop::service::{health_problems, CheckOptions, CheckReport, CheckScope};
use tuneloop::Tuneloop;

pub async fn migrate(ctx: &Ctx) -> CliResult {
    let health = Tuneloop::migrate(ctx.options.clone()).await?;
    let db = ctx.database_shown();
    if ctx.json {
        print_json(&health)?;
    } else if health.supported_version.is_none() {
        outln!(
            "{db}: the {} backend has no schema to migrate",
            health.backend
        );
    } else {
        outln!(
            "{db}: schema version {} (current)",
            health
                .schema_version
                .map_or_else(|| "none".to_string(), |v| v.to_string())
        );
    }
    if !health.ok() {
        return Err(CliError::failure(format!(
            "{db} is not usable after migrating: {}",
            health_problems(&health).join("; ")
        )));
    }
    Ok(())
}

pub async fn run(ctx: &Ctx, options: CheckOptions) -> CliResult {
    let scope = options.scope;
    let report = Tuneloop::check_with(ctx.options.clone(), &options)
        .await
        .map_err(|e| {
            match e {
            tuneloop::Error::InvalidInput { field, .. } if field == "mcp_url" => CliError::usage(
                "check mcp needs the server: pass --mcp-url URL, set TUNELOOP_MCP_URL or [mcp] url \
                 in tuneloop.toml",
            ),
            other => other.into(),
        }
        })?;
    if ctx.json {
        print_json(&report)?;
    } else {
        for l in &report.checks {
            outln!(
                "{} {:<15} {}",
                if l.passed { "✓" } else { "✗" },
                l.name,
                l.detail
            );
        }
    }
    if report.ok {
        return Ok(());
    }
    let failed: Vec<String> = report
        .failures()
        .map(|l| format!("{}: {}", l.name, l.detail))
        .collect();
    let what = match scope {
        CheckScope::Db => "database",
        CheckScope::Mcp => "MCP",
        CheckScope::Credits => "credits",
        CheckScope::Feedback => "feedback",
        CheckScope::All => "integration",
    };
    let mut message = format!("{what} check failed: {}", failed.join("; "));
    for hint in hints(&report) {
        message.push_str("\nhint: ");
        message.push_str(&hint);
    }
    Err(CliError::failure(message))
}

/// What to do about the failed lines, in the command line's words.
fn hints(report: &CheckReport) -> Vec<String> {
    let mut out = Vec::new();
    for l in report.failures() {
        let hint = match l.name.as_str() {
            "schema" if l.detail.contains("migrate") => "run `tuneloop migrate`",
            "account" => "grant it credits: `tuneloop credits grant --account A --amount N`",
            "mcp" if report.mcp.is_none() => {
                "pass --mcp-url URL, set TUNELOOP_MCP_URL or [mcp] url in tuneloop.toml"
            }
            _ => continue,
        };
        if !out.iter().any(|h| h == hint) {
            out.push(hint.to_string());
        }
    }
    out
}
