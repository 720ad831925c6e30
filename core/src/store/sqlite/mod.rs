//! The embedded SQLite store.
//!
//! Layout: [`schema`] opens and migrates, [`write`] is the write transaction, [`read`] the
//! lookups and listings, [`metrics`] the aggregations, [`jobs`] job files, job events and
//! leases. Timestamps are INTEGER microseconds; feedback rows carry copies of their
//! response's model and creation time so metrics are one covering-index scan without a join.

mod busy;
mod comparisons;
pub(crate) use busy::begin_immediate;
mod jobs;
mod metrics;
mod read;
mod schema;
mod write;

use super::job_rules::{check_events, check_job_file, check_lease_args};
use super::{
    ComparisonFilter, FeedbackFilter, FeedbackStore, HealthReport, JobEventRecord, JobFile,
    JobFilter, JobRecord, Lease, OpenOptions, Page, PageRequest, ResponseFilter, RunRecord,
    StoreStats, StoredComparison, WriteTx,
};
use crate::error::{Error, Result};
use crate::model::{
    Comparison, Feedback, Limits, MetricsQuery, MetricsReport, ProblematicQuery,
    ProblematicResponse, ResponseRecord,
};
use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
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
    response_refs: Arc<write::ResponseRefCache>,
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

    fn check_writable(&self) -> Result<()> {
        match &self.inner.read_only_reason {
            None => Ok(()),
            Some(reason) => Err(Error::Storage {
                message: reason.clone(),
                retryable: false,
                source: None,
            }),
        }
    }

    fn pool(&self) -> &SqlitePool {
        &self.inner.pool
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

/// A stored value that cannot be decoded: the file was changed behind our back.
pub(crate) fn corrupt(
    what: impl Into<String>,
    source: impl std::error::Error + Send + Sync + 'static,
) -> Error {
    Error::storage(what, false, source)
}

#[async_trait]
impl FeedbackStore for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn begin_write(&self) -> Result<Box<dyn WriteTx>> {
        self.check_writable()?;
        let guard = self.inner.writer.clone().lock_owned().await;
        let tx = write::SqliteTx::begin(
            self.pool(),
            guard,
            self.inner.limits,
            self.inner.response_refs.clone(),
            self.inner.committed.clone(),
            self.inner.busy_wait,
        )
        .await?;
        Ok(Box::new(tx))
    }

    async fn get_response(&self, id: &str) -> Result<Option<ResponseRecord>> {
        read::get_response(self.pool(), id).await
    }

    async fn get_feedback(&self, id: &str) -> Result<Option<Feedback>> {
        read::get_feedback(self.pool(), id).await
    }

    async fn list_responses(
        &self,
        filter: &ResponseFilter,
        page: &PageRequest,
    ) -> Result<Page<ResponseRecord>> {
        read::list_responses(self.pool(), filter, page).await
    }

    async fn list_feedback(
        &self,
        filter: &FeedbackFilter,
        page: &PageRequest,
    ) -> Result<Page<Feedback>> {
        read::list_feedback(self.pool(), filter, page).await
    }

    async fn get_comparison(&self, id: &str) -> Result<Option<Comparison>> {
        comparisons::get(self.pool(), id).await
    }

    async fn list_comparisons(
        &self,
        filter: &ComparisonFilter,
        page: &PageRequest,
    ) -> Result<Page<StoredComparison>> {
        comparisons::list(self.pool(), filter, page).await
    }

    async fn metrics(&self, query: &MetricsQuery) -> Result<MetricsReport> {
        metrics::metrics(self.pool(), query).await
    }

    async fn problematic(&self, query: &ProblematicQuery) -> Result<Vec<ProblematicResponse>> {
        metrics::problematic(self.pool(), query).await
    }

    async fn stats(&self) -> Result<StoreStats> {
        read::stats(self.pool()).await
    }

    async fn health(&self) -> Result<HealthReport> {
        schema::health(self.pool()).await
    }

    async fn save_run(&self, run: &RunRecord) -> Result<()> {
        self.check_writable()?;
        busy::retry(self.inner.busy_wait, "saving a run", || {
            read::save_run(self.pool(), run)
        })
        .await
    }

    async fn get_run(&self, id: &str) -> Result<Option<RunRecord>> {
        read::get_run(self.pool(), id).await
    }

    async fn list_runs(&self, kind: Option<&str>, limit: usize) -> Result<Vec<RunRecord>> {
        read::list_runs(self.pool(), kind, limit).await
    }

    async fn put_job(&self, job: &JobRecord, expected_version: Option<u64>) -> Result<u64> {
        self.check_writable()?;
        busy::retry(self.inner.busy_wait, "saving a job", || {
            read::put_job(self.pool(), job, expected_version)
        })
        .await
    }

    async fn get_job(&self, id: &str) -> Result<Option<JobRecord>> {
        read::get_job(self.pool(), id).await
    }

    fn ledger(&self) -> Option<Arc<dyn crate::credits::CreditLedger>> {
        Some(Arc::new(SqliteStore::ledger(self)))
    }

    async fn close(&self) -> Result<()> {
        SqliteStore::close(self).await;
        Ok(())
    }

    async fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<JobRecord>> {
        read::list_jobs(self.pool(), filter).await
    }

    // Arguments are checked before the read-only check, so bad input is reported the same
    // way by every backend.
    async fn put_job_file(&self, job_id: &str, file: &JobFile) -> Result<()> {
        check_job_file(job_id, file)?;
        self.check_writable()?;
        busy::retry(self.inner.busy_wait, "saving a job file", || {
            jobs::put_job_file(self.pool(), job_id, file)
        })
        .await
    }

    async fn get_job_file(&self, job_id: &str, name: &str) -> Result<Option<JobFile>> {
        jobs::get_job_file(self.pool(), job_id, name).await
    }

    async fn append_job_events(&self, job_id: &str, events: &[JobEventRecord]) -> Result<usize> {
        check_events(events)?;
        self.check_writable()?;
        jobs::append_job_events(
            self.pool(),
            &self.inner.writer,
            self.inner.busy_wait,
            job_id,
            events,
        )
        .await
    }

    async fn list_job_events(&self, job_id: &str) -> Result<Vec<JobEventRecord>> {
        jobs::list_job_events(self.pool(), job_id).await
    }

    async fn try_lease(&self, name: &str, holder: &str, ttl: Duration) -> Result<Option<Lease>> {
        check_lease_args(name, holder, ttl)?;
        self.check_writable()?;
        busy::retry(self.inner.busy_wait, "taking a lease", || {
            jobs::try_lease(self.pool(), name, holder, ttl)
        })
        .await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool> {
        self.check_writable()?;
        busy::retry(self.inner.busy_wait, "releasing a lease", || {
            jobs::release_lease(self.pool(), name, holder)
        })
        .await
    }

    async fn get_lease(&self, name: &str) -> Result<Option<Lease>> {
        // The leases table comes with a migration; an unmigrated database has none to read.
        self.check_writable()?;
        jobs::get_lease(self.pool(), name).await
    }

    async fn take_over_lease(
        &self,
        name: &str,
        from_holder: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<Lease>> {
        check_lease_args(name, holder, ttl)?;
        self.check_writable()?;
        jobs::take_over_lease(self.pool(), name, from_holder, holder, ttl).await
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
