//! The whole fine-tuning contract through `HttpMcpClient` + `McpFineTuningProvider` against
//! the reference MCP server (examples/mcp-finetune-server), started on a free port.
//! Skips (saying why) when TUNELOOP_TEST_MCP_PYTHON is not set.
#![allow(clippy::unwrap_used)]
#![cfg(feature = "mcp")]

mod mcp_support;

use mcp_support::{python, training_file, RefServer, TOKEN};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tuneloop::mcp::{
    check_tools, FineTuningProvider, HttpMcpClient, McpClient, McpConfig, McpFineTuningProvider,
};
use tuneloop::model::{CreateJobRequest, FineTuneMethod, Hyperparameters, ProviderJobStatus};
use tuneloop::Error;

fn config(server: &RefServer) -> McpConfig {
    let mut c = McpConfig::new(server.url()).with_token(Some(TOKEN.into()));
    c.request_timeout = Duration::from_secs(10);
    c
}

fn request(file: &str, key: &str) -> CreateJobRequest {
    CreateJobRequest {
        base_model: "gpt-4o-mini".into(),
        training_file: file.into(),
        validation_file: None,
        method: FineTuneMethod::Supervised,
        hyperparameters: Some(Hyperparameters {
            n_epochs: Some(2),
            ..Default::default()
        }),
        suffix: None,
        idempotency_key: key.into(),
        metadata: None,
    }
}

async fn wait_terminal(
    p: &McpFineTuningProvider,
    id: &str,
) -> (tuneloop::model::ProviderJob, Vec<ProviderJobStatus>) {
    let start = Instant::now();
    let mut seen = Vec::new();
    loop {
        let job = p.get_job(id).await.unwrap();
        if seen.last() != Some(&job.status) {
            seen.push(job.status);
        }
        if job.status.is_terminal() {
            return (job, seen);
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "job {id} stuck: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_contract_against_the_reference_server() {
    let Some(py) = python() else { return };
    let server = RefServer::start(&py, 0.3, 0.0);
    let client: Arc<dyn McpClient> =
        Arc::new(HttpMcpClient::connect(config(&server)).await.unwrap());

    // Every required tool is there with its arguments.
    let tools = client.list_tools().await.unwrap();
    let checks = check_tools(&tools);
    assert!(checks.iter().all(|c| c.ok()), "{checks:?}");

    let p = McpFineTuningProvider::new(client.clone());
    let content = training_file(3);
    let file = p.upload_file("train.jsonl", &content).await.unwrap();
    assert_eq!(file.lines, 3);
    assert_eq!(file.bytes, content.len() as u64);

    // Create, and the same idempotency key gives the same job back.
    let job = p
        .create_job(&request(&file.file_id, "run-1"))
        .await
        .unwrap();
    assert_eq!(job.status, ProviderJobStatus::ValidatingFiles);
    assert_eq!(job.training_file, file.file_id);
    let again = p
        .create_job(&request(&file.file_id, "run-1"))
        .await
        .unwrap();
    assert_eq!(again.id, job.id);

    let (done, seen) = wait_terminal(&p, &job.id).await;
    assert_eq!(done.status, ProviderJobStatus::Succeeded, "{done:?}");
    assert_eq!(seen.last(), Some(&ProviderJobStatus::Succeeded));
    // Per example: 2 messages × 4 + 4 + 6 words = 18; 3 examples, 2 epochs.
    assert_eq!(done.trained_tokens, Some(18 * 3 * 2));
    assert!(done.fine_tuned_model.as_deref().unwrap().contains(&job.id));
    assert!(done.finished_at.unwrap() >= done.created_at);

    // Events, oldest first, paged by `after`.
    let events = p.list_events(&job.id, None, None).await.unwrap();
    assert_eq!(events.len(), 4, "{events:?}");
    assert!(events.last().unwrap().message.contains("succeeded"));
    let tail = p
        .list_events(&job.id, Some(&events[0].id), Some(2))
        .await
        .unwrap();
    assert_eq!(tail, events[1..3]);

    // A file that is not chat JSONL fails at validation.
    let bad = p
        .upload_file("bad.jsonl", "{\"prompt\":\"x\"}\n")
        .await
        .unwrap();
    let failing = p
        .create_job(&request(&bad.file_id, "run-bad"))
        .await
        .unwrap();
    let (failed, _) = wait_terminal(&p, &failing.id).await;
    assert_eq!(failed.status, ProviderJobStatus::Failed);
    let error = failed.error.unwrap();
    assert_eq!(error.code, "invalid_training_file");
    assert!(error.message.contains("line 1"), "{}", error.message);

    // Cancel a job before it finishes; it stays cancelled.
    let slow = p
        .create_job(&request(&file.file_id, "run-cancel"))
        .await
        .unwrap();
    let cancelled = p.cancel_job(&slow.id).await.unwrap();
    assert_eq!(cancelled.status, ProviderJobStatus::Cancelled);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        p.get_job(&slow.id).await.unwrap().status,
        ProviderJobStatus::Cancelled
    );

    // List with paging: newest first, every job once.
    let mut ids = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = p.list_jobs(after.as_deref(), Some(2)).await.unwrap();
        assert!(page.jobs.len() <= 2);
        ids.extend(page.jobs.iter().map(|j| j.id.clone()));
        after = ids.last().cloned();
        if !page.has_more {
            break;
        }
    }
    assert_eq!(ids, [slow.id.clone(), failing.id.clone(), job.id.clone()]);

    // An unknown job is the tool's own error (`isError`), with its message.
    match p.get_job("ftjob-999999").await {
        Err(Error::Mcp {
            code: None,
            message,
            refused: true,
            answered: true,
        }) => {
            assert!(message.contains("job not found"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_is_a_clear_auth_error() {
    let Some(py) = python() else { return };
    let server = RefServer::start(&py, 1.0, 0.0);
    let mut c = McpConfig::new(server.url()).with_token(Some("wrong-token-value".into()));
    c.request_timeout = Duration::from_secs(10);
    let err = HttpMcpClient::connect(c).await.unwrap_err();
    match &err {
        Error::Transport {
            status, retryable, ..
        } => assert_eq!((*status, *retryable), (Some(401), false), "{err}"),
        other => panic!("{other:?}"),
    }
    let text = format!("{err} {err:?}");
    assert!(text.contains("TUNELOOP_MCP_TOKEN"), "{text}");
    assert!(!text.contains("wrong-token-value"), "token leaked: {text}");

    // No token at all is refused the same way.
    let mut c = McpConfig::new(server.url());
    c.request_timeout = Duration::from_secs(10);
    assert!(matches!(
        HttpMcpClient::connect(c).await,
        Err(Error::Transport {
            status: Some(401),
            ..
        })
    ));
}
