//! [`SimulatedProvider`]: a **simulated** in-process fine-tuning provider for demos and tests.
//!
//! Nothing is trained and no server is called. Jobs live in memory and follow the same state
//! machine as the reference MCP server (`examples/mcp-finetune-server`): each clock step moves
//! a job validating_files → queued → running → succeeded, or to failed at the first step
//! when its training file is not JSONL with chat (or DPO) examples. Output of a demo that
//! uses it must say the jobs are simulated.

use super::FineTuningProvider;
use crate::model::{
    CreateJobRequest, FineTuneMethod, JobEvent, JobPage, ProviderJob, ProviderJobError,
    ProviderJobStatus, UploadedFile,
};
use crate::{Error, Result};
use async_trait::async_trait;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Epochs when the request does not say.
const DEFAULT_EPOCHS: u64 = 3;
/// Largest page of jobs or events.
const MAX_PAGE: u32 = 100;
/// Page size when the caller does not say.
const DEFAULT_PAGE: u32 = 20;

/// How the simulated clock moves.
#[derive(Debug, Clone, Copy)]
enum Clock {
    /// Only [`SimulatedProvider::advance`] moves it.
    Manual,
    /// One step per `step` of wall time since the provider was made.
    Timed { start: Instant, step: Duration },
}

/// A simulated in-process fine-tuning provider (see the module docs). Clone-free: share it
/// as `Arc<SimulatedProvider>` or `Arc<dyn FineTuningProvider>`.
#[derive(Debug)]
pub struct SimulatedProvider {
    clock: Clock,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    manual_steps: u64,
    counter: u64,
    files: HashMap<String, String>,
    jobs: HashMap<String, SimJob>,
    order: Vec<String>,
    keys: HashMap<String, String>,
}

#[derive(Debug)]
struct SimJob {
    job: ProviderJob,
    created_step: u64,
    steps_done: u64,
    problem: Option<String>,
    tokens: u64,
    epochs: u64,
    events: Vec<JobEvent>,
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl State {
    fn next_id(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}-{:06}", self.counter)
    }

    fn event(&mut self, job_id: &str, level: &str, message: String) {
        let id = self.next_id("ftevent");
        if let Some(j) = self.jobs.get_mut(job_id) {
            j.events.push(JobEvent {
                id,
                created_at: now(),
                level: level.into(),
                message,
            });
        }
    }

    /// Applies the steps the clock says have passed since the job was created.
    fn advance(&mut self, job_id: &str, current_step: u64) {
        loop {
            let Some(j) = self.jobs.get_mut(job_id) else {
                return;
            };
            let due = current_step.saturating_sub(j.created_step).min(3);
            if j.job.status.is_terminal() || j.steps_done >= due {
                return;
            }
            j.steps_done += 1;
            let (level, message) = match (j.steps_done, j.problem.clone()) {
                (1, Some(problem)) => {
                    j.job.status = ProviderJobStatus::Failed;
                    j.job.finished_at = Some(now());
                    j.job.error = Some(ProviderJobError {
                        code: "invalid_training_file".into(),
                        message: problem.clone(),
                    });
                    (
                        "error",
                        format!("Training file validation failed: {problem}"),
                    )
                }
                (1, None) => {
                    j.job.status = ProviderJobStatus::Queued;
                    ("info", "Files validated; job queued".to_string())
                }
                (2, _) => {
                    j.job.status = ProviderJobStatus::Running;
                    ("info", format!("Fine-tuning started ({} epochs)", j.epochs))
                }
                _ => {
                    j.job.status = ProviderJobStatus::Succeeded;
                    j.job.finished_at = Some(now());
                    j.job.trained_tokens = Some(j.tokens);
                    let name = format!("ft:{}:tuneloop:{}", j.job.base_model, j.job.id);
                    j.job.fine_tuned_model = Some(name.clone());
                    (
                        "info",
                        format!("Job succeeded: {name} ({} trained tokens)", j.tokens),
                    )
                }
            };
            self.event(job_id, level, message);
        }
    }
}

impl SimulatedProvider {
    /// A simulated provider whose clock moves only with [`Self::advance`].
    pub fn manual() -> Self {
        SimulatedProvider {
            clock: Clock::Manual,
            state: Mutex::new(State::default()),
        }
    }

    /// A simulated provider whose jobs move one step every `step` of wall time.
    pub fn timed(step: Duration) -> Self {
        SimulatedProvider {
            clock: Clock::Timed {
                start: Instant::now(),
                step,
            },
            state: Mutex::new(State::default()),
        }
    }

    /// Moves a manual clock `steps` steps forward (a timed clock ignores this).
    pub fn advance(&self, steps: u64) {
        let mut state = self.lock();
        state.manual_steps = state.manual_steps.saturating_add(steps);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent data (each change is one step).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn current_step(&self, state: &State) -> u64 {
        match self.clock {
            Clock::Manual => state.manual_steps,
            Clock::Timed { start, step } => {
                if step.is_zero() {
                    u64::MAX
                } else {
                    (start.elapsed().as_nanos() / step.as_nanos()).min(u128::from(u64::MAX)) as u64
                }
            }
        }
    }

    fn job(&self, job_id: &str) -> Result<(MutexGuard<'_, State>, u64)> {
        let mut state = self.lock();
        if !state.jobs.contains_key(job_id) {
            return Err(Error::NotFound {
                kind: "job",
                id: job_id.to_string(),
            });
        }
        let step = self.current_step(&state);
        state.advance(job_id, step);
        Ok((state, step))
    }
}

fn page_limit(limit: Option<u32>) -> Result<usize> {
    match limit.unwrap_or(DEFAULT_PAGE) {
        l @ 1..=MAX_PAGE => Ok(l as usize),
        _ => Err(Error::invalid(
            "limit",
            format!("must be between 1 and {MAX_PAGE}"),
        )),
    }
}

/// Why a training file would fail validation (or `None`), and its token estimate.
///
/// Tokens are a whitespace-word estimate (4 per message plus its words), the same as the
/// reference server's: a real trainer would count with its tokenizer.
pub fn check_training_file(content: &str, method: FineTuneMethod) -> (Option<String>, u64) {
    let mut tokens = 0u64;
    let mut examples = 0u64;
    for (i, line) in content.lines().enumerate() {
        let number = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let example: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => return (Some(format!("line {number}: not JSON ({e})")), 0),
        };
        if !example.is_object() {
            return (Some(format!("line {number}: not a JSON object")), 0);
        }
        let messages: Vec<&Value> = match method {
            FineTuneMethod::Supervised => match example.get("messages").and_then(Value::as_array) {
                Some(m) if !m.is_empty() => m.iter().collect(),
                _ => return (Some(format!("line {number}: no `messages` list")), 0),
            },
            FineTuneMethod::Dpo => {
                let input = example
                    .get("input")
                    .and_then(|i| i.get("messages"))
                    .and_then(Value::as_array);
                let preferred = example.get("preferred_output").and_then(Value::as_array);
                let other = example
                    .get("non_preferred_output")
                    .and_then(Value::as_array);
                match (input, preferred, other) {
                    (Some(i), Some(p), Some(o)) if !p.is_empty() && !o.is_empty() => {
                        i.iter().chain(p.iter()).collect()
                    }
                    _ => {
                        return (
                            Some(format!(
                                "line {number}: a DPO example needs input.messages, \
                                 preferred_output and non_preferred_output"
                            )),
                            0,
                        )
                    }
                }
            }
        };
        for m in messages {
            if m.get("role").and_then(Value::as_str).is_none() {
                return (
                    Some(format!("line {number}: a message without a `role`")),
                    0,
                );
            }
            let words = match m.get("content") {
                Some(Value::String(s)) => s.split_whitespace().count(),
                Some(Value::Null) | None => 0,
                Some(other) => other.to_string().split_whitespace().count(),
            };
            tokens += 4 + words as u64;
        }
        examples += 1;
    }
    if examples == 0 {
        return (Some("the file has no examples".into()), 0);
    }
    (None, tokens)
}

#[async_trait]
impl FineTuningProvider for SimulatedProvider {
    fn name(&self) -> &str {
        "simulated"
    }

    async fn upload_file(&self, filename: &str, content: &str) -> Result<UploadedFile> {
        if filename.trim().is_empty() {
            return Err(Error::invalid("filename", "must not be empty"));
        }
        let mut state = self.lock();
        let file_id = state.next_id("file");
        state.files.insert(file_id.clone(), content.to_string());
        Ok(UploadedFile {
            file_id,
            bytes: content.len() as u64,
            lines: content.lines().filter(|l| !l.trim().is_empty()).count() as u64,
        })
    }

    async fn create_job(&self, request: &CreateJobRequest) -> Result<ProviderJob> {
        if request.idempotency_key.trim().is_empty() {
            return Err(Error::invalid("idempotency_key", "must not be empty"));
        }
        let mut state = self.lock();
        let step = self.current_step(&state);
        if let Some(id) = state.keys.get(&request.idempotency_key).cloned() {
            state.advance(&id, step);
            if let Some(j) = state.jobs.get(&id) {
                return Ok(j.job.clone());
            }
        }
        // A refusal from the provider itself, as the reference server's `isError` answer:
        // the job manager gives a keyed create up only on a tool refusal, and a `NotFound`
        // would leave the create in doubt, to be retried for ever.
        let Some(content) = state.files.get(&request.training_file) else {
            return Err(Error::tool_refused(format!(
                "training_file not found: {}",
                request.training_file
            )));
        };
        if let Some(v) = &request.validation_file {
            if !state.files.contains_key(v) {
                return Err(Error::tool_refused(format!(
                    "validation_file not found: {v}"
                )));
            }
        }
        let (problem, tokens) = check_training_file(content, request.method);
        let epochs = request
            .hyperparameters
            .and_then(|h| h.n_epochs)
            .map(u64::from)
            .unwrap_or(DEFAULT_EPOCHS);
        let id = state.next_id("ftjob");
        let job = ProviderJob {
            id: id.clone(),
            status: ProviderJobStatus::ValidatingFiles,
            base_model: request.base_model.clone(),
            fine_tuned_model: None,
            training_file: request.training_file.clone(),
            validation_file: request.validation_file.clone(),
            trained_tokens: None,
            created_at: now(),
            finished_at: None,
            error: None,
        };
        state.jobs.insert(
            id.clone(),
            SimJob {
                job: job.clone(),
                created_step: step,
                steps_done: 0,
                problem,
                tokens: tokens * epochs,
                epochs,
                events: Vec::new(),
            },
        );
        state.order.push(id.clone());
        state
            .keys
            .insert(request.idempotency_key.clone(), id.clone());
        let message = format!("Job created; validating {}", request.training_file);
        state.event(&id, "info", message);
        Ok(job)
    }

    async fn get_job(&self, job_id: &str) -> Result<ProviderJob> {
        let (state, _) = self.job(job_id)?;
        state
            .jobs
            .get(job_id)
            .map(|j| j.job.clone())
            .ok_or_else(|| Error::NotFound {
                kind: "job",
                id: job_id.to_string(),
            })
    }

    async fn cancel_job(&self, job_id: &str) -> Result<ProviderJob> {
        let (mut state, _) = self.job(job_id)?;
        let mut cancelled = false;
        if let Some(j) = state.jobs.get_mut(job_id) {
            if !j.job.status.is_terminal() {
                j.job.status = ProviderJobStatus::Cancelled;
                j.job.finished_at = Some(now());
                cancelled = true;
            }
        }
        if cancelled {
            state.event(job_id, "info", "Job cancelled".into());
        }
        state
            .jobs
            .get(job_id)
            .map(|j| j.job.clone())
            .ok_or_else(|| Error::NotFound {
                kind: "job",
                id: job_id.to_string(),
            })
    }

    async fn list_jobs(&self, after: Option<&str>, limit: Option<u32>) -> Result<JobPage> {
        let limit = page_limit(limit)?;
        let mut state = self.lock();
        let step = self.current_step(&state);
        let mut ids: Vec<String> = state.order.iter().rev().cloned().collect();
        if let Some(after) = after {
            let Some(pos) = ids.iter().position(|i| i == after) else {
                return Err(Error::NotFound {
                    kind: "job",
                    id: after.to_string(),
                });
            };
            ids.drain(..=pos);
        }
        let has_more = ids.len() > limit;
        ids.truncate(limit);
        let mut jobs = Vec::with_capacity(ids.len());
        for id in &ids {
            state.advance(id, step);
            if let Some(j) = state.jobs.get(id) {
                jobs.push(j.job.clone());
            }
        }
        Ok(JobPage { jobs, has_more })
    }

    async fn list_events(
        &self,
        job_id: &str,
        after: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Vec<JobEvent>> {
        let limit = page_limit(limit)?;
        let (state, _) = self.job(job_id)?;
        let events = state
            .jobs
            .get(job_id)
            .map(|j| j.events.as_slice())
            .unwrap_or_default();
        let start = match after {
            None => 0,
            Some(after) => match events.iter().position(|e| e.id == after) {
                Some(p) => p + 1,
                None => {
                    return Err(Error::NotFound {
                        kind: "event",
                        id: after.to_string(),
                    })
                }
            },
        };
        Ok(events.iter().skip(start).take(limit).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Hyperparameters;

    const GOOD: &str = "{\"messages\":[{\"role\":\"user\",\"content\":\"refund window?\"},\
                        {\"role\":\"assistant\",\"content\":\"30 days\"}]}\n";

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

    #[tokio::test]
    async fn a_job_moves_through_every_status_and_reports_tokens() {
        let p = SimulatedProvider::manual();
        let file = p.upload_file("t.jsonl", GOOD).await.unwrap();
        assert_eq!(file.lines, 1);
        let job = p.create_job(&request(&file.file_id, "k1")).await.unwrap();
        let mut seen = vec![job.status];
        for _ in 0..3 {
            p.advance(1);
            seen.push(p.get_job(&job.id).await.unwrap().status);
        }
        use ProviderJobStatus::*;
        assert_eq!(seen, [ValidatingFiles, Queued, Running, Succeeded]);
        let done = p.get_job(&job.id).await.unwrap();
        // 2 messages × 4 + 4 words, times 2 epochs.
        assert_eq!(done.trained_tokens, Some(24));
        assert!(done.fine_tuned_model.unwrap().contains(&job.id));
        let events = p.list_events(&job.id, None, None).await.unwrap();
        assert_eq!(events.len(), 4);
        let rest = p
            .list_events(&job.id, Some(&events[1].id), Some(1))
            .await
            .unwrap();
        assert_eq!(rest, events[2..3]);
    }

    #[tokio::test]
    async fn idempotency_key_returns_the_first_job() {
        let p = SimulatedProvider::manual();
        let file = p.upload_file("t.jsonl", GOOD).await.unwrap();
        let a = p.create_job(&request(&file.file_id, "same")).await.unwrap();
        let b = p.create_job(&request(&file.file_id, "same")).await.unwrap();
        let c = p
            .create_job(&request(&file.file_id, "other"))
            .await
            .unwrap();
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, c.id);
        assert_eq!(p.list_jobs(None, None).await.unwrap().jobs.len(), 2);
    }

    #[tokio::test]
    async fn an_invalid_file_fails_validation_and_cancel_stops_a_job() {
        let p = SimulatedProvider::manual();
        let bad = p.upload_file("bad.jsonl", "not json\n").await.unwrap();
        let job = p.create_job(&request(&bad.file_id, "bad")).await.unwrap();
        p.advance(5);
        let failed = p.get_job(&job.id).await.unwrap();
        assert_eq!(failed.status, ProviderJobStatus::Failed);
        assert!(failed.error.unwrap().message.contains("line 1"));

        let good = p.upload_file("t.jsonl", GOOD).await.unwrap();
        let job = p.create_job(&request(&good.file_id, "c")).await.unwrap();
        let cancelled = p.cancel_job(&job.id).await.unwrap();
        assert_eq!(cancelled.status, ProviderJobStatus::Cancelled);
        p.advance(5);
        assert_eq!(
            p.get_job(&job.id).await.unwrap().status,
            ProviderJobStatus::Cancelled
        );
        assert!(matches!(
            p.get_job("nope").await,
            Err(Error::NotFound { kind: "job", .. })
        ));
    }

    #[tokio::test]
    async fn list_jobs_pages_newest_first() {
        let p = SimulatedProvider::manual();
        let file = p.upload_file("t.jsonl", GOOD).await.unwrap();
        let mut ids = Vec::new();
        for k in 0..5 {
            ids.push(
                p.create_job(&request(&file.file_id, &k.to_string()))
                    .await
                    .unwrap()
                    .id,
            );
        }
        let first = p.list_jobs(None, Some(2)).await.unwrap();
        assert!(first.has_more);
        assert_eq!(first.jobs[0].id, ids[4]);
        let mut all: Vec<String> = first.jobs.iter().map(|j| j.id.clone()).collect();
        let mut after = all.last().cloned();
        loop {
            let page = p.list_jobs(after.as_deref(), Some(2)).await.unwrap();
            all.extend(page.jobs.iter().map(|j| j.id.clone()));
            after = all.last().cloned();
            if !page.has_more {
                break;
            }
        }
        ids.reverse();
        assert_eq!(all, ids);
    }

    #[test]
    fn dpo_files_need_both_outputs() {
        let line = r#"{"input":{"messages":[{"role":"user","content":"a b"}]},"preferred_output":[{"role":"assistant","content":"c"}],"non_preferred_output":[{"role":"assistant","content":"d"}]}"#;
        assert_eq!(check_training_file(line, FineTuneMethod::Dpo), (None, 11));
        let (problem, _) = check_training_file(GOOD, FineTuneMethod::Dpo);
        assert!(problem.unwrap().contains("DPO"));
    }
}
