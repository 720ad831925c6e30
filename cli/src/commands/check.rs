//! `tuneloop migrate`, `tuneloop check db` and `tuneloop check mcp`.

use super::{open_store, open_with, print_json, shown, Ctx};
use crate::{CliError, CliResult};
use tuneloop::secrets::redact_url;
use tuneloop::store::{HealthReport, OpenOptions};

fn version(v: Option<i64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "none".into())
}

pub async fn migrate(db: &str, json: bool) -> CliResult {
    let store = open_store(db).await?;
    let db = shown(db);
    let health = store.health().await?;
    if json {
        print_json(&health)?;
    } else if health.supported_version.is_none() {
        outln!(
            "{db}: the {} backend has no schema to migrate",
            health.backend
        );
    } else {
        outln!(
            "{db}: schema version {} (current)",
            version(health.schema_version)
        );
    }
    if !health.ok() {
        return Err(CliError::failure(format!(
            "{db} is not usable after migrating: {}",
            problems(&health).join("; ")
        )));
    }
    Ok(())
}

fn problems(h: &HealthReport) -> Vec<String> {
    let mut out = Vec::new();
    match (h.schema_version, h.supported_version) {
        (None, Some(s)) => out.push(format!(
            "no schema version (expected {s}); run `tuneloop migrate`"
        )),
        (Some(f), Some(s)) if f < s => out.push(format!(
            "schema version {f} is older than {s}; run `tuneloop migrate`"
        )),
        (Some(f), Some(s)) if f > s => out.push(format!(
            "schema version {f} is newer than this tuneloop supports ({s}); upgrade tuneloop"
        )),
        _ => {}
    }
    for t in &h.missing_tables {
        out.push(format!("missing table {t}"));
    }
    if let Some(n) = h.orphaned_feedback.filter(|n| *n > 0) {
        out.push(format!("{n} feedback items reference a missing response"));
    }
    out
}

pub async fn check_db(db: &str, json: bool) -> CliResult {
    let options = OpenOptions {
        create_if_missing: false,
        migrate: false,
        ..Default::default()
    };
    let store = match open_with(db, &options).await {
        Ok(s) => s,
        Err(e) => {
            if !json {
                outln!("✗ connect         {}", shown(db));
            }
            return Err(CliError::failure(format!(
                "database check failed: {}",
                e.full_message()
            )));
        }
    };
    let health = store.health().await?;
    if json {
        print_json(&health)?;
    } else {
        outln!("✓ connect         {} ({})", shown(db), health.backend);
        let version_ok = health.schema_version == health.supported_version;
        match health.supported_version {
            None => outln!("✓ schema version  not applicable"),
            Some(s) => outln!(
                "{} schema version  {} (this tuneloop: {s})",
                if version_ok { "✓" } else { "✗" },
                version(health.schema_version)
            ),
        }
        if health.missing_tables.is_empty() {
            outln!("✓ tables          all present");
        }
        for t in &health.missing_tables {
            outln!("✗ missing table   {t}");
        }
        for t in &health.extra_tables {
            outln!("! extra table     {t} (not used by tuneloop; left alone)");
        }
        match health.orphaned_feedback {
            Some(0) => outln!("✓ references      every feedback item has its response"),
            Some(n) => outln!("✗ references      {n} feedback items reference a missing response"),
            None => {}
        }
    }
    if health.ok() {
        Ok(())
    } else {
        Err(CliError::failure(format!(
            "database check failed: {}",
            problems(&health).join("; ")
        )))
    }
}

/// What `check mcp --json` prints.
#[derive(Debug, serde::Serialize)]
struct McpReport {
    url: String,
    connected: bool,
    error: Option<String>,
    tools_offered: usize,
    checks: Vec<tuneloop::mcp::ToolCheck>,
    ok: bool,
}

/// Connects with `config` (see [`super::loop_ctx::mcp_config`]), lists the tools, and
/// closes.
pub async fn server_tools(
    config: tuneloop::mcp::McpConfig,
) -> tuneloop::Result<Vec<tuneloop::mcp::ToolInfo>> {
    use tuneloop::mcp::{HttpMcpClient, McpClient};
    let client = HttpMcpClient::connect(config).await?;
    let tools = client.list_tools().await;
    let _ = client.close().await;
    tools
}

pub async fn check_mcp(ctx: &Ctx, json: bool) -> CliResult {
    use tuneloop::mcp::check_tools;
    let Some(config) = super::loop_ctx::mcp_config(ctx) else {
        return Err(CliError::usage(
            "check mcp needs the server: pass --mcp-url URL or set TUNELOOP_MCP_URL",
        ));
    };
    let url = redact_url(&config.url);
    let url = url.as_str();
    let tools = match server_tools(config).await {
        Ok(tools) => tools,
        Err(e) => {
            let message = CliError::from(e).full_message();
            if json {
                print_json(&McpReport {
                    url: url.to_string(),
                    connected: false,
                    error: Some(message.clone()),
                    tools_offered: 0,
                    checks: Vec::new(),
                    ok: false,
                })?;
            } else {
                outln!("✗ connect         {url}");
            }
            return Err(CliError::failure(format!("MCP check failed: {message}")));
        }
    };
    let checks = check_tools(&tools);
    let ok = checks.iter().all(|c| c.acceptable());
    if json {
        print_json(&McpReport {
            url: url.to_string(),
            connected: true,
            error: None,
            tools_offered: tools.len(),
            checks: checks.clone(),
            ok,
        })?;
    } else {
        outln!("✓ connect         {url} ({} tools offered)", tools.len());
        for c in &checks {
            let optional = if c.optional { " (optional)" } else { "" };
            if c.ok() {
                outln!("✓ tool            {} present, schema ok", c.name);
            } else if !c.present {
                let mark = if c.acceptable() { "!" } else { "✗" };
                outln!("{mark} tool            {} missing{optional}", c.name);
            } else {
                outln!(
                    "✗ tool            {} present, schema lacks {}",
                    c.name,
                    c.missing_arguments.join(", ")
                );
            }
        }
    }
    if ok {
        Ok(())
    } else {
        let failed: Vec<&str> = checks
            .iter()
            .filter(|c| !c.acceptable())
            .map(|c| c.name.as_str())
            .collect();
        Err(CliError::failure(format!(
            "MCP check failed: {url} lacks the fine-tuning tools {}",
            failed.join(", ")
        )))
    }
}
