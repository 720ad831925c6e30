//! The feedback store: where responses, feedback, analysis runs and fine-tuning jobs live.
//!
//! [`FeedbackStore`] is the one trait every backend implements ([`MemoryStore`] here,
//! `SqliteStore` behind the `sqlite` feature, `PgStore` behind the `postgres` feature). Use it as `Arc<dyn FeedbackStore>`; open one
//! from a URL with [`open`].

#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod batch_plan;
pub(crate) mod comparison_rules;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod day_tallies;
mod job_rules;
mod lease;
pub(crate) mod memory;
mod open;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;
mod types;

pub use crate::model::DailyTrendCounts;
pub use lease::{claim_lease, LeaseClaim, LeaseHolder, LeaseKeeper};
pub(crate) use memory::feedback_diff as feedback_conflict;
pub use memory::MemoryStore;
pub use open::{open, OpenOptions, DEFAULT_BUSY_WAIT};
#[cfg(feature = "postgres")]
pub(crate) use postgres::db_err as pg_db_err;
#[cfg(feature = "postgres")]
pub use postgres::{PgStore, DEFAULT_SCHEMA as DEFAULT_PG_SCHEMA};
#[cfg(feature = "sqlite")]
pub(crate) use sqlite::begin_immediate as sqlite_begin_immediate;
#[cfg(feature = "sqlite")]
pub(crate) use sqlite::db_err as sqlite_db_err;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
pub use types::*;

use crate::error::{Error, Result};
use crate::model::{
    Comparison, Feedback, Limits, MetricsQuery, MetricsReport, ProblematicQuery,
    ProblematicResponse, ResponseRecord,
};
use async_trait::async_trait;

/// Storage for responses and feedback, plus persisted analysis runs and fine-tuning jobs.
///
/// # Behaviour every implementation keeps (checked by the conformance suite)
/// - Writes go through a [`WriteTx`]: nothing written in it is visible to readers until
///   [`WriteTx::commit`]; [`WriteTx::rollback`], an error or dropping the transaction leaves
///   the store unchanged. At most one write transaction is open at a time per store; others wait.
/// - Ids are unique per kind. Writing an item whose id exists with identical content is a
///   no-op reported as [`ItemOutcome::Unchanged`]; with other content it is rejected
///   ([`Rejection::Conflict`]) and the stored item is kept.
/// - Feedback must reference a response that is stored or written earlier in the same
///   transaction, otherwise it is rejected ([`Rejection::UnknownResponse`]).
/// - Listing returns items in insertion order and pages with an opaque cursor.
/// - Metrics and problematic responses follow the definitions in `docs/formats.md`; a backend
///   may compute them in its database, with the same results as
///   [`crate::analysis::metrics::compute_metrics`].
#[async_trait]
pub trait FeedbackStore: Send + Sync + std::fmt::Debug {
    /// The backend's name (`memory`, `sqlite`, `postgres`).
    fn backend(&self) -> &'static str;

    /// Whether concurrent write transactions lock individual rows (PostgreSQL) rather than
    /// the whole store (memory, SQLite). Multi-batch writers such as the importer then write
    /// in one global order (sorted ids) so that two of them cannot deadlock; on the other
    /// stores they keep their input order, which listings then follow.
    fn locks_rows(&self) -> bool {
        false
    }

    /// Opens a write transaction. Dropping it without commit rolls it back.
    async fn begin_write(&self) -> Result<Box<dyn WriteTx>>;

    /// Gets a response by id.
    async fn get_response(&self, id: &str) -> Result<Option<ResponseRecord>>;

    /// Gets a feedback item by id.
    async fn get_feedback(&self, id: &str) -> Result<Option<Feedback>>;

    /// Lists responses matching `filter`, oldest inserted first.
    async fn list_responses(
        &self,
        filter: &ResponseFilter,
        page: &PageRequest,
    ) -> Result<Page<ResponseRecord>>;

    /// Lists feedback matching `filter`, oldest inserted first.
    async fn list_feedback(
        &self,
        filter: &FeedbackFilter,
        page: &PageRequest,
    ) -> Result<Page<Feedback>>;

    /// Gets a comparison by id.
    ///
    /// The default implementation is [`Error::Unsupported`].
    async fn get_comparison(&self, id: &str) -> Result<Option<Comparison>> {
        let _ = id;
        Err(Error::Unsupported {
            backend: self.backend(),
            operation: "get_comparison",
        })
    }

    /// Lists comparisons matching `filter` (model on either side, `created_at` in
    /// [since, until)), oldest inserted first, each with the models of its two responses.
    ///
    /// The default implementation is [`Error::Unsupported`].
    async fn list_comparisons(
        &self,
        filter: &ComparisonFilter,
        page: &PageRequest,
    ) -> Result<Page<StoredComparison>> {
        let _ = (filter, page);
        Err(Error::Unsupported {
            backend: self.backend(),
            operation: "list_comparisons",
        })
    }

    /// Quality metrics per model over the responses in the query's range.
    async fn metrics(&self, query: &MetricsQuery) -> Result<MetricsReport>;

    /// Responses with at least one negative feedback item, worst first: most negative
    /// feedback, then lowest mean score, then newest, then id.
    async fn problematic(&self, query: &ProblematicQuery) -> Result<Vec<ProblematicResponse>>;

    /// Item counts and the models seen.
    async fn stats(&self) -> Result<StoreStats>;

    /// Schema version and table check (the CLI's `check db`).
    async fn health(&self) -> Result<HealthReport>;

    /// [`FeedbackStore::health`] without the scans whose cost grows with the data (orphaned
    /// feedback, the aggregates' recount; reported as `None`, not checked): the database
    /// answers, its schema version and tables. What a readiness probe calls every few
    /// seconds. The default is the full report.
    async fn readiness(&self) -> Result<HealthReport> {
        self.health().await
    }

    /// Responses per day and negative feedback per category and day, over the responses of
    /// `model` (all models when `None`) created on days `from_day..to_day` (days since the
    /// epoch, UTC; open where `None`), read from daily aggregates: what the weekly trend
    /// series need, at a cost that does not grow with the feedback.
    ///
    /// The default implementation is [`Error::Unsupported`] (callers then read the rows).
    async fn daily_trend_counts(
        &self,
        model: Option<&str>,
        from_day: Option<i64>,
        to_day: Option<i64>,
    ) -> Result<DailyTrendCounts> {
        let _ = (model, from_day, to_day);
        Err(Error::Unsupported {
            backend: self.backend(),
            operation: "daily_trend_counts",
        })
    }

    /// Rebuilds the daily aggregates metrics read from the raw rows, in one write
    /// transaction, and says how many aggregate rows were wrong.
    ///
    /// The default implementation is [`Error::Unsupported`].
    async fn rebuild_aggregates(&self) -> Result<AggregateRebuild> {
        Err(Error::Unsupported {
            backend: self.backend(),
            operation: "rebuild_aggregates",
        })
    }

    /// Saves an analysis run. The same id with identical content is a no-op; with other
    /// content, [`Error::Conflict`].
    async fn save_run(&self, run: &RunRecord) -> Result<()>;

    /// Gets a run by id.
    async fn get_run(&self, id: &str) -> Result<Option<RunRecord>>;

    /// Lists runs, newest first, optionally of one kind.
    async fn list_runs(&self, kind: Option<&str>, limit: usize) -> Result<Vec<RunRecord>>;

    /// Creates or updates a job with optimistic concurrency: `expected_version` `None` means
    /// "create" ([`Error::Conflict`] if the id exists); `Some(v)` updates only if the stored
    /// version is `v` ([`Error::Conflict`] otherwise, [`Error::NotFound`] if absent). Returns
    /// the new version (1 after creation).
    async fn put_job(&self, job: &JobRecord, expected_version: Option<u64>) -> Result<u64>;

    /// Gets a job by id.
    async fn get_job(&self, id: &str) -> Result<Option<JobRecord>>;

    /// Lists jobs, newest first.
    async fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<JobRecord>>;

    /// Keeps a file with a job. Storing the same `(job_id, name)` again with the same content
    /// is a no-op; with other content it is [`Error::Conflict`] (a job's files never change).
    /// The default implementation is [`Error::Unsupported`].
    async fn put_job_file(&self, job_id: &str, file: &JobFile) -> Result<()> {
        let _ = (job_id, file);
        Err(Error::Unsupported {
            backend: self.backend(),
            operation: "put_job_file",
        })
    }

    /// A job's file by name, `None` when there is none.
    async fn get_job_file(&self, job_id: &str, name: &str) -> Result<Option<JobFile>> {
        let _ = (job_id, name);
        Err(Error::Unsupported {
            backend: self.backend(),
            operation: "get_job_file",
        })
    }

    /// Appends events to a job's history, in order, skipping any whose `id` the job already
    /// has (so re-reading a provider's events is harmless). Each stored event gets the next
    /// `seq`. Returns how many were added. Atomic: all of them or none.
    async fn append_job_events(&self, job_id: &str, events: &[JobEventRecord]) -> Result<usize> {
        let _ = (job_id, events);
        Err(Error::Unsupported {
            backend: self.backend(),
            operation: "append_job_events",
        })
    }

    /// A job's history, oldest first (by `seq`).
    async fn list_job_events(&self, job_id: &str) -> Result<Vec<JobEventRecord>> {
        let _ = job_id;
        Err(Error::Unsupported {
            backend: self.backend(),
            operation: "list_job_events",
        })
    }

    /// Takes the lease `name` for `holder` until now + `ttl`, if it is free, lapsed, or
    /// already `holder`'s (then it is renewed and `acquired_at` kept). Returns the lease
    /// when `holder` has it after the call, `None` when someone else holds it. Atomic
    /// across every process sharing the database: two callers never both get `Some`.
    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: std::time::Duration,
    ) -> Result<Option<Lease>> {
        let _ = (name, holder, ttl);
        Err(Error::Unsupported {
            backend: self.backend(),
            operation: "try_lease",
        })
    }

    /// Gives the lease up if `holder` has it; returns whether it did.
    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool> {
        let _ = (name, holder);
        Err(Error::Unsupported {
            backend: self.backend(),
            operation: "release_lease",
        })
    }

    /// The lease `name` as stored (it may have lapsed), `None` when there is none: who holds
    /// it and until when, to report or to judge whether its holder is gone.
    async fn get_lease(&self, name: &str) -> Result<Option<Lease>> {
        let _ = name;
        Err(Error::Unsupported {
            backend: self.backend(),
            operation: "get_lease",
        })
    }

    /// Replaces the lease `name` held by `from_holder` (lapsed or not) with one held by
    /// `holder` from now until now + `ttl`, only if `from_holder` still has it; returns the
    /// new lease, or `None` when the lease is absent or someone else's. Atomic like
    /// [`FeedbackStore::try_lease`]. For taking over from a holder known to be dead
    /// ([`claim_lease`]); never call it on a live holder's lease.
    async fn take_over_lease(
        &self,
        name: &str,
        from_holder: &str,
        holder: &str,
        ttl: std::time::Duration,
    ) -> Result<Option<Lease>> {
        let _ = (name, from_holder, holder, ttl);
        Err(Error::Unsupported {
            backend: self.backend(),
            operation: "take_over_lease",
        })
    }

    /// The credit ledger kept in this store's database ([`crate::credits`]), or `None` for a
    /// backend without one. SQL stores hand out a ledger sharing their connection pool;
    /// a [`MemoryStore`] hands out the [`crate::credits::MemoryLedger`] it owns.
    fn ledger(&self) -> Option<std::sync::Arc<dyn crate::credits::CreditLedger>> {
        None
    }

    /// Releases the store: waits for connections in use, then closes them (an embedded
    /// SQLite database is checkpointed so its `-wal` file is folded back). Calls made after
    /// `close` fail. Dropping a store without closing it loses nothing; it only leaves
    /// that tidying to the next open.
    async fn close(&self) -> Result<()> {
        Ok(())
    }
}

/// An open write transaction. See [`FeedbackStore`] for its guarantees.
#[async_trait]
pub trait WriteTx: Send {
    /// Writes a batch: responses first, then feedback (which may reference the batch's
    /// responses). Returns one outcome per item, in input order; rejected items are not
    /// written but do not abort the transaction. Items are validated against the store's
    /// [`Limits`]; an invalid item is rejected with [`Rejection::Invalid`].
    async fn write(&mut self, batch: &RecordBatch) -> Result<BatchOutcome>;

    /// Writes comparisons (pairwise feedback). Returns one outcome per item, in input order,
    /// like [`WriteTx::write`]: a comparison is rejected ([`Rejection::Invalid`], naming
    /// `response_a` or `response_b`) when a response is neither stored nor written earlier
    /// in this transaction, or when the two answer different conversation contexts
    /// ([`ResponseRecord::context_key`]); the same id with identical content is
    /// [`ItemOutcome::Unchanged`], with other content [`Rejection::Conflict`].
    ///
    /// The default implementation is [`Error::Unsupported`].
    async fn write_comparisons(&mut self, comparisons: &[Comparison]) -> Result<Vec<ItemOutcome>> {
        let _ = comparisons;
        Err(Error::Unsupported {
            backend: "this store",
            operation: "write_comparisons",
        })
    }

    /// Makes everything written visible, atomically.
    async fn commit(self: Box<Self>) -> Result<WriteSummary>;

    /// Discards everything written.
    async fn rollback(self: Box<Self>) -> Result<()>;
}

/// Conveniences available on every store.
#[async_trait]
pub trait FeedbackStoreExt: FeedbackStore {
    /// Writes a batch atomically: if any item is rejected nothing is written and the first
    /// rejection is returned as an error ([`Error::Conflict`], [`Error::NotFound`] or
    /// [`Error::InvalidInput`]).
    async fn record(&self, batch: &RecordBatch) -> Result<WriteSummary> {
        let mut tx = self.begin_write().await?;
        let outcome = tx.write(batch).await?;
        if let Some(err) = outcome.first_rejection(batch) {
            tx.rollback().await?;
            return Err(err);
        }
        tx.commit().await
    }

    /// Records one response.
    async fn record_response(&self, response: ResponseRecord) -> Result<WriteSummary> {
        self.record(&RecordBatch {
            responses: vec![response],
            feedback: vec![],
        })
        .await
    }

    /// Records one feedback item.
    async fn record_feedback(&self, feedback: Feedback) -> Result<WriteSummary> {
        self.record(&RecordBatch {
            responses: vec![],
            feedback: vec![feedback],
        })
        .await
    }

    /// Writes comparisons atomically: if any is rejected nothing is written and the first
    /// rejection is returned as an error ([`Error::Conflict`] or [`Error::InvalidInput`]).
    async fn record_comparisons(&self, comparisons: &[Comparison]) -> Result<WriteSummary> {
        let mut tx = self.begin_write().await?;
        let outcomes = tx.write_comparisons(comparisons).await?;
        for (o, c) in outcomes.iter().zip(comparisons) {
            if let ItemOutcome::Rejected(rej) = o {
                let err = match rej {
                    Rejection::Conflict { reason } => Error::Conflict {
                        kind: "comparison",
                        id: c.id.clone(),
                        reason: reason.clone(),
                    },
                    other => Error::InvalidInput {
                        field: format!("comparison.{}", other.field().unwrap_or("id")),
                        reason: other.reason(),
                    },
                };
                tx.rollback().await?;
                return Err(err);
            }
        }
        tx.commit().await
    }

    /// Every comparison matching `filter` (pages through
    /// [`FeedbackStore::list_comparisons`]).
    async fn all_comparisons(&self, filter: &ComparisonFilter) -> Result<Vec<StoredComparison>> {
        let mut out = Vec::new();
        let mut page = PageRequest::first(10_000);
        loop {
            let p = self.list_comparisons(filter, &page).await?;
            out.extend(p.items);
            match p.next {
                Some(next) => page.after = Some(next),
                None => return Ok(out),
            }
        }
    }

    /// Every response matching `filter` (pages through [`FeedbackStore::list_responses`]).
    async fn all_responses(&self, filter: &ResponseFilter) -> Result<Vec<ResponseRecord>> {
        let mut out = Vec::new();
        let mut page = PageRequest::first(10_000);
        loop {
            let p = self.list_responses(filter, &page).await?;
            out.extend(p.items);
            match p.next {
                Some(next) => page.after = Some(next),
                None => return Ok(out),
            }
        }
    }

    /// Every feedback item matching `filter`.
    async fn all_feedback(&self, filter: &FeedbackFilter) -> Result<Vec<Feedback>> {
        let mut out = Vec::new();
        let mut page = PageRequest::first(10_000);
        loop {
            let p = self.list_feedback(filter, &page).await?;
            out.extend(p.items);
            match p.next {
                Some(next) => page.after = Some(next),
                None => return Ok(out),
            }
        }
    }
}

impl<T: FeedbackStore + ?Sized> FeedbackStoreExt for T {}

/// Checks an item before a backend writes it, returning the rejection to report.
pub(crate) fn precheck_response(r: &ResponseRecord, limits: &Limits) -> Option<Rejection> {
    r.validate(limits).err().map(Rejection::invalid)
}

/// Checks a feedback item before a backend writes it.
pub(crate) fn precheck_feedback(f: &Feedback, limits: &Limits) -> Option<Rejection> {
    f.validate(limits).err().map(Rejection::invalid)
}

/// Checks a comparison before a backend writes it.
pub(crate) fn precheck_comparison(c: &Comparison, limits: &Limits) -> Option<Rejection> {
    c.validate(limits).err().map(Rejection::invalid)
}

impl Rejection {
    pub(crate) fn invalid(e: Error) -> Self {
        match e {
            Error::InvalidInput { field, reason } => Rejection::Invalid { field, reason },
            other => Rejection::Invalid {
                field: String::new(),
                reason: other.to_string(),
            },
        }
    }
}
