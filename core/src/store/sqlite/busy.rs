//! Waiting for SQLite's write lock. One process writes at a time; the others wait in
//! SQLite's busy handler (the connection's `busy_timeout`) and, past it, here: a short
//! write (a credit grant, a job update, a lease) retries until the store's `busy_wait`
//! ([`crate::store::OpenOptions::busy_wait`]) has passed, then fails with a message that says
//! what holds the lock and what to do.

use super::db_err;
use crate::error::{Error, Result};
use sqlx::{Sqlite, SqlitePool, Transaction};
use std::future::Future;
use std::time::{Duration, Instant};

/// Whether `e` is SQLITE_BUSY or SQLITE_LOCKED (primary codes 5 and 6; the low byte of an
/// extended code is its primary code).
pub(crate) fn is_busy_sqlx(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => d
            .code()
            .and_then(|c| c.parse::<i32>().ok())
            .is_some_and(|c| matches!(c & 0xff, 5 | 6)),
        _ => false,
    }
}

/// Whether a storage error was caused by another writer holding the lock.
pub(crate) fn is_busy(e: &Error) -> bool {
    match e {
        Error::Storage {
            source: Some(s), ..
        } => s.downcast_ref::<sqlx::Error>().is_some_and(is_busy_sqlx),
        _ => false,
    }
}

/// The error of a write that gave up waiting.
fn gave_up(action: &str, waited: Duration, e: sqlx::Error) -> Error {
    Error::storage(
        format!(
            "{action}: the database is locked by another writer and stayed locked for {} s \
             (another tuneloop process, such as a large import, holds SQLite's write lock); \
             nothing was written: run this again when that process has finished",
            waited.as_secs()
        ),
        true,
        e,
    )
}

/// `BEGIN IMMEDIATE`, waiting up to `wait` for the write lock.
pub(crate) async fn begin_immediate(
    pool: &SqlitePool,
    wait: Duration,
    action: &str,
) -> Result<Transaction<'static, Sqlite>> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(20);
    loop {
        match pool.begin_with("BEGIN IMMEDIATE").await {
            Ok(tx) => return Ok(tx),
            Err(e) if is_busy_sqlx(&e) => {
                if started.elapsed() >= wait {
                    return Err(gave_up(action, started.elapsed(), e));
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(500));
            }
            Err(e) => return Err(db_err(action, e)),
        }
    }
}

/// Runs a write that fails as a whole (one statement, or a transaction that rolls back),
/// retrying it while another process holds the write lock, up to `wait`.
pub(crate) async fn retry<T, F, Fut>(wait: Duration, action: &str, mut op: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let started = Instant::now();
    let mut pause = Duration::from_millis(20);
    loop {
        match op().await {
            Err(e) if is_busy(&e) => {
                if started.elapsed() >= wait {
                    return Err(match e {
                        Error::Storage {
                            source: Some(s), ..
                        } => match s.downcast::<sqlx::Error>() {
                            Ok(sq) => gave_up(action, started.elapsed(), *sq),
                            Err(other) => Error::Storage {
                                message: action.to_string(),
                                retryable: true,
                                source: Some(other),
                            },
                        },
                        other => other,
                    });
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(500));
            }
            other => return other,
        }
    }
}
