//! Faults the MCP client must survive: server down, too slow, HTTP 500, malformed JSON,
//! `isError` results, session expiry. HTTP faults come from `FaultProxy`, a fault-injection
//! test double in front of the real reference server; it also counts how often each tool
//! call was sent, so the retry rule (a call that is not retry-safe is sent at most once) is
//! checked on the wire. Skips (saying why) when TUNELOOP_TEST_MCP_PYTHON is not set, except
//! the server-down test, which needs no server.
#![allow(clippy::unwrap_used)]
#![cfg(feature = "mcp")]

mod mcp_support;

use mcp_support::fault_proxy::{Fault, FaultProxy};
use mcp_support::{free_port, python, training_file, RefServer, TOKEN};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tuneloop::mcp::{
    FineTuningProvider, HttpMcpClient, McpClient, McpConfig, McpFineTuningProvider,
};
use tuneloop::Error;

fn config(url: String, timeout: Duration) -> McpConfig {
    let mut c = McpConfig::new(url).with_token(Some(TOKEN.into()));
    c.request_timeout = timeout;
    c.max_retries = 2;
    c.backoff = Duration::from_millis(20);
    c
}

async fn provider(url: String, timeout: Duration) -> (Arc<dyn McpClient>, McpFineTuningProvider) {
    let client: Arc<dyn McpClient> =
        Arc::new(HttpMcpClient::connect(config(url, timeout)).await.unwrap());
    (client.clone(), McpFineTuningProvider::new(client))
}

#[tokio::test]
async fn server_down_is_a_quick_retryable_transport_error() {
    let url = format!("http://127.0.0.1:{}/mcp", free_port());
    let start = Instant::now();
    let err = HttpMcpClient::connect(config(url.clone(), Duration::from_secs(5)))
        .await
        .unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    match &err {
        Error::Transport {
            status: None,
            retryable: true,
            message,
            ..
        } => assert!(
            message.contains("cannot connect") && message.contains(&url),
            "{message}"
        ),
        other => panic!("{other:?}"),
    }
    // A lazily connected client fails the same way on its first call.
    let client = HttpMcpClient::new(config(url, Duration::from_secs(5))).unwrap();
    assert!(matches!(
        client
            .call_tool(
                "fine_tuning_get_job",
                serde_json::json!({"job_id": "x"}),
                false
            )
            .await,
        Err(Error::Transport {
            retryable: true,
            ..
        })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_server_times_out_and_only_safe_calls_are_retried() {
    let Some(py) = python() else { return };
    // Every tool call sleeps 1.5 s; the client waits 300 ms.
    let server = RefServer::start(&py, 0.2, 1.5);
    let proxy = FaultProxy::start(server.url()).await;
    let (_client, p) = provider(proxy.url.clone(), Duration::from_millis(300)).await;

    let start = Instant::now();
    let err = p
        .upload_file("t.jsonl", &training_file(1))
        .await
        .unwrap_err();
    assert!(
        start.elapsed() < Duration::from_millis(1200),
        "{:?}",
        start.elapsed()
    );
    match &err {
        Error::Transport { message, .. } => {
            assert!(message.contains("did not answer"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        proxy.calls("fine_tuning_upload_file"),
        1,
        "an upload is never resent"
    );

    let err = p.get_job("ftjob-000001").await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Transport {
                retryable: true,
                ..
            }
        ),
        "{err:?}"
    );
    // One attempt and max_retries (2) retries.
    assert_eq!(proxy.calls("fine_tuning_get_job"), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_500_is_retried_for_safe_calls_only() {
    let Some(py) = python() else { return };
    let server = RefServer::start(&py, 0.2, 0.0);
    let proxy = FaultProxy::start(server.url()).await;
    let (_client, p) = provider(proxy.url.clone(), Duration::from_secs(10)).await;

    proxy.set_fault(Fault::Status500(1));
    let err = p
        .upload_file("t.jsonl", &training_file(1))
        .await
        .unwrap_err();
    match &err {
        Error::Transport {
            status, retryable, ..
        } => assert_eq!((*status, *retryable), (Some(500), true)),
        other => panic!("{other:?}"),
    }
    assert_eq!(proxy.calls("fine_tuning_upload_file"), 1);

    // The session survives a 500: the next upload goes through.
    let file = p.upload_file("t.jsonl", &training_file(1)).await.unwrap();
    assert_eq!(proxy.calls("fine_tuning_upload_file"), 2);

    // A read is retried past one 500 and succeeds.
    proxy.set_fault(Fault::Status500(1));
    let page = p.list_jobs(None, None).await.unwrap();
    assert!(page.jobs.is_empty());
    assert_eq!(proxy.calls("fine_tuning_list_jobs"), 2);

    // A create carries an idempotency key: retried, and still one job.
    proxy.set_fault(Fault::Status500(2));
    let req = tuneloop::model::CreateJobRequest {
        base_model: "m".into(),
        training_file: file.file_id.clone(),
        validation_file: None,
        method: Default::default(),
        hyperparameters: None,
        suffix: None,
        idempotency_key: "k-500".into(),
        metadata: None,
    };
    let job = p.create_job(&req).await.unwrap();
    assert_eq!(proxy.calls("fine_tuning_create_job"), 3);
    assert_eq!(p.list_jobs(None, None).await.unwrap().jobs.len(), 1);
    assert_eq!(p.create_job(&req).await.unwrap().id, job.id);

    // More 500s than retries: a clear error naming the status.
    proxy.set_fault(Fault::Status500(10));
    let err = p.get_job(&job.id).await.unwrap_err();
    assert!(err.to_string().contains("HTTP 500"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_is_a_clear_mcp_error() {
    let Some(py) = python() else { return };
    let server = RefServer::start(&py, 0.2, 0.0);
    let proxy = FaultProxy::start(server.url()).await;
    let (client, p) = provider(proxy.url.clone(), Duration::from_secs(5)).await;

    proxy.set_fault(Fault::Malformed(1));
    let err = p
        .upload_file("t.jsonl", &training_file(1))
        .await
        .unwrap_err();
    match &err {
        Error::Mcp { message, .. } => assert!(message.contains("malformed"), "{message}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(proxy.calls("fine_tuning_upload_file"), 1);
    // The client recovers for the next call.
    p.upload_file("t.jsonl", &training_file(1)).await.unwrap();
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn is_error_results_carry_the_tools_message() {
    let Some(py) = python() else { return };
    let server = RefServer::start(&py, 0.2, 0.0);
    let (client, p) = provider(server.url(), Duration::from_secs(5)).await;
    // The server checks the hash: a wrong one is the tool's own error.
    let err = client
        .call_tool(
            "fine_tuning_upload_file",
            serde_json::json!({"filename":"t.jsonl","purpose":"fine-tune","content":"x","sha256":"00"}),
            false,
        )
        .await
        .unwrap_err();
    match &err {
        Error::Mcp {
            code: None,
            message,
            refused: true,
            answered: true,
        } => {
            assert!(
                message.contains("fine_tuning_upload_file") && message.contains("sha256 mismatch"),
                "{message}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(!err.is_retryable());
    // Unknown tool: a JSON-RPC error or an isError result, either way an MCP error.
    assert!(matches!(
        client
            .call_tool("no_such_tool", serde_json::json!({}), true)
            .await,
        Err(Error::Mcp { .. })
    ));
    let err = p.list_jobs(None, Some(1000)).await.unwrap_err();
    assert!(err.to_string().contains("limit"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_session_is_renewed_and_unsafe_calls_are_not_resent() {
    let Some(py) = python() else { return };
    let server = RefServer::start(&py, 0.2, 0.0);
    let proxy = FaultProxy::start(server.url()).await;
    let (_client, p) = provider(proxy.url.clone(), Duration::from_secs(10)).await;
    assert_eq!(proxy.initializes(), 1);

    // A read: new session, call resent once, success.
    proxy.set_fault(Fault::ExpireSessionOnce);
    assert!(p.list_jobs(None, None).await.unwrap().jobs.is_empty());
    assert_eq!(proxy.calls("fine_tuning_list_jobs"), 2);
    assert_eq!(proxy.initializes(), 2);

    // An upload: not resent; a clear error; the next call works on a new session.
    proxy.set_fault(Fault::ExpireSessionOnce);
    let err = p
        .upload_file("t.jsonl", &training_file(1))
        .await
        .unwrap_err();
    match &err {
        Error::Transport {
            status, message, ..
        } => {
            assert_eq!(*status, Some(404));
            assert!(message.contains("not resent"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(proxy.calls("fine_tuning_upload_file"), 1);
    p.upload_file("t.jsonl", &training_file(1)).await.unwrap();
    assert_eq!(proxy.calls("fine_tuning_upload_file"), 2);
    assert_eq!(proxy.initializes(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vanished_server_is_a_retryable_error() {
    let Some(py) = python() else { return };
    let server = RefServer::start(&py, 0.2, 0.0);
    let proxy = FaultProxy::start(server.url()).await;
    let (_client, p) = provider(proxy.url.clone(), Duration::from_secs(10)).await;
    p.list_jobs(None, None).await.unwrap();
    // The server goes away: the proxy answers 502 (a retryable HTTP status).
    drop(server);
    let err = p.list_jobs(None, None).await.unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_is_retried_only_with_an_idempotency_key() {
    let Some(py) = python() else { return };
    let server = RefServer::start(&py, 0.2, 0.0);
    let proxy = FaultProxy::start(server.url()).await;
    let (_client, p) = provider(proxy.url.clone(), Duration::from_secs(10)).await;

    // The server stores the upload, but its answer is lost: not resent, so one file.
    proxy.set_fault(Fault::LoseAnswer(1));
    let err = p
        .upload_file("t.jsonl", &training_file(1))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Transport {
                status: Some(502),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(proxy.calls("fine_tuning_upload_file"), 1);

    let file = p.upload_file("t.jsonl", &training_file(1)).await.unwrap();
    // The server creates the job, the answer is lost, the create is resent with the same
    // key and returns that job: still one job on the server.
    proxy.set_fault(Fault::LoseAnswer(1));
    let req = tuneloop::model::CreateJobRequest {
        base_model: "m".into(),
        training_file: file.file_id.clone(),
        validation_file: None,
        method: Default::default(),
        hyperparameters: None,
        suffix: None,
        idempotency_key: "k-lost".into(),
        metadata: None,
    };
    let job = p.create_job(&req).await.unwrap();
    assert_eq!(proxy.calls("fine_tuning_create_job"), 2);
    let jobs = p.list_jobs(None, None).await.unwrap().jobs;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].id, job.id);
}
