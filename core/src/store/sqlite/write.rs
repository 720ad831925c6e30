//! The write transaction: validation, duplicate detection, and multi-row inserts.

use super::db_err;
use super::read::{fetch_feedback, fetch_response, variant_code};
use crate::analysis::metrics::bucket_start_micros;
use crate::error::{Error, Result};
use crate::model::time::to_micros;
use crate::model::{Bucket, Feedback, Limits, ResponseRecord};
use crate::store::batch_plan::{self, json_or_null, Judged, Plan, Settled};
use crate::store::{
    precheck_feedback, precheck_response, BatchOutcome, ItemOutcome, RecordBatch, Rejection,
    WriteSummary, WriteTx,
};
use async_trait::async_trait;
use sqlx::sqlite::SqliteArguments;
use sqlx::{Row, Sqlite, SqliteConnection, SqlitePool, Transaction};
use std::collections::HashMap;
use std::sync::Arc;
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

/// `INSERT INTO table (cols) VALUES (?, ...), ... ON CONFLICT(key) DO NOTHING` for `rows`
/// rows: an existing id is skipped, and the rows-affected count tells whether any was.
fn insert_sql(table: &str, columns: &[&str], rows: usize, key: &str) -> String {
    let one = format!("({})", vec!["?"; columns.len()].join(","));
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(","));
    sql.reserve(rows * (one.len() + 1));
    for i in 0..rows {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(&one);
    }
    sql.push_str(" ON CONFLICT(");
    sql.push_str(key);
    sql.push_str(") DO NOTHING");
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

/// Where recently seen responses live. Responses are never updated or deleted, so an entry
/// stays true once its row is committed; entries from a transaction are added only when it
/// commits. Bounded: cleared when full.
#[derive(Debug, Default)]
pub(super) struct ResponseRefCache {
    map: std::sync::Mutex<HashMap<String, ResponseRef>>,
}

/// Entries kept before the cache starts over (about 80 bytes each).
const RESPONSE_REF_CACHE: usize = 250_000;

impl ResponseRefCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, ResponseRef>> {
        // The map holds plain values; a panic elsewhere cannot leave it half-updated.
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn extend(&self, entries: impl IntoIterator<Item = (String, ResponseRef)>) {
        let mut map = self.lock();
        for (k, v) in entries {
            if map.len() >= RESPONSE_REF_CACHE {
                map.clear();
            }
            map.insert(k, v);
        }
    }
}

/// Where a response lives, for feedback that references it.
#[derive(Debug, Clone, Copy)]
struct ResponseRef {
    seq: i64,
    model_key: i64,
    created_at: i64,
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
    /// Responses stored by this transaction, so feedback on them needs no lookup.
    written: HashMap<String, ResponseRef>,
    /// The store's cache of committed responses; gets `written` on commit.
    refs: Arc<ResponseRefCache>,
    /// Told about each commit (wakes the background checkpointer).
    committed: Arc<tokio::sync::Notify>,
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
        refs: Arc<ResponseRefCache>,
        committed: Arc<tokio::sync::Notify>,
        busy_wait: std::time::Duration,
    ) -> Result<Self> {
        let tx =
            super::busy::begin_immediate(pool, busy_wait, "starting a write transaction").await?;
        Ok(SqliteTx {
            tx,
            _guard: guard,
            limits,
            summary: WriteSummary::default(),
            next: None,
            models: HashMap::new(),
            written: HashMap::new(),
            refs,
            committed,
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
        let plan = Plan::new(responses.iter().map(|r| r.id.as_str()), &outcomes);
        if plan.candidates.is_empty() {
            return Ok(outcomes.into_iter().flatten().collect());
        }
        let mut models: Vec<&str> = plan
            .candidates
            .iter()
            .map(|&i| responses[i].model_id.as_str())
            .collect();
        models.sort_unstable();
        models.dedup();
        self.model_keys(&models).await?;
        let mut next = self.next_keys().await?;
        let first_seq = next.response;
        next.response += plan.candidates.len() as i64;
        self.next = Some(next);

        let mut keys = Vec::with_capacity(plan.candidates.len());
        for &i in &plan.candidates {
            let r = &responses[i];
            let key = self
                .models
                .get(r.model_id.as_str())
                .copied()
                .ok_or_else(|| Error::Storage {
                    message: format!("model `{}` has no key", r.model_id),
                    retryable: false,
                    source: None,
                })?;
            keys.push(key);
        }
        let sql = InsertSql::new("responses", RESPONSE_COLUMNS, plan.candidates.len());
        let (affected, hashes) =
            insert_pipelined(self.conn(), &sql, &plan.candidates, |q, pos, i| {
                let r = &responses[i];
                let hash = r.content_hash();
                let created = to_micros(&r.created_at);
                let q = q
                    .bind(first_seq + pos as i64)
                    .bind(r.id.as_str())
                    .bind(keys[pos])
                    .bind(r.query.as_str())
                    .bind(r.response.as_str())
                    .bind(json_or_null(&r.conversation, r.conversation.is_empty())?)
                    .bind(json_or_null(&r.metadata, r.metadata.is_empty())?)
                    .bind(created)
                    .bind(day_of(created))
                    .bind(hash.to_vec());
                Ok((q, hash))
            })
            .await?;
        let results = self
            .settle("responses", &plan, &hashes, &affected, first_seq, |i| {
                responses[i].id.as_str()
            })
            .await?;
        for (k, &i) in plan.candidates.iter().enumerate() {
            if matches!(results[k], Settled::Inserted) {
                let r = &responses[i];
                self.written.insert(
                    r.id.clone(),
                    ResponseRef {
                        seq: first_seq + k as i64,
                        model_key: keys[k],
                        created_at: to_micros(&r.created_at),
                    },
                );
            }
        }
        judge(
            self.conn(),
            responses,
            &plan,
            &results,
            &hashes,
            &mut outcomes,
        )
        .await?;
        Ok(outcomes.into_iter().flatten().collect())
    }

    /// Decides, per candidate, whether the `INSERT ... ON CONFLICT DO NOTHING` stored it.
    /// Chunks whose every row was inserted need no query: the common case of new data.
    async fn settle<'a>(
        &mut self,
        table: &str,
        plan: &Plan<'a>,
        hashes: &[[u8; 32]],
        affected: &[u64],
        first_seq: i64,
        id_of: impl Fn(usize) -> &'a str,
    ) -> Result<Vec<Settled>> {
        let mut out = Vec::with_capacity(plan.candidates.len());
        for (c, chunk) in plan.candidates.chunks(INSERT_ROWS).enumerate() {
            if affected.get(c).copied() == Some(chunk.len() as u64) {
                out.extend(chunk.iter().map(|_| Settled::Inserted));
                continue;
            }
            let ids: Vec<&str> = chunk.iter().map(|&i| id_of(i)).collect();
            let stored = self.existing(table, &ids).await?;
            for (k, id) in ids.iter().enumerate() {
                let pos = c * INSERT_ROWS + k;
                out.push(match stored.get(*id) {
                    Some((seq, _)) if *seq == first_seq + pos as i64 => Settled::Inserted,
                    Some((_, h)) if h.as_slice() == hashes[pos] => Settled::Unchanged,
                    Some(_) => Settled::Conflict,
                    // Not stored at all cannot happen after an INSERT that skipped it.
                    None => Settled::Inserted,
                });
            }
        }
        Ok(out)
    }

    /// Where the response of each feedback item lives (`None`: unknown or not asked for,
    /// per `skip`). This transaction's writes and the store's cache answer most; the rest
    /// are looked up in one query per chunk of distinct ids.
    async fn resolve_responses(
        &mut self,
        feedback: &[Feedback],
        skip: &[Option<ItemOutcome>],
    ) -> Result<Vec<Option<ResponseRef>>> {
        let mut out: Vec<Option<ResponseRef>> = vec![None; feedback.len()];
        let mut missing: HashMap<&str, ()> = HashMap::new();
        {
            let cache = self.refs.lock();
            for (i, f) in feedback.iter().enumerate() {
                if skip[i].is_some() {
                    continue;
                }
                let id = f.response_id.as_str();
                match self.written.get(id).or_else(|| cache.get(id)) {
                    Some(r) => out[i] = Some(*r),
                    None => {
                        missing.insert(id, ());
                    }
                }
            }
        }
        if missing.is_empty() {
            return Ok(out);
        }
        let missing: Vec<&str> = missing.into_keys().collect();
        let mut found: HashMap<String, ResponseRef> = HashMap::with_capacity(missing.len());
        for chunk in missing.chunks(LOOKUP_IDS) {
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
                found.insert(
                    id,
                    ResponseRef {
                        seq,
                        model_key,
                        created_at,
                    },
                );
            }
        }
        for (i, f) in feedback.iter().enumerate() {
            if out[i].is_none() && skip[i].is_none() {
                out[i] = found.get(f.response_id.as_str()).copied();
            }
        }
        // Rows not written by this transaction are committed: safe to remember now.
        self.refs.extend(found);
        Ok(out)
    }

    async fn write_feedback(&mut self, feedback: &[Feedback]) -> Result<Vec<ItemOutcome>> {
        let limits = self.limits;
        let mut outcomes: Vec<Option<ItemOutcome>> = feedback
            .iter()
            .map(|f| precheck_feedback(f, &limits).map(ItemOutcome::Rejected))
            .collect();
        if outcomes.iter().all(Option::is_some) {
            return Ok(outcomes.into_iter().flatten().collect());
        }
        let targets = self.resolve_responses(feedback, &outcomes).await?;
        for ((f, o), t) in feedback.iter().zip(outcomes.iter_mut()).zip(&targets) {
            if o.is_none() && t.is_none() {
                *o = Some(ItemOutcome::Rejected(Rejection::UnknownResponse {
                    response_id: f.response_id.clone(),
                }));
            }
        }
        let plan = Plan::new(feedback.iter().map(|f| f.id.as_str()), &outcomes);
        if plan.candidates.is_empty() {
            return Ok(outcomes.into_iter().flatten().collect());
        }
        let mut next = self.next_keys().await?;
        let first_seq = next.feedback;
        next.feedback += plan.candidates.len() as i64;
        self.next = Some(next);

        let mut target_of = Vec::with_capacity(plan.candidates.len());
        for &i in &plan.candidates {
            let t = targets[i].ok_or_else(|| Error::Storage {
                message: format!("response `{}` vanished", feedback[i].response_id),
                retryable: false,
                source: None,
            })?;
            target_of.push(t);
        }
        let sql = InsertSql::new("feedback", FEEDBACK_COLUMNS, plan.candidates.len());
        let (affected, hashes) =
            insert_pipelined(self.conn(), &sql, &plan.candidates, |q, pos, i| {
                let f = &feedback[i];
                let t = target_of[pos];
                let hash = f.content_hash();
                let q = q
                    .bind(first_seq + pos as i64)
                    .bind(f.id.as_str())
                    .bind(t.seq)
                    .bind(t.model_key)
                    .bind(t.created_at)
                    .bind(day_of(t.created_at))
                    .bind(variant_code(f.variant()))
                    .bind(f.thumbs_up())
                    .bind(f.rating().map(i64::from))
                    .bind(i64::from(f.polarity().code()))
                    .bind(f.score())
                    .bind(json_or_null(f.categories(), f.categories().is_empty())?)
                    .bind(f.comment.as_deref())
                    .bind(f.correction())
                    .bind(f.user_id.as_deref())
                    .bind(to_micros(&f.created_at))
                    .bind(hash.to_vec());
                Ok((q, hash))
            })
            .await?;
        let results = self
            .settle("feedback", &plan, &hashes, &affected, first_seq, |i| {
                feedback[i].id.as_str()
            })
            .await?;
        judge(
            self.conn(),
            feedback,
            &plan,
            &results,
            &hashes,
            &mut outcomes,
        )
        .await?;
        Ok(outcomes.into_iter().flatten().collect())
    }
}

/// Reading back a stored item of a kind, to judge a conflict.
#[async_trait]
trait Stored: Judged + Sized + Send + Sync {
    /// Reads the stored item with this id.
    async fn fetch(conn: &mut SqliteConnection, id: &str) -> Result<Option<Self>>;
}

#[async_trait]
impl Stored for ResponseRecord {
    async fn fetch(conn: &mut SqliteConnection, id: &str) -> Result<Option<Self>> {
        fetch_response(conn, id).await
    }
}

#[async_trait]
impl Stored for Feedback {
    async fn fetch(conn: &mut SqliteConnection, id: &str) -> Result<Option<Self>> {
        fetch_feedback(conn, id).await
    }
}

/// Reads the stored versions conflicts need, then judges (see [`batch_plan::judge`]).
async fn judge<T: Stored>(
    conn: &mut SqliteConnection,
    items: &[T],
    plan: &Plan<'_>,
    results: &[Settled],
    hashes: &[[u8; 32]],
    outcomes: &mut [Option<ItemOutcome>],
) -> Result<()> {
    let mut stored = HashMap::new();
    for id in batch_plan::conflicted_ids(items, plan, results) {
        if let Some(item) = T::fetch(conn, &id).await? {
            stored.insert(id, item);
        }
    }
    batch_plan::judge(items, plan, results, hashes, &stored, outcomes);
    Ok(())
}

/// The two statement texts an insert of `n` rows needs: full chunks and the last one.
struct InsertSql {
    table: &'static str,
    full: String,
    tail: String,
}

impl InsertSql {
    fn new(table: &'static str, columns: &[&str], n: usize) -> Self {
        InsertSql {
            table,
            full: insert_sql(table, columns, INSERT_ROWS, "id"),
            tail: insert_sql(table, columns, n % INSERT_ROWS, "id"),
        }
    }
}

/// Inserts the candidates with `INSERT ... ON CONFLICT(id) DO NOTHING`, `INSERT_ROWS` per
/// statement, pipelined. `bind_row(query, position, item index)` binds one row and returns
/// its content hash. Returns rows affected per statement and the hashes, in candidate order.
async fn insert_pipelined<'q, F>(
    conn: &mut SqliteConnection,
    sql: &'q InsertSql,
    candidates: &'q [usize],
    mut bind_row: F,
) -> Result<(Vec<u64>, Vec<[u8; 32]>)>
where
    F: FnMut(SqliteQuery<'q>, usize, usize) -> Result<(SqliteQuery<'q>, [u8; 32])>,
{
    let InsertSql {
        table,
        full: full_sql,
        tail: tail_sql,
    } = sql;
    let chunks: Vec<&[usize]> = candidates.chunks(INSERT_ROWS).collect();
    let mut hashes: Vec<[u8; 32]> = Vec::with_capacity(candidates.len());
    let what = format!("storing {table}");
    let affected = {
        let hashes = &mut hashes;
        let build = |c: usize| -> Result<SqliteQuery<'q>> {
            let chunk = chunks[c];
            let sql = if chunk.len() == INSERT_ROWS {
                &full_sql
            } else {
                &tail_sql
            };
            let mut q = sqlx::query(sql.as_str());
            for (k, &i) in chunk.iter().enumerate() {
                let (next, hash) = bind_row(q, c * INSERT_ROWS + k, i)?;
                hashes.push(hash);
                q = next;
            }
            Ok(q)
        };
        execute_pipelined(conn, chunks.len(), build, &what).await?
    };
    Ok((affected, hashes))
}

type SqliteQuery<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments<'q>>;

/// Runs `n` statements one after another, building statement `k + 1` while SQLite executes
/// statement `k` on sqlx's worker thread, so hashing and binding overlap the database work.
/// Returns the rows affected by each.
async fn execute_pipelined<'q, F>(
    conn: &mut SqliteConnection,
    n: usize,
    mut build: F,
    what: &str,
) -> Result<Vec<u64>>
where
    F: FnMut(usize) -> Result<SqliteQuery<'q>>,
{
    use std::future::Future;
    use std::task::Poll;
    let mut affected = Vec::with_capacity(n);
    if n == 0 {
        return Ok(affected);
    }
    let mut current = Some(build(0)?);
    let mut k = 0;
    while let Some(q) = current.take() {
        k += 1;
        let mut exec = std::pin::pin!(q.execute(&mut *conn));
        // One poll hands the statement to the worker thread; then build the next one.
        let first = std::future::poll_fn(|cx| Poll::Ready(exec.as_mut().poll(cx))).await;
        let next = if k < n { Some(build(k)) } else { None };
        let done = match first {
            Poll::Ready(r) => r,
            Poll::Pending => exec.await,
        };
        affected.push(done.map_err(|e| db_err(what, e))?.rows_affected());
        current = next.transpose()?;
    }
    Ok(affected)
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

    async fn write_comparisons(
        &mut self,
        comparisons: &[crate::model::Comparison],
    ) -> Result<Vec<ItemOutcome>> {
        if self.failed {
            return Err(failed_tx());
        }
        self.failed = true;
        let limits = self.limits;
        let outcome = super::comparisons::write(self.conn(), &limits, comparisons).await?;
        self.summary.add_comparisons(&outcome);
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
        this.refs.extend(this.written);
        this.committed.notify_one();
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
