//! The write transaction: validation, duplicate detection, and multi-row inserts.

use super::db_err;
use super::read::{fetch_feedback, fetch_response, variant_code};
use crate::analysis::metrics::bucket_start_micros;
use crate::error::{Error, Result};
use crate::model::time::to_micros;
use crate::model::{Bucket, Feedback, Limits, ResponseRecord};
use crate::store::memory::{feedback_diff, response_diff};
use crate::store::{
    precheck_feedback, precheck_response, BatchOutcome, ItemOutcome, RecordBatch, Rejection,
    WriteSummary, WriteTx,
};
use async_trait::async_trait;
use sqlx::{Row, Sqlite, SqliteConnection, SqlitePool, Transaction};
use std::collections::HashMap;
use tokio::sync::OwnedMutexGuard;

/// Rows per multi-row INSERT: large enough to amortise statement overhead, small enough to
/// stay under SQLite's 32,766 bound parameters (feedback has 17 columns).
const INSERT_ROWS: usize = 1_000;
/// Ids per `IN (...)` lookup.
const LOOKUP_IDS: usize = 900;
const DAY_MICROS: i64 = 86_400_000_000;

const RESPONSE_COLUMNS: &[&str] = &[
    "seq",
    "id",
    "model_key",
    "query",
    "response",
    "conversation",
    "metadata",
    "created_at",
    "day",
    "content_hash",
];

const FEEDBACK_COLUMNS: &[&str] = &[
    "seq",
    "id",
    "response_seq",
    "model_key",
    "response_created_at",
    "response_day",
    "variant",
    "thumbs_up",
    "rating",
    "polarity",
    "score",
    "categories",
    "comment",
    "correction",
    "user_id",
    "created_at",
    "content_hash",
];

const CATEGORY_COLUMNS: &[&str] = &[
    "feedback_seq",
    "model_key",
    "response_day",
    "response_created_at",
    "category",
];

/// `INSERT INTO table (cols) VALUES (?, ...), ...` for `rows` rows.
fn insert_sql(table: &str, columns: &[&str], rows: usize) -> String {
    let one = format!("({})", vec!["?"; columns.len()].join(","));
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(","));
    sql.reserve(rows * (one.len() + 1));
    for i in 0..rows {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(&one);
    }
    sql
}

fn in_list(n: usize) -> String {
    let mut s = String::with_capacity(n * 2 + 2);
    s.push('(');
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        s.push('?');
    }
    s.push(')');
    s
}

fn day_of(micros: i64) -> i64 {
    bucket_start_micros(micros, Bucket::Day).div_euclid(DAY_MICROS)
}

/// Where a response lives, for feedback that references it.
#[derive(Clone, Copy)]
struct ResponseRef {
    seq: i64,
    model_key: i64,
    created_at: i64,
}

struct NewResponse<'a> {
    rec: &'a ResponseRecord,
    seq: i64,
    model_key: i64,
    created_at: i64,
    hash: [u8; 32],
    conversation: Option<String>,
    metadata: Option<String>,
}

struct NewFeedback<'a> {
    rec: &'a Feedback,
    seq: i64,
    target: ResponseRef,
    hash: [u8; 32],
    categories: Option<String>,
}

/// A `BEGIN IMMEDIATE` transaction: it takes SQLite's write lock up front, so the reads it
/// does before writing can never be invalidated by another writer (a plain `BEGIN` would
/// fail with SQLITE_BUSY when it first writes).
pub(super) struct SqliteTx {
    tx: Transaction<'static, Sqlite>,
    _guard: OwnedMutexGuard<()>,
    limits: Limits,
    summary: WriteSummary,
    /// Next free keys, read once per transaction; nobody else can insert while it holds
    /// the write lock, so keys are assigned here and rows can reference each other without
    /// reading ids back.
    next: Option<NextKeys>,
    /// Model keys known to this transaction.
    models: HashMap<String, i64>,
    /// Set while a `write` runs and cleared when it succeeds: a failed write may have
    /// stored part of a batch, so such a transaction can only be rolled back.
    failed: bool,
}

#[derive(Clone, Copy)]
struct NextKeys {
    response: i64,
    feedback: i64,
    model: i64,
}

impl SqliteTx {
    pub(super) async fn begin(
        pool: &SqlitePool,
        guard: OwnedMutexGuard<()>,
        limits: Limits,
    ) -> Result<Self> {
        let tx = pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| db_err("starting a write transaction", e))?;
        Ok(SqliteTx {
            tx,
            _guard: guard,
            limits,
            summary: WriteSummary::default(),
            next: None,
            models: HashMap::new(),
            failed: false,
        })
    }

    fn conn(&mut self) -> &mut SqliteConnection {
        &mut self.tx
    }

    async fn next_keys(&mut self) -> Result<NextKeys> {
        if let Some(n) = self.next {
            return Ok(n);
        }
        let (r, f, m): (i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT COALESCE(MAX(seq), 0) FROM responses), \
                    (SELECT COALESCE(MAX(seq), 0) FROM feedback), \
                    (SELECT COALESCE(MAX(key), 0) FROM models)",
        )
        .fetch_one(self.conn())
        .await
        .map_err(|e| db_err("reading row keys", e))?;
        let n = NextKeys {
            response: r + 1,
            feedback: f + 1,
            model: m + 1,
        };
        self.next = Some(n);
        Ok(n)
    }

    /// `(id, seq, content_hash)` of stored rows among `ids`.
    async fn existing(
        &mut self,
        table: &str,
        ids: &[&str],
    ) -> Result<HashMap<String, (i64, Vec<u8>)>> {
        let mut out = HashMap::new();
        for chunk in ids.chunks(LOOKUP_IDS) {
            let sql = format!(
                "SELECT id, seq, content_hash FROM {table} WHERE id IN {}",
                in_list(chunk.len())
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(*id);
            }
            let rows = q
                .fetch_all(self.conn())
                .await
                .map_err(|e| db_err("looking up existing ids", e))?;
            for row in rows {
                let id: String = row.try_get(0).map_err(|e| db_err("reading an id", e))?;
                let seq: i64 = row.try_get(1).map_err(|e| db_err("reading an id", e))?;
                let hash: Vec<u8> = row.try_get(2).map_err(|e| db_err("reading a hash", e))?;
                out.insert(id, (seq, hash));
            }
        }
        Ok(out)
    }

    /// Keys of `model_ids`, creating the missing ones.
    async fn model_keys(&mut self, model_ids: &[&str]) -> Result<()> {
        let unknown: Vec<&str> = model_ids
            .iter()
            .copied()
            .filter(|m| !self.models.contains_key(*m))
            .collect();
        for chunk in unknown.chunks(LOOKUP_IDS) {
            let sql = format!(
                "SELECT key, model_id FROM models WHERE model_id IN {}",
                in_list(chunk.len())
            );
            let mut q = sqlx::query_as::<_, (i64, String)>(&sql);
            for m in chunk {
                q = q.bind(*m);
            }
            for (key, m) in q
                .fetch_all(self.conn())
                .await
                .map_err(|e| db_err("looking up models", e))?
            {
                self.models.insert(m, key);
            }
        }
        for m in unknown {
            if self.models.contains_key(m) {
                continue;
            }
            let mut next = self.next_keys().await?;
            let key = next.model;
            next.model += 1;
            self.next = Some(next);
            sqlx::query("INSERT INTO models (key, model_id) VALUES (?, ?)")
                .bind(key)
                .bind(m)
                .execute(self.conn())
                .await
                .map_err(|e| db_err("storing a model", e))?;
            self.models.insert(m.to_string(), key);
        }
        Ok(())
    }

    async fn write_responses(&mut self, responses: &[ResponseRecord]) -> Result<Vec<ItemOutcome>> {
        let limits = self.limits;
        let mut outcomes: Vec<Option<ItemOutcome>> = responses
            .iter()
            .map(|r| precheck_response(r, &limits).map(ItemOutcome::Rejected))
            .collect();
        let ids: Vec<&str> = responses
            .iter()
            .zip(&outcomes)
            .filter(|(_, o)| o.is_none())
            .map(|(r, _)| r.id.as_str())
            .collect();
        if ids.is_empty() {
            return Ok(outcomes.into_iter().flatten().collect());
        }
        let stored = self.existing("responses", &ids).await?;
        let mut next = self.next_keys().await?;
        let mut fresh: Vec<NewResponse<'_>> = Vec::new();
        let mut fresh_index: HashMap<&str, usize> = HashMap::new();
        let mut conflicts: Vec<(usize, String)> = Vec::new();
        for (i, r) in responses.iter().enumerate() {
            if outcomes[i].is_some() {
                continue;
            }
            let hash = r.content_hash();
            if let Some((_, h)) = stored.get(&r.id) {
                if h.as_slice() == hash {
                    outcomes[i] = Some(ItemOutcome::Unchanged);
                } else {
                    conflicts.push((i, r.id.clone()));
                }
                continue;
            }
            if let Some(&j) = fresh_index.get(r.id.as_str()) {
                let earlier = &fresh[j];
                outcomes[i] = Some(if earlier.hash == hash {
                    ItemOutcome::Unchanged
                } else {
                    ItemOutcome::Rejected(Rejection::Conflict {
                        reason: response_diff(earlier.rec, r),
                    })
                });
                continue;
            }
            let conversation = if r.conversation.is_empty() {
                None
            } else {
                Some(
                    serde_json::to_string(&r.conversation)
                        .map_err(|e| Error::invalid("conversation", e.to_string()))?,
                )
            };
            let metadata = if r.metadata.is_empty() {
                None
            } else {
                Some(
                    serde_json::to_string(&r.metadata)
                        .map_err(|e| Error::invalid("metadata", e.to_string()))?,
                )
            };
            fresh_index.insert(&r.id, fresh.len());
            fresh.push(NewResponse {
                rec: r,
                seq: next.response,
                model_key: 0,
                created_at: to_micros(&r.created_at),
                hash,
                conversation,
                metadata,
            });
            next.response += 1;
            outcomes[i] = Some(ItemOutcome::Inserted);
        }
        // Conflicts are rare: decode the stored row only for them, to name what differs.
        for (i, id) in conflicts {
            let reason = match fetch_response(self.conn(), &id).await? {
                Some(existing) => response_diff(&existing, &responses[i]),
                None => response_diff(&responses[i], &responses[i]),
            };
            outcomes[i] = Some(ItemOutcome::Rejected(Rejection::Conflict { reason }));
        }
        if !fresh.is_empty() {
            let mut models: Vec<&str> = fresh.iter().map(|n| n.rec.model_id.as_str()).collect();
            models.sort_unstable();
            models.dedup();
            // Model keys may advance `self.next.model`; keep the response keys assigned here.
            self.next = Some(NextKeys {
                response: next.response,
                ..self.next.unwrap_or(next)
            });
            self.model_keys(&models).await?;
            for n in &mut fresh {
                n.model_key = self
                    .models
                    .get(n.rec.model_id.as_str())
                    .copied()
                    .ok_or_else(|| Error::Storage {
                        message: format!("model `{}` has no key", n.rec.model_id),
                        retryable: false,
                        source: None,
                    })?;
            }
            self.insert_responses(&fresh).await?;
        }
        Ok(outcomes.into_iter().flatten().collect())
    }

    async fn insert_responses(&mut self, rows: &[NewResponse<'_>]) -> Result<()> {
        let full_sql = insert_sql("responses", RESPONSE_COLUMNS, INSERT_ROWS);
        for chunk in rows.chunks(INSERT_ROWS) {
            let tail_sql;
            let sql = if chunk.len() == INSERT_ROWS {
                &full_sql
            } else {
                tail_sql = insert_sql("responses", RESPONSE_COLUMNS, chunk.len());
                &tail_sql
            };
            let mut q = sqlx::query(sql);
            for n in chunk {
                q = q
                    .bind(n.seq)
                    .bind(n.rec.id.as_str())
                    .bind(n.model_key)
                    .bind(n.rec.query.as_str())
                    .bind(n.rec.response.as_str())
                    .bind(n.conversation.as_deref())
                    .bind(n.metadata.as_deref())
                    .bind(n.created_at)
                    .bind(day_of(n.created_at))
                    .bind(&n.hash[..]);
            }
            q.execute(self.conn())
                .await
                .map_err(|e| db_err("storing responses", e))?;
        }
        Ok(())
    }

    /// Where each of `ids` lives (this transaction's earlier writes included).
    async fn resolve_responses(&mut self, ids: &[&str]) -> Result<HashMap<String, ResponseRef>> {
        let mut out = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(LOOKUP_IDS) {
            let sql = format!(
                "SELECT id, seq, model_key, created_at FROM responses WHERE id IN {}",
                in_list(chunk.len())
            );
            let mut q = sqlx::query_as::<_, (String, i64, i64, i64)>(&sql);
            for id in chunk {
                q = q.bind(*id);
            }
            for (id, seq, model_key, created_at) in q
                .fetch_all(self.conn())
                .await
                .map_err(|e| db_err("looking up responses", e))?
            {
                out.insert(
                    id,
                    ResponseRef {
                        seq,
                        model_key,
                        created_at,
                    },
                );
            }
        }
        Ok(out)
    }

    async fn write_feedback(&mut self, feedback: &[Feedback]) -> Result<Vec<ItemOutcome>> {
        let limits = self.limits;
        let mut outcomes: Vec<Option<ItemOutcome>> = feedback
            .iter()
            .map(|f| precheck_feedback(f, &limits).map(ItemOutcome::Rejected))
            .collect();
        let mut response_ids: Vec<&str> = feedback
            .iter()
            .zip(&outcomes)
            .filter(|(_, o)| o.is_none())
            .map(|(f, _)| f.response_id.as_str())
            .collect();
        if response_ids.is_empty() {
            return Ok(outcomes.into_iter().flatten().collect());
        }
        response_ids.sort_unstable();
        response_ids.dedup();
        let targets = self.resolve_responses(&response_ids).await?;
        let mut ids: Vec<&str> = Vec::with_capacity(feedback.len());
        for (f, o) in feedback.iter().zip(outcomes.iter_mut()) {
            if o.is_some() {
                continue;
            }
            if targets.contains_key(&f.response_id) {
                ids.push(&f.id);
            } else {
                *o = Some(ItemOutcome::Rejected(Rejection::UnknownResponse {
                    response_id: f.response_id.clone(),
                }));
            }
        }
        let stored = if ids.is_empty() {
            HashMap::new()
        } else {
            self.existing("feedback", &ids).await?
        };
        let mut next = self.next_keys().await?;
        let mut fresh: Vec<NewFeedback<'_>> = Vec::with_capacity(ids.len());
        let mut fresh_index: HashMap<&str, usize> = HashMap::with_capacity(ids.len());
        let mut conflicts: Vec<(usize, String)> = Vec::new();
        for (i, f) in feedback.iter().enumerate() {
            if outcomes[i].is_some() {
                continue;
            }
            let Some(&target) = targets.get(&f.response_id) else {
                continue; // rejected above
            };
            let hash = f.content_hash();
            if let Some((_, h)) = stored.get(&f.id) {
                if h.as_slice() == hash {
                    outcomes[i] = Some(ItemOutcome::Unchanged);
                } else {
                    conflicts.push((i, f.id.clone()));
                }
                continue;
            }
            if let Some(&j) = fresh_index.get(f.id.as_str()) {
                let earlier = &fresh[j];
                outcomes[i] = Some(if earlier.hash == hash {
                    ItemOutcome::Unchanged
                } else {
                    ItemOutcome::Rejected(Rejection::Conflict {
                        reason: feedback_diff(earlier.rec, f),
                    })
                });
                continue;
            }
            let categories = if f.categories().is_empty() {
                None
            } else {
                Some(
                    serde_json::to_string(f.categories())
                        .map_err(|e| Error::invalid("categories", e.to_string()))?,
                )
            };
            fresh_index.insert(&f.id, fresh.len());
            fresh.push(NewFeedback {
                rec: f,
                seq: next.feedback,
                target,
                hash,
                categories,
            });
            next.feedback += 1;
            outcomes[i] = Some(ItemOutcome::Inserted);
        }
        self.next = Some(next);
        for (i, id) in conflicts {
            let reason = match fetch_feedback(self.conn(), &id).await? {
                Some(existing) => feedback_diff(&existing, &feedback[i]),
                None => feedback_diff(&feedback[i], &feedback[i]),
            };
            outcomes[i] = Some(ItemOutcome::Rejected(Rejection::Conflict { reason }));
        }
        if !fresh.is_empty() {
            self.insert_feedback(&fresh).await?;
        }
        Ok(outcomes.into_iter().flatten().collect())
    }

    async fn insert_feedback(&mut self, rows: &[NewFeedback<'_>]) -> Result<()> {
        let full_sql = insert_sql("feedback", FEEDBACK_COLUMNS, INSERT_ROWS);
        for chunk in rows.chunks(INSERT_ROWS) {
            let tail_sql;
            let sql = if chunk.len() == INSERT_ROWS {
                &full_sql
            } else {
                tail_sql = insert_sql("feedback", FEEDBACK_COLUMNS, chunk.len());
                &tail_sql
            };
            let mut q = sqlx::query(sql);
            for n in chunk {
                let f = n.rec;
                q = q
                    .bind(n.seq)
                    .bind(f.id.as_str())
                    .bind(n.target.seq)
                    .bind(n.target.model_key)
                    .bind(n.target.created_at)
                    .bind(day_of(n.target.created_at))
                    .bind(variant_code(f.variant()))
                    .bind(f.thumbs_up())
                    .bind(f.rating().map(i64::from))
                    .bind(i64::from(f.polarity().code()))
                    .bind(f.score())
                    .bind(n.categories.as_deref())
                    .bind(f.comment.as_deref())
                    .bind(f.correction())
                    .bind(f.user_id.as_deref())
                    .bind(to_micros(&f.created_at))
                    .bind(&n.hash[..]);
            }
            q.execute(self.conn())
                .await
                .map_err(|e| db_err("storing feedback", e))?;
        }
        // One row per explicit category, for the metrics index.
        let cats: Vec<(&NewFeedback<'_>, &str)> = rows
            .iter()
            .flat_map(|n| n.rec.categories().iter().map(move |c| (n, c.as_str())))
            .collect();
        for chunk in cats.chunks(INSERT_ROWS) {
            let sql = insert_sql("feedback_categories", CATEGORY_COLUMNS, chunk.len());
            let mut q = sqlx::query(&sql);
            for (n, c) in chunk {
                q = q
                    .bind(n.seq)
                    .bind(n.target.model_key)
                    .bind(day_of(n.target.created_at))
                    .bind(n.target.created_at)
                    .bind(*c);
            }
            q.execute(self.conn())
                .await
                .map_err(|e| db_err("storing feedback categories", e))?;
        }
        Ok(())
    }
}

#[async_trait]
impl WriteTx for SqliteTx {
    async fn write(&mut self, batch: &RecordBatch) -> Result<BatchOutcome> {
        if self.failed {
            return Err(failed_tx());
        }
        self.failed = true;
        let outcome = BatchOutcome {
            responses: self.write_responses(&batch.responses).await?,
            feedback: self.write_feedback(&batch.feedback).await?,
        };
        self.summary.add(&outcome);
        self.failed = false;
        Ok(outcome)
    }

    async fn commit(self: Box<Self>) -> Result<WriteSummary> {
        let this = *self;
        if this.failed {
            // Dropping `this.tx` rolls back.
            return Err(failed_tx());
        }
        this.tx
            .commit()
            .await
            .map_err(|e| db_err("committing", e))?;
        Ok(this.summary)
    }

    async fn rollback(self: Box<Self>) -> Result<()> {
        self.tx
            .rollback()
            .await
            .map_err(|e| db_err("rolling back", e))
    }
}

fn failed_tx() -> Error {
    Error::Storage {
        message: "an earlier write in this transaction failed; roll it back and retry".into(),
        retryable: false,
        source: None,
    }
}
