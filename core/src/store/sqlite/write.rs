//! SQLite's write transaction: `BEGIN IMMEDIATE`, row keys assigned under the write lock,
//! and multi-row `INSERT ... VALUES` statements, pipelined. The rest of the write path
//! (validation, duplicate detection, judging) is [`crate::store::sql::write`].

use super::db_err;
use crate::error::Result;
use crate::model::time::to_micros;
use crate::model::{Feedback, Limits, ResponseRecord};
use crate::store::batch_plan::json_or_null;
use crate::store::sql::rows::variant_code;
use crate::store::sql::write::{
    day_of, FeedbackRows, Inserted, ResponseRefCache, ResponseRows, SqlTx, Table, WriteBackend,
};
use crate::store::Rejection;
use async_trait::async_trait;
use sqlx::sqlite::SqliteArguments;
use sqlx::{Sqlite, SqliteConnection, SqlitePool, Transaction};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::OwnedMutexGuard;

/// Rows per multi-row INSERT: large enough to amortise statement overhead, small enough to
/// stay under SQLite's 32,766 bound parameters (feedback has 17 columns).
const INSERT_ROWS: usize = 1_000;

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

/// A `BEGIN IMMEDIATE` transaction: it takes SQLite's write lock up front, so the reads it
/// does before writing can never be invalidated by another writer (a plain `BEGIN` would
/// fail with SQLITE_BUSY when it first writes).
pub(super) struct SqliteWriter {
    tx: Transaction<'static, Sqlite>,
    /// Next free keys, read once per transaction; nobody else can insert while it holds
    /// the write lock, so keys are assigned here and rows can reference each other without
    /// reading ids back.
    next: Option<NextKeys>,
    /// Told about each commit (wakes the background checkpointer).
    committed: Arc<tokio::sync::Notify>,
}

#[derive(Clone, Copy)]
struct NextKeys {
    response: i64,
    feedback: i64,
    model: i64,
}

/// Opens a write transaction, waiting up to `busy_wait` for another process's write lock.
pub(super) async fn begin(
    pool: &SqlitePool,
    guard: OwnedMutexGuard<()>,
    limits: Limits,
    refs: Arc<ResponseRefCache>,
    committed: Arc<tokio::sync::Notify>,
    busy_wait: std::time::Duration,
) -> Result<SqlTx<SqliteWriter>> {
    let tx = super::busy::begin_immediate(pool, busy_wait, "starting a write transaction").await?;
    let writer = SqliteWriter {
        tx,
        next: None,
        committed,
    };
    Ok(SqlTx::new(writer, guard, limits, refs))
}

impl SqliteWriter {
    async fn next_keys(&mut self) -> Result<NextKeys> {
        if let Some(n) = self.next {
            return Ok(n);
        }
        let (r, f, m): (i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT COALESCE(MAX(seq), 0) FROM responses), \
                    (SELECT COALESCE(MAX(seq), 0) FROM feedback), \
                    (SELECT COALESCE(MAX(key), 0) FROM models)",
        )
        .fetch_one(&mut *self.tx)
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
}

/// Candidate positions per statement of [`INSERT_ROWS`] rows, with the rows each stored.
fn statements(n: usize, affected: Vec<u64>) -> Vec<(Vec<usize>, u64)> {
    (0..n)
        .step_by(INSERT_ROWS)
        .map(|start| (start..(start + INSERT_ROWS).min(n)).collect())
        .zip(affected)
        .collect()
}

#[async_trait]
impl WriteBackend for SqliteWriter {
    type Db = Sqlite;

    fn conn(&mut self) -> &mut SqliteConnection {
        &mut self.tx
    }

    fn reject_response(_: &ResponseRecord) -> Option<Rejection> {
        None
    }

    fn reject_feedback(_: &Feedback) -> Option<Rejection> {
        None
    }

    async fn create_models(
        &mut self,
        models: &mut HashMap<String, i64>,
        model_ids: &[&str],
    ) -> Result<()> {
        for m in model_ids {
            let mut next = self.next_keys().await?;
            let key = next.model;
            next.model += 1;
            self.next = Some(next);
            sqlx::query("INSERT INTO models (key, model_id) VALUES (?, ?)")
                .bind(key)
                .bind(*m)
                .execute(&mut *self.tx)
                .await
                .map_err(|e| db_err("storing a model", e))?;
            models.insert(m.to_string(), key);
        }
        Ok(())
    }

    async fn reserve(&mut self, table: Table, n: usize) -> Result<Vec<i64>> {
        let mut next = self.next_keys().await?;
        let slot = match table {
            Table::Responses => &mut next.response,
            Table::Feedback => &mut next.feedback,
        };
        let first = *slot;
        *slot += n as i64;
        self.next = Some(next);
        Ok((first..first + n as i64).collect())
    }

    async fn insert_responses(&mut self, rows: &ResponseRows<'_>) -> Result<Inserted> {
        let ResponseRows {
            items,
            candidates,
            seqs,
            keys,
        } = *rows;
        let sql = InsertSql::new("responses", RESPONSE_COLUMNS, candidates.len());
        let (affected, hashes) = insert_pipelined(&mut self.tx, &sql, candidates, |q, pos, i| {
            let r = &items[i];
            let hash = r.content_hash();
            let created = to_micros(&r.created_at);
            let q = q
                .bind(seqs[pos])
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
        Ok(Inserted {
            hashes,
            statements: statements(candidates.len(), affected),
        })
    }

    async fn insert_feedback(&mut self, rows: &FeedbackRows<'_>) -> Result<Inserted> {
        let FeedbackRows {
            items,
            candidates,
            seqs,
            targets,
        } = *rows;
        let sql = InsertSql::new("feedback", FEEDBACK_COLUMNS, candidates.len());
        let (affected, hashes) = insert_pipelined(&mut self.tx, &sql, candidates, |q, pos, i| {
            let f = &items[i];
            let t = targets[pos];
            let hash = f.content_hash();
            let q = q
                .bind(seqs[pos])
                .bind(f.id.as_str())
                .bind(t.seq)
                .bind(t.model_key)
                .bind(t.created_at)
                .bind(day_of(t.created_at))
                .bind(i64::from(variant_code(f.variant())))
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
        Ok(Inserted {
            hashes,
            statements: statements(candidates.len(), affected),
        })
    }

    async fn commit(self) -> Result<()> {
        self.tx
            .commit()
            .await
            .map_err(|e| db_err("committing", e))?;
        self.committed.notify_one();
        Ok(())
    }

    async fn rollback(self) -> Result<()> {
        self.tx
            .rollback()
            .await
            .map_err(|e| db_err("rolling back", e))
    }
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
