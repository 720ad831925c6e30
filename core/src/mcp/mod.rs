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
///
/// # Behaviour
/// The rules of the tool contract (`docs/mcp.md`) as every provider shows them. The
/// provider conformance suite checks each one (the case is named in brackets): run it
/// against your own provider with `tuneloop::provider_conformance_tests!` (feature
/// `testing`).
/// - Upload (`provider_upload_reports_size`): each upload gives a new file id, even for
///   content uploaded before; `bytes` is the content's UTF-8 length and `lines` its
///   non-blank lines, split at `\n` only (a `\r` before it belongs to the line end; U+2028,
///   U+0085 and the like, which a JSON string may hold raw, do not end a line). Over MCP the
///   content's SHA-256 goes along, and the server refuses a mismatch with an `isError`
///   answer ([`crate::Error::is_tool_refusal`]).
/// - Create (`provider_create_is_idempotent`): the job comes back `validating_files` or
///   `queued`, with the request's base model and files and no `fine_tuned_model`,
///   `trained_tokens`, `finished_at` or `error`. A repeated idempotency key returns the job
///   first created with it, as it is now, whatever else the repeat asks, and makes no second
///   job; another key makes a new job.
/// - Refused create (`provider_create_unknown_file_is_refused`): an unknown training or
///   validation file is refused by the provider itself ([`crate::Error::is_tool_refusal`]),
///   never with [`crate::Error::NotFound`] or a transport error: only that refusal lets the
///   job manager give up a keyed create whose earlier attempt may have run. A refused create
///   records nothing; its key can make a job later.
/// - Unknown job (`provider_unknown_job`): [`Self::get_job`], [`Self::cancel_job`] and
///   [`Self::list_events`] of an id the provider does not know fail with
///   [`crate::Error::NotFound`] (an in-process provider) or a tool refusal (an MCP server's
///   `isError` answer, e.g. the reference server's `job not found: ID`).
/// - Life (`provider_status_moves_forward`): the status only moves forward,
///   `validating_files` → `queued` → `running` → `succeeded` (or `failed` / `cancelled`),
///   and a terminal status never changes again. Until then `fine_tuned_model`,
///   `trained_tokens` and `finished_at` are unset; on success `trained_tokens` > 0,
///   `fine_tuned_model` names the model and `finished_at` ≥ `created_at`.
/// - Bad file (`provider_invalid_training_file_fails`): a training file that is not JSONL
///   chat examples is refused at upload or create, or the job ends `failed` with an `error`
///   (`invalid_training_file` on the reference server and the simulated provider).
/// - Cancel (`provider_cancel`): an unfinished job (new or running) ends `cancelled` with
///   `finished_at`, and stays so; a finished job comes back unchanged; cancelling twice
///   changes nothing.
/// - Paging (`provider_list_jobs_pages`): newest first; `after` is the last id of the
///   previous page; a page holds at most `limit` jobs, as [`Self::get_job`]
///   reports them; `has_more` is true while more follow. An unknown
///   `after` is `NotFound` or a tool refusal; `limit` 0 is refused.
/// - Events (`provider_events_in_order`): oldest first with unique ids; events already
///   listed keep their place as new ones come; `after` is the last event id seen and
///   `limit` caps the page. Events are optional: a provider without them refuses every
///   [`Self::list_events`] call ([`crate::Error::is_refusal`]; an MCP server without the
///   tool answers with its unknown-tool error) rather than answer an empty list, and the
///   job manager then only goes without the log.
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

    /// The job as it is now; [`crate::Error::NotFound`] or a tool refusal if unknown.
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
/// Installs rustls' `aws-lc-rs` crypto provider (post-quantum key exchange included) as the
/// process default, if none is installed yet.
///
/// The HTTP client needs one; [`HttpMcpClient::connect`] calls this itself, and a program
/// that builds other rustls clients can call it first. Calling it again does nothing.
pub fn install_crypto_provider() {
    // Err means a provider is already installed, which is what we want.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
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
