//! The embedded SQLite store.
//!
//! The queries, the write transaction's logic and [`super::FeedbackStore`] are shared with
//! PostgreSQL in [`super::sql`]; what is SQLite's own lives here: [`schema`] opens and
//! migrates, [`dialect`] is SQLite's [`sql::SqlDb`] (JSON categories, `IN (...)` lists),
//! [`write`] assigns row keys under the write lock and bulk-inserts with multi-row
//! `VALUES`, [`busy`] waits for another process's write lock. Timestamps are INTEGER microseconds; feedback rows carry copies of their
//! response's model and creation time so metrics are one covering-index scan without a join.

mod busy;
pub(crate) use busy::begin_immediate;
mod dialect;
mod schema;
mod write;

use super::sql::{self, store::SqlBackend, write::ResponseRefCache};
use super::{HealthReport, JobEventRecord, OpenOptions, WriteTx};
use crate::error::{Error, Result};
use crate::model::Limits;
use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::Sqlite;
use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// How long a connection waits for another process's lock before giving up with a
/// retryable error.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A store in an embedded SQLite file (WAL mode), or in a private in-memory database.
///
/// Writers in one process queue on a lock (like [`super::MemoryStore`]); writers in other
/// processes wait up to 5 s for SQLite's lock. Readers never block on a file database.
/// An in-memory database (`sqlite::memory:`) has a single connection, so a read issued while
/// a write transaction is open waits for that transaction to end.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pool: SqlitePool,
    limits: Limits,
    /// Serialises write transactions of this process so they wait instead of failing with
    /// SQLITE_BUSY after the busy timeout.
    writer: Arc<tokio::sync::Mutex<()>>,
    /// Where recently seen responses live, so feedback arriving for them needs no lookup.
    response_refs: Arc<ResponseRefCache>,
    /// Signalled after each commit; wakes the checkpointer.
    committed: Arc<tokio::sync::Notify>,
    /// The background checkpoint task of a file database.
    checkpointer: Option<tokio::task::JoinHandle<()>>,
    /// Why writes are refused, when the schema is not at this build's version and migrating
    /// was not allowed.
    read_only_reason: Option<String>,
    /// Serialises this process's ledger transactions (see [`SqliteStore::ledger`]).
    ledger_writer: Arc<tokio::sync::Mutex<()>>,
    /// How long writes wait for another process's write lock.
    busy_wait: Duration,
}

impl SqliteStore {
    /// Opens the database at `url` (`sqlite://PATH`, `sqlite:PATH` or `sqlite::memory:`),
    /// creating and migrating it as `options` say.
    ///
    /// Errors: [`Error::NotFound`] (kind `database`) when the file is missing and
    /// `create_if_missing` is off; [`Error::SchemaTooNew`] when a newer tuneloop migrated it.
    pub async fn open(url: &str, options: &OpenOptions) -> Result<Self> {
        let url = url.trim();
        let rest = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| {
                Error::invalid("database_url", format!("`{url}` is not a sqlite: URL"))
            })?;
        let in_memory =
            rest.is_empty() || rest.starts_with(":memory:") || rest.contains("mode=memory");
        let connect = SqliteConnectOptions::from_str(url)
            .map_err(|e| Error::invalid("database_url", e.to_string()))?
            .busy_timeout(BUSY_TIMEOUT.min(options.busy_wait))
            .foreign_keys(true)
            .synchronous(SqliteSynchronous::Normal)
            // Multi-row inserts keep a statement journal; in memory it costs no file I/O.
            .pragma("temp_store", "memory")
            // Up to 64 MiB of page cache per connection (allocated as used): bulk writes touch
            // index pages all over the file, and re-reading them from the OS dominated ingest.
            .pragma("cache_size", "-65536")
            // File databases are checkpointed by a background task after each commit (see
            // `checkpointer`), so commits do not pay for copying the WAL back; this automatic
            // checkpoint at ~400 MB of WAL is only the backstop.
            .pragma("wal_autocheckpoint", "100000");
        let (connect, pool_options) = if in_memory {
            // Each connection to `:memory:` would see its own database: keep exactly one,
            // and never let it be closed for idleness (that would drop the data).
            (
                connect,
                SqlitePoolOptions::new()
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None),
            )
        } else {
            let path = connect.get_filename().to_path_buf();
            if !options.create_if_missing && !path.exists() {
                return Err(Error::NotFound {
                    kind: "database",
                    id: path.display().to_string(),
                });
            }
            (
                connect
                    .create_if_missing(options.create_if_missing)
                    .journal_mode(SqliteJournalMode::Wal),
                // One writer plus a few readers; more connections do not help on SQLite.
                SqlitePoolOptions::new().max_connections(4),
            )
        };
        let pool = pool_options
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(connect)
            .await
            .map_err(|e| db_err("opening the database", e))?;
        let read_only_reason = match schema::prepare(&pool, options.migrate).await {
            Ok(r) => r,
            Err(e) => {
                pool.close().await;
                return Err(e);
            }
        };
        let committed = Arc::new(tokio::sync::Notify::new());
        let checkpointer =
            (!in_memory).then(|| tokio::spawn(checkpointer(pool.clone(), committed.clone())));
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                pool,
                limits: options.limits,
                writer: Arc::default(),
                response_refs: Arc::default(),
                committed,
                checkpointer,
                read_only_reason,
                ledger_writer: Arc::default(),
                busy_wait: options.busy_wait,
            }),
        })
    }

    /// Closes every connection (waiting for them to be returned to the pool).
    pub async fn close(&self) {
        if let Some(task) = &self.inner.checkpointer {
            task.abort();
            // Fold the WAL back into the database file now rather than on the next open.
            // Best effort: a reader elsewhere may hold frames; nothing is lost either way.
            let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&self.inner.pool)
                .await;
        }
        self.inner.pool.close().await;
    }

    /// The credit ledger in this database, sharing the store's connection pool. Ledgers of
    /// one store (and of its clones) queue their writes on one lock.
    pub fn ledger(&self) -> crate::credits::SqliteLedger {
        crate::credits::SqliteLedger::new(
            self.inner.pool.clone(),
            self.inner.ledger_writer.clone(),
            self.inner.busy_wait,
            self.inner.read_only_reason.clone(),
        )
    }
}

/// Maps a sqlx error to [`Error::Storage`], retryable for busy/locked databases and pool
/// timeouts.
pub(crate) fn db_err(action: &str, e: sqlx::Error) -> Error {
    let retryable = match &e {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) => true,
        sqlx::Error::Database(d) => d
            .code()
            .and_then(|c| c.parse::<i32>().ok())
            // Primary codes 5 (SQLITE_BUSY) and 6 (SQLITE_LOCKED); the low byte of an
            // extended code is its primary code.
            .is_some_and(|c| matches!(c & 0xff, 5 | 6)),
        _ => false,
    };
    Error::storage(format!("{action}: {e}"), retryable, e)
}

#[async_trait]
impl SqlBackend for SqliteStore {
    type Db = Sqlite;
    const NAME: &'static str = "sqlite";
    const LOCKS_ROWS: bool = false;

    fn sql_pool(&self) -> &SqlitePool {
        &self.inner.pool
    }

    fn read_only_reason(&self) -> Option<&str> {
        self.inner.read_only_reason.as_deref()
    }

    async fn open_write(&self) -> Result<Box<dyn WriteTx>> {
        let guard = self.inner.writer.clone().lock_owned().await;
        let tx = write::begin(
            &self.inner.pool,
            guard,
            self.inner.limits,
            self.inner.response_refs.clone(),
            self.inner.committed.clone(),
            self.inner.busy_wait,
        )
        .await?;
        Ok(Box::new(tx))
    }

    async fn rebuild(&self) -> Result<crate::store::AggregateRebuild> {
        let guard = self.inner.writer.clone().lock_owned().await;
        let tx = write::begin(
            &self.inner.pool,
            guard,
            self.inner.limits,
            self.inner.response_refs.clone(),
            self.inner.committed.clone(),
            self.inner.busy_wait,
        )
        .await?;
        tx.rebuild_aggregates().await
    }

    async fn schema_health(&self, deep: bool) -> Result<HealthReport> {
        schema::health(&self.inner.pool, deep).await
    }

    async fn retry_busy<T, F, Fut>(&self, action: &str, op: F) -> Result<T>
    where
        T: Send,
        F: FnMut() -> Fut + Send,
        Fut: Future<Output = Result<T>> + Send,
    {
        busy::retry(self.inner.busy_wait, action, op).await
    }

    /// One `BEGIN IMMEDIATE` transaction, queued behind this process's other writers (as
    /// store and ledger writes are), so the batch goes in whole or not at all.
    async fn append_events(&self, job_id: &str, events: &[JobEventRecord]) -> Result<usize> {
        let _guard = self.inner.writer.lock().await;
        let mut tx = busy::begin_immediate(
            &self.inner.pool,
            self.inner.busy_wait,
            "starting a write transaction",
        )
        .await?;
        let added = sql::jobs::append_job_events::<Sqlite>(&mut tx, job_id, events).await?;
        // An error above drops `tx`, which rolls the whole batch back.
        tx.commit()
            .await
            .map_err(|e| db_err("committing job events", e))?;
        Ok(added)
    }

    fn shared_ledger(&self) -> Arc<dyn crate::credits::CreditLedger> {
        Arc::new(SqliteStore::ledger(self))
    }

    async fn close_pool(&self) {
        SqliteStore::close(self).await;
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = self.checkpointer.take() {
            task.abort();
        }
    }
}

/// Copies committed WAL frames back into the database after each commit, off the writer's
/// path. PASSIVE never blocks readers or writers; whatever it cannot copy now is copied on
/// a later round. A failure is retried on the next commit (and SQLite's own automatic
/// checkpoint bounds the WAL meanwhile).
async fn checkpointer(pool: SqlitePool, committed: Arc<tokio::sync::Notify>) {
    loop {
        committed.notified().await;
        let _ = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await;
    }
}
