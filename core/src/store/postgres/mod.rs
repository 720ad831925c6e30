//! The PostgreSQL store (Supabase or any PostgreSQL ≥ 11).
//!
//! The queries, the write transaction's logic and [`super::FeedbackStore`] are shared with
//! SQLite in [`super::sql`]; what is PostgreSQL's own lives here: [`schema`] connects,
//! creates the schema and migrates, [`dialect`] is PostgreSQL's [`sql::SqlDb`] (text-array
//! categories, `= ANY(...)` lookups, no NUL in text), [`write`] reserves row keys from
//! sequences and bulk-inserts through binary `COPY` ([`copy`] encodes it) while ids are new
//! and `UNNEST` arrays with `ON CONFLICT (id) DO NOTHING` once one exists. Tables live in
//! one schema (default `tuneloop`, `?schema=NAME` in the URL); every pooled connection sets
//! `search_path` to it. Several processes may write at once: row keys come from sequences,
//! rows enter every statement sorted by id (so concurrent transactions lock unique-index
//! entries in one order and cannot deadlock), and nothing relies on an
//! in-process lock for correctness.

mod copy;
mod dialect;
mod schema;
mod write;

use super::sql::{self, store::SqlBackend, write::ResponseRefCache};
use super::{HealthReport, JobEventRecord, OpenOptions, WriteTx};
use crate::error::{Error, Result};
use crate::model::Limits;
use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::Postgres;
use sqlx::{Connection, Executor, PgConnection};
use std::future::Future;
use std::str::FromStr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

/// How long opening a store waits for the server to answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// The schema used when the URL names none.
pub const DEFAULT_SCHEMA: &str = "tuneloop";

/// A store in a PostgreSQL database, in one schema.
///
/// Write transactions of one `PgStore` queue on an in-process lock (the
/// [`FeedbackStore`](crate::store::FeedbackStore) contract: one open write transaction per store); writers in other
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
    /// Committed responses seen lately, shared by this store's transactions.
    refs: Arc<ResponseRefCache>,
    /// Whether the last batch was all new ids, so the next one is tried with a plain
    /// INSERT (see `write::insert_rows`).
    expect_new: Arc<AtomicBool>,
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
                refs: Arc::default(),
                expect_new: Arc::new(AtomicBool::new(true)),
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

#[async_trait]
impl SqlBackend for PgStore {
    type Db = Postgres;
    const NAME: &'static str = "postgres";
    const LOCKS_ROWS: bool = true;

    fn sql_pool(&self) -> &PgPool {
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
            self.inner.refs.clone(),
            self.inner.expect_new.clone(),
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
            self.inner.refs.clone(),
            self.inner.expect_new.clone(),
        )
        .await?;
        tx.rebuild_aggregates().await
    }

    async fn schema_health(&self, deep: bool) -> Result<HealthReport> {
        schema::health(&self.inner.pool, &self.inner.schema, deep).await
    }

    /// Nothing to wait for: writers do not lock the whole database.
    async fn retry_busy<T, F, Fut>(&self, _action: &str, mut op: F) -> Result<T>
    where
        T: Send,
        F: FnMut() -> Fut + Send,
        Fut: Future<Output = Result<T>> + Send,
    {
        op().await
    }

    /// One transaction, so the batch goes in whole or not at all. A concurrent append of the
    /// same event id waits on the other transaction's index entry and then skips it.
    async fn append_events(&self, job_id: &str, events: &[JobEventRecord]) -> Result<usize> {
        let mut tx = self
            .inner
            .pool
            .begin()
            .await
            .map_err(|e| db_err("starting a transaction", e))?;
        let added = sql::jobs::append_job_events::<Postgres>(&mut tx, job_id, events).await?;
        tx.commit()
            .await
            .map_err(|e| db_err("committing job events", e))?;
        Ok(added)
    }

    fn shared_ledger(&self) -> Arc<dyn crate::credits::CreditLedger> {
        Arc::new(PgStore::ledger(self))
    }

    async fn close_pool(&self) {
        PgStore::close(self).await;
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
