//! The write transaction, once for both dialects: validation, key assignment, duplicate
//! detection and judging. A backend ([`WriteBackend`]) supplies the transaction itself, how
//! row keys and model keys are made, and its bulk insert (multi-row `VALUES` on SQLite,
//! `UNNEST` arrays on PostgreSQL); every `INSERT` is `... ON CONFLICT (id) DO NOTHING`, and
//! a row it skipped is judged here by its stored content hash, exactly as the in-memory
//! store judges it.

use super::aggregates::{self, Counts};
use super::rows::{self, FEEDBACK_SELECT, RESPONSE_SELECT};
use super::{fetch_all, fetch_optional, get, Ex, PushArg, SqlDb};
use crate::analysis::metrics::bucket_start_micros;
use crate::error::{Error, Result};
use crate::model::time::to_micros;
use crate::model::{Bucket, Comparison, Feedback, Limits, ResponseRecord};
use crate::store::batch_plan::{self, Judged, Plan, Settled};
use crate::store::day_tallies::DayCounts;
use crate::store::{
    precheck_feedback, precheck_response, BatchOutcome, ItemOutcome, RecordBatch, Rejection,
    WriteSummary, WriteTx,
};
use async_trait::async_trait;
use sqlx::{Database, QueryBuilder};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::OwnedMutexGuard;

const DAY_MICROS: i64 = 86_400_000_000;

/// Days since the epoch (UTC) of a time in microseconds.
pub(crate) fn day_of(micros: i64) -> i64 {
    bucket_start_micros(micros, Bucket::Day).div_euclid(DAY_MICROS)
}

/// Where a response lives, for feedback that references it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResponseRef {
    /// The response's row key.
    pub(crate) seq: i64,
    /// Its model's key.
    pub(crate) model_key: i64,
    /// Its creation time, microseconds.
    pub(crate) created_at: i64,
}

/// Where recently seen responses live, so feedback arriving for them needs no lookup.
/// Responses are never updated or deleted, so an entry stays true once its row is
/// committed, whoever committed it; entries from a transaction are added only when it
/// commits. Bounded: cleared when full.
#[derive(Debug, Default)]
pub(crate) struct ResponseRefCache {
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

/// The responses one bulk insert stores: `items[candidates[pos]]` gets row key `seqs[pos]`
/// and model key `keys[pos]`.
pub(crate) struct ResponseRows<'a> {
    /// The batch's responses.
    pub(crate) items: &'a [ResponseRecord],
    /// Indices into `items` of the rows to insert.
    pub(crate) candidates: &'a [usize],
    /// Row key per candidate.
    pub(crate) seqs: &'a [i64],
    /// Model key per candidate.
    pub(crate) keys: &'a [i64],
}

/// The feedback one bulk insert stores: `items[candidates[pos]]` gets row key `seqs[pos]`
/// and belongs to the response `targets[pos]`.
pub(crate) struct FeedbackRows<'a> {
    /// The batch's feedback.
    pub(crate) items: &'a [Feedback],
    /// Indices into `items` of the rows to insert.
    pub(crate) candidates: &'a [usize],
    /// Row key per candidate.
    pub(crate) seqs: &'a [i64],
    /// The response of each candidate.
    pub(crate) targets: &'a [ResponseRef],
}

/// What a bulk insert did: the candidates' content hashes, and per statement the candidate
/// positions it carried and how many rows it stored.
pub(crate) struct Inserted {
    /// Content hash per candidate position.
    pub(crate) hashes: Vec<[u8; 32]>,
    /// `(candidate positions, rows stored)` per statement.
    pub(crate) statements: Vec<(Vec<usize>, u64)>,
}

/// The two tables bulk inserts fill.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Table {
    /// `responses`.
    Responses,
    /// `feedback`.
    Feedback,
}

impl Table {
    /// The table's name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Table::Responses => "responses",
            Table::Feedback => "feedback",
        }
    }
}

/// What a backend's write transaction supplies to [`SqlTx`].
#[async_trait]
pub(crate) trait WriteBackend: Send + Sized + 'static {
    /// The database.
    type Db: SqlDb;
    /// The open transaction's connection.
    fn conn(&mut self) -> &mut <Self::Db as Database>::Connection;
    /// A rejection for a response the backend cannot store, beyond the common checks.
    fn reject_response(r: &ResponseRecord) -> Option<Rejection>;
    /// A rejection for feedback the backend cannot store, beyond the common checks.
    fn reject_feedback(f: &Feedback) -> Option<Rejection>;
    /// Makes keys for the models among `model_ids` (sorted, distinct, none in `models`)
    /// that have none, and adds every key to `models`.
    async fn create_models(
        &mut self,
        models: &mut HashMap<String, i64>,
        model_ids: &[&str],
    ) -> Result<()>;
    /// `n` fresh row keys of `table`, ascending.
    async fn reserve(&mut self, table: Table, n: usize) -> Result<Vec<i64>>;
    /// Inserts the responses with `ON CONFLICT (id) DO NOTHING`.
    async fn insert_responses(&mut self, rows: &ResponseRows<'_>) -> Result<Inserted>;
    /// Inserts the feedback with `ON CONFLICT (id) DO NOTHING`.
    async fn insert_feedback(&mut self, rows: &FeedbackRows<'_>) -> Result<Inserted>;
    /// Adds `counts` to the stored daily aggregates: the portable upserts unless the
    /// backend has a cheaper way.
    async fn add_aggregates(&mut self, counts: &aggregates::Counts) -> Result<()> {
        aggregates::add::<Self::Db>(self.conn(), counts).await
    }
    /// Commits the transaction.
    async fn commit(self) -> Result<()>;
    /// Rolls the transaction back.
    async fn rollback(self) -> Result<()>;
}

/// A write transaction over a backend's [`WriteBackend`].
pub(crate) struct SqlTx<W: WriteBackend> {
    backend: W,
    _guard: OwnedMutexGuard<()>,
    limits: Limits,
    summary: WriteSummary,
    /// Model keys known to this transaction.
    models: HashMap<String, i64>,
    /// Responses stored by this transaction, so feedback on them needs no lookup.
    written: HashMap<String, ResponseRef>,
    /// The store's cache of committed responses; gets `written` on commit.
    refs: Arc<ResponseRefCache>,
    /// Set while a `write` runs and cleared when it succeeds: a failed write may have
    /// stored part of a batch (and PostgreSQL aborts a transaction after a failed
    /// statement), so such a transaction can only be rolled back.
    failed: bool,
    /// What the rows inserted so far add to the daily aggregates; added on commit, in one
    /// upsert per table and chunk, so repeated keys across batches cost nothing extra.
    aggregates: Counts,
}

impl<W: WriteBackend> SqlTx<W> {
    /// Wraps a backend transaction; `guard` is held until the transaction ends.
    pub(crate) fn new(
        backend: W,
        guard: OwnedMutexGuard<()>,
        limits: Limits,
        refs: Arc<ResponseRefCache>,
    ) -> Self {
        SqlTx {
            backend,
            _guard: guard,
            limits,
            summary: WriteSummary::default(),
            models: HashMap::new(),
            written: HashMap::new(),
            refs,
            failed: false,
            aggregates: Counts::default(),
        }
    }

    /// Keys of `model_ids` (sorted, distinct), creating the missing ones.
    async fn model_keys(&mut self, model_ids: &[&str]) -> Result<()> {
        let unknown: Vec<&str> = model_ids
            .iter()
            .copied()
            .filter(|m| !self.models.contains_key(*m))
            .collect();
        if unknown.is_empty() {
            return Ok(());
        }
        for chunk in unknown.chunks(W::Db::LOOKUP_IDS) {
            let mut qb = QueryBuilder::new("SELECT key, model_id FROM models WHERE model_id");
            W::Db::push_in_str(&mut qb, chunk);
            let conn = Ex::Conn(self.backend.conn());
            for row in fetch_all(conn, &mut qb, "looking up models").await? {
                self.models.insert(
                    get::<W::Db, _>(&row, "model_id")?,
                    get::<W::Db, _>(&row, "key")?,
                );
            }
        }
        let missing: Vec<&str> = unknown
            .into_iter()
            .filter(|m| !self.models.contains_key(*m))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        self.backend.create_models(&mut self.models, &missing).await
    }

    /// `(seq, content_hash)` of stored rows among `ids`.
    async fn existing(
        &mut self,
        table: Table,
        ids: &[&str],
    ) -> Result<HashMap<String, (i64, Vec<u8>)>> {
        let mut out = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(W::Db::LOOKUP_IDS) {
            let mut qb = QueryBuilder::new(format!(
                "SELECT id, seq, content_hash FROM {} WHERE id",
                table.name()
            ));
            W::Db::push_in_str(&mut qb, chunk);
            let conn = Ex::Conn(self.backend.conn());
            for row in fetch_all(conn, &mut qb, "looking up existing ids").await? {
                out.insert(
                    get::<W::Db, _>(&row, "id")?,
                    (
                        get::<W::Db, _>(&row, "seq")?,
                        get::<W::Db, _>(&row, "content_hash")?,
                    ),
                );
            }
        }
        Ok(out)
    }

    /// Decides, per candidate, whether the `INSERT ... ON CONFLICT DO NOTHING` stored it:
    /// a row holding our key is ours; otherwise the stored hash says unchanged or conflict.
    /// Statements that stored every row need no query: the common case of new data.
    async fn settle<'a>(
        &mut self,
        table: Table,
        inserted: &Inserted,
        seqs: &[i64],
        id_of: impl Fn(usize) -> &'a str,
    ) -> Result<Vec<Settled>> {
        let mut results = vec![Settled::Inserted; seqs.len()];
        for (positions, stored) in &inserted.statements {
            if *stored == positions.len() as u64 {
                continue;
            }
            let ids: Vec<&str> = positions.iter().map(|&pos| id_of(pos)).collect();
            let found = self.existing(table, &ids).await?;
            for (&pos, id) in positions.iter().zip(&ids) {
                results[pos] = match found.get(*id) {
                    Some((seq, _)) if *seq == seqs[pos] => Settled::Inserted,
                    Some((_, h)) if h.as_slice() == inserted.hashes[pos] => Settled::Unchanged,
                    Some(_) => Settled::Conflict,
                    // Not stored at all cannot happen after an INSERT that skipped it.
                    None => Settled::Inserted,
                };
            }
        }
        Ok(results)
    }

    async fn write_responses(&mut self, responses: &[ResponseRecord]) -> Result<Vec<ItemOutcome>> {
        let limits = self.limits;
        let mut outcomes: Vec<Option<ItemOutcome>> = responses
            .iter()
            .map(|r| {
                precheck_response(r, &limits)
                    .or_else(|| W::reject_response(r))
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
            .backend
            .reserve(Table::Responses, plan.candidates.len())
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
        let rows = ResponseRows {
            items: responses,
            candidates: &plan.candidates,
            seqs: &seqs,
            keys: &keys,
        };
        let inserted = self.backend.insert_responses(&rows).await?;
        let results = self
            .settle(Table::Responses, &inserted, &seqs, |pos| {
                responses[plan.candidates[pos]].id.as_str()
            })
            .await?;
        for (pos, &i) in plan.candidates.iter().enumerate() {
            if matches!(results[pos], Settled::Inserted) {
                let r = &responses[i];
                let created_at = to_micros(&r.created_at);
                self.aggregates
                    .add_responses(keys[pos], day_of(created_at), 1);
                self.written.insert(
                    r.id.clone(),
                    ResponseRef {
                        seq: seqs[pos],
                        model_key: keys[pos],
                        created_at,
                    },
                );
            }
        }
        self.judge(responses, &plan, &results, &inserted.hashes, &mut outcomes)
            .await?;
        Ok(outcomes.into_iter().flatten().collect())
    }

    /// Where the response of each feedback item lives (`None`: unknown or not asked for,
    /// per `skip`). This transaction's writes and the store's cache answer most; the rest
    /// are looked up by chunks of distinct ids.
    async fn resolve_responses(
        &mut self,
        feedback: &[Feedback],
        skip: &[Option<ItemOutcome>],
    ) -> Result<Vec<Option<ResponseRef>>> {
        let mut out: Vec<Option<ResponseRef>> = vec![None; feedback.len()];
        let mut missing: Vec<&str> = Vec::new();
        {
            let cache = self.refs.lock();
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
        let mut found: HashMap<String, ResponseRef> = HashMap::with_capacity(missing.len());
        for chunk in missing.chunks(W::Db::LOOKUP_IDS) {
            let mut qb =
                QueryBuilder::new("SELECT id, seq, model_key, created_at FROM responses WHERE id");
            W::Db::push_in_str(&mut qb, chunk);
            let conn = Ex::Conn(self.backend.conn());
            for row in fetch_all(conn, &mut qb, "looking up responses").await? {
                found.insert(
                    get::<W::Db, _>(&row, "id")?,
                    ResponseRef {
                        seq: get::<W::Db, _>(&row, "seq")?,
                        model_key: get::<W::Db, _>(&row, "model_key")?,
                        created_at: get::<W::Db, _>(&row, "created_at")?,
                    },
                );
            }
        }
        for (i, f) in feedback.iter().enumerate() {
            if out[i].is_none() && skip[i].is_none() {
                out[i] = found.get(f.response_id.as_str()).copied();
            }
        }
        // Rows this transaction did not write (those are in `written`) are committed:
        // safe to remember now.
        self.refs.extend(found);
        Ok(out)
    }

    async fn write_feedback(&mut self, feedback: &[Feedback]) -> Result<Vec<ItemOutcome>> {
        let limits = self.limits;
        let mut outcomes: Vec<Option<ItemOutcome>> = feedback
            .iter()
            .map(|f| {
                precheck_feedback(f, &limits)
                    .or_else(|| W::reject_feedback(f))
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
            .backend
            .reserve(Table::Feedback, plan.candidates.len())
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
        let rows = FeedbackRows {
            items: feedback,
            candidates: &plan.candidates,
            seqs: &seqs,
            targets: &target_of,
        };
        let inserted = self.backend.insert_feedback(&rows).await?;
        let results = self
            .settle(Table::Feedback, &inserted, &seqs, |pos| {
                feedback[plan.candidates[pos]].id.as_str()
            })
            .await?;
        for (pos, &i) in plan.candidates.iter().enumerate() {
            if matches!(results[pos], Settled::Inserted) {
                let t = &target_of[pos];
                self.aggregates
                    .add_item(t.model_key, day_of(t.created_at), &feedback[i]);
            }
        }
        self.judge(feedback, &plan, &results, &inserted.hashes, &mut outcomes)
            .await?;
        Ok(outcomes.into_iter().flatten().collect())
    }

    /// Reads the stored versions conflicts need, then judges (see [`batch_plan::judge`]).
    async fn judge<T: Stored>(
        &mut self,
        items: &[T],
        plan: &Plan<'_>,
        results: &[Settled],
        hashes: &[[u8; 32]],
        outcomes: &mut [Option<ItemOutcome>],
    ) -> Result<()> {
        let mut stored = HashMap::new();
        for id in batch_plan::conflicted_ids(items, plan, results) {
            let mut qb = QueryBuilder::<W::Db>::new(T::SELECT);
            qb.push(" WHERE ")
                .push(T::ID_COLUMN)
                .push(" = ")
                .arg(id.clone());
            let conn = Ex::Conn(self.backend.conn());
            if let Some(row) = fetch_optional(conn, &mut qb, "reading a stored item").await? {
                stored.insert(id, T::decode::<W::Db>(&row)?);
            }
        }
        batch_plan::judge(items, plan, results, hashes, &stored, outcomes);
        Ok(())
    }
}

/// Reading back a stored item of a kind, to judge a conflict.
trait Stored: Judged + Sized + Send + Sync {
    /// The select of its rows.
    const SELECT: &'static str;
    /// Its id column in [`Stored::SELECT`].
    const ID_COLUMN: &'static str;
    /// Decodes a row of [`Stored::SELECT`].
    fn decode<DB: SqlDb>(row: &DB::Row) -> Result<Self>;
}

impl Stored for ResponseRecord {
    const SELECT: &'static str = RESPONSE_SELECT;
    const ID_COLUMN: &'static str = "r.id";
    fn decode<DB: SqlDb>(row: &DB::Row) -> Result<Self> {
        rows::response::<DB>(row).map(|(_, r)| r)
    }
}

impl Stored for Feedback {
    const SELECT: &'static str = FEEDBACK_SELECT;
    const ID_COLUMN: &'static str = "f.id";
    fn decode<DB: SqlDb>(row: &DB::Row) -> Result<Self> {
        rows::feedback::<DB>(row).map(|(_, f)| f)
    }
}

#[async_trait]
impl<W: WriteBackend> WriteTx for SqlTx<W> {
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

    async fn write_comparisons(&mut self, comparisons: &[Comparison]) -> Result<Vec<ItemOutcome>> {
        if self.failed {
            return Err(failed_tx());
        }
        self.failed = true;
        let limits = self.limits;
        let outcome =
            super::comparisons::write::<W::Db>(self.backend.conn(), &limits, comparisons).await?;
        self.summary.add_comparisons(&outcome);
        self.failed = false;
        Ok(outcome)
    }

    async fn commit(self: Box<Self>) -> Result<WriteSummary> {
        let mut this = *self;
        if this.failed {
            // Dropping the backend's transaction rolls back.
            return Err(failed_tx());
        }
        if !this.aggregates.is_empty() {
            // On failure the backend's transaction is dropped, which rolls back.
            this.backend.add_aggregates(&this.aggregates).await?;
        }
        this.backend.commit().await?;
        this.refs.extend(this.written);
        Ok(this.summary)
    }

    async fn rollback(self: Box<Self>) -> Result<()> {
        self.backend.rollback().await
    }
}

impl<W: WriteBackend> SqlTx<W> {
    /// Rebuilds the daily aggregates from the raw rows in this transaction, then commits.
    pub(crate) async fn rebuild_aggregates(mut self) -> Result<crate::store::AggregateRebuild> {
        let report = aggregates::rebuild::<W::Db>(self.backend.conn()).await?;
        self.backend.commit().await?;
        Ok(report)
    }
}

fn failed_tx() -> Error {
    Error::Storage {
        message: "an earlier write in this transaction failed; roll it back and retry".into(),
        retryable: false,
        source: None,
    }
}
