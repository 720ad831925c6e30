//! Wiring for the commands not yet on the facade (`demo`, `schedule`, `check mcp`/`check
//! all`): the MCP settings and provider, and the job manager.

use super::{open_store, Ctx};
use crate::{CliError, CliResult};
use std::sync::Arc;
use tuneloop::jobs::JobManager;
use tuneloop::mcp::{FineTuningProvider, McpConfig, McpFineTuningProvider, UnconfiguredProvider};

/// The MCP server's settings for every command that talks to it (`check mcp`, `check all`,
/// `fine-tune`, `jobs`, `schedule`, `demo`): the URL of --mcp-url / TUNELOOP_MCP_URL /
/// `[mcp] url`, the `[mcp]` timeout and retries, the token from TUNELOOP_MCP_TOKEN. `None`
/// when no server is configured.
pub fn mcp_config(ctx: &Ctx) -> Option<McpConfig> {
    let url = ctx.mcp_url.as_ref()?;
    Some(
        McpConfig::from_section(url, &ctx.config.mcp)
            .with_token(std::env::var("TUNELOOP_MCP_TOKEN").ok()),
    )
}

/// The fine-tuning server of [`mcp_config`], or a provider that refuses every call with a
/// message saying how to configure one.
pub fn provider(ctx: &Ctx) -> CliResult<Arc<dyn FineTuningProvider>> {
    let Some(config) = mcp_config(ctx) else {
        return Ok(Arc::new(UnconfiguredProvider));
    };
    Ok(Arc::new(
        McpFineTuningProvider::over_http(config).map_err(CliError::from)?,
    ))
}

/// A job manager over the --db store, its ledger and `provider`.
pub async fn manager_with(
    ctx: &Ctx,
    provider: Arc<dyn FineTuningProvider>,
) -> CliResult<JobManager> {
    let store = open_store(&ctx.db).await?;
    manager_on(ctx, store, provider)
}

/// A job manager over an open store (a `memory://` store exists only once per process).
pub fn manager_on(
    ctx: &Ctx,
    store: Arc<dyn tuneloop::store::FeedbackStore>,
    provider: Arc<dyn FineTuningProvider>,
) -> CliResult<JobManager> {
    let ledger = store.ledger().ok_or_else(|| {
        CliError::failure(format!(
            "the {} backend has no credit ledger",
            store.backend()
        ))
    })?;
    Ok(JobManager::new(
        store,
        ledger,
        provider,
        ctx.config.prices.clone(),
    ))
}

/// A job manager with the --mcp-url provider.
pub async fn manager(ctx: &Ctx) -> CliResult<JobManager> {
    manager_with(ctx, provider(ctx)?).await
}
