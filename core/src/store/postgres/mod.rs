//! The PostgreSQL store (Supabase or any PostgreSQL ≥ 11).
//!
//! Layout mirrors the SQLite backend: [`schema`] opens and migrates, [`write`] is the write
//! transaction, [`read`] the lookups and listings, [`metrics`] the aggregations, [`jobs`] job
//! files, job events and leases. Tables live in one schema (default `tuneloop`,
//! `?schema=NAME` in the URL); every pooled connection sets `search_path` to it. Several
//! processes may write at once: row keys come from sequences, inserts use
//! `ON CONFLICT (id) DO NOTHING` with rows sorted by id (so concurrent transactions lock
//! unique-index entries in one order and cannot deadlock), and nothing relies on an
//! in-process lock for correctness.

mod comparisons;
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
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Connection, Executor, PgConnection};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// How long opening a store waits for the server to answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// The schema used when the URL names none.
pub const DEFAULT_SCHEMA: &str = "tuneloop";

/// A store in a PostgreSQL database, in one schema.
///
/// Write transactions of one `PgStore` queue on an in-process lock (the
/// [`FeedbackStore`] contract: one open write transaction per store); writers in other
/// processes, or other `PgStore`s, run concurrently and lose nothing.
#[derive(Debug, Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pool: PgPool,
    schema: String,
    limits: Limits,
    writer: Arc<tokio::sync::Mutex<()>>,
    /// The response cache and insert strategy shared by this store's transactions.
    state: Arc<write::WriterState>,
    read_only_reason: Option<String>,
}

/// Splits `?schema=NAME` off a PostgreSQL URL: sqlx does not know that parameter.
/// Returns the URL sqlx gets and the schema.
pub(crate) fn split_schema(url: &str) -> Result<(String, String)> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, q),
        None => (url, ""),
    };
    let mut schema = None;
    let mut kept = Vec::new();
    for param in query.split('&').filter(|p| !p.is_empty()) {
        match param.split_once('=') {
            Some(("schema", value)) => schema = Some(value.to_string()),
            _ => kept.push(param),
        }
    }
    let schema = schema.unwrap_or_else(|| DEFAULT_SCHEMA.to_string());
    validate_schema(&schema)?;
    let url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((url, schema))
}

/// A schema name must be a plain lower-case identifier: it is spliced into SQL
/// (`SET search_path`, `CREATE SCHEMA`), where it cannot be a bound parameter.
fn validate_schema(schema: &str) -> Result<()> {
    let mut chars = schema.chars();
    let ok = schema.len() <= 63
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "schema",
            format!(
                "`{schema}` is not a valid schema name (lower-case letters, digits and `_`, \
                 not starting with a digit, at most 63 characters)"
            ),
        ))
    }
}

impl PgStore {
    /// Opens the database at `url` (`postgres://` or `postgresql://`, with sqlx's
    /// parameters such as `sslmode=require`, plus `schema=NAME`), creating the schema and
    /// migrating it when `options.migrate` is set.
    ///
    /// Errors: [`Error::InvalidInput`] for a bad URL or schema name; [`Error::Storage`]
    /// when the server cannot be reached (retryable) or refuses; [`Error::SchemaTooNew`]
    /// when a newer tuneloop migrated the schema.
    pub async fn open(url: &str, options: &OpenOptions) -> Result<Self> {
        let (url, schema) = split_schema(url.trim())?;
        let connect = PgConnectOptions::from_str(&url)
            .map_err(|e| Error::invalid("database_url", e.to_string()))?;
        // One direct connection first: the pool retries refused connections until its
        // acquire timeout and then reports only "pool timed out"; this fails at once with
        // the server's (or the network's) own message.
        let probe = tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&connect))
            .await
            .map_err(|_| Error::Storage {
                message: format!(
                    "connecting to PostgreSQL: no answer within {} s",
                    CONNECT_TIMEOUT.as_secs()
                ),
                retryable: true,
                source: None,
            })?
            .map_err(|e| db_err("connecting to PostgreSQL", e))?;
        let _ = probe.close().await;
        let set_path = format!("SET search_path TO {schema}");
        let pool = PgPoolOptions::new()
            .max_connections(5)
            .acquire_timeout(Duration::from_secs(30))
            // A session setting rather than a startup `options` parameter: connection
            // poolers (PgBouncer, Supavisor) reject unknown startup parameters.
            .after_connect(move |conn, _| {
                let sql = set_path.clone();
                Box::pin(async move {
                    conn.execute(sql.as_str()).await?;
                    Ok(())
                })
            })
            .connect_lazy_with(connect);
        let read_only_reason = match schema::prepare(&pool, &schema, options.migrate).await {
            Ok(r) => r,
            Err(e) => {
                pool.close().await;
                return Err(e);
            }
        };
        Ok(PgStore {
            inner: Arc::new(Inner {
                pool,
                schema,
                limits: options.limits,
                writer: Arc::default(),
                state: Arc::new(write::WriterState::new()),
                read_only_reason,
            }),
        })
    }

    /// The schema holding the tables.
    pub fn schema(&self) -> &str {
        &self.inner.schema
    }

    /// The connection pool (every connection has `search_path` set to [`Self::schema`]).
    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    /// Closes every connection (waiting for them to be returned to the pool).
    pub async fn close(&self) {
        self.inner.pool.close().await;
    }

    /// The credit ledger in this store's schema, sharing its connection pool.
    pub fn ledger(&self) -> crate::credits::PgLedger {
        crate::credits::PgLedger::new(self.inner.pool.clone(), self.inner.read_only_reason.clone())
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
}

/// SQLSTATEs after which retrying the same call may succeed: serialization failure,
/// deadlock, lock timeout, server shutting down or starting, too many connections, and
/// connection exceptions (class 08).
fn retryable_state(code: &str) -> bool {
    matches!(
        code,
        "40001" | "40P01" | "55P03" | "57P01" | "57P02" | "57P03" | "53300"
    ) || code.starts_with("08")
}

/// Maps a sqlx error to [`Error::Storage`], retryable for transient conditions.
pub(crate) fn db_err(action: &str, e: sqlx::Error) -> Error {
    let retryable = match &e {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => true,
        sqlx::Error::Database(d) => d.code().is_some_and(|c| retryable_state(&c)),
        _ => false,
    };
    Error::storage(format!("{action}: {e}"), retryable, e)
}

/// A stored value that cannot be decoded: the table was changed behind our back.
pub(crate) fn corrupt(
    what: impl Into<String>,
    source: impl std::error::Error + Send + Sync + 'static,
) -> Error {
    Error::storage(what, false, source)
}

#[async_trait]
impl FeedbackStore for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn locks_rows(&self) -> bool {
        true
    }

    async fn begin_write(&self) -> Result<Box<dyn WriteTx>> {
        self.check_writable()?;
        let guard = self.inner.writer.clone().lock_owned().await;
        let tx = write::PgTx::begin(
            self.pool(),
            guard,
            self.inner.limits,
            self.inner.state.clone(),
        )
        .await?;
        Ok(Box::new(tx))
    }

    async fn get_response(&self, id: &str) -> Result<Option<ResponseRecord>> {
        read::fetch_response(self.pool(), id).await
    }

    async fn get_feedback(&self, id: &str) -> Result<Option<Feedback>> {
        read::fetch_feedback(self.pool(), id).await
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
        schema::health(self.pool(), &self.inner.schema).await
    }

    async fn save_run(&self, run: &RunRecord) -> Result<()> {
        self.check_writable()?;
        read::save_run(self.pool(), run).await
    }

    async fn get_run(&self, id: &str) -> Result<Option<RunRecord>> {
        read::get_run(self.pool(), id).await
    }

    async fn list_runs(&self, kind: Option<&str>, limit: usize) -> Result<Vec<RunRecord>> {
        read::list_runs(self.pool(), kind, limit).await
    }

    async fn put_job(&self, job: &JobRecord, expected_version: Option<u64>) -> Result<u64> {
        self.check_writable()?;
        read::put_job(self.pool(), job, expected_version).await
    }

    async fn get_job(&self, id: &str) -> Result<Option<JobRecord>> {
        read::get_job(self.pool(), id).await
    }

    async fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<JobRecord>> {
        read::list_jobs(self.pool(), filter).await
    }

    // Arguments are checked before the read-only check, so bad input is reported the same
    // way by every backend.
    async fn put_job_file(&self, job_id: &str, file: &JobFile) -> Result<()> {
        check_job_file(job_id, file)?;
        self.check_writable()?;
        jobs::put_job_file(self.pool(), job_id, file).await
    }

    async fn get_job_file(&self, job_id: &str, name: &str) -> Result<Option<JobFile>> {
        jobs::get_job_file(self.pool(), job_id, name).await
    }

    async fn append_job_events(&self, job_id: &str, events: &[JobEventRecord]) -> Result<usize> {
        check_events(events)?;
        self.check_writable()?;
        jobs::append_job_events(self.pool(), job_id, events).await
    }

    async fn list_job_events(&self, job_id: &str) -> Result<Vec<JobEventRecord>> {
        jobs::list_job_events(self.pool(), job_id).await
    }

    async fn try_lease(&self, name: &str, holder: &str, ttl: Duration) -> Result<Option<Lease>> {
        check_lease_args(name, holder, ttl)?;
        self.check_writable()?;
        jobs::try_lease(self.pool(), name, holder, ttl).await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool> {
        self.check_writable()?;
        jobs::release_lease(self.pool(), name, holder).await
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

    fn ledger(&self) -> Option<Arc<dyn crate::credits::CreditLedger>> {
        Some(Arc::new(PgStore::ledger(self)))
    }

    async fn close(&self) -> Result<()> {
        PgStore::close(self).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_parameter_is_split_off_and_checked() {
        let (url, schema) = split_schema("postgres://u@h/db").unwrap_or_default();
        assert_eq!(
            (url.as_str(), schema.as_str()),
            ("postgres://u@h/db", "tuneloop")
        );
        let (url, schema) =
            split_schema("postgres://u@h/db?sslmode=require&schema=app_1").unwrap_or_default();
        assert_eq!(
            (url.as_str(), schema.as_str()),
            ("postgres://u@h/db?sslmode=require", "app_1")
        );
        for bad in ["Tune", "1abc", "a-b", "a;drop", ""] {
            assert!(
                split_schema(&format!("postgres://h/db?schema={bad}")).is_err(),
                "{bad}"
            );
        }
    }
}
