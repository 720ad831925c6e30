//! Fine-tuning through an MCP server: the client, the provider over it, and a simulated one.
//!
//! - [`McpClient`]: lists tools and calls them, with our errors and no MCP SDK type in sight.
//!   [`HttpMcpClient`] speaks MCP Streamable HTTP (the official `rmcp` SDK underneath).
//! - [`FineTuningProvider`]: upload, create, get, cancel, list jobs and events.
//!   [`McpFineTuningProvider`] implements it over any [`McpClient`] with the tool contract of
//!   `docs/mcp.md`; [`SimulatedProvider`] implements it in memory for demos and tests.
//! - [`check_tools`]: which of the [`REQUIRED_TOOLS`] a server offers (`tuneloop check mcp`).
//!
//! ```
//! use std::sync::Arc;
//! use tuneloop::mcp::{FineTuningProvider, SimulatedProvider};
//! use tuneloop::model::{CreateJobRequest, FineTuneMethod, ProviderJobStatus};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let provider = SimulatedProvider::manual();
//! let file = provider
//!     .upload_file("train.jsonl", "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}\n")
//!     .await
//!     .unwrap();
//! let request = CreateJobRequest {
//!     base_model: "gpt-4o-mini".into(),
//!     training_file: file.file_id,
//!     validation_file: None,
//!     method: FineTuneMethod::Supervised,
//!     hyperparameters: None,
//!     suffix: None,
//!     idempotency_key: "run-1".into(),
//!     metadata: None,
//! };
//! let job = provider.create_job(&request).await.unwrap();
//! provider.advance(3);
//! let job = provider.get_job(&job.id).await.unwrap();
//! assert_eq!(job.status, ProviderJobStatus::Succeeded);
//! assert!(job.trained_tokens.unwrap() > 0);
//! # });
//! ```

#[cfg(feature = "mcp")]
mod classify;
mod config;
#[cfg(feature = "mcp")]
mod http;
mod provider;
pub mod simulated;
mod tools;

pub use config::McpConfig;
#[cfg(feature = "mcp")]
pub use http::HttpMcpClient;
pub use provider::McpFineTuningProvider;
pub use simulated::SimulatedProvider;
pub use tools::{check_tools, RequiredTool, ToolCheck, REQUIRED_TOOLS};

use crate::model::{CreateJobRequest, JobEvent, JobPage, ProviderJob, UploadedFile};
use crate::Result;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// A tool a server offers, as `tools/list` describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolInfo {
    /// The tool's name.
    pub name: String,
    /// What it does.
    pub description: Option<String>,
    /// JSON Schema of its arguments.
    pub input_schema: serde_json::Value,
    /// JSON Schema of its structured result, when it declares one.
    pub output_schema: Option<serde_json::Value>,
}

/// An MCP client: lists and calls tools.
///
/// # Behaviour
/// - Errors: a failed or refused connection, a timeout or an HTTP error status is
///   [`crate::Error::Transport`] (with the status and whether a retry may help); a JSON-RPC
///   error is [`crate::Error::Mcp`] with its code; a tool result flagged `isError` is
///   [`crate::Error::Mcp`] with the tool's text and no code; an answer that cannot be read is
///   [`crate::Error::Mcp`] saying what was wrong.
/// - Retries: only calls marked `retry_safe` are sent again after a retryable failure.
#[async_trait]
pub trait McpClient: Send + Sync + std::fmt::Debug {
    /// Every tool the server offers (all pages).
    async fn list_tools(&self) -> Result<Vec<ToolInfo>>;

    /// Calls a tool and returns its `structuredContent` (or the JSON parsed from its text
    /// content). `retry_safe`: the call is a read or carries an idempotency key, so it may be
    /// retried; otherwise it is sent at most once.
    async fn call_tool(
        &self,
        name: &str,
        arguments: serde_json::Value,
        retry_safe: bool,
    ) -> Result<serde_json::Value>;

    /// Ends the session (best effort). Further calls open a new one.
    async fn close(&self) -> Result<()> {
        Ok(())
    }
}

/// Runs fine-tuning jobs somewhere: an MCP server ([`McpFineTuningProvider`]) or memory
/// ([`SimulatedProvider`]).
#[async_trait]
pub trait FineTuningProvider: Send + Sync + std::fmt::Debug {
    /// A short name for messages (`mcp http://...`, `simulated`).
    fn name(&self) -> &str;

    /// Uploads a JSONL file (its SHA-256 is computed and sent along so the server can check
    /// it arrived whole). Not retried: an upload carries no idempotency key.
    async fn upload_file(&self, filename: &str, content: &str) -> Result<UploadedFile>;

    /// Creates a job. Retry-safe: the request's idempotency key makes a repeat return the
    /// job first created with it.
    async fn create_job(&self, request: &CreateJobRequest) -> Result<ProviderJob>;

    /// The job as it is now; [`crate::Error::NotFound`] or [`crate::Error::Mcp`] if unknown.
    async fn get_job(&self, job_id: &str) -> Result<ProviderJob>;

    /// Cancels a job that has not finished; a finished job comes back unchanged.
    async fn cancel_job(&self, job_id: &str) -> Result<ProviderJob>;

    /// Jobs, newest first; `after` is the last id of the previous page.
    async fn list_jobs(&self, after: Option<&str>, limit: Option<u32>) -> Result<JobPage>;

    /// A job's events, oldest first; `after` is the last event id already seen.
    async fn list_events(
        &self,
        job_id: &str,
        after: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Vec<JobEvent>>;
}

#[cfg(feature = "mcp")]
/// Installs rustls' `ring` crypto provider as the process default, if none is installed yet.
///
/// The HTTP client needs one; [`HttpMcpClient::connect`] calls this itself, and a program
/// that builds other rustls clients can call it first. Calling it again does nothing.
pub fn install_crypto_provider() {
    // Err means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The reason of the [`crate::Error::InvalidInput`] on `mcp.url` that an operation needing a
/// fine-tuning server gives when none is configured. It names no front's flags: each front
/// (the CLI's `--mcp-url`) adds its own way of setting one.
pub const NOT_CONFIGURED: &str = "no fine-tuning server is configured: set the MCP server's URL \
     (TUNELOOP_MCP_URL or [mcp] url in tuneloop.toml) or give tuneloop a provider";

/// The provider to use when no fine-tuning server is configured: every call fails with
/// [`crate::Error::InvalidInput`] on `mcp.url` saying how to configure one. Decisions and
/// dry runs, which never call the provider, work with it.
#[derive(Debug, Clone, Default)]
pub struct UnconfiguredProvider;

impl UnconfiguredProvider {
    fn refuse<T>(&self) -> crate::Result<T> {
        Err(crate::Error::invalid("mcp.url", NOT_CONFIGURED))
    }
}

#[async_trait]
impl FineTuningProvider for UnconfiguredProvider {
    fn name(&self) -> &str {
        "unconfigured"
    }
    async fn upload_file(&self, _: &str, _: &str) -> Result<UploadedFile> {
        self.refuse()
    }
    async fn create_job(&self, _: &CreateJobRequest) -> Result<ProviderJob> {
        self.refuse()
    }
    async fn get_job(&self, _: &str) -> Result<ProviderJob> {
        self.refuse()
    }
    async fn cancel_job(&self, _: &str) -> Result<ProviderJob> {
        self.refuse()
    }
    async fn list_jobs(&self, _: Option<&str>, _: Option<u32>) -> Result<JobPage> {
        self.refuse()
    }
    async fn list_events(&self, _: &str, _: Option<&str>, _: Option<u32>) -> Result<Vec<JobEvent>> {
        self.refuse()
    }
}
