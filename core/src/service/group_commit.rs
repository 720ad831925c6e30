//! Group commit for feedback from many concurrent callers (the HTTP API's feedback POSTs):
//! callers enqueue their item and wait; one writer task takes everything queued, writes it
//! in one transaction and answers each caller after the commit. Throughput then no longer
//! depends on one fsync per item, and each acknowledgement still means "committed".

use super::submit::{parse_feedback, Submitted};
use super::Tuneloop;
use crate::error::{Error, Result};
use crate::model::{Feedback, Limits};
use crate::store::{BatchOutcome, ItemOutcome, RecordBatch, WriteSummary};
use std::sync::{Arc, OnceLock};
use tokio::sync::{mpsc, oneshot};

/// The most items one transaction takes by default.
pub const DEFAULT_GROUP_SIZE: usize = 512;

struct Job {
    feedback: Feedback,
    done: oneshot::Sender<Result<WriteSummary>>,
}

/// Records feedback items in shared transactions (see the module documentation). Cheap to
/// clone; the writer task starts with the first item and ends when every clone is dropped.
#[derive(Clone)]
pub struct FeedbackBatcher {
    tl: Tuneloop,
    max: usize,
    queue: Arc<OnceLock<mpsc::Sender<Job>>>,
}

impl std::fmt::Debug for FeedbackBatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedbackBatcher")
            .field("max", &self.max)
            .finish_non_exhaustive()
    }
}

impl Tuneloop {
    /// A group-commit writer of feedback over this handle's store, taking at most
    /// `max_batch` items per transaction (at least 1).
    pub fn feedback_batcher(&self, max_batch: usize) -> FeedbackBatcher {
        FeedbackBatcher {
            tl: self.clone(),
            max: max_batch.max(1),
            queue: Arc::new(OnceLock::new()),
        }
    }
}

fn stopped() -> Error {
    Error::Storage {
        message: "the feedback writer has stopped".into(),
        retryable: true,
        source: None,
    }
}

impl FeedbackBatcher {
    /// Records one feedback item, sharing the transaction with the items queued at the same
    /// time; returns once that transaction has committed. The answer is the item's own:
    /// inserted, unchanged, or its rejection ([`Error::NotFound`], [`Error::Conflict`]),
    /// which does not affect the other items.
    pub async fn record_feedback(&self, feedback: Feedback) -> Result<WriteSummary> {
        let queue = self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::channel(self.max * 4);
            tokio::spawn(run(self.tl.clone(), rx, self.max));
            tx
        });
        let (done, answer) = oneshot::channel();
        queue
            .send(Job { feedback, done })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// [`Tuneloop::submit_feedback`] through the group commit.
    pub async fn submit_feedback(&self, json: &str, limits: &Limits) -> Result<Submitted> {
        let feedback = parse_feedback(json, limits)?;
        let response_id = feedback.response_id.clone();
        let feedback_ids = vec![feedback.id.clone()];
        let summary = self.record_feedback(feedback).await?;
        Ok(Submitted {
            response_id,
            feedback_ids,
            summary,
        })
    }
}

/// The writer: takes what is queued (at most `max`), writes it in one transaction, answers.
async fn run(tl: Tuneloop, mut rx: mpsc::Receiver<Job>, max: usize) {
    let mut jobs = Vec::with_capacity(max);
    while rx.recv_many(&mut jobs, max).await > 0 {
        let (feedback, dones): (Vec<Feedback>, Vec<_>) =
            jobs.drain(..).map(|j| (j.feedback, j.done)).unzip();
        let batch = RecordBatch {
            responses: Vec::new(),
            feedback,
        };
        match write(&tl, &batch).await {
            Ok(outcome) => {
                for ((item, f), done) in outcome.feedback.iter().zip(&batch.feedback).zip(dones) {
                    let _ = done.send(answer(item, f));
                }
            }
            Err(e) => {
                // Every caller gets the failure (the error is not Clone: its text and kind).
                for done in dones {
                    let _ = done.send(Err(copy(&e)));
                }
            }
        }
    }
}

async fn write(tl: &Tuneloop, batch: &RecordBatch) -> Result<BatchOutcome> {
    let mut tx = tl.store().begin_write().await?;
    let outcome = match tx.write(batch).await {
        Ok(o) => o,
        Err(e) => {
            let _ = tx.rollback().await;
            return Err(e);
        }
    };
    tx.commit().await?;
    Ok(outcome)
}

fn answer(item: &ItemOutcome, feedback: &Feedback) -> Result<WriteSummary> {
    match item {
        ItemOutcome::Inserted => Ok(WriteSummary {
            feedback_inserted: 1,
            ..Default::default()
        }),
        ItemOutcome::Unchanged => Ok(WriteSummary {
            feedback_unchanged: 1,
            ..Default::default()
        }),
        ItemOutcome::Rejected(_) => {
            let one = BatchOutcome {
                responses: Vec::new(),
                feedback: vec![item.clone()],
            };
            let batch = RecordBatch {
                responses: Vec::new(),
                feedback: vec![feedback.clone()],
            };
            Err(one
                .first_rejection(&batch)
                .unwrap_or_else(|| Error::invalid("feedback", "rejected by the store")))
        }
    }
}

/// A shared failure, for each caller of the batch.
fn copy(e: &Error) -> Error {
    match e {
        Error::Storage {
            message, retryable, ..
        } => Error::Storage {
            message: message.clone(),
            retryable: *retryable,
            source: None,
        },
        other => Error::Storage {
            message: other.to_string(),
            retryable: other.is_retryable(),
            source: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{parse_timestamp, FeedbackKind, ResponseRecord};
    use crate::Options;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_items_share_transactions_and_get_their_own_answers() {
        let tl = Tuneloop::open(Options::memory()).await.unwrap();
        let at = parse_timestamp("2026-11-20T10:00:00Z").unwrap();
        tl.record_response(ResponseRecord::new("r1", "m", "q", "a", at))
            .await
            .unwrap();
        let batcher = tl.feedback_batcher(64);
        let mut tasks = Vec::new();
        for i in 0..200 {
            let b = batcher.clone();
            // Every tenth item is on a response that does not exist.
            let response = if i % 10 == 0 { "nope" } else { "r1" };
            let f = Feedback::new(
                format!("f{i}"),
                response,
                FeedbackKind::Thumbs { up: true },
                at,
            );
            tasks.push(tokio::spawn(async move { b.record_feedback(f).await }));
        }
        let mut ok = 0;
        for (i, t) in tasks.into_iter().enumerate() {
            match t.await.unwrap() {
                Ok(s) => {
                    assert_eq!(s.feedback_inserted, 1);
                    ok += 1;
                }
                Err(e) => {
                    assert_eq!(i % 10, 0, "{e}");
                    assert_eq!(e.code(), "not_found");
                }
            }
        }
        assert_eq!(ok, 180);
        // Again: unchanged, one by one.
        let again = batcher
            .record_feedback(Feedback::new(
                "f1",
                "r1",
                FeedbackKind::Thumbs { up: true },
                at,
            ))
            .await
            .unwrap();
        assert_eq!(again.feedback_unchanged, 1);
    }
}
