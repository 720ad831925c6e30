//! The write transaction: validation, duplicate detection, and bulk inserts through
//! `UNNEST` arrays.
//!
//! Safe with many writers in many processes: row keys are reserved from sequences, every
//! insert is `INSERT ... SELECT FROM UNNEST(...) ON CONFLICT (id) DO NOTHING`, and rows are
//! sorted by id inside each statement so concurrent transactions wait on unique-index
//! entries in the same order (two writers of overlapping batches queue, never deadlock).
//! A row skipped by `ON CONFLICT` is then judged by its stored content hash, exactly as the
//! in-memory store judges it.

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
use rayon::prelude::*;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::OwnedMutexGuard;

/// Rows per `INSERT ... UNNEST` statement: big enough that per-statement costs vanish,
/// small enough to bound the size of one message to the server.
const INSERT_ROWS: usize = 10_000;
const DAY_MICROS: i64 = 86_400_000_000;

/// Bulk insert of responses from one array per column (rows sorted by id).
macro_rules! responses_insert {
    () => {
        "INSERT INTO responses (seq, id, model_key, query, response, conversation, \
         metadata, created_at, day, content_hash) \
         SELECT * FROM UNNEST($1::int8[], $2::text[], $3::int8[], $4::text[], \
         $5::text[], $6::text[], $7::text[], $8::int8[], $9::int8[], $10::bytea[])"
    };
}

/// Bulk insert of feedback from one array per column (rows sorted by id).
macro_rules! feedback_insert {
    () => {
        "INSERT INTO feedback (seq, id, response_seq, model_key, response_created_at, \
         response_day, variant, thumbs_up, rating, polarity, score, categories, \
         comment, correction, user_id, created_at, content_hash) \
         SELECT u.seq, u.id, u.rs, u.mk, u.rc, u.rd, u.v, u.t, u.r, u.p, u.s, \
         string_to_array(u.c, ','), u.cm, u.co, u.ui, u.ca, u.h \
         FROM UNNEST($1::int8[], $2::text[], $3::int8[], $4::int8[], $5::int8[], \
         $6::int8[], $7::int2[], $8::bool[], $9::int2[], $10::int2[], $11::float8[], \
         $12::text[], $13::text[], $14::text[], $15::text[], $16::int8[], \
         $17::bytea[]) \
         AS u(seq, id, rs, mk, rc, rd, v, t, r, p, s, c, cm, co, ui, ca, h)"
    };
}

/// A statement without and with `ON CONFLICT (id) DO NOTHING`.
macro_rules! insert_sql {
    (RESPONSES_INSERT) => {
        [
            responses_insert!(),
            concat!(responses_insert!(), " ON CONFLICT (id) DO NOTHING"),
        ]
    };
    (FEEDBACK_INSERT) => {
        [
            feedback_insert!(),
            concat!(feedback_insert!(), " ON CONFLICT (id) DO NOTHING"),
        ]
    };
}

/// PostgreSQL text cannot hold U+0000 (the statement would fail, and with it the whole
/// batch), so such an item is rejected on its own. Ids and model ids cannot contain control
/// characters anyway, and JSON columns store it escaped.
fn nul_in(fields: &[(&str, &str)]) -> Option<Rejection> {
    fields
        .iter()
        .find(|(_, v)| v.contains('\0'))
        .map(|(field, _)| Rejection::Invalid {
            field: (*field).to_string(),
            reason: "contains a NUL character (U+0000), which PostgreSQL text cannot store".into(),
        })
}

fn day_of(micros: i64) -> i64 {
    bucket_start_micros(micros, Bucket::Day).div_euclid(DAY_MICROS)
}

/// Where recently seen responses live, so feedback arriving for them needs no lookup.
/// Responses are never updated or deleted, so an entry stays true once its row is
/// committed, whoever committed it; entries from a transaction are added only when it
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

/// Shared by the write transactions of one store.
#[derive(Debug, Default)]
pub(super) struct WriterState {
    /// Committed responses seen lately.
    pub(super) refs: ResponseRefCache,
    /// Whether the last batch was all new ids, so the next one is tried with a plain
    /// INSERT (see `insert_rows`).
    expect_new: AtomicBool,
}

impl WriterState {
    pub(super) fn new() -> Self {
        WriterState {
            refs: ResponseRefCache::default(),
            expect_new: AtomicBool::new(true),
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

/// A READ COMMITTED transaction. Each statement sees what other writers committed before
/// it started, and `ON CONFLICT DO NOTHING` waits for a concurrent uncommitted insert of
/// the same id to settle, so no id is ever stored twice or lost.
pub(super) struct PgTx {
    tx: Transaction<'static, Postgres>,
    /// Models are created outside the transaction (see `model_keys`).
    pool: PgPool,
    _guard: OwnedMutexGuard<()>,
    limits: Limits,
    summary: WriteSummary,
    /// Model keys known to this transaction.
    models: HashMap<String, i64>,
    /// Responses stored by this transaction, so feedback on them needs no lookup.
    written: HashMap<String, ResponseRef>,
    /// The store's shared writer state; its cache gets `written` on commit.
    state: Arc<WriterState>,
    /// Whether a statement of this transaction met an id already stored.
    met_existing: bool,
    /// Set while a `write` runs and cleared when it succeeds: PostgreSQL aborts a
    /// transaction after a failed statement, so it can only be rolled back.
    failed: bool,
}

impl PgTx {
    pub(super) async fn begin(
        pool: &PgPool,
        guard: OwnedMutexGuard<()>,
        limits: Limits,
        state: Arc<WriterState>,
    ) -> Result<Self> {
        let tx = pool
            .begin()
            .await
            .map_err(|e| db_err("starting a write transaction", e))?;
        Ok(PgTx {
            tx,
            pool: pool.clone(),
            _guard: guard,
            limits,
            summary: WriteSummary::default(),
            models: HashMap::new(),
            written: HashMap::new(),
            state,
            met_existing: false,
            failed: false,
        })
    }

    fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    /// `n` fresh keys of `sequence`, ascending. Sequences are not transactional: the keys
    /// are this transaction's alone, whatever other writers do, and unused ones are gaps.
    /// One array in one row: cheaper to transfer than `n` rows.
    async fn reserve(&mut self, sequence: &str, n: usize) -> Result<Vec<i64>> {
        let sql = format!("SELECT array_agg(nextval('{sequence}')) FROM generate_series(1, $1)");
        let mut keys: Vec<i64> = sqlx::query_scalar(&sql)
            .bind(i32::try_from(n).unwrap_or(i32::MAX))
            .fetch_one(self.conn())
            .await
            .map_err(|e| db_err("reserving row keys", e))?;
        keys.sort_unstable();
        Ok(keys)
    }

    /// Keys of `model_ids` (sorted, distinct), creating the missing ones. New models are
    /// committed at once, outside the write transaction, so concurrent writers never hold
    /// locks on them; a model without responses is invisible (stats and metrics list
    /// models that have data).
    async fn model_keys(&mut self, model_ids: &[&str]) -> Result<()> {
        let unknown: Vec<&str> = model_ids
            .iter()
            .copied()
            .filter(|m| !self.models.contains_key(*m))
            .collect();
        if unknown.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO models (model_id) SELECT m FROM UNNEST($1::text[]) AS m \
             ON CONFLICT (model_id) DO NOTHING",
        )
        .bind(&unknown)
        .execute(&self.pool)
        .await
        .map_err(|e| db_err("storing models", e))?;
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT key, model_id FROM models WHERE model_id = ANY($1)")
                .bind(&unknown)
                .fetch_all(self.conn())
                .await
                .map_err(|e| db_err("looking up models", e))?;
        self.models.extend(rows.into_iter().map(|(k, m)| (m, k)));
        Ok(())
    }

    /// Runs one `INSERT ... SELECT FROM UNNEST(...)` (`sql`: without and with the conflict
    /// clause)
    /// and returns the rows it stored. When the last batch was all new, it first tries a
    /// plain INSERT inside a savepoint (about 10 % less server work than
    /// `ON CONFLICT DO NOTHING`); an existing id makes that fail with a unique violation,
    /// undone by rolling back to the savepoint, and the statement is repeated with
    /// `ON CONFLICT (id) DO NOTHING`.
    async fn insert_rows<'q>(
        &mut self,
        sql: [&'static str; 2],
        what: &str,
        bind: impl Fn(
            sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>,
        ) -> sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>,
    ) -> Result<u64> {
        if self.state.expect_new.load(Ordering::Relaxed) {
            sqlx::query("SAVEPOINT tuneloop_insert")
                .execute(self.conn())
                .await
                .map_err(|e| db_err(what, e))?;
            match bind(sqlx::query(sql[0])).execute(self.conn()).await {
                Ok(done) => {
                    sqlx::query("RELEASE SAVEPOINT tuneloop_insert")
                        .execute(self.conn())
                        .await
                        .map_err(|e| db_err(what, e))?;
                    return Ok(done.rows_affected());
                }
                Err(sqlx::Error::Database(d)) if d.code().as_deref() == Some("23505") => {
                    self.met_existing = true;
                    self.state.expect_new.store(false, Ordering::Relaxed);
                    sqlx::query("ROLLBACK TO SAVEPOINT tuneloop_insert")
                        .execute(self.conn())
                        .await
                        .map_err(|e| db_err(what, e))?;
                }
                Err(e) => return Err(db_err(what, e)),
            }
        }
        let done = bind(sqlx::query(sql[1]))
            .execute(self.conn())
            .await
            .map_err(|e| db_err(what, e))?;
        Ok(done.rows_affected())
    }

    /// `(seq, content_hash)` of stored rows among `ids`.
    async fn existing(
        &mut self,
        table: &str,
        ids: &[&str],
    ) -> Result<HashMap<String, (i64, Vec<u8>)>> {
        let sql = format!("SELECT id, seq, content_hash FROM {table} WHERE id = ANY($1)");
        let rows: Vec<(String, i64, Vec<u8>)> = sqlx::query_as(&sql)
            .bind(ids)
            .fetch_all(self.conn())
            .await
            .map_err(|e| db_err("looking up existing ids", e))?;
        Ok(rows.into_iter().map(|(id, s, h)| (id, (s, h))).collect())
    }

    async fn write_responses(&mut self, responses: &[ResponseRecord]) -> Result<Vec<ItemOutcome>> {
        let limits = self.limits;
        let mut outcomes: Vec<Option<ItemOutcome>> = responses
            .iter()
            .map(|r| {
                precheck_response(r, &limits)
                    .or_else(|| nul_in(&[("query", &r.query), ("response", &r.response)]))
                    .map(ItemOutcome::Rejected)
            })
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
        let seqs = self
            .reserve("responses_seq_seq", plan.candidates.len())
            .await?;
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
        let hashes: Vec<[u8; 32]> = plan
            .candidates
            .par_iter()
            .with_min_len(1_000)
            .map(|&i| responses[i].content_hash())
            .collect();
        let order = sorted_by_id(&plan.candidates, |i| responses[i].id.as_str());
        let mut results = vec![Settled::Inserted; plan.candidates.len()];
        for chunk in order.chunks(INSERT_ROWS) {
            let n = chunk.len();
            let (mut seq, mut id, mut key, mut query, mut response) = (
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
            );
            let (mut conversation, mut metadata, mut created, mut day, mut hash) = (
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
            );
            for &pos in chunk {
                let r = &responses[plan.candidates[pos]];
                let at = to_micros(&r.created_at);
                seq.push(seqs[pos]);
                id.push(r.id.as_str());
                key.push(keys[pos]);
                query.push(r.query.as_str());
                response.push(r.response.as_str());
                conversation.push(json_or_null(&r.conversation, r.conversation.is_empty())?);
                metadata.push(json_or_null(&r.metadata, r.metadata.is_empty())?);
                created.push(at);
                day.push(day_of(at));
                hash.push(hashes[pos].to_vec());
            }
            let stored = self
                .insert_rows(insert_sql!(RESPONSES_INSERT), "storing responses", |q| {
                    q.bind(&seq)
                        .bind(&id)
                        .bind(&key)
                        .bind(&query)
                        .bind(&response)
                        .bind(&conversation)
                        .bind(&metadata)
                        .bind(&created)
                        .bind(&day)
                        .bind(&hash)
                })
                .await?;
            if stored != n as u64 {
                self.settle("responses", chunk, &id, &seqs, &hashes, &mut results)
                    .await?;
            }
        }
        for (pos, &i) in plan.candidates.iter().enumerate() {
            if matches!(results[pos], Settled::Inserted) {
                let r = &responses[i];
                self.written.insert(
                    r.id.clone(),
                    ResponseRef {
                        seq: seqs[pos],
                        model_key: keys[pos],
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

    /// Decides for the rows of one statement (`chunk`: candidate positions, `ids` theirs)
    /// that `ON CONFLICT DO NOTHING` did not all store: a row holding our reserved key is
    /// ours; otherwise the stored hash says unchanged or conflict.
    async fn settle(
        &mut self,
        table: &str,
        chunk: &[usize],
        ids: &[&str],
        seqs: &[i64],
        hashes: &[[u8; 32]],
        results: &mut [Settled],
    ) -> Result<()> {
        self.met_existing = true;
        let stored = self.existing(table, ids).await?;
        for (k, &pos) in chunk.iter().enumerate() {
            results[pos] = match stored.get(ids[k]) {
                Some((seq, _)) if *seq == seqs[pos] => Settled::Inserted,
                Some((_, h)) if h.as_slice() == hashes[pos] => Settled::Unchanged,
                Some(_) => Settled::Conflict,
                // Not stored at all cannot happen after an INSERT that skipped it.
                None => Settled::Inserted,
            };
        }
        Ok(())
    }

    /// Where the response of each feedback item lives (`None`: unknown or not asked for,
    /// per `skip`). This transaction's writes answer first; the rest are looked up in one
    /// query.
    async fn resolve_responses(
        &mut self,
        feedback: &[Feedback],
        skip: &[Option<ItemOutcome>],
    ) -> Result<Vec<Option<ResponseRef>>> {
        let mut out: Vec<Option<ResponseRef>> = vec![None; feedback.len()];
        let mut missing: Vec<&str> = Vec::new();
        {
            let cache = self.state.refs.lock();
            for (i, f) in feedback.iter().enumerate() {
                if skip[i].is_some() {
                    continue;
                }
                let id = f.response_id.as_str();
                match self.written.get(id).or_else(|| cache.get(id)) {
                    Some(r) => out[i] = Some(*r),
                    None => missing.push(id),
                }
            }
        }
        if missing.is_empty() {
            return Ok(out);
        }
        missing.sort_unstable();
        missing.dedup();
        let rows: Vec<(String, i64, i64, i64)> = sqlx::query_as(
            "SELECT id, seq, model_key, created_at FROM responses WHERE id = ANY($1)",
        )
        .bind(&missing)
        .fetch_all(self.conn())
        .await
        .map_err(|e| db_err("looking up responses", e))?;
        let found: HashMap<String, ResponseRef> = rows
            .into_iter()
            .map(|(id, seq, model_key, created_at)| {
                (
                    id,
                    ResponseRef {
                        seq,
                        model_key,
                        created_at,
                    },
                )
            })
            .collect();
        for (i, f) in feedback.iter().enumerate() {
            if out[i].is_none() && skip[i].is_none() {
                out[i] = found.get(f.response_id.as_str()).copied();
            }
        }
        // Rows this transaction did not write (those are in `written`) are committed:
        // safe to remember now.
        self.state.refs.extend(found);
        Ok(out)
    }

    async fn write_feedback(&mut self, feedback: &[Feedback]) -> Result<Vec<ItemOutcome>> {
        let limits = self.limits;
        let mut outcomes: Vec<Option<ItemOutcome>> = feedback
            .iter()
            .map(|f| {
                precheck_feedback(f, &limits)
                    .or_else(|| {
                        nul_in(&[
                            ("comment", f.comment.as_deref().unwrap_or("")),
                            ("correction", f.correction().unwrap_or("")),
                            ("user_id", f.user_id.as_deref().unwrap_or("")),
                        ])
                    })
                    .map(ItemOutcome::Rejected)
            })
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
        let seqs = self
            .reserve("feedback_seq_seq", plan.candidates.len())
            .await?;
        let mut target_of = Vec::with_capacity(plan.candidates.len());
        for &i in &plan.candidates {
            let t = targets[i].ok_or_else(|| Error::Storage {
                message: format!("response `{}` vanished", feedback[i].response_id),
                retryable: false,
                source: None,
            })?;
            target_of.push(t);
        }
        let hashes: Vec<[u8; 32]> = plan
            .candidates
            .par_iter()
            .with_min_len(1_000)
            .map(|&i| feedback[i].content_hash())
            .collect();
        let order = sorted_by_id(&plan.candidates, |i| feedback[i].id.as_str());
        let mut results = vec![Settled::Inserted; plan.candidates.len()];
        for chunk in order.chunks(INSERT_ROWS) {
            let mut cols = FeedbackColumns::with_capacity(chunk.len());
            for &pos in chunk {
                cols.push(
                    &feedback[plan.candidates[pos]],
                    seqs[pos],
                    target_of[pos],
                    &hashes[pos],
                );
            }
            let stored = self
                .insert_rows(insert_sql!(FEEDBACK_INSERT), "storing feedback", |q| {
                    q.bind(&cols.seq)
                        .bind(&cols.id)
                        .bind(&cols.response_seq)
                        .bind(&cols.model_key)
                        .bind(&cols.response_created_at)
                        .bind(&cols.response_day)
                        .bind(&cols.variant)
                        .bind(&cols.thumbs_up)
                        .bind(&cols.rating)
                        .bind(&cols.polarity)
                        .bind(&cols.score)
                        .bind(&cols.categories)
                        .bind(&cols.comment)
                        .bind(&cols.correction)
                        .bind(&cols.user_id)
                        .bind(&cols.created_at)
                        .bind(&cols.hash)
                })
                .await?;
            if stored != chunk.len() as u64 {
                let ids = cols.id.clone();
                self.settle("feedback", chunk, &ids, &seqs, &hashes, &mut results)
                    .await?;
            }
        }
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

/// One `UNNEST` statement's worth of feedback, column by column.
#[derive(Default)]
struct FeedbackColumns<'a> {
    seq: Vec<i64>,
    id: Vec<&'a str>,
    response_seq: Vec<i64>,
    model_key: Vec<i64>,
    response_created_at: Vec<i64>,
    response_day: Vec<i64>,
    variant: Vec<i16>,
    thumbs_up: Vec<Option<bool>>,
    rating: Vec<Option<i16>>,
    polarity: Vec<i16>,
    score: Vec<f64>,
    /// Comma-joined (categories are `[a-z0-9_]+`), split back by `string_to_array`: an
    /// array of arrays cannot go through `UNNEST`, which flattens it.
    categories: Vec<Option<String>>,
    comment: Vec<Option<&'a str>>,
    correction: Vec<Option<&'a str>>,
    user_id: Vec<Option<&'a str>>,
    created_at: Vec<i64>,
    hash: Vec<Vec<u8>>,
}

impl<'a> FeedbackColumns<'a> {
    fn with_capacity(n: usize) -> Self {
        FeedbackColumns {
            seq: Vec::with_capacity(n),
            id: Vec::with_capacity(n),
            response_seq: Vec::with_capacity(n),
            model_key: Vec::with_capacity(n),
            response_created_at: Vec::with_capacity(n),
            response_day: Vec::with_capacity(n),
            variant: Vec::with_capacity(n),
            thumbs_up: Vec::with_capacity(n),
            rating: Vec::with_capacity(n),
            polarity: Vec::with_capacity(n),
            score: Vec::with_capacity(n),
            categories: Vec::with_capacity(n),
            comment: Vec::with_capacity(n),
            correction: Vec::with_capacity(n),
            user_id: Vec::with_capacity(n),
            created_at: Vec::with_capacity(n),
            hash: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, f: &'a Feedback, seq: i64, t: ResponseRef, hash: &[u8; 32]) {
        self.seq.push(seq);
        self.id.push(f.id.as_str());
        self.response_seq.push(t.seq);
        self.model_key.push(t.model_key);
        self.response_created_at.push(t.created_at);
        self.response_day.push(day_of(t.created_at));
        self.variant.push(variant_code(f.variant()));
        self.thumbs_up.push(f.thumbs_up());
        self.rating.push(f.rating().map(i16::from));
        self.polarity.push(i16::from(f.polarity().code()));
        self.score.push(f.score());
        let cats = f.categories();
        self.categories.push((!cats.is_empty()).then(|| {
            cats.iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(",")
        }));
        self.comment.push(f.comment.as_deref());
        self.correction.push(f.correction());
        self.user_id.push(f.user_id.as_deref());
        self.created_at.push(to_micros(&f.created_at));
        self.hash.push(hash.to_vec());
    }
}

/// Candidate positions ordered by id: the order rows enter each statement, which fixes
/// the order in which concurrent writers take unique-index locks.
fn sorted_by_id<'a>(candidates: &[usize], id_of: impl Fn(usize) -> &'a str) -> Vec<usize> {
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.sort_unstable_by(|&a, &b| id_of(candidates[a]).cmp(id_of(candidates[b])));
    order
}

/// Reading back a stored item of a kind, to judge a conflict.
#[async_trait]
trait Stored: Judged + Sized + Send + Sync {
    /// Reads the stored item with this id.
    async fn fetch(conn: &mut PgConnection, id: &str) -> Result<Option<Self>>;
}

#[async_trait]
impl Stored for ResponseRecord {
    async fn fetch(conn: &mut PgConnection, id: &str) -> Result<Option<Self>> {
        fetch_response(conn, id).await
    }
}

#[async_trait]
impl Stored for Feedback {
    async fn fetch(conn: &mut PgConnection, id: &str) -> Result<Option<Self>> {
        fetch_feedback(conn, id).await
    }
}

/// Reads the stored versions conflicts need, then judges (see [`batch_plan::judge`]).
async fn judge<T: Stored>(
    conn: &mut PgConnection,
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

#[async_trait]
impl WriteTx for PgTx {
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
        this.state.refs.extend(this.written);
        // A batch that found existing ids switched to ON CONFLICT; one that did not may
        // switch back to plain INSERTs.
        if !this.met_existing {
            this.state.expect_new.store(true, Ordering::Relaxed);
        }
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
