//! `tuneloop check all`: the database, the MCP server, the credits and the feedback, one
//! line per check (the seed's check-model-improvement-integration).

use super::check_feedback::feedback_checks;
use super::credits::{credit_checks, report_checks, CheckLine};
use super::{open_with, Ctx};
use crate::{CliError, CliResult};
use tuneloop::mcp::check_tools;
use tuneloop::store::{FeedbackStore, OpenOptions};

pub async fn run(ctx: &Ctx, account: Option<String>, hours: u32, min: u64) -> CliResult {
    let account = account.unwrap_or_else(|| ctx.config.fine_tune.account.clone());
    let mut lines = Vec::new();
    // Never create or migrate the database: a check changes nothing.
    let options = OpenOptions {
        create_if_missing: false,
        migrate: false,
        ..Default::default()
    };
    match open_with(&ctx.db, &options).await {
        Ok(store) => {
            lines.extend(db_checks(store.as_ref(), &ctx.db).await);
            lines.extend(mcp_checks(ctx).await);
            lines.extend(credit_checks(store.as_ref(), &account).await);
            lines.extend(feedback_checks(store.as_ref(), None, hours, min).await);
        }
        Err(e) => {
            lines.push(CheckLine::new("database", false, e.full_message()));
            lines.extend(mcp_checks(ctx).await);
        }
    }
    report_checks("integration", &lines, ctx.json)
}

async fn db_checks(store: &dyn FeedbackStore, db: &str) -> Vec<CheckLine> {
    let health = match store.health().await {
        Ok(h) => h,
        Err(e) => return vec![CheckLine::new("database", false, CliError::from_ref(&e))],
    };
    let mut out = vec![CheckLine::new(
        "database",
        true,
        format!("{} ({})", super::shown(db), health.backend),
    )];
    if let Some(supported) = health.supported_version {
        let found = health.schema_version;
        out.push(CheckLine::new(
            "schema",
            found == Some(supported) && health.missing_tables.is_empty(),
            match found {
                Some(v) if v == supported && health.missing_tables.is_empty() => {
                    format!("version {v}, all tables present")
                }
                Some(v) => format!(
                    "version {v} (this tuneloop: {supported}){}; run `tuneloop migrate`",
                    if health.missing_tables.is_empty() {
                        String::new()
                    } else {
                        format!(", missing {}", health.missing_tables.join(", "))
                    }
                ),
                None => "not initialised; run `tuneloop migrate`".to_string(),
            },
        ));
    }
    if let Some(n) = health.orphaned_feedback {
        out.push(CheckLine::new(
            "references",
            n == 0,
            if n == 0 {
                "every feedback item has its response".to_string()
            } else {
                format!("{n} feedback items reference a missing response")
            },
        ));
    }
    out
}

async fn mcp_checks(ctx: &Ctx) -> Vec<CheckLine> {
    let Some(config) = super::loop_ctx::mcp_config(ctx) else {
        return vec![CheckLine::new(
            "mcp",
            false,
            "no fine-tuning server configured: pass --mcp-url, set TUNELOOP_MCP_URL or [mcp] url",
        )];
    };
    let url = tuneloop::secrets::redact_url(&config.url);
    let tools = match super::check::server_tools(config).await {
        Ok(t) => t,
        Err(e) => return vec![CheckLine::new("mcp", false, CliError::from_ref(&e))],
    };
    let mut out = vec![CheckLine::new(
        "mcp",
        true,
        format!("{url} ({} tools offered)", tools.len()),
    )];
    for c in check_tools(&tools) {
        let detail = if c.ok() {
            format!("{} present, schema ok", c.name)
        } else if !c.present {
            format!(
                "{} missing{}",
                c.name,
                if c.optional { " (optional)" } else { "" }
            )
        } else {
            format!(
                "{} present, schema lacks {}",
                c.name,
                c.missing_arguments.join(", ")
            )
        };
        out.push(CheckLine::new("mcp tool", c.acceptable(), detail));
    }
    out
}
