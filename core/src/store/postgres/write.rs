//! PostgreSQL's write transaction: row keys from sequences and bulk inserts through binary
//! `COPY` (new ids) or `UNNEST` arrays (when ids may exist). The rest of the write path
//! (validation, duplicate detection, judging) is [`crate::store::sql::write`].
//!
//! Safe with many writers in many processes: row keys are reserved from sequences, rows are
//! sorted by id inside each statement so concurrent transactions wait on unique-index
//! entries in the same order (two writers of overlapping batches queue, never deadlock).
//! While batches bring new ids, rows go in by binary `COPY` (PostgreSQL's fast path: it
//! fills heap pages many rows at a time) inside a savepoint; `COPY` has no `ON CONFLICT`,
//! so an id already stored fails it with a unique violation, the savepoint is rolled back
//! and the same rows go in by `INSERT ... SELECT FROM UNNEST(...) ON CONFLICT (id) DO
//! NOTHING`, which later batches keep using until one is all new again. A row skipped by
//! `ON CONFLICT` is then judged by its stored content hash, exactly as the in-memory store
//! judges it, so re-imports and conflicts come out as on every other store.

use super::copy::CopyBuf;
use super::db_err;
use crate::error::Result;
use crate::model::time::to_micros;
use crate::model::{Feedback, Limits, ResponseRecord};
use crate::store::batch_plan::json_or_null;
use crate::store::sql::aggregates::Counts;
use crate::store::sql::rows::variant_code;
use crate::store::sql::write::{
    day_of, FeedbackRows, Inserted, ResponseRef, ResponseRefCache, ResponseRows, SqlTx, Table,
    WriteBackend,
};
use crate::store::Rejection;
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

/// Bulk insert of responses from one array per column (rows sorted by id), skipping ids
/// already stored.
const RESPONSES_INSERT: &str =
    "INSERT INTO responses (seq, id, model_key, query, response, conversation, \
         metadata, created_at, day, content_hash) \
         SELECT * FROM UNNEST($1::int8[], $2::text[], $3::int8[], $4::text[], \
         $5::text[], $6::text[], $7::text[], $8::int8[], $9::int8[], $10::bytea[]) \
     ON CONFLICT (id) DO NOTHING";

/// Bulk insert of feedback from one array per column (rows sorted by id), skipping ids
/// already stored.
const FEEDBACK_INSERT: &str =
    "INSERT INTO feedback (seq, id, response_seq, model_key, response_created_at, \
         response_day, variant, thumbs_up, rating, polarity, score, categories, \
         comment, correction, user_id, created_at, content_hash) \
         SELECT u.seq, u.id, u.rs, u.mk, u.rc, u.rd, u.v, u.t, u.r, u.p, u.s, \
         string_to_array(u.c, ','), u.cm, u.co, u.ui, u.ca, u.h \
         FROM UNNEST($1::int8[], $2::text[], $3::int8[], $4::int8[], $5::int8[], \
         $6::int8[], $7::int2[], $8::bool[], $9::int2[], $10::int2[], $11::float8[], \
         $12::text[], $13::text[], $14::text[], $15::text[], $16::int8[], \
         $17::bytea[]) \
         AS u(seq, id, rs, mk, rc, rd, v, t, r, p, s, c, cm, co, ui, ca, h) \
     ON CONFLICT (id) DO NOTHING";

/// `COPY` of the responses' columns, in `response_copy_row`'s order.
const RESPONSES_COPY: &str = "COPY responses (seq, id, model_key, query, response, \
     conversation, metadata, created_at, day, content_hash) FROM STDIN (FORMAT BINARY)";

/// `COPY` of the feedback's columns, in `feedback_copy_row`'s order.
const FEEDBACK_COPY: &str = "COPY feedback (seq, id, response_seq, model_key, \
     response_created_at, response_day, variant, thumbs_up, rating, polarity, score, \
     categories, comment, correction, user_id, created_at, content_hash) \
     FROM STDIN (FORMAT BINARY)";

/// The four aggregate upserts of one write as one statement of constant text (prepared
/// once per connection, one round trip); each table's rows arrive in key order, so
/// concurrent writers update them in one order.
const AGGREGATES_ADD: &str = "WITH r AS (\
     INSERT INTO agg_responses (model_key, day, n) \
     SELECT * FROM UNNEST($1::int8[], $2::int8[], $3::int8[]) \
     ON CONFLICT (model_key, day) DO UPDATE SET n = agg_responses.n + excluded.n), \
     f AS (INSERT INTO agg_feedback (model_key, day, polarity, rating, n) \
     SELECT * FROM UNNEST($4::int8[], $5::int8[], $6::int8[], $7::int8[], $8::int8[]) \
     ON CONFLICT (model_key, day, polarity, rating) \
     DO UPDATE SET n = agg_feedback.n + excluded.n), \
     c AS (INSERT INTO agg_categories (model_key, day, n, category) \
     SELECT * FROM UNNEST($9::int8[], $10::int8[], $11::int8[], $12::text[]) \
     ON CONFLICT (model_key, day, category) DO UPDATE SET n = agg_categories.n + excluded.n) \
     INSERT INTO agg_negatives (model_key, day, n, category) \
     SELECT * FROM UNNEST($13::int8[], $14::int8[], $15::int8[], $16::text[]) \
     ON CONFLICT (model_key, day, category) DO UPDATE SET n = agg_negatives.n + excluded.n";

/// Bytes of `COPY` data encoded before they are sent: the server parses one piece while
/// the next is encoded.
const COPY_PIECE: usize = 1 << 20;

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

/// A READ COMMITTED transaction. Each statement sees what other writers committed before
/// it started, and `ON CONFLICT DO NOTHING` waits for a concurrent uncommitted insert of
/// the same id to settle, so no id is ever stored twice or lost.
pub(super) struct PgWriter {
    tx: Transaction<'static, Postgres>,
    /// Models are created outside the transaction (see `create_models`).
    pool: PgPool,
    /// Whether the last batch was all new ids (shared by the store's transactions).
    expect_new: Arc<AtomicBool>,
    /// Whether a statement of this transaction met an id already stored.
    met_existing: bool,
}

/// Opens a write transaction.
pub(super) async fn begin(
    pool: &PgPool,
    guard: OwnedMutexGuard<()>,
    limits: Limits,
    refs: Arc<ResponseRefCache>,
    expect_new: Arc<AtomicBool>,
) -> Result<SqlTx<PgWriter>> {
    let tx = pool
        .begin()
        .await
        .map_err(|e| db_err("starting a write transaction", e))?;
    let writer = PgWriter {
        tx,
        pool: pool.clone(),
        expect_new,
        met_existing: false,
    };
    Ok(SqlTx::new(writer, guard, limits, refs))
}

impl PgWriter {
    /// `n` fresh keys of `sequence`, ascending. Sequences are not transactional: the keys
    /// are this transaction's alone, whatever other writers do, and unused ones are gaps.
    /// One array in one row: cheaper to transfer than `n` rows.
    async fn reserve_keys(&mut self, sequence: &str, n: usize) -> Result<Vec<i64>> {
        let sql = format!("SELECT array_agg(nextval('{sequence}')) FROM generate_series(1, $1)");
        let mut keys: Vec<i64> = sqlx::query_scalar(&sql)
            .bind(i32::try_from(n).unwrap_or(i32::MAX))
            .fetch_one(&mut *self.tx)
            .await
            .map_err(|e| db_err("reserving row keys", e))?;
        keys.sort_unstable();
        Ok(keys)
    }

    /// Runs one `INSERT ... SELECT FROM UNNEST(...) ON CONFLICT (id) DO NOTHING` and
    /// returns the rows it stored.
    async fn insert_rows<'q>(
        &mut self,
        sql: &'static str,
        what: &str,
        bind: impl FnOnce(
            sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>,
        ) -> sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>,
    ) -> Result<u64> {
        let done = bind(sqlx::query(sql))
            .execute(&mut *self.tx)
            .await
            .map_err(|e| db_err(what, e))?;
        Ok(done.rows_affected())
    }

    /// Whether the last batch was all new ids, so this one is tried with `COPY`.
    fn expects_new(&self) -> bool {
        self.expect_new.load(Ordering::Relaxed)
    }

    /// Stores `rows` rows by binary `COPY` (`sql`), each encoded by `encode(buffer, i)`
    /// (every row is encoded, whatever the outcome): `Some(rows stored)`. `None` when an id
    /// already exists: nothing of this statement is stored and the caller inserts with
    /// `ON CONFLICT`. The savepoint confines the unique violation to this statement.
    async fn copy_new(
        &mut self,
        sql: &str,
        what: &str,
        rows: usize,
        mut encode: impl FnMut(&mut CopyBuf, usize),
    ) -> Result<Option<u64>> {
        sqlx::query("SAVEPOINT tuneloop_copy")
            .execute(&mut *self.tx)
            .await
            .map_err(|e| db_err(what, e))?;
        let mut copy = self
            .tx
            .copy_in_raw(sql)
            .await
            .map_err(|e| db_err(what, e))?;
        let mut buf = CopyBuf::new(COPY_PIECE + (COPY_PIECE >> 3));
        for i in 0..rows {
            encode(&mut buf, i);
            if buf.len() >= COPY_PIECE {
                copy.send(buf.take()).await.map_err(|e| db_err(what, e))?;
            }
        }
        buf.end();
        copy.send(buf.take()).await.map_err(|e| db_err(what, e))?;
        match copy.finish().await {
            Ok(stored) => {
                sqlx::query("RELEASE SAVEPOINT tuneloop_copy")
                    .execute(&mut *self.tx)
                    .await
                    .map_err(|e| db_err(what, e))?;
                Ok(Some(stored))
            }
            Err(sqlx::Error::Database(d)) if d.code().as_deref() == Some("23505") => {
                self.met_existing = true;
                self.expect_new.store(false, Ordering::Relaxed);
                sqlx::query("ROLLBACK TO SAVEPOINT tuneloop_copy")
                    .execute(&mut *self.tx)
                    .await
                    .map_err(|e| db_err(what, e))?;
                Ok(None)
            }
            Err(e) => Err(db_err(what, e)),
        }
    }
}

#[async_trait]
impl WriteBackend for PgWriter {
    type Db = Postgres;

    fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    fn reject_response(r: &ResponseRecord) -> Option<Rejection> {
        nul_in(&[("query", &r.query), ("response", &r.response)])
    }

    fn reject_feedback(f: &Feedback) -> Option<Rejection> {
        nul_in(&[
            ("comment", f.comment.as_deref().unwrap_or("")),
            ("correction", f.correction().unwrap_or("")),
            ("user_id", f.user_id.as_deref().unwrap_or("")),
        ])
    }

    /// New models are committed at once, outside the write transaction, so concurrent
    /// writers never hold locks on them; a model without responses is invisible (stats and
    /// metrics list models that have data).
    async fn create_models(
        &mut self,
        models: &mut HashMap<String, i64>,
        model_ids: &[&str],
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO models (model_id) SELECT m FROM UNNEST($1::text[]) AS m \
             ON CONFLICT (model_id) DO NOTHING",
        )
        .bind(model_ids)
        .execute(&self.pool)
        .await
        .map_err(|e| db_err("storing models", e))?;
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT key, model_id FROM models WHERE model_id = ANY($1)")
                .bind(model_ids)
                .fetch_all(&mut *self.tx)
                .await
                .map_err(|e| db_err("looking up models", e))?;
        models.extend(rows.into_iter().map(|(k, m)| (m, k)));
        Ok(())
    }

    async fn reserve(&mut self, table: Table, n: usize) -> Result<Vec<i64>> {
        let sequence = match table {
            Table::Responses => "responses_seq_seq",
            Table::Feedback => "feedback_seq_seq",
        };
        self.reserve_keys(sequence, n).await
    }

    async fn insert_responses(&mut self, rows: &ResponseRows<'_>) -> Result<Inserted> {
        let ResponseRows {
            items: responses,
            candidates,
            seqs,
            keys,
        } = *rows;
        let hashes: Vec<[u8; 32]> = candidates
            .par_iter()
            .with_min_len(1_000)
            .map(|&i| responses[i].content_hash())
            .collect();
        // Serialised before any statement starts, so encoding a row cannot fail mid-COPY.
        let json = candidates
            .iter()
            .map(|&i| {
                let r = &responses[i];
                Ok((
                    json_or_null(&r.conversation, r.conversation.is_empty())?,
                    json_or_null(&r.metadata, r.metadata.is_empty())?,
                ))
            })
            .collect::<Result<Vec<(Option<String>, Option<String>)>>>()?;
        let order = sorted_by_id(candidates, |i| responses[i].id.as_str());
        let copied = if self.expects_new() {
            self.copy_new(
                RESPONSES_COPY,
                "storing responses",
                order.len(),
                |buf, i| {
                    let pos = order[i];
                    let r = &responses[candidates[pos]];
                    response_copy_row(buf, r, seqs[pos], keys[pos], &json[pos], &hashes[pos]);
                },
            )
            .await?
        } else {
            None
        };
        if let Some(stored) = copied {
            return Ok(Inserted {
                hashes,
                statements: vec![(order, stored)],
            });
        }
        let mut statements = Vec::new();
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
                let r = &responses[candidates[pos]];
                let at = to_micros(&r.created_at);
                seq.push(seqs[pos]);
                id.push(r.id.as_str());
                key.push(keys[pos]);
                query.push(r.query.as_str());
                response.push(r.response.as_str());
                conversation.push(json[pos].0.as_deref());
                metadata.push(json[pos].1.as_deref());
                created.push(at);
                day.push(day_of(at));
                hash.push(hashes[pos].to_vec());
            }
            let stored = self
                .insert_rows(RESPONSES_INSERT, "storing responses", |q| {
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
            self.met_existing |= stored != n as u64;
            statements.push((chunk.to_vec(), stored));
        }
        Ok(Inserted { hashes, statements })
    }

    async fn insert_feedback(&mut self, rows: &FeedbackRows<'_>) -> Result<Inserted> {
        let FeedbackRows {
            items: feedback,
            candidates,
            seqs,
            targets,
        } = *rows;
        let order = sorted_by_id(candidates, |i| feedback[i].id.as_str());
        let hashes = if self.expects_new() {
            // Each row's content hash is computed as the row is encoded: hashing then runs
            // while the server stores the pieces already sent, instead of before it starts.
            let mut hashes = vec![[0u8; 32]; candidates.len()];
            let copied = self
                .copy_new(FEEDBACK_COPY, "storing feedback", order.len(), |buf, i| {
                    let pos = order[i];
                    let f = &feedback[candidates[pos]];
                    hashes[pos] = f.content_hash();
                    feedback_copy_row(buf, f, seqs[pos], targets[pos], &hashes[pos]);
                })
                .await?;
            if let Some(stored) = copied {
                return Ok(Inserted {
                    hashes,
                    statements: vec![(order, stored)],
                });
            }
            hashes
        } else {
            candidates
                .par_iter()
                .with_min_len(1_000)
                .map(|&i| feedback[i].content_hash())
                .collect()
        };
        let mut statements = Vec::new();
        for chunk in order.chunks(INSERT_ROWS) {
            let mut cols = FeedbackColumns::with_capacity(chunk.len());
            for &pos in chunk {
                cols.push(
                    &feedback[candidates[pos]],
                    seqs[pos],
                    targets[pos],
                    &hashes[pos],
                );
            }
            let stored = self
                .insert_rows(FEEDBACK_INSERT, "storing feedback", |q| {
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
            self.met_existing |= stored != chunk.len() as u64;
            statements.push((chunk.to_vec(), stored));
        }
        Ok(Inserted { hashes, statements })
    }

    async fn add_aggregates(&mut self, counts: &Counts) -> Result<()> {
        let cols = counts.columns();
        let [rm, rd, rn] = &cols.responses;
        let [fm, fd, fp, fr, fnn] = &cols.feedback;
        let ([cm, cd, cn], cc) = &cols.categories;
        let ([nm, nd, nn], nc) = &cols.negatives;
        sqlx::query(AGGREGATES_ADD)
            .bind(rm)
            .bind(rd)
            .bind(rn)
            .bind(fm)
            .bind(fd)
            .bind(fp)
            .bind(fr)
            .bind(fnn)
            .bind(cm)
            .bind(cd)
            .bind(cn)
            .bind(cc)
            .bind(nm)
            .bind(nd)
            .bind(nn)
            .bind(nc)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| db_err("updating the daily aggregates", e))?;
        Ok(())
    }

    async fn commit(self) -> Result<()> {
        self.tx
            .commit()
            .await
            .map_err(|e| db_err("committing", e))?;
        // A batch that found existing ids switched to ON CONFLICT; one that did not may
        // switch back to plain INSERTs.
        if !self.met_existing {
            self.expect_new.store(true, Ordering::Relaxed);
        }
        Ok(())
    }

    async fn rollback(self) -> Result<()> {
        self.tx
            .rollback()
            .await
            .map_err(|e| db_err("rolling back", e))
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

/// A response as one `COPY` row, in `RESPONSES_COPY`'s column order; `json` holds its
/// conversation and metadata as stored (`None`: empty, NULL).
fn response_copy_row(
    buf: &mut CopyBuf,
    r: &ResponseRecord,
    seq: i64,
    model_key: i64,
    json: &(Option<String>, Option<String>),
    hash: &[u8; 32],
) {
    let at = to_micros(&r.created_at);
    buf.row(10);
    buf.int8(seq);
    buf.text(&r.id);
    buf.int8(model_key);
    buf.text(&r.query);
    buf.text(&r.response);
    buf.opt(json.0.as_deref(), CopyBuf::text);
    buf.opt(json.1.as_deref(), CopyBuf::text);
    buf.int8(at);
    buf.int8(day_of(at));
    buf.bytea(hash);
}

/// A feedback item as one `COPY` row, in `FEEDBACK_COPY`'s column order; the same values
/// as [`FeedbackColumns::push`].
fn feedback_copy_row(buf: &mut CopyBuf, f: &Feedback, seq: i64, t: ResponseRef, hash: &[u8; 32]) {
    buf.row(17);
    buf.int8(seq);
    buf.text(&f.id);
    buf.int8(t.seq);
    buf.int8(t.model_key);
    buf.int8(t.created_at);
    buf.int8(day_of(t.created_at));
    buf.int2(variant_code(f.variant()));
    buf.opt(f.thumbs_up(), CopyBuf::bool);
    buf.opt(f.rating().map(i16::from), CopyBuf::int2);
    buf.int2(i16::from(f.polarity().code()));
    buf.float8(f.score());
    let cats = f.categories();
    if cats.is_empty() {
        buf.null();
    } else {
        buf.text_array(cats.iter().map(|c| c.as_str()));
    }
    buf.opt(f.comment.as_deref(), CopyBuf::text);
    buf.opt(f.correction(), CopyBuf::text);
    buf.opt(f.user_id.as_deref(), CopyBuf::text);
    buf.int8(to_micros(&f.created_at));
    buf.bytea(hash);
}

/// Candidate positions ordered by id: the order rows enter each statement, which fixes
/// the order in which concurrent writers take unique-index locks.
fn sorted_by_id<'a>(candidates: &[usize], id_of: impl Fn(usize) -> &'a str) -> Vec<usize> {
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.sort_unstable_by(|&a, &b| id_of(candidates[a]).cmp(id_of(candidates[b])));
    order
}
