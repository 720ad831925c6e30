//! The ledger in the SQLite store's database (tables from migration `0002_credits.sql`).
//!
//! Every writing operation is one `BEGIN IMMEDIATE` transaction: it holds SQLite's write lock
//! from its first read, so no other writer (in this process or another) can change the
//! account between the checks and the writes. Writers of this process also queue on a mutex
//! so they wait their turn instead of spending SQLite's busy timeout.

use super::flow::{forward_ledger, Ledger, LedgerTx, TxSource};
use super::rules::{Entry, Figures, Op};
use super::sql_rows::{hold_from_row, i64_of, u64_of};
use super::Hold;
use crate::error::{Error, Result};
use crate::model::time::to_micros;
use crate::model::Timestamp;
use crate::store::sqlite_db_err as db_err;
use async_trait::async_trait;
use sqlx::{Sqlite, SqlitePool, Transaction};
use std::sync::Arc;
use tokio::sync::{Mutex, OwnedMutexGuard};

/// A ledger sharing a [`crate::store::SqliteStore`]'s connection pool; get one with
/// [`crate::store::SqliteStore::ledger`]. Clones share the pool.
#[derive(Debug, Clone)]
pub struct SqliteLedger {
    inner: Ledger<SqliteSource>,
}

#[derive(Debug, Clone)]
struct SqliteSource {
    pool: SqlitePool,
    writer: Arc<Mutex<()>>,
    /// Why writes are refused (schema not migrated), if they are.
    read_only_reason: Option<String>,
    /// How long a write waits for another process's write lock.
    busy_wait: std::time::Duration,
}

impl SqliteLedger {
    pub(crate) fn new(
        pool: SqlitePool,
        writer: Arc<Mutex<()>>,
        busy_wait: std::time::Duration,
        read_only_reason: Option<String>,
    ) -> Self {
        SqliteLedger {
            inner: Ledger {
                source: SqliteSource {
                    pool,
                    writer,
                    read_only_reason,
                    busy_wait,
                },
            },
        }
    }
}

struct SqliteTx {
    tx: Transaction<'static, Sqlite>,
    _guard: Option<OwnedMutexGuard<()>>,
}

#[async_trait]
impl LedgerTx for SqliteTx {
    async fn lock_account(&mut self, account: &str) -> Result<Option<Figures>> {
        let row: Option<(i64, i64, i64)> = sqlx::query_as(
            "SELECT granted, pending, posted FROM credit_accounts WHERE account = ?",
        )
        .bind(account)
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(|e| db_err("reading a credit account", e))?;
        row.map(|(g, pe, po)| {
            Ok(Figures {
                granted: u64_of("granted", g)?,
                pending: u64_of("pending", pe)?,
                posted: u64_of("posted", po)?,
            })
        })
        .transpose()
    }

    async fn ensure_account(&mut self, account: &str, now: Timestamp) -> Result<()> {
        sqlx::query(
            "INSERT INTO credit_accounts (account, created_at, updated_at) VALUES (?, ?, ?) \
             ON CONFLICT (account) DO NOTHING",
        )
        .bind(account)
        .bind(to_micros(&now))
        .bind(to_micros(&now))
        .execute(&mut *self.tx)
        .await
        .map_err(|e| db_err("creating a credit account", e))?;
        Ok(())
    }

    async fn entry(&mut self, account: &str, key: &str) -> Result<Option<Entry>> {
        let row: Option<(String, Option<String>, i64)> = sqlx::query_as(
            "SELECT op, hold_id, amount FROM credit_entries \
             WHERE account = ? AND idempotency_key = ?",
        )
        .bind(account)
        .bind(key)
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(|e| db_err("reading the credit journal", e))?;
        row.map(|(op, hold_id, amount)| {
            Ok(Entry {
                account: account.into(),
                key: key.into(),
                op: Op::parse(&op).ok_or_else(|| Error::Storage {
                    message: format!("unknown journal operation `{op}`"),
                    retryable: false,
                    source: None,
                })?,
                hold_id,
                amount: u64_of("amount", amount)?,
            })
        })
        .transpose()
    }

    async fn hold(&mut self, id: &str) -> Result<Option<Hold>> {
        let row = sqlx::query(
            "SELECT id, account, amount, posted, status, reserve_key, created_at, resolved_at \
             FROM credit_holds WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(|e| db_err("reading a hold", e))?;
        row.as_ref().map(|r| hold_from_row(r, db_err)).transpose()
    }

    async fn put_figures(&mut self, account: &str, f: Figures, now: Timestamp) -> Result<()> {
        sqlx::query(
            "UPDATE credit_accounts SET granted = ?, pending = ?, posted = ?, updated_at = ? \
             WHERE account = ?",
        )
        .bind(i64_of(f.granted))
        .bind(i64_of(f.pending))
        .bind(i64_of(f.posted))
        .bind(to_micros(&now))
        .bind(account)
        .execute(&mut *self.tx)
        .await
        .map_err(|e| db_err("updating a credit account", e))?;
        Ok(())
    }

    async fn put_hold(&mut self, h: &Hold, new: bool) -> Result<()> {
        let q = if new {
            sqlx::query(
                "INSERT INTO credit_holds \
                 (id, account, amount, posted, status, reserve_key, created_at, resolved_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&h.id)
            .bind(&h.account)
            .bind(i64_of(h.amount))
            .bind(h.posted.map(i64_of))
            .bind(h.status.as_str())
            .bind(&h.reserve_key)
            .bind(to_micros(&h.created_at))
            .bind(h.resolved_at.as_ref().map(to_micros))
        } else {
            sqlx::query(
                "UPDATE credit_holds SET posted = ?, status = ?, resolved_at = ? WHERE id = ?",
            )
            .bind(h.posted.map(i64_of))
            .bind(h.status.as_str())
            .bind(h.resolved_at.as_ref().map(to_micros))
            .bind(&h.id)
        };
        q.execute(&mut *self.tx)
            .await
            .map_err(|e| db_err("writing a hold", e))?;
        Ok(())
    }

    async fn append(&mut self, e: &Entry, now: Timestamp) -> Result<()> {
        sqlx::query(
            "INSERT INTO credit_entries (account, idempotency_key, op, hold_id, amount, created_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&e.account)
        .bind(&e.key)
        .bind(e.op.as_str())
        .bind(&e.hold_id)
        .bind(i64_of(e.amount))
        .bind(to_micros(&now))
        .execute(&mut *self.tx)
        .await
        .map_err(|err| db_err("writing the credit journal", err))?;
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        self.tx
            .commit()
            .await
            .map_err(|e| db_err("committing a ledger transaction", e))
    }
}

#[async_trait]
impl TxSource for SqliteSource {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    async fn begin(&self, write: bool) -> Result<Box<dyn LedgerTx + '_>> {
        if write {
            if let Some(reason) = &self.read_only_reason {
                return Err(Error::Storage {
                    message: reason.clone(),
                    retryable: false,
                    source: None,
                });
            }
            let guard = self.writer.clone().lock_owned().await;
            let tx = crate::store::sqlite_begin_immediate(
                &self.pool,
                self.busy_wait,
                "starting a ledger transaction",
            )
            .await?;
            return Ok(Box::new(SqliteTx {
                tx,
                _guard: Some(guard),
            }));
        }
        let tx = self
            .pool
            .begin_with("BEGIN")
            .await
            .map_err(|e| db_err("starting a ledger transaction", e))?;
        Ok(Box::new(SqliteTx { tx, _guard: None }))
    }
}

forward_ledger!(SqliteLedger, "sqlite");
