//! The provider conformance suite against `McpFineTuningProvider` over `HttpMcpClient`,
//! talking to the reference MCP server (examples/mcp-finetune-server) on its manual clock:
//! one fresh server per case. Skips (saying why) when TUNELOOP_TEST_MCP_PYTHON is not set.
#![cfg(feature = "mcp")]

mod mcp_support;

use async_trait::async_trait;
use mcp_support::{python, RefServer, TOKEN};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tuneloop::mcp::{HttpMcpClient, McpClient, McpConfig, McpFineTuningProvider, ToolInfo};
use tuneloop::model::UploadedFile;
use tuneloop::testing::{ProviderControl, ProviderUnderTest};
use tuneloop::{Error, Result};

/// Steps the reference server's manual clock (`FT_SERVER_CLOCK=manual`) with its
/// `reference_advance_clock` tool, and uploads with a chosen checksum through the raw tool.
#[derive(Debug)]
struct ReferenceControl {
    client: Arc<dyn McpClient>,
}

#[async_trait]
impl ProviderControl for ReferenceControl {
    async fn advance(&self, steps: u64) {
        self.client
            .call_tool("reference_advance_clock", json!({ "steps": steps }), false)
            .await
            .expect("advance the reference server's clock");
    }

    async fn upload_with_sha256(
        &self,
        filename: &str,
        content: &str,
        sha256: &str,
    ) -> Option<Result<UploadedFile>> {
        let args = json!({"filename": filename, "purpose": "fine-tune", "content": content,
                          "sha256": sha256});
        let result = self
            .client
            .call_tool("fine_tuning_upload_file", args, false)
            .await
            .and_then(|v| serde_json::from_value(v).map_err(|e| Error::mcp(None, e.to_string())));
        Some(result)
    }
}

/// An MCP client whose server has no `fine_tuning_list_events`: calls to it go to a tool
/// name the reference server does not know, so the answer is the server's own unknown-tool
/// error.
#[derive(Debug)]
struct WithoutEvents(Arc<dyn McpClient>);

#[async_trait]
impl McpClient for WithoutEvents {
    async fn list_tools(&self) -> Result<Vec<ToolInfo>> {
        let mut tools = self.0.list_tools().await?;
        tools.retain(|t| t.name != "fine_tuning_list_events");
        Ok(tools)
    }

    async fn call_tool(
        &self,
        name: &str,
        arguments: serde_json::Value,
        retry_safe: bool,
    ) -> Result<serde_json::Value> {
        let name = match name {
            "fine_tuning_list_events" => "fine_tuning_list_events_not_offered",
            other => other,
        };
        self.0.call_tool(name, arguments, retry_safe).await
    }
}

#[derive(Debug)]
struct NoEventsControl(ReferenceControl);

#[async_trait]
impl ProviderControl for NoEventsControl {
    async fn advance(&self, steps: u64) {
        self.0.advance(steps).await
    }

    fn supports_events(&self) -> bool {
        false
    }
}

async fn start() -> Option<(Arc<dyn McpClient>, RefServer)> {
    let py = python()?;
    // The step length is unused on the manual clock.
    let server = RefServer::start_with_env(&py, 1.0, 0.0, &[("FT_SERVER_CLOCK", "manual")]);
    let mut config = McpConfig::new(server.url()).with_token(Some(TOKEN.into()));
    config.request_timeout = Duration::from_secs(20);
    let client: Arc<dyn McpClient> = Arc::new(
        HttpMcpClient::connect(config)
            .await
            .expect("connect to the reference server"),
    );
    Some((client, server))
}

async fn fresh() -> Option<(ProviderUnderTest, RefServer)> {
    let (client, server) = start().await?;
    let provider = Arc::new(McpFineTuningProvider::new(client.clone()));
    let control = Arc::new(ReferenceControl { client });
    Some((ProviderUnderTest::new(provider, control), server))
}

tuneloop::provider_conformance_tests!(optional fresh);

/// The optional-events rule, against a server without the tool: `list_events` is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_events_refuses_list_events() {
    let Some((client, _server)) = start().await else {
        return;
    };
    let hidden: Arc<dyn McpClient> = Arc::new(WithoutEvents(client.clone()));
    let provider = Arc::new(McpFineTuningProvider::new(hidden));
    let control = Arc::new(NoEventsControl(ReferenceControl { client }));
    let t = ProviderUnderTest::new(provider, control);
    tuneloop::testing::provider_events_in_order(t.clone()).await;
    tuneloop::testing::provider_unknown_job(t).await;
}
