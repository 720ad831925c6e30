//! Wiring for the fine-tuning commands: the MCP settings and provider, the job manager, and
//! a draft request from flags + tuneloop.toml.

use super::{open_store, Ctx};
use crate::args::JobTargetArgs;
use crate::{CliError, CliResult};
use std::sync::Arc;
use tuneloop::jobs::{DraftRequest, JobManager};
use tuneloop::mcp::{FineTuningProvider, McpConfig, McpFineTuningProvider, UnconfiguredProvider};
use tuneloop::model::Hyperparameters;

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

/// The draft a `fine-tune` / `jobs create` asks for: flags, then `[fine_tune]`, `[dataset]`.
pub fn draft_request(ctx: &Ctx, t: &JobTargetArgs) -> CliResult<DraftRequest> {
    let section = &ctx.config.fine_tune;
    let base_model = match &t.base_model {
        Some(b) => b.clone(),
        None => section
            .base_model_for(&t.model_id)
            .map(str::to_string)
            .ok_or_else(|| {
                CliError::usage(format!(
                    "no base model for {}: pass --base-model or set [fine_tune] base_model in \
                     tuneloop.toml",
                    t.model_id
                ))
            })?,
    };
    let account = t.account.clone().unwrap_or_else(|| section.account.clone());
    let mut request = DraftRequest::new(&t.model_id, base_model, account);
    request.method = t.method.map(Into::into).unwrap_or(section.method);
    request.dataset = ctx.config.dataset.clone();
    request.suffix = section.suffix.clone();
    request.hyperparameters = t.n_epochs.or(section.n_epochs).map(|n| Hyperparameters {
        n_epochs: Some(n),
        ..Default::default()
    });
    Ok(request)
}
