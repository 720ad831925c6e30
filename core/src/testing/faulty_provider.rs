//! A fault-injection test double for [`FineTuningProvider`]: wraps a real provider and fails
//! a chosen call before it reaches the provider (nothing happened) or after (it happened, but
//! the caller sees an error, as after a crash or a lost answer). It counts calls per
//! operation and can misreport a job's status, to exercise illegal transitions.

use crate::error::{Error, Result};
use crate::mcp::FineTuningProvider;
use crate::model::{
    CreateJobRequest, JobEvent, JobPage, ProviderJob, ProviderJobStatus, UploadedFile,
};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The operation a fault is armed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderOp {
    /// [`FineTuningProvider::upload_file`].
    Upload,
    /// [`FineTuningProvider::create_job`].
    Create,
    /// [`FineTuningProvider::get_job`].
    Get,
    /// [`FineTuningProvider::cancel_job`].
    Cancel,
}

/// What an armed fault returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderFault {
    /// A retryable transport error, before the provider sees the call.
    DownBefore,
    /// The provider runs the call, then the caller gets a retryable transport error.
    LostAfter,
    /// The provider refuses (an `isError` result), before running it.
    Refused,
    /// An unreadable answer, after the provider ran the call.
    MalformedAfter,
    /// Refused at the transport layer before the call reaches the provider: HTTP 401 at
    /// connect, as a wrong or rotated token gets. Says nothing about earlier calls.
    Unauthorized,
}

/// Test double: a [`FineTuningProvider`] that forwards to a real one with armed faults.
#[derive(Debug)]
pub struct FaultyProvider {
    inner: Arc<dyn FineTuningProvider>,
    armed: Mutex<Vec<(ProviderOp, ProviderFault)>>,
    calls: Mutex<HashMap<ProviderOp, u32>>,
    misreport: Mutex<Option<ProviderJobStatus>>,
}

impl FaultyProvider {
    /// Wraps `inner` with no fault armed.
    pub fn new(inner: Arc<dyn FineTuningProvider>) -> Self {
        FaultyProvider {
            inner,
            armed: Mutex::new(Vec::new()),
            calls: Mutex::new(HashMap::new()),
            misreport: Mutex::new(None),
        }
    }

    /// Makes the next call of `op` fail with `fault` (each fault is used once, in order).
    pub fn fail_next(&self, op: ProviderOp, fault: ProviderFault) {
        self.armed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((op, fault));
    }

    /// Makes `get_job` report `status` instead of the real one (`None`: the truth).
    pub fn misreport(&self, status: Option<ProviderJobStatus>) {
        *self.misreport.lock().unwrap_or_else(|e| e.into_inner()) = status;
    }

    /// Calls of `op` received so far (faulted ones included).
    pub fn calls(&self, op: ProviderOp) -> u32 {
        *self
            .calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&op)
            .unwrap_or(&0)
    }

    async fn run<T, F>(&self, op: ProviderOp, call: F) -> Result<T>
    where
        F: std::future::Future<Output = Result<T>>,
    {
        *self
            .calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(op)
            .or_default() += 1;
        let fault = {
            let mut armed = self.armed.lock().unwrap_or_else(|e| e.into_inner());
            armed
                .iter()
                .position(|(o, _)| *o == op)
                .map(|i| armed.remove(i).1)
        };
        match fault {
            None => call.await,
            Some(ProviderFault::DownBefore) => Err(Error::transport(
                format!("injected fault: provider down ({op:?})"),
                None,
                true,
            )),
            Some(ProviderFault::Unauthorized) => Err(Error::transport(
                format!("injected fault: the server refused our token (HTTP 401) ({op:?})"),
                Some(401),
                false,
            )),
            Some(ProviderFault::Refused) => Err(Error::tool_refused(format!(
                "injected fault: {op:?} refused"
            ))),
            Some(ProviderFault::LostAfter) => {
                call.await?;
                Err(Error::transport(
                    format!("injected fault: answer lost ({op:?})"),
                    None,
                    true,
                ))
            }
            Some(ProviderFault::MalformedAfter) => {
                call.await?;
                Err(Error::mcp(
                    None,
                    format!("injected fault: malformed answer ({op:?})"),
                ))
            }
        }
    }
}

#[async_trait]
impl FineTuningProvider for FaultyProvider {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn upload_file(&self, filename: &str, content: &str) -> Result<UploadedFile> {
        self.run(
            ProviderOp::Upload,
            self.inner.upload_file(filename, content),
        )
        .await
    }

    async fn create_job(&self, request: &CreateJobRequest) -> Result<ProviderJob> {
        self.run(ProviderOp::Create, self.inner.create_job(request))
            .await
    }

    async fn get_job(&self, job_id: &str) -> Result<ProviderJob> {
        let mut job = self
            .run(ProviderOp::Get, self.inner.get_job(job_id))
            .await?;
        if let Some(s) = *self.misreport.lock().unwrap_or_else(|e| e.into_inner()) {
            job.status = s;
        }
        Ok(job)
    }

    async fn cancel_job(&self, job_id: &str) -> Result<ProviderJob> {
        self.run(ProviderOp::Cancel, self.inner.cancel_job(job_id))
            .await
    }

    async fn list_jobs(&self, after: Option<&str>, limit: Option<u32>) -> Result<JobPage> {
        self.inner.list_jobs(after, limit).await
    }

    async fn list_events(
        &self,
        job_id: &str,
        after: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Vec<JobEvent>> {
        self.inner.list_events(job_id, after, limit).await
    }
}
