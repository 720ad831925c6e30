//! [`FeedbackStore`] for every SQL backend, written once over [`SqlBackend`]: argument
//! checks, the read-only check and the calls into the shared queries, in one order for
//! both dialects.

use super::{comparisons, jobs, metrics, read, SqlDb};
use crate::error::{Error, Result};
use crate::model::{
    Comparison, Feedback, MetricsQuery, MetricsReport, ProblematicQuery, ProblematicResponse,
    ResponseRecord,
};
use crate::store::job_rules::{check_events, check_job_file, check_lease_args};
use crate::store::{
    AggregateRebuild, ComparisonFilter, DailyTrendCounts, FeedbackFilter, FeedbackStore,
    HealthReport, JobEventRecord, JobFile, JobFilter, JobRecord, Lease, Page, PageRequest,
    ResponseFilter, RunRecord, StoreStats, StoredComparison, WriteTx,
};
use async_trait::async_trait;
use sqlx::Pool;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// What a SQL store supplies beyond the shared queries: its pool, write transactions,
/// schema report, busy handling, job-event transactions, ledger and shutdown.
#[async_trait]
pub trait SqlBackend: Send + Sync + std::fmt::Debug + 'static {
    /// The database.
    type Db: SqlDb;
    /// The backend's name (`sqlite`, `postgres`).
    const NAME: &'static str;
    /// See [`FeedbackStore::locks_rows`].
    const LOCKS_ROWS: bool;
    /// The connection pool.
    fn sql_pool(&self) -> &Pool<Self::Db>;
    /// Why writes are refused, if they are (the schema is not at this build's version and
    /// migrating was not allowed).
    fn read_only_reason(&self) -> Option<&str>;
    /// Opens a write transaction (see [`FeedbackStore::begin_write`]).
    async fn open_write(&self) -> Result<Box<dyn WriteTx>>;
    /// Rebuilds the daily aggregates in a write transaction (see
    /// [`FeedbackStore::rebuild_aggregates`]).
    async fn rebuild(&self) -> Result<AggregateRebuild>;
    /// Schema version and table check; with `deep`, also the scans of the rows (orphaned
    /// feedback, the aggregates' recount).
    async fn schema_health(&self, deep: bool) -> Result<HealthReport>;
    /// Runs a short write that fails as a whole, retrying it while another process holds
    /// the database's write lock where the backend has one.
    async fn retry_busy<T, F, Fut>(&self, action: &str, op: F) -> Result<T>
    where
        T: Send,
        F: FnMut() -> Fut + Send,
        Fut: Future<Output = Result<T>> + Send;
    /// Appends job events (checked) in one transaction.
    async fn append_events(&self, job_id: &str, events: &[JobEventRecord]) -> Result<usize>;
    /// The credit ledger sharing the pool.
    fn shared_ledger(&self) -> Arc<dyn crate::credits::CreditLedger>;
    /// Closes the pool.
    async fn close_pool(&self);
}

fn check_writable<B: SqlBackend>(b: &B) -> Result<()> {
    match b.read_only_reason() {
        None => Ok(()),
        Some(reason) => Err(Error::Storage {
            message: reason.to_string(),
            retryable: false,
            source: None,
        }),
    }
}

#[async_trait]
impl<B: SqlBackend> FeedbackStore for B {
    fn backend(&self) -> &'static str {
        B::NAME
    }

    fn locks_rows(&self) -> bool {
        B::LOCKS_ROWS
    }

    async fn begin_write(&self) -> Result<Box<dyn WriteTx>> {
        check_writable(self)?;
        self.open_write().await
    }

    async fn get_response(&self, id: &str) -> Result<Option<ResponseRecord>> {
        read::response(self.sql_pool().into(), id).await
    }

    async fn get_feedback(&self, id: &str) -> Result<Option<Feedback>> {
        read::feedback(self.sql_pool().into(), id).await
    }

    async fn list_responses(
        &self,
        filter: &ResponseFilter,
        page: &PageRequest,
    ) -> Result<Page<ResponseRecord>> {
        read::list_responses(self.sql_pool(), filter, page).await
    }

    async fn list_feedback(
        &self,
        filter: &FeedbackFilter,
        page: &PageRequest,
    ) -> Result<Page<Feedback>> {
        read::list_feedback(self.sql_pool(), filter, page).await
    }

    async fn get_comparison(&self, id: &str) -> Result<Option<Comparison>> {
        comparisons::get_comparison(self.sql_pool(), id).await
    }

    async fn list_comparisons(
        &self,
        filter: &ComparisonFilter,
        page: &PageRequest,
    ) -> Result<Page<StoredComparison>> {
        comparisons::list(self.sql_pool(), filter, page).await
    }

    async fn metrics(&self, query: &MetricsQuery) -> Result<MetricsReport> {
        // A database not migrated to this build's schema may lack the daily aggregates.
        let aggregates = self.read_only_reason().is_none();
        metrics::metrics(self.sql_pool(), query, aggregates).await
    }

    async fn problematic(&self, query: &ProblematicQuery) -> Result<Vec<ProblematicResponse>> {
        metrics::problematic(self.sql_pool(), query).await
    }

    async fn stats(&self) -> Result<StoreStats> {
        read::stats(self.sql_pool()).await
    }

    async fn health(&self) -> Result<HealthReport> {
        self.schema_health(true).await
    }

    async fn readiness(&self) -> Result<HealthReport> {
        self.schema_health(false).await
    }

    async fn daily_trend_counts(
        &self,
        model: Option<&str>,
        from_day: Option<i64>,
        to_day: Option<i64>,
    ) -> Result<DailyTrendCounts> {
        if self.read_only_reason().is_some() {
            // Not migrated: the aggregates may be missing; the caller reads the rows.
            return Err(Error::Unsupported {
                backend: B::NAME,
                operation: "daily_trend_counts",
            });
        }
        super::aggregates::trend_counts(self.sql_pool(), model, from_day, to_day).await
    }

    async fn rebuild_aggregates(&self) -> Result<AggregateRebuild> {
        check_writable(self)?;
        self.rebuild().await
    }

    async fn save_run(&self, run: &RunRecord) -> Result<()> {
        check_writable(self)?;
        self.retry_busy("saving a run", || read::save_run(self.sql_pool(), run))
            .await
    }

    async fn get_run(&self, id: &str) -> Result<Option<RunRecord>> {
        read::get_run(self.sql_pool(), id).await
    }

    async fn list_runs(&self, kind: Option<&str>, limit: usize) -> Result<Vec<RunRecord>> {
        read::list_runs(self.sql_pool(), kind, limit).await
    }

    async fn put_job(&self, job: &JobRecord, expected_version: Option<u64>) -> Result<u64> {
        check_writable(self)?;
        self.retry_busy("saving a job", || {
            read::put_job(self.sql_pool(), job, expected_version)
        })
        .await
    }

    async fn get_job(&self, id: &str) -> Result<Option<JobRecord>> {
        read::get_job(self.sql_pool(), id).await
    }

    async fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<JobRecord>> {
        read::list_jobs(self.sql_pool(), filter).await
    }

    // Arguments are checked before the read-only check, so bad input is reported the same
    // way by every backend.
    async fn put_job_file(&self, job_id: &str, file: &JobFile) -> Result<()> {
        check_job_file(job_id, file)?;
        check_writable(self)?;
        self.retry_busy("saving a job file", || {
            jobs::put_job_file(self.sql_pool(), job_id, file)
        })
        .await
    }

    async fn get_job_file(&self, job_id: &str, name: &str) -> Result<Option<JobFile>> {
        jobs::get_job_file(self.sql_pool(), job_id, name).await
    }

    async fn append_job_events(&self, job_id: &str, events: &[JobEventRecord]) -> Result<usize> {
        check_events(events)?;
        check_writable(self)?;
        jobs::check_events_text::<B::Db>(job_id, events)?;
        if events.is_empty() {
            return Ok(0);
        }
        self.append_events(job_id, events).await
    }

    async fn list_job_events(&self, job_id: &str) -> Result<Vec<JobEventRecord>> {
        jobs::list_job_events(self.sql_pool(), job_id).await
    }

    async fn try_lease(&self, name: &str, holder: &str, ttl: Duration) -> Result<Option<Lease>> {
        check_lease_args(name, holder, ttl)?;
        check_writable(self)?;
        self.retry_busy("taking a lease", || {
            jobs::try_lease(self.sql_pool(), name, holder, ttl)
        })
        .await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool> {
        check_writable(self)?;
        self.retry_busy("releasing a lease", || {
            jobs::release_lease(self.sql_pool(), name, holder)
        })
        .await
    }

    async fn get_lease(&self, name: &str) -> Result<Option<Lease>> {
        // The leases table comes with a migration; an unmigrated database has none to read.
        check_writable(self)?;
        jobs::get_lease(self.sql_pool(), name).await
    }

    async fn take_over_lease(
        &self,
        name: &str,
        from_holder: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<Lease>> {
        check_lease_args(name, holder, ttl)?;
        check_writable(self)?;
        jobs::take_over_lease(self.sql_pool(), name, from_holder, holder, ttl).await
    }

    fn ledger(&self) -> Option<Arc<dyn crate::credits::CreditLedger>> {
        Some(self.shared_ledger())
    }

    async fn close(&self) -> Result<()> {
        self.close_pool().await;
        Ok(())
    }
}
