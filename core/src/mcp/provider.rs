//! [`McpFineTuningProvider`]: the fine-tuning tool contract over any [`McpClient`].

use super::tools::names;
use super::{FineTuningProvider, McpClient};
#[cfg(feature = "mcp")]
use super::{HttpMcpClient, McpConfig};
use crate::model::{CreateJobRequest, JobEvent, JobPage, ProviderJob, UploadedFile};
use crate::{Error, Result};
use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Runs fine-tuning jobs on an MCP server that implements the tool contract of
/// `docs/mcp.md` (`fine_tuning_upload_file`, `fine_tuning_create_job`, ...).
///
/// Results are decoded into the [`crate::model`] types; a result of the wrong shape (a
/// missing field, an unknown status) is [`Error::Mcp`] naming the tool and the field.
/// Reads, `create_job` (it carries an idempotency key) and `cancel_job` (cancelling twice
/// changes nothing) are retry-safe; `upload_file` is sent at most once.
#[derive(Debug, Clone)]
pub struct McpFineTuningProvider {
    client: Arc<dyn McpClient>,
    name: String,
}

impl McpFineTuningProvider {
    /// A provider over `client`, named `mcp`.
    pub fn new(client: Arc<dyn McpClient>) -> Self {
        McpFineTuningProvider {
            client,
            name: "mcp".into(),
        }
    }

    /// A provider over a new [`HttpMcpClient`] for `config` (no connection yet: the first
    /// call opens the session), named `mcp <url>` with the URL's password hidden. The one
    /// way every front builds its provider from settings ([`McpConfig::from_section`]).
    #[cfg(feature = "mcp")]
    pub fn over_http(config: McpConfig) -> Result<Self> {
        let name = format!("mcp {}", crate::secrets::redact_url(&config.url));
        let client = HttpMcpClient::new(config)?;
        Ok(McpFineTuningProvider::new(Arc::new(client)).with_name(name))
    }

    /// The same, with another name for messages (e.g. the server's URL, without its
    /// password: the name is stored with every job started on this provider).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The client underneath.
    pub fn client(&self) -> &Arc<dyn McpClient> {
        &self.client
    }

    async fn call<T: DeserializeOwned>(
        &self,
        tool: &str,
        arguments: Value,
        retry_safe: bool,
        shape: &str,
    ) -> Result<T> {
        let value = self.client.call_tool(tool, arguments, retry_safe).await?;
        decode(tool, shape, value)
    }
}

/// Decodes a tool's result, naming the tool and the field on a bad shape.
fn decode<T: DeserializeOwned>(tool: &str, shape: &str, value: Value) -> Result<T> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            String::new()
        } else {
            format!(" at `{path}`")
        };
        Error::mcp(
            None,
            format!(
                "tool `{tool}` returned a malformed {shape}{field}: {}",
                e.into_inner()
            ),
        )
    })
}

fn non_empty(field: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    Ok(())
}

fn page_args(after: Option<&str>, limit: Option<u32>) -> Result<Map<String, Value>> {
    let mut args = Map::new();
    if let Some(after) = after {
        non_empty("after", after)?;
        args.insert("after".into(), json!(after));
    }
    if let Some(limit) = limit {
        if limit == 0 {
            return Err(Error::invalid("limit", "must be at least 1"));
        }
        args.insert("limit".into(), json!(limit));
    }
    Ok(args)
}

#[derive(Deserialize)]
struct EventList {
    events: Vec<JobEvent>,
}

#[async_trait]
impl FineTuningProvider for McpFineTuningProvider {
    fn name(&self) -> &str {
        &self.name
    }

    async fn upload_file(&self, filename: &str, content: &str) -> Result<UploadedFile> {
        non_empty("filename", filename)?;
        let sha256 = hex::encode(Sha256::digest(content.as_bytes()));
        let args = json!({"filename": filename, "purpose": "fine-tune", "content": content,
                          "sha256": sha256});
        self.call(names::UPLOAD_FILE, args, false, "UploadedFile")
            .await
    }

    async fn create_job(&self, request: &CreateJobRequest) -> Result<ProviderJob> {
        non_empty("idempotency_key", &request.idempotency_key)?;
        non_empty("base_model", &request.base_model)?;
        non_empty("training_file", &request.training_file)?;
        let args = serde_json::to_value(request)
            .map_err(|e| Error::invalid("request", format!("cannot be serialised: {e}")))?;
        self.call(names::CREATE_JOB, args, true, "Job").await
    }

    async fn get_job(&self, job_id: &str) -> Result<ProviderJob> {
        non_empty("job_id", job_id)?;
        self.call(names::GET_JOB, json!({"job_id": job_id}), true, "Job")
            .await
    }

    async fn cancel_job(&self, job_id: &str) -> Result<ProviderJob> {
        non_empty("job_id", job_id)?;
        self.call(names::CANCEL_JOB, json!({"job_id": job_id}), true, "Job")
            .await
    }

    async fn list_jobs(&self, after: Option<&str>, limit: Option<u32>) -> Result<JobPage> {
        let args = page_args(after, limit)?;
        self.call(names::LIST_JOBS, Value::Object(args), true, "job page")
            .await
    }

    async fn list_events(
        &self,
        job_id: &str,
        after: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Vec<JobEvent>> {
        non_empty("job_id", job_id)?;
        let mut args = page_args(after, limit)?;
        args.insert("job_id".into(), json!(job_id));
        let list: EventList = self
            .call(names::LIST_EVENTS, Value::Object(args), true, "event list")
            .await?;
        Ok(list.events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ProviderJobStatus;

    fn job_json(status: &str) -> Value {
        json!({"id":"ftjob-1","status":status,"base_model":"m","fine_tuned_model":null,
               "training_file":"file-1","validation_file":null,"trained_tokens":null,
               "created_at":1,"finished_at":null,"error":null})
    }

    #[test]
    fn decodes_a_job_and_names_the_bad_field() {
        let job: ProviderJob = decode("t", "Job", job_json("queued")).unwrap();
        assert_eq!(job.status, ProviderJobStatus::Queued);
        let err = decode::<ProviderJob>("fine_tuning_get_job", "Job", job_json("done"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("fine_tuning_get_job"), "{err}");
        assert!(err.contains("`status`"), "{err}");
        let mut missing = job_json("queued");
        missing.as_object_mut().unwrap().remove("base_model");
        let err = decode::<ProviderJob>("t", "Job", missing)
            .unwrap_err()
            .to_string();
        assert!(err.contains("base_model"), "{err}");
    }
}
